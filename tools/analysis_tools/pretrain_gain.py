"""Equal compute, better model? Fine-tune from random init, GreenMIM and SimMIM pre-training.

Runs the experiment of ``docs/en/pretraining_gain.md`` (``make gain``): generates the data,
measures both pre-training step times, pre-trains GreenMIM and mmpretrain's SimMIM for the
same wall-clock budget, fine-tunes a classifier from each start (and from random init) with
every seed, and writes every seed's accuracy to a JSON, a plot and a table on stdout. The
logic lives in :mod:`greenmim_mm.experiments.pretrain_gain`.

Examples::

    python tools/analysis_tools/pretrain_gain.py                  # make gain (34 min on 2 cores)
    python tools/analysis_tools/pretrain_gain.py --budget 120 --seeds 0 1 --json /tmp/g.json
    python tools/analysis_tools/pretrain_gain.py --tiny --work-dir /tmp/g --data-root /tmp/gd
"""
import argparse
import json
import os
import os.path as osp
from dataclasses import fields
from typing import Optional, Sequence

from greenmim_mm.experiments.pretrain_gain import (ARMS, GainSettings, plot_results, run_experiment,
                                                   tiny_settings)

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))  # the checkout


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    """Parse the command line; unset sizes keep :class:`GainSettings`' (or the tiny) values."""
    parser = argparse.ArgumentParser(
        description=__doc__.split('\n')[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        '--tiny',
        action='store_true',
        help='a few iterations per arm and one seed (the plumbing test)')
    parser.add_argument(
        '--budget',
        type=float,
        dest='budget_s',
        help='pre-training wall-clock budget T per arm, seconds (default 300)')
    parser.add_argument('--seeds', type=int, nargs='+', help='fine-tuning seeds (default 0 1 2)')
    for name in ('num_labeled', 'num_val', 'num_test', 'num_unlabeled', 'finetune_epochs',
                 'batch_size', 'workers'):
        parser.add_argument(f'--{name.replace("_", "-")}', type=int, dest=name)
    parser.add_argument('--work-dir', default='work_dirs/pretrain_gain')
    parser.add_argument('--data-root', default='data/gain')
    parser.add_argument('--json', default='docs/pretraining_gain/pretraining_gain.json')
    parser.add_argument('--plot', default='docs/pretraining_gain/pretraining_gain.png')
    args = parser.parse_args(argv)
    for name in ('budget_s', 'seeds', 'num_labeled', 'num_val', 'num_test', 'num_unlabeled',
                 'finetune_epochs', 'batch_size', 'workers'):
        value = getattr(args, name)
        if isinstance(value, (int, float)) and not isinstance(value, bool) and value < 0:
            parser.error(f'--{name.replace("_", "-")} must not be negative, got {value}')
    return args


def settings_from(args: argparse.Namespace) -> GainSettings:
    """The defaults (or the tiny ones) with the command line's values on top."""
    settings = tiny_settings() if args.tiny else GainSettings()
    for f in fields(GainSettings):
        value = getattr(args, f.name, None)
        if value is not None:
            setattr(settings, f.name, value)
    return settings


def table(results: dict) -> str:
    """A Markdown table: per arm pre-training iterations, mean, std and every seed."""
    summary, pre = results['summary'], results['pretrain']
    lines = [
        '| arm | pre-training iters (run s) | test top-1 mean | std | seeds | '
        'val mean |', '|---|---|---|---|---|---|'
    ]
    for arm in ARMS:
        s = summary['arms'][arm]
        iters = '-' if arm == 'random' else \
            f"{pre[arm]['iters']} ({pre[arm]['wall_s']:.0f})"
        seeds = ', '.join(f'{v:.3f}' for v in s['values'])
        lines.append(f"| {arm} | {iters} | {s['mean']:.3f} | {s['std']:.3f} | {seeds} | "
                     f"{s['val_mean']:.3f} |")
    lines.append(f"\nGreenMIM - random: {summary['gain']:+.3f} (2 x pooled std "
                 f"{2 * summary['pooled_std']:.3f}); GreenMIM >= SimMIM: "
                 f"{summary['greenmim_ge_simmim']}; separates: {summary['separates']}. "
                 f"Total {results['total_s'] / 60:.1f} min.")
    return '\n'.join(lines)


def main(argv: Optional[Sequence[str]] = None) -> dict:
    """Run the experiment, write the JSON and the plot, print the table; returns the results."""
    args = parse_args(argv)
    results = run_experiment(ROOT, args.work_dir, args.data_root, settings_from(args))
    os.makedirs(osp.dirname(osp.abspath(args.json)), exist_ok=True)
    with open(args.json, 'w') as f:
        json.dump(results, f, indent=1)
    plot_results(results, args.plot)
    print(table(results))
    print(f'wrote {args.json} and {args.plot}')
    return results


if __name__ == '__main__':
    main()
