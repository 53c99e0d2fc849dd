from .greenmim_swin import GreenMIMSwinTransformer
from .greenmim_twins import GreenMIMPCPVT, GreenMIMSVT
from .sparse_backbone import (SparseMIMBackboneMixin, check_sparse_backbone,
                              registered_sparse_backbones, sparse_window_attention)

__all__ = [
    'GreenMIMSwinTransformer', 'GreenMIMPCPVT', 'GreenMIMSVT', 'SparseMIMBackboneMixin',
    'check_sparse_backbone', 'registered_sparse_backbones', 'sparse_window_attention'
]
