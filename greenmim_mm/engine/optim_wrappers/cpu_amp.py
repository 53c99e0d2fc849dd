"""Workaround: mixed precision on CPU, bfloat16 autocast without a GPU assertion.

Upstream behaviour (mmengine <= 0.10.7): ``AmpOptimWrapper.__init__`` asserts that a GPU (or
NPU/MLU/MUSA) is present, although its autocast context supports CPU with
``dtype=torch.bfloat16``. This subclass skips the assertion and the loss scaler (bfloat16 has
float32's exponent range, so no loss scaling is needed); everything else, checkpoints
included, is ``AmpOptimWrapper``'s. It is switched on only where CUDA is absent:
``tools/train.py --amp`` picks it then, ``AmpOptimWrapper`` otherwise.
``tests/engine/optim_wrappers/test_cpu_amp.py`` fails once ``AmpOptimWrapper`` builds on a
CPU-only machine.
"""
import torch
from mmengine.optim import AmpOptimWrapper, OptimWrapper
from mmengine.registry import OPTIM_WRAPPERS


@OPTIM_WRAPPERS.register_module()
class CpuAmpOptimWrapper(AmpOptimWrapper):
    """``AmpOptimWrapper`` for CPU training under bfloat16 autocast.

    Use it as ``optim_wrapper=dict(type='CpuAmpOptimWrapper', optimizer=...)`` (registered in
    mmengine's root registry, so configs of every scope find it); ``tools/train.py --amp``
    picks it when CUDA is not available.

    Args:
        dtype (str | torch.dtype): Autocast dtype; only bfloat16 is supported on CPU.
            Defaults to 'bfloat16'.
        loss_scale (str | float | dict, optional): Accepted for config compatibility with
            ``AmpOptimWrapper`` and ignored. Defaults to None.
        **kwargs: ``OptimWrapper`` arguments (``optimizer``, ``accumulative_counts``,
            ``clip_grad``).
    """

    def __init__(self, dtype='bfloat16', loss_scale=None, **kwargs) -> None:
        OptimWrapper.__init__(self, **kwargs)
        if isinstance(dtype, str):
            dtype = getattr(torch, dtype)
        assert dtype == torch.bfloat16, \
            f'CPU autocast supports only torch.bfloat16, got {dtype}'
        self.cast_dtype = dtype
        self._scale_update_param = None
        # A disabled scaler is the identity: scale() returns the loss, step() calls
        # optimizer.step(), and its empty state dict round-trips through checkpoints.
        self.loss_scaler = torch.amp.GradScaler('cpu', enabled=False)
