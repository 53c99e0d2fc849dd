"""Runner construction and distributed teardown shared by tools/train.py and tools/test.py."""
import logging
import multiprocessing
import os
import sys

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


# Whether close_distributed destroyed a process group in this process.
_destroyed_a_group = False


def close_distributed() -> None:
    """Destroy the process group, if any (the tools call it when their run ends)."""
    global _destroyed_a_group
    if torch_dist.is_available() and torch_dist.is_initialized():
        torch_dist.destroy_process_group()
        _destroyed_a_group = True


def exit_finished_rank() -> None:
    """End a rank of a distributed run that finished its work: flush, then ``os._exit(0)``.

    A no-op in a process that never had a process group. Why not a normal exit: once a DDP
    wrapper has used a gloo group, the group's worker and transport threads outlive
    ``destroy_process_group`` (and garbage collection) and are torn down by exit-time
    destructors, which sometimes abort a rank that has finished ("terminate called without an
    active exception"; twice in clean-clone CI runs of ``tools/dist_test.sh``), so the launcher
    reports a failed job after a successful run. ``os._exit`` skips those destructors, so what
    they would have done happens here first: the logs are flushed, and the data loader's
    (persistent) worker processes are stopped and reaped -- left alone they would wait forever
    on their result queue, holding the launcher's output pipe open.
    """
    if not _destroyed_a_group:
        return
    children = multiprocessing.active_children()
    for child in children:
        child.terminate()
    for child in children:
        child.join(timeout=10)
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)
