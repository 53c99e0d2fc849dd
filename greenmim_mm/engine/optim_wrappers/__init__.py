"""Optimizer wrappers, registered in mmengine's root ``OPTIM_WRAPPERS`` registry."""
from .cpu_amp import CpuAmpOptimWrapper
from .merged_groups import MergedGroupsOptimWrapperConstructor, merge_param_groups
from .nonfinite import (NonFiniteSkipAmpOptimWrapper, NonFiniteSkipCpuAmpOptimWrapper,
                        NonFiniteSkipMixin, NonFiniteSkipOptimWrapper, NonFiniteStepError)
from .weight_shadow import WeightShadowMixin

__all__ = [
    'CpuAmpOptimWrapper', 'MergedGroupsOptimWrapperConstructor', 'merge_param_groups',
    'NonFiniteSkipMixin', 'NonFiniteSkipOptimWrapper', 'NonFiniteSkipAmpOptimWrapper',
    'NonFiniteSkipCpuAmpOptimWrapper', 'NonFiniteStepError', 'WeightShadowMixin'
]
