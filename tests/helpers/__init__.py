"""Helpers shared by the test modules: the checkout's tools, random weights and masks, tiny
models, generated images, a loss recorder, a free port.

Test modules import from here (or take the fixtures of ``tests/conftest.py``), never from
another test module.
"""
import copy
import importlib.util
import os
import os.path as osp
import socket
import subprocess
import sys
from types import ModuleType
from typing import List, Optional, Sequence

import cv2
import numpy as np
import torch
from mmengine.hooks import Hook

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
TOOLS_DIR = osp.join(REPO_ROOT, 'tools')

# Script name -> its path under tools/, laid out as in mmpretrain and mmdet.
TOOL_PATHS = {
    'train': 'train.py',
    'test': 'test.py',
    'dist_train': 'dist_train.sh',
    'dist_test': 'dist_test.sh',
    'benchmark': 'analysis_tools/benchmark.py',
    'gpu_check': 'analysis_tools/gpu_check.py',
    'pretrain_gain': 'analysis_tools/pretrain_gain.py',
    'convert_checkpoint': 'model_converters/convert_checkpoint.py',
    'make_demo_data': 'dataset_converters/make_demo_data.py',
    'make_glyph_data': 'dataset_converters/make_glyph_data.py',
    'visualize_reconstruction': 'visualization/visualize_reconstruction.py',
}


def tool_path(name: str) -> str:
    """Absolute path of a script in tools/.

    Args:
        name (str): A key of :data:`TOOL_PATHS` (``'train'``, ``'benchmark'``, ...).

    Returns:
        str: The script's path.
    """
    return osp.join(TOOLS_DIR, TOOL_PATHS[name])


def load_tool(name: str) -> ModuleType:
    """Import a script of tools/ as a module (tools/ is not a package); ``main`` is not run.

    Args:
        name (str): A key of :data:`TOOL_PATHS` naming a Python script.

    Returns:
        ModuleType: The imported script.
    """
    spec = importlib.util.spec_from_file_location(f'greenmim_tools_{name}', tool_path(name))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago (torchrun rendezvous, tcp:// init)."""
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def randomize_weights(module: torch.nn.Module,
                      seed: int = 0,
                      weight_std: Optional[float] = None) -> torch.nn.Module:
    """Overwrite every parameter with seeded random values, in place.

    Weights large enough that a wrong permutation, position table, layout or a leaking mask
    shows, small enough that activations stay of order one (and a model still trains):
    relative position bias tables ~ N(0, 1); norm weights (``norm``/``.ln`` in the name)
    ~ 1 + 0.3 N(0, 1), so that no norm is the identity; biases and mask tokens
    ~ 0.1 N(0, 1); every other tensor ``p`` ~ N(0, 1) / sqrt(fan-in), with fan-in
    ``p[0].numel()``, or N(0, weight_std).

    Args:
        module (torch.nn.Module): The module to randomise.
        seed (int): Seed of the generator. Defaults to 0.
        weight_std (float, optional): Standard deviation of the weight tensors instead of
            1 / sqrt(fan-in), e.g. 0.02 (a ViT's init) for gradients of order one in float32
            comparisons with element-wise tolerances.

    Returns:
        torch.nn.Module: ``module``.
    """
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in module.named_parameters():
            noise = torch.randn(p.shape, generator=gen).to(p.dtype)
            if 'relative_position_bias_table' in name:
                p.copy_(noise)
            elif ('norm' in name or '.ln' in name) and name.endswith('weight'):
                p.copy_(1 + 0.3 * noise)
            elif name.endswith('bias') or name.endswith('mask_token'):
                p.copy_(0.1 * noise)
            elif weight_std is None:
                p.copy_(noise / p[0].numel()**0.5)
            else:
                p.copy_(weight_std * noise)
    return module


def random_mask(batch: int,
                hu: int,
                wu: int,
                ratio: Optional[float] = None,
                per_sample: bool = True,
                seed: int = 0,
                num_visible: Optional[int] = None) -> torch.Tensor:
    """A seeded random unit mask with the same number of visible units in every sample.

    Unlike :func:`greenmim_mm.models.utils.masking.random_unit_mask`, ``ratio`` may be 0
    (nothing masked) and the count may be given directly, for edge cases.

    Args:
        batch (int): Number of samples ``B``.
        hu (int): Unit rows.
        wu (int): Unit columns.
        ratio (float, optional): Fraction of units masked, ``round(hu * wu * ratio)`` of them.
        per_sample (bool): A new draw per sample; False repeats the first sample's mask.
            Defaults to True.
        seed (int): Seed of the generator. Defaults to 0.
        num_visible (int, optional): Visible units per sample, instead of ``ratio``.

    Returns:
        torch.Tensor: ``(B, hu, wu)`` bool, True = masked.
    """
    if (ratio is None) == (num_visible is None):
        raise ValueError('give exactly one of ratio and num_visible')
    n = hu * wu
    keep = n - int(round(n * ratio)) if num_visible is None else num_visible
    gen = torch.Generator().manual_seed(seed)
    rows = []
    for b in range(batch):
        if b == 0 or per_sample:
            order = torch.randperm(n, generator=gen)
            row = torch.ones(n, dtype=torch.bool)
            row[order[:keep]] = False
        rows.append(row)
    return torch.stack(rows).view(batch, hu, wu)


def tiny_greenmim_cfg(backbone: Optional[dict] = None,
                      neck: Optional[dict] = None,
                      head: Optional[dict] = None,
                      **kwargs) -> dict:
    """A GreenMIM config with a tiny Swin (embed 16, one block per stage, window 3) for 96 px
    images: a 3x3 grid of 32-px units, 4 of them visible (mask ratio 0.5).

    Args:
        backbone (dict, optional): Updates of the backbone config.
        neck (dict, optional): Updates of the neck config.
        head (dict, optional): Updates of the head config.
        **kwargs: Updates of the algorithm config.

    Returns:
        dict: The config, for ``mmpretrain.registry.MODELS.build``.
    """
    cfg = dict(
        type='GreenMIM',
        backbone=dict(
            type='GreenMIMSwinTransformer',
            arch=dict(embed_dims=16, depths=[1, 1, 1, 1], num_heads=[1, 1, 2, 2]),
            img_size=96,
            window_size=3,
            drop_path_rate=0.,
            out_indices=(3, )),
        neck=dict(
            type='GreenMIMPretrainDecoder',
            embed_dim=128,
            decoder_embed_dim=32,
            decoder_num_heads=2),
        head=dict(type='GreenMIMPretrainHead'),
        mask_ratio=0.5)
    cfg['backbone'].update(backbone or {})
    cfg['neck'].update(neck or {})
    cfg['head'].update(head or {})
    cfg.update(kwargs)
    return cfg


def write_images(folder: str, num: int, size: int = 192, seed: int = 0) -> None:
    """Write ``num`` JPEGs of random shapes on smooth colour gradients under ``folder``.

    Args:
        folder (str): Created if missing.
        num (int): Number of images, named ``0000.jpg``, ``0001.jpg``, ...
        size (int): Side in pixels (more than 40). Defaults to 192.
        seed (int): Seed of the shapes and colours. Defaults to 0.
    """
    rng = np.random.default_rng(seed)
    os.makedirs(folder, exist_ok=True)
    yy, xx = np.mgrid[0:size, 0:size] / size
    for i in range(num):
        c0, c1 = rng.integers(0, 256, (2, 3))
        img = (c0 * (1 - xx[..., None]) * yy[..., None] + c1 * xx[..., None]).astype(np.uint8)
        for _ in range(rng.integers(1, 5)):
            color = tuple(int(v) for v in rng.integers(0, 256, 3))
            center = tuple(int(v) for v in rng.integers(20, size - 20, 2))
            if rng.random() < 0.5:
                cv2.circle(img, center, int(rng.integers(10, 50)), color, -1)
            else:
                half = rng.integers(10, 50, 2)
                cv2.rectangle(img, (center[0] - half[0], center[1] - half[1]),
                              (center[0] + half[0], center[1] + half[1]), color, -1)
        cv2.imwrite(osp.join(folder, f'{i:04d}.jpg'), img)


def write_labeled_folder(root: str,
                         classes=('cat', 'dog'),
                         per_split: Optional[dict] = None,
                         size=(40, 30)) -> str:
    """A data folder in the pretraining-gain layout with small flat-colour images.

    Three unlabeled PNGs under ``root/unlabeled/a/`` and two JPEGs per class in each of
    ``train``, ``val`` and ``test`` (``per_split`` may give a split other classes).

    Args:
        root (str): The folder (created).
        classes (Sequence[str]): Class folder names. Defaults to ``('cat', 'dog')``.
        per_split (dict, optional): Split name -> its classes, instead of ``classes``.
        size (tuple[int, int]): (width, height) of the images. Defaults to (40, 30).

    Returns:
        str: ``root``.
    """
    from PIL import Image
    rng = np.random.default_rng(0)

    def write(path):
        os.makedirs(osp.dirname(path), exist_ok=True)
        colour = rng.integers(0, 256, 3).astype(np.uint8)
        Image.fromarray(np.tile(colour, (size[1], size[0], 1))).save(path)

    for i in range(3):
        write(osp.join(root, 'unlabeled', 'a', f'{i}.png'))
    for split in ('train', 'val', 'test'):
        for c in (per_split or {}).get(split, classes):
            for i in range(2):
                write(osp.join(root, split, c, f'{i}.jpg'))
    return root


def fake_gain_probes(random: List[float], green: dict, sim: dict,
                     fractions: tuple = (0.5, 1.0)) -> tuple:
    """Probe and pre-training entries of a pretraining-gain run with given accuracies.

    Args:
        random (list[float]): Random init's accuracy per seed.
        green (dict): Fraction of T -> GreenMIM's accuracy per seed (800 iterations at T).
        sim (dict): The same for SimMIM (400 iterations at T).
        fractions (tuple[float]): The fractions. Defaults to (0.5, 1.0).

    Returns:
        tuple: ``(probes, pretrain, settings)`` for
        :func:`greenmim_mm.experiments.pretrain_gain.summarize`; every accuracy is both the
        val and the test accuracy of the LR probe and the kNN; checkpoint ``f`` took
        ``100 * f`` seconds.
    """
    from greenmim_mm.experiments.pretrain_gain import GainSettings

    def entry(seed, acc, **kw):
        return dict(seed=seed, lr=dict(val=acc, test=acc), knn=dict(val=acc, test=acc), **kw)

    probes = dict(random=[entry(s, a) for s, a in enumerate(random)])
    pretrain = {}
    for arm, curve, iters in (('greenmim', green, 800), ('simmim', sim, 400)):
        probes[arm] = [
            entry(s, a, fraction=f, iter=int(f * iters), elapsed_s=100 * f) for f in fractions
            for s, a in enumerate(curve[f])
        ]
        pretrain[arm] = [dict(seed=s) for s in range(len(random))]
    return probes, pretrain, GainSettings(fractions=list(fractions))


def fake_gain_results() -> dict:
    """A whole ``pretraining_gain.json`` of 3 seeds, T = 100 s, from :func:`fake_gain_probes`:
    random init 0.40-0.42, GreenMIM 0.50-0.52 at T/2 and 0.54-0.56 at T, SimMIM 0.44-0.46 and
    0.48-0.50 (test and val, LR probe and kNN alike); calibrated steps 0.125 and 0.25 s."""
    from dataclasses import asdict

    from greenmim_mm.experiments.pretrain_gain import summarize
    probes, pretrain, settings = fake_gain_probes(
        random=[0.40, 0.41, 0.42],
        green={
            0.5: [0.50, 0.51, 0.52],
            1.0: [0.54, 0.55, 0.56]
        },
        sim={
            0.5: [0.44, 0.45, 0.46],
            1.0: [0.48, 0.49, 0.50]
        })
    settings.budget_s = 100.0
    settings.seeds = [0, 1, 2]
    return dict(
        settings=asdict(settings),
        machine=dict(
            platform='Linux',
            processor='a CPU',
            cpu_count=2,
            threads_per_run=1,
            runs_at_once=2,
            torch='2.x'),
        date='2026-01-01 00:00 UTC',
        data=dict(train=100),
        calibration=dict(greenmim=dict(step_s=0.125), simmim=dict(step_s=0.25)),
        probe=probes,
        summary={p: summarize(probes, pretrain, settings, probe=p)
                 for p in ('lr', 'knn')},
        total_s=600.0)


class LossRecorder(Hook):
    """Append every training iteration's loss to ``losses``.

    Args:
        losses (list): The list to append to.
    """

    def __init__(self, losses: List[float]) -> None:
        self.losses = losses

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None) -> None:
        self.losses.append(float(outputs['loss']))


def demo_training_losses(config: str, root: str, batch_size: int, max_iters: int) -> List[float]:
    """Train a demo pre-training config on 64 generated images; every iteration's loss.

    Data load in the main process, no checkpoints but the last, no picture hook.

    Args:
        config (str): Path of the config (``configs/demo/*_pretrain.py``).
        root (str): An empty folder for the images (``root/demo/pretrain``) and the work dir.
        batch_size (int): Images per iteration.
        max_iters (int): Iterations.

    Returns:
        list[float]: The losses, one per iteration.
    """
    import uuid

    from mmengine.config import Config
    from mmengine.runner import Runner
    write_images(osp.join(root, 'demo', 'pretrain'), 64)
    cfg = Config.fromfile(config)
    cfg.work_dir = osp.join(root, 'work')
    cfg.experiment_name = f'test_{uuid.uuid4().hex}'  # one visualizer/logger per runner
    cfg.train_dataloader.dataset.data_root = osp.join(root, 'demo')
    cfg.train_dataloader.num_workers = 0
    cfg.train_dataloader.persistent_workers = False
    cfg.train_dataloader.batch_size = batch_size
    cfg.log_level = 'WARNING'
    cfg.train_cfg.max_iters = max_iters
    cfg.default_hooks.checkpoint.interval = max_iters
    cfg.custom_hooks = []
    runner = Runner.from_cfg(cfg)
    losses = []
    runner.register_hook(LossRecorder(losses), priority='LOWEST')
    runner.train()
    return losses


def weight_decay_of_parameters(cfg, model: torch.nn.Module) -> dict:
    """The weight decay that a config's optimizer wrapper gives each parameter.

    Args:
        cfg (mmengine.Config): A config with ``optim_wrapper``.
        model (torch.nn.Module): The model built from it.

    Returns:
        dict: ``id(parameter)`` -> weight decay.
    """
    from mmengine.optim import build_optim_wrapper
    optim = build_optim_wrapper(model, copy.deepcopy(cfg.optim_wrapper))
    return {id(p): g['weight_decay'] for g in optim.optimizer.param_groups for p in g['params']}


def run_tool(args: List[str],
             cwd: str,
             timeout: int = 300,
             check: bool = True,
             without: Sequence[str] = (),
             **env: str) -> subprocess.CompletedProcess:
    """The suite's one subprocess runner: stdout and stderr merged, unbuffered.

    Args:
        args (list[str]): The command (``sys.executable`` first for a Python script).
        cwd (str): Its working directory.
        timeout (int): Seconds before it is killed. Defaults to 300.
        check (bool): Fail the test, with the output's tail, on a non-zero exit.
            Defaults to True.
        without (Sequence[str]): Environment variables to drop, e.g. ``('PYTHONPATH', )`` so
            that nothing of the checkout is on the path but the installed package.
        **env (str): Extra environment variables. The suite's ``OMP_NUM_THREADS``
            (tests/conftest.py) is inherited.

    Returns:
        subprocess.CompletedProcess: With ``stdout`` (both streams).
    """
    full_env = dict(os.environ, PYTHON=sys.executable, PYTHONUNBUFFERED='1')
    full_env.update(env)
    for name in without:
        full_env.pop(name, None)
    proc = subprocess.run([str(a) for a in args],
                          cwd=str(cwd),
                          env=full_env,
                          stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT,
                          text=True,
                          timeout=timeout)
    if check and proc.returncode != 0:
        import pytest
        pytest.fail(f'{args} exited with {proc.returncode}:\n{proc.stdout[-5000:]}')
    return proc
