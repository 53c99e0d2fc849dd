from .dense_baseline import GreenMIMDenseBaseline
from .greenmim import GreenMIM

__all__ = ['GreenMIM', 'GreenMIMDenseBaseline']
