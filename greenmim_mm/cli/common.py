"""What ``tools/train.py`` and ``tools/test.py`` share: runner construction, run flags, defaults."""
import argparse
import os
import os.path as osp
from typing import Optional

from mmengine.config import Config, DictAction
from mmengine.registry import RUNNERS
from mmengine.runner import Runner

from ..compat import setup_cpu_distributed

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


def default_work_dir(config_path: str) -> str:
    """``./work_dirs/<config name>``, the default work directory of a config file."""
    return osp.join('./work_dirs', osp.splitext(osp.basename(config_path))[0])


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
