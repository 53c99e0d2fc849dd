"""Swin Transformer that computes only the visible tokens of a masked image (GreenMIM)."""
from typing import Dict, List, NamedTuple, Optional, Tuple

import torch
import torch.utils.checkpoint as cp
from mmpretrain.models.backbones.swin_transformer import SwinBlock, SwinTransformer
from mmpretrain.models.utils import resize_pos_embed, to_2tuple
from mmpretrain.registry import MODELS

from ...compat import swin_v1_keys
from ..utils.precision.lean_ops import layer_norm_linear, layer_norm_mlp
from ..utils.sparse.conv import gather_children, gather_tokens as _gather_tokens
from ..utils.sparse.geometry import MaskGeometry, StageTokens
from ..utils.sparse.grouping import GroupLayout
from .sparse_backbone import SparseMIMBackboneMixin, sparse_window_attention


class SparsePlan(NamedTuple):
    """All index geometry of one masked forward, computed once before the first block.

    Attributes:
        tokens (list[StageTokens]): visible tokens of every stage.
        layouts (list[dict]): per stage, the :class:`GroupLayout` of each (window, shift)
            its blocks use.
        merges (list[Tensor | None]): per stage, the :func:`merge_index` into the next
            stage (None for the last stage).
    """
    tokens: List[StageTokens]
    layouts: List[Dict[Tuple[int, int], GroupLayout]]
    merges: List[Optional[torch.Tensor]]


@MODELS.register_module()
class GreenMIMSwinTransformer(SparseMIMBackboneMixin, SwinTransformer):
    """Swin Transformer for GreenMIM: window attention on the visible tokens only.

    `Green Hierarchical Vision Transformer for Masked Image Modeling
    <https://arxiv.org/abs/2205.13515>`_

    Same constructor arguments, parameters and ``state_dict`` as mmpretrain's
    :class:`SwinTransformer`; ``forward(x)`` is the dense parent forward. With a mask,
    ``forward(x, mask)`` (:class:`SparseMIMBackboneMixin`) runs every block on the visible
    tokens only and equals a dense Swin in which every (shifted) window attention ignores
    masked tokens as keys:

    - windows keep only their visible tokens and are packed into equal-sized groups
      (see :mod:`greenmim_mm.models.utils.sparse.grouping`); attention is masked per window and
      the relative position bias is looked up by original coordinates;
    - patch merging concatenates the four (visible) children of each visible 2x2 block in
      the channel order of mmcv's ``PatchMerging``, so weights are shared with the dense
      model.

    On a stage smaller than the window (``pad_small_map=True``), windows cover the stage and
    padding simply does not exist. The grouping of each stage and shift is computed once per
    forward and shared by the blocks.
    """

    @property
    def stage_strides(self) -> List[int]:
        """Input pixels per token of each stage: the patch stride, doubled by each merge."""
        stride = to_2tuple(self.patch_embed.projection.stride)
        if stride[0] != stride[1]:
            raise ValueError(f'{type(self).__name__} needs a square patch stride for its '
                             f'square mask unit, got {stride}')
        return [int(stride[0]) * 2**i for i in range(len(self.stages))]

    @property
    def default_img_size(self) -> Tuple[int, int]:
        """The input size the backbone was built for (``img_size``), (H, W) in pixels."""
        stride = to_2tuple(self.patch_embed.projection.stride)
        return (self.patch_resolution[0] * stride[0], self.patch_resolution[1] * stride[1])

    def _load_from_state_dict(self, state_dict, prefix, local_metadata, *args, **kwargs):
        """Load as ``SwinTransformer`` does, v1 (mmcls 0.x) checkpoints included."""
        if swin_v1_keys.NEEDED:  # mmpretrain upgrades them for SwinTransformer itself only
            swin_v1_keys.upgrade_v1_swin_keys(state_dict, prefix, local_metadata.get('version'),
                                              len(self.stages))
        super()._load_from_state_dict(state_dict, prefix, local_metadata, *args, **kwargs)

    def sparse_forward(self, x: torch.Tensor, plan: SparsePlan) -> tuple:
        """Every block on the visible tokens (see :class:`SparseMIMBackboneMixin`).

        Args:
            x (Tensor): (B, 3, H, W) images, H and W multiples of :attr:`mask_unit`.
            plan (SparsePlan): :meth:`sparse_plan` of the mask, on ``x``'s device.

        Returns:
            tuple[Tensor]: one (B, N_visible_s, C_s) tensor per ``out_indices`` stage,
            normed by that stage's output norm, tokens in row-major order of the visible
            positions.
        """
        tokens = plan.tokens
        x = self._sparse_patch_embed(x, tokens[0].flat_index)  # (B, N_0, C)
        x = self.drop_after_pos(x)

        outs = []
        for i, stage in enumerate(self.stages):
            x = self._sparse_stage(stage.blocks, x, tokens[i], plan.layouts[i])  # (B, N_i, C_i)
            can_merge = stage.downsample is not None
            if can_merge and self.out_after_downsample:
                x = self._sparse_merge(stage.downsample, x, plan.merges[i])
            if i in self.out_indices:
                outs.append(getattr(self, f'norm{i}')(x))
            if can_merge and not self.out_after_downsample:
                x = self._sparse_merge(stage.downsample, x, plan.merges[i])
        return tuple(outs)

    def _sparse_patch_embed(self, x: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
        """mmcv ``PatchEmbed`` (+ absolute position) of the visible tokens: (B, N_0, C).

        The convolution runs on the whole image; the per-token norm and position embedding
        only on the visible tokens (same values, less memory kept for backward).
        """
        embed = self.patch_embed
        if embed.adaptive_padding is not None:
            x = embed.adaptive_padding(x)
        x = embed.projection(x)  # (B, C, H/4, W/4)
        hw_shape = (x.shape[2], x.shape[3])
        x = _gather_tokens(x.flatten(2).transpose(1, 2), index)  # (B, N_0, C)
        if embed.norm is not None:
            x = embed.norm(x)
        if self.use_abs_pos_embed:
            pos = resize_pos_embed(self.absolute_pos_embed, self.patch_resolution, hw_shape,
                                   self.interpolate_mode, self.num_extra_tokens)  # (1, L, C)
            x = x + _gather_tokens(pos.expand(x.shape[0], -1, -1), index)
        return x

    def sparse_plan(self, geometry: MaskGeometry) -> SparsePlan:
        """Token sets, group layouts and merge indices of every stage (see
        :meth:`SparseMIMBackboneMixin.sparse_plan`).

        Args:
            geometry (MaskGeometry): the geometry of the mask.

        Returns:
            SparsePlan: the geometry the sparse forward uses.
        """
        tokens = [geometry.tokens(i) for i in range(len(self.stages))]
        layouts, merges = [], []
        for i, stage in enumerate(self.stages):
            keys = [self._window_and_shift(block, tokens[i].grid_hw) for block in stage.blocks]
            layouts.append({key: geometry.window_layout(i, *key) for key in keys})
            has_next = stage.downsample is not None and i + 1 < len(self.stages)
            merges.append(geometry.children(i, 2) if has_next else None)
        return SparsePlan(tokens, layouts, merges)

    def _window_and_shift(self, block: SwinBlock, grid_hw: Tuple[int, int]) -> Tuple[int, int]:
        """The (window, shift) a block uses on this grid, following mmpretrain's rules."""
        attn = block.attn
        ws, shift = attn.window_size, attn.shift_size
        if min(grid_hw) == ws and not attn.pad_small_map:
            shift = 0
        elif min(grid_hw) < ws and not attn.pad_small_map:
            raise ValueError(
                f'A stage grid of {grid_hw} is smaller than the window size {ws}. Set '
                '`pad_small_map=True` in the backbone (the sparse encoder then lets the '
                'window cover the stage), or use a smaller `window_size`.')
        return ws, shift

    def _sparse_stage(self, blocks, x: torch.Tensor, tokens: StageTokens,
                      layouts: Dict[Tuple[int, int], GroupLayout]) -> torch.Tensor:
        """Run the blocks of one stage on its visible tokens with the plan's layouts."""
        for block in blocks:
            key = self._window_and_shift(block, tokens.grid_hw)
            if block.with_cp and x.requires_grad:
                x = cp.checkpoint(
                    _sparse_block_forward, block, x, layouts[key], use_reentrant=False)
            else:
                x = _sparse_block_forward(block, x, layouts[key])
        return x

    @staticmethod
    def _sparse_merge(downsample, x: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
        """mmcv ``PatchMerging`` on visible tokens: (B, N, C) -> (B, N / 4, 2C).

        ``idx`` is the plan's :func:`merge_index`, (N / 4, 4) or (B, N / 4, 4).
        """
        sampler = downsample.sampler
        if (sampler.kernel_size, sampler.stride) not in (((2, 2), (2, 2)), (2, 2)):
            raise NotImplementedError(
                'the sparse encoder supports only the default 2x2 / stride 2 patch merging, '
                f'got kernel {sampler.kernel_size}, stride {sampler.stride}')
        merged = gather_children(x, idx)  # (B, N', C * 4), c-major
        if downsample.norm is None:
            return downsample.reduction(merged)
        return layer_norm_linear(merged, downsample.norm, downsample.reduction)


def _sparse_block_forward(block: SwinBlock, x: torch.Tensor, layout: GroupLayout) -> torch.Tensor:
    """One Swin block on visible tokens: (B, N, C) -> (B, N, C).

    Same computation as ``SwinBlock.forward``; the norms are fused with the following linear
    layers (:mod:`..utils.precision.lean_ops`) so that backward keeps fewer activations.
    """
    attn = sparse_window_attention(x, block.norm1, block.attn.w_msa, layout)  # (B, N, C)
    x = x + block.attn.drop(attn)
    return layer_norm_mlp(x, block.norm2, block.ffn)
