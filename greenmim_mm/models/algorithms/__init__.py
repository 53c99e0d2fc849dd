from .greenmim import GreenMIM, encoder_total_stride

__all__ = ['GreenMIM', 'encoder_total_stride']
