"""The result file of ``make demo`` (``tools/run_demo.sh``): one JSON per run.

The demo writes ``<work_dir>/demo_result.json`` after its last phase; ``DEMO_PUBLISH=1`` (or
``python tools/misc/demo_result.py ... --publish``) copies it to ``docs/demo/demo_result.json``
and regenerates the pages' tables (``greenmim_mm.docs_tables``). The file holds:

- ``detectors``: per fine-tuned detector (``greenmim``: from the pretrained backbone;
  ``scratch``: from random init, ``DEMO_BASELINE=1``) the COCO bbox and segm mAP and AP50, read
  from the metrics file mmengine's ``LoggerHook`` writes after a test
  (``<det_work_dir>/<timestamp>/<timestamp>.json``), and the first and last logged training
  losses (``<timestamp>/vis_data/scalars.json``);
- ``pretraining``: its first and last logged loss;
- ``phases_s`` and ``total_s``: the wall time of each phase of the script and of the whole
  demo, as the script measured them;
- ``settings``: iterations, batch sizes and seeds from the configs, processes, the data seed;
- ``machine`` and ``date``.
"""
import argparse
import glob
import json
import os
import os.path as osp
import platform
import shutil
import time
from typing import Dict, List, Optional, Sequence

METRICS = ('bbox_mAP', 'bbox_mAP_50', 'segm_mAP', 'segm_mAP_50')
# Phases of tools/run_demo.sh, in order, as ``--phase NAME=SECONDS`` names them.
PHASES = ('data', 'pretraining', 'conversion', 'finetuning', 'baseline')
DETECTORS = ('greenmim', 'scratch')  # the work directories det_<name> of the script
FINETUNE_LOSSES = ('loss_cls', 'loss_mask')
PUBLISHED = 'docs/demo/demo_result.json'


def _runs(work_dir: str) -> List[str]:
    """The timestamped run folders mmengine made in ``work_dir``, oldest first."""
    return sorted(d for d in glob.glob(osp.join(work_dir, '*')) if osp.isdir(d))


def read_test_metrics(work_dir: str) -> Dict[str, float]:
    """The COCO metrics of the latest test run in ``work_dir``.

    Args:
        work_dir (str): The detector's work directory (``tools/test.py --work-dir``).

    Returns:
        dict[str, float]: ``bbox_mAP``, ``bbox_mAP_50``, ``segm_mAP``, ``segm_mAP_50``.

    Raises:
        FileNotFoundError: No ``<timestamp>/<timestamp>.json`` with COCO metrics.
    """
    if not osp.isdir(work_dir):
        raise FileNotFoundError(f'{work_dir} does not exist: run the demo first')
    for run in reversed(_runs(work_dir)):
        path = osp.join(run, osp.basename(run) + '.json')
        if not osp.exists(path):
            continue
        with open(path) as f:
            tags = json.load(f)
        if all(f'coco/{m}' in tags for m in METRICS):
            return {m: float(tags[f'coco/{m}']) for m in METRICS}
    raise FileNotFoundError(f'no test metrics (<timestamp>/<timestamp>.json with coco/bbox_mAP, '
                            f'written by tools/test.py) under {work_dir}')


def first_last_losses(work_dir: str, names: Sequence[str]) -> Dict[str, List[float]]:
    """The first and last logged value of each training loss of the latest training run.

    Args:
        work_dir (str): A training work directory.
        names (Sequence[str]): Loss names as logged, e.g. ``('loss', )``.

    Returns:
        dict[str, list[float]]: ``name -> [first, last]`` for the names logged; empty when
        no run logged any.
    """
    for run in reversed(_runs(work_dir)):
        path = osp.join(run, 'vis_data', 'scalars.json')
        if not osp.exists(path):
            continue
        with open(path) as f:
            entries = [json.loads(line) for line in f if line.strip()]
        found = {
            n: [float(e[n]) for e in entries if n in e]
            for n in names if any(n in e for e in entries)
        }
        if found:
            return {n: [v[0], v[-1]] for n, v in found.items()}
    return {}


def config_settings(path: str) -> dict:
    """Iterations, batch size per process and seed of a config (its ``train_cfg.max_iters``,
    ``train_dataloader.batch_size``, ``randomness.seed``)."""
    from mmengine.config import Config
    cfg = Config.fromfile(path, import_custom_modules=False)
    return dict(
        config=path,
        iters=cfg.train_cfg.get('max_iters'),
        batch_size=cfg.train_dataloader.batch_size,
        seed=cfg.get('randomness', {}).get('seed'))


def machine_record() -> dict:
    """The processor, its core count, platform, Python and torch versions, date and load."""
    import torch
    record = dict(
        cpu=platform.processor() or platform.machine(),
        cpus=os.cpu_count(),
        platform=platform.platform(),
        python=platform.python_version(),
        torch=torch.__version__,
        date=time.strftime('%Y-%m-%d', time.gmtime()))
    try:
        with open('/proc/cpuinfo') as f:
            record['cpu'] = next(
                line.split(':', 1)[1].strip() for line in f if line.startswith('model name'))
    except (OSError, StopIteration):
        pass
    try:
        record['load_avg_end'] = list(os.getloadavg())
    except OSError:
        pass
    return record


def demo_result(work_dir: str,
                phases_s: Dict[str, float],
                total_s: float,
                pretrain_config: str,
                det_config: str,
                procs: int,
                data_seed: int,
                baseline: bool = False,
                machine: Optional[dict] = None) -> dict:
    """Collect what one ``make demo`` run measured from its work directory.

    Args:
        work_dir (str): The demo's work directory (``DEMO_WORK_DIR``), holding ``pretrain/``
            and ``det_greenmim/`` (and ``det_scratch/`` with the baseline).
        phases_s (dict[str, float]): Wall time of each phase (:data:`PHASES`), seconds.
        total_s (float): Wall time of the whole demo, seconds.
        pretrain_config (str): The pretraining config the demo ran.
        det_config (str): The detector config the demo ran.
        procs (int): Fine-tuning and test processes.
        data_seed (int): The seed of the generated data.
        baseline (bool): Whether the run fine-tuned from random init as well
            (``DEMO_BASELINE=1``, ``det_scratch/``). Defaults to False.
        machine (dict, optional): The machine record; :func:`machine_record` when None.

    Returns:
        dict: The result (see the module docstring).
    """
    unknown = set(phases_s) - set(PHASES)
    if unknown:
        raise ValueError(f'unknown demo phases {sorted(unknown)}; known: {PHASES}')
    machine = machine or machine_record()
    detectors = {}
    for name in DETECTORS[:2 if baseline else 1]:
        det_dir = osp.join(work_dir, f'det_{name}')
        detectors[name] = dict(
            read_test_metrics(det_dir), losses=first_last_losses(det_dir, FINETUNE_LOSSES))
    pretrain = config_settings(pretrain_config)
    finetune = config_settings(det_config)
    return dict(
        date=machine['date'],
        machine=machine,
        settings=dict(
            data_seed=data_seed,
            pretrain_iters=pretrain['iters'],
            pretrain_batch=pretrain['batch_size'],
            pretrain_seed=pretrain['seed'],
            finetune_iters=finetune['iters'],
            finetune_batch_per_process=finetune['batch_size'],
            finetune_seed=finetune['seed'],
            processes=procs,
            baseline=baseline,
            configs=[pretrain_config, det_config]),
        pretraining=dict(losses=first_last_losses(osp.join(work_dir, 'pretrain'), ('loss', ))),
        detectors=detectors,
        phases_s={p: round(phases_s[p], 1)
                  for p in PHASES if p in phases_s},
        total_s=round(total_s, 1))


def _phase(text: str):
    name, _, seconds = text.partition('=')
    try:
        return name, float(seconds)
    except ValueError:
        raise argparse.ArgumentTypeError(f'expected NAME=SECONDS, got {text!r}')


def main(argv: Optional[Sequence[str]] = None, root: Optional[str] = None) -> dict:
    """Write ``<work_dir>/demo_result.json``; with ``--publish`` copy it to
    :data:`PUBLISHED` under ``root`` and regenerate the pages' tables.

    Args:
        argv (Sequence[str], optional): The flags; ``sys.argv[1:]`` when None.
        root (str, optional): The checkout that ``--publish`` writes into.

    Returns:
        dict: The result.
    """
    parser = argparse.ArgumentParser(description='Write the result file of a make demo run')
    parser.add_argument('--work-dir', required=True, help='the demo work directory')
    parser.add_argument(
        '--phase',
        type=_phase,
        action='append',
        default=[],
        help='NAME=SECONDS, one per phase: ' + ', '.join(PHASES))
    parser.add_argument('--total-s', type=float, required=True, help='the whole demo, seconds')
    parser.add_argument('--pretrain-config', default='configs/demo/greenmim_demo_pretrain.py')
    parser.add_argument('--det-config', default='configs/demo/mask-rcnn_greenmim_demo.py')
    parser.add_argument('--procs', type=int, default=2)
    parser.add_argument('--data-seed', type=int, default=0)
    parser.add_argument(
        '--baseline', action='store_true', help='the run fine-tuned from random init too')
    parser.add_argument(
        '--publish',
        action='store_true',
        help=f'copy the result to {PUBLISHED} and regenerate the tables of the pages')
    args = parser.parse_args(argv)
    result = demo_result(args.work_dir, dict(args.phase), args.total_s, args.pretrain_config,
                         args.det_config, args.procs, args.data_seed, args.baseline)
    path = osp.join(args.work_dir, 'demo_result.json')
    with open(path, 'w') as f:
        json.dump(result, f, indent=1)
    print(f'wrote {path}')
    if args.publish:
        if root is None:
            raise ValueError('--publish needs the checkout (root)')
        published = osp.join(root, PUBLISHED)
        os.makedirs(osp.dirname(published), exist_ok=True)
        shutil.copyfile(path, published)
        print(f'published {PUBLISHED}')
        from ..docs_tables import update
        for page in update(root):
            print(f'updated {page}')
    return result
