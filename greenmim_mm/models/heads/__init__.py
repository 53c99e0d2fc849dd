from .greenmim_head import GreenMIMPretrainHead

__all__ = ['GreenMIMPretrainHead']
