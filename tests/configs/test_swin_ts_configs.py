"""Swin-T and Swin-S configs (GreenMIM pre-training, Mask R-CNN 1x, ImageNet fine-tuning) and
the small Swin of the pretraining-gain experiment: sizes of the Swin paper, models that build
and run, the Swin-B recipes otherwise."""
import copy
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import DefaultScope
from mmengine.utils import import_modules_from_strings

from tests.helpers import REPO_ROOT

# name -> (depths, drop path in detection)
SIZES = {'t': ([2, 2, 6, 2], 0.2), 's': ([2, 2, 18, 2], 0.3)}


def load(path: str) -> Config:
    cfg = Config.fromfile(osp.join(REPO_ROOT, path))
    import_modules_from_strings(**cfg.custom_imports)
    return cfg


def build(cfg: Config):
    if cfg.default_scope == 'mmdet':
        from mmdet.registry import MODELS
    else:
        from mmpretrain.registry import MODELS
    model_cfg = copy.deepcopy(cfg.model)
    init_cfg = model_cfg.backbone.get('init_cfg')
    if isinstance(init_cfg, dict) and init_cfg.get('type') == 'Pretrained':
        model_cfg.backbone.init_cfg = None  # no checkpoint read
    with DefaultScope.overwrite_default_scope(cfg.default_scope):
        return MODELS.build(model_cfg)


def check_swin(backbone, depths):
    assert (backbone.embed_dims, backbone.depths, backbone.num_heads) == (96, depths,
                                                                          [3, 6, 12, 24])
    assert [s.blocks[0].attn.window_size for s in backbone.stages] == [7] * 4


@pytest.mark.parametrize('size', sorted(SIZES))
def test_pretrain(size):
    cfg = load(f'configs/greenmim_swin_{size}_pretrain.py')
    base = load('configs/greenmim_swin_b_pretrain.py')
    assert cfg.optim_wrapper == base.optim_wrapper
    assert cfg.param_scheduler == base.param_scheduler
    model = build(cfg)
    check_swin(model.backbone, SIZES[size][0])
    assert model.neck.decoder_embed.in_features == 768  # 8 * 96
    with torch.no_grad():
        loss = model.loss(torch.randn(2, 3, 224, 224), [])['loss']
    assert torch.isfinite(loss)


@pytest.mark.parametrize('size', sorted(SIZES))
def test_mask_rcnn(size):
    cfg = load(f'configs/mask_rcnn/mask-rcnn_greenmim-swin-{size}_fpn_1x_coco.py')
    backbone = cfg.model.backbone
    assert backbone.arch == {'t': 'tiny', 's': 'small'}[size]
    assert backbone.drop_path_rate == SIZES[size][1]
    assert backbone.init_cfg.checkpoint == f'checkpoints/greenmim_swin-{size}-w7_backbone.pth'
    assert cfg.model.neck.in_channels == [96, 192, 384, 768]
    assert cfg.train_cfg.max_epochs == 12
    model = build(cfg)
    check_swin(model.backbone, SIZES[size][0])
    with torch.no_grad():
        feats = model.extract_feat(torch.zeros(1, 3, 64, 64))
    assert [f.shape[1] for f in feats] == [256] * 5


@pytest.mark.parametrize('size', sorted(SIZES))
def test_in1k_finetune(size):
    cfg = load(f'configs/finetune/greenmim_swin_{size}_in1k_ft.py')
    assert cfg.model.backbone.init_cfg.checkpoint == \
        f'checkpoints/greenmim_swin-{size}-w7_backbone_cls.pth'
    assert cfg.train_cfg.max_epochs == 100 and cfg.model.backbone.drop_path_rate == 0.1
    model = build(cfg)
    check_swin(model.backbone, SIZES[size][0])
    with torch.no_grad():
        assert model(torch.zeros(1, 3, 224, 224)).shape == (1, 1000)


def test_gain_configs_share_one_backbone():
    """GreenMIM, SimMIM and the probe of the gain experiment hold the same Swin keys: a 2-px
    patch, grids 16/8/4 at 32 px, an 8-px mask unit."""
    names = ('greenmim_swin-nano_32px_pretrain', 'simmim_swin-nano_32px_pretrain',
             'swin-nano_32px_probe')
    models = {name: build(load(f'configs/pretrain_gain/{name}.py')) for name in names}
    keys = {
        n: {
            k: v.shape
            for k, v in m.backbone.state_dict().items()
            if k != 'mask_token' and k not in ('norm0.weight', 'norm0.bias', 'norm1.weight',
                                               'norm1.bias')  # the probe's extra outputs
        }
        for n, m in models.items()
    }
    first = next(iter(keys.values()))
    assert all(k == first for k in keys.values())
    green, sim, probe = (models[n] for n in names)
    assert green.mask_unit == 8 and green.backbone.mask_unit == 8
    assert green.backbone.patch_resolution == (16, 16)
    assert sim.neck.decoder[0].out_channels == 8**2 * 3
    with torch.no_grad():
        feats = probe.extract_feat(torch.zeros(2, 3, 32, 32), stage='neck')
        assert [f.shape for f in feats] == [(2, 48), (2, 96), (2, 192)]
        out = green.backbone(torch.zeros(2, 3, 32, 32))
        assert out[0].shape == (2, 192, 4, 4)
