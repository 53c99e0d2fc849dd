from .greenmim_swin import GreenMIMSwinTransformer

__all__ = ['GreenMIMSwinTransformer']
