"""Grouping of sparse window tokens for GreenMIM's group window attention.

Pure functions (no ``nn.Module``): given the coordinates of the visible tokens of one stage,
find the (shifted) window of every token, pack whole windows into equal-sized groups, and
build the gather index, the additive attention mask and the relative-position index that
let one batched attention over the groups compute exactly the window attention of a dense
Swin whose masked tokens do not exist.

Token sets are "flat": ``coords`` holds all tokens that share one grouping. For a batch-wise
mask that is the visible tokens of one sample (the grouping is broadcast over the batch); for
per-sample masks it is the visible tokens of all samples, with ``sample_ids`` keeping the
windows of different samples apart so that all of them are packed together.

Paper: https://arxiv.org/abs/2205.13515 (Sec. 3.2, Optimal Grouping).
"""
from typing import List, NamedTuple, Optional, Sequence, Tuple

import torch


class GroupLayout(NamedTuple):
    """Everything a group window attention needs for one stage and one shift.

    ``G`` groups of ``gs`` slots hold ``N`` tokens (``G * gs >= N``); empty slots are padding.

    Attributes:
        gather_index (Tensor): (G * gs,) long. Token index for each slot; padding slots
            point at ``N`` (an appended zero token).
        slot_index (Tensor): (N,) long. Slot of each token, to read results back.
        attn_mask (Tensor): (G, gs, gs) bool. True where query slot i may attend to key
            slot j: same window and j is a token. The diagonal is always True so that no
            row is empty (padding rows then stay finite; their output is never read).
        rel_pos_index (Tensor): (G, gs, gs) long. Index into the ``(2ws-1)^2`` relative
            position bias table for every slot pair (0 where the mask is False).
        num_groups (int): G.
        group_size (int): gs.
    """
    gather_index: torch.Tensor
    slot_index: torch.Tensor
    attn_mask: torch.Tensor
    rel_pos_index: torch.Tensor
    num_groups: int
    group_size: int


def window_ids(coords: torch.Tensor,
               grid_hw: Tuple[int, int],
               window_size: int,
               shift: int,
               sample_ids: Optional[torch.Tensor] = None) -> torch.Tensor:
    """Window id of each token for a (possibly shifted) window partition.

    The shifted partition is Swin's cyclic roll plus region mask written without the roll:
    per axis ``id = (coord + (ws - shift) % ws) // ws``. Border windows then are exactly the
    sub-regions Swin's mask keeps apart, and offsets inside a window are unchanged.

    Args:
        coords (Tensor): (N, 2) long, (row, col) of each token on the stage grid.
        grid_hw (tuple[int, int]): (H, W) of the stage grid.
        window_size (int): ws.
        shift (int): 0 for regular windows, else the shift (usually ws // 2).
        sample_ids (Tensor, optional): (N,) long sample of each token; windows of different
            samples get different ids. Defaults to None (one sample).

    Returns:
        Tensor: (N,) long window ids in ``[0, num_samples * nWh * nWw)``.
    """
    offset = (window_size - shift) % window_size
    n_w = (grid_hw[1] + offset + window_size - 1) // window_size
    n_h = (grid_hw[0] + offset + window_size - 1) // window_size
    win = (coords + offset) // window_size  # (N, 2)
    ids = win[:, 0] * n_w + win[:, 1]
    if sample_ids is not None:
        ids = ids + sample_ids * (n_h * n_w)
    return ids


def window_counts(ids: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
    """Non-empty windows and their token counts.

    Args:
        ids (Tensor): (N,) window id per token.

    Returns:
        tuple[Tensor, Tensor]: sorted unique window ids (nW,) and counts (nW,).
    """
    return torch.unique(ids, sorted=True, return_counts=True)


def _fullest_subset(items: Sequence[Tuple[int, int]], capacity: int) -> List[int]:
    """0-1 subset sum: positions in ``items`` of a subset with the largest total <= capacity.

    ``items`` are (weight, key) pairs. Reachable sums are kept as bits of a Python int, one
    snapshot per item, so the DP costs one shift-or per item and backtracking is exact.
    """
    full = (1 << (capacity + 1)) - 1
    reach = 1
    snapshots = [reach]
    for weight, _ in items:
        reach = (reach | (reach << weight)) & full
        snapshots.append(reach)
    best = reach.bit_length() - 1
    chosen = []
    for t in range(len(items), 0, -1):
        if best == 0:
            break
        if not (snapshots[t - 1] >> best) & 1:
            chosen.append(t - 1)
            best -= items[t - 1][0]
    return chosen


def pack_greedy_knapsack(counts: Sequence[int], capacity: int) -> List[List[int]]:
    """The spec's packer: repeatedly take the fullest subset of the remaining windows.

    Each round solves a 0-1 knapsack (weight = value = window count, capacity ``gs``) over
    the windows left and makes the chosen subset one group. Equal counts are interchangeable
    for the DP, so only ``capacity // w`` copies of each count ``w`` enter a round.

    Args:
        counts (Sequence[int]): token count of each window, each in ``[1, capacity]``.
        capacity (int): group size gs.

    Returns:
        list[list[int]]: window indices (into ``counts``) of each group.
    """
    pools = {}
    for idx, c in enumerate(counts):
        pools.setdefault(int(c), []).append(idx)
    groups = []
    while pools:
        items = []
        for w in sorted(pools, reverse=True):
            items.extend((w, k) for k in range(min(len(pools[w]), capacity // w)))
        chosen = _fullest_subset(items, capacity)
        group = []
        for pos in chosen:
            w = items[pos][0]
            group.append(pools[w].pop())
            if not pools[w]:
                del pools[w]
        groups.append(group)
    return groups


def pack_first_fit_decreasing(counts: Sequence[int], capacity: int) -> List[List[int]]:
    """First-fit decreasing bin packing of windows into groups of ``capacity``."""
    order = sorted(range(len(counts)), key=lambda i: -int(counts[i]))
    groups, free = [], []
    for idx in order:
        c = int(counts[idx])
        for g, room in enumerate(free):
            if c <= room:
                groups[g].append(idx)
                free[g] -= c
                break
        else:
            groups.append([idx])
            free.append(capacity - c)
    return groups


def pack_windows(counts: Sequence[int], capacity: int) -> List[List[int]]:
    """Pack windows into as few groups of ``capacity`` tokens as we can find quickly.

    Runs the greedy knapsack packer of the spec and first-fit decreasing, and returns the
    one with fewer groups (the knapsack one on ties), so the result is never worse than the
    greedy DP. Stops early when a packing meets the lower bound ``ceil(sum / capacity)``.

    Args:
        counts (Sequence[int]): token count of each window, each in ``[1, capacity]``.
        capacity (int): group size gs.

    Returns:
        list[list[int]]: window indices (into ``counts``) of each group.
    """
    counts = [int(c) for c in counts]
    if not counts:
        return []
    if max(counts) > capacity or min(counts) < 1:
        raise ValueError(f'window counts must lie in [1, {capacity}], got '
                         f'[{min(counts)}, {max(counts)}]')
    lower_bound = -(-sum(counts) // capacity)
    best = pack_greedy_knapsack(counts, capacity)
    if len(best) > lower_bound:
        ffd = pack_first_fit_decreasing(counts, capacity)
        if len(ffd) < len(best):
            best = ffd
    return best


def choose_group_size(counts: torch.Tensor, window_size: int) -> int:
    """Group size gs = min(ws^2, largest window count), as found best in the paper."""
    return int(min(window_size * window_size, int(counts.max())))


def relative_position_index(coords_q: torch.Tensor, coords_k: torch.Tensor,
                            window_size: int) -> torch.Tensor:
    """Swin's relative-position table index from original token coordinates.

    Args:
        coords_q (Tensor): (..., Lq, 2) long coordinates of queries.
        coords_k (Tensor): (..., Lk, 2) long coordinates of keys.
        window_size (int): ws; the table has (2ws-1)^2 rows.

    Returns:
        Tensor: (..., Lq, Lk) long, ``(dh + ws - 1) * (2ws - 1) + (dw + ws - 1)``. Only
        meaningful for pairs in one window (|dh|, |dw| < ws).
    """
    diff = coords_q.unsqueeze(-2) - coords_k.unsqueeze(-3)  # (..., Lq, Lk, 2)
    diff = diff + (window_size - 1)
    return diff[..., 0] * (2 * window_size - 1) + diff[..., 1]


def window_relative_position_index(window_size: int) -> torch.Tensor:
    """The index of one full window: the ``relative_position_index`` buffer of Swin.

    Args:
        window_size (int): Window side ``ws``.

    Returns:
        Tensor: ``(ws * ws, ws * ws)`` long, :func:`relative_position_index` of the window's
        row-major coordinates with themselves (the buffer of both Microsoft Swin and
        mmpretrain's ``WindowMSA``).
    """
    grid = torch.arange(window_size)
    coords = torch.stack(torch.meshgrid(grid, grid, indexing='ij'), -1).flatten(0, 1)  # (ws*ws, 2)
    return relative_position_index(coords, coords, window_size)


def build_group_layout(coords: torch.Tensor,
                       grid_hw: Tuple[int, int],
                       window_size: int,
                       shift: int,
                       sample_ids: Optional[torch.Tensor] = None,
                       single_group_threshold: Optional[int] = None,
                       group_size: Optional[int] = None) -> GroupLayout:
    """Grouping of one stage's visible tokens for one window partition.

    Args:
        coords (Tensor): (N, 2) long, (row, col) of each token on the stage grid.
        grid_hw (tuple[int, int]): (H, W) of the stage grid.
        window_size (int): ws.
        shift (int): window shift of the partition (0 = regular windows).
        sample_ids (Tensor, optional): (N,) sample of each token for per-sample layouts.
            Defaults to None.
        single_group_threshold (int, optional): with at most this many tokens, skip packing
            and attend within one group of all tokens (still masked per window). Defaults
            to ``2 * ws^2`` as in the paper.
        group_size (int, optional): the capacity ``gs`` of the groups when packing, at
            least the largest window count (``ws^2`` always is). A fixed one keeps the
            layout's shapes independent of the mask but for the group count (see
            :func:`group_count_buckets`). Defaults to None: ``min(ws^2, largest count)``
            (:func:`choose_group_size`).

    Returns:
        GroupLayout: see :class:`GroupLayout`.
    """
    device = coords.device
    n = coords.shape[0]
    if single_group_threshold is None:
        single_group_threshold = 2 * window_size * window_size
    ids = window_ids(coords, grid_hw, window_size, shift, sample_ids)  # (N,)
    uniq, counts = window_counts(ids)  # (nW,), (nW,)
    win_of_token = torch.searchsorted(uniq, ids)  # (N,) dense window index

    if n <= single_group_threshold:
        group_size = n
        group_of_win = torch.zeros_like(counts)
        offset_of_win = torch.cumsum(counts, 0) - counts
        num_groups = 1
    else:
        if group_size is None:
            group_size = choose_group_size(counts, window_size)
        groups = pack_windows(counts.tolist(), group_size)
        num_groups = len(groups)
        order = torch.tensor([w for g in groups for w in g], dtype=torch.long)
        sizes = torch.tensor([len(g) for g in groups], dtype=torch.long)
        group_of_order = torch.repeat_interleave(torch.arange(num_groups), sizes)
        counts_in_order = counts.cpu()[order]
        # Offset of each window inside its group: exclusive cumsum restarted per group.
        cum = torch.cumsum(counts_in_order, 0) - counts_in_order
        group_start = cum[torch.cumsum(sizes, 0) - sizes]  # (G,)
        offset_in_order = cum - group_start[group_of_order]
        group_of_win = torch.empty_like(order)
        offset_of_win = torch.empty_like(order)
        group_of_win[order] = group_of_order
        offset_of_win[order] = offset_in_order
        group_of_win = group_of_win.to(device)
        offset_of_win = offset_of_win.to(device)

    # Rank of each token inside its window: stable sort by window, minus the window start.
    sorted_win, perm = torch.sort(win_of_token, stable=True)  # (N,)
    win_start = torch.cumsum(counts, 0) - counts  # (nW,)
    rank_sorted = torch.arange(n, device=device) - win_start[sorted_win]
    rank = torch.empty_like(rank_sorted)
    rank[perm] = rank_sorted
    slot_index = (group_of_win[win_of_token] * group_size + offset_of_win[win_of_token] + rank
                  )  # (N,)

    num_slots = num_groups * group_size
    gather_index = torch.full((num_slots, ), n, dtype=torch.long, device=device)
    gather_index[slot_index] = torch.arange(n, device=device)
    slot_window = torch.full((num_slots, ), -1, dtype=torch.long, device=device)
    slot_window[slot_index] = win_of_token
    slot_coords = torch.zeros(num_slots, 2, dtype=torch.long, device=device)
    slot_coords[slot_index] = coords

    slot_window = slot_window.view(num_groups, group_size)  # (G, gs)
    slot_coords = slot_coords.view(num_groups, group_size, 2)  # (G, gs, 2)
    attn_mask = (slot_window.unsqueeze(2) == slot_window.unsqueeze(1)) & (slot_window.unsqueeze(1)
                                                                          >= 0)  # (G, gs, gs)
    attn_mask |= torch.eye(group_size, dtype=torch.bool, device=device)
    rel_pos_index = relative_position_index(slot_coords, slot_coords, window_size)
    rel_pos_index = rel_pos_index.masked_fill(~attn_mask, 0)  # (G, gs, gs)
    return GroupLayout(gather_index, slot_index, attn_mask, rel_pos_index, num_groups, group_size)


def group_count_buckets(num_tokens: int, group_size: int) -> List[int]:
    """The few group counts a packing of ``num_tokens`` into groups of ``group_size`` is
    padded to when shapes must not follow the mask (``torch.compile``), ascending.

    Packings found by :func:`pack_windows` rarely exceed the lower bound
    ``L = ceil(N / gs)`` by more than a few groups, so the first two buckets add a little
    slack (``L + 1 + L // 16`` and ``L + 1 + L // 4``); the last, ``2N // gs + 1``, bounds
    every packing: in a first-fit packing at most one group is at most half full, and
    :func:`pack_windows` never returns more groups than first-fit decreasing.

    Args:
        num_tokens (int): N, the tokens packed.
        group_size (int): gs, the capacity of a group.

    Returns:
        list[int]: one to three group counts, the last one an upper bound.
    """
    lower = -(-num_tokens // group_size)
    upper = min(num_tokens, 2 * num_tokens // group_size + 1)
    slack = (lower + 1 + lower // 16, lower + 1 + lower // 4)
    return sorted({min(upper, b) for b in slack} | {upper})


def pad_groups(layout: GroupLayout, num_groups: int) -> GroupLayout:
    """``layout`` with empty groups appended up to ``num_groups`` groups.

    Appended slots hold no token: they gather the padding index N, attend only to
    themselves (so their rows stay finite) and no token's ``slot_index`` points at them, so
    results and gradients are those of ``layout``.

    Args:
        layout (GroupLayout): a layout of at most ``num_groups`` groups.
        num_groups (int): the group count wanted.

    Returns:
        GroupLayout: the padded layout (``layout`` itself when nothing is added).
    """
    extra = num_groups - layout.num_groups
    if extra < 0:
        raise ValueError(f'cannot pad a layout of {layout.num_groups} groups to {num_groups}')
    if extra == 0:
        return layout
    gs = layout.group_size
    n = layout.slot_index.shape[0]
    gather = layout.gather_index.new_full((extra * gs, ), n)  # (extra * gs,)
    eye = torch.eye(gs, dtype=torch.bool, device=layout.attn_mask.device)
    return GroupLayout(
        torch.cat([layout.gather_index, gather]),  # (G' * gs,)
        layout.slot_index,
        torch.cat([layout.attn_mask, eye.expand(extra, gs, gs)]),  # (G', gs, gs)
        torch.cat([layout.rel_pos_index,
                   layout.rel_pos_index.new_zeros(extra, gs, gs)]),
        num_groups,
        gs)
