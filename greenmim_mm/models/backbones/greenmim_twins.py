"""Twins (PCPVT and SVT) that compute only the visible tokens of a masked image (GreenMIM)."""
from typing import List, NamedTuple, Optional

import torch
import torch.nn.functional as F
from mmpretrain.models.backbones.twins import (PCPVT, SVT, GlobalSubsampledAttention,
                                               LocallyGroupedSelfAttention)
from mmpretrain.registry import MODELS
from torch import nn

from ..utils.precision.lean_ops import layer_norm_ffn_branch
from ..utils.sparse.conv import depthwise_conv_tokens, patch_conv_pixels, strided_conv_tokens
from ..utils.sparse.geometry import MaskGeometry, StageTokens, neighbour_index
from ..utils.sparse.grouping import GroupLayout
from .sparse_backbone import SparseMIMBackboneMixin, sparse_window_attention


class TwinsStagePlan(NamedTuple):
    """Index geometry of one Twins stage for one masked forward.

    Attributes:
        tokens (StageTokens): visible tokens of the stage.
        embed_index (Tensor): stage 0: (N,) or (B, N) row-major index of the visible
            patches; later stages: (N, k*k) or (B, N, k*k) children among the previous
            stage's visible tokens (:func:`merge_index`, k = the embedding's stride).
        pos_neighbours (Tensor): (N, 9) or (B, N, 9) 3x3 neighbourhoods for the position
            encoding (:func:`neighbour_index`).
        sr_children (Tensor | None): (N_sr, sr*sr) or (B, N_sr, sr*sr) children of each
            visible spatial-reduction cell, None when the stage has no GSA with sr > 1.
        window_layout (GroupLayout | None): packing of the locally-grouped windows (SVT),
            None when the stage has none.
    """
    tokens: StageTokens
    embed_index: torch.Tensor
    pos_neighbours: torch.Tensor
    sr_children: Optional[torch.Tensor]
    window_layout: Optional[GroupLayout]


@MODELS.register_module()
class GreenMIMPCPVT(SparseMIMBackboneMixin, PCPVT):
    """Twins-PCPVT for GreenMIM: every layer runs on the visible tokens only.

    `Green Hierarchical Vision Transformer for Masked Image Modeling
    <https://arxiv.org/abs/2205.13515>`_ on `Twins
    <https://arxiv.org/abs/2104.13840>`_.

    Same constructor arguments, parameters and ``state_dict`` as mmpretrain's :class:`PCPVT`;
    ``forward(x)`` is the dense parent forward. ``forward(x, mask)`` equals the dense model in
    which masked tokens do not exist:

    - patch embeddings (kernel = stride) are evaluated at visible positions only;
    - the 3x3 depthwise position encoding sees masked neighbours as zeros;
    - each global sub-sampled attention's reduction convolution (kernel = stride = sr; one
      32-px unit at every stage with sr 8/4/2/1) produces keys from visible cells only;
    - (SVT) the locally-grouped windows attend among their visible tokens only, packed into
      groups as in the Swin encoder; padding positions do not exist.

    The mask unit is the total stride (32 px for the 4-stage archs); every spatial-reduction
    cell must divide it, so that cells are fully visible or fully masked. The input size is
    free (position encodings are convolutional): ``default_img_size`` is None.
    """

    @property
    def stage_strides(self) -> List[int]:
        """Input pixels per token of each stage: the cumulative patch-embedding strides."""
        out, total = [], 1
        for stride in self.strides:
            total *= int(stride)
            out.append(total)
        return out

    def sparse_forward(self, x: torch.Tensor, plan: List[TwinsStagePlan]) -> tuple:
        """Every layer on the visible tokens (see :class:`SparseMIMBackboneMixin`).

        Args:
            x (Tensor): (B, 3, H, W) images, H and W multiples of :attr:`mask_unit`.
            plan (list[TwinsStagePlan]): :meth:`sparse_plan` of the mask, on ``x``'s device.

        Returns:
            tuple[Tensor]: one (B, N_visible_s, C_s) tensor per ``out_indices`` stage (after
            that stage's ``norm_after_stage``), tokens in row-major order of the visible
            positions.
        """
        outs = []
        for i, stage_plan in enumerate(plan):
            x = self._sparse_patch_embed(i, x, stage_plan.embed_index)  # (B, N_i, C_i)
            x = self.position_encoding_drops[i](x)
            for j, block in enumerate(self.stages[i]):
                x = self._sparse_block(block, x, stage_plan)
                if j == 0:  # ConditionalPositionEncoding (stride 1): x + dwconv3x3(x)
                    x = x + depthwise_conv_tokens(x, stage_plan.pos_neighbours,
                                                  self.position_encodings[i].proj)
            x = getattr(self, f'norm_after_stage{i}')(x)
            if i in self.out_indices:
                outs.append(x)
        return tuple(outs)

    def sparse_plan(self, geometry: MaskGeometry) -> List[TwinsStagePlan]:
        """Index geometry of every stage (see :meth:`SparseMIMBackboneMixin.sparse_plan`).

        Args:
            geometry (MaskGeometry): the geometry of the mask.

        Returns:
            list[TwinsStagePlan]: one per stage.
        """
        if any(pe.stride != 1 for pe in self.position_encodings):
            raise NotImplementedError('the sparse Twins forward needs stride-1 position '
                                      'encodings (the PEG of PCPVT / SVT)')
        plans = []
        for i in range(len(self.stages)):
            tokens = geometry.tokens(i)
            if i == 0:
                embed_index = tokens.flat_index
            else:
                embed_index = geometry.children(i - 1, int(self.strides[i]))
            sr_children = window_layout = None
            for block in self.stages[i]:
                attn = block.attn
                if isinstance(attn, GlobalSubsampledAttention) and attn.sr_ratio > 1:
                    if sr_children is None:
                        sr_children = self._sr_children(geometry, i, attn.sr_ratio)
                elif isinstance(attn, LocallyGroupedSelfAttention) and window_layout is None:
                    window_layout = geometry.window_layout(i, attn.window_size)
            plans.append(
                TwinsStagePlan(tokens, embed_index, neighbour_index(tokens, 3), sr_children,
                               window_layout))
        return plans

    def _sr_children(self, geometry: MaskGeometry, stage: int, sr: int) -> torch.Tensor:
        """Children of the visible spatial-reduction cells of a stage."""
        scale = geometry.tokens_per_unit[stage]
        if scale % sr:
            raise ValueError(
                f'{type(self).__name__}: stage {stage} has sr_ratio {sr}, but its cells of '
                f'{sr}x{sr} tokens do not tile the {self.mask_unit}-px mask unit ({scale}x'
                f'{scale} tokens), so a cell could mix visible and masked tokens. Use '
                f'sr_ratios that divide {scale} at this stage.')
        return geometry.children(stage, sr)

    def _sparse_patch_embed(self, i: int, x: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
        """mmcv ``PatchEmbed`` of stage ``i`` at its visible tokens: (B, N_i, C_i).

        Stage 0 reads pixels (x is (B, 3, H, W)); later stages read the previous stage's
        visible tokens (x is (B, N_{i-1}, C_{i-1})). Sides are multiples of the stride, so
        the embedding's corner padding is empty.
        """
        embed = self.patch_embeds[i]
        if i == 0:
            x = patch_conv_pixels(x, index, embed.projection)  # (B, N_0, C_0)
        else:
            x = strided_conv_tokens(x, index, embed.projection)  # (B, N_i, C_i)
        if embed.norm is not None:
            x = embed.norm(x)
        return x

    def _sparse_block(self, block, x: torch.Tensor, plan: TwinsStagePlan) -> torch.Tensor:
        """One GSA or LSA encoder layer on the visible tokens: (B, N, C) -> (B, N, C)."""
        attn = block.attn
        if isinstance(attn, LocallyGroupedSelfAttention):
            lsa = sparse_window_attention(x, block.norm1, attn, plan.window_layout)  # (B, N, C)
            x = x + block.drop_path(lsa)
        elif isinstance(attn, GlobalSubsampledAttention):
            x = x + block.drop_path(_sparse_gsa(attn, block.norm1(x), plan.sr_children))
        else:
            raise NotImplementedError(f'no sparse forward for {type(attn).__name__}')
        return x + block.drop_path(layer_norm_ffn_branch(x, block.norm2, block.ffn))


@MODELS.register_module()
class GreenMIMSVT(GreenMIMPCPVT, SVT):
    """Twins-SVT for GreenMIM: every layer runs on the visible tokens only.

    `Green Hierarchical Vision Transformer for Masked Image Modeling
    <https://arxiv.org/abs/2205.13515>`_ on `Twins <https://arxiv.org/abs/2104.13840>`_.

    Same constructor arguments, parameters and ``state_dict`` as mmpretrain's :class:`SVT`
    (the method resolution order puts ``SVT`` after :class:`GreenMIMPCPVT` and its
    :class:`SparseMIMBackboneMixin`, before ``PCPVT``, so ``SVT.__init__`` and its
    ``arch_zoo`` are used); the sparse forward is
    :class:`GreenMIMPCPVT`'s, whose locally-grouped windows (7x7 tokens, not aligned with the
    mask units) attend among their visible tokens only, without padding tokens.

    Note: mmpretrain 1.2's dense ``LocallyGroupedSelfAttention`` keeps padding tokens apart
    only when both the right and the bottom pad are non-zero (with ``pad_b == 0``,
    ``mask[:, -pad_b:]`` marks the whole map); on a grid padded along one side only, the dense
    model lets real tokens attend the zero padding tokens, the sparse forward does not.
    """


def _sparse_gsa(attn: GlobalSubsampledAttention, x: torch.Tensor,
                sr_children: Optional[torch.Tensor]) -> torch.Tensor:
    """Global sub-sampled attention of normed visible tokens: (B, N, C) -> (B, N, C).

    Queries are the visible tokens; keys and values come from the visible reduction cells
    (kernel = stride = sr), or from the visible tokens themselves when sr = 1.
    """
    if getattr(attn, 'v_shortcut', False):
        raise NotImplementedError('the sparse Twins forward does not support v_shortcut')
    B, N, C = x.shape
    nH = attn.num_heads
    q = attn.q(x).view(B, N, nH, -1).transpose(1, 2)  # (B, nH, N, hd)
    if attn.sr_ratio > 1:
        cells = attn.norm(strided_conv_tokens(x, sr_children, attn.sr))  # (B, N_sr, C)
    else:
        cells = x
    kv = attn.kv(cells).view(B, cells.shape[1], 2, nH, -1).permute(2, 0, 3, 1, 4)
    k, v = kv.unbind(0)  # each (B, nH, N_sr, hd)
    out = _gsa_attention(attn, q, k, v)  # (B, nH, N, hd)
    out = out.transpose(1, 2).reshape(B, N, C)  # (B, N, C)
    return attn.out_drop(attn.proj_drop(attn.proj(out)))


def _gsa_attention(attn: GlobalSubsampledAttention, q: torch.Tensor, k: torch.Tensor,
                   v: torch.Tensor) -> torch.Tensor:
    """The attention kernel of ``attn`` with its dropout: (B, nH, N, hd).

    mmpretrain 1.2 calls ``attn.scaled_dot_product_attention`` with ``attn.attn_drop`` (a
    float); earlier versions wrote the softmax with ``attn.scale`` and an ``nn.Dropout``.
    """
    drop = attn.attn_drop
    p = drop.p if isinstance(drop, nn.Module) else float(drop)
    p = p if attn.training else 0.
    kernel = getattr(attn, 'scaled_dot_product_attention', None)
    if kernel is not None:
        return kernel(q, k, v, dropout_p=p)
    return F.scaled_dot_product_attention(q, k, v, dropout_p=p, scale=attn.scale)
