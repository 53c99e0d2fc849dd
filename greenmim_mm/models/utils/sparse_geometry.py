"""Where the visible tokens of each Swin stage are, derived from a mask in coarse units.

The mask is drawn on the grid of the coarsest stage (one unit = the encoder's total stride,
32 px for a 4-stage Swin with patch 4), so every 2x2 block merged by a patch merging is
either fully visible or fully masked at every stage.
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


def merge_index(fine: StageTokens, coarse: StageTokens) -> torch.Tensor:
    """Index of the four children of every visible coarse token among the fine tokens.

    Children are ordered ``kh * 2 + kw`` like the ``nn.Unfold`` in mmcv's
    ``PatchMerging``, so that ``x[:, idx]`` flattened channel-major reproduces its input.

    Args:
        fine (StageTokens): visible tokens of the finer stage.
        coarse (StageTokens): visible tokens of the next (2x coarser) stage.

    Returns:
        Tensor: (N_coarse, 4) for a shared layout, else (B, N_coarse, 4), long indices into
        the fine stage's per-sample visible-token order.
    """
    H, W = fine.grid_hw
    shared = fine.sample_ids is None
    flat = fine.flat_index.view(1, -1) if shared else fine.flat_index  # (B, N_fine)
    B, n_fine = flat.shape
    # position[b, p] = rank of dense grid position p among the visible fine tokens of b.
    position = torch.full((B, H * W), -1, dtype=torch.long, device=flat.device)
    position.scatter_(1, flat, torch.arange(n_fine, device=flat.device).expand(B, -1))
    rows = coarse.coords[:, 0] * 2
    cols = coarse.coords[:, 1] * 2
    kh = torch.tensor([0, 0, 1, 1], device=flat.device)
    kw = torch.tensor([0, 1, 0, 1], device=flat.device)
    child = (rows[:, None] + kh) * W + (cols[:, None] + kw)  # (M_coarse, 4)
    sample = torch.zeros_like(rows) if shared else coarse.sample_ids
    idx = position[sample[:, None], child]  # (M_coarse, 4)
    if shared:
        return idx
    return idx.view(B, -1, 4)
