"""Tables of ``tools/analysis_tools/pretrain_gain.py`` results (``docs/pretraining_gain/``)."""
from .formatting import Result, machine_line, source, table

ARM_NAMES = dict(random='random init', greenmim='GreenMIM', simmim='SimMIM')
METRIC_NAMES = dict(test_top1='test top-1 accuracy', val_top1='val top-1 accuracy')


def pretraining_table(result: Result) -> str:
    """When and where the experiment ran, and each pre-training run.

    Args:
        result (Result): ``pretraining_gain.json``.

    Returns:
        str: The caption (date, duration, seeds, budget, machine) and the table.
    """
    d = result.data
    rows = [[
        ARM_NAMES.get(arm, arm), f"{p['step_s']:.3f}", f"{p['iters']:,}", f"{p['wall_s']:.0f}",
        f"{p['last_loss']:.3f}"
    ] for arm, p in d['pretrain'].items()]
    caption = (f"Measured {d['date']} ({d['total_s'] / 60:.1f} min in all); seeds "
               f"{', '.join(str(s) for s in d['settings']['seeds'])}; T = "
               f"{d['settings']['budget_s']:.0f} s per pre-trained arm ({source(result)}).\n"
               f'{machine_line(result)}')
    header = [
        'arm', 'calibrated step (s)', 'pre-training iterations', 'pre-training run (s)', 'last loss'
    ]
    return caption + '\n\n' + table(header, rows)


def accuracy_table(result: Result) -> str:
    """Every arm's fine-tuned accuracy over the seeds, and the experiment's criterion.

    Args:
        result (Result): ``pretraining_gain.json``.

    Returns:
        str: The table's title line, the table and the criterion's outcome.
    """
    d = result.data
    summary = d['summary']
    metric = METRIC_NAMES.get(summary['metric'], summary['metric'])
    rows = []
    for arm, s in summary['arms'].items():
        p = d['pretrain'].get(arm)
        rows.append([
            ARM_NAMES.get(arm, arm), f"{p['iters']:,} ({p['wall_s']:.0f})" if p else '-',
            f"{s['mean']:.3f}", f"{s['std']:.3f}", ', '.join(f'{v:.3f}' for v in s['values']),
            f"{s['val_mean']:.3f}"
        ])
    images = d['data']
    title = (f"{metric.capitalize()} ({images['test']:,} test images; val: {images['val']:,} "
             f"images), {len(d['settings']['seeds'])} seeds per arm:")
    verdict = (f"GreenMIM - random init: {summary['gain']:+.3f} (2 x pooled std "
               f"{2 * summary['pooled_std']:.3f}); GreenMIM >= SimMIM: "
               f"{summary['greenmim_ge_simmim']}; separates: {summary['separates']}.")
    header = ['arm', 'pre-training iterations (run s)', 'mean', 'std', 'seeds', 'val mean']
    return title + '\n\n' + table(header, rows) + '\n\n' + verdict


def duration(result: Result) -> str:
    """One clause for the README: seeds and total time of the committed run."""
    d = result.data
    return (f"each fine-tuned with {len(d['settings']['seeds'])} seeds "
            f"({d['total_s'] / 60:.1f} min in all on {d['machine']['cpu_count']} cores)")
