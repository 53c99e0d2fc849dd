"""Does GreenMIM pre-training pay off? Random init vs GreenMIM vs SimMIM at equal wall-clock.

The experiment of ``docs/en/pretraining_gain.md`` (``make gain``), run through the configs in
``configs/pretrain_gain/`` and the toolkit's own train and test entry points
(:mod:`greenmim_mm.cli.train`, :mod:`greenmim_mm.cli.test`), as a user would:

1. generate shapes with ``tools/dataset_converters/make_demo_data.py`` -- many unlabeled
   pre-training images, few labeled ones -- and label each labeled image with the category of
   its largest shape (:mod:`.largest_shape`); the generator's val split is cut into val
   (settings are chosen there) and test (reported);
2. measure the step time of GreenMIM and of mmpretrain's SimMIM on the same backbone, images
   and batch (a short calibration run each, the first steps discarded) and give each
   ``floor(budget / step time)`` iterations, so both pre-train for the same wall-clock;
3. pre-train both;
4. fine-tune the same classifier from random init, from GreenMIM and from SimMIM with each
   seed (one seed: the same data order, flips and head init in every arm) and evaluate on val
   and test.

Every run's config is written to ``<work_dir>/configs/`` (each a few overrides of a repository
config) so any run can be repeated with ``tools/train.py``.
"""
import glob
import json
import math
import os
import os.path as osp
import platform
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from typing import Dict, List, Optional, Sequence

import numpy as np

from .largest_shape import write_split_files

ARMS = ('random', 'greenmim', 'simmim')
PRETRAIN_CONFIGS = {
    'greenmim': 'configs/pretrain_gain/greenmim_swin-nano_64px_pretrain.py',
    'simmim': 'configs/pretrain_gain/simmim_swin-nano_64px_pretrain.py',
}
FINETUNE_CONFIG = 'configs/pretrain_gain/swin-nano_64px_largest-shape_ft.py'
DATA_GENERATOR = 'tools/dataset_converters/make_demo_data.py'


@dataclass
class GainSettings:
    """What the experiment runs; the defaults are those of ``make gain``.

    Attributes:
        budget_s (float): Pre-training wall-clock budget T per pre-trained arm, in seconds.
        seeds (list[int]): Fine-tuning seeds (each arm runs every seed).
        num_labeled (int): Labeled fine-tuning images (the generator's train split).
        num_val (int): Held-out images for choosing settings.
        num_test (int): Held-out images for the reported accuracy.
        num_unlabeled (int): Extra unlabeled pre-training images (the labeled images are also
            in the pre-training folder, without labels).
        image_size (int): Image side in pixels (a multiple of 32 for the generator).
        data_seed (int): The generator's seed.
        calib_iters (int): Iterations of each step-time calibration run.
        calib_skip (int): Leading calibration iterations left out of the step time.
        finetune_epochs (int, optional): Fine-tuning epochs; None keeps the config's.
        batch_size (int, optional): Pre-training batch (both arms); None keeps the config's.
        workers (int, optional): Data-loading workers of every run; None keeps the configs'.
            Defaults to 0: on 2 cores a worker process costs more than decoding 64-px JPEGs.
        min_pretrain_iters (int): Fewest pre-training iterations an arm gets.
        max_labeled_instances (int): Most shapes per labeled image (1: the label is the
            category of the image's one shape; more: of its largest shape).
    """
    budget_s: float = 300.0
    seeds: List[int] = field(default_factory=lambda: [0, 1, 2])
    num_labeled: int = 600
    num_val: int = 500
    num_test: int = 1000
    num_unlabeled: int = 10000
    image_size: int = 64
    data_seed: int = 0
    calib_iters: int = 12
    calib_skip: int = 4
    finetune_epochs: Optional[int] = None
    batch_size: Optional[int] = None
    workers: Optional[int] = 0
    min_pretrain_iters: int = 2
    max_labeled_instances: int = 1


def tiny_settings() -> GainSettings:
    """A few iterations per arm and one seed: the plumbing check ``make test`` runs."""
    return GainSettings(
        budget_s=1.0,
        seeds=[0],
        num_labeled=12,
        num_val=6,
        num_test=6,
        num_unlabeled=8,
        calib_iters=3,
        calib_skip=1,
        finetune_epochs=1,
        batch_size=4,
        workers=0)


# ----------------------------------------------------------------------------- configs


def write_config(path: str, base: str, body: str) -> str:
    """Write a config that inherits ``base`` (absolute path) and overrides ``body``."""
    os.makedirs(osp.dirname(path), exist_ok=True)
    with open(path, 'w') as f:
        f.write(f'_base_ = [{base!r}]\n\n{body}')
    return path


def loader_overrides(data_root: str,
                     workers: Optional[int],
                     names: Sequence[str] = ('train_dataloader', ),
                     batch_size: Optional[int] = None) -> str:
    """Config lines pointing the dataloaders at ``data_root`` (and setting their workers and,
    for the first one, the batch size)."""
    lines = []
    for i, name in enumerate(names):
        extra = '' if workers is None else \
            f', num_workers={workers}, persistent_workers={workers > 0}'
        if i == 0 and batch_size is not None:
            extra += f', batch_size={batch_size}'
        lines.append(f'{name} = dict(dataset=dict(data_root={data_root + "/"!r}){extra})\n')
    return ''.join(lines)


def pretrain_config(path: str, base: str, data_root: str, iters: int, settings: GainSettings,
                    log_interval: int) -> str:
    """A pre-training config of ``iters`` iterations: warm-up then cosine to the last one."""
    warmup = max(1, min(50, iters // 10))
    body = (
        loader_overrides(data_root, settings.workers, batch_size=settings.batch_size) +
        f'train_cfg = dict(max_iters={iters})\n'
        'param_scheduler = [\n'
        f'    dict(type="LinearLR", start_factor=1e-2, by_epoch=False, begin=0, end={warmup}),\n'
        f'    dict(type="CosineAnnealingLR", eta_min=1e-5, by_epoch=False, begin={warmup},\n'
        f'         end={max(iters, warmup + 1)})\n'
        ']\n'
        'default_hooks = dict(\n'
        f'    logger=dict(interval={log_interval}),\n'
        f'    checkpoint=dict(interval={iters}, max_keep_ckpts=1, save_last=True))\n'
        # each logged time is the mean of the last `log_interval` iterations
        f'log_processor = dict(window_size={log_interval})\n')
    return write_config(path, base, body)


def finetune_config(path: str, base: str, data_root: str, seed: int, checkpoint: Optional[str],
                    settings: GainSettings) -> str:
    """The fine-tuning config of one arm and seed; ``checkpoint`` None is random init."""
    body = loader_overrides(data_root, settings.workers,
                            ('train_dataloader', 'val_dataloader', 'test_dataloader'))
    body += f'randomness = dict(seed={seed})\n'
    if checkpoint is not None:
        body += ('model = dict(backbone=dict(init_cfg=dict(\n'
                 f'    _delete_=True, type="Pretrained", checkpoint={checkpoint!r},\n'
                 '    prefix="backbone.")))\n')
    if settings.finetune_epochs is not None:
        epochs = settings.finetune_epochs
        warmup = min(2, epochs - 1)
        body += (
            f'train_cfg = dict(max_epochs={epochs}, val_interval={epochs})\n'
            'param_scheduler = [\n' +
            (f'    dict(type="LinearLR", start_factor=1e-2, by_epoch=True, begin=0, '
             f'end={warmup},\n         convert_to_iter_based=True),\n' if warmup else '') +
            f'    dict(type="CosineAnnealingLR", eta_min=1e-5, by_epoch=True, begin={warmup},\n'
            f'         end={epochs}, convert_to_iter_based=True)\n'
            ']\n'
            f'default_hooks = dict(checkpoint=dict(interval={epochs}))\n')
    return write_config(path, base, body)


def split_config(path: str, base: str, split: str) -> str:
    """``base`` with its test dataloader on another split (``meta/<split>.txt``)."""
    return write_config(path, base,
                        f'test_dataloader = dict(dataset=dict(ann_file="meta/{split}.txt"))\n')


# ----------------------------------------------------------------------------- runs


def train(config: str, work_dir: str) -> float:
    """Train with the toolkit's ``tools/train.py`` entry point; returns the wall time (s)."""
    from greenmim_mm.cli.train import main
    start = time.perf_counter()
    main([config, '--work-dir', work_dir, '--no-validate'])
    return time.perf_counter() - start


def test(config: str, checkpoint: str, work_dir: str) -> Dict[str, float]:
    """Evaluate with the toolkit's ``tools/test.py`` entry point; returns the metrics."""
    from greenmim_mm.cli.test import main
    return dict(main([config, checkpoint, '--work-dir', work_dir]))


def read_scalars(work_dir: str) -> List[dict]:
    """The training log records (``vis_data/scalars.json``) of the latest run in a work dir."""
    files = sorted(glob.glob(osp.join(work_dir, '*', 'vis_data', 'scalars.json')))
    if not files:
        raise FileNotFoundError(f'no vis_data/scalars.json under {work_dir}')
    with open(files[-1]) as f:
        return [json.loads(line) for line in f if line.strip()]


def last_checkpoint(work_dir: str) -> str:
    """The checkpoint mmengine's ``last_checkpoint`` file names."""
    with open(osp.join(work_dir, 'last_checkpoint')) as f:
        return f.read().strip()


def measured_step_time(records: Sequence[dict], skip: int) -> float:
    """Median seconds per training iteration after the first ``skip``.

    Args:
        records (Sequence[dict]): ``scalars.json`` records of a run logged every iteration
            with ``log_processor.window_size=1``, so each ``time`` is one iteration's.
        skip (int): Leading iterations (warm-up, first data loading) left out.

    Returns:
        float: The median iteration time in seconds.
    """
    times = [r['time'] for r in records if 'time' in r and r.get('iter', 0) > skip]
    if not times:
        raise ValueError(f'no iteration times after the first {skip} in the log')
    return float(np.median(times))


def generate(repo_root: str, out: str, spec: dict) -> None:
    """Run the demo data generator with ``spec`` into ``out``, unless it already did."""
    stamp = osp.join(out, 'gain_data.json')
    if osp.exists(stamp):
        with open(stamp) as f:
            if json.load(f) == spec:
                return
    args = [f'--{k.replace("_", "-")}={v}' for k, v in spec.items()]
    subprocess.run(
        [sys.executable, osp.join(repo_root, DATA_GENERATOR), '--out', out, *args], check=True)
    with open(stamp, 'w') as f:
        json.dump(spec, f)


def make_data(repo_root: str, data_root: str, settings: GainSettings) -> Dict[str, int]:
    """Generate the images (unless the same ones exist) and the label files.

    Two generator runs: ``<data_root>/unlabeled/pretrain/`` holds the pre-training images
    (scenes of 1 to 5 shapes), ``<data_root>/labeled/`` the fine-tuning images with
    ``settings.max_labeled_instances`` shapes each (another seed: no image is shared).
    """
    common = dict(size=settings.image_size, min_area=32)
    generate(
        repo_root, osp.join(data_root, 'unlabeled'),
        dict(
            common,
            seed=settings.data_seed,
            num_train=1,
            num_val=1,
            num_pretrain=settings.num_unlabeled,
            max_instances=5))
    labeled = osp.join(data_root, 'labeled')
    generate(
        repo_root, labeled,
        dict(
            common,
            seed=settings.data_seed + 1,
            num_train=settings.num_labeled,
            num_val=settings.num_val + settings.num_test,
            num_pretrain=0,
            max_instances=settings.max_labeled_instances))
    return write_split_files(labeled, settings.num_val)


def run_experiment(repo_root: str, work_dir: str, data_root: str, settings: GainSettings) -> dict:
    """Run all arms and seeds; returns the results (see :func:`summarize` for the summary).

    Args:
        repo_root (str): The repository (configs and the data generator are read from it).
        work_dir (str): Where every run's config, logs and checkpoints go.
        data_root (str): Where the generated images and labels go.
        settings (GainSettings): Sizes, budget and seeds.

    Returns:
        dict: ``settings``, ``machine``, ``data`` (split sizes), ``pretrain`` (per arm: step
        time, iterations, the run's wall time and median logged step time, last loss),
        ``finetune`` (per arm,
        one entry per seed: val and test top-1 accuracy), ``summary`` and ``total_s``.
    """
    start = time.perf_counter()
    work_dir, data_root = osp.abspath(work_dir), osp.abspath(data_root)
    cfg_dir = osp.join(work_dir, 'configs')
    results = dict(
        settings=asdict(settings),
        machine=machine(),
        date=time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime()))
    results['data'] = make_data(repo_root, data_root, settings)
    results['data']['unlabeled'] = settings.num_unlabeled + 1  # + the unlabeled run's train
    pretrain_root = osp.join(data_root, 'unlabeled')
    labeled_root = osp.join(data_root, 'labeled')

    pretrain = {}
    for arm, config in PRETRAIN_CONFIGS.items():
        base = osp.join(repo_root, config)
        calib = pretrain_config(
            osp.join(cfg_dir, f'calibrate_{arm}.py'),
            base,
            pretrain_root,
            settings.calib_iters,
            settings,
            log_interval=1)
        calib_dir = osp.join(work_dir, f'calibrate_{arm}')
        train(calib, calib_dir)
        pretrain[arm] = dict(
            step_s=measured_step_time(read_scalars(calib_dir), settings.calib_skip))
    for arm, config in PRETRAIN_CONFIGS.items():
        iters = max(settings.min_pretrain_iters,
                    int(math.floor(settings.budget_s / pretrain[arm]['step_s'])))
        arm_dir = osp.join(work_dir, f'pretrain_{arm}')
        cfg = pretrain_config(
            osp.join(cfg_dir, f'pretrain_{arm}.py'),
            osp.join(repo_root, config),
            pretrain_root,
            iters,
            settings,
            log_interval=max(1, min(50, iters // 20)))
        wall = train(cfg, arm_dir)
        records = [r for r in read_scalars(arm_dir) if 'loss' in r]
        pretrain[arm].update(
            iters=iters,
            wall_s=wall,
            run_step_s=float(np.median([r['time'] for r in records])) if records else None,
            last_loss=records[-1]['loss'] if records else None,
            checkpoint=last_checkpoint(arm_dir))
    results['pretrain'] = pretrain

    finetune: Dict[str, List[dict]] = {arm: [] for arm in ARMS}
    base = osp.join(repo_root, FINETUNE_CONFIG)
    for seed in settings.seeds:
        for arm in ARMS:
            name = f'finetune_{arm}_seed{seed}'
            checkpoint = None if arm == 'random' else pretrain[arm]['checkpoint']
            cfg = finetune_config(
                osp.join(cfg_dir, f'{name}.py'), base, labeled_root, seed, checkpoint, settings)
            run_dir = osp.join(work_dir, name)
            wall = train(cfg, run_dir)
            ckpt = last_checkpoint(run_dir)
            entry = dict(seed=seed, train_wall_s=wall)
            for split in ('val', 'test'):
                split_cfg = split_config(osp.join(cfg_dir, f'{name}_{split}.py'), cfg, split)
                metrics = test(split_cfg, ckpt, osp.join(run_dir, split))
                entry[f'{split}_top1'] = float(metrics['accuracy/top1']) / 100.0
            finetune[arm].append(entry)
    results['finetune'] = finetune
    results['summary'] = summarize(finetune)
    results['total_s'] = time.perf_counter() - start
    return results


# ----------------------------------------------------------------------------- summary


def summarize(finetune: Dict[str, List[dict]], metric: str = 'test_top1') -> dict:
    """Per-arm mean, sample std and values, and the issue's two criteria.

    Args:
        finetune (dict): Per arm, one dict per seed with ``metric``.
        metric (str): The primary metric. Defaults to ``'test_top1'``.

    Returns:
        dict: ``arms`` (per arm ``mean``, ``std`` (ddof 1; 0 for one seed), ``values``,
        ``val_mean``), ``pooled_std`` of random init and GreenMIM
        (``sqrt((std_r**2 + std_g**2) / 2)``), ``gain`` (GreenMIM minus random init, means),
        ``beats_random`` (gain > 2 pooled std), ``greenmim_ge_simmim`` (means) and
        ``separates`` (both).
    """
    arms = {}
    for arm, runs in finetune.items():
        values = [r[metric] for r in runs]
        val = [r['val_top1'] for r in runs if 'val_top1' in r]
        arms[arm] = dict(
            mean=float(np.mean(values)),
            std=float(np.std(values, ddof=1)) if len(values) > 1 else 0.0,
            values=values,
            val_mean=float(np.mean(val)) if val else None)
    pooled = math.sqrt((arms['random']['std']**2 + arms['greenmim']['std']**2) / 2)
    gain = arms['greenmim']['mean'] - arms['random']['mean']
    beats = gain > 2 * pooled
    ge_simmim = arms['greenmim']['mean'] >= arms['simmim']['mean']
    return dict(
        metric=metric,
        arms=arms,
        pooled_std=pooled,
        gain=gain,
        beats_random=beats,
        greenmim_ge_simmim=ge_simmim,
        separates=bool(beats and ge_simmim))


def machine() -> dict:
    """The machine the run measured: processor, cores, torch threads, versions."""
    import torch
    return dict(
        platform=platform.platform(),
        processor=platform.processor() or None,
        cpu_count=os.cpu_count(),
        torch_threads=torch.get_num_threads(),
        torch=torch.__version__,
        python=platform.python_version())


def plot_results(results: dict, path: str) -> None:
    """Per arm: the mean with a +-1 std error bar and every seed's test accuracy.

    Args:
        results (dict): :func:`run_experiment`'s output.
        path (str): The image file to write.
    """
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    summary = results['summary']['arms']
    pre = results['pretrain']
    labels = {
        'random': 'random init',
        'greenmim': f"GreenMIM\n{pre['greenmim']['iters']} iters",
        'simmim': f"SimMIM\n{pre['simmim']['iters']} iters",
    }
    fig, ax = plt.subplots(figsize=(5, 3.6))
    for x, arm in enumerate(ARMS):
        s = summary[arm]
        ax.errorbar(x, s['mean'], yerr=s['std'], fmt='o', color='k', capsize=6, markersize=7)
        jitter = np.linspace(-0.12, 0.12, len(s['values'])) if len(s['values']) > 1 else [0]
        ax.scatter(x + np.asarray(jitter) + 0.25, s['values'], s=14, alpha=0.7)
    ax.set_xticks(range(len(ARMS)), [labels[a] for a in ARMS])
    ax.set_xlim(-0.5, len(ARMS) - 0.3)
    ax.set_ylabel('test top-1 accuracy')
    budget = results['settings']['budget_s']
    seeds = len(results['settings']['seeds'])
    ax.set_title(
        f'largest-shape category, {seeds} seeds, pre-training T = {budget:.0f} s', fontsize=9)
    ax.grid(axis='y', alpha=0.3)
    fig.tight_layout()
    os.makedirs(osp.dirname(osp.abspath(path)), exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)
