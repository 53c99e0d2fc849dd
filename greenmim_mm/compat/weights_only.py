"""Workaround: let ``torch.load(weights_only=True)`` read mmengine checkpoints.

Upstream behaviour (torch >= 2.6 with mmengine <= 0.10.7): torch loads checkpoints with
``weights_only=True`` by default, and mmengine's ``CheckpointLoader`` calls ``torch.load``
without the argument, while its checkpoints pickle more than tensors: the message hub holds
:class:`~mmengine.logging.HistoryBuffer` objects whose histories are numpy arrays, and some
runtime values are numpy scalars. Every loader of such a checkpoint (``--resume``, mmdet's and
mmpretrain's ``tools/test.py``, ``DetInferencer``, ``init_detector``) then fails with
``Unsupported global: mmengine.logging.history_buffer.HistoryBuffer``.

Rather than turning ``weights_only`` off, :func:`register_checkpoint_safe_globals` allow-lists
exactly the classes and functions such a checkpoint references (found by saving and resuming
mmengine checkpoints). ``import greenmim_mm`` calls it where the behaviour exists
(:data:`NEEDED`). ``tests/compat/test_weights_only.py`` fails when mmengine's loader reads its
own checkpoints without help, i.e. when this module can go.
"""
import importlib
from types import ModuleType
from typing import Callable, List, Union

import numpy as np
import torch
from mmengine.logging import HistoryBuffer
from mmengine.utils import digit_version

#: torch >= 2.6 defaults to ``weights_only=True``; older releases load anything.
NEEDED = digit_version(torch.__version__.split('+')[0]) >= digit_version('2.6.0')

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
