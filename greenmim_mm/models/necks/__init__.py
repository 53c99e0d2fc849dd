from .greenmim_decoder import GreenMIMPretrainDecoder, sincos_pos_embed_2d

__all__ = ['GreenMIMPretrainDecoder', 'sincos_pos_embed_2d']
