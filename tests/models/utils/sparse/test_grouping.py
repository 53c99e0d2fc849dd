"""Unit tests of the pure grouping functions against brute-force references."""
import itertools
import random

import pytest
import torch

from greenmim_mm.models.utils.sparse.geometry import merge_index, stage_tokens
from greenmim_mm.models.utils.sparse.grouping import (build_group_layout, group_count_buckets,
                                                      pack_first_fit_decreasing,
                                                      pack_greedy_knapsack, pack_windows,
                                                      pad_groups, relative_position_index,
                                                      window_ids)


def swin_same_window(coords, hw, ws, shift):
    """Brute force: Swin's roll + window partition + region labels of every token."""
    H, W = hw
    Hp, Wp = -(-H // ws) * ws, -(-W // ws) * ws
    keys = []
    for r, c in coords.tolist():
        pr, pc = (r - shift) % Hp, (c - shift) % Wp
        region = (0 if pr < Hp - ws else 1 if pr < Hp - shift else 2,
                  0 if pc < Wp - ws else 1 if pc < Wp - shift else 2) if shift else (0, 0)
        keys.append((pr // ws, pc // ws, region))
    return keys


def greedy_dp_reference(counts, capacity):
    """The spec's packer written item by item (classic DP table): number of groups."""
    left = list(range(len(counts)))
    groups = 0
    while left:
        best = {0: []}
        for i in left:
            for s, subset in list(best.items()):
                t = s + counts[i]
                if t <= capacity and t not in best:
                    best[t] = subset + [i]
        chosen = best[max(best)]
        left = [i for i in left if i not in chosen]
        groups += 1
    return groups


def brute_force_min_groups(counts, capacity):
    """Exact bin packing by trying every assignment (small cases only)."""
    n = len(counts)
    lower = -(-sum(counts) // capacity)
    for k in range(lower, n + 1):
        for assign in itertools.product(range(k), repeat=n):
            loads = [0] * k
            for c, g in zip(counts, assign):
                loads[g] += c
            if max(loads) <= capacity:
                return k
    return n


@pytest.mark.parametrize('hw,ws,shift', [((14, 14), 7, 0), ((14, 14), 7, 3), ((12, 18), 6, 3),
                                         ((7, 7), 14, 7), ((10, 6), 14, 7)])
def test_window_ids_match_swin_partition(hw, ws, shift):
    coords = torch.stack(
        torch.meshgrid(torch.arange(hw[0]), torch.arange(hw[1]), indexing='ij'), -1).view(-1, 2)
    ids = window_ids(coords, hw, ws, shift).tolist()
    keys = swin_same_window(coords, hw, ws, shift)
    for i, j in itertools.combinations(range(len(ids)), 2):
        assert (ids[i] == ids[j]) == (keys[i] == keys[j])


def test_window_ids_separate_samples():
    coords = torch.tensor([[0, 0], [0, 0]])
    ids = window_ids(coords, (7, 7), 7, 0, sample_ids=torch.tensor([0, 1]))
    assert ids[0] != ids[1]


def check_packing(groups, counts, capacity):
    flat = [w for g in groups for w in g]
    assert sorted(flat) == list(range(len(counts)))  # every window exactly once, unsplit
    assert all(sum(counts[w] for w in g) <= capacity for g in groups)


def test_greedy_takes_the_fullest_subset_first():
    rng = random.Random(0)
    for _ in range(200):
        capacity = rng.randint(4, 20)
        counts = [rng.randint(1, capacity) for _ in range(rng.randint(1, 9))]
        groups = pack_greedy_knapsack(counts, capacity)
        check_packing(groups, counts, capacity)
        best = max(
            sum(s) for r in range(len(counts) + 1) for s in itertools.combinations(counts, r)
            if sum(s) <= capacity)
        assert sum(counts[w] for w in groups[0]) == best


def test_pack_windows_vs_greedy_dp_and_brute_force_optimum():
    rng = random.Random(1)
    optimal = 0
    trials = 300
    for _ in range(trials):
        capacity = rng.randint(4, 16)
        counts = [rng.randint(1, capacity) for _ in range(rng.randint(1, 7))]
        groups = pack_windows(counts, capacity)
        check_packing(groups, counts, capacity)
        opt = brute_force_min_groups(counts, capacity)
        assert opt <= len(groups) <= greedy_dp_reference(counts, capacity)
        optimal += len(groups) == opt
    # Greedy subset-sum packing is near optimal on such cases; measured 300/300.
    assert optimal >= 0.97 * trials


def test_pack_windows_on_swin_like_counts():
    # Counts of 32-px-unit masks at stage 1 (units of 8x8 tokens, windows of 7x7).
    rng = random.Random(2)
    for _ in range(50):
        counts = [rng.choice([1, 6, 7, 36, 42, 49]) for _ in range(rng.randint(20, 90))]
        groups = pack_windows(counts, 49)
        check_packing(groups, counts, 49)
        assert len(groups) <= len(pack_first_fit_decreasing(counts, 49))
        assert len(groups) <= greedy_dp_reference(counts, 49)


def test_pack_windows_rejects_oversized_windows():
    with pytest.raises(ValueError, match='window counts'):
        pack_windows([5, 9], 8)


def test_relative_position_index_matches_swin_buffer():
    from mmpretrain.models.utils.attention import WindowMSA
    ws = 5
    msa = WindowMSA(8, (ws, ws), 2)
    coords = torch.stack(torch.meshgrid(torch.arange(ws), torch.arange(ws), indexing='ij'),
                         -1).view(-1, 2)
    assert torch.equal(relative_position_index(coords, coords, ws), msa.relative_position_index)


@pytest.mark.parametrize('threshold', [None, 0])
def test_group_layout_gathers_every_token_once(threshold):
    g = torch.Generator().manual_seed(0)
    mask = torch.rand(2, 4, 5, generator=g) < 0.6
    mask[:, 0, 0] = False
    mask[1] = mask[0]
    tokens = stage_tokens(mask, 4)  # shared? no: two identical samples given as per-sample
    ws, shift = 7, 3
    layout = build_group_layout(
        tokens.coords,
        tokens.grid_hw,
        ws,
        shift,
        tokens.sample_ids,
        single_group_threshold=threshold)
    n = tokens.coords.shape[0]
    real = layout.gather_index[layout.gather_index < n]
    assert torch.equal(real.sort().values, torch.arange(n))
    assert torch.equal(layout.gather_index[layout.slot_index], torch.arange(n))
    # The mask connects exactly the tokens of one window of one sample.
    ids = window_ids(tokens.coords, tokens.grid_hw, ws, shift, tokens.sample_ids)
    slot_ids = torch.full((layout.num_groups * layout.group_size, ), -1)
    slot_ids[layout.slot_index] = ids
    slot_ids = slot_ids.view(layout.num_groups, layout.group_size)
    expected = (slot_ids[:, :, None] == slot_ids[:, None, :]) & (slot_ids[:, None, :] >= 0)
    expected |= torch.eye(layout.group_size, dtype=torch.bool)
    assert torch.equal(layout.attn_mask, expected)
    coords = torch.zeros(layout.num_groups * layout.group_size, 2, dtype=torch.long)
    coords[layout.slot_index] = tokens.coords
    coords = coords.view(layout.num_groups, layout.group_size, 2)
    rel = relative_position_index(coords, coords, ws)
    assert torch.equal(layout.rel_pos_index[layout.attn_mask], rel[layout.attn_mask])
    if threshold == 0:
        assert layout.group_size <= ws * ws and layout.num_groups > 1


def test_merge_index_children_in_unfold_order():
    mask = torch.tensor([[[False, True], [True, False]]])
    fine, coarse = stage_tokens(mask, 2), stage_tokens(mask, 1)
    idx = merge_index(fine, coarse)
    fine_coords = fine.coords[idx]  # (N', 4, 2)
    expected = coarse.coords[:, None] * 2 + torch.tensor([[0, 0], [0, 1], [1, 0], [1, 1]])
    assert torch.equal(fine_coords, expected)


def test_group_count_buckets_bound_every_packing():
    """The last bucket holds any packing: random window counts, both packers."""
    rng = random.Random(0)
    assert group_count_buckets(768, 49) == [18, 21, 32]  # Swin stage 0 at 224, mask 0.75
    for _ in range(300):
        capacity = rng.choice([4, 9, 16, 49])
        counts = [rng.randint(1, capacity) for _ in range(rng.randint(1, 60))]
        n = sum(counts)
        buckets = group_count_buckets(n, capacity)
        assert buckets == sorted(set(buckets)) and buckets[0] >= -(-n // capacity)
        for groups in (pack_windows(counts, capacity), pack_first_fit_decreasing(counts, capacity)):
            assert len(groups) <= buckets[-1], (counts, capacity)


def test_fixed_group_size_and_padding_keep_every_token_once():
    mask = torch.zeros(1, 4, 4, dtype=torch.bool)
    mask[0, ::2, 1::2] = True  # 12 of 16 units visible, checkerboard-like holes
    tokens = stage_tokens(mask, 4)  # 16x16 grid, 192 visible tokens
    layout = build_group_layout(tokens.coords, tokens.grid_hw, 4, 2, group_size=16)
    assert layout.group_size == 16 and layout.num_groups >= 12
    padded = pad_groups(layout, layout.num_groups + 3)
    n, gs = tokens.coords.shape[0], 16
    assert padded.num_groups == layout.num_groups + 3
    assert torch.equal(padded.slot_index, layout.slot_index)  # tokens stay where they were
    assert padded.gather_index.shape == (padded.num_groups * gs, )
    assert (padded.gather_index[-3 * gs:] == n).all()  # the new groups hold no token
    assert torch.equal(padded.attn_mask[-3:], torch.eye(gs, dtype=torch.bool).expand(3, -1, -1))
    assert (padded.rel_pos_index[-3:] == 0).all()
    assert torch.equal(padded.gather_index[padded.slot_index], torch.arange(n))
    assert pad_groups(layout, layout.num_groups) is layout
    with pytest.raises(ValueError, match='cannot pad'):
        pad_groups(layout, layout.num_groups - 1)
