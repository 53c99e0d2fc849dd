"""Runner construction shared by tools/train.py and tools/test.py."""
import torch.distributed as torch_dist
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


def close_distributed() -> None:
    """Destroy the process group, if any, before the interpreter exits.

    mmengine leaves it to exit-time destructors; a gloo rank then sometimes aborted with
    "terminate called without an active exception" after finishing its work (seen once in
    a 2-process ``tools/dist_test.sh`` run), failing the launcher.
    """
    if torch_dist.is_available() and torch_dist.is_initialized():
        torch_dist.destroy_process_group()
