"""MaskGeometry: the per-stage geometry a backbone's plan reads, each piece built once."""
import pytest
import torch

from greenmim_mm.models.utils.sparse.geometry import MaskGeometry, merge_index, stage_tokens
from greenmim_mm.models.utils.sparse.grouping import build_group_layout
from tests.helpers import random_mask


def _assert_same_tensors(a, b):
    assert type(a) is type(b)
    for x, y in zip(a, b):
        if isinstance(x, torch.Tensor):
            assert torch.equal(x, y)
        else:
            assert x == y


@pytest.mark.parametrize('batch', [1, 3])
def test_stage_tokens_and_children_follow_the_tokens_per_unit(batch):
    mask = random_mask(batch, 4, 5, num_visible=7, seed=batch)
    geometry = MaskGeometry(mask, [8, 4, 2, 1])
    assert geometry.shared == (batch == 1) and geometry.num_stages == 4
    for i, scale in enumerate([8, 4, 2, 1]):
        _assert_same_tensors(geometry.tokens(i), stage_tokens(mask, scale))
        assert geometry.tokens(i) is geometry.tokens(i)  # built once
    # Stage 0's 2x2 children of stage 1 (a merging) and 8x8 cells (one per unit).
    assert torch.equal(
        geometry.children(0, 2), merge_index(stage_tokens(mask, 8), stage_tokens(mask, 4), 2))
    cells = geometry.children(0, 8)
    assert torch.equal(cells, merge_index(stage_tokens(mask, 8), stage_tokens(mask, 1), 8))
    assert cells.shape == ((7, 64) if batch == 1 else (batch, 7, 64))


def test_cells_that_do_not_tile_the_unit_are_refused():
    geometry = MaskGeometry(random_mask(1, 2, 2, num_visible=2), [4, 2, 1])
    with pytest.raises(
            ValueError,
            match=r'cells of 3x3 tokens do not tile the mask unit at '
            r'stage 0 \(4x4 tokens\)'):
        geometry.children(0, 3)
    with pytest.raises(ValueError, match='cells of 4x4 tokens'):
        geometry.children(1, 4)


@pytest.mark.parametrize('batch', [1, 2])
def test_window_layouts_are_cached_and_static_shapes_fix_the_group_size(batch):
    # 8 isolated visible units of 2x2 tokens: 32 tokens per sample, no 3x3 window holds
    # more than 4 of them, so packed groups hold 4 slots unless fixed at ws^2 = 9.
    mask = torch.ones(batch, 6, 6, dtype=torch.bool)
    for b in range(batch):
        visible = [(r + b, c + b) for r in (0, 2, 4) for c in (0, 2, 4)][:8]
        for r, c in visible:
            mask[b, r, c] = False
    tokens = stage_tokens(mask, 2)
    for static in (False, True):
        geometry = MaskGeometry(mask, [2, 1], static_shapes=static)
        layout = geometry.window_layout(0, 3, 1)
        assert geometry.window_layout(0, 3, 1) is layout  # shared by the blocks that use it
        assert geometry.window_layout(0, 3) is not layout  # another shift, another packing
        expected = build_group_layout(
            tokens.coords,
            tokens.grid_hw,
            3,
            1,
            tokens.sample_ids,
            group_size=9 if static else None)
        _assert_same_tensors(layout, expected)
        assert layout.slot_index.shape[0] == 32 * batch  # N shared, B * N per sample
        assert layout.num_groups > 1
        assert layout.group_size == (9 if static else 4)
