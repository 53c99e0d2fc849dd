"""Convolutions at visible tokens against dense convolutions on grids with masked zeros."""
import pytest
import torch
from torch import nn

from greenmim_mm.models.utils.sparse.conv import (depthwise_conv_tokens, gather_children,
                                                  patch_conv_pixels, strided_conv_tokens)
from greenmim_mm.models.utils.sparse.geometry import merge_index, neighbour_index, stage_tokens
from tests.helpers import random_mask


def _mask(shared: bool, B=2, hw=(3, 4), seed=0):
    """A (1 or B, Hu, Wu) unit mask with 5 visible units per sample."""
    return random_mask(1 if shared else B, *hw, num_visible=5, seed=seed)


def _dense_visible(mask, scale):
    return (~mask).repeat_interleave(scale, 1).repeat_interleave(scale, 2)  # (B, H, W)


def _to_tokens(dense, tokens, B):
    """(B, C, H, W) dense map -> (B, N, C) at the visible positions."""
    flat = dense.flatten(2).transpose(1, 2)  # (B, H*W, C)
    index = tokens.flat_index
    if index.dim() == 1:
        index = index.expand(B, -1)
    return torch.stack([flat[b, index[b]] for b in range(B)])


@pytest.mark.parametrize('shared', [True, False])
@pytest.mark.parametrize('factor', [2, 4])
def test_merge_index_brute_force(shared, factor):
    mask = _mask(shared)
    fine, coarse = stage_tokens(mask, 8), stage_tokens(mask, 8 // factor)
    idx = merge_index(fine, coarse, factor)
    flat_fine = fine.flat_index.view(1, -1) if shared else fine.flat_index
    flat_coarse = coarse.flat_index.view(1, -1) if shared else coarse.flat_index
    W_f, W_c = fine.grid_hw[1], coarse.grid_hw[1]
    idx_b = idx.unsqueeze(0) if shared else idx
    for b in range(idx_b.shape[0]):
        pos = {int(p): i for i, p in enumerate(flat_fine[b])}
        for j, p in enumerate(flat_coarse[b].tolist()):
            r, c = divmod(p, W_c)
            want = [
                pos[(r * factor + kh) * W_f + c * factor + kw] for kh in range(factor)
                for kw in range(factor)
            ]
            assert idx_b[b, j].tolist() == want


@pytest.mark.parametrize('shared', [True, False])
def test_neighbour_index_brute_force(shared):
    mask = _mask(shared, seed=1)
    tokens = stage_tokens(mask, 2)
    idx = neighbour_index(tokens, 3)
    H, W = tokens.grid_hw
    flat = tokens.flat_index.view(1, -1) if shared else tokens.flat_index
    idx_b = idx.unsqueeze(0) if shared else idx
    n = flat.shape[1]
    for b in range(flat.shape[0]):
        pos = {int(p): i for i, p in enumerate(flat[b])}
        for j, p in enumerate(flat[b].tolist()):
            r, c = divmod(p, W)
            want = []
            for dr in (-1, 0, 1):
                for dc in (-1, 0, 1):
                    rr, cc = r + dr, c + dc
                    inside = 0 <= rr < H and 0 <= cc < W
                    want.append(pos.get(rr * W + cc, n) if inside else n)
            assert idx_b[b, j].tolist() == want


@pytest.mark.parametrize('shared', [True, False])
def test_depthwise_conv_sees_masked_neighbours_as_zeros(shared):
    B, C = 2, 5
    mask = _mask(shared, seed=2)
    tokens = stage_tokens(mask, 4)
    H, W = tokens.grid_hw
    conv = nn.Conv2d(C, C, 3, padding=1, groups=C)
    dense = torch.randn(B, C, H, W, dtype=torch.float64)
    visible = _dense_visible(mask, 4).expand(B, -1, -1)
    dense = dense * visible[:, None]  # masked tokens are zeros
    x = _to_tokens(dense, tokens, B)
    conv = conv.double()
    out = depthwise_conv_tokens(x, neighbour_index(tokens, 3), conv)
    torch.testing.assert_close(out, _to_tokens(conv(dense), tokens, B), rtol=0, atol=1e-12)


@pytest.mark.parametrize('shared', [True, False])
def test_strided_conv_at_visible_cells(shared):
    B, C = 2, 3
    mask = _mask(shared, seed=3)
    fine, coarse = stage_tokens(mask, 8), stage_tokens(mask, 2)
    conv = nn.Conv2d(C, 7, 4, stride=4).double()
    dense = torch.randn(B, C, *fine.grid_hw, dtype=torch.float64)
    x = _to_tokens(dense, fine, B)
    out = strided_conv_tokens(x, merge_index(fine, coarse, 4), conv)
    torch.testing.assert_close(out, _to_tokens(conv(dense), coarse, B), rtol=0, atol=1e-12)
    # channel-major order: index c * K + k
    kids = gather_children(x, merge_index(fine, coarse, 4))
    assert kids.shape == (B, coarse.coords.shape[0] // (1 if shared else B), C * 16)


@pytest.mark.parametrize('shared', [True, False])
def test_patch_conv_pixels(shared):
    B = 2
    mask = _mask(shared, seed=4)
    tokens = stage_tokens(mask, 8)  # 4-px patches of 32-px units
    img = torch.randn(B, 3, 96, 128, dtype=torch.float64)
    conv = nn.Conv2d(3, 6, 4, stride=4).double()
    out = patch_conv_pixels(img, tokens.flat_index, conv)
    torch.testing.assert_close(out, _to_tokens(conv(img), tokens, B), rtol=0, atol=1e-12)


def test_unsupported_convolutions_are_refused():
    x = torch.randn(1, 4, 2)
    with pytest.raises(NotImplementedError, match='kernel equal to its stride'):
        strided_conv_tokens(x, torch.zeros(1, 4, dtype=torch.long), nn.Conv2d(2, 2, 2, 1))
    with pytest.raises(NotImplementedError, match='depthwise'):
        depthwise_conv_tokens(x, torch.zeros(4, 9, dtype=torch.long), nn.Conv2d(2, 2, 3))
