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

from ..precision.lean_ops import (autocast_dtype, bias_grad, inactive_dropout, no_autocast,
                                  param_in, plain_linear, shadowed_inputs, to_dtype)
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
    table = getattr(w_msa, 'relative_position_bias_table', None)  # ((2ws-1)^2, nH) or None
    proj = w_msa.proj
    dropout_p = w_msa.attn_drop.p if w_msa.training else 0.
    lean = (dropout_p == 0 and plain_linear(proj) and inactive_dropout(w_msa.proj_drop))
    if lean:
        return _GroupAttention.apply(qkv, table, proj.weight, proj.bias, layout, num_heads,
                                     w_msa.scale, torch.is_grad_enabled())
    # index_select, not qkv[:, idx]: its backward (index_add_) is far cheaper on CPU.
    qkv = qkv.index_select(1, _token_of_slot(layout, qkv.shape[1]))  # (B, G * gs, 3C)
    out = _sdpa_group_attention(qkv, table, layout, num_heads, w_msa.scale, dropout_p)
    out = out.index_select(1, layout.slot_index)  # (B, N, C)
    return w_msa.proj_drop(proj(out))


def _token_of_slot(layout: GroupLayout, num_tokens: int) -> torch.Tensor:
    """(G * gs,) token read by each slot; padding slots read the last token.

    Padding slots (index N in ``gather_index``) read a real token rather than an appended
    zero token, which would cost a copy of qkv: they are masked out as keys and their outputs
    are never read, so outputs are unchanged and no gradient flows back through them.
    """
    return layout.gather_index.clamp(max=num_tokens - 1)


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


def _gather_heads(qkv: torch.Tensor, layout: GroupLayout, num_heads: int) -> torch.Tensor:
    """(B, N, 3C) tokens -> q, k, v of the packed slots, (3, B, nH, G, gs, hd), contiguous.

    One ``index_select`` gathers the slots straight into the head-major layout the batched
    matmuls read, so no matmul has to copy an operand into shape.
    """
    B, N, C3 = qkv.shape
    heads = qkv.view(B, N, 3, num_heads, C3 // 3 // num_heads).permute(2, 0, 3, 1, 4)
    slots = heads.index_select(3, _token_of_slot(layout, N))  # (3, B, nH, G * gs, hd)
    return slots.view(3, B, num_heads, layout.num_groups, layout.group_size, -1)


def _head_major_bias(table: Optional[torch.Tensor], layout: GroupLayout) -> torch.Tensor:
    """(nH, G, gs, gs) relative-position bias, -inf between slots of different windows.

    Without a table: (1, G, gs, gs), 0 or -inf.
    """
    G, gs = layout.num_groups, layout.group_size
    if table is None:
        bias = torch.zeros(1, G, gs, gs, device=layout.attn_mask.device)
    else:  # ((2ws-1)^2, nH) -> (G * gs * gs, nH) -> (nH, G, gs, gs)
        bias = table.index_select(0, layout.rel_pos_index.flatten()).t().reshape(-1, G, gs, gs)
    # -inf cannot leak like Swin's -100; every row keeps its diagonal, so none is empty.
    return bias.masked_fill_(~layout.attn_mask, float('-inf'))


class _GroupAttention(Function):
    """Gather into groups, masked attention of the packed slots, read back, ``proj``;
    recomputed in backward.

    Forward and gradients are those of ``proj(softmax(q k^T * scale + bias) v)`` of each
    token's window, with the bias looked up from the table. Only the packed q, k, v are kept
    (the tokens' qkv plus the padding slots), not the (B, nH, G, gs, gs) probabilities nor the
    projection's input: backward recomputes them (small next to the linear layers). The slots
    are laid out head-major, (B, nH, G, gs, hd), so every matmul reads its operands as they
    are, and the gradient of the gather is one ``index_select`` back to the tokens (every
    token has exactly one slot; padding slots, masked as keys and never read, get no
    gradient).

    Under autocast the casts are the plain modules': the four matmuls and ``proj`` in the
    autocast dtype (q, k, v as ``qkv`` gives them, ``proj``'s weight cast), the logits plus
    the float32 bias and the softmax (and its backward) in float32, masked logits ``-inf``;
    the output is in the autocast dtype. Without autocast nothing is cast.
    """

    @staticmethod
    def _attend(q, k, v, table, layout, scale, dtype):
        """probs (B, nH, G, gs, gs), the same in the matmuls' dtype, and tokens (B, N, C)
        before ``proj``.

        ``probs`` are float32 under autocast (``dtype`` not None), else in q's dtype (and then
        the second result is ``probs`` itself).
        """
        scores = torch.matmul(q * scale, k.transpose(-2, -1))  # (B, nH, G, gs, gs)
        # Under autocast the float32 bias promotes the sum (and the softmax) to float32:
        # the same values as casting the scores first, without writing a float32 copy.
        probs = torch.softmax(scores + _head_major_bias(table, layout), dim=-1)
        del scores
        probs_mm = to_dtype(probs, dtype)
        out = torch.matmul(probs_mm, v)  # (B, nH, G, gs, hd)
        B, nH, G, gs, hd = out.shape
        # read back in token order and merge heads in one copy: (B, N, nH, hd)
        tokens = out.view(B, nH, G * gs, hd).transpose(1, 2).index_select(1, layout.slot_index)
        return probs, probs_mm, tokens.view(B, -1, nH * hd)

    @staticmethod
    def forward(ctx, qkv, table, proj_w, proj_b, layout, num_heads, scale, train):
        dtype = autocast_dtype(qkv)  # None: no casts at all
        qkv = to_dtype(qkv, dtype)  # (B, N, 3C); already so when a linear made it
        slots = _gather_heads(qkv, layout, num_heads)  # (3, B, nH, G, gs, hd)
        tokens = _GroupAttention._attend(*slots.unbind(0), table, layout, scale,
                                         dtype)[2]  # (B, N, C)
        ctx.layout, ctx.scale, ctx.dtype, ctx.qkv_shape = layout, scale, dtype, qkv.shape
        # The packed slots (qkv plus a little padding), not qkv: backward needs no gather.
        # The parameter, not its reduced-precision copy: backward reads its shadow or casts.
        ctx.save_for_backward(slots, table, proj_w)
        ctx.shadowed = shadowed = shadowed_inputs(ctx, train)
        return F.linear(tokens, param_in(proj_w, dtype, shadowed[2]),
                        param_in(proj_b, dtype, shadowed[3]))

    @staticmethod
    def backward(ctx, grad_y):
        slots, table, proj_w = ctx.saved_tensors
        layout, scale, dtype = ctx.layout, ctx.scale, ctx.dtype
        need = ctx.needs_input_grad
        with no_autocast(slots.device.type, dtype):
            grad_y = to_dtype(grad_y, dtype)
            q, k, v = slots.unbind(0)
            B, nH, G, gs, hd = q.shape
            probs, probs_mm, tokens = _GroupAttention._attend(q, k, v, table, layout, scale,
                                                              dtype)  # recomputed
            grad_y2d = grad_y.reshape(-1, grad_y.shape[-1])  # (B * N, C)
            grad_proj_w = grad_proj_b = None
            if need[2]:
                grad_proj_w = grad_y2d.t().mm(tokens.reshape(-1, tokens.shape[-1]))
                grad_proj_w = grad_proj_w.to(proj_w.dtype)
            if need[3]:
                grad_proj_b = bias_grad(grad_y2d, dtype)
            del tokens
            grad_tokens = grad_y.matmul(param_in(proj_w, dtype, ctx.shadowed[2]))  # (B, N, C)
            # Padding slots get no gradient: slot_index hits every real slot exactly once.
            grad_out = grad_tokens.new_zeros(B, nH, G * gs, hd)
            grad_out.transpose(1, 2).index_copy_(1, layout.slot_index,
                                                 grad_tokens.view(B, -1, nH, hd))
            grad_out = grad_out.view(B, nH, G, gs, hd)
            # q, k and v's gradients side by side, (3, B, nH, G, gs, hd), for one gather back
            grad_slots = grad_out.new_empty((3, ) + tuple(q.shape))
            torch.matmul(probs_mm.transpose(-2, -1), grad_out, out=grad_slots[2])
            del probs_mm
            grad_probs = torch.matmul(grad_out, v.transpose(-2, -1))  # (B, nH, G, gs, gs)
            grad_scores = torch._softmax_backward_data(
                grad_probs.to(probs.dtype), probs, -1, probs.dtype)  # float32 under autocast
            del probs, grad_probs
            grad_table = None
            if table is not None and need[1]:
                grad_bias = grad_scores.sum(0).view(nH, -1)  # (nH, G * gs * gs)
                grad_table = torch.zeros_like(table.t()).index_add_(1,
                                                                    layout.rel_pos_index.flatten(),
                                                                    grad_bias.to(table.dtype)).t()
            grad_scores = to_dtype(grad_scores, dtype)
            torch.matmul(grad_scores, k, out=grad_slots[0]).mul_(scale)
            torch.matmul(grad_scores.transpose(-2, -1), q, out=grad_slots[1]).mul_(scale)
            del grad_scores
            # slots -> tokens: (3, B, nH, G * gs, hd) -> (B, N, 3, nH, hd)
            grad_qkv = grad_slots.view(3, B, nH, G * gs, hd).permute(1, 3, 0, 2, 4).index_select(
                1, layout.slot_index).view(ctx.qkv_shape)
        return grad_qkv, grad_table, grad_proj_w, grad_proj_b, None, None, None, None
