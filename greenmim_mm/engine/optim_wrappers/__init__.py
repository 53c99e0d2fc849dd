"""Optimizer wrappers, registered in mmengine's root ``OPTIM_WRAPPERS`` registry."""
from .cpu_amp import CpuAmpOptimWrapper
from .nonfinite import (NonFiniteSkipAmpOptimWrapper, NonFiniteSkipCpuAmpOptimWrapper,
                        NonFiniteSkipMixin, NonFiniteSkipOptimWrapper, NonFiniteStepError)
from .weight_shadow import WeightShadowMixin

__all__ = [
    'CpuAmpOptimWrapper', 'NonFiniteSkipMixin', 'NonFiniteSkipOptimWrapper',
    'NonFiniteSkipAmpOptimWrapper', 'NonFiniteSkipCpuAmpOptimWrapper', 'NonFiniteStepError',
    'WeightShadowMixin'
]
