"""Tables of ``tools/analysis_tools/pretrain_gain.py`` results (``docs/pretraining_gain/``):
the per-start table, the accuracy-over-time table and the criteria
(:func:`results_table`), and the README's summary (:func:`summary_table`)."""
from typing import Optional

from .formatting import Result

LABELS = {'random': 'random init', 'greenmim': 'GreenMIM', 'simmim': 'SimMIM'}


def fmt_stats(s: dict) -> str:
    """``mean ± std``, three decimals."""
    return f"{s['mean']:.3f} ± {s['std']:.3f}"


def fmt_seeds(s: dict) -> str:
    """Every seed's value, three decimals."""
    return ', '.join(f'{v:.3f}' for v in s['values'])


def fraction_text(f: Optional[float]) -> str:
    """A fraction of T for prose: ``0.27 T`` or ``not reached``."""
    return 'not reached' if f is None else f'{f:.2f} T'


def yes(flag: bool) -> str:
    return 'yes' if flag else 'no'


def machine_text(results: dict) -> str:
    """The machine in a few words: processor, cores, torch, runs at once and their threads."""
    m = results['machine']
    runs, threads = m['runs_at_once'], m['threads_per_run']
    return (f"{m['processor'] or m['platform']}, {m['cpu_count']} cores, torch {m['torch']}, "
            f"{runs} run{'s' * (runs > 1)} at once, {threads} thread{'s' * (threads > 1)} each")


def criteria_text(lr: dict) -> str:
    """The criteria of the logistic-regression probe in one paragraph."""
    text = (f"GreenMIM − random init: {lr['gain']:+.3f} (twice the pooled std: "
            f"{2 * lr['pooled_std']:.3f}; beats random init: {yes(lr['beats_random'])})")
    if 'time_to_simmim' in lr:
        text += (f"; GreenMIM ≥ SimMIM at T: {yes(lr['greenmim_ge_simmim'])}; GreenMIM reaches "
                 f"SimMIM's accuracy at T after {fraction_text(lr['time_to_simmim'])} "
                 f"(within 0.6 T: {yes(lr['reaches_within'])}); GreenMIM after as many "
                 f"iterations as SimMIM made in T: {lr['greenmim_at_simmim_iters']:.3f}. "
                 f"All three criteria: {yes(lr['resolved'])}.")
    return text


def results_table(result: Result) -> str:
    """The docs' tables: per start the probes at T (mean ± std, every seed), the accuracy
    after each fraction of T, and the criteria.

    Args:
        result (Result): ``pretraining_gain.json``.

    Returns:
        str: Markdown.
    """
    results = result.data
    lr, knn = results['summary']['lr'], results['summary']['knn']
    split = lr['split']
    settings = results['settings']
    arms = [a for a in ('random', 'greenmim', 'simmim') if a in lr['arms']]
    lines = [
        f"Measured {results['date']} ({results['total_s'] / 60:.1f} min in all) on "
        f"{machine_text(results)}; seeds {settings['seeds']}, T = {settings['budget_s']:.0f} s "
        f'per pre-training run (`{result.path}`).', '',
        f'| start | pre-training | LR probe, {split} (mean ± std) | LR, every seed | '
        f'kNN, {split} (mean ± std) | kNN, every seed |', '|---|---|---|---|---|---|'
    ]
    for arm in arms:
        if arm == 'random':
            pre = 'none'
        else:
            c = lr['curves'][arm][-1]
            step = results['calibration'][arm]['step_s']
            pre = f"{c['iters']} it ({step:.3f} s/it), {c['seconds']:.0f} s"
        lines.append(f"| {LABELS[arm]} | {pre} | {fmt_stats(lr['arms'][arm])} | "
                     f"{fmt_seeds(lr['arms'][arm])} | {fmt_stats(knn['arms'][arm])} | "
                     f"{fmt_seeds(knn['arms'][arm])} |")
    lines += [
        '', f'Accuracy over pre-training time (LR probe and kNN, {split}, mean ± std over '
        'seeds; seconds: the mean measured training time up to the checkpoint):', '',
        '| fraction of T | ' + ' | '.join(f'{LABELS[a]} it (s) | {LABELS[a]} LR | '
                                          f'{LABELS[a]} kNN' for a in lr['curves']) + ' |',
        '|---|' + '---|---|---|' * len(lr['curves'])
    ]
    for i, f in enumerate(settings['fractions']):
        cells = []
        for arm in lr['curves']:
            c, k = lr['curves'][arm][i], knn['curves'][arm][i]
            cells.append(f"{c['iters']} ({c['seconds']:.0f}) | {fmt_stats(c)} | {fmt_stats(k)}")
        lines.append(f'| {f:g} | ' + ' | '.join(cells) + ' |')
    lines += ['', criteria_text(lr)]
    return '\n'.join(lines)


def summary_table(result: Result) -> str:
    """The README's short table: each start's LR probe and kNN at T, and when GreenMIM
    reaches SimMIM's accuracy at T.

    Args:
        result (Result): ``pretraining_gain.json``.

    Returns:
        str: Markdown.
    """
    results = result.data
    lr, knn = results['summary']['lr'], results['summary']['knn']
    m = results['machine']
    lines = [
        f"| start (T = {results['settings']['budget_s']:.0f} s; {m['cpu_count']}-core CPU, "
        f"{results['date'][:10]}) | LR probe | kNN | reaches SimMIM's accuracy at T after |",
        '|---|---|---|---|'
    ]
    for arm in lr['arms']:
        when = '-'
        if arm == 'greenmim' and 'time_to_simmim' in lr:
            when = fraction_text(lr['time_to_simmim'])
        elif arm == 'simmim':
            when = 'T'
        lines.append(f"| {LABELS[arm]} | {fmt_stats(lr['arms'][arm])} | "
                     f"{fmt_stats(knn['arms'][arm])} | {when} |")
    return '\n'.join(lines)


def step_ratio(result: Result) -> str:
    """How many GreenMIM steps fit in one SimMIM step (the calibration), e.g. ``1.6``."""
    c = result.data['calibration']
    return f"{c['simmim']['step_s'] / c['greenmim']['step_s']:.1f}"


def _seconds_at(curve: list, fraction: float) -> float:
    """The measured training time at ``fraction`` of T, interpolated between checkpoints."""
    points = [(0., 0.)] + [(c['fraction'], c['seconds']) for c in curve]
    for (f0, s0), (f1, s1) in zip(points, points[1:]):
        if f0 <= fraction <= f1:
            return s0 + (fraction - f0) / (f1 - f0) * (s1 - s0)
    raise ValueError(f'fraction {fraction} outside the curve')


def time_to_simmim(result: Result) -> str:
    """One clause: when GreenMIM reaches SimMIM's accuracy at T, as a fraction of T and as
    measured training time, against SimMIM's time to T."""
    lr = result.data['summary']['lr']
    when = lr.get('time_to_simmim')
    if when is None:
        return 'GreenMIM does not reach it within T'
    greenmim = _seconds_at(lr['curves']['greenmim'], when)
    simmim = lr['curves']['simmim'][-1]['seconds']
    return (f'{fraction_text(when)} by interpolation; about {greenmim:.0f} s of measured '
            f"training against SimMIM's {simmim:.0f} s")


def run_times(result: Result) -> str:
    """One clause: the measured training time of each arm's runs (their last checkpoints)
    and the load average at the start and the end of the experiment."""
    parts = []
    for arm, runs in result.data['pretrain'].items():
        seconds = [r['checkpoints'][-1]['elapsed_s'] for r in runs]
        parts.append(f'the {LABELS[arm]} runs took {min(seconds):.0f}-{max(seconds):.0f} s')
    load = (result.data['machine']['load_average'][0], result.data['load_average_end'][0])
    return (f"{' and '.join(parts)} of measured training (load average {load[0]:.1f} at the "
            f'start of the experiment, {load[1]:.1f} at its end)')
