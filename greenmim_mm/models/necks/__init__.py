from .greenmim_decoder import (POS_EMBED_LAYOUTS, GreenMIMPretrainDecoder, mae_sincos_pos_embed_2d,
                               sincos_pos_embed_2d)

__all__ = [
    'GreenMIMPretrainDecoder', 'sincos_pos_embed_2d', 'mae_sincos_pos_embed_2d', 'POS_EMBED_LAYOUTS'
]
