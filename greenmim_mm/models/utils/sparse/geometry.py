"""Where the visible tokens of each stage of a hierarchical encoder are, from a coarse mask.

The mask is drawn on the grid of the coarsest stage (one unit = the encoder's total stride,
32 px for a 4-stage Swin or Twins with patch 4), so every block merged by a patch merging
(Swin) or a strided patch embedding or spatial reduction (Twins) is either fully visible or
fully masked at every stage. Used by the Swin and Twins sparse encoders alike;
:class:`MaskGeometry` serves these functions to a backbone's ``sparse_plan``, each result
computed once per mask.
"""
from typing import Dict, NamedTuple, Optional, Sequence, Tuple

import torch

from .grouping import GroupLayout, build_group_layout


class StageTokens(NamedTuple):
    """Visible tokens of one stage.

    Attributes:
        grid_hw (tuple[int, int]): (H, W) of the stage grid.
        coords (Tensor): (M, 2) long (row, col) of the visible tokens, row-major per sample.
            For a shared (batch-wise) layout M = N, else M = B * N.
        sample_ids (Tensor | None): (M,) sample of each token, None for a shared layout.
        flat_index (Tensor): (N,) or (B, N) long index of each visible token in the
            row-major flattened dense grid of its sample.
    """
    grid_hw: Tuple[int, int]
    coords: torch.Tensor
    sample_ids: Optional[torch.Tensor]
    flat_index: torch.Tensor


def stage_tokens(mask: torch.Tensor, scale: int) -> StageTokens:
    """Visible tokens of a stage whose grid is ``scale`` times finer than the mask.

    Args:
        mask (Tensor): (B, Hu, Wu) bool, True = masked. B = 1 stands for a layout shared
            by the whole batch.
        scale (int): tokens per mask unit along each axis at this stage.

    Returns:
        StageTokens: the stage's visible tokens.
    """
    visible = ~mask
    if scale > 1:
        visible = visible.repeat_interleave(scale, 1).repeat_interleave(scale, 2)
    B, H, W = visible.shape  # (B, Hs, Ws)
    nz = visible.nonzero()  # (B * N, 3) sorted by (b, row, col)
    coords = nz[:, 1:]
    flat = (coords[:, 0] * W + coords[:, 1]).view(B, -1)  # (B, N)
    if B == 1:
        return StageTokens((H, W), coords, None, flat[0])
    return StageTokens((H, W), coords, nz[:, 0], flat)


def merge_index(fine: StageTokens, coarse: StageTokens, factor: int = 2) -> torch.Tensor:
    """Index of the ``factor**2`` children of every visible coarse token among the fine ones.

    Children are ordered ``kh * factor + kw`` like the ``nn.Unfold`` in mmcv's
    ``PatchMerging`` and like the kernel of a convolution with kernel = stride = ``factor``,
    so that ``x[:, idx]`` flattened channel-major reproduces their input.

    Args:
        fine (StageTokens): visible tokens of the finer stage.
        coarse (StageTokens): visible tokens of a ``factor`` times coarser grid; each of
            them must have all its children visible.
        factor (int): coarse cell side in fine tokens. Defaults to 2 (patch merging).

    Returns:
        Tensor: (N_coarse, factor**2) for a shared layout, else (B, N_coarse, factor**2),
        long indices into the fine stage's per-sample visible-token order.
    """
    H, W = fine.grid_hw
    shared = fine.sample_ids is None
    flat = fine.flat_index.view(1, -1) if shared else fine.flat_index  # (B, N_fine)
    B, n_fine = flat.shape
    # position[b, p] = rank of dense grid position p among the visible fine tokens of b.
    position = torch.full((B, H * W), -1, dtype=torch.long, device=flat.device)
    position.scatter_(1, flat, torch.arange(n_fine, device=flat.device).expand(B, -1))
    rows = coarse.coords[:, 0] * factor
    cols = coarse.coords[:, 1] * factor
    offsets = torch.arange(factor, device=flat.device)
    kh = offsets.repeat_interleave(factor)  # (f*f,) 0,0,..,1,1,..
    kw = offsets.repeat(factor)  # (f*f,) 0,1,..,0,1,..
    child = (rows[:, None] + kh) * W + (cols[:, None] + kw)  # (M_coarse, f*f)
    sample = torch.zeros_like(rows) if shared else coarse.sample_ids
    idx = position[sample[:, None], child]  # (M_coarse, f*f)
    if shared:
        return idx
    return idx.view(B, -1, factor * factor)


def neighbour_index(tokens: StageTokens, kernel_size: int = 3) -> torch.Tensor:
    """Index of the ``k x k`` neighbourhood of every visible token among the visible tokens.

    The geometry of a stride-1, ``padding = k // 2`` convolution on the visible tokens:
    neighbours that are masked or outside the grid get the index ``N`` (a zero token the
    caller appends), so they contribute zeros, as the dense convolution's padding does.

    Args:
        tokens (StageTokens): visible tokens of one stage, N per sample.
        kernel_size (int): odd k. Defaults to 3.

    Returns:
        Tensor: (N, k*k) for a shared layout, else (B, N, k*k), long, neighbours in kernel
        order ``kh * k + kw``.
    """
    if kernel_size % 2 != 1:
        raise ValueError(f'kernel_size must be odd, got {kernel_size}')
    H, W = tokens.grid_hw
    shared = tokens.sample_ids is None
    flat = tokens.flat_index.view(1, -1) if shared else tokens.flat_index  # (B, N)
    B, n = flat.shape
    device = flat.device
    # position[b, p] = rank of dense grid position p among the visible tokens of b, or N.
    position = torch.full((B, H * W), n, dtype=torch.long, device=device)
    position.scatter_(1, flat, torch.arange(n, device=device).expand(B, -1))
    half = kernel_size // 2
    offsets = torch.arange(-half, half + 1, device=device)
    dh = offsets.repeat_interleave(kernel_size)  # (k*k,)
    dw = offsets.repeat(kernel_size)  # (k*k,)
    rows = tokens.coords[:, :1] + dh  # (M, k*k)
    cols = tokens.coords[:, 1:] + dw  # (M, k*k)
    inside = (rows >= 0) & (rows < H) & (cols >= 0) & (cols < W)
    pos = rows.clamp(0, H - 1) * W + cols.clamp(0, W - 1)  # (M, k*k)
    sample = (
        torch.zeros(tokens.coords.shape[0], dtype=torch.long, device=device)
        if shared else tokens.sample_ids)
    idx = position[sample[:, None], pos].masked_fill(~inside, n)  # (M, k*k)
    if shared:
        return idx
    return idx.view(B, n, kernel_size * kernel_size)


class MaskGeometry:
    """The index geometry of one unit mask, stage by stage, built on demand and cached.

    What a sparse backbone's ``sparse_plan`` is built from (see
    :class:`~greenmim_mm.models.backbones.sparse_backbone.SparseMIMBackboneMixin`): the
    visible tokens of every stage, the children of coarser cells among them, and the
    packing of a stage's windows into groups. Each is computed once per mask, so blocks that
    share a window partition share one layout; ``static_shapes`` (a compiled forward) is
    applied here, not by the backbone.

    Index shapes follow the mask: with a mask shared by the batch (``mask`` is
    ``(1, Hu, Wu)``, :attr:`shared`) one index serves every sample and is ``(N, ...)``; with
    per-sample masks it is ``(B, N, ...)``, N visible tokens per sample. A
    :class:`~.grouping.GroupLayout` packs the N tokens of one sample (shared) or the B * N
    tokens of all samples together (per sample).

    Args:
        mask (Tensor): (1, Hu, Wu) bool for a mask shared by the batch, else (B, Hu, Wu);
            True = masked, on the CPU.
        tokens_per_unit (Sequence[int]): tokens per mask-unit side at each stage, e.g.
            [8, 4, 2, 1] for a 4-stage Swin with 4-px patches and 32-px units.
        static_shapes (bool): pack window groups with a fixed capacity (``ws^2``), so that
            only group counts depend on the mask (for ``torch.compile``). Defaults to False.
    """

    def __init__(self,
                 mask: torch.Tensor,
                 tokens_per_unit: Sequence[int],
                 static_shapes: bool = False) -> None:
        self.mask = mask
        self.tokens_per_unit = tuple(int(s) for s in tokens_per_unit)
        self.static_shapes = bool(static_shapes)
        self._tokens: Dict[int, StageTokens] = {}
        self._layouts: Dict[Tuple[int, int, int], GroupLayout] = {}

    @property
    def shared(self) -> bool:
        """Whether one mask serves the whole batch (indices ``(N, ...)``)."""
        return self.mask.shape[0] == 1

    @property
    def num_stages(self) -> int:
        """Number of stages."""
        return len(self.tokens_per_unit)

    def tokens_at(self, scale: int) -> StageTokens:
        """Visible tokens of a grid with ``scale`` tokens per mask-unit side (cached)."""
        if scale not in self._tokens:
            self._tokens[scale] = stage_tokens(self.mask, scale)
        return self._tokens[scale]

    def tokens(self, stage: int) -> StageTokens:
        """Visible tokens of ``stage``.

        Args:
            stage (int): Stage index.

        Returns:
            StageTokens: coordinates ``(M, 2)`` (M = N shared, B * N per sample) and
            ``flat_index`` ``(N,)`` or ``(B, N)``.
        """
        return self.tokens_at(self.tokens_per_unit[stage])

    def children(self, stage: int, factor: int) -> torch.Tensor:
        """Index of the ``factor x factor`` children of every visible cell among the
        visible tokens of ``stage`` (:func:`merge_index`): a patch merging, a strided patch
        embedding or a spatial reduction with kernel = stride = ``factor``.

        Args:
            stage (int): The stage whose tokens are the children.
            factor (int): Cell side in tokens of ``stage``; must divide the stage's tokens
                per unit, so that a cell is fully visible or fully masked.

        Returns:
            Tensor: (N_cells, factor**2) shared, else (B, N_cells, factor**2), long, kernel
            order ``kh * factor + kw``.
        """
        scale = self.tokens_per_unit[stage]
        if factor < 1 or scale % factor:
            raise ValueError(
                f'cells of {factor}x{factor} tokens do not tile the mask unit at stage {stage} '
                f'({scale}x{scale} tokens), so a cell could mix visible and masked tokens')
        return merge_index(self.tokens(stage), self.tokens_at(scale // factor), factor)

    def window_layout(self, stage: int, window_size: int, shift: int = 0) -> GroupLayout:
        """The packing of the (shifted) ``window_size`` windows of ``stage`` (cached).

        Args:
            stage (int): Stage index.
            window_size (int): Window side ``ws`` in tokens.
            shift (int): Window shift (0 = regular windows). Defaults to 0.

        Returns:
            GroupLayout: :func:`build_group_layout` of the stage's visible tokens, with groups
            of ``ws^2`` slots under :attr:`static_shapes`.
        """
        key = (stage, int(window_size), int(shift))
        if key not in self._layouts:
            tokens = self.tokens(stage)
            self._layouts[key] = build_group_layout(
                tokens.coords,
                tokens.grid_hw,
                key[1],
                key[2],
                tokens.sample_ids,
                group_size=key[1]**2 if self.static_shapes else None)
        return self._layouts[key]
