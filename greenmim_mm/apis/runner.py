"""Runner construction shared by ``tools/train.py`` and ``tools/test.py``."""
from mmengine.config import Config
from mmengine.registry import RUNNERS
from mmengine.runner import Runner

from ..compat import setup_cpu_distributed


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
