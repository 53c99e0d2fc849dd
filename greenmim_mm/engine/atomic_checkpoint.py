"""Checkpoints that survive a kill while they are being written.

What mmengine 0.10.7 does, and what it lacks:

* ``save_checkpoint`` hands the serialised bytes to ``LocalBackend.put``, which opens the final
  path with ``'wb'`` and writes into it. A kill during the write leaves a truncated
  ``iter_N.pth`` under the final name.
* ``CheckpointHook._save_checkpoint_with_step`` deletes the oldest kept checkpoint (when
  ``max_keep_ckpts`` is reached) *before* it writes the new one, and rewrites
  ``last_checkpoint`` with ``open(..., 'w')`` after it. With ``max_keep_ckpts=1`` a kill during
  the write leaves no loadable checkpoint at all, and ``last_checkpoint`` names a deleted file.

:class:`AtomicLocalBackend` writes to a temporary file in the same folder, ``fsync``s it and
renames it over the final path (``os.replace`` is atomic on POSIX and Windows), so a path
holds either the complete old bytes or the complete new ones. :class:`AtomicCheckpointHook`
uses it for every checkpoint and for ``last_checkpoint``, and deletes outdated checkpoints only
after the new one and ``last_checkpoint`` are in place. ``tools/train.py`` swaps it in for
mmengine's ``CheckpointHook``; resuming (``--resume``) needs nothing else.
"""
import glob
import os
import os.path as osp
from pathlib import Path
from typing import List, Union

from mmengine.dist import is_main_process
from mmengine.fileio import LocalBackend, register_backend
from mmengine.hooks import CheckpointHook
from mmpretrain.registry import HOOKS

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

    * checkpoints and ``last_checkpoint`` are written with :class:`AtomicLocalBackend`;
    * an outdated checkpoint (``max_keep_ckpts``) is deleted only after the new checkpoint and
      ``last_checkpoint`` are complete;
    * temporary files left by a killed save are deleted when training starts.

    Use it as ``default_hooks.checkpoint.type='mmpretrain.AtomicCheckpointHook'`` (the scope
    prefix lets mmdet-scope configs find it); ``tools/train.py`` does that for configs that
    name ``CheckpointHook``.
    """

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        out_dir = '' if self.out_dir is None else str(self.out_dir)
        self.atomic = (self.backend_args is None and self.file_client_args is None
                       and '://' not in out_dir)
        if self.atomic:
            self.backend_args = dict(backend=ATOMIC_BACKEND)

    def before_train(self, runner) -> None:
        """Resolve ``out_dir`` as mmengine does, then remove stale temporary files."""
        super().before_train(runner)
        if self.atomic and is_main_process() and osp.isdir(self.out_dir):
            for path in remove_stale_tmp_files(self.out_dir):
                runner.logger.info(f'Removed {path}, left by an interrupted checkpoint save.')

    def _save_checkpoint_with_step(self, runner, step, meta) -> None:
        """Save, point ``last_checkpoint`` at it, and only then drop the outdated ones."""
        outdated = []
        if self.max_keep_ckpts > 0 and not (self.keep_ckpt_ids
                                            and self.keep_ckpt_ids[-1] == step):
            if len(self.keep_ckpt_ids) == self.max_keep_ckpts:
                outdated.append(self.keep_ckpt_ids.popleft())
            self.keep_ckpt_ids.append(step)
            runner.message_hub.update_info('keep_ckpt_ids', list(self.keep_ckpt_ids))

        ckpt_filename = self.filename_tmpl.format(step)
        self.last_ckpt = self.file_backend.join_path(self.out_dir, ckpt_filename)
        runner.message_hub.update_info('last_ckpt', self.last_ckpt)

        runner.save_checkpoint(
            self.out_dir,
            ckpt_filename,
            self.file_client_args,
            save_optimizer=self.save_optimizer,
            save_param_scheduler=self.save_param_scheduler,
            meta=meta,
            by_epoch=self.by_epoch,
            backend_args=self.backend_args,
            **self.args)

        if not is_main_process():
            return
        save_file = osp.join(runner.work_dir, 'last_checkpoint')
        if self.atomic:
            atomic_write(self.last_ckpt.encode('utf-8'), save_file)
        else:
            with open(save_file, 'w') as f:
                f.write(self.last_ckpt)
        for old_step in outdated:
            path = self.file_backend.join_path(self.out_dir, self.filename_tmpl.format(old_step))
            if self.file_backend.isfile(path):
                self.file_backend.remove(path)
            elif self.file_backend.isdir(path):  # checkpoints saved by deepspeed are folders
                self.file_backend.rmtree(path)
