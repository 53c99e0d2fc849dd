"""A toy sparse backbone, the example of ``docs/en/add_a_backbone.md``, and its dense oracle.

``ToyWindowNet`` is a small dense hierarchical encoder: a patch embedding (convolution,
kernel = stride), per stage a few pre-norm blocks of window attention (mmpretrain's
``WindowMSA``, relative position bias, windows not aligned with the mask units) and an MLP,
a 2x2 strided convolution between stages, and an output norm per out stage.

``ToySparseWindowNet`` adds the sparse forward by subclassing it behind
:class:`SparseMIMBackboneMixin`: the strides of its stages, a plan read from the
``MaskGeometry`` and about twenty lines of stage logic. :func:`reference_forward` is the
oracle: the dense model in which every window attention ignores masked (and padding) keys,
read at the visible tokens.
"""
from typing import List, NamedTuple, Optional, Sequence, Tuple

import torch
import torch.nn.functional as F
from mmengine.model import BaseModule
from mmpretrain.models.utils.attention import WindowMSA
from mmpretrain.registry import MODELS
from torch import nn

from greenmim_mm.models.backbones import SparseMIMBackboneMixin, sparse_window_attention
from greenmim_mm.models.utils.sparse import (GroupLayout, MaskGeometry, patch_conv_pixels,
                                             strided_conv_tokens)


def window_attention(attn: WindowMSA,
                     x: torch.Tensor,
                     hw: Tuple[int, int],
                     window_size: int,
                     visible: Optional[torch.Tensor] = None) -> torch.Tensor:
    """``attn`` on the non-overlapping windows of a token grid; padding keys are ignored.

    The grid is padded to a multiple of the window; mmpretrain's ``WindowMSA.forward`` runs
    every window with an additive mask that is ``-inf`` for padding keys and for keys that
    are not ``visible`` (a query always sees itself, so that no row is empty).

    Args:
        attn (WindowMSA): the attention module.
        x (Tensor): (B, H*W, C) tokens in row-major order.
        hw (tuple[int, int]): (H, W) of the grid.
        window_size (int): window side ``ws``.
        visible (Tensor, optional): (B, H, W) bool, the keys that exist. Defaults to None
            (all).

    Returns:
        Tensor: (B, H*W, C).
    """
    B, L, C = x.shape
    H, W = hw
    ws = window_size
    if visible is None:
        visible = torch.ones(B, H, W, dtype=torch.bool, device=x.device)
    pad_b, pad_r = (-H) % ws, (-W) % ws
    grid = F.pad(x.view(B, H, W, C), (0, 0, 0, pad_r, 0, pad_b))  # (B, Hp, Wp, C)
    valid = F.pad(visible, (0, pad_r, 0, pad_b), value=False)  # (B, Hp, Wp)
    nh, nw = grid.shape[1] // ws, grid.shape[2] // ws
    windows = grid.view(B, nh, ws, nw, ws, C).transpose(2, 3).reshape(-1, ws * ws, C)
    keys = valid.view(B, nh, ws, nw, ws).transpose(2, 3).reshape(-1, 1, ws * ws)
    allowed = keys | torch.eye(ws * ws, dtype=torch.bool, device=x.device)  # (B*nW, n, n)
    additive = torch.zeros(allowed.shape, dtype=x.dtype, device=x.device)
    out = attn(windows, mask=additive.masked_fill(~allowed, float('-inf')))  # (B*nW, n, C)
    out = out.view(B, nh, nw, ws, ws, C).transpose(2, 3).reshape(B, nh * ws, nw * ws, C)
    return out[:, :H, :W].reshape(B, L, C)


class ToyBlock(nn.Module):
    """A pre-norm block: window attention, then an MLP, each with a residual.

    Args:
        dims (int): channels.
        num_heads (int): attention heads.
        window_size (int): window side in tokens.
    """

    def __init__(self, dims: int, num_heads: int, window_size: int) -> None:
        super().__init__()
        self.window_size = window_size
        self.norm1 = nn.LayerNorm(dims)
        self.attn = WindowMSA(dims, (window_size, window_size), num_heads)
        self.norm2 = nn.LayerNorm(dims)
        self.mlp = nn.Sequential(nn.Linear(dims, 2 * dims), nn.GELU(), nn.Linear(2 * dims, dims))

    def forward(self,
                x: torch.Tensor,
                hw: Tuple[int, int],
                visible: Optional[torch.Tensor] = None) -> torch.Tensor:
        """(B, H*W, C) -> (B, H*W, C); attention keys limited to ``visible`` (B, H, W)."""
        x = x + window_attention(self.attn, self.norm1(x), hw, self.window_size, visible)
        return x + self.mlp(self.norm2(x))


class ToyWindowNet(BaseModule):
    """The dense toy encoder.

    Args:
        embed_dims (Sequence[int]): channels of each stage. Defaults to (16, 32).
        depths (Sequence[int]): blocks of each stage. Defaults to (2, 1).
        num_heads (Sequence[int]): heads of each stage. Defaults to (1, 2).
        patch_size (int): patch embedding kernel and stride. Defaults to 8.
        window_size (int): window side in tokens, every stage. Defaults to 3.
        out_indices (Sequence[int]): the stages returned. Defaults to (0, 1).
    """

    def __init__(self,
                 embed_dims: Sequence[int] = (16, 32),
                 depths: Sequence[int] = (2, 1),
                 num_heads: Sequence[int] = (1, 2),
                 patch_size: int = 8,
                 window_size: int = 3,
                 out_indices: Sequence[int] = (0, 1)) -> None:
        super().__init__()
        self.patch_size = patch_size
        self.window_size = window_size
        self.out_indices = tuple(out_indices)
        self.patch_embed = nn.Conv2d(3, embed_dims[0], patch_size, patch_size)
        self.stages = nn.ModuleList(
            nn.ModuleList(ToyBlock(dims, heads, window_size) for _ in range(depth))
            for dims, heads, depth in zip(embed_dims, num_heads, depths))
        self.merges = nn.ModuleList(
            nn.Conv2d(c_in, c_out, 2, 2) for c_in, c_out in zip(embed_dims, embed_dims[1:]))
        self.norms = nn.ModuleList(  # an output norm for each out stage only
            nn.LayerNorm(dims) if i in self.out_indices else nn.Identity()
            for i, dims in enumerate(embed_dims))

    def forward(self, x: torch.Tensor) -> tuple:
        """(B, 3, H, W) -> one (B, C_i, H_i, W_i) map per out stage."""
        return tuple(self.grid_forward(x))

    def grid_forward(self, x: torch.Tensor, key_masks: Optional[List[torch.Tensor]] = None):
        """The dense forward; with ``key_masks`` every attention ignores those keys.

        Args:
            x (Tensor): (B, 3, H, W) images, sides multiples of the total stride.
            key_masks (list[Tensor], optional): per stage, (B, H_i, W_i) bool, True = a
                key that does not exist. Defaults to None (all keys exist).

        Returns:
            list[Tensor]: one (B, C_i, H_i, W_i) map per out stage.
        """
        x = self.patch_embed(x)  # (B, C_0, H_0, W_0)
        outs = []
        for i, blocks in enumerate(self.stages):
            if i > 0:
                x = self.merges[i - 1](x)  # (B, C_i, H_i, W_i)
            B, C, H, W = x.shape
            visible = None if key_masks is None else ~key_masks[i]
            tokens = x.flatten(2).transpose(1, 2)  # (B, H*W, C)
            for block in blocks:
                tokens = block(tokens, (H, W), visible)
            if i in self.out_indices:
                outs.append(self.norms[i](tokens).transpose(1, 2).reshape(B, C, H, W))
            x = tokens.transpose(1, 2).reshape(B, C, H, W)
        return outs


class ToyPlan(NamedTuple):
    """The index geometry of one masked forward of :class:`ToySparseWindowNet`.

    Attributes:
        patch_index (Tensor): (N_0,) or (B, N_0) row-major index of the visible patches.
        windows (list[GroupLayout]): per stage, the packing of its windows.
        merges (list[Tensor]): per stage after the first, (N_i, 4) or (B, N_i, 4): the
            2x2 children of each visible token among the previous stage's visible tokens.
    """
    patch_index: torch.Tensor
    windows: List[GroupLayout]
    merges: List[torch.Tensor]


@MODELS.register_module(force=True)
class ToySparseWindowNet(SparseMIMBackboneMixin, ToyWindowNet):
    """The toy encoder with a forward on the visible tokens of a masked image.

    Same constructor, parameters and ``state_dict`` as :class:`ToyWindowNet`; ``forward(x)``
    is the dense forward, ``forward(x, mask)`` the sparse one (the mask unit is the last
    stage's stride, 16 px by default).
    """

    @property
    def stage_strides(self) -> List[int]:
        """The patch size, doubled by each merge."""
        return [self.patch_size * 2**i for i in range(len(self.stages))]

    def sparse_plan(self, geometry: MaskGeometry) -> ToyPlan:
        """Visible patches, window packings and merge children of the mask."""
        stages = range(len(self.stages))
        return ToyPlan(
            patch_index=geometry.tokens(0).flat_index,
            windows=[geometry.window_layout(i, self.window_size) for i in stages],
            merges=[geometry.children(i - 1, 2) for i in stages if i > 0])

    def sparse_forward(self, x: torch.Tensor, plan: ToyPlan) -> tuple:
        """One (B, N_i, C_i) tensor per out stage, tokens in row-major order."""
        x = patch_conv_pixels(x, plan.patch_index, self.patch_embed)  # (B, N_0, C_0)
        outs = []
        for i, blocks in enumerate(self.stages):
            if i > 0:
                x = strided_conv_tokens(x, plan.merges[i - 1], self.merges[i - 1])  # (B, N_i, C_i)
            for block in blocks:
                x = x + sparse_window_attention(x, block.norm1, block.attn, plan.windows[i])
                x = x + block.mlp(block.norm2(x))
            if i in self.out_indices:
                outs.append(self.norms[i](x))
        return tuple(outs)


def reference_forward(model: ToyWindowNet, x: torch.Tensor,
                      mask: torch.Tensor) -> List[torch.Tensor]:
    """The dense toy in which masked tokens do not exist as keys, read at the visible tokens.

    Args:
        model (ToyWindowNet): the dense model or its sparse subclass.
        x (Tensor): (B, 3, H, W) images.
        mask (Tensor): (B, H / unit, W / unit) bool, True = masked; unit = the last stage's
            stride.

    Returns:
        list[Tensor]: per out stage, (B, N_visible, C) in row-major order of the visible
        positions.
    """
    num_stages = len(model.stages)
    scales = [2**(num_stages - 1 - i) for i in range(num_stages)]  # tokens per unit side
    masks = [mask.repeat_interleave(s, 1).repeat_interleave(s, 2) for s in scales]
    maps = model.grid_forward(x, masks)
    outs = []
    for i, out in zip(model.out_indices, maps):
        tokens = out.flatten(2).transpose(1, 2)  # (B, H*W, C)
        keep = ~masks[i].flatten(1)  # (B, H*W)
        outs.append(torch.stack([t[k] for t, k in zip(tokens, keep)]))
    return outs
