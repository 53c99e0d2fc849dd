"""Does GreenMIM pre-training pay off? Random init vs GreenMIM vs SimMIM at equal wall-clock.

The experiment of ``docs/en/pretraining_gain.md`` (``make gain``), run through the configs in
``configs/pretrain_gain/`` and the toolkit's own train entry point (``tools/train.py``), as a
user would:

1. data: rendered glyphs (:mod:`greenmim_mm.datasets.glyph_data`) or the user's folder
   (``--data``, checked by :func:`~.data_layout.check_data_layout`): unlabeled images for
   pre-training, a few labeled ones per class for the probe, val and test;
2. measure the step time of GreenMIM and of mmpretrain's SimMIM on the same backbone, images
   and batch (a short calibration run each, both at once when runs go in pairs, the first
   steps discarded) and give each ``floor(T / step time)`` iterations (rounded down to a
   multiple of 8), so both pre-train for the same wall-clock T;
3. pre-train both with every seed (one seed: the same data order and crops in both arms),
   keeping the weights after 1/8, 1/4, 1/2 and all of T;
4. probe every checkpoint and the random initialization of every seed
   (:mod:`.probe`: frozen features, a logistic regression with C chosen on val, and kNN);
5. summarize: per arm mean, std and every seed; the time GreenMIM needs to reach SimMIM's
   accuracy at T (:func:`time_to_accuracy`).

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
from fractions import Fraction
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

from ..mim_files import config_path, tool_path
from .data_layout import check_data_layout

ARMS = ('random', 'greenmim', 'simmim')
PRETRAINED = ('greenmim', 'simmim')
PRETRAIN_CONFIGS = {  # relative to configs/ (greenmim_mm.mim_files.config_path)
    'greenmim': 'pretrain_gain/greenmim_swin-nano_32px_pretrain.py',
    'simmim': 'pretrain_gain/simmim_swin-nano_32px_pretrain.py',
}
PROBE_CONFIG = 'pretrain_gain/swin-nano_32px_probe.py'
CRITERION_FRACTION = 0.6  # GreenMIM should reach SimMIM's accuracy at T within 0.6 T


@dataclass
class GainSettings:
    """What the experiment runs; the defaults are those of ``make gain``.

    Attributes:
        budget_s (float): Pre-training wall-clock budget T per run, in seconds.
        seeds (list[int]): Seeds: one pre-training run per pre-trained arm and seed, one
            random initialization per seed.
        fractions (list[float]): Fractions of T whose weights are probed (the last is 1).
        num_unlabeled (int): Generated unlabeled images (not used with a user's folder).
        train_per_class (int): Generated labeled training images per class.
        val_per_class (int): Generated validation images per class.
        test_per_class (int): Generated test images per class.
        data_seed (int): The glyph generator's seed.
        palette (str): The glyphs' colours (``'ink'`` or ``'colour'``, see
            :func:`~greenmim_mm.datasets.glyph_data.sample_colours`).
        fonts (list[str], optional): Font file name prefixes of the glyphs; None: every text
            font matplotlib ships.
        calib_iters (int): Iterations of each step-time calibration run.
        calib_skip (int): Leading calibration iterations left out of the step time.
        batch_size (int, optional): Pre-training batch (both arms); None keeps the configs'.
        parallel (int): Pre-training runs at once (1 or 2): with 2, GreenMIM and SimMIM of
            one seed run side by side, and so do their calibrations (a pilot's runs go one
            at a time).
        threads (int): Intra-op threads of each run (``OMP_NUM_THREADS``).
        min_pretrain_iters (int): Fewest pre-training iterations a run gets.
        pilot (bool): GreenMIM against random init only, reported on val (test is not
            read): the quick check that decides whether the full run is worth it.
    """
    budget_s: float = 400.0
    seeds: List[int] = field(default_factory=lambda: [0, 1, 2])
    fractions: List[float] = field(default_factory=lambda: [0.125, 0.25, 0.5, 1.0])
    num_unlabeled: int = 20000
    train_per_class: int = 10
    val_per_class: int = 50
    test_per_class: int = 100
    data_seed: int = 0
    palette: str = 'ink'
    fonts: Optional[List[str]] = field(default_factory=lambda: ['DejaVuSans'])
    calib_iters: int = 40
    calib_skip: int = 10
    batch_size: Optional[int] = None
    parallel: int = 2
    threads: int = 1
    min_pretrain_iters: int = 8
    pilot: bool = False


def tiny_settings() -> GainSettings:
    """A few iterations per run, one seed, tiny data: the plumbing check ``make test`` runs."""
    return GainSettings(
        budget_s=1.0,
        seeds=[0],
        num_unlabeled=16,
        train_per_class=2,
        val_per_class=1,
        test_per_class=1,
        calib_iters=3,
        calib_skip=1,
        batch_size=4)


# ----------------------------------------------------------------------------- configs


def write_config(path: str, base: str, body: str) -> str:
    """Write a config that inherits ``base`` (absolute path) and overrides ``body``."""
    os.makedirs(osp.dirname(path), exist_ok=True)
    with open(path, 'w') as f:
        f.write(f'_base_ = [{base!r}]\n\n{body}')
    return path


def checkpoint_iters(iters: int, fractions: Sequence[float]) -> List[int]:
    """The iteration of each fraction of a run of ``iters`` iterations (rounded)."""
    return [max(1, int(round(f * iters))) for f in fractions]


def schedule_unit(fractions: Sequence[float]) -> int:
    """The least common denominator of the fractions: runs last a multiple of it."""
    unit = 1
    for f in fractions:
        den = Fraction(f).limit_denominator(1000).denominator
        unit = unit * den // math.gcd(unit, den)
    return unit


def log_interval_for(interval: int, most: int = 50) -> int:
    """The largest divisor of ``interval`` up to ``most``: logging then falls on every
    checkpoint, so the logged times add up to each checkpoint's elapsed time."""
    return max(d for d in range(1, min(most, interval) + 1) if interval % d == 0)


def pretrain_config(path: str, base: str, data_root: str, iters: int, seed: int,
                    settings: GainSettings, save_every: int) -> str:
    """A pre-training config of ``iters`` iterations: warm-up then cosine to the last one,
    weights saved every ``save_every`` iterations.

    Args:
        path (str): The config file to write.
        base (str): The repository config it inherits.
        data_root (str): The data folder (``unlabeled/`` is read).
        iters (int): Iterations.
        seed (int): ``randomness.seed``: data order, crops, masks and initialization.
        settings (GainSettings): Batch size.
        save_every (int): Checkpoint interval in iterations.

    Returns:
        str: ``path``.
    """
    warmup = max(1, min(50, iters // 10))
    log_interval = log_interval_for(save_every)
    batch = '' if settings.batch_size is None else f', batch_size={settings.batch_size}'
    body = (
        f'train_dataloader = dict(dataset=dict(data_root={data_root + "/"!r}){batch})\n'
        f'train_cfg = dict(max_iters={iters})\n'
        'param_scheduler = [\n'
        f'    dict(type="LinearLR", start_factor=1e-2, by_epoch=False, begin=0, end={warmup}),\n'
        f'    dict(type="CosineAnnealingLR", eta_min=1e-5, by_epoch=False, begin={warmup},\n'
        f'         end={max(iters, warmup + 1)})\n'
        ']\n'
        'default_hooks = dict(\n'
        f'    logger=dict(interval={log_interval}),\n'
        f'    checkpoint=dict(interval={save_every}, max_keep_ckpts=-1, save_last=True))\n'
        # each logged time is the mean of the last `log_interval` iterations
        f'log_processor = dict(window_size={log_interval})\n'
        f'randomness = dict(seed={seed})\n')
    return write_config(path, base, body)


# ----------------------------------------------------------------------------- runs


def launch(config: str, work_dir: str, threads: int) -> Tuple[subprocess.Popen, str]:
    """Start ``tools/train.py config --work-dir work_dir --no-validate`` in its own process.

    Returns:
        tuple: The process and the path of its log (stdout and stderr).
    """
    os.makedirs(work_dir, exist_ok=True)
    log = osp.join(work_dir, 'train_stdout.log')
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads))
    with open(log, 'w') as out:
        proc = subprocess.Popen([
            sys.executable,
            tool_path('train.py'), config, '--work-dir', work_dir, '--no-validate'
        ],
                                env=env,
                                stdout=out,
                                stderr=subprocess.STDOUT)
    return proc, log


def run_all(jobs: Sequence[Tuple[str, str]], threads: int, parallel: int) -> List[float]:
    """Train ``(config, work_dir)`` jobs, ``parallel`` at a time; returns each one's wall
    time in seconds.

    Raises:
        RuntimeError: If a run fails, with the end of its log.
    """
    walls = [0.0] * len(jobs)
    for start in range(0, len(jobs), parallel):
        group = list(range(start, min(start + parallel, len(jobs))))
        t0 = time.perf_counter()
        running = [(i, *launch(*jobs[i], threads)) for i in group]
        for i, proc, log in running:
            rc = proc.wait()
            walls[i] = time.perf_counter() - t0
            if rc != 0:
                with open(log) as f:
                    tail = f.read()[-3000:]
                raise RuntimeError(f'training {jobs[i][0]} failed (exit {rc}); the end of '
                                   f'{log}:\n{tail}')
    return walls


def read_scalars(work_dir: str) -> List[dict]:
    """The training log records (``vis_data/scalars.json``) of the latest run in a work dir."""
    files = sorted(glob.glob(osp.join(work_dir, '*', 'vis_data', 'scalars.json')))
    if not files:
        raise FileNotFoundError(f'no vis_data/scalars.json under {work_dir}')
    with open(files[-1]) as f:
        return [json.loads(line) for line in f if line.strip()]


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


def elapsed_at(records: Sequence[dict], iters: Sequence[int]) -> List[float]:
    """Training-loop seconds up to each iteration of ``iters``, from the logged times.

    Every record's ``time`` is the mean of the iterations since the previous record (the
    log interval is the window), so the sum of ``time * (iter - previous iter)`` up to an
    iteration is the time the loop took to reach it.
    """
    timed = sorted((r['iter'], r['time']) for r in records if 'time' in r)
    out = []
    for target in iters:
        total, prev = 0.0, 0
        for it, t in timed:
            if it > target:
                break
            total += t * (it - prev)
            prev = it
        out.append(total)
    return out


# ----------------------------------------------------------------------------- data


def generated_data(data_root: str, settings: GainSettings) -> str:
    """Render the glyphs into ``data_root`` unless the same set is there; returns it."""
    from ..datasets.glyph_data import COUNT_ARGS, generate
    spec = dict(
        seed=settings.data_seed,
        **{name: getattr(settings, name)
           for name in COUNT_ARGS},
        palette=settings.palette,
        fonts=settings.fonts)
    stamp = osp.join(data_root, 'gain_data.json')
    if osp.exists(stamp):
        with open(stamp) as f:
            if json.load(f) == spec:
                return data_root
    generate(data_root, **spec)
    with open(stamp, 'w') as f:
        json.dump(spec, f)
    return data_root


# ----------------------------------------------------------------------------- experiment


def run_experiment(work_dir: str,
                   data_root: str,
                   settings: GainSettings,
                   user_data: bool = False) -> dict:
    """Run every arm and seed; returns the results (see :func:`summarize`).

    Args:
        work_dir (str): Where every run's config, logs and checkpoints go.
        data_root (str): The data folder: generated there, or the user's (``user_data``).
        settings (GainSettings): Sizes, budget and seeds.
        user_data (bool): ``data_root`` is the user's folder: checked, never written.
            Defaults to False.

    Returns:
        dict: ``settings``, ``machine``, ``date``, ``data`` (source, classes, image counts),
        ``calibration`` (step time per arm), ``pretrain`` (per arm, one entry per seed:
        iterations, wall time, median logged step, last loss, checkpoints with their
        iteration and elapsed seconds), ``probe`` (per arm, one entry per seed and fraction:
        the logistic-regression and kNN accuracies), ``summary`` (:func:`summarize`, for the
        logistic regression and the kNN) and ``total_s``.
    """
    from .probe import load_probe_config, probe_checkpoint, require_sklearn
    require_sklearn()  # fail before any training
    start = time.perf_counter()
    work_dir, data_root = osp.abspath(work_dir), osp.abspath(data_root)
    if not user_data:
        generated_data(data_root, settings)
    data = check_data_layout(data_root, min_unlabeled=1)
    data['source'] = data_root if user_data else 'generated glyphs'
    cfg_dir = osp.join(work_dir, 'configs')
    arms = ('greenmim', ) if settings.pilot else PRETRAINED
    results = dict(
        settings=asdict(settings),
        machine=machine(settings),
        date=time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime()),
        data=data)

    # step times, measured the way the runs will go: the arms side by side when parallel
    # (a pilot's one arm runs alone)
    parallel = min(settings.parallel, len(arms))
    calib_jobs = []
    for arm in arms:
        cfg = pretrain_config(
            osp.join(cfg_dir, f'calibrate_{arm}.py'), config_path(PRETRAIN_CONFIGS[arm]), data_root,
            settings.calib_iters, settings.seeds[0], settings, settings.calib_iters)
        calib_jobs.append((cfg, osp.join(work_dir, f'calibrate_{arm}')))
    run_all(calib_jobs, settings.threads, parallel)
    calibration = {
        arm: dict(step_s=measured_step_time(read_scalars(job[1]), settings.calib_skip))
        for arm, job in zip(arms, calib_jobs)
    }
    unit = schedule_unit(settings.fractions)
    for arm in arms:
        per_unit = int(math.floor(settings.budget_s / calibration[arm]['step_s'] / unit))
        calibration[arm]['iters'] = max(settings.min_pretrain_iters, unit * per_unit)
    results['calibration'] = calibration

    # pre-training: for each seed, the arms side by side
    jobs, meta = [], []
    for seed in settings.seeds:
        for arm in arms:
            iters = calibration[arm]['iters']
            name = f'pretrain_{arm}_seed{seed}'
            cfg = pretrain_config(
                osp.join(cfg_dir, f'{name}.py'), config_path(PRETRAIN_CONFIGS[arm]), data_root,
                iters, seed, settings, max(1, iters // unit))
            jobs.append((cfg, osp.join(work_dir, name)))
            meta.append((arm, seed, iters))
    walls = run_all(jobs, settings.threads, parallel)
    pretrain: Dict[str, List[dict]] = {arm: [] for arm in arms}
    for (arm, seed, iters), (_, run_dir), wall in zip(meta, jobs, walls):
        records = read_scalars(run_dir)
        losses = [r for r in records if 'loss' in r]
        at = checkpoint_iters(iters, settings.fractions)
        pretrain[arm].append(
            dict(
                seed=seed,
                iters=iters,
                wall_s=wall,
                run_step_s=float(np.median([r['time'] for r in losses])),
                last_loss=losses[-1]['loss'],
                checkpoints=[
                    dict(
                        fraction=f, iter=it, elapsed_s=e, path=osp.join(run_dir, f'iter_{it}.pth'))
                    for f, it, e in zip(settings.fractions, at, elapsed_at(records, at))
                ]))
    results['pretrain'] = pretrain

    # probes: random init of every seed, every checkpoint of every run (one process, with
    # the runs' threads)
    import torch
    torch.set_num_threads(settings.threads)
    probe_cfg = load_probe_config(config_path(PROBE_CONFIG), data_root)
    test = not settings.pilot
    probes: Dict[str, List[dict]] = {'random': []}
    for seed in settings.seeds:
        probes['random'].append(
            dict(seed=seed, **probe_checkpoint(probe_cfg, data_root, None, seed, test)))
    for arm in arms:
        probes[arm] = []
        for run in pretrain[arm]:
            for ck in run['checkpoints']:
                probes[arm].append(
                    dict(
                        seed=run['seed'],
                        fraction=ck['fraction'],
                        iter=ck['iter'],
                        elapsed_s=ck['elapsed_s'],
                        **probe_checkpoint(probe_cfg, data_root, ck['path'], run['seed'], test)))
    results['probe'] = probes
    split = 'val' if settings.pilot else 'test'
    results['summary'] = {
        probe: summarize(probes, pretrain, settings, probe=probe, split=split)
        for probe in ('lr', 'knn')
    }
    results['total_s'] = time.perf_counter() - start
    results['load_average_end'] = list(os.getloadavg()) if hasattr(os, 'getloadavg') else None
    return results


# ----------------------------------------------------------------------------- summary


def stats(values: Sequence[float]) -> dict:
    """Mean, sample std (ddof 1; 0 for one value) and the values."""
    values = [float(v) for v in values]
    return dict(
        mean=float(np.mean(values)),
        std=float(np.std(values, ddof=1)) if len(values) > 1 else 0.0,
        values=values)


def time_to_accuracy(xs: Sequence[float], ys: Sequence[float], target: float) -> Optional[float]:
    """Where a curve first reaches ``target``, by linear interpolation between its points.

    Args:
        xs (Sequence[float]): Increasing positions (fractions of T).
        ys (Sequence[float]): The curve's values there.
        target (float): The value to reach.

    Returns:
        float | None: The first x at which the piecewise-linear curve reaches ``target``;
        None if it never does.
    """
    if ys[0] >= target:
        return float(xs[0])
    for (x0, y0), (x1, y1) in zip(zip(xs, ys), zip(xs[1:], ys[1:])):
        if y1 >= target:
            return float(x0 + (target - y0) / (y1 - y0) * (x1 - x0))
    return None


def summarize(probes: Dict[str, List[dict]],
              pretrain: Dict[str, List[dict]],
              settings: GainSettings,
              probe: str = 'lr',
              split: str = 'test') -> dict:
    """Per-arm statistics, the accuracy-over-time curves and the criteria.

    Args:
        probes (dict): ``results['probe']`` of :func:`run_experiment`.
        pretrain (dict): ``results['pretrain']``.
        settings (GainSettings): The budget and fractions.
        probe (str): ``'lr'`` (logistic regression) or ``'knn'``. Defaults to ``'lr'``.
        split (str): The reported split. Defaults to ``'test'`` (``'val'`` in a pilot).

    Returns:
        dict: ``arms``: random init and each pre-trained arm at T (``mean``, ``std`` (ddof
        1), ``values`` per seed, ``val_mean``); ``curves``: per pre-trained arm and
        fraction of T, its statistics, ``iters`` and ``seconds`` (mean elapsed training
        time at that checkpoint); ``pooled_std`` of random init and GreenMIM at T
        (``sqrt((std_r**2 + std_g**2) / 2)``); ``gain`` (GreenMIM minus random, means);
        ``beats_random`` (gain > 2 pooled std). With SimMIM: ``greenmim_ge_simmim`` (means
        at T); ``time_to_simmim`` (the fraction of T at which GreenMIM's mean curve,
        starting from random init at 0, reaches SimMIM's mean at T; None if it does not);
        ``reaches_within`` (that fraction <= 0.6); ``greenmim_at_simmim_iters`` (GreenMIM's
        mean curve at SimMIM's iteration count: the recipe without the extra steps);
        ``resolved`` (all three criteria).
    """
    fractions = list(settings.fractions)
    random = probes['random']
    out = dict(probe=probe, split=split, arms={}, curves={})
    out['arms']['random'] = dict(
        stats([p[probe][split] for p in random]),
        val_mean=float(np.mean([p[probe]['val'] for p in random])))
    for arm in pretrain:
        curve = []
        for f in fractions:
            entries = [p for p in probes[arm] if p['fraction'] == f]
            curve.append(
                dict(
                    fraction=f,
                    iters=int(entries[0]['iter']),
                    seconds=float(np.mean([p['elapsed_s'] for p in entries])),
                    val_mean=float(np.mean([p[probe]['val'] for p in entries])),
                    **stats([p[probe][split] for p in entries])))
        out['curves'][arm] = curve
        last = curve[-1]
        out['arms'][arm] = dict(
            mean=last['mean'], std=last['std'], values=last['values'], val_mean=last['val_mean'])
    r, g = out['arms']['random'], out['arms']['greenmim']
    out['pooled_std'] = math.sqrt((r['std']**2 + g['std']**2) / 2)
    out['gain'] = g['mean'] - r['mean']
    out['beats_random'] = bool(out['gain'] > 2 * out['pooled_std'])
    if 'simmim' in pretrain:
        s = out['arms']['simmim']
        green = out['curves']['greenmim']
        xs = [0.0] + fractions
        ys = [r['mean']] + [c['mean'] for c in green]
        out['greenmim_ge_simmim'] = bool(g['mean'] >= s['mean'])
        out['time_to_simmim'] = time_to_accuracy(xs, ys, s['mean'])
        out['reaches_within'] = bool(out['time_to_simmim'] is not None
                                     and out['time_to_simmim'] <= CRITERION_FRACTION)
        simmim_iters = out['curves']['simmim'][-1]['iters']
        out['greenmim_at_simmim_iters'] = float(
            np.interp(simmim_iters, [0] + [c['iters'] for c in green], ys))
        out['resolved'] = bool(out['beats_random'] and out['greenmim_ge_simmim']
                               and out['reaches_within'])
    return out


def machine(settings: GainSettings) -> dict:
    """The machine the run measured: processor, cores, threads per run, versions."""
    import torch
    cpu = platform.processor() or None
    try:
        with open('/proc/cpuinfo') as f:
            names = [line.split(':', 1)[1].strip() for line in f if line.startswith('model name')]
        cpu = names[0] if names else cpu
    except OSError:
        pass
    return dict(
        platform=platform.platform(),
        processor=cpu,
        cpu_count=os.cpu_count(),
        threads_per_run=settings.threads,
        runs_at_once=min(settings.parallel, 1 if settings.pilot else 2),
        torch=torch.__version__,
        python=platform.python_version(),
        load_average=list(os.getloadavg()) if hasattr(os, 'getloadavg') else None)
