"""Let ``torch.load(weights_only=True)`` read mmengine checkpoints.

torch >= 2.6 loads checkpoints with ``weights_only=True`` by default. mmengine 0.10.7 calls
``torch.load`` without the argument, and its checkpoints pickle more than tensors: the message
hub holds :class:`~mmengine.logging.HistoryBuffer` objects whose histories are numpy arrays,
and some runtime values are numpy scalars. Loading such a checkpoint (``--resume``, or
``load_from`` in a test) then fails with ``Unsupported global:
mmengine.logging.history_buffer.HistoryBuffer``.

Rather than turning ``weights_only`` off, :func:`register_checkpoint_safe_globals` allow-lists
exactly the classes and functions such a checkpoint references, found by saving and resuming
mmengine checkpoints (see ``tests/utils/test_checkpoint_compat.py``).
"""
import importlib
from types import ModuleType
from typing import Callable, List, Union

import numpy as np
import torch
from mmengine.logging import HistoryBuffer

# dtypes of the arrays and scalars in a message hub: float64 log histories and scalars
# (e.g. runtime_info['eta']), int64 count histories (found by saving and resuming). float32,
# int32 and bool cover numpy values logged by hooks or metrics.
_NUMPY_DTYPES = (np.float64, np.int64, np.float32, np.int32, np.bool_)


def _numpy_multiarray() -> ModuleType:
    """Return numpy's ``multiarray`` module (``numpy._core`` from numpy 2 on)."""
    if int(np.__version__.split('.')[0]) >= 2:
        return importlib.import_module('numpy._core.multiarray')
    return importlib.import_module('numpy.core.multiarray')


def checkpoint_safe_globals() -> List[Union[type, Callable]]:
    """List the globals an mmengine checkpoint pickles besides tensors.

    Returns:
        list: What ``torch.load(weights_only=True)`` needs beyond its defaults:

        - ``HistoryBuffer`` (``message_hub['log_scalars']``) and ``getattr``: the buffer's
          class-level ``_statistics_methods`` dict is pickled with it, and pickle stores the
          functions ``HistoryBuffer.min`` etc. as ``getattr(HistoryBuffer, 'min')``.
        - numpy arrays: ``multiarray._reconstruct``, ``np.ndarray``, ``np.dtype``.
        - numpy scalars (``runtime_info['eta']`` is a ``np.float64``): ``multiarray.scalar``.
        - the per-dtype classes that unpickling a dtype builds, e.g.
          ``type(np.dtype(np.float64))`` (``numpy.dtypes.Float64DType``).
    """
    multiarray = _numpy_multiarray()
    dtype_classes = [type(np.dtype(t)) for t in _NUMPY_DTYPES]
    return [
        HistoryBuffer,
        getattr,
        multiarray._reconstruct,
        multiarray.scalar,
        np.ndarray,
        np.dtype,
        *dtype_classes,
    ]


def register_checkpoint_safe_globals() -> None:
    """Allow-list mmengine's checkpoint globals for ``torch.load(weights_only=True)``.

    Idempotent: only globals not yet registered are added. A no-op on torch versions without
    ``torch.serialization.add_safe_globals`` (< 2.4), which never default to weights-only
    loading.
    """
    serialization = torch.serialization
    if not hasattr(serialization, 'add_safe_globals'):
        return
    registered = serialization.get_safe_globals()
    missing = [g for g in checkpoint_safe_globals() if g not in registered]
    if missing:
        serialization.add_safe_globals(missing)
