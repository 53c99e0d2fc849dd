"""``tools/train.py``: mmpretrain's ``tools/train.py``, plus what a config cannot say.

Flags and their order of merging are mmpretrain's (``--cfg-options`` last, so it wins).
Additions:

* ``--amp`` without CUDA trains under bfloat16 autocast (``CpuAmpOptimWrapper``; fp16
  autocast does not exist on CPU, and mmengine's ``AmpOptimWrapper`` refuses to run there);
  on either device in the form that skips non-finite steps and logs the gradient norm.
* ``--launcher pytorch|slurm|mpi`` without CUDA runs on the gloo backend.
* A config naming an unregistered type fails with what to add (``custom_imports``).
* Dataloader defaults follow the machine and the scope: ``pin_memory`` only with CUDA,
  ``persistent_workers`` only with workers (also after ``--cfg-options``), ``default_collate``
  only for mmpretrain configs (mmdet batches images of different sizes with mmengine's
  ``pseudo_collate``).

Hooks (atomic checkpoints, the checkpoint check, rank-averaged losses) are not added here: our
configs declare them (``configs/_base_/*_runtime.py``), so mmpretrain's and mmdet's own tools
give the same run.
"""
import argparse
import logging
from typing import Optional

from mmengine.config import Config, ConfigDict
from mmengine.logging import print_log

from .common import (DATALOADERS, cuda_available, drop_persistent_workers_without_workers,
                     managed_runner, merge_launcher_and_work_dir, parse_with_run_arguments)


def parse_args(argv: Optional[list] = None) -> argparse.Namespace:
    """Parse the command line (mmpretrain's ``tools/train.py`` flags).

    Args:
        argv (list, optional): Arguments without the program name. Defaults to None, which
            reads ``sys.argv``.

    Returns:
        argparse.Namespace: The parsed arguments.
    """
    parser = argparse.ArgumentParser(description='Train a model (mmpretrain or mmdet config)')
    parser.add_argument('config', help='train config file path')
    parser.add_argument('--work-dir', help='the dir to save logs and models')
    parser.add_argument(
        '--resume',
        nargs='?',
        type=str,
        const='auto',
        help='resume from the given checkpoint; without a path, resume from the latest '
        'checkpoint in the work directory')
    parser.add_argument(
        '--amp',
        action='store_true',
        help='enable automatic mixed precision (fp16 with dynamic loss scaling on GPU, '
        'bfloat16 autocast on CPU)')
    parser.add_argument(
        '--no-validate', action='store_true', help='do not evaluate during training')
    parser.add_argument(
        '--auto-scale-lr',
        action='store_true',
        help='scale the learning rate by the actual over the base batch size '
        '(needs auto_scale_lr.base_batch_size in the config)')
    parser.add_argument(
        '--no-pin-memory',
        action='store_true',
        help='disable the pin_memory option of the dataloaders')
    parser.add_argument(
        '--no-persistent-workers',
        action='store_true',
        help='disable the persistent_workers option of the dataloaders')
    args = parse_with_run_arguments(parser, argv)
    return args


def enable_amp(cfg: Config, cuda: bool) -> None:
    """Switch the optimizer wrapper to mixed precision.

    Args:
        cfg (Config): The config to modify in place.
        cuda (bool): Whether training runs on CUDA. On GPU: ``AmpOptimWrapper`` with
            ``loss_scale='dynamic'`` unless the config sets one (as mmpretrain). On CPU:
            ``CpuAmpOptimWrapper`` with ``dtype='bfloat16'`` and no loss scale. Both in
            their ``NonFiniteSkip`` form: a step whose loss or gradients are not finite is
            skipped with a counting warning, too many in a row stop the run, and the
            gradient norm is logged (``greenmim_mm/engine/optim_wrappers/nonfinite.py``);
            and each keeps a reduced-precision shadow of the weights, so that the sparse
            backbones' lean layers cast each weight once per step
            (``greenmim_mm/engine/optim_wrappers/weight_shadow.py``).
    """
    optim_wrapper = cfg.optim_wrapper
    if cuda:
        optim_wrapper.type = 'NonFiniteSkipAmpOptimWrapper'
        optim_wrapper.setdefault('loss_scale', 'dynamic')
        return
    optim_wrapper.type = 'NonFiniteSkipCpuAmpOptimWrapper'
    optim_wrapper.dtype = 'bfloat16'
    optim_wrapper.pop('loss_scale', None)
    if cpu_bf16_is_native() is False:
        print_log(
            '--amp on CPU: this CPU has no native bfloat16 matrix instructions (oneDNN '
            'reports none; AVX-512-BF16 or AMX are needed), so bfloat16 matmuls run emulated '
            'and a training step is many times slower than in float32; train without --amp '
            'here.',
            logger='current',
            level=logging.WARNING)
    if cfg.get('default_scope') == 'mmdet':
        print_log(
            '--amp on CPU: mmcv 2.1 CPU ops (nms, RoIAlign) have no bfloat16 kernels, so '
            'detectors such as Mask R-CNN fail under bfloat16 autocast ("expected scalar '
            'type Float but found BFloat16"); train them without --amp on CPU.',
            logger='current',
            level=logging.WARNING)


def cpu_bf16_is_native() -> Optional[bool]:
    """Whether oneDNN runs bfloat16 matmuls natively on this CPU; None if torch cannot say.

    torch's own check (``torch.ops.mkldnn._is_mkldnn_bf16_supported``, what its tests use)
    is private, hence the None fallback rather than a guess.
    """
    import torch
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return None


def set_dataloader_defaults(cfg: Config, args: argparse.Namespace) -> None:
    """mmpretrain's dataloader defaults, adapted to the machine and the scope.

    Values in the config win over these defaults; the ``--no-*`` flags win over both.

    Args:
        cfg (Config): The config to modify in place.
        args (argparse.Namespace): Parsed arguments.
    """
    for field in DATALOADERS:
        if cfg.get(field) is None:
            continue
        defaults = ConfigDict(
            pin_memory=cuda_available(), persistent_workers=cfg[field].get('num_workers', 0) > 0)
        if cfg.get('default_scope') == 'mmpretrain':
            defaults.collate_fn = dict(type='default_collate')
        defaults.update(cfg[field])
        if args.no_pin_memory:
            defaults.pin_memory = False
        if args.no_persistent_workers:
            defaults.persistent_workers = False
        cfg[field] = defaults


def merge_args(cfg: Config, args: argparse.Namespace) -> Config:
    """Merge the command line into the config, in mmpretrain's order.

    Args:
        cfg (Config): The loaded config.
        args (argparse.Namespace): Parsed arguments.

    Returns:
        Config: The same config, modified.
    """
    if args.no_validate:
        cfg.val_cfg = None
        cfg.val_dataloader = None
        cfg.val_evaluator = None

    merge_launcher_and_work_dir(cfg, args)

    if args.amp:
        enable_amp(cfg, cuda=cuda_available())

    if args.resume == 'auto':
        cfg.resume = True
        cfg.load_from = None
    elif args.resume is not None:
        cfg.resume = True
        cfg.load_from = args.resume

    if args.auto_scale_lr:
        if not cfg.get('auto_scale_lr') or 'base_batch_size' not in cfg.auto_scale_lr:
            raise RuntimeError('--auto-scale-lr needs `auto_scale_lr = dict(enable=False, '
                               'base_batch_size=N)` in the config')
        cfg.auto_scale_lr.enable = True

    set_dataloader_defaults(cfg, args)

    if args.cfg_options is not None:
        cfg.merge_from_dict(args.cfg_options)
    drop_persistent_workers_without_workers(cfg)
    return cfg


def main(argv: Optional[list] = None) -> None:
    """Parse arguments, build the runner and train.

    Args:
        argv (list, optional): Arguments without the program name. Defaults to None.
    """
    args = parse_args(argv)
    cfg = merge_args(Config.fromfile(args.config), args)
    with managed_runner(cfg, args.config) as runner:
        runner.train()
