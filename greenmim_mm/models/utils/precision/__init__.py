"""Mixed-precision machinery of the sparse backbones.

:mod:`.lean_ops` holds the memory-lean autograd functions (LayerNorm + Linear, GELU + Linear)
and the autocast helpers the group attention shares; :mod:`.shadow_store` the
reduced-precision weight copies those functions read, kept by the ``--amp`` optimizer wrappers
(:mod:`greenmim_mm.engine.optim_wrappers.weight_shadow`); :mod:`.attention_kernel` the
attention kernel of the decoder under CPU autocast.
"""
from .attention_kernel import decoder_attention_kernel
from .lean_ops import (autocast_dtype, layer_norm_ffn_branch, layer_norm_linear, layer_norm_mlp,
                       no_autocast)
from .shadow_store import WeightShadow, shadow_of

__all__ = [
    'autocast_dtype', 'no_autocast', 'layer_norm_linear', 'layer_norm_mlp', 'layer_norm_ffn_branch',
    'WeightShadow', 'shadow_of', 'decoder_attention_kernel'
]
