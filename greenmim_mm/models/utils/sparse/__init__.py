"""Sparse operations on the visible tokens: geometry, window grouping, group attention, convs.

Every function works on the visible tokens of a unit mask, shared by the batch (index
``(N, ...)``) or per sample (``(B, N, ...)``), and equals its dense counterpart on the
visible positions (tests/models/utils/sparse/).
"""
from .conv import (check_strided_conv, depthwise_conv_tokens, gather_children, gather_tokens,
                   patch_conv_pixels, patchify_pixels, strided_conv_tokens)
from .geometry import MaskGeometry, StageTokens, merge_index, neighbour_index, stage_tokens
from .group_attention import group_window_attention, group_window_attention_qkv
from .grouping import (GroupLayout, build_group_layout, choose_group_size, group_count_buckets,
                       pack_windows, pad_groups, relative_position_index,
                       window_relative_position_index)

__all__ = [
    'MaskGeometry', 'StageTokens', 'stage_tokens', 'merge_index', 'neighbour_index', 'GroupLayout',
    'build_group_layout', 'choose_group_size', 'group_count_buckets', 'pack_windows', 'pad_groups',
    'relative_position_index', 'window_relative_position_index', 'group_window_attention',
    'group_window_attention_qkv', 'gather_tokens', 'gather_children', 'strided_conv_tokens',
    'patchify_pixels', 'patch_conv_pixels', 'depthwise_conv_tokens', 'check_strided_conv'
]
