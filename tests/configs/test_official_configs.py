"""Configs that match the authors' releases (Swin-B w7, Swin-B w14, Swin-L w14).

The pretraining configs must take a converted release with ``strict=True``: their state dict
must have exactly the keys and shapes the converter makes of the release's layout (converted on
the meta device) (``tests/official_layout.py``); LayerNorm eps 1e-6 everywhere; every
block's window and shift at 224 px as the authors' Swin runs them; the decoder's MAE table.
The fine-tuning configs (Mask R-CNN, ImageNet) build with the release's architecture.
"""
import copy
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import DefaultScope
from mmengine.utils import import_modules_from_strings

from greenmim_mm.models.utils.ckpt_convert import (convert_official_decoder, convert_official_swin,
                                                   set_window_sizes)
from tests.helpers import REPO_ROOT
from tests.helpers.official_layout import authors_release_shapes, mae_pos_embed

SWIN_B = (128, [2, 2, 18, 2], [4, 8, 16, 32])
SWIN_L = (192, [2, 2, 18, 2], [6, 12, 24, 48])
# config -> (architecture, windows per stage, load_from)
PRETRAIN = {
    'configs/greenmim_swin_b_official_pretrain.py':
    (SWIN_B, [7, 7, 7, 7], 'checkpoints/greenmim_swin-b-w7_official_full.pth'),
    'configs/greenmim_swin_b_w14_official_pretrain.py':
    (SWIN_B, [14, 14, 14, 7], 'checkpoints/greenmim_swin-b-w14_official_full.pth'),
    'configs/greenmim_swin_l_w14_official_pretrain.py':
    (SWIN_L, [14, 14, 14, 7], 'checkpoints/greenmim_swin-l-w14_official_full.pth'),
}
DET = {
    'configs/mask_rcnn/mask-rcnn_greenmim-swin-b-w14_fpn_1x_coco.py':
    (SWIN_B, 'checkpoints/greenmim_swin-b-w14_backbone.pth'),
    'configs/mask_rcnn/mask-rcnn_greenmim-swin-l-w14_fpn_1x_coco.py':
    (SWIN_L, 'checkpoints/greenmim_swin-l-w14_backbone.pth'),
}
IN1K = {
    'configs/finetune/greenmim_swin_b_w14_in1k_ft.py':
    (SWIN_B, 'checkpoints/greenmim_swin-b-w14_backbone_cls.pth', 1.25e-3, 0.9, 0.1),
    'configs/finetune/greenmim_swin_l_w14_in1k_ft.py':
    (SWIN_L, 'checkpoints/greenmim_swin-l-w14_backbone_cls.pth', 1e-3, 0.8, 0.3),
}


def load(path: str) -> Config:
    cfg = Config.fromfile(osp.join(REPO_ROOT, path))
    import_modules_from_strings(**cfg.custom_imports)
    return cfg


def build(cfg: Config, model_cfg=None):
    scope = cfg.get('default_scope', 'mmpretrain')
    if scope == 'mmdet':
        from mmdet.registry import MODELS
    else:
        from mmpretrain.registry import MODELS
    model_cfg = copy.deepcopy(model_cfg or cfg.model)
    model_cfg.backbone.init_cfg = None  # nothing is read; init_weights is never called
    with DefaultScope.overwrite_default_scope(scope):
        return MODELS.build(model_cfg)


def ln_eps(module) -> set:
    return {m.eps for m in module.modules() if isinstance(m, torch.nn.LayerNorm)}


def authors_windows_and_shifts(windows, depths, grids):
    """(window, shift) of every block of the authors' Swin (Microsoft's rule for small maps)."""
    out = []
    for w, depth, g in zip(windows, depths, grids):
        for j in range(depth):
            out.append((g, 0) if g <= w else (w, 0 if j % 2 == 0 else w // 2))
    return out


@pytest.mark.parametrize('path', PRETRAIN, ids=osp.basename)
def test_pretrain_config_matches_release(path):
    (embed, depths, heads), windows, load_from = PRETRAIN[path]
    cfg = load(path)
    assert cfg.custom_imports == dict(imports=['greenmim_mm'], allow_failed_imports=False)
    assert cfg.load_from == load_from
    model = build(cfg)
    assert type(model).__name__ == 'GreenMIM'
    bb = model.backbone
    assert (bb.embed_dims, bb.depths, bb.num_heads) == (embed, depths, heads)
    assert ln_eps(model) == {1e-6}  # encoder, output norm and decoder
    assert [s.blocks[0].attn.window_size for s in bb.stages] == windows
    grids = [56, 28, 14, 7]  # 224 px
    ours = [
        bb._window_and_shift(block, (g, g)) for s, g in zip(bb.stages, grids) for block in s.blocks
    ]
    assert ours == authors_windows_and_shifts(windows, depths, grids)
    neck = model.neck
    assert neck.pos_embed_layout == 'mae'
    assert (neck.decoder_embed.in_features, neck.decoder_embed_dim) == (embed * 8, 512)
    assert len(neck.decoder_blocks) == 1
    assert neck.decoder_blocks[0].attn.num_heads == 16

    # strict loading: the converter's output of the release layout has exactly these keys
    shapes = authors_release_shapes(embed, depths, heads, windows)
    release = {k: torch.empty(s, device='meta') for k, s in shapes.items()}
    release['decoder_pos_embed'] = mae_pos_embed(7, 512)
    encoder, _ = set_window_sizes(convert_official_swin(release), windows)
    decoder, info = convert_official_decoder(release)
    assert info['pos_embed_layout'] == 'mae' and info['grid'] == 7
    converted = {'backbone.' + k: tuple(v.shape) for k, v in encoder.items()}
    converted.update({'neck.' + k: tuple(v.shape) for k, v in decoder.items()})
    assert converted == {k: tuple(v.shape) for k, v in model.state_dict().items()}


@pytest.mark.parametrize('path', DET, ids=osp.basename)
def test_mask_rcnn_configs(path):
    (embed, depths, heads), pretrained = DET[path]
    cfg = load(path)
    assert cfg.model.backbone.init_cfg.checkpoint == pretrained
    model = build(cfg)
    bb = model.backbone
    assert type(bb).__name__ == 'GreenMIMSwinTransformer'
    assert (bb.embed_dims, bb.depths, bb.num_heads) == (embed, depths, heads)
    assert [s.blocks[0].attn.window_size for s in bb.stages] == [14] * 4
    assert all(s.blocks[0].attn.pad_small_map for s in bb.stages)
    assert ln_eps(bb) == {1e-6}
    assert list(cfg.model.neck.in_channels) == [embed * 2**i for i in range(4)]


@pytest.mark.parametrize('path', IN1K, ids=osp.basename)
def test_in1k_configs(path):
    (embed, depths, heads), pretrained, base_lr, decay, drop_path = IN1K[path]
    cfg = load(path)
    assert cfg.model.backbone.init_cfg.checkpoint == pretrained
    assert cfg.model.backbone.drop_path_rate == drop_path
    assert cfg.optim_wrapper.optimizer.lr == pytest.approx(base_lr * 2048 / 512)
    assert cfg.optim_wrapper.paramwise_cfg.layer_decay_rate == decay
    model = build(cfg)
    bb = model.backbone
    assert (bb.embed_dims, bb.depths, bb.num_heads) == (embed, depths, heads)
    assert [s.blocks[0].attn.window_size for s in bb.stages] == [14, 14, 14, 7]
    assert not any(s.blocks[0].attn.pad_small_map for s in bb.stages)
    assert ln_eps(bb) == {1e-6}
    assert model.head.fc.in_features == embed * 8

    # the dense forward at 224 runs with these windows (tiny widths, real weights)
    tiny = copy.deepcopy(cfg.model)
    tiny.backbone.arch = dict(embed_dims=16, depths=[2, 2, 2, 2], num_heads=[1, 2, 2, 4])
    tiny.head.in_channels = 128
    model = build(cfg, tiny)
    model.eval()
    with torch.no_grad():
        assert model(torch.zeros(1, 3, 224, 224)).shape == (1, 1000)
