"""Train a model from an mmpretrain- or mmdet-scope config.

The flags and their behaviour follow mmpretrain's ``tools/train.py``; the runner is built with
``Runner.from_cfg`` (or ``RUNNERS.build`` when the config sets ``runner_type``). On top of it:

* ``--amp`` on a machine without CUDA trains under bfloat16 autocast
  (``mmpretrain.CpuAmpOptimWrapper``; fp16 autocast does not exist on CPU), with CUDA it uses
  ``AmpOptimWrapper`` with dynamic loss scaling.
* ``--launcher pytorch`` or ``slurm`` without CUDA runs on the gloo backend.
* Checkpoints load under torch's default ``weights_only=True`` (see
  ``greenmim_mm.utils.checkpoint_compat``), so ``--resume`` works with torch >= 2.6.
* A ``CheckpointHook`` becomes ``AtomicCheckpointHook``: a kill while a checkpoint is written
  leaves the previous one (and ``last_checkpoint``) intact, so ``--resume`` always finds a
  complete checkpoint (``greenmim_mm.engine.atomic_checkpoint``).
* ``--resume`` refuses a checkpoint whose weights do not fit the model, listing the
  mismatched shapes; ``load_from`` fails only when no weight fits
  (``greenmim_mm.engine.checkpoint_check``).
* Distributed runs log losses averaged over all ranks (``DistLossAverageHook``), so they are
  comparable with a single-process run of the same total batch.
* A config naming an unregistered type fails with mmengine's message plus what to add
  (``custom_imports``) and similarly named registered types.

Example::

    python tools/train.py configs/demo/xxx.py --work-dir work_dirs/xxx --amp

Launchers (mmengine's; ``--launcher`` sets which one initialises the process group)::

    bash tools/dist_train.sh CONFIG 8 [args]        # torchrun, --launcher pytorch
    srun -p PARTITION --ntasks=16 --ntasks-per-node=8 --gres=gpu:8 \
        python -u tools/train.py CONFIG --launcher slurm [args]

Under slurm, mmengine reads ``SLURM_PROCID``, ``SLURM_NTASKS``, ``SLURM_LOCALID`` and the
first host of ``SLURM_NODELIST`` (via ``scontrol``); ``MASTER_PORT`` (default 29500) must
differ between jobs sharing a node. Interrupted runs continue with ``--resume``.
"""
import argparse
import logging
import os
import os.path as osp
import sys
from typing import Optional

REPO_ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
if REPO_ROOT not in sys.path:
    # Let the checkout's greenmim_mm import without an installed copy.
    sys.path.insert(0, REPO_ROOT)

# torch, the runner and greenmim_mm are imported where they are needed, after argument
# parsing, so that --help answers in a fraction of a second.

from mmengine.config import Config, ConfigDict, DictAction  # noqa: E402

DATALOADERS = ('train_dataloader', 'val_dataloader', 'test_dataloader')


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
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override config settings, xxx=yyy pairs merged into the config; lists as '
        'key="[a,b]" or key=a,b, nested as key="[(a,b),(c,d)]" (quotes needed, no spaces)')
    parser.add_argument(
        '--launcher',
        choices=['none', 'pytorch', 'slurm', 'mpi'],
        default='none',
        help='job launcher')
    # torch.distributed.launch (torch >= 2.0) passes --local-rank; older ones --local_rank.
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args(argv)
    if 'LOCAL_RANK' not in os.environ:
        os.environ['LOCAL_RANK'] = str(args.local_rank)
    return args


def cuda_available() -> bool:
    """Whether CUDA is available (imports torch on first use).

    Returns:
        bool: ``torch.cuda.is_available()``.
    """
    import torch
    return torch.cuda.is_available()


def default_work_dir(config_path: str) -> str:
    """Return ``./work_dirs/<config name>`` for a config file path.

    Args:
        config_path (str): Path of the config file.

    Returns:
        str: The default work directory.
    """
    return osp.join('./work_dirs', osp.splitext(osp.basename(config_path))[0])


def enable_amp(cfg: Config, cuda: bool) -> None:
    """Switch the optimizer wrapper to mixed precision.

    Args:
        cfg (Config): The config to modify in place.
        cuda (bool): Whether training runs on CUDA. On GPU: ``AmpOptimWrapper`` with
            ``loss_scale='dynamic'`` unless the config sets one. On CPU:
            ``mmpretrain.CpuAmpOptimWrapper`` with ``dtype='bfloat16'`` and no loss scale
            (mmengine 0.10.7's ``AmpOptimWrapper`` refuses to run without a GPU).
    """
    optim_wrapper = cfg.optim_wrapper
    if cuda:
        optim_wrapper.type = 'AmpOptimWrapper'
        optim_wrapper.setdefault('loss_scale', 'dynamic')
    else:
        optim_wrapper.type = 'mmpretrain.CpuAmpOptimWrapper'
        optim_wrapper.dtype = 'bfloat16'
        optim_wrapper.pop('loss_scale', None)
        if cfg.get('default_scope') == 'mmdet':
            from mmengine.logging import print_log
            print_log(
                '--amp on CPU: mmcv 2.1 CPU ops (nms, RoIAlign) have no bfloat16 kernels, so '
                'detectors such as Mask R-CNN fail under bfloat16 autocast ("expected scalar '
                'type Float but found BFloat16"); train them without --amp on CPU.',
                logger='current',
                level=logging.WARNING)


def enable_auto_scale_lr(cfg: Config) -> None:
    """Turn on ``auto_scale_lr``, failing clearly when the config cannot support it.

    Args:
        cfg (Config): The config to modify in place.

    Raises:
        RuntimeError: If the config has no ``auto_scale_lr.base_batch_size``.
    """
    auto_scale_lr = cfg.get('auto_scale_lr')
    if not auto_scale_lr or 'base_batch_size' not in auto_scale_lr:
        raise RuntimeError('--auto-scale-lr needs `auto_scale_lr = dict(base_batch_size=N)` '
                           'in the config')
    cfg.auto_scale_lr.enable = True


def set_dataloader_defaults(cfg: Config, args: argparse.Namespace) -> None:
    """Fill in mmpretrain's dataloader defaults, adapted to the machine and the scope.

    ``pin_memory`` defaults to whether CUDA is available and ``persistent_workers`` to
    whether there are workers (torch rejects persistent workers with ``num_workers=0``).
    mmpretrain-scope configs also default to ``collate_fn=default_collate`` as mmpretrain's
    tool does; other scopes keep mmengine's ``pseudo_collate`` (mmdet batches images of
    different sizes). Values in the config win over these defaults; the ``--no-*`` flags win
    over both.

    Args:
        cfg (Config): The config to modify in place.
        args (argparse.Namespace): Parsed arguments.
    """
    for field in DATALOADERS:
        if cfg.get(field) is None:
            continue
        defaults = ConfigDict(
            pin_memory=cuda_available(),
            persistent_workers=cfg[field].get('num_workers', 0) > 0)
        if cfg.get('default_scope') == 'mmpretrain':
            defaults.collate_fn = dict(type='default_collate')
        defaults.update(cfg[field])
        if defaults.get('num_workers', 0) == 0:
            defaults.persistent_workers = False
        if args.no_pin_memory:
            defaults.pin_memory = False
        if args.no_persistent_workers:
            defaults.persistent_workers = False
        cfg[field] = defaults


def merge_args(cfg: Config, args: argparse.Namespace) -> Config:
    """Merge the command line into the config.

    ``--cfg-options`` are merged first, so that the flags below see (and win over) them.

    Args:
        cfg (Config): The loaded config.
        args (argparse.Namespace): Parsed arguments.

    Returns:
        Config: The same config, modified.
    """
    if args.cfg_options is not None:
        cfg.merge_from_dict(args.cfg_options)

    if args.no_validate:
        cfg.val_cfg = None
        cfg.val_dataloader = None
        cfg.val_evaluator = None

    cfg.launcher = args.launcher

    # work_dir priority: CLI > config > ./work_dirs/<config name>
    if args.work_dir is not None:
        cfg.work_dir = args.work_dir
    elif cfg.get('work_dir') is None:
        cfg.work_dir = default_work_dir(args.config)

    if args.amp:
        enable_amp(cfg, cuda=cuda_available())

    if args.resume == 'auto':
        cfg.resume = True
        cfg.load_from = None
    elif args.resume is not None:
        cfg.resume = True
        cfg.load_from = args.resume

    if args.auto_scale_lr:
        enable_auto_scale_lr(cfg)

    set_dataloader_defaults(cfg, args)
    use_atomic_checkpoints(cfg)
    if cfg.get('resume', False):
        set_custom_hook(cfg, 'CheckpointCompatibilityHook', mode='strict', purpose='resume')
    elif cfg.get('load_from'):
        set_custom_hook(cfg, 'CheckpointCompatibilityHook', mode='any', purpose='load')
    if args.launcher != 'none':
        set_custom_hook(cfg, 'DistLossAverageHook')
    return cfg


def use_atomic_checkpoints(cfg: Config) -> None:
    """Swap mmengine's ``CheckpointHook`` for ``mmpretrain.AtomicCheckpointHook``.

    Same arguments and checkpoints; the difference is what a kill during saving leaves behind
    (see ``greenmim_mm.engine.atomic_checkpoint``). Other checkpoint hook types are kept.

    Args:
        cfg (Config): The config to modify in place.
    """
    hook = (cfg.get('default_hooks') or {}).get('checkpoint')
    if hook is not None and hook.get('type') in ('CheckpointHook', 'mmengine.CheckpointHook'):
        hook['type'] = 'mmpretrain.AtomicCheckpointHook'


def set_custom_hook(cfg: Config, hook_type: str, **kwargs) -> None:
    """Put ``mmpretrain.<hook_type>`` into ``custom_hooks``, replacing an earlier entry of it.

    Replacing (rather than appending) keeps a config dumped by an earlier run, and trained
    again, from holding the hook twice.

    Args:
        cfg (Config): The config to modify in place.
        hook_type (str): A hook registered in mmpretrain's ``HOOKS``.
        **kwargs: The hook's arguments.
    """
    hooks = [
        h for h in (cfg.get('custom_hooks') or [])
        if str(h.get('type', '')).split('.')[-1] != hook_type
    ]
    hooks.append(dict(type=f'mmpretrain.{hook_type}', **kwargs))
    cfg.custom_hooks = hooks


def main(argv: Optional[list] = None) -> None:
    """Parse arguments, build the runner and train.

    Args:
        argv (list, optional): Arguments without the program name. Defaults to None.
    """
    args = parse_args(argv)
    cfg = merge_args(Config.fromfile(args.config), args)
    from greenmim_mm.engine.config_errors import registry_hints
    with registry_hints(args.config):  # models and hooks build here, datasets in train()
        from greenmim_mm.utils.runner import build_runner, close_distributed
        runner = build_runner(cfg)
        try:
            runner.train()
        finally:
            close_distributed()


if __name__ == '__main__':
    main()
    from greenmim_mm.utils.runner import exit_finished_rank
    exit_finished_rank()  # a rank of a distributed run ends here (see its docstring)
