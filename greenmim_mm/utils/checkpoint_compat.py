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
from typing import Callable, List, Union

import numpy as np
import torch
from mmengine.logging import HistoryBuffer

# Numeric dtypes a message hub can hold: float64 histories (``np.append`` promotes counts),
# int64/int32/float32/bool arrays or scalars from hooks that log numpy values.
_NUMPY_DTYPES = (np.float64, np.float32, np.float16, np.int64, np.int32, np.bool_)


def _numpy_multiarray() -> object:
    """Return numpy's ``multiarray`` module (``numpy._core`` from numpy 2 on)."""
    core = getattr(np, '_core', None) or np.core
    return core.multiarray


def checkpoint_safe_globals() -> List[Union[type, Callable]]:
    """List the globals an mmengine checkpoint pickles besides tensors.

    Returns:
        list: ``HistoryBuffer``; the numpy array and scalar reconstructors
        (``multiarray._reconstruct``, ``multiarray.scalar``), ``np.ndarray``, ``np.dtype`` and
        the per-dtype classes (``type(np.dtype(np.float64))`` and friends) that unpickling a
        dtype instantiates.
    """
    multiarray = _numpy_multiarray()
    dtype_classes = [type(np.dtype(t)) for t in _NUMPY_DTYPES]
    return [
        HistoryBuffer,
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
