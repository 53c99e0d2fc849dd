"""Workaround: a finished rank of a gloo run can abort while the interpreter exits.

Upstream behaviour (torch <= 2.14 with the gloo backend): once a DDP wrapper has used a gloo
group, the group's worker and transport threads outlive ``destroy_process_group`` (and garbage
collection) and are torn down by exit-time destructors, which sometimes abort a rank that has
finished ("terminate called without an active exception"; twice in clean-clone CI runs of
``tools/dist_test.sh``), so the launcher reports a failed job after a successful run.

:func:`close_distributed` destroys the process group when a tool's run ends and remembers
whether it was a gloo group; only then does :func:`exit_finished_rank` end the process with
``os._exit(0)`` (after doing what the skipped exit handlers would have done for us). NCCL runs,
single-process runs and library use exit normally, so atexit handlers such as experiment
trackers still run there. ``tests/compat/test_gloo_exit.py`` fails once gloo's threads end
with ``destroy_process_group``, i.e. when this module can go.
"""
import logging
import multiprocessing
import os
import sys

import torch.distributed as torch_dist

# Whether close_distributed destroyed a gloo process group in this process.
_destroyed_a_gloo_group = False


def close_distributed() -> None:
    """Destroy the process group, if any (the tools call it when their run ends)."""
    global _destroyed_a_gloo_group
    if torch_dist.is_available() and torch_dist.is_initialized():
        gloo = torch_dist.get_backend() == 'gloo'
        torch_dist.destroy_process_group()
        _destroyed_a_gloo_group = _destroyed_a_gloo_group or gloo


def exit_finished_rank() -> None:
    """End a finished rank of a gloo run: flush, then ``os._exit(0)``.

    A no-op unless :func:`close_distributed` destroyed a gloo group in this process. What the
    skipped exit-time code would have done happens here first: the logs are flushed, and the
    data loader's (persistent) worker processes are stopped and reaped -- left alone they
    would wait forever on their result queue, holding the launcher's output pipe open.
    """
    if not _destroyed_a_gloo_group:
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
