from .nonfinite import (NonFiniteSkipAmpOptimWrapper, NonFiniteSkipCpuAmpOptimWrapper,
                        NonFiniteSkipMixin, NonFiniteSkipOptimWrapper, NonFiniteStepError)

__all__ = [
    'NonFiniteSkipMixin', 'NonFiniteSkipOptimWrapper', 'NonFiniteSkipAmpOptimWrapper',
    'NonFiniteSkipCpuAmpOptimWrapper', 'NonFiniteStepError'
]
