"""The pretraining-gain results as a plot and Markdown tables, and their published copies.

The tables in ``docs/en/pretraining_gain.md`` and ``README.md`` are generated from the
committed JSON (:func:`results_tables`, :func:`readme_table`) between marker lines, so the
pages cannot drift from the numbers (a test compares them).
"""
import os
import os.path as osp
import re
from typing import Optional

LABELS = {'random': 'random init', 'greenmim': 'GreenMIM', 'simmim': 'SimMIM'}
COLOURS = {'random': '0.4', 'greenmim': 'tab:green', 'simmim': 'tab:blue'}
DOCS_MARKERS = ('<!-- pretrain-gain results: generated from '
                'docs/pretraining_gain/pretraining_gain.json -->',
                '<!-- end of pretrain-gain results -->')
README_MARKERS = ('<!-- pretrain-gain summary: generated from '
                  'docs/pretraining_gain/pretraining_gain.json -->',
                  '<!-- end of pretrain-gain summary -->')


def fmt_stats(s: dict) -> str:
    """``mean ± std``, three decimals."""
    return f"{s['mean']:.3f} ± {s['std']:.3f}"


def fmt_seeds(s: dict) -> str:
    """Every seed's value, three decimals."""
    return ', '.join(f'{v:.3f}' for v in s['values'])


def fraction_text(f: Optional[float]) -> str:
    """A fraction of T for prose: ``0.27 T`` or ``not reached``."""
    return 'not reached' if f is None else f'{f:.2f} T'


def results_tables(results: dict) -> str:
    """The Markdown the docs show: the per-arm table, the curve table, the criteria."""
    lr, knn = results['summary']['lr'], results['summary']['knn']
    split = lr['split']
    settings = results['settings']
    budget = settings['budget_s']
    arms = [a for a in ('random', 'greenmim', 'simmim') if a in lr['arms']]
    lines = [
        f"Measured {results['date']} ({results['total_s'] / 60:.1f} min in all) on "
        f"{machine_text(results)}; seeds {settings['seeds']}, T = {budget:.0f} s per "
        'pre-training run.', '',
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


def criteria_text(lr: dict) -> str:
    """The criteria of the LR probe in one paragraph."""
    text = (f"GreenMIM − random init: {lr['gain']:+.3f} (twice the pooled std: "
            f"{2 * lr['pooled_std']:.3f}; beats random init: {yes(lr['beats_random'])})")
    if 'time_to_simmim' in lr:
        text += (f"; GreenMIM ≥ SimMIM at T: {yes(lr['greenmim_ge_simmim'])}; GreenMIM reaches "
                 f"SimMIM's accuracy at T after {fraction_text(lr['time_to_simmim'])} "
                 f"(within 0.6 T: {yes(lr['reaches_within'])}); GreenMIM after as many "
                 f"iterations as SimMIM made in T: {lr['greenmim_at_simmim_iters']:.3f}. "
                 f"All three criteria: {yes(lr['resolved'])}.")
    return text + '\n'


def readme_table(results: dict) -> str:
    """The README's short table: each start's LR probe and kNN at T, and when GreenMIM
    reaches SimMIM's accuracy at T."""
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


def yes(flag: bool) -> str:
    return 'yes' if flag else 'no'


def machine_text(results: dict) -> str:
    """The machine in a few words."""
    m = results['machine']
    runs, threads = m['runs_at_once'], m['threads_per_run']
    return (f"{m['processor'] or m['platform']}, {m['cpu_count']} cores, torch {m['torch']}, "
            f"{runs} run{'s' * (runs > 1)} at once, {threads} thread{'s' * (threads > 1)} each")


def replace_block(text: str, markers: tuple, body: str) -> str:
    """``text`` with the lines between the two marker lines (none or some) replaced by
    ``body``.

    Raises:
        ValueError: If the markers are not both there, in order.
    """
    start, end = (re.escape(m) for m in markers)
    pattern = re.compile(f'{start}\n(?:.*?\n)?{end}', re.S)
    if not pattern.search(text):
        raise ValueError(f'marker lines {markers} not found')
    return pattern.sub(lambda m: f'{markers[0]}\n{body}\n{markers[1]}', text, count=1)


def read_block(text: str, markers: tuple) -> str:
    """The lines between the two marker lines ('' if none)."""
    start, end = (re.escape(m) for m in markers)
    match = re.search(f'{start}\n(?:(.*?)\n)?{end}', text, re.S)
    if match is None:
        raise ValueError(f'marker lines {markers} not found')
    return match.group(1) or ''


def publish_tables(results: dict, docs_page: str, readme: str) -> None:
    """Write the generated tables into the docs page and the README (between markers); both
    files are left as they were if either lacks its markers."""
    new = {}
    for path, markers, body in ((docs_page, DOCS_MARKERS, results_tables(results)),
                                (readme, README_MARKERS, readme_table(results))):
        with open(path, encoding='utf-8') as f:
            new[path] = replace_block(f.read(), markers, body)
    for path, text in new.items():
        with open(path, 'w', encoding='utf-8') as f:
            f.write(text)


def plot_results(results: dict, path: str) -> None:
    """Probe accuracy against pre-training seconds, one panel per probe.

    Each pre-trained arm: the mean over seeds at every checkpoint (±1 std) and each seed's
    points; random init: its mean as a horizontal line with a ±1 std band; SimMIM's mean at
    T as a dotted line, and in the title the fraction of T after which GreenMIM reaches it.

    Args:
        results (dict): :func:`~.pretrain_gain.run_experiment`'s output.
        path (str): The image file to write.
    """
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(1, 2, figsize=(9, 4), sharex=True)
    for ax, probe, title in zip(axes, ('lr', 'knn'), ('logistic-regression probe', 'kNN (k=5)')):
        summary = results['summary'][probe]
        r = summary['arms']['random']
        ax.axhline(r['mean'], color=COLOURS['random'], ls='--', label=LABELS['random'])
        ax.axhspan(r['mean'] - r['std'], r['mean'] + r['std'], color=COLOURS['random'], alpha=0.15)
        for arm, curve in summary['curves'].items():
            xs = [c['seconds'] for c in curve]
            ax.errorbar(
                xs, [c['mean'] for c in curve],
                yerr=[c['std'] for c in curve],
                color=COLOURS[arm],
                marker='o',
                capsize=3,
                label=LABELS[arm])
            for c in curve:
                ax.scatter(
                    [c['seconds']] * len(c['values']),
                    c['values'],
                    s=8,
                    color=COLOURS[arm],
                    alpha=0.4)
        if 'time_to_simmim' in summary:
            ax.axhline(
                summary['arms']['simmim']['mean'],
                color=COLOURS['simmim'],
                ls=':',
                lw=1,
                label='SimMIM at T')
            title += ("\nGreenMIM reaches SimMIM's accuracy at T after "
                      f"{fraction_text(summary['time_to_simmim'])}")
        ax.set_title(title, fontsize=9)
        ax.set_xlabel('pre-training time (s)')
        ax.set_xlim(left=0)
        ax.set_ylabel(f"{summary['split']} accuracy")
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=8)
    s = results['settings']
    fig.suptitle(
        f"{len(s['seeds'])} seeds, T = {s['budget_s']:.0f} s, "
        f"{results['data']['train']} labeled images",
        fontsize=9)
    fig.tight_layout()
    os.makedirs(osp.dirname(osp.abspath(path)), exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)
