"""The mmdet, fine-tuning and demo configs load, build, and set up their optimizers as intended.

Also: a missing ``data/coco`` fails with a message naming the expected layout.
"""
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.optim import build_optim_wrapper
from mmengine.registry import DefaultScope
from mmengine.utils import import_modules_from_strings

from tests.helpers import REPO_ROOT

SWIN_B_DET = [
    'configs/mask_rcnn/mask-rcnn_greenmim-swin-b_fpn_1x_coco.py',
    'configs/mask_rcnn/mask-rcnn_greenmim-swin-b_fpn_ms-3x_coco.py',
]
DEMO_DET = 'configs/demo/mask-rcnn_greenmim_demo.py'
FINETUNE = 'configs/finetune/greenmim_swin_b_in1k_ft.py'


def load(path: str) -> Config:
    cfg = Config.fromfile(osp.join(REPO_ROOT, path))
    import_modules_from_strings(**cfg.custom_imports)
    return cfg


def build_model(cfg: Config):
    """The config's model, with the backbone left randomly initialised (no checkpoint read)."""
    if cfg.default_scope == 'mmdet':
        from mmdet.registry import MODELS
    else:
        from mmpretrain.registry import MODELS
    cfg.model.backbone.init_cfg = None
    with DefaultScope.overwrite_default_scope(cfg.default_scope):
        return MODELS.build(cfg.model)


def param_groups(cfg: Config, model) -> dict:
    if cfg.optim_wrapper.get('type') == 'AmpOptimWrapper':  # GPU only; same constructor
        cfg.optim_wrapper.type = 'OptimWrapper'
    with DefaultScope.overwrite_default_scope(cfg.default_scope):
        wrapper = build_optim_wrapper(model, cfg.optim_wrapper)
    assert isinstance(wrapper.optimizer, torch.optim.AdamW)
    groups = {g['param_name']: g for g in wrapper.optimizer.param_groups}
    # every trainable parameter is in exactly one group
    assert set(groups) == {n for n, p in model.named_parameters() if p.requires_grad}
    return groups


def ln_eps(module) -> set:
    return {m.eps for m in module.modules() if isinstance(m, torch.nn.LayerNorm)}


@pytest.mark.parametrize('path', SWIN_B_DET)
def test_swin_b_mask_rcnn(path):
    cfg = load(path)
    backbone = cfg.model.backbone
    assert backbone.type == 'mmpretrain.GreenMIMSwinTransformer'
    assert backbone.init_cfg == dict(
        type='Pretrained',
        checkpoint='checkpoints/greenmim_swin-b-w7_backbone.pth',
        prefix='backbone.')
    assert cfg.train_dataloader.dataset.data_root == 'data/coco/'
    assert cfg.test_dataloader.dataset.type == 'CheckedCocoDataset'
    assert cfg.test_evaluator.metric == ['bbox', 'segm']
    assert cfg.test_evaluator.ann_file == 'data/coco/annotations/instances_val2017.json'
    assert cfg.train_cfg.max_epochs == (36 if 'ms-3x' in path else 12)

    model = build_model(cfg)
    from greenmim_mm.models.backbones import GreenMIMSwinTransformer
    assert type(model.backbone) is GreenMIMSwinTransformer
    assert model.backbone.embed_dims == 128 and model.backbone.depths == [2, 2, 18, 2]
    assert [s.blocks[0].attn.window_size for s in model.backbone.stages] == [7] * 4
    assert all(s.blocks[0].attn.pad_small_map for s in model.backbone.stages)
    assert ln_eps(model.backbone) == {1e-6}  # the authors' encoder eps, output norms included
    drop = model.backbone.stages[3].blocks[1].attn.drop.drop_prob
    assert drop == pytest.approx(0.3)  # last block gets drop_path_rate
    with torch.no_grad():
        feats = model.backbone(torch.zeros(1, 3, 96, 128))
    assert [f.shape[1:] for f in feats] == [(128, 24, 32), (256, 12, 16), (512, 6, 8), (1024, 3, 4)]

    groups = param_groups(cfg, model)
    base_lr, decay = 1e-4, 0.9  # 26 depths: patch embed 0, blocks 1..24, the rest 25

    def scale(name):
        return groups[name]['lr'] / base_lr

    assert scale('backbone.patch_embed.projection.weight') == pytest.approx(decay**25)
    assert scale('backbone.stages.0.blocks.0.attn.w_msa.qkv.weight') == pytest.approx(decay**24)
    assert scale('backbone.stages.2.downsample.reduction.weight') == pytest.approx(decay**3)
    assert scale('backbone.stages.3.blocks.1.ffn.layers.1.weight') == pytest.approx(decay)
    for name in ('backbone.norm0.weight', 'neck.lateral_convs.0.conv.weight',
                 'rpn_head.rpn_conv.weight', 'roi_head.bbox_head.fc_cls.weight',
                 'roi_head.mask_head.conv_logits.weight'):
        assert scale(name) == pytest.approx(1.0), name
    for name in ('backbone.patch_embed.projection.weight',
                 'backbone.stages.1.blocks.0.attn.w_msa.qkv.weight', 'neck.fpn_convs.0.conv.weight',
                 'roi_head.bbox_head.fc_cls.weight'):
        assert groups[name]['weight_decay'] == pytest.approx(0.05), name
    for name in ('backbone.stages.1.blocks.0.attn.w_msa.relative_position_bias_table',
                 'backbone.stages.1.blocks.0.norm1.weight', 'backbone.stages.1.blocks.0.norm1.bias',
                 'backbone.stages.1.downsample.norm.weight', 'backbone.norm3.bias',
                 'backbone.stages.1.blocks.0.attn.w_msa.qkv.bias', 'neck.fpn_convs.0.conv.bias'):
        assert groups[name]['weight_decay'] == 0., name


def test_ms_3x_augments_multi_scale():
    cfg = load(SWIN_B_DET[1])
    pipeline = cfg.train_dataloader.dataset.pipeline
    assert [t.type for t in pipeline] == [
        'LoadImageFromFile', 'LoadAnnotations', 'RandomFlip', 'RandomChoice', 'PackDetInputs'
    ]
    assert cfg.param_scheduler[1].milestones == [27, 33]


def test_demo_mask_rcnn():
    cfg = load(DEMO_DET)
    assert cfg.model.backbone.init_cfg.checkpoint == 'work_dirs/demo/greenmim_backbone.pth'
    assert cfg.train_dataloader.dataset.data_root == 'data/demo/'
    assert cfg.test_evaluator.ann_file == 'data/demo/annotations/instances_val.json'
    model = build_model(cfg)
    assert model.backbone.embed_dims == 48 and model.backbone.depths == [2, 2, 2, 2]
    assert model.roi_head.bbox_head.num_classes == 4
    assert model.neck.fpn_convs[0].gn.num_groups == 32
    # RoIs of these small shapes spread over P2-P4; 7x7 mask RoIs give 14x14 masks
    assert model.roi_head.bbox_roi_extractor.finest_scale == 28
    assert model.roi_head.mask_roi_extractor.roi_layers[0].output_size == (7, 7)
    assert cfg.model.train_cfg.rcnn.mask_size == 14

    # the demo backbone has the pretraining backbone's keys
    pretrain = Config.fromfile(osp.join(REPO_ROOT, 'configs/demo/greenmim_demo_pretrain.py'))
    assert pretrain.model.backbone.arch == cfg.model.backbone.arch
    assert pretrain.model.backbone.window_size == cfg.model.backbone.window_size

    groups = param_groups(cfg, model)
    lr = cfg.optim_wrapper.optimizer.lr
    decay = cfg.optim_wrapper.paramwise_cfg.layer_decay_rate  # 10 depths: 8 blocks + 2
    assert groups['backbone.patch_embed.projection.weight']['lr'] == pytest.approx(lr * decay**9)
    assert groups['backbone.stages.1.blocks.1.norm1.weight']['lr'] == pytest.approx(lr * decay**5)
    assert groups['roi_head.mask_head.conv_logits.weight']['lr'] == pytest.approx(lr)
    assert groups['neck.fpn_convs.0.gn.weight']['weight_decay'] == 0.

    model.eval()
    from mmdet.structures import DetDataSample
    sample = DetDataSample(
        metainfo=dict(
            img_shape=(192, 192),
            ori_shape=(192, 192),
            scale_factor=(1., 1.),
            batch_input_shape=(192, 192)))
    with torch.no_grad():
        results = model(torch.zeros(1, 3, 192, 192), [sample], mode='predict')
    assert 'masks' in results[0].pred_instances


def test_finetune_in1k():
    cfg = load(FINETUNE)
    assert cfg.default_scope == 'mmpretrain'
    assert cfg.train_cfg.max_epochs == 100
    assert cfg.param_scheduler[0].end == 20 and cfg.param_scheduler[1].end == 100
    assert cfg.model.backbone.drop_path_rate == 0.1
    assert cfg.model.backbone.init_cfg.prefix == 'backbone.'
    base_lr = 1.25e-3
    assert cfg.optim_wrapper.optimizer.lr == pytest.approx(base_lr * 2048 / 512)
    assert cfg.auto_scale_lr.base_batch_size == 2048
    assert cfg.train_dataloader.batch_size * 8 == 2048

    model = build_model(cfg)
    from greenmim_mm.models.backbones import GreenMIMSwinTransformer
    assert type(model.backbone) is GreenMIMSwinTransformer
    assert ln_eps(model.backbone) == {1e-6}
    assert [s.blocks[0].attn.window_size for s in model.backbone.stages] == [7] * 4
    groups = param_groups(cfg, model)
    lr = cfg.optim_wrapper.optimizer.lr
    assert groups['backbone.patch_embed.projection.weight']['lr'] == pytest.approx(lr * 0.9**25)
    assert groups['head.fc.weight']['lr'] == pytest.approx(lr)
    assert groups['backbone.stages.0.blocks.0.norm1.weight']['weight_decay'] == 0.
    assert groups['backbone.stages.0.blocks.0.attn.w_msa.relative_position_bias_table'][
        'weight_decay'] == 0.
    assert groups['backbone.stages.0.blocks.0.attn.w_msa.qkv.weight']['weight_decay'] == 0.05
    with torch.no_grad():
        out = model(torch.zeros(1, 3, 224, 224))
    assert out.shape == (1, 1000)


@pytest.mark.parametrize('split', ['train', 'val', 'test'])
def test_missing_coco_names_the_layout(tmp_path, split):
    from mmdet.registry import DATASETS
    cfg = load(SWIN_B_DET[0])
    dataset_cfg = cfg[f'{split}_dataloader'].dataset
    dataset_cfg.data_root = str(tmp_path / 'coco') + '/'
    name = 'train2017' if split == 'train' else 'val2017'
    with DefaultScope.overwrite_default_scope('mmdet'):
        with pytest.raises(FileNotFoundError) as err:
            DATASETS.build(dataset_cfg)
    msg = str(err.value)
    assert f'annotations/instances_{name}.json' in msg
    assert f'{name}/' in msg
    assert 'data/coco/' in msg  # the hint spells out the default layout
    assert 'annotations/instances_train2017.json, annotations/instances_val2017.json' in msg


def test_checked_dataset_passes_on_existing_layout(tmp_path):
    import json

    from mmdet.registry import DATASETS
    (tmp_path / 'annotations').mkdir()
    (tmp_path / 'imgs').mkdir()
    coco = dict(
        images=[dict(id=1, file_name='a.jpg', height=32, width=32)],
        annotations=[
            dict(
                id=1,
                image_id=1,
                category_id=1,
                bbox=[1, 1, 10, 10],
                area=100,
                iscrowd=0,
                segmentation=[[1, 1, 11, 1, 11, 11, 1, 11]])
        ],
        categories=[dict(id=1, name='circle')])
    (tmp_path / 'annotations' / 'a.json').write_text(json.dumps(coco))
    with DefaultScope.overwrite_default_scope('mmdet'):
        import greenmim_mm.det  # noqa: F401
        dataset = DATASETS.build(
            dict(
                type='CheckedCocoDataset',
                data_root=str(tmp_path),
                ann_file='annotations/a.json',
                data_prefix=dict(img='imgs/'),
                metainfo=dict(classes=('circle', )),
                pipeline=[]))
    assert len(dataset) == 1
