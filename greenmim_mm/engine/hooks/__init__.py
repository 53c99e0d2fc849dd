"""Hooks, registered in mmengine's root ``HOOKS`` registry (every scope finds them)."""
from .atomic_checkpoint import AtomicCheckpointHook
from .checkpoint_check import CheckpointCompatibilityHook
from .dist_loss_hook import DistLossAverageHook
from .reconstruction_hook import ReconstructionVisHook, reconstruct_batch, reconstruction_panels

__all__ = [
    'AtomicCheckpointHook', 'CheckpointCompatibilityHook', 'DistLossAverageHook',
    'ReconstructionVisHook', 'reconstruct_batch', 'reconstruction_panels'
]
