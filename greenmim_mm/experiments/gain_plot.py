"""The pretraining-gain plot: probe accuracy against pre-training seconds."""
import os
import os.path as osp

from ..docs_tables.gain_tables import LABELS, fraction_text

COLOURS = {'random': '0.4', 'greenmim': 'tab:green', 'simmim': 'tab:blue'}


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
