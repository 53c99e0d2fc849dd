"""Workaround: delete outdated checkpoints only after the new one is saved.

Upstream behaviour (mmengine <= 0.10.7): ``CheckpointHook._save_checkpoint_with_step`` removes
the oldest kept checkpoint (``max_keep_ckpts``) *before* it writes the new one. With
``max_keep_ckpts=1`` a kill during the write leaves no loadable checkpoint at all.

:func:`removals_after_save` lends the hook a file backend that queues ``remove``/``rmtree``
and carries them out only once the wrapped save has returned; a save that raises (or a kill)
leaves the old checkpoint on disk. ``AtomicCheckpointHook`` wraps mmengine's own method with it
where the behaviour exists (:data:`NEEDED`). ``tests/reliability/test_atomic_checkpoint.py``
checks mmengine's ``CheckpointHook`` still deletes first on these versions and fails once it
does not.
"""
import contextlib
from typing import Any, Iterator, List, Tuple

import mmengine
from mmengine.utils import digit_version

#: mmengine releases whose ``CheckpointHook`` deletes before it saves (all up to the latest
#: one this project is tested with).
NEEDED = digit_version(mmengine.__version__) <= digit_version('0.10.7')


class _QueuedRemovals:
    """A file backend whose ``remove``/``rmtree`` are queued until :meth:`flush`.

    Args:
        backend: The mmengine file backend to delegate everything to.
    """

    def __init__(self, backend: Any) -> None:
        self._backend = backend
        self._queue: List[Tuple[str, str]] = []

    def remove(self, filepath: str) -> None:
        self._queue.append(('remove', filepath))

    def rmtree(self, dir_path: str) -> None:
        self._queue.append(('rmtree', dir_path))

    def flush(self) -> None:
        """Carry out the queued removals in order."""
        for method, path in self._queue:
            getattr(self._backend, method)(path)
        self._queue.clear()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._backend, name)


@contextlib.contextmanager
def removals_after_save(hook: Any) -> Iterator[None]:
    """Within the block, ``hook.file_backend`` queues removals; they run if the block succeeds.

    Args:
        hook: A ``CheckpointHook`` whose ``file_backend`` is set (after ``before_train``).
    """
    backend = hook.file_backend
    queued = _QueuedRemovals(backend)
    hook.file_backend = queued
    try:
        yield
    finally:
        hook.file_backend = backend
    queued.flush()
