#!/usr/bin/env python
"""Convert a GreenMIM pretraining checkpoint into a Swin (or Twins) backbone checkpoint.

The output, ``{'meta': ..., 'state_dict': {'backbone.' + key: tensor}}``, loads into the
``backbone`` of an mmdet or mmpretrain model whose backbone is ``mmpretrain.SwinTransformer``
or ``GreenMIMSwinTransformer``: through
``init_cfg=dict(type='Pretrained', checkpoint=DST, prefix='backbone.')``, or ``load_from=DST``.

Examples::

    # our pretraining -> the demo detector's backbone
    python tools/model_converters/convert_checkpoint.py work_dirs/demo/pretrain/iter_300.pth \\
        work_dirs/demo/greenmim_backbone.pth --config configs/demo/mask-rcnn_greenmim_demo.py

    # an authors' release -> Swin-B w7 for Mask R-CNN
    python tools/model_converters/convert_checkpoint.py greenmim_swin_base_w7.pth \\
        checkpoints/greenmim_swin-b-w7_backbone.pth --from official \\
        --config configs/mask_rcnn/mask-rcnn_greenmim-swin-b_fpn_1x_coco.py

    # an authors' release with its decoder -> a full GreenMIM checkpoint to continue
    # pretraining from (load_from of the config)
    python tools/model_converters/convert_checkpoint.py greenmim_swin_base_w7.pth \\
        checkpoints/greenmim_swin-b-w7_official_full.pth --from official --keep-decoder \\
        --config configs/greenmim_swin_b_official_pretrain.py

Our checkpoints of other backbones (GreenMIMSVT, GreenMIMPCPVT: the plain mmpretrain
``SVT`` / ``PCPVT`` keys) keep their ``backbone.*`` weights as they are, checked against the
``--config`` backbone when one is given::

    python tools/model_converters/convert_checkpoint.py \\
        work_dirs/greenmim_twins_svt_l_pretrain/epoch_100.pth \\
        checkpoints/greenmim_twins-svt-l_backbone.pth \\
        --config configs/mask_rcnn/mask-rcnn_greenmim-twins-svt-l_fpn_1x_coco.py

The Swin conversion itself is :mod:`greenmim_mm.models.utils.ckpt_convert` (pure functions,
every rename listed there). This script loads SRC, converts it, fits the relative-position
tables to the target's window of every stage (bicubic resize where they differ), adds the output
norms the target reads but pretraining never had, loads the result into the target backbone and
prints its missing and unexpected keys. The target is the backbone of ``--config``, or else an
mmpretrain ``SwinTransformer`` with the checkpoint's architecture, ``--window-size`` and
``--out-indices``. It fails, writing nothing, when a backbone key would be missing.

With ``--keep-decoder`` (authors' checkpoints only) the target is the whole ``GreenMIM`` model
of ``--config`` (a pretraining config): the output holds ``backbone.*`` and ``neck.*`` and
must load into that model with ``strict=True``, or nothing is written. The decoder's fixed
position table is not copied: the checkpoint's table is checked to be MAE's layout, and the
config's decoder must compute that one (``pos_embed_layout='mae'``).

Patch-merging order (``--merge-order``, authors' checkpoints): the releases were pretrained by
the authors' first upload, whose merge is row-major and whose coordinates after each merge
were wrong, so no Swin computes the pretraining network. The default, ``swin``, is how the
authors fine-tuned them (Microsoft's Swin, weights not reordered). The printout says which
order was used and why.
"""
import argparse
import copy
import os
import os.path as osp
import pickle
import sys
from collections import OrderedDict
from typing import List, Optional

import torch
import torch.nn as nn

from greenmim_mm.models.utils.ckpt_convert import (MERGE_ORDER_NOTES, add_output_norms,
                                                   convert_greenmim_mm, convert_official_decoder,
                                                   convert_official_swin, detect_format,
                                                   infer_swin_arch, set_window_sizes,
                                                   to_backbone_checkpoint, unwrap_state_dict)


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Convert a GreenMIM pretraining checkpoint (ours or the authors\') into '
        'an mmpretrain Swin backbone checkpoint for mmdet / mmpretrain fine-tuning, or (an '
        'authors\' checkpoint, --keep-decoder) into a full GreenMIM checkpoint.')
    parser.add_argument('src', help='pretraining checkpoint')
    parser.add_argument(
        'dst',
        help='output: a backbone checkpoint, or with --keep-decoder a '
        'full GreenMIM checkpoint')
    parser.add_argument(
        '--from',
        dest='src_format',
        default='auto',
        choices=['auto', 'greenmim_mm', 'official'],
        help='greenmim_mm: our mmengine checkpoint (backbone.* keys); official: the authors\' '
        'release (Microsoft Swin keys under encoder.); auto: tell them apart by the keys')
    target = parser.add_mutually_exclusive_group()
    target.add_argument(
        '--config',
        help='mmdet or mmpretrain config whose model.backbone is the target: '
        'its windows and out_indices are used')
    target.add_argument(
        '--window-size',
        type=int,
        nargs='+',
        help='target window, one value for all stages or one per stage (default: the '
        'windows the checkpoint was pretrained with)')
    parser.add_argument(
        '--out-indices',
        type=int,
        nargs='+',
        default=[0, 1, 2, 3],
        help='stages the target outputs, without --config (their norms must exist). '
        'Default: 0 1 2 3, as a detector uses')
    parser.add_argument(
        '--merge-order',
        default='swin',
        choices=['swin', 'row-major'],
        help='official only: order of the 2x2 positions in the patch-merging weights. swin '
        '(default): (0,0),(1,0),(0,1),(1,1) as Microsoft Swin; the authors fine-tuned their '
        'released checkpoints in Microsoft\'s Swin without reordering, and this reproduces '
        'that. row-major: (0,0),(0,1),(1,0),(1,1), the merge of the authors\' first upload '
        '(2022-05-27), which pretrained the releases (their commit "fix misalignment in '
        'PatchMerging", 2023-01-16, moved to swin); for experiments, since that code also '
        'took wrong coordinates after each merge and no Swin reproduces it')
    parser.add_argument(
        '--keep-decoder',
        action='store_true',
        help='official only, with --config of a GreenMIM pretraining config: keep the decoder '
        'and write a full GreenMIM checkpoint (backbone.*, neck.*) that loads with '
        'strict=True, to continue pretraining via load_from')
    parser.add_argument(
        '--allow-pickle',
        action='store_true',
        help='load SRC with full unpickling when it holds more than tensors and plain '
        'containers. Only for files you trust.')
    return parser.parse_args(argv)


def load_source(path: str, allow_pickle: bool = False) -> dict:
    """Load a checkpoint with ``weights_only=True`` unless ``allow_pickle``.

    mmengine's checkpoint globals (message hub, numpy values) and ``argparse.Namespace`` (the
    authors' ``args`` entry) are allow-listed, so both sources load safely as released.
    """
    if allow_pickle:
        return torch.load(path, map_location='cpu', weights_only=False)
    from greenmim_mm.compat import register_checkpoint_safe_globals
    register_checkpoint_safe_globals()
    try:
        with torch.serialization.safe_globals([argparse.Namespace]):
            return torch.load(path, map_location='cpu', weights_only=True)
    except pickle.UnpicklingError as err:
        sys.exit(f'error: {path} holds objects that weights-only loading refuses:\n{err}\n'
                 'If you trust the file, run again with --allow-pickle.')


def build_backbone_from_config(config: str) -> nn.Module:
    """Build ``model.backbone`` of an mmdet or mmpretrain config, without its init_cfg."""
    from mmengine.config import Config
    from mmengine.registry import DefaultScope
    from mmengine.utils import import_modules_from_strings

    cfg = Config.fromfile(config)
    if cfg.get('custom_imports'):
        import_modules_from_strings(**cfg.custom_imports)
    scope = cfg.get('default_scope', 'mmdet')
    if scope == 'mmdet':
        import mmdet.models  # noqa: F401  (registers mmdet's models)
        from mmdet.registry import MODELS
    else:
        from mmpretrain.registry import MODELS
    import mmpretrain.models  # noqa: F401  (mmpretrain.SwinTransformer from mmdet configs)
    backbone_cfg = copy.deepcopy(cfg.model.backbone)
    backbone_cfg.pop('init_cfg', None)
    with DefaultScope.overwrite_default_scope(scope):
        return MODELS.build(backbone_cfg)


def build_default_backbone(arch: dict, window_sizes: List[int],
                           out_indices: List[int]) -> nn.Module:
    """An mmpretrain SwinTransformer with the checkpoint's architecture (detection settings)."""
    from mmpretrain.models import SwinTransformer
    return SwinTransformer(
        arch=dict(
            embed_dims=arch['embed_dims'], depths=arch['depths'], num_heads=arch['num_heads']),
        patch_size=arch['patch_size'],
        in_channels=arch['in_channels'],
        window_size=window_sizes[0],
        stage_cfgs=[dict(window_size=w) for w in window_sizes],
        out_indices=tuple(out_indices),
        pad_small_map=True,
        use_abs_pos_embed=arch['use_abs_pos_embed'],
        img_size=arch['img_size'] or 224)


def build_greenmim_from_config(config: str) -> nn.Module:
    """Build ``model`` of a GreenMIM pretraining config (mmpretrain scope), not initialised."""
    from mmengine.config import Config
    from mmengine.registry import DefaultScope
    from mmengine.utils import import_modules_from_strings
    from mmpretrain.registry import MODELS

    cfg = Config.fromfile(config)
    if cfg.get('custom_imports'):
        import_modules_from_strings(**cfg.custom_imports)
    import greenmim_mm  # noqa: F401  (registers GreenMIM)
    if cfg.model.get('type') != 'GreenMIM':
        sys.exit(f'error: --keep-decoder needs a GreenMIM pretraining config; {config} builds '
                 f'a {cfg.model.get("type")!r}. Use e.g. configs/greenmim_swin_b_official_'
                 'pretrain.py, or drop --keep-decoder for a backbone checkpoint.')
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        return MODELS.build(copy.deepcopy(cfg.model))


def stage_windows(backbone: nn.Module) -> List[int]:
    """Window of every stage of an mmpretrain-style Swin."""
    return [stage.blocks[0].attn.window_size for stage in backbone.stages]


def layer_norm_eps(backbone: nn.Module) -> set:
    return {m.eps for m in backbone.modules() if isinstance(m, nn.LayerNorm)}


def write_generic_backbone(args: argparse.Namespace, state_dict: dict, num_src: int) -> int:
    """Any non-Swin greenmim_mm backbone (e.g. GreenMIMSVT / GreenMIMPCPVT): keys kept as they
    are (their state_dict equals the plain mmpretrain backbone's), checked against the
    ``--config`` backbone when given."""
    print(f'backbone: {len(state_dict)} tensors kept as they are, {num_src - len(state_dict)} '
          'dropped: decoder/head')
    if args.config:
        backbone = build_backbone_from_config(args.config)
        try:
            result = backbone.load_state_dict(state_dict, strict=False)
        except RuntimeError as err:  # shape mismatch
            sys.exit(f'error: the converted weights do not fit the target:\n{err}')
        print(f'target: model.backbone of {args.config} ({type(backbone).__name__})')
        print(f'missing keys: {result.missing_keys or "none"}')
        print(f'unexpected keys: {result.unexpected_keys or "none"}')
        if result.missing_keys:
            print('error: backbone keys would stay randomly initialised; nothing written')
            return 1
    meta = dict(
        source=osp.abspath(args.src),
        source_format='greenmim_mm',
        converted_by='tools/model_converters/convert_checkpoint.py',
        config=args.config)
    out = to_backbone_checkpoint(state_dict, meta)
    os.makedirs(osp.dirname(osp.abspath(args.dst)), exist_ok=True)
    torch.save(out, args.dst)
    print(f'wrote {args.dst} ({len(out["state_dict"])} tensors, prefix "backbone.")')
    return 0


def main(argv: Optional[List[str]] = None) -> int:
    args = parse_args(argv)
    ckpt = load_source(args.src, args.allow_pickle)
    weights = unwrap_state_dict(ckpt)
    src_format = detect_format(weights) if args.src_format == 'auto' else args.src_format
    if args.keep_decoder and (src_format != 'official' or not args.config):
        sys.exit('error: --keep-decoder converts an authors\' checkpoint (--from official) into '
                 'the GreenMIM model of a pretraining --config, e.g. '
                 'configs/greenmim_swin_b_official_pretrain.py (our own checkpoints already '
                 'hold the decoder: use them with load_from as they are)')
    print(f'source: {args.src} ({src_format} format, {len(weights)} tensors)')
    if src_format == 'greenmim_mm':
        state_dict = convert_greenmim_mm(weights)
        if 'patch_embed.projection.weight' not in state_dict:  # not a Swin: e.g. Twins
            return write_generic_backbone(args, state_dict, len(weights))
    else:
        state_dict = convert_official_swin(weights, merge_order=args.merge_order)
        print(f'merge order: {args.merge_order}, {MERGE_ORDER_NOTES[args.merge_order]}')
    dropped = len(weights) - len(state_dict)
    arch = infer_swin_arch(state_dict)
    print(f'backbone: embed_dims={arch["embed_dims"]} depths={arch["depths"]} '
          f'num_heads={arch["num_heads"]} pretrained windows={arch["window_sizes"]} '
          f'({len(state_dict)} tensors; {dropped} others are not backbone weights: decoder, '
          'head, index buffers)')

    model = None
    if args.keep_decoder:
        model = build_greenmim_from_config(args.config)
        backbone = model.backbone
        target = f'model of {args.config} ({type(model).__name__}, backbone ' \
                 f'{type(backbone).__name__})'
    elif args.config:
        backbone = build_backbone_from_config(args.config)
        target = f'model.backbone of {args.config} ({type(backbone).__name__})'
    else:
        windows = args.window_size or arch['window_sizes']
        if len(windows) == 1:
            windows = windows * len(arch['depths'])
        if len(windows) != len(arch['depths']):
            sys.exit(f'error: --window-size takes 1 or {len(arch["depths"])} values')
        backbone = build_default_backbone(arch, list(windows), args.out_indices)
        target = 'mmpretrain SwinTransformer (pad_small_map=True, ' \
                 f'out_indices={tuple(args.out_indices)})'
    windows = stage_windows(backbone)
    print(f'target: {target}, windows={windows}')

    state_dict, resized = set_window_sizes(state_dict, windows)
    for msg in resized:
        print(f'  resized {msg}')
    state_dict, added = add_output_norms(state_dict, backbone.out_indices, backbone.num_features)
    if added:
        print(f'  added {", ".join(added)}: output norms the checkpoint lacks (pretraining '
              'normalises only its last stage), written as LayerNorm weight 1, bias 0')
    target_module = model if model is not None else backbone
    if src_format == 'official' and layer_norm_eps(target_module) != {1e-6}:
        print('  note: the authors\' model uses LayerNorm eps=1e-6; the target uses '
              f'{sorted(layer_norm_eps(target_module))} (set stage_cfgs/patch_cfg/norm_cfg eps)')

    decoder_info = None
    if model is not None:
        neck, decoder_info = convert_official_decoder(weights)
        layout = decoder_info['pos_embed_layout']
        print(f'decoder: embed_dim={decoder_info["embed_dim"]} '
              f'decoder_embed_dim={decoder_info["decoder_embed_dim"]} '
              f'depth={decoder_info["decoder_depth"]} ({len(neck)} tensors kept), '
              f'fixed position table of a {decoder_info["grid"]}x{decoder_info["grid"]} grid '
              f'in {layout!r} layout (not copied: the decoder computes it)')
        if getattr(model.neck, 'pos_embed_layout', None) != layout:
            print(f'error: the decoder was trained with the {layout!r} position table, the '
                  f'config\'s decoder computes {getattr(model.neck, "pos_embed_layout", None)!r}:'
                  f' set model.neck.pos_embed_layout=\'{layout}\'; nothing written')
            return 1
        state_dict = OrderedDict([('backbone.' + k, v)
                                  for k, v in state_dict.items()] + [('neck.' + k, v)
                                                                     for k, v in neck.items()])

    try:
        result = target_module.load_state_dict(state_dict, strict=False)
    except RuntimeError as err:  # shape mismatch
        sys.exit(f'error: the converted weights do not fit the target:\n{err}')
    missing = result.missing_keys
    print(f'missing keys: {missing or "none"}')
    print(f'unexpected keys: {result.unexpected_keys or "none"}')
    if missing:
        print('error: keys of the target would stay randomly initialised; nothing written')
        return 1
    if model is not None and result.unexpected_keys:
        print('error: a full checkpoint must load with strict=True; nothing written')
        return 1

    meta = dict(
        source=osp.abspath(args.src),
        source_format=src_format,
        converted_by='tools/model_converters/convert_checkpoint.py',
        config=args.config,
        arch=dict(
            embed_dims=arch['embed_dims'],
            depths=arch['depths'],
            num_heads=arch['num_heads'],
            pretrained_window_sizes=arch['window_sizes']),
        window_sizes=windows,
        added_output_norms=added)
    if src_format == 'official':
        meta['merge_order'] = args.merge_order
    if decoder_info is not None:
        meta['decoder'] = decoder_info
        out = to_backbone_checkpoint(state_dict, meta, prefix='')
    else:
        out = to_backbone_checkpoint(state_dict, meta)
    os.makedirs(osp.dirname(osp.abspath(args.dst)), exist_ok=True)
    torch.save(out, args.dst)
    if decoder_info is not None:
        print(f'wrote {args.dst} ({len(out["state_dict"])} tensors: backbone.*, neck.*; '
              'load_from of the config continues pretraining from it)')
    else:
        print(f'wrote {args.dst} ({len(out["state_dict"])} tensors, prefix "backbone.")')
    return 0


if __name__ == '__main__':
    sys.exit(main())
