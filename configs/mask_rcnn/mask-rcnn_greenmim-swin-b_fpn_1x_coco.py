# Mask R-CNN + FPN on a GreenMIM-pretrained Swin-B (window 7), COCO 2017, 12 epochs.
#
#   # 1. the backbone checkpoint: an authors' release (or --from greenmim_mm for ours)
#   python tools/model_converters/convert_checkpoint.py greenmim_swin_base_w7.pth \
#       checkpoints/greenmim_swin-b-w7_backbone.pth --from official \
#       --config configs/mask_rcnn/mask-rcnn_greenmim-swin-b_fpn_1x_coco.py
#   # 2. train (8 GPUs x 2 images, as mmdet's Swin configs) and test
#   bash tools/dist_train.sh configs/mask_rcnn/mask-rcnn_greenmim-swin-b_fpn_1x_coco.py 8
#   python tools/test.py configs/mask_rcnn/mask-rcnn_greenmim-swin-b_fpn_1x_coco.py \
#       work_dirs/mask-rcnn_greenmim-swin-b_fpn_1x_coco/epoch_12.pth
#
# Data: data/coco/annotations/instances_{train,val}2017.json, data/coco/{train,val}2017/.
_base_ = [
    'mmdet::_base_/models/mask-rcnn_r50_fpn.py',
    'mmdet::_base_/datasets/coco_instance.py',
    'mmdet::_base_/schedules/schedule_1x.py',
    '../_base_/det_runtime.py',
]

custom_imports = dict(imports=['greenmim_mm', 'greenmim_mm.det'], allow_failed_imports=False)

# the output of tools/model_converters/convert_checkpoint.py
pretrained = 'checkpoints/greenmim_swin-b-w7_backbone.pth'
# The authors' encoder uses LayerNorm eps 1e-6 everywhere (mmpretrain's default is 1e-5, which
# configs/greenmim_swin_b_pretrain.py keeps; either way the difference is ~3e-5 relative).
ln_cfg = dict(type='LN', eps=1e-6)

model = dict(
    backbone=dict(
        _delete_=True,
        type='mmpretrain.GreenMIMSwinTransformer',  # dense forward; same keys as SwinTransformer
        arch='base',  # embed 128, depths 2-2-18-2, heads 4-8-16-32
        img_size=224,
        window_size=7,
        drop_path_rate=0.3,  # as mmdet's Swin-S/B detection configs
        out_indices=(0, 1, 2, 3),
        pad_small_map=True,
        norm_cfg=ln_cfg,  # output norms norm0..norm3
        stage_cfgs=dict(block_cfgs=dict(norm_cfg=ln_cfg), downsample_cfg=dict(norm_cfg=ln_cfg)),
        patch_cfg=dict(norm_cfg=ln_cfg),
        init_cfg=dict(type='Pretrained', checkpoint=pretrained, prefix='backbone.')),
    neck=dict(in_channels=[128, 256, 512, 1024]))

# A missing data/coco fails with the expected layout (CheckedCocoDataset) instead of a bare path.
coco_layout_hint = (
    'Expected COCO 2017 under data/coco/: annotations/instances_train2017.json, '
    'annotations/instances_val2017.json, train2017/, val2017/. Link your copy there '
    '(ln -s /path/to/coco data/coco) or point the config at it, e.g. --cfg-options '
    'train_dataloader.dataset.data_root=/path/to/coco/ ...')
train_dataloader = dict(dataset=dict(type='CheckedCocoDataset', layout_hint=coco_layout_hint))
val_dataloader = dict(dataset=dict(type='CheckedCocoDataset', layout_hint=coco_layout_hint))
test_dataloader = val_dataloader
# bbox + segm AP through pycocotools: val_evaluator/test_evaluator of the coco_instance base.

# AdamW with layer-wise lr decay over the backbone's 26 depths (patch embedding, 24 blocks,
# the rest: neck and heads at the base lr); no weight decay on norms, biases and position tables.
optim_wrapper = dict(
    type='OptimWrapper',
    constructor='DetLayerDecayOptimWrapperConstructor',
    optimizer=dict(_delete_=True, type='AdamW', lr=1e-4, betas=(0.9, 0.999), weight_decay=0.05),
    paramwise_cfg=dict(
        layer_decay_rate=0.9,
        norm_decay_mult=0.,
        bias_decay_mult=0.,
        custom_keys={
            'absolute_pos_embed': dict(decay_mult=0.),
            'relative_position_bias_table': dict(decay_mult=0.),
        }))

max_epochs = 12
train_cfg = dict(max_epochs=max_epochs)
param_scheduler = [
    dict(type='LinearLR', start_factor=0.001, by_epoch=False, begin=0, end=1000),
    dict(type='MultiStepLR', begin=0, end=max_epochs, by_epoch=True, milestones=[8, 11], gamma=0.1)
]
