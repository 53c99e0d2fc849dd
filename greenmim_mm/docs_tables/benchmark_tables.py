"""Tables of ``tools/analysis_tools/benchmark.py`` results (``docs/benchmark/*.json``)."""
from typing import List

from .formatting import (Result, machine_line, machines_line, mib, plural, run_date, source, table,
                         times)


def baseline_name(result: Result) -> str:
    """The baseline contender as the tables name it: SimMIM, or the dense SVT-L."""
    return 'dense SVT-L' if result.data['args'].get('model') == 'twins' else 'SimMIM'


def model_name(result: Result) -> str:
    """``Swin-B`` (or the ``--arch`` given), ``Twins SVT-L``."""
    args = result.data['args']
    if args.get('model') == 'twins':
        return 'Twins SVT-L'
    return 'Swin-' + (args.get('arch') or 'base')[0].upper()


def precision(result: Result) -> str:
    """``float32`` or e.g. ``bfloat16 autocast``."""
    m, args = result.data['machine'], result.data['args']
    return m.get('precision') or (f"{args['amp_dtype']} autocast" if args.get('amp') else 'float32')


def optimizers(result: Result) -> str:
    """Which AdamW each contender ran: the speed-up depends on it."""
    if result.data['args'].get('model') == 'twins':
        return 'the same AdamW in both'
    if result.data['args'].get('baseline_fused_adamw'):
        return 'both on the same fused AdamW (`--baseline-fused-adamw`)'
    return "each on its config's AdamW (ours fused, SimMIM mmpretrain's unfused)"


def run_caption(result: Result) -> str:
    """What was run, the result file and the machine, for the paragraph above a table."""
    args = result.data['args']
    device = result.data['machine'].get('device', 'cpu').upper()
    timed = ('' if args.get('no_time') else
             f"; medians of {plural(args['iters'], 'timed step')} after "
             f"{plural(args['warmup'], 'warm-up step')}")
    return (f"{model_name(result)} on {device}, mask ratio {args['mask_ratio']}, "
            f'{precision(result)}, {optimizers(result)}{timed} ({source(result)}).\n'
            f'{machine_line(result)}')


def _step(entry: dict, ranges: bool) -> str:
    text = f"{entry['step_s_median']:.2f} s"
    return text + (f" ({entry['step_s_min']:.1f}-{entry['step_s_max']:.1f})" if ranges else '')


def step_table(result: Result, ranges: bool = False) -> str:
    """Per case: both step times, the speed-up, both step memories and their ratio.

    Args:
        result (Result): A benchmark run with timed cases.
        ranges (bool): Add each step time's min-max range. Defaults to False.

    Returns:
        str: The caption (:func:`run_caption`) and the table.
    """
    base = baseline_name(result)
    rows = []
    for case in result.data['cases']:
        g, s, mem = case['greenmim'], case['simmim'], case.get('memory')
        rows.append([
            str(case['img']),
            str(case['batch']),
            _step(s, ranges),
            _step(g, ranges), f"**{times(case['speedup'])}**",
            (f"{mib(mem['greenmim']['step_bytes'])[:-4]} / {mib(mem['simmim']['step_bytes'])}"
             if mem else '-'), f"**{times(mem['step_ratio'])}**" if mem else '-'
        ])
    header = [
        'input', 'batch', f'{base} step', 'GreenMIM step', 'speed-up',
        f'step memory GreenMIM / {base}', 'ratio'
    ]
    return run_caption(result) + '\n\n' + table(header, rows)


def headline(result: Result) -> str:
    """One clause for the README: the range of speed-ups and of step-memory ratios."""
    cases = result.data['cases']
    speed = [c['speedup'] for c in cases]
    mem = [c['memory']['step_ratio'] for c in cases if 'memory' in c]
    text = (f'{min(speed):.1f}-{max(speed):.1f}x faster than '
            f"{baseline_name(result)}'s on the same optimizer")
    if mem:
        text += f' and needs {min(mem):.2f}-{max(mem):.2f}x of its step memory'
    return text + f" ({precision(result)}, {result.data['machine']['cpu']}, {run_date(result)})"


def speedups_sentence(result: Result, memory: bool = False) -> str:
    """The speed-ups of a run as one sentence with its optimizers, file and machine.

    Args:
        result (Result): A benchmark run.
        memory (bool): Add the step memory of the cases that measured it. Defaults to False.

    Returns:
        str: One paragraph.
    """
    cases = ', '.join(f"{times(c['speedup'])} at {c['img']} px batch {c['batch']}"
                      for c in result.data['cases'])
    text = f'Speed-ups, {optimizers(result)}, in {source(result)}: {cases}'
    if memory:
        text += ''.join(f"; step memory at {c['img']} px batch {c['batch']} "
                        f"{c['memory']['greenmim']['step_bytes'] / 2**30:.1f} / "
                        f"{c['memory']['simmim']['step_bytes'] / 2**30:.1f} GiB (GreenMIM / "
                        f"{baseline_name(result)}, {times(c['memory']['step_ratio'])})"
                        for c in result.data['cases'] if 'memory' in c)
    return f'{text}. {machine_line(result)}'


def _padding(result: Result) -> str:
    case = result.data['cases'][0]
    stages: dict = {}
    for p in case['greenmim']['padding']:
        stages.setdefault(p['stage'], []).append(f"{p['padding']:.2f}")
    shifted = any(p['shift'] for p in case['greenmim']['padding'])
    per_stage = ', '.join(f"stage {s + 1} {' / '.join(v)}" for s, v in stages.items())
    return (f"Padding (empty group slots per visible token) at {case['img']} px"
            f"{' (regular / shifted windows)' if shifted else ''}: {per_stage}.")


def _joined(cases: List[dict], key: str) -> str:
    return ' / '.join(str(c[key]) for c in cases)


def _steps(cases: List[dict], name: str) -> str:
    return ' / '.join(f"{c[name]['step_s_median']:.2f}" for c in cases)


def details(result: Result, memory: bool = True) -> str:
    """The rest of a run as bullets: the sweep, GreenMIM's grouping share, the padding, the
    processes' total peak memory.

    Args:
        result (Result): A benchmark run.
        memory (bool): Include the total peak memory. Defaults to True.

    Returns:
        str: A Markdown list.
    """
    data, base = result.data, baseline_name(result)
    bullets: List[str] = []
    sweep = [c for c in data.get('sweep', []) if 'step_s_median' in c.get('greenmim', {})]
    sizes = [c for c in sweep if c['mask_ratio'] == data['args']['mask_ratio']]
    if sizes:
        timed = [c for c in sizes if 'speedup' in c]
        text = (f"Sweep at batch {sizes[0]['batch']}: {_joined(sizes, 'img')} px take "
                f"{_steps(sizes, 'greenmim')} s")
        if timed:
            text += (f" ({base} {_steps(timed, 'simmim')} s: "
                     f"{' / '.join(times(c['speedup']) for c in timed)})")
        ratios = sorted((c for c in sweep if c['img'] == sizes[0]['img']),
                        key=lambda c: c['mask_ratio'])
        if len(ratios) > 1:
            text += (f"; at {sizes[0]['img']} px, mask ratios {_joined(ratios, 'mask_ratio')} "
                     f"take {_steps(ratios, 'greenmim')} s")
        bullets.append(text + '.')
    grouped = [c for c in data['cases'] if 'grouping_s' in c.get('greenmim', {})]
    if grouped:
        bullets.append('Grouping (the encoder\'s `sparse_plan`: all stages and shifts) takes ' +
                       ', '.join(f"{1e3 * c['greenmim']['grouping_s']:.1f} ms "
                                 f"({100 * c['greenmim']['grouping_share']:.1f}% of the step) "
                                 f"at {c['img']} px batch {c['batch']}" for c in grouped) + '.')
    if data['cases'] and 'padding' in data['cases'][0].get('greenmim', {}):
        bullets.append(_padding(result))
    if memory:
        for c in data['cases']:
            if 'memory' in c:
                mem = c['memory']
                bullets.append(
                    f"The whole process peaks at "
                    f"{mem['greenmim']['total_peak_bytes'] / 2**30:.2f} / "
                    f"{mem['simmim']['total_peak_bytes'] / 2**30:.2f} GiB (GreenMIM / {base}, "
                    f"{c['img']} px batch {c['batch']}: model, gradients, optimizer state and "
                    'the step).')
    return '\n'.join('- ' + b for b in bullets)


def memory_table(fp32: Result, amp: Result) -> str:
    """Step memory per case in float32 and under autocast, from two memory-only runs.

    Args:
        fp32 (Result): A ``--no-time`` run in float32.
        amp (Result): The same cases with ``--amp --no-time``.

    Returns:
        str: The caption (both files, machines and dates) and the table.
    """
    by_case = {(c['img'], c['batch']): c['memory'] for c in fp32.data['cases']}
    rows = []
    for case in amp.data['cases']:
        f32, low = by_case[(case['img'], case['batch'])], case['memory']
        rows.append([
            str(case['img']),
            str(case['batch']),
            f"{mib(f32['greenmim']['step_bytes'])[:-4]} / {mib(f32['simmim']['step_bytes'])}",
            times(f32['step_ratio']),
            f"{mib(low['greenmim']['step_bytes'])[:-4]} / {mib(low['simmim']['step_bytes'])}",
            f"**{times(low['step_ratio'])}**"
        ])
    header = [
        'input', 'batch', 'float32 GreenMIM / SimMIM', 'float32 ratio',
        f'{precision(amp)} GreenMIM / SimMIM', f'{precision(amp).split()[0]} ratio'
    ]
    caption = (f"Step memory, {model_name(amp)}, mask ratio {amp.data['args']['mask_ratio']}; "
               f'{source(fp32, amp)}.\n{machines_line(fp32, amp)}')
    return caption + '\n\n' + table(header, rows)


def gpu_check(result: Result) -> str:
    """The tables of ``make gpu-check`` (:func:`greenmim_mm.benchmark.gpu_check.markdown`)
    under a caption with the result file and the machine.

    Args:
        result (Result): A ``gpu_check.json``.

    Returns:
        str: The caption, the CUDA tests' outcome and the tables.
    """
    from ..benchmark.gpu_check import markdown
    body = markdown(result.data).split('\n', 2)[2]  # without its '# GPU check' title
    return f'`make gpu-check` ({source(result)}).\n{machine_line(result)}\n\n{body.strip()}'
