"""Does GreenMIM pre-training pay off? Random init vs GreenMIM vs SimMIM at equal wall-clock.

Runs the experiment of ``docs/en/pretraining_gain.md`` (``make gain``): renders glyphs (or
reads your folder, ``--data``), measures both pre-training step times, pre-trains GreenMIM
and mmpretrain's SimMIM for the same wall-clock budget T with every seed, probes the frozen
features after 1/8, 1/4, 1/2 and all of T (and of random init) with a few labels per class,
and writes a JSON, a plot and tables. The logic lives in
:mod:`greenmim_mm.experiments.pretrain_gain`.

Outputs go to the work directory; ``--publish`` writes them into ``docs/`` instead and
regenerates the pages' tables that read it (:mod:`greenmim_mm.docs_tables`).

Examples::

    python tools/analysis_tools/pretrain_gain.py --publish        # make gain (26 min, 2 cores)
    python tools/analysis_tools/pretrain_gain.py --pilot --budget 120   # GreenMIM vs random, val
    python tools/analysis_tools/pretrain_gain.py --data my_images --budget 300
    python tools/analysis_tools/pretrain_gain.py --tiny --work-dir /tmp/g --data-root /tmp/gd
"""
import argparse
import json
import os
import os.path as osp
from dataclasses import fields
from typing import Optional, Sequence

from greenmim_mm.docs_tables import Result, update
from greenmim_mm.docs_tables.gain_tables import criteria_text, results_table
from greenmim_mm.experiments.gain_plot import plot_results
from greenmim_mm.experiments.pretrain_gain import GainSettings, run_experiment, tiny_settings

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))  # the checkout
PUBLISHED = dict(
    json='docs/pretraining_gain/pretraining_gain.json',
    plot='docs/pretraining_gain/pretraining_gain.png')
SIZES = ('num_unlabeled', 'train_per_class', 'val_per_class', 'test_per_class', 'batch_size',
         'parallel', 'threads')


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    """Parse the command line; unset sizes keep :class:`GainSettings`' (or the tiny) values."""
    parser = argparse.ArgumentParser(
        description=__doc__.split('\n')[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        '--tiny',
        action='store_true',
        help='a few iterations per run, one seed, tiny data (the plumbing test)')
    parser.add_argument(
        '--pilot',
        action='store_true',
        help='GreenMIM against random init only, reported on val: is the full run worth it?')
    parser.add_argument(
        '--data',
        help='your data folder: DIR/unlabeled/**, DIR/{train,val,test}/<class>/ '
        '(default: render glyphs into --data-root)')
    parser.add_argument('--data-root', default='data/glyphs', help='where the glyphs are rendered')
    parser.add_argument(
        '--budget',
        type=float,
        dest='budget_s',
        help='pre-training wall-clock budget T per run, seconds (default 400)')
    parser.add_argument('--seeds', type=int, nargs='+', help='seeds (default 0 1 2)')
    for name in SIZES:
        parser.add_argument(f'--{name.replace("_", "-")}', type=int, dest=name)
    parser.add_argument('--work-dir', default='work_dirs/pretrain_gain')
    parser.add_argument('--json', help='results file (default <work-dir>/pretraining_gain.json)')
    parser.add_argument('--plot', help='plot (default <work-dir>/pretraining_gain.png)')
    parser.add_argument(
        '--publish',
        action='store_true',
        help='write the JSON and plot into docs/pretraining_gain/ and regenerate the tables '
        'of the pages (docs/en/pretraining_gain.md, README.md; tools/misc/update_docs_tables.py)')
    args = parser.parse_args(argv)
    for name in ('budget_s', ) + SIZES:
        value = getattr(args, name)
        if value is not None and value < 0:
            parser.error(f'--{name.replace("_", "-")} must not be negative, got {value}')
    if args.parallel is not None and args.parallel not in (1, 2):
        parser.error(f'--parallel must be 1 or 2, got {args.parallel}')
    if args.publish and (args.tiny or args.pilot or args.data or args.json or args.plot):
        parser.error('--publish is for the full run on the generated glyphs only (no --tiny, '
                     '--pilot, --data, --json or --plot)')
    return args


def settings_from(args: argparse.Namespace) -> GainSettings:
    """The defaults (or the tiny ones) with the command line's values on top."""
    settings = tiny_settings() if args.tiny else GainSettings()
    for f in fields(GainSettings):
        value = getattr(args, f.name, None)
        if value is not None:
            setattr(settings, f.name, value)
    settings.pilot = args.pilot
    return settings


def main(argv: Optional[Sequence[str]] = None) -> dict:
    """Run the experiment, write the JSON, the plot and the tables; returns the results."""
    args = parse_args(argv)
    if args.publish:
        paths = {k: osp.join(ROOT, v) for k, v in PUBLISHED.items()}
    else:
        paths = dict(
            json=args.json or osp.join(args.work_dir, 'pretraining_gain.json'),
            plot=args.plot or osp.join(args.work_dir, 'pretraining_gain.png'))
    results = run_experiment(
        args.work_dir,
        args.data or args.data_root,
        settings_from(args),
        user_data=args.data is not None)
    os.makedirs(osp.dirname(osp.abspath(paths['json'])), exist_ok=True)
    with open(paths['json'], 'w') as f:
        json.dump(results, f, indent=1)
    if args.pilot:
        print(criteria_text(results['summary']['lr']))
        print(f'(pilot, val accuracy) wrote {paths["json"]}')
        return results
    plot_results(results, paths['plot'])
    if args.publish:  # the tables of docs/en/*.md and README.md that read the JSON
        for page in update(ROOT):
            print(f'updated {page}')
    print(results_table(Result(paths['json'], results)))
    print(f'wrote {paths["json"]} and {paths["plot"]}')
    return results


if __name__ == '__main__':
    main()
