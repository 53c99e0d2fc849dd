"""The contenders of the benchmark: building them from configs, their batches, one step."""
import argparse
import copy
import time
from typing import Optional, Tuple

import torch


def prepare_process(args: argparse.Namespace) -> None:
    """What every benchmark process does first: threads, registries, quiet logging."""
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.device == 'cuda' and not torch.cuda.is_available():
        raise SystemExit('--device cuda: no CUDA device is visible to torch')
    from mmengine.logging import MMLogger
    from mmengine.registry import init_default_scope

    import greenmim_mm  # noqa: F401  registers GreenMIM in mmpretrain's registries
    init_default_scope('mmpretrain')
    # the optimizer constructor logs one line per parameter group
    MMLogger.get_instance('mmengine', log_level='WARNING').setLevel('WARNING')


def load_config(args: argparse.Namespace, name: str, img: int, ratio: float):
    """The model and optimizer config of one contender, adapted to the measured case.

    Args:
        args (argparse.Namespace): The benchmark's arguments.
        name (str): ``'greenmim'`` or ``'simmim'`` (the baseline).
        img (int): Input size.
        ratio (float): GreenMIM's mask ratio.

    Returns:
        mmengine.Config: The contender's config.
    """
    from mmengine.config import Config

    from .options import arch_spec

    cfg = Config.fromfile(getattr(args, f'{name}_config'))
    model = cfg.model
    if args.model == 'swin':  # Twins has no fixed input size
        model.backbone.img_size = img
    if args.arch is not None:
        spec = arch_spec(args.arch)
        model.backbone.arch = spec
        final_dims = spec['embed_dims'] * 8
        if name == 'greenmim':
            model.neck.embed_dim = final_dims
        else:
            model.neck.in_channels = final_dims
    if name == 'greenmim':
        model.mask_ratio = ratio
    elif args.baseline_fused_adamw:
        cfg.optim_wrapper.optimizer.fused = True
    return cfg


def build_contender(name: str, cfg, device: str, amp_dtype: Optional[str]) -> Tuple:
    """(model, optim_wrapper) in training mode on ``device``; ``amp_dtype`` None: float32."""
    from mmengine.optim import build_optim_wrapper
    from mmpretrain.registry import MODELS

    model = MODELS.build(copy.deepcopy(cfg.model)).to(device)
    model.train()
    ow_cfg = copy.deepcopy(cfg.optim_wrapper)
    if amp_dtype is not None:
        # The same wrapper for both models (SimMIM's config asks for AmpOptimWrapper with a
        # static loss scale; on CUDA both get dynamic scaling, as tools/train.py --amp).
        ow_cfg.dtype = amp_dtype
        if device == 'cuda':
            ow_cfg.type = 'NonFiniteSkipAmpOptimWrapper'
            ow_cfg.loss_scale = 'dynamic'
        else:
            ow_cfg.type = 'NonFiniteSkipCpuAmpOptimWrapper'
            ow_cfg.pop('loss_scale', None)
    else:
        ow_cfg.type = 'OptimWrapper'  # SimMIM's config asks for AMP, a GPU-only wrapper
        ow_cfg.pop('dtype', None)
        ow_cfg.pop('loss_scale', None)
    return model, build_optim_wrapper(model, ow_cfg)


def compile_contender(model, target: str):
    """Wrap a contender with ``torch.compile`` (lazily: errors surface at its first step).

    Args:
        model (BaseModel): The contender.
        target (str): ``'train_step'``: the bound ``train_step``, as mmengine's Runner does
            for ``compile=True``; ``'backbone'``: the backbone module only.

    Returns:
        BaseModel: The same model, its ``train_step`` or ``backbone`` compiled.
    """
    if target == 'train_step':
        model.train_step = torch.compile(model.train_step)
    elif target == 'backbone':
        model.backbone = torch.compile(model.backbone)
    else:
        raise ValueError(f'compile target {target!r}: use one of train_step, backbone')
    return model


def build_case(args: argparse.Namespace, name: str, img: int, batch: int, ratio: float) -> Tuple:
    """(model, optim_wrapper, batch) of one contender at one case, ready to step.

    Args:
        args (argparse.Namespace): The benchmark's arguments.
        name (str): ``'greenmim'``, ``'simmim'`` (the baseline) or ``'authors'`` (the
            authors' code from ``args.authors_code``, see :mod:`.authors`).
        img (int): Input size.
        batch (int): Batch size.
        ratio (float): The mask ratio of GreenMIM (and of the authors' code).

    Returns:
        tuple: ``(model, optim_wrapper, data)`` for :func:`run_step`.
    """
    from .options import amp_dtype
    if name == 'authors':
        from .authors import build_authors_contender

        # the learning rate and weight decay of our config's AdamW
        optimizer = load_config(args, 'greenmim', img, ratio).optim_wrapper.optimizer
        model, optim = build_authors_contender(args.authors_code, args.arch, img, ratio,
                                               args.device, amp_dtype(args), optimizer.lr,
                                               optimizer.weight_decay)
        return model, optim, make_batch('greenmim', batch, img, ratio)
    cfg = load_config(args, name, img, ratio)
    model, ow = build_contender(name, cfg, args.device, amp_dtype(args))
    return model, ow, make_batch(name, batch, img, ratio)


def make_batch(name: str, batch: int, img: int, ratio: float, seed: int = 0) -> dict:
    """A batch as mmpretrain's default_collate gives it: (B, 3, H, W) uint8 images and data
    samples (with SimMIM's pipeline mask)."""
    from mmpretrain.structures import DataSample

    gen = torch.Generator().manual_seed(seed)
    inputs = torch.randint(0, 256, (batch, 3, img, img), dtype=torch.uint8, generator=gen)
    samples = [DataSample() for _ in range(batch)]
    if name == 'simmim':
        # SimMIM draws its mask in the data pipeline; GreenMIM draws it inside the model.
        import numpy as np
        from mmpretrain.datasets.transforms import SimMIMMaskGenerator
        np.random.seed(seed)
        masker = SimMIMMaskGenerator(
            input_size=img, mask_patch_size=32, model_patch_size=4, mask_ratio=ratio)
        for sample in samples:
            sample.set_field(torch.from_numpy(masker({})['mask']), 'mask')
    return dict(inputs=inputs, data_samples=samples)


def sync(device: str) -> None:
    """Wait for the device's queued work (CUDA); nothing on CPU."""
    if device == 'cuda':
        torch.cuda.synchronize()


def run_step(model, optim_wrapper, data: dict, device: str) -> float:
    """One training step, in seconds."""
    sync(device)
    start = time.perf_counter()
    model.train_step(data, optim_wrapper)
    sync(device)
    return time.perf_counter() - start
