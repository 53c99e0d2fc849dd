"""What ``tools/train.py`` and ``tools/test.py`` share: runner construction, run flags, defaults."""
import argparse
import contextlib
import os
import os.path as osp
from typing import Iterator, Optional

from mmengine.config import Config, DictAction
from mmengine.registry import RUNNERS
from mmengine.runner import Runner

from ..compat import close_distributed, setup_cpu_distributed
from .config_errors import registry_hints

DATALOADERS = ('train_dataloader', 'val_dataloader', 'test_dataloader')


def build_runner(cfg: Config) -> Runner:
    """Build the runner as mmpretrain's and mmdet's tools do.

    ``Runner.from_cfg``, or ``RUNNERS.build`` when the config sets ``runner_type``. A
    ``pytorch``/``mpi``/``slurm`` launcher on a machine without CUDA gets the gloo backend first
    (``greenmim_mm.compat.cpu_dist``).

    Args:
        cfg (Config): The merged config.

    Returns:
        Runner: The runner.
    """
    setup_cpu_distributed(cfg)
    if 'runner_type' not in cfg:
        return Runner.from_cfg(cfg)
    return RUNNERS.build(cfg)


@contextlib.contextmanager
def managed_runner(cfg: Config, config_path: str) -> Iterator[Runner]:
    """:func:`build_runner`, with the clear error and the clean-up both tools wrap a run in.

    A type the config names but no registry knows fails with
    :class:`~.config_errors.UnregisteredTypeError` (models and hooks build here, datasets when
    the run first reads them, so the ``with`` body is covered too); on the way out the
    process group, if any, is closed (:func:`greenmim_mm.compat.close_distributed`).

    Args:
        cfg (Config): The merged config.
        config_path (str): The config file, named in the error.

    Yields:
        Runner: The runner.
    """
    with registry_hints(config_path):
        runner = build_runner(cfg)
        try:
            yield runner
        finally:
            close_distributed()


def parse_with_run_arguments(parser: argparse.ArgumentParser,
                             argv: Optional[list] = None) -> argparse.Namespace:
    """Add the flags both upstream tools share, parse, and export ``LOCAL_RANK``.

    ``--cfg-options``, ``--launcher`` and ``--local_rank``/``--local-rank`` as in mmpretrain's
    and mmdet's tools.

    Args:
        parser (argparse.ArgumentParser): The tool's parser with its own flags.
        argv (list, optional): Arguments without the program name. Defaults to None, which
            reads ``sys.argv``.

    Returns:
        argparse.Namespace: The parsed arguments.
    """
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override config settings, xxx=yyy pairs merged into the config last; lists '
        'as key="[a,b]" or key=a,b, nested as key="[(a,b),(c,d)]" (quotes needed, no spaces)')
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
    """Whether CUDA is available (imports torch on first use)."""
    import torch
    return torch.cuda.is_available()


def merge_launcher_and_work_dir(cfg: Config, args: argparse.Namespace) -> None:
    """Set ``cfg.launcher`` from ``--launcher`` and ``cfg.work_dir`` as both upstream tools do.

    The work directory's priority: ``--work-dir``, then the config's ``work_dir``, then
    ``./work_dirs/<config file name without .py>``.

    Args:
        cfg (Config): The config to modify in place.
        args (argparse.Namespace): Parsed arguments with ``config``, ``work_dir`` and
            ``launcher``.
    """
    cfg.launcher = args.launcher
    if args.work_dir is not None:
        cfg.work_dir = args.work_dir
    elif cfg.get('work_dir') is None:
        cfg.work_dir = osp.join('./work_dirs', osp.splitext(osp.basename(args.config))[0])


def drop_persistent_workers_without_workers(cfg: Config) -> None:
    """Turn ``persistent_workers`` off where ``num_workers`` is 0 (torch refuses the pair).

    Lets ``--cfg-options train_dataloader.num_workers=0`` work on a config whose loader keeps
    persistent workers, without a second option.

    Args:
        cfg (Config): The config to modify in place.
    """
    for field in DATALOADERS:
        loader = cfg.get(field)
        if loader is not None and loader.get('num_workers', 0) == 0:
            loader['persistent_workers'] = False
