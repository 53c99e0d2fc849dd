"""Group window attention: window attention of a Swin block on packed sparse tokens."""
import torch
import torch.nn.functional as F
from mmpretrain.models.utils.attention import WindowMSA

from .grouping import GroupLayout


def group_window_attention(w_msa: WindowMSA, x: torch.Tensor,
                           layout: GroupLayout) -> torch.Tensor:
    """Run ``w_msa`` (an mmpretrain ``WindowMSA``) on tokens packed by ``layout``.

    Linear layers run on the ``N`` real tokens only; the grouping gathers q, k and v into
    ``(G, gs)`` slots, attention is masked so that tokens of different windows never meet,
    and the relative position bias is looked up by each pair's original coordinates.

    Args:
        w_msa (WindowMSA): the block's attention module (its weights are used as they are).
        x (Tensor): (B, N, C) tokens that share ``layout``.
        layout (GroupLayout): grouping of the N tokens.

    Returns:
        Tensor: (B, N, C) attention output (after ``proj`` and ``proj_drop``).
    """
    B, N, C = x.shape
    num_heads = w_msa.num_heads
    G, gs = layout.num_groups, layout.group_size

    qkv = w_msa.qkv(x)  # (B, N, 3C)
    qkv = F.pad(qkv, (0, 0, 0, 1))  # (B, N + 1, 3C): slot index N is the padding token
    qkv = qkv[:, layout.gather_index]  # (B, G * gs, 3C)
    qkv = qkv.view(B, G, gs, 3, num_heads, C // num_heads)
    q, k, v = qkv.permute(3, 0, 1, 4, 2, 5).unbind(0)  # each (B, G, nH, gs, hd)

    bias = w_msa.relative_position_bias_table[layout.rel_pos_index]  # (G, gs, gs, nH)
    bias = bias.permute(0, 3, 1, 2)  # (G, nH, gs, gs)
    # -inf cannot leak like Swin's -100; every row keeps its diagonal, so none is empty.
    bias = bias.masked_fill(~layout.attn_mask.unsqueeze(1), float('-inf'))
    dropout_p = w_msa.attn_drop.p if w_msa.training else 0.
    out = F.scaled_dot_product_attention(
        q, k, v, attn_mask=bias.to(q.dtype), dropout_p=dropout_p,
        scale=w_msa.scale)  # (B, G, nH, gs, hd)

    out = out.permute(0, 1, 3, 2, 4).reshape(B, G * gs, C)  # (B, G * gs, C)
    out = out[:, layout.slot_index]  # (B, N, C)
    out = w_msa.proj(out)
    return w_msa.proj_drop(out)
