"""Where the visible tokens of each stage of a hierarchical encoder are, from a coarse mask.

The mask is drawn on the grid of the coarsest stage (one unit = the encoder's total stride,
32 px for a 4-stage Swin or Twins with patch 4), so every block merged by a patch merging
(Swin) or a strided patch embedding or spatial reduction (Twins) is either fully visible or
fully masked at every stage. Used by the Swin and Twins sparse encoders alike.
"""
from typing import NamedTuple, Optional, Tuple

import torch


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
