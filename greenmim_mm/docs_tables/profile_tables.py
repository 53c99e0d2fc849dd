"""Tables of ``benchmark.py --profile`` results: operations and casts per training step."""
from typing import List, Optional

from .benchmark_tables import baseline_name, model_name, optimizers, precision
from .formatting import Result, count, machines_line, megabytes, source, table

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
