from .greenmim_swin import GreenMIMSwinTransformer
from .greenmim_twins import GreenMIMPCPVT, GreenMIMSVT

__all__ = ['GreenMIMSwinTransformer', 'GreenMIMPCPVT', 'GreenMIMSVT']
