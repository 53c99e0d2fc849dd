from .dense_baseline import GreenMIMDenseBaseline
from .greenmim import GreenMIM, encoder_total_stride

__all__ = ['GreenMIM', 'GreenMIMDenseBaseline', 'encoder_total_stride']
