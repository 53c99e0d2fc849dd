"""Workarounds of upstream limits, one module each, each to be deleted when upstream changes.

=====================  ==========================================  ===========================
module                 upstream behaviour worked around            switched on
=====================  ==========================================  ===========================
``weights_only``       torch >= 2.6 loads with ``weights_only``;   ``import greenmim_mm``, on
                       mmengine 0.10.7 checkpoints pickle          torch >= 2.6
                       ``HistoryBuffer`` and numpy values
``cpu_dist``           mmengine 0.10.7 launchers assume CUDA       ``--launcher`` without CUDA
                       (NCCL, ``cuda.set_device``, DDP devices)
``checkpoint_order``   mmengine 0.10.7 ``CheckpointHook`` deletes  ``AtomicCheckpointHook`` on
                       the oldest checkpoint before saving         mmengine <= 0.10.7
``gloo_exit``          gloo threads outlive                        end of a tool's gloo run
                       ``destroy_process_group``; exit-time
                       teardown can abort a finished rank
``swin_v1_keys``       mmpretrain 1.2.0 upgrades v1 Swin keys      ``GreenMIMSwinTransformer``
                       (``norm.*``) only for ``SwinTransformer``   loading, mmpretrain <= 1.2.0
                       itself, not for subclasses
=====================  ==========================================  ===========================

Each has a test under ``tests/compat/`` that checks the upstream behaviour itself and fails
the day it changes, so the workaround can be removed.
"""
from . import weights_only
from .cpu_dist import setup_cpu_distributed
from .gloo_exit import close_distributed, exit_finished_rank
from .weights_only import register_checkpoint_safe_globals

if weights_only.NEEDED:
    register_checkpoint_safe_globals()

__all__ = [
    'close_distributed', 'exit_finished_rank', 'register_checkpoint_safe_globals',
    'setup_cpu_distributed'
]
