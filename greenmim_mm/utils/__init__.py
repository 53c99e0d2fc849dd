"""Runtime helpers for the tools: checkpoint loading, CPU mixed precision and CPU launches."""
from . import convert  # noqa: F401  (checkpoint conversion, tools/convert_checkpoint.py)
from .checkpoint_compat import register_checkpoint_safe_globals
from .cpu_amp import CpuAmpOptimWrapper
from .cpu_dist import setup_cpu_distributed

__all__ = [
    'register_checkpoint_safe_globals', 'CpuAmpOptimWrapper', 'setup_cpu_distributed'
]
