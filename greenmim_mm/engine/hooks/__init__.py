from .reconstruction_hook import (ReconstructionVisHook, reconstruct_batch,
                                  reconstruction_panels)

__all__ = ['ReconstructionVisHook', 'reconstruct_batch', 'reconstruction_panels']
