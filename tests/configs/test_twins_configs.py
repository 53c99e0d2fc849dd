"""Twins configs: the authors' SVT-L recipe, PCPVT, the CPU demo (loss falls), Mask R-CNN."""
import copy
import os.path as osp

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.registry import DefaultScope
from mmpretrain.registry import MODELS

import greenmim_mm  # noqa: F401  (registers the modules)
from tests.helpers import REPO_ROOT, demo_training_losses, load_tool, weight_decay_of_parameters

SVT_L = osp.join(REPO_ROOT, 'configs', 'greenmim_twins_svt_l_pretrain.py')
PCPVT_B = osp.join(REPO_ROOT, 'configs', 'greenmim_twins_pcpvt_b_pretrain.py')
DEMO = osp.join(REPO_ROOT, 'configs', 'demo', 'greenmim_twins_demo_pretrain.py')
DENSE = osp.join(REPO_ROOT, 'configs', 'benchmark', 'dense_twins_svt_l_224.py')
DET = osp.join(REPO_ROOT, 'configs', 'mask_rcnn', 'mask-rcnn_greenmim-twins-svt-l_fpn_1x_coco.py')


def build_model(cfg: Config):
    # A scoped override: a global init_default_scope would leak into later tests.
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        return MODELS.build(copy.deepcopy(cfg.model))


def test_svt_l_is_the_authors_model_and_recipe():
    cfg = Config.fromfile(SVT_L)
    assert cfg.custom_imports == dict(imports=['greenmim_mm'], allow_failed_imports=False)
    model = build_model(cfg)
    bb = model.backbone
    assert type(bb).__name__ == 'GreenMIMSVT'
    assert (bb.embed_dims, bb.depths, bb.num_heads) == ([128, 256, 512, 1024], [2, 2, 18,
                                                                                2], [4, 8, 16, 32])
    assert bb.window_sizes == [7, 7, 7, 7] and bb.sr_ratios == [8, 4, 2, 1]
    assert bb.mask_unit == 32 and model.mask_ratio == 0.75 and not model.per_sample_mask
    block_norms = {
        m.eps
        for n, m in bb.named_modules()
        if isinstance(m, torch.nn.LayerNorm) and not n.startswith('patch_embeds')
    }
    assert block_norms == {1e-6}
    assert bb.stages[0][0].attn.qkv.bias is not None  # qkv bias
    assert type(bb.norm_after_stage3).__name__ == 'LayerNorm'  # the final norm
    assert model.neck.decoder_embed.in_features == 1024
    assert model.neck.decoder_embed.out_features == 512 and len(model.neck.decoder_blocks) == 1
    assert model.head.norm_pix
    opt = cfg.optim_wrapper.optimizer
    assert opt.type == 'AdamW' and opt.betas == (0.9, 0.95) and opt.weight_decay == 0.05
    assert cfg.auto_scale_lr.base_batch_size == 4096 == cfg.train_dataloader.batch_size * 8
    assert opt.lr == pytest.approx(1.5e-4 * 4096 / 256)
    warmup, cosine = cfg.param_scheduler
    assert (warmup.type, warmup.begin, warmup.end) == ('LinearLR', 0, 40)
    assert (cosine.type, cosine.begin, cosine.end, cosine.T_max) == ('CosineAnnealingLR', 40, 100,
                                                                     60)
    assert cfg.train_cfg.max_epochs == 100


def test_pcpvt_and_dense_baseline_build():
    pcpvt = build_model(Config.fromfile(PCPVT_B))
    assert type(pcpvt.backbone).__name__ == 'GreenMIMPCPVT'
    assert pcpvt.neck.decoder_embed.in_features == pcpvt.backbone.embed_dims[-1] == 512
    dense = build_model(Config.fromfile(DENSE))
    assert type(dense).__name__ == 'GreenMIMDenseBaseline'
    assert type(dense.backbone).__name__ == 'GreenMIMSVT'


def test_optimizer_groups_skip_decay_on_norms_biases_and_position_encodings():
    cfg = Config.fromfile(DEMO)
    model = build_model(cfg)
    decay = weight_decay_of_parameters(cfg, model)
    for name, param in model.named_parameters():
        no_decay = (
            name.endswith('.bias') or 'norm' in name or '.ln' in name or 'mask_token' in name
            or 'position_encodings' in name)
        assert decay[id(param)] == (0.0 if no_decay else 0.05), name


@pytest.mark.slow
def test_demo_loss_falls(tmp_path, restore_determinism):
    """The Twins demo recipe learns: at half its batch (8), over 40 iterations the loss drops
    clearly (seen: first 10 iterations 1.054 on average, last 10 0.688)."""
    losses = demo_training_losses(DEMO, str(tmp_path), batch_size=8, max_iters=40)
    assert len(losses) == 40
    first, last = np.mean(losses[:10]), np.mean(losses[-10:])
    print(f'Twins demo loss: first 10 iterations {first:.4f}, last 10 {last:.4f}')
    assert last < 0.85 * first, (first, last)


@pytest.mark.slow
def test_mask_rcnn_takes_the_pretrained_svt(tmp_path):
    """The detector's backbone is the dense SVT-L with FPN on 4 stages, and a converted
    pretraining checkpoint (tools/model_converters/convert_checkpoint.py) loads into it
    without missing keys."""
    pytest.importorskip('mmdet')
    from mmdet.registry import MODELS as DET_MODELS
    from mmdet.utils import register_all_modules

    cfg = Config.fromfile(DET)
    assert cfg.model.backbone.type == 'mmpretrain.GreenMIMSVT'
    assert cfg.model.backbone.out_indices == (0, 1, 2, 3)
    assert cfg.model.neck.in_channels == [128, 256, 512, 1024]
    assert cfg.model.backbone.init_cfg.prefix == 'backbone.'

    # SVT-small instead of -large keeps the files small; the path is the same.
    det_small = tmp_path / 'det_small.py'
    det_small.write_text(f"_base_ = [{DET!r}]\n"
                         "model = dict(backbone=dict(arch='small'),\n"
                         "             neck=dict(in_channels=[64, 128, 256, 512]))\n")
    pre_cfg = Config.fromfile(SVT_L)
    pre_cfg.model.backbone.arch = 'small'
    pre_cfg.model.neck.embed_dim = 512
    pre = build_model(pre_cfg)
    src, dst = tmp_path / 'epoch_100.pth', tmp_path / 'backbone.pth'
    torch.save(dict(state_dict=pre.state_dict(), meta={}), src)
    convert = load_tool('convert_checkpoint')
    assert convert.main([str(src), str(dst), '--config', str(det_small)]) == 0
    out = torch.load(dst, weights_only=True)
    assert set(out['state_dict']) == {'backbone.' + k for k in pre.backbone.state_dict()}

    register_all_modules(init_default_scope=False)
    det_cfg = copy.deepcopy(Config.fromfile(str(det_small)).model)
    det_cfg.backbone.init_cfg.checkpoint = str(dst)
    with DefaultScope.overwrite_default_scope('mmdet'):
        detector = DET_MODELS.build(det_cfg)
    detector.backbone.init_weights()
    for k, v in pre.backbone.state_dict().items():
        assert torch.equal(detector.backbone.state_dict()[k], v), k
    feats = detector.neck(detector.backbone(torch.randn(1, 3, 128, 96)))
    assert len(feats) == 5
