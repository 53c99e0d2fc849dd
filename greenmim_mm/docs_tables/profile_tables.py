"""Tables of ``benchmark.py --profile`` results: operations and casts per training step."""
from typing import List, Optional

from .benchmark_tables import baseline_name, model_name, optimizers, precision
from .formatting import Result, count, machines_line, megabytes, run_date, source, table, times

# The contenders besides GreenMIM that a profile may hold, in the table's column order, and
# their column titles (the baseline's is SimMIM or the dense Twins model).
OTHER_CONTENDERS = dict(simmim='baseline', authors="the authors' code")


def _counts(result: Result, name: str) -> dict:
    """The ``profile.counts`` of contender ``name`` in the run's first case."""
    case = result.data['cases'][0]
    try:
        return case[name]['profile']['counts']
    except KeyError:
        raise ValueError(f'{result.path}: no profile of {name!r} at {case["img"]} px batch '
                         f'{case["batch"]}: run benchmark.py with --profile') from None


def _kind(counts: dict, kind: str) -> str:
    entry = counts['cast_kinds'].get(kind)
    return f"{entry['casts']:,} casts, {megabytes(entry['bytes'])}" if entry else '0'


def counts_table(fp32: Result, amp: Result) -> str:
    """Operations per step in float32 and under autocast, per contender, and the casts.

    Args:
        fp32 (Result): A ``--profile`` run in float32.
        amp (Result): The same case with ``--profile --amp``.

    Returns:
        str: The caption (files, case, machines) and the table.
    """
    low = precision(amp).split()[0]
    others = [n for n in OTHER_CONTENDERS if 'profile' in amp.data['cases'][0].get(n, {})]
    names = ['greenmim'] + others
    rows: List[List[str]] = []

    def row(label: str, values: List[str], plan: Optional[str] = None) -> None:
        rows.append([label, values[0], plan or ''] + values[1:])

    for run, tag in ((fp32, 'float32'), (amp, low)):
        c = [_counts(run, n) for n in names]
        row(f'ATen operations, {tag}', [count(x['aten_ops']) for x in c],
            count(c[0].get('phases', {}).get('sparse_plan')))
        row(f'of them in `optimizer.step`, {tag}',
            [count(x.get('phases', {}).get('optimizer')) for x in c])
    c = [_counts(amp, n) for n in names]
    row(f'casts, {low}', [count(x['casts']) for x in c])
    row(f'bytes cast, {low}', [megabytes(x['cast_bytes']) for x in c])
    for kind in (f'float32->{low}', f'{low}->float32'):
        row(f"of them {kind.replace('->', ' -> ')}", [_kind(x, kind) for x in c])
    case = amp.data['cases'][0]
    header = ['per step', 'GreenMIM', 'of which the CPU plan'
              ] + [baseline_name(amp) if n == 'simmim' else OTHER_CONTENDERS[n] for n in others]
    caption = (f"{model_name(amp)}, {case['img']} px, batch {case['batch']}, mask ratio "
               f"{case['mask_ratio']}, one step after a warm-up, {optimizers(amp)}; "
               f'{source(fp32, amp)}. The counts depend on the code and the shapes, not on '
               f'the machine. {machines_line(fp32, amp)}')
    return caption + '\n\n' + table(header, rows)


def step_summary(amp: Result) -> str:
    """One clause for the README: operations and bytes cast of a step, ours and SimMIM's."""
    g, s = _counts(amp, 'greenmim'), _counts(amp, 'simmim')
    case = amp.data['cases'][0]
    return (f"a {model_name(amp)} {precision(amp).split()[0]} step ({case['img']} px, batch "
            f"{case['batch']}) runs {g['aten_ops']:,} ATen operations ({baseline_name(amp)} "
            f"{s['aten_ops']:,}) and casts {megabytes(g['cast_bytes'])} "
            f"({baseline_name(amp)} {megabytes(s['cast_bytes'])})")


def outside_plan(fp32: Result, amp: Result) -> str:
    """One clause: GreenMIM's operations outside its CPU grouping plan and in the optimizer."""
    parts = []
    for run in (fp32, amp):
        c = _counts(run, 'greenmim')
        parts.append(f"{c['aten_ops'] - c['phases']['sparse_plan']:,} operations in "
                     f'{precision(run)}')
    opt = _counts(amp, 'greenmim')['phases']['optimizer']
    return (f"outside the CPU plan our step runs {' and '.join(parts)}; under "
            f"{precision(amp).split()[0]} the optimizer phase holds {opt:,} operations")


def _ms(entry: dict, key: str) -> str:
    return f'{entry[key] * 1e3:,.0f} ms' if key in entry else '-'


def time_split_table(fp32: Result, amp: Result) -> str:
    """Per precision and contender: the step, its GEMM time and the time outside the GEMMs.

    Args:
        fp32 (Result): A ``--profile`` run in float32.
        amp (Result): The same case with ``--profile --amp``.

    Returns:
        str: The caption (files, case, machines) and the table, with GreenMIM's step and its
        time outside the GEMMs as a multiple of the other contenders'.
    """
    rows: List[List[str]] = []
    for run in (fp32, amp):
        case = run.data['cases'][0]
        names = ['greenmim'] + [n for n in OTHER_CONTENDERS if 'gemm_s' in case.get(n, {})]
        ours = case['greenmim']
        for name in names:
            entry = case[name]
            label = ('GreenMIM' if name == 'greenmim' else
                     baseline_name(run) if name == 'simmim' else OTHER_CONTENDERS[name])
            versus = ['', '']
            if name != 'greenmim':
                versus = [
                    f"{entry['step_cpu_s_median'] / ours['step_cpu_s_median']:.2f}x",
                    f"{ours['outside_gemm_cpu_s'] / entry['outside_gemm_cpu_s']:.2f}x"
                ]
            rows.append([
                precision(run).split()[0], label,
                _ms(entry, 'step_s_median'),
                _ms(entry, 'step_cpu_s_median'),
                _ms(entry, 'gemm_s'),
                _ms(entry, 'outside_gemm_s'),
                _ms(entry, 'outside_gemm_cpu_s')
            ] + versus)
    header = [
        'precision', 'contender', 'step', 'step CPU time', 'GEMMs', 'outside GEMMs',
        'CPU time outside GEMMs', 'its step CPU time / ours', 'our CPU time outside GEMMs / its'
    ]
    case = amp.data['cases'][0]
    steps = []
    for run in (fp32, amp):
        args = run.data['args']
        steps.append(f"{args.get('iters')} alternating steps (step, step CPU time) and of "
                     f"{args.get('profile_steps', 1)} alternating profiled steps (GEMMs, outside "
                     'GEMMs)')
    medians = (
        steps[0] if steps[0] == steps[1] else
        f'{steps[0]} in {precision(fp32)}, of {steps[1]} in {precision(amp)}')
    caption = (f"{model_name(amp)}, {case['img']} px, batch {case['batch']}, mask ratio "
               f"{case['mask_ratio']}, {optimizers(amp)}; {source(fp32, amp)}: median of "
               f'{medians}. {machines_line(fp32, amp)}')
    return caption + '\n\n' + table(header, rows)


def versus_summary(amp: Result) -> str:
    """One clause for the README: GreenMIM's step against the other contenders', in step CPU
    time and in CPU time outside the GEMMs."""
    case = amp.data['cases'][0]
    ours = case['greenmim']
    parts = []
    for name in ('simmim', 'authors'):
        entry = case.get(name, {})
        if 'outside_gemm_cpu_s' not in entry:
            continue
        label = baseline_name(amp) if name == 'simmim' else OTHER_CONTENDERS[name]
        parts.append(f"{entry['step_cpu_s_median'] / ours['step_cpu_s_median']:.2f}x as fast "
                     f"as {label} (its time outside the matrix multiplies "
                     f"{ours['outside_gemm_cpu_s'] / entry['outside_gemm_cpu_s']:.2f}x theirs)")
    machine = amp.data['machine']
    return (f"on {machine.get('cpu', 'a CPU')} with native bf16 ({machine.get('threads')} "
            f"thread{'s' if machine.get('threads') != 1 else ''}), that step is " +
            ' and '.join(parts))


def earlier_run_sentence(result: Result) -> str:
    """One clause on a profiled run with the authors' code: each contender's step CPU time
    and ours against theirs outside the GEMMs, with the run's file, load and date.

    Args:
        result (Result): A ``--profile --authors-code`` run.

    Returns:
        str: ``an earlier ... run (file, load ..., date) gave ...``.
    """
    case = result.data['cases'][0]
    m = result.data['machine']
    cpu = {
        n: f"{1e3 * case[n]['step_cpu_s_median']:,.0f} ms"
        for n in ('greenmim', 'simmim', 'authors')
    }
    load = f", load average {m['load_avg'][0]:.1f} at start" if m.get('load_avg') else ''
    return (f"an earlier {precision(result).split()[0]} run ({source(result)}{load}, "
            f"{run_date(result)}) gave {cpu['greenmim']} of step CPU time for ours against the "
            f"authors' {cpu['authors']} and {baseline_name(result)}'s {cpu['simmim']}, and "
            f"{times(case['outside_gemm_vs_authors'])} the authors' profiled time outside the "
            f"GEMMs, {times(case['outside_gemm_cpu_vs_authors'])} in CPU time")
