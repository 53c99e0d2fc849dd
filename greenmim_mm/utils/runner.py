"""Runner construction shared by tools/train.py and tools/test.py."""
from mmengine.config import Config
from mmengine.registry import RUNNERS
from mmengine.runner import Runner

from .checkpoint_compat import register_checkpoint_safe_globals
from .cpu_dist import setup_cpu_distributed


def build_runner(cfg: Config) -> Runner:
    """Build the runner: ``Runner.from_cfg``, or ``RUNNERS.build`` for ``runner_type``.

    Checkpoints are made loadable under torch's ``weights_only=True`` default first, and a
    ``pytorch``/``mpi``/``slurm`` launcher on a machine without CUDA gets the gloo backend.

    Args:
        cfg (Config): The merged config.

    Returns:
        Runner: The runner.
    """
    register_checkpoint_safe_globals()
    setup_cpu_distributed(cfg)
    if 'runner_type' not in cfg:
        return Runner.from_cfg(cfg)
    return RUNNERS.build(cfg)
