"""Which ``scaled_dot_product_attention`` kernel the dense attention of the decoder runs.

Under CPU autocast (bfloat16) torch picks its CPU flash-attention kernel, whose backward is
slow for the decoder's small attention: at Swin-B's 7 x 7 unit grid, batch 8, 16 heads of 32
channels, forward + backward take 17-20 ms against 8-12 ms for the math kernel (plain batched
matmuls and a softmax, the same accuracy against a float32 reference) on the 2-core AMD EPYC
(AVX2), and its backward alone took 32 ms of a 1.35 s step on the 2-core Xeon with AMX
(docs/en/mixed_precision.md). Elsewhere (float32, CUDA) torch's own choice stands.
"""
import contextlib

import torch
from torch.nn.attention import SDPBackend, sdpa_kernel

from .lean_ops import autocast_dtype


def decoder_attention_kernel(x: torch.Tensor):
    """A context in which ``F.scaled_dot_product_attention`` of tokens like ``x`` runs the
    math kernel under CPU autocast; a no-op otherwise.

    Args:
        x (Tensor): (B, L, C) tokens entering the attention blocks.
    """
    if x.device.type == 'cpu' and autocast_dtype(x) is not None:
        return sdpa_kernel(SDPBackend.MATH)
    return contextlib.nullcontext()
