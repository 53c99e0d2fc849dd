"""Pure functions that turn pretraining checkpoints into mmpretrain Swin backbones.

Two sources are supported (`GreenMIM <https://arxiv.org/abs/2205.13515>`_ pretraining in both):

* ``greenmim_mm``: our own pretraining checkpoints (mmengine format, model keys ``backbone.*``,
  ``neck.*``, ``head.*``). The backbone keys already are mmpretrain ``SwinTransformer`` keys;
  only the decoder, the head and the optimizer state are dropped.
* ``official``: the authors' released checkpoints, a ``{'model': state_dict}`` whose encoder is
  a Microsoft-Swin module under the ``encoder.`` prefix (the decoder sits beside it). Every key
  is renamed (table below), the patch-merging weights are reordered and the per-block
  ``relative_position_index`` buffers are regenerated.

Renames from the Microsoft-Swin layout (``i`` = stage, ``j`` = block, ``L`` = last stage)::

    patch_embed.proj.*                         -> patch_embed.projection.*
    patch_embed.norm.*                         -> patch_embed.norm.*
    layers.i.blocks.j.norm1.* / norm2.*        -> stages.i.blocks.j.norm1.* / norm2.*
    layers.i.blocks.j.attn.qkv.*               -> stages.i.blocks.j.attn.w_msa.qkv.*
    layers.i.blocks.j.attn.proj.*              -> stages.i.blocks.j.attn.w_msa.proj.*
    layers.i.blocks.j.attn.relative_position_bias_table
        -> stages.i.blocks.j.attn.w_msa.relative_position_bias_table
    layers.i.blocks.j.mlp.fc1.*                -> stages.i.blocks.j.ffn.layers.0.0.*
    layers.i.blocks.j.mlp.fc2.*                -> stages.i.blocks.j.ffn.layers.1.*
    layers.i.downsample.reduction.weight       -> stages.i.downsample.reduction.weight  (reordered)
    layers.i.downsample.norm.*                 -> stages.i.downsample.norm.*           (reordered)
    norm.*                                     -> norm{L}.*
    absolute_pos_embed                         -> absolute_pos_embed

Dropped: ``relative_position_index`` (regenerated for the target window), ``attn_mask``
(rebuilt at run time), ``head.*`` (a classifier, if any) and, outside the ``encoder.`` prefix,
the decoder (``decoder_*``, ``mask_token``) unless :func:`convert_official_decoder` keeps it.

Renames of the authors' decoder (MAE's, timm ``Block``s) to :class:`GreenMIMPretrainDecoder`
(mmpretrain ``TransformerEncoderLayer`` blocks), written under ``neck.``::

    decoder_embed.*                            -> decoder_embed.*
    mask_token                                 -> mask_token
    decoder_blocks.j.norm1.* / norm2.*         -> decoder_blocks.j.ln1.* / ln2.*
    decoder_blocks.j.attn.qkv.* / proj.*       -> decoder_blocks.j.attn.qkv.* / proj.*
    decoder_blocks.j.mlp.fc1.*                 -> decoder_blocks.j.ffn.layers.0.0.*
    decoder_blocks.j.mlp.fc2.*                 -> decoder_blocks.j.ffn.layers.1.*
    decoder_norm.* / decoder_pred.*            -> decoder_norm.* / decoder_pred.*
    decoder_pos_embed                          -> dropped: a fixed table our decoder computes;
                                                  its layout is checked and reported (MAE's)

Facts these functions rely on:

* Patch merging. Microsoft Swin concatenates the 2x2 neighbourhood position-major in the order
  (row, col) = (0,0), (1,0), (0,1), (1,1); mmcv's ``PatchMerging`` (used by mmpretrain) flattens
  it with ``nn.Unfold``, channel-major with the positions row-major: index ``c * 4 + kh * 2 + kw``.
  So the 4C input features of ``reduction`` and ``norm`` are permuted: positions by
  [0, 2, 1, 3] and (position, channel) transposed to (channel, position). The authors' sparse
  merge uses Swin's order since their commit "fix misalignment in PatchMerging" (2023-01-16);
  before it, it concatenated (0,0), (0,1), (1,0), (1,1) (``merge_order='row-major'`` converts
  such weights).
* Which code trained the releases: their download links are unchanged since the README of
  2022-06-02, so the first upload's ``models_swin.py`` (commit "upload code", 2022-05-27), with
  the row-major merge and, after each merge, coordinates taken row-major while the tokens stay
  unit-major (wrong windows and relative positions in stages 2 and 3). No Swin computes that
  network; the authors fine-tuned the releases in Microsoft's Swin (SimMIM's code) without
  reordering anything, which is what ``merge_order='swin'`` (the default) reproduces.
* Relative position tables have ``(2 * window - 1) ** 2`` rows, one column per head, and the same
  index formula in both implementations, ``(dh + w - 1) * (2w - 1) + (dw + w - 1)``; the rows need
  no permutation. The window is per stage: the original Swin shrinks it to the feature map when
  the map is smaller (Swin-L w14 at 224 px trains its last stage with window 7).
* The authors' encoder uses LayerNorm ``eps=1e-6`` everywhere; eps is not stored in a checkpoint,
  so the target config has to set it (``configs/mask_rcnn/*`` do).
"""
import math
import re
from collections import OrderedDict
from typing import Dict, List, Mapping, Optional, Sequence, Tuple

import torch
import torch.nn.functional as F

from .sparse.grouping import window_relative_position_index

__all__ = [
    'unwrap_state_dict', 'detect_format', 'convert_greenmim_mm', 'convert_official_swin',
    'merge_swin_to_mmcv', 'merge_mmcv_to_swin', 'resize_relative_position_table', 'infer_swin_arch',
    'set_window_sizes', 'add_output_norms', 'to_backbone_checkpoint', 'convert_official_decoder',
    'detect_pos_embed_layout', 'MERGE_ORDER_NOTES'
]

# (pattern, replacement) pairs applied in order to keys of the Microsoft-Swin layout; the first
# match wins.
_OFFICIAL_RENAMES: Tuple[Tuple[str, str], ...] = (
    (r'^patch_embed\.proj\.', 'patch_embed.projection.'),
    (r'^patch_embed\.norm\.', 'patch_embed.norm.'),
    (r'^layers\.(\d+)\.blocks\.(\d+)\.(norm1|norm2)\.', r'stages.\1.blocks.\2.\3.'),
    (r'^layers\.(\d+)\.blocks\.(\d+)\.attn\.(qkv|proj)\.', r'stages.\1.blocks.\2.attn.w_msa.\3.'),
    (r'^layers\.(\d+)\.blocks\.(\d+)\.attn\.relative_position_bias_table$',
     r'stages.\1.blocks.\2.attn.w_msa.relative_position_bias_table'),
    (r'^layers\.(\d+)\.blocks\.(\d+)\.mlp\.fc1\.', r'stages.\1.blocks.\2.ffn.layers.0.0.'),
    (r'^layers\.(\d+)\.blocks\.(\d+)\.mlp\.fc2\.', r'stages.\1.blocks.\2.ffn.layers.1.'),
    (r'^layers\.(\d+)\.downsample\.(reduction|norm)\.', r'stages.\1.downsample.\2.'),
    (r'^absolute_pos_embed$', 'absolute_pos_embed'),
)
# Keys of the Microsoft-Swin layout that are not weights of the backbone we build.
_OFFICIAL_DROPPED = re.compile(r'(relative_position_index|attn_mask)$|^head\.')
# Decoder keys of the authors' MaskedAutoencoder (outside the encoder. prefix).
_OFFICIAL_DECODER = re.compile(r'^(decoder_|mask_token)')

# Source position (index into the checkpoint's four) of each row-major position kh * 2 + kw.
_MERGE_POSITIONS = {'swin': [0, 2, 1, 3], 'row-major': [0, 1, 2, 3]}

# What each merge order means for the authors' releases (the converter prints it).
MERGE_ORDER_NOTES = {
    'swin': ('(0,0),(1,0),(0,1),(1,1), as Microsoft Swin: the authors fine-tuned their '
             'released checkpoints in Microsoft\'s Swin (SimMIM\'s code) without reordering '
             'the weights, and this reproduces that fine-tuning'),
    'row-major': ('(0,0),(0,1),(1,0),(1,1), the merge of the authors\' first upload '
                  '(2022-05-27) that pretrained the releases; for experiments: no Swin '
                  'reproduces that code (its coordinates after each merge were wrong too)'),
}

# timm Block / MAE decoder keys -> GreenMIMPretrainDecoder keys; the first match wins.
_OFFICIAL_DECODER_RENAMES: Tuple[Tuple[str, str], ...] = (
    (r'^decoder_embed\.(weight|bias)$', r'decoder_embed.\1'),
    (r'^mask_token$', 'mask_token'),
    (r'^decoder_blocks\.(\d+)\.norm([12])\.', r'decoder_blocks.\1.ln\2.'),
    (r'^decoder_blocks\.(\d+)\.attn\.(qkv|proj)\.', r'decoder_blocks.\1.attn.\2.'),
    (r'^decoder_blocks\.(\d+)\.mlp\.fc1\.', r'decoder_blocks.\1.ffn.layers.0.0.'),
    (r'^decoder_blocks\.(\d+)\.mlp\.fc2\.', r'decoder_blocks.\1.ffn.layers.1.'),
    (r'^decoder_norm\.(weight|bias)$', r'decoder_norm.\1'),
    (r'^decoder_pred\.(weight|bias)$', r'decoder_pred.\1'),
)

_TABLE_KEY = re.compile(
    r'^stages\.(\d+)\.blocks\.(\d+)\.attn\.w_msa\.relative_position_bias_table$')


def unwrap_state_dict(checkpoint: Mapping) -> Dict[str, torch.Tensor]:
    """Return the model weights of a loaded checkpoint.

    Args:
        checkpoint (Mapping): What ``torch.load`` returned: an mmengine checkpoint
            (``state_dict``), an authors' checkpoint (``model``) or a flat state dict.

    Returns:
        dict: The flat ``name -> tensor`` mapping, without a ``module.`` prefix (DDP) if every
        key has one.
    """
    for key in ('state_dict', 'model'):
        if key in checkpoint and isinstance(checkpoint[key], Mapping):
            weights = dict(checkpoint[key])
            break
    else:
        if not all(torch.is_tensor(v) for v in checkpoint.values()):
            raise KeyError('cannot find the weights in the checkpoint: expected a "state_dict" '
                           f'(mmengine) or "model" (authors) entry, got keys {sorted(checkpoint)}')
        weights = dict(checkpoint)
    if weights and all(k.startswith('module.') for k in weights):
        weights = {k[len('module.'):]: v for k, v in weights.items()}
    return weights


def detect_format(state_dict: Mapping[str, torch.Tensor]) -> str:
    """Tell a greenmim_mm (mmpretrain layout) state dict from a Microsoft-Swin one.

    Args:
        state_dict (Mapping): Flat weights, see :func:`unwrap_state_dict`.

    Returns:
        str: ``'greenmim_mm'`` for ``backbone.stages.*`` keys, ``'official'`` for
        ``[encoder.]layers.*`` keys.
    """
    keys = list(state_dict)
    if any(k.startswith('backbone.stages.') for k in keys):
        return 'greenmim_mm'
    if any(re.match(r'^(encoder\.)?layers\.\d+\.blocks\.', k) for k in keys):
        return 'official'
    raise ValueError('neither an mmpretrain Swin (backbone.stages.*) nor a Microsoft Swin '
                     '([encoder.]layers.*.blocks.*) checkpoint; first keys: '
                     f'{keys[:5]}')


def convert_greenmim_mm(state_dict: Mapping[str, torch.Tensor],
                        prefix: str = 'backbone.') -> 'OrderedDict[str, torch.Tensor]':
    """Keep the backbone of a greenmim_mm pretraining model.

    Args:
        state_dict (Mapping): The algorithm's weights (``backbone.*``, ``neck.*``, ``head.*``).
        prefix (str): Prefix of the encoder keys. Defaults to 'backbone.'.

    Returns:
        OrderedDict: Backbone weights without the prefix; decoder and head are dropped.
    """
    out = OrderedDict((k[len(prefix):], v) for k, v in state_dict.items() if k.startswith(prefix))
    if not out:
        raise KeyError(f'no key starts with {prefix!r}')
    return out


def merge_swin_to_mmcv(param: torch.Tensor, order: str = 'swin') -> torch.Tensor:
    """Reorder patch-merging ``reduction.weight`` or ``norm.*`` from Microsoft to mmcv order.

    Args:
        param (Tensor): ``(out, 4C)`` reduction weight or ``(4C,)`` norm weight/bias whose
            input features are ``position * C + channel``.
        order (str): Order of the four positions (row, col) in ``param``: ``'swin'`` for
            (0,0), (1,0), (0,1), (1,1) (Microsoft Swin, and the authors' sparse merge since
            their commit "fix misalignment in PatchMerging"), ``'row-major'`` for (0,0), (0,1),
            (1,0), (1,1) (the authors' sparse merge before that commit). Defaults to 'swin'.

    Returns:
        Tensor: The same shape, features ``channel * 4 + kh * 2 + kw`` (``nn.Unfold`` order).
    """
    lead = param.shape[:-1]
    C = param.shape[-1] // 4
    p = param.reshape(*lead, 4, C)  # (..., position, C), source positions
    p = p[..., _MERGE_POSITIONS[order], :]  # (..., position, C), row-major (kh * 2 + kw)
    return p.transpose(-1, -2).reshape(*lead, 4 * C)  # (..., C * 4)


def merge_mmcv_to_swin(param: torch.Tensor) -> torch.Tensor:
    """Inverse of :func:`merge_swin_to_mmcv` (mmcv order back to Microsoft order).

    Args:
        param (Tensor): ``(out, 4C)`` or ``(4C,)`` in ``nn.Unfold`` order.

    Returns:
        Tensor: The same shape in Microsoft Swin order.
    """
    lead = param.shape[:-1]
    C = param.shape[-1] // 4
    p = param.reshape(*lead, C, 4).transpose(-1, -2)  # (..., position, C), row-major positions
    return p[..., [0, 2, 1, 3], :].reshape(*lead, 4 * C)  # (..., 4 * C)


def convert_official_swin(state_dict: Mapping[str, torch.Tensor],
                          prefix: str = 'encoder.',
                          merge_order: str = 'swin') -> 'OrderedDict[str, torch.Tensor]':
    """Map an authors' GreenMIM (Microsoft-Swin layout) encoder to mmpretrain's Swin keys.

    Args:
        state_dict (Mapping): The checkpoint's ``model`` weights. Keys under ``prefix`` are the
            encoder; if no key has the prefix the whole dict is taken as the encoder (an
            extracted backbone).
        prefix (str): Encoder prefix. Defaults to 'encoder.'.
        merge_order (str): Position order of the patch-merging weights, see
            :func:`merge_swin_to_mmcv`. Defaults to 'swin'.

    Returns:
        OrderedDict: mmpretrain ``SwinTransformer`` weights (without ``relative_position_index``;
        see :func:`set_window_sizes`).

    Raises:
        KeyError: If an encoder key matches no rename rule (nothing is dropped silently).
    """
    if any(k.startswith(prefix) for k in state_dict):
        encoder = {k[len(prefix):]: v for k, v in state_dict.items() if k.startswith(prefix)}
    else:
        encoder = {k: v for k, v in state_dict.items() if not _OFFICIAL_DECODER.match(k)}
    stage_ids = {int(m.group(1)) for k in encoder for m in [re.match(r'^layers\.(\d+)\.', k)] if m}
    if not stage_ids:
        raise KeyError('no layers.<i>.* keys: not a Swin encoder')
    last = max(stage_ids)

    out: 'OrderedDict[str, torch.Tensor]' = OrderedDict()
    unknown = []
    for key, value in encoder.items():
        if _OFFICIAL_DROPPED.search(key):
            continue
        if key.startswith('norm.'):
            out[f'norm{last}.' + key[len('norm.'):]] = value
            continue
        for pattern, repl in _OFFICIAL_RENAMES:
            new_key, n = re.subn(pattern, repl, key)
            if n:
                break
        else:
            unknown.append(key)
            continue
        if '.downsample.' in new_key:
            value = merge_swin_to_mmcv(value, merge_order)
        out[new_key] = value
    if unknown:
        raise KeyError(f'encoder keys with no rename rule: {unknown}')
    return out


def resize_relative_position_table(table: torch.Tensor, window_size: int) -> torch.Tensor:
    """Resize a relative position bias table to another window, bicubically.

    This is how Microsoft Swin (and SimMIM) load a checkpoint into a model with another window.
    mmpretrain's own load hook instead spaces the source offsets geometrically and calls
    ``scipy.interpolate.interp2d``, which SciPy 1.14 removed; converting here avoids both it and
    the hook (whose ``del`` of the index buffer fails when the buffer is not in the checkpoint).

    Args:
        table (Tensor): ``((2s - 1) ** 2, num_heads)`` for source window ``s``.
        window_size (int): Target window ``w``.

    Returns:
        Tensor: ``((2w - 1) ** 2, num_heads)``, same dtype; the table itself when ``w == s``.
    """
    L, num_heads = table.shape
    src = math.isqrt(L)
    assert src * src == L, f'a table of {L} rows is not square'
    dst = 2 * window_size - 1
    if src == dst:
        return table
    grid = table.float().t().reshape(1, num_heads, src, src)  # (1, nH, 2s-1, 2s-1)
    grid = F.interpolate(grid, size=(dst, dst), mode='bicubic', align_corners=False)
    return grid.reshape(num_heads, dst * dst).t().contiguous().to(table.dtype)  # (L', nH)


def infer_swin_arch(state_dict: Mapping[str, torch.Tensor]) -> dict:
    """Read a Swin's architecture off its mmpretrain-layout weights.

    Args:
        state_dict (Mapping): Backbone weights in mmpretrain layout (no ``backbone.`` prefix).

    Returns:
        dict: ``embed_dims``, ``depths``, ``num_heads``, ``window_sizes`` (per stage, from the
        table sizes), ``patch_size``, ``in_channels``, ``use_abs_pos_embed`` and ``img_size``
        (from the absolute position embedding, None without one).
    """
    proj = state_dict['patch_embed.projection.weight']  # (C, in_channels, p, p)
    depths: Dict[int, int] = {}
    heads: Dict[int, int] = {}
    windows: Dict[int, int] = {}
    for key, value in state_dict.items():
        m = _TABLE_KEY.match(key)
        if not m:
            continue
        stage, block = int(m.group(1)), int(m.group(2))
        depths[stage] = max(depths.get(stage, 0), block + 1)
        heads[stage] = value.shape[1]
        windows[stage] = (math.isqrt(value.shape[0]) + 1) // 2
    stages = sorted(depths)
    assert stages == list(range(len(stages))), f'stages {stages} are not 0..n-1'
    pos_embed = state_dict.get('absolute_pos_embed')  # (1, H*W, C)
    img_size = None if pos_embed is None else math.isqrt(pos_embed.shape[1]) * proj.shape[-1]
    return dict(
        embed_dims=proj.shape[0],
        depths=[depths[i] for i in stages],
        num_heads=[heads[i] for i in stages],
        window_sizes=[windows[i] for i in stages],
        patch_size=proj.shape[-1],
        in_channels=proj.shape[1],
        use_abs_pos_embed=pos_embed is not None,
        img_size=img_size)


def set_window_sizes(
        state_dict: Mapping[str, torch.Tensor],
        window_sizes: Sequence[int]) -> Tuple['OrderedDict[str, torch.Tensor]', List[str]]:
    """Fit every block's table to its stage's target window and write its index buffer.

    Args:
        state_dict (Mapping): Backbone weights in mmpretrain layout.
        window_sizes (Sequence[int]): Target window per stage.

    Returns:
        tuple: The new state dict (``relative_position_index`` written next to every table) and
        one message per resized table.
    """
    out: 'OrderedDict[str, torch.Tensor]' = OrderedDict()
    messages = []
    for key, value in state_dict.items():
        if key.endswith('relative_position_index'):
            continue  # rewritten next to its table
        m = _TABLE_KEY.match(key)
        if not m:
            out[key] = value
            continue
        stage = int(m.group(1))
        assert stage < len(window_sizes), \
            f'{key}: no target window for stage {stage} in {list(window_sizes)}'
        window = window_sizes[stage]
        resized = resize_relative_position_table(value, window)
        if resized is not value:
            messages.append(f'{key}: {tuple(value.shape)} -> {tuple(resized.shape)} '
                            f'(window {(math.isqrt(value.shape[0]) + 1) // 2} -> {window})')
        out[key] = resized
        out[key[:-len('bias_table')] + 'index'] = window_relative_position_index(window)
    return out, messages


def add_output_norms(
        state_dict: Mapping[str, torch.Tensor], out_indices: Sequence[int],
        num_features: Sequence[int]) -> Tuple['OrderedDict[str, torch.Tensor]', List[str]]:
    """Write a fresh LayerNorm for every output norm the checkpoint lacks.

    Pretraining normalises only the last stage; a detector also reads stages 0..2 through
    ``norm0..norm2``. Writing them as weight 1, bias 0 (their initialisation) makes the
    checkpoint complete, so a load reports no missing backbone key.

    Args:
        state_dict (Mapping): Backbone weights in mmpretrain layout.
        out_indices (Sequence[int]): Stages the target backbone outputs.
        num_features (Sequence[int]): Channels of each stage's output.

    Returns:
        tuple: The new state dict and the names of the norms added.
    """
    out = OrderedDict(state_dict)
    dtype = next(v.dtype for v in state_dict.values() if v.is_floating_point())
    added = []
    for i in out_indices:
        if f'norm{i}.weight' in out:
            continue
        out[f'norm{i}.weight'] = torch.ones(num_features[i], dtype=dtype)
        out[f'norm{i}.bias'] = torch.zeros(num_features[i], dtype=dtype)
        added.append(f'norm{i}')
    return out, added


def to_backbone_checkpoint(state_dict: Mapping[str, torch.Tensor],
                           meta: Optional[dict] = None,
                           prefix: str = 'backbone.') -> dict:
    """Wrap backbone weights as a checkpoint mmengine's prefix loader and ``load_from`` read.

    Args:
        state_dict (Mapping): Backbone weights in mmpretrain layout.
        meta (dict, optional): Plain-Python provenance (kept loadable with
            ``torch.load(weights_only=True)``). Defaults to None.
        prefix (str): Prefix of every key. Defaults to 'backbone.'.

    Returns:
        dict: ``{'meta': meta, 'state_dict': {prefix + key: tensor}}``.
    """
    return dict(
        meta=dict(meta or {}),
        state_dict=OrderedDict((prefix + k, v.contiguous()) for k, v in state_dict.items()))


def detect_pos_embed_layout(table: torch.Tensor, atol: float = 1e-5) -> str:
    """Which fixed sin-cos layout a stored decoder table has.

    Args:
        table (Tensor): ``(1, L, D)`` or ``(L, D)``, ``L`` a square grid's unit count.
        atol (float): Largest difference allowed from the computed table. Defaults to 1e-5.

    Returns:
        str: A key of ``POS_EMBED_LAYOUTS`` of :mod:`greenmim_mm.models.necks` (``'mae'`` for
        the authors' checkpoints).

    Raises:
        ValueError: If the table is none of them (the decoder would see other positions).
    """
    from greenmim_mm.models.necks import POS_EMBED_LAYOUTS
    table = table.reshape(-1, table.shape[-1]).float()  # (L, D)
    side = math.isqrt(table.shape[0])
    if side * side != table.shape[0]:
        raise ValueError(f'decoder_pos_embed has {table.shape[0]} positions, not a square grid')
    errors = {}
    for layout, build in POS_EMBED_LAYOUTS.items():
        errors[layout] = float((build((side, side), table.shape[1])[0] - table).abs().max())
        if errors[layout] <= atol:
            return layout
    raise ValueError('decoder_pos_embed is no fixed sin-cos table our decoder computes '
                     f'(largest difference per layout: {errors})')


def convert_official_decoder(
        state_dict: Mapping[str, torch.Tensor]) -> Tuple['OrderedDict[str, torch.Tensor]', dict]:
    """Map the authors' decoder (MAE layout) to :class:`GreenMIMPretrainDecoder` keys.

    Args:
        state_dict (Mapping): The checkpoint's ``model`` weights (encoder keys are ignored).

    Returns:
        tuple: The decoder's weights without a prefix (renames in the module docstring), and
        a dict with ``embed_dim``, ``decoder_embed_dim``, ``decoder_depth``, ``pred_dim``
        (pixels per unit times channels), ``grid`` (side of the stored table) and
        ``pos_embed_layout`` (of the stored ``decoder_pos_embed``).

    Raises:
        KeyError: If the decoder is missing or a key matches no rename rule.
    """
    decoder = {k: v for k, v in state_dict.items() if _OFFICIAL_DECODER.match(k)}
    for key in ('decoder_embed.weight', 'decoder_pos_embed', 'decoder_pred.weight', 'mask_token'):
        if key not in decoder:
            raise KeyError(f'no {key!r} in the checkpoint: --keep-decoder needs the authors\' '
                           'full pretraining checkpoint (encoder and decoder)')
    out: 'OrderedDict[str, torch.Tensor]' = OrderedDict()
    unknown = []
    for key, value in decoder.items():
        if key == 'decoder_pos_embed':
            continue
        for pattern, repl in _OFFICIAL_DECODER_RENAMES:
            new_key, n = re.subn(pattern, repl, key)
            if n:
                out[new_key] = value
                break
        else:
            unknown.append(key)
    if unknown:
        raise KeyError(f'decoder keys with no rename rule: {unknown}')
    table = decoder['decoder_pos_embed']  # (1, L, D)
    blocks = {int(m.group(1)) for k in out for m in [re.match(r'^decoder_blocks\.(\d+)\.', k)] if m}
    info = dict(
        embed_dim=decoder['decoder_embed.weight'].shape[1],
        decoder_embed_dim=decoder['decoder_embed.weight'].shape[0],
        decoder_depth=len(blocks),
        pred_dim=decoder['decoder_pred.weight'].shape[0],
        grid=math.isqrt(table.shape[-2]),
        pos_embed_layout=detect_pos_embed_layout(table))
    return out, info
