"""Group window attention on packed sparse tokens: Swin's window attention, Twins' locally
grouped attention.

Windows of unequal visible-token counts are packed into groups of equal size (see
:mod:`.grouping`); attention is masked so that tokens of different windows never meet, with
Swin's relative position bias looked up by each pair's original coordinates (Twins has none).
"""
from typing import Optional

import torch
import torch.nn.functional as F
from mmpretrain.models.utils.attention import WindowMSA
from torch.autograd import Function

from ..precision.lean_ops import (autocast_dtype, inactive_dropout, no_autocast, param_in,
                                  plain_linear, shadowed_inputs, to_dtype)
from .grouping import GroupLayout


def group_window_attention(w_msa: WindowMSA, x: torch.Tensor, layout: GroupLayout) -> torch.Tensor:
    """Run ``w_msa`` (an mmpretrain ``WindowMSA``) on tokens packed by ``layout``.

    Linear layers run on the ``N`` real tokens only; the grouping gathers q, k and v into
    ``(G, gs)`` slots, attention is masked so that tokens of different windows never meet,
    and the relative position bias is looked up by each pair's original coordinates.

    Args:
        w_msa (WindowMSA): the block's attention module (its weights are used as they are).
            Any module with ``qkv``, ``proj``, ``proj_drop``, ``attn_drop``, ``num_heads``
            and ``scale`` works; without a ``relative_position_bias_table`` (e.g. Twins'
            ``LocallyGroupedSelfAttention``) no bias is added.
        x (Tensor): (B, N, C) tokens that share ``layout``.
        layout (GroupLayout): grouping of the N tokens.

    Returns:
        Tensor: (B, N, C) attention output (after ``proj`` and ``proj_drop``).
    """
    return group_window_attention_qkv(w_msa, w_msa.qkv(x), layout)


def group_window_attention_qkv(w_msa: WindowMSA, qkv: torch.Tensor,
                               layout: GroupLayout) -> torch.Tensor:
    """:func:`group_window_attention` from the tokens' ``w_msa.qkv`` output, (B, N, 3C)."""
    num_heads = w_msa.num_heads
    # Padding slots (index N) read token 0 rather than an appended zero token, which would
    # cost a copy of qkv: they are masked out as keys and their outputs are never read, so
    # outputs are unchanged and the gradient they send to token 0 is exactly zero.
    gather = layout.gather_index.masked_fill(layout.gather_index == qkv.shape[1], 0)
    # index_select, not qkv[:, idx]: its backward (index_add_) is far cheaper on CPU.
    qkv = qkv.index_select(1, gather)  # (B, G * gs, 3C)
    table = getattr(w_msa, 'relative_position_bias_table', None)  # ((2ws-1)^2, nH) or None
    proj = w_msa.proj
    dropout_p = w_msa.attn_drop.p if w_msa.training else 0.
    lean = (dropout_p == 0 and plain_linear(proj) and inactive_dropout(w_msa.proj_drop))
    if lean:
        return _GroupAttention.apply(qkv, table, proj.weight, proj.bias, layout, num_heads,
                                     w_msa.scale, torch.is_grad_enabled())
    out = _sdpa_group_attention(qkv, table, layout, num_heads, w_msa.scale, dropout_p)
    out = out.index_select(1, layout.slot_index)  # (B, N, C)
    return w_msa.proj_drop(proj(out))


def _split_heads(qkv: torch.Tensor, layout: GroupLayout, num_heads: int):
    """(B, G * gs, 3C) -> q, k, v, each (B, G, nH, gs, hd)."""
    B, _, C3 = qkv.shape
    qkv = qkv.view(B, layout.num_groups, layout.group_size, 3, num_heads, C3 // 3 // num_heads)
    return qkv.permute(3, 0, 1, 4, 2, 5).unbind(0)


def _merge_heads(out: torch.Tensor) -> torch.Tensor:
    """(B, G, nH, gs, hd) -> (B, G * gs, C)."""
    B, G, nH, gs, hd = out.shape
    return out.permute(0, 1, 3, 2, 4).reshape(B, G * gs, nH * hd)


def _masked_bias(table: Optional[torch.Tensor], layout: GroupLayout) -> torch.Tensor:
    """(G, nH, gs, gs) relative-position bias, -inf between slots of different windows.

    Without a table: (G, 1, gs, gs), 0 or -inf.
    """
    G, gs = layout.num_groups, layout.group_size
    if table is None:
        bias = torch.zeros(G, 1, gs, gs, device=layout.attn_mask.device)
        return bias.masked_fill(~layout.attn_mask.unsqueeze(1), float('-inf'))
    bias = table.index_select(0, layout.rel_pos_index.flatten()).view(G, gs, gs, -1)
    bias = bias.permute(0, 3, 1, 2)  # (G, nH, gs, gs)
    # -inf cannot leak like Swin's -100; every row keeps its diagonal, so none is empty.
    return bias.masked_fill(~layout.attn_mask.unsqueeze(1), float('-inf'))


def _sdpa_group_attention(qkv, table, layout, num_heads, scale, dropout_p) -> torch.Tensor:
    """Attention of the packed slots with ``scaled_dot_product_attention``: (B, G * gs, C).

    Used with attention dropout; autograd then keeps the attention probabilities for
    backward.
    """
    q, k, v = _split_heads(qkv, layout, num_heads)  # each (B, G, nH, gs, hd)
    bias = _masked_bias(table, layout)
    out = F.scaled_dot_product_attention(
        q, k, v, attn_mask=bias.to(q.dtype), dropout_p=dropout_p, scale=scale)
    return _merge_heads(out)


def _slot_group_pos(layout: GroupLayout):
    """(group, position) of each token's slot, each (N,)."""
    return layout.slot_index // layout.group_size, layout.slot_index % layout.group_size


class _GroupAttention(Function):
    """Masked attention of the packed slots plus ``proj``, recomputed in backward.

    Forward and gradients are those of ``proj(softmax(q k^T * scale + bias) v)`` read back
    in token order, with the bias looked up from the table. Only the packed q, k, v (which
    the gather produced anyway) are kept, not the (B, G, nH, gs, gs) probabilities nor the
    projection's input: backward recomputes both (small next to the linear layers).

    Under autocast the casts are the plain modules': the four matmuls and ``proj`` in the
    autocast dtype (q, k, v as ``qkv`` gives them, ``proj``'s weight cast), the logits plus
    the float32 bias and the softmax (and its backward) in float32, masked logits ``-inf``;
    the output is in the autocast dtype. Without autocast nothing is cast.
    """

    @staticmethod
    def _attend(q, k, v, table, layout, scale, dtype):
        """probs (B, G, nH, gs, gs), the same in the matmuls' dtype, and tokens (B, N, C)
        before ``proj``.

        ``probs`` are float32 under autocast (``dtype`` not None), else in q's dtype (and then
        the second result is ``probs`` itself).
        """
        scores = torch.matmul(q * scale, k.transpose(-2, -1))  # (B, G, nH, gs, gs)
        # Under autocast the float32 bias promotes the sum (and the softmax) to float32:
        # the same values as casting the scores first, without writing a float32 copy.
        probs = torch.softmax(scores + _masked_bias(table, layout), dim=-1)
        del scores
        probs_mm = to_dtype(probs, dtype)
        out = torch.matmul(probs_mm, v).transpose(2, 3)  # (B, G, gs, nH, hd)
        group, pos = _slot_group_pos(layout)
        tokens = out[:, group, pos]  # (B, N, nH, hd): read back and merge heads in one copy
        return probs, probs_mm, tokens.flatten(2)

    @staticmethod
    def forward(ctx, qkv, table, proj_w, proj_b, layout, num_heads, scale, train):
        dtype = autocast_dtype(qkv)  # None: no casts at all
        qkv = to_dtype(qkv, dtype)  # (B, G * gs, 3C); already so when a linear made it
        q, k, v = _split_heads(qkv, layout, num_heads)
        tokens = _GroupAttention._attend(q, k, v, table, layout, scale, dtype)[2]  # (B, N, C)
        ctx.layout, ctx.num_heads, ctx.scale = layout, num_heads, scale
        ctx.dtype = dtype
        # The parameter, not its reduced-precision copy: backward reads its shadow or casts.
        ctx.save_for_backward(qkv, table, proj_w)
        ctx.shadowed = shadowed = shadowed_inputs(ctx, train)
        return F.linear(tokens, param_in(proj_w, dtype, shadowed[2]),
                        param_in(proj_b, dtype, shadowed[3]))

    @staticmethod
    def backward(ctx, grad_y):
        qkv, table, proj_w = ctx.saved_tensors
        layout, scale, dtype = ctx.layout, ctx.scale, ctx.dtype
        need = ctx.needs_input_grad
        with no_autocast(qkv.device.type, dtype):
            grad_y = to_dtype(grad_y, dtype)
            q, k, v = _split_heads(qkv, layout, ctx.num_heads)
            B, G, nH, gs, hd = q.shape
            probs, probs_mm, tokens = _GroupAttention._attend(q, k, v, table, layout, scale,
                                                              dtype)  # recomputed
            grad_y2d = grad_y.reshape(-1, grad_y.shape[-1])  # (B * N, C)
            grad_proj_w = grad_proj_b = None
            if need[2]:
                grad_proj_w = grad_y2d.t().mm(tokens.reshape(-1, tokens.shape[-1]))
                grad_proj_w = grad_proj_w.to(proj_w.dtype)
            if need[3]:
                grad_proj_b = (
                    grad_y2d.sum(0) if dtype is None else grad_y2d.sum(0, dtype=torch.float32))
            del tokens
            grad_tokens = grad_y.matmul(param_in(proj_w, dtype, ctx.shadowed[2]))  # (B, N, C)
            # Padding slots get no gradient: slot_index hits every real slot exactly once.
            grad_out = grad_tokens.new_zeros(B, G, nH, gs, hd)
            group, pos = _slot_group_pos(layout)
            grad_out.transpose(2, 3)[:, group, pos] = grad_tokens.view(B, -1, nH, hd)
            grad_v = torch.matmul(probs_mm.transpose(-2, -1), grad_out)
            del probs_mm
            grad_probs = torch.matmul(grad_out, v.transpose(-2, -1))  # (B, G, nH, gs, gs)
            grad_scores = torch._softmax_backward_data(
                grad_probs.to(probs.dtype), probs, -1, probs.dtype)  # float32 under autocast
            del probs, grad_probs
            grad_table = None
            if table is not None and need[1]:
                grad_bias = grad_scores.sum(0).permute(0, 2, 3, 1).reshape(-1, nH)  # (G*gs*gs, nH)
                grad_table = torch.zeros_like(table).index_add_(0, layout.rel_pos_index.flatten(),
                                                                grad_bias.to(table.dtype))
            grad_scores = to_dtype(grad_scores, dtype)
            grad_q = torch.matmul(grad_scores, k).mul_(scale)
            grad_k = torch.matmul(grad_scores.transpose(-2, -1), q).mul_(scale)
            grad_qkv = torch.stack((grad_q, grad_k, grad_v))  # (3, B, G, nH, gs, hd)
            grad_qkv = grad_qkv.permute(1, 2, 4, 0, 3, 5).reshape(qkv.shape)
        return grad_qkv, grad_table, grad_proj_w, grad_proj_b, None, None, None, None
