"""Checkpoints that survive a kill while they are being written.

mmengine 0.10.7's ``save_checkpoint`` hands the serialised bytes to ``LocalBackend.put``, which
opens the final path with ``'wb'`` and writes into it: a kill during the write leaves a
truncated ``iter_N.pth`` under the final name.

:class:`AtomicLocalBackend` writes to a temporary file in the same folder, ``fsync``s it and
renames it over the final path (``os.replace`` is atomic on POSIX and Windows), so a path
holds either the complete old bytes or the complete new ones. :class:`AtomicCheckpointHook`
saves every checkpoint through it and, where mmengine deletes the oldest kept checkpoint
before saving the new one, defers that deletion until the save is complete
(``greenmim_mm.compat.checkpoint_order``). Our base runtime configs
(``configs/_base_/*_runtime.py``) name it as ``default_hooks.checkpoint``; resuming
(``--resume``) needs nothing else.
"""
import glob
import os
import os.path as osp
from pathlib import Path
from typing import List, Union

from mmengine.dist import is_main_process
from mmengine.fileio import LocalBackend, register_backend
from mmengine.hooks import CheckpointHook
from mmengine.registry import HOOKS

from ...compat import checkpoint_order

ATOMIC_BACKEND = 'atomic_local'
_TMP_SUFFIX = '.tmp'


def _tmp_path(filepath: str) -> str:
    """The temporary sibling of ``filepath`` written by this process: ``.<name>.<pid>.tmp``."""
    folder, name = osp.split(filepath)
    return osp.join(folder, f'.{name}.{os.getpid()}{_TMP_SUFFIX}')


def _fsync_dir(folder: str) -> None:
    """Flush a directory entry (the rename) to disk where the platform allows it."""
    try:
        fd = os.open(folder or '.', os.O_RDONLY)
    except OSError:  # e.g. Windows: directories cannot be opened
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def atomic_write(data: bytes, filepath: Union[str, Path]) -> None:
    """Write ``data`` to ``filepath`` so that the path never holds a partial file.

    The bytes go to a temporary file in the same folder, which is flushed to disk and then
    renamed over ``filepath``. If anything interrupts the write (an exception, Ctrl-C), the
    temporary file is removed and ``filepath`` is unchanged; after a SIGKILL a hidden
    ``.<name>.<pid>.tmp`` file may remain (see :func:`remove_stale_tmp_files`).

    Args:
        data (bytes): The file content.
        filepath (str | Path): Destination; its folder is created if needed.
    """
    filepath = str(filepath)
    folder = osp.dirname(filepath)
    if folder:
        os.makedirs(folder, exist_ok=True)
    tmp = _tmp_path(filepath)
    try:
        with open(tmp, 'wb') as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, filepath)
    except BaseException:
        if osp.exists(tmp):
            os.remove(tmp)
        raise
    _fsync_dir(folder)


def remove_stale_tmp_files(folder: str) -> List[str]:
    """Delete the temporary files that killed :func:`atomic_write` calls left in ``folder``.

    Args:
        folder (str): A checkpoint folder.

    Returns:
        list[str]: The removed paths.
    """
    removed = []
    for path in glob.glob(osp.join(glob.escape(folder), f'.*{_TMP_SUFFIX}')):
        name = osp.basename(path)[1:-len(_TMP_SUFFIX)]  # '<name>.<pid>'
        pid = name.rsplit('.', 1)[-1]
        if pid.isdigit() and int(pid) != os.getpid():
            os.remove(path)
            removed.append(path)
    return removed


@register_backend(ATOMIC_BACKEND, force=True)  # force: idempotent on re-import
class AtomicLocalBackend(LocalBackend):
    """mmengine's ``LocalBackend`` whose ``put``/``put_text`` replace files atomically.

    Select it with ``backend_args=dict(backend='atomic_local')`` wherever mmengine takes
    ``backend_args`` (``CheckpointHook``, ``save_checkpoint``).
    """

    def put(self, obj: bytes, filepath: Union[str, Path]) -> None:
        """Write bytes to ``filepath`` atomically (see :func:`atomic_write`)."""
        atomic_write(obj, filepath)

    def put_text(self, obj: str, filepath: Union[str, Path], encoding: str = 'utf-8') -> None:
        """Write text to ``filepath`` atomically (see :func:`atomic_write`)."""
        atomic_write(obj.encode(encoding), filepath)


@HOOKS.register_module()
class AtomicCheckpointHook(CheckpointHook):
    """mmengine's ``CheckpointHook`` that a kill during saving cannot cost the last checkpoint.

    Same arguments and behaviour as ``CheckpointHook``, except that on a local ``out_dir``
    (no ``backend_args``/``file_client_args`` given):

    * checkpoints are written with :class:`AtomicLocalBackend`;
    * an outdated checkpoint (``max_keep_ckpts``) is deleted only after the new checkpoint and
      ``last_checkpoint`` are written;
    * temporary files left by a killed save are deleted when training starts.

    Registered in mmengine's root ``HOOKS``, so configs of every scope use it as
    ``default_hooks.checkpoint.type='AtomicCheckpointHook'`` (our base runtime configs do).
    """

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        out_dir = '' if self.out_dir is None else str(self.out_dir)
        self.atomic = (
            self.backend_args is None and self.file_client_args is None and '://' not in out_dir)
        if self.atomic:
            self.backend_args = dict(backend=ATOMIC_BACKEND)

    def before_train(self, runner) -> None:
        """Resolve ``out_dir`` as mmengine does, then remove stale temporary files."""
        super().before_train(runner)
        if self.atomic and is_main_process() and osp.isdir(self.out_dir):
            for path in remove_stale_tmp_files(self.out_dir):
                runner.logger.info(f'Removed {path}, left by an interrupted checkpoint save.')

    def _save_checkpoint_with_step(self, runner, step, meta) -> None:
        """mmengine's save, with the removal of outdated checkpoints moved after it."""
        if not checkpoint_order.NEEDED:
            return super()._save_checkpoint_with_step(runner, step, meta)
        with checkpoint_order.removals_after_save(self):
            super()._save_checkpoint_with_step(runner, step, meta)
