"""The benchmark's PNG: step time, step memory and the sweep side by side."""
from .options import arch_label


def _plot_step_time(ax, results: dict) -> None:
    """Bars of both models' median step per case, with the speed-up."""
    cases = [c for c in results['cases'] if 'speedup' in c]  # none with --no-time
    labels = [f"{c['img']}px b{c['batch']}" for c in cases]
    xs = range(len(cases))
    ax.bar([x - 0.2 for x in xs], [c['simmim']['step_s_median'] for c in cases],
           0.4,
           label='SimMIM')
    ax.bar([x + 0.2 for x in xs], [c['greenmim']['step_s_median'] for c in cases],
           0.4,
           label='GreenMIM')
    for x, c in zip(xs, cases):
        ax.text(
            x + 0.2,
            c['greenmim']['step_s_median'],
            f"{c['speedup']:.2f}x",
            ha='center',
            va='bottom',
            fontsize=9)
    ax.set_xticks(list(xs), labels)
    ax.set_ylabel('training step (s, median)')
    ax.set_title('Step time')
    ax.legend()


def _plot_step_memory(ax, results: dict) -> None:
    """Bars of both models' step memory per case, with the ratio."""
    with_mem = [c for c in results['cases'] if 'memory' in c]
    if with_mem:
        xs = range(len(with_mem))
        ax.bar([x - 0.2 for x in xs],
               [c['memory']['simmim']['step_bytes'] / 2**20 for c in with_mem],
               0.4,
               label='SimMIM')
        ax.bar([x + 0.2 for x in xs],
               [c['memory']['greenmim']['step_bytes'] / 2**20 for c in with_mem],
               0.4,
               label='GreenMIM')
        for x, c in zip(xs, with_mem):
            ax.text(
                x + 0.2,
                c['memory']['greenmim']['step_bytes'] / 2**20,
                f"{c['memory']['step_ratio']:.2f}x",
                ha='center',
                va='bottom',
                fontsize=9)
        ax.set_xticks(list(xs), [f"{c['img']}px b{c['batch']}" for c in with_mem])
        ax.legend()
    ax.set_ylabel('step memory (MiB)')
    ax.set_title('Memory a step needs beyond model + optimizer')


def _plot_sweep(ax, results: dict) -> None:
    """Step time against input size (and mask ratio at the smallest)."""
    sweep = results.get('sweep') or []
    sweep = [c for c in sweep if 'step_s_median' in c.get('greenmim', {})]  # timed ones
    sizes = [c for c in sweep if c['mask_ratio'] == results['args']['mask_ratio']]
    if sizes:
        ax.plot([c['img'] for c in sizes], [c['greenmim']['step_s_median'] for c in sizes],
                'o-',
                label=f"GreenMIM, ratio {results['args']['mask_ratio']}")
        timed = [c for c in sizes if 'step_s_median' in c.get('simmim', {})]
        ax.plot([c['img'] for c in timed], [c['simmim']['step_s_median'] for c in timed],
                's--',
                label='SimMIM')
        base = next(c for c in sizes if c['img'] == min(x['img'] for x in sizes))
        for c in sweep:
            if c['img'] == base['img'] and c['mask_ratio'] != results['args']['mask_ratio']:
                ax.plot([c['img']], [c['greenmim']['step_s_median']], 'x', markersize=9)
                ax.annotate(
                    f"ratio {c['mask_ratio']}", (c['img'], c['greenmim']['step_s_median']),
                    textcoords='offset points',
                    xytext=(6, -4),
                    fontsize=8)
        ax.set_xlabel('input size (px)')
        ax.set_ylabel('training step (s, median)')
        ax.set_title(f"Sweep, batch {sizes[0]['batch']}")
        ax.legend()


def plot(results: dict, path: str) -> None:
    """Step time, step memory and the sweep side by side, each panel where the run has its
    data (memory alone with --no-time, no sweep with --no-sweep)."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    has = dict(
        time=any('speedup' in c for c in results['cases']),
        memory=any('memory' in c for c in results['cases']),
        sweep=bool(results.get('sweep')))
    panels = [
        panel for key, panel in (('time', _plot_step_time), ('memory', _plot_step_memory),
                                 ('sweep', _plot_sweep)) if has[key]
    ] or [_plot_step_memory]
    fig, axes = plt.subplots(1, len(panels), figsize=(5 * len(panels) + 1, 4.2), squeeze=False)
    for ax, panel in zip(axes[0], panels):
        panel(ax, results)
    m = results['machine']
    model = ('Twins-SVT-L (baseline: dense, SimMIM-style)'
             if results['args'].get('model') == 'twins' else arch_label(results['args']['arch']))
    fig.suptitle(
        f"{model}: {m['cpu']}, {m['threads']} threads, "
        f"{m['device']}{' ' + m['gpu'] if 'gpu' in m else ''}, "
        f"{m.get('precision', 'float32')}, torch {m['torch']}"
        f"{', ' + m['date'] if m.get('date') else ''}",
        fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
