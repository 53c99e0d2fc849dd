# The demo detector: Mask R-CNN + FPN on the small GreenMIM Swin of
# configs/demo/greenmim_demo_pretrain.py (embed 48, depths 2-2-2-2, window 7), trained for a few
# minutes on 2 CPU cores on the generated shapes of data/demo (192 px, 4 classes).
# `make demo` (tools/run_demo.sh) runs the whole pipeline; by hand:
#
#   python tools/dataset_converters/make_demo_data.py --out data/demo --seed 0
#   python tools/train.py configs/demo/greenmim_demo_pretrain.py --work-dir work_dirs/demo/pretrain
#   python tools/model_converters/convert_checkpoint.py work_dirs/demo/pretrain/iter_300.pth \
#       work_dirs/demo/greenmim_backbone.pth --config configs/demo/mask-rcnn_greenmim_demo.py
#   OMP_NUM_THREADS=1 tools/dist_train.sh configs/demo/mask-rcnn_greenmim_demo.py 2 \
#       --work-dir work_dirs/demo/det --no-validate
#   OMP_NUM_THREADS=1 tools/dist_test.sh configs/demo/mask-rcnn_greenmim_demo.py \
#       work_dirs/demo/det/iter_900.pth 2 --show-dir vis
#
# The recipe is 2 processes x batch 2 (DDP; gloo on CPU). `python tools/train.py` (one process,
# batch 2) also works but sees half the images in 900 iterations.
#
# From random init instead: --cfg-options model.backbone.init_cfg=None
#
# What makes minutes of CPU training useful (measured on 2 cores, see README.md): GroupNorm in
# the neck and heads (BN-free heads train far better at batch 2), a 64-channel FPN, 192 px
# images, anchors of scale 4 for the small shapes; RoIs mapped to FPN levels with finest_scale
# 28 (mmdet's 56 put nearly every RoI of these shapes, sqrt(w h) < 112 px, on P2), half of the
# 32 sampled RoIs positive, fewer proposals, and a 7x7 mask RoI (14x14 masks): ~0.37 s per
# iteration on one core instead of ~0.47; with one process per core, 900 iterations take ~6
# minutes on 2 cores. tools/run_demo.sh runs it (and with DEMO_BASELINE=1, from random init).
_base_ = [
    'mmdet::_base_/models/mask-rcnn_r50_fpn.py',
    'mmdet::_base_/datasets/coco_instance.py',
    '../_base_/det_runtime.py',
]

custom_imports = dict(imports=['greenmim_mm', 'greenmim_mm.det'], allow_failed_imports=False)

# the output of tools/model_converters/convert_checkpoint.py
pretrained = 'work_dirs/demo/greenmim_backbone.pth'
classes = ('circle', 'rectangle', 'triangle', 'ellipse')
num_classes = len(classes)
img_size = 192
fpn_channels = 64
gn_cfg = dict(type='GN', num_groups=32, requires_grad=True)

model = dict(
    backbone=dict(
        _delete_=True,
        type='mmpretrain.GreenMIMSwinTransformer',  # dense forward; same keys as SwinTransformer
        arch=dict(embed_dims=48, depths=[2, 2, 2, 2], num_heads=[3, 6, 12, 24]),
        img_size=224,
        window_size=7,
        drop_path_rate=0.,  # no regularisation needed for minutes of training
        out_indices=(0, 1, 2, 3),
        pad_small_map=True,  # the last stage (6x6 at 192 px) is smaller than the window
        init_cfg=dict(type='Pretrained', checkpoint=pretrained, prefix='backbone.')),
    neck=dict(in_channels=[48, 96, 192, 384], out_channels=fpn_channels, norm_cfg=gn_cfg),
    rpn_head=dict(
        in_channels=fpn_channels, feat_channels=fpn_channels, anchor_generator=dict(scales=[4])),
    roi_head=dict(
        # finest_scale 28: RoIs of < 56 px on P2, < 112 px on P3, larger on P4 and P5
        bbox_roi_extractor=dict(
            roi_layer=dict(sampling_ratio=2), out_channels=fpn_channels, finest_scale=28),
        bbox_head=dict(
            type='Shared4Conv1FCBBoxHead',
            in_channels=fpn_channels,
            conv_out_channels=fpn_channels,
            fc_out_channels=256,
            norm_cfg=gn_cfg,
            num_classes=num_classes),
        mask_roi_extractor=dict(
            roi_layer=dict(output_size=7, sampling_ratio=2),  # 14x14 masks after the deconv
            out_channels=fpn_channels,
            finest_scale=28),
        mask_head=dict(
            in_channels=fpn_channels,
            conv_out_channels=fpn_channels,
            norm_cfg=gn_cfg,
            num_classes=num_classes)),
    train_cfg=dict(
        rpn=dict(sampler=dict(num=128)),
        rpn_proposal=dict(nms_pre=500, max_per_img=200),
        rcnn=dict(sampler=dict(num=32, pos_fraction=0.5), mask_size=14)),
    test_cfg=dict(rpn=dict(nms_pre=500, max_per_img=200)))

# ---------------------------------------------------------------------------- data
data_root = 'data/demo/'
demo_hint = ('Generate the demo data first: '
             'python tools/dataset_converters/make_demo_data.py --out data/demo')
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
    dict(type='Resize', scale=(img_size, img_size), keep_ratio=True),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackDetInputs')
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(img_size, img_size), keep_ratio=True),
    dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
    dict(
        type='PackDetInputs',
        meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape', 'scale_factor'))
]
train_dataloader = dict(
    batch_size=2,
    num_workers=1,
    persistent_workers=True,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(
        type='CheckedCocoDataset',
        data_root=data_root,
        metainfo=dict(classes=classes),
        ann_file='annotations/instances_train.json',
        data_prefix=dict(img='train/'),
        filter_cfg=dict(filter_empty_gt=True, min_size=4),
        pipeline=train_pipeline,
        layout_hint=demo_hint))
val_dataloader = dict(
    batch_size=1,
    num_workers=1,
    persistent_workers=True,
    dataset=dict(
        type='CheckedCocoDataset',
        data_root=data_root,
        metainfo=dict(classes=classes),
        ann_file='annotations/instances_val.json',
        data_prefix=dict(img='val/'),
        pipeline=test_pipeline,
        layout_hint=demo_hint))
test_dataloader = val_dataloader
val_evaluator = dict(ann_file=data_root + 'annotations/instances_val.json')
test_evaluator = val_evaluator

# ---------------------------------------------------------------------------- schedule
max_iters = 900
train_cfg = dict(type='IterBasedTrainLoop', max_iters=max_iters, val_interval=max_iters)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
# The Swin-B configs' optimizer at a demo learning rate. No layer-wise decay here: after two
# minutes of pretraining there is little to preserve, and decay 0.9 slowed the random-init
# baseline without helping the pretrained run (500 iterations: within the noise, ~0.005 mAP).
optim_wrapper = dict(
    type='OptimWrapper',
    constructor='DetLayerDecayOptimWrapperConstructor',
    # foreach: one fused update for all tensors (~25 ms of a CPU step otherwise)
    optimizer=dict(type='AdamW', lr=1e-3, betas=(0.9, 0.999), weight_decay=0.05, foreach=True),
    paramwise_cfg=dict(
        layer_decay_rate=1.0,
        norm_decay_mult=0.,
        bias_decay_mult=0.,
        custom_keys={'relative_position_bias_table': dict(decay_mult=0.)}))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0, end=50),
    dict(
        type='CosineAnnealingLR',
        T_max=max_iters - 50,
        eta_min=1e-5,
        by_epoch=False,
        begin=50,
        end=max_iters)
]
auto_scale_lr = dict(enable=False, base_batch_size=4)  # the recipe: 2 processes x batch 2

default_hooks = dict(
    logger=dict(type='LoggerHook', interval=20),
    checkpoint=dict(by_epoch=False, interval=max_iters, max_keep_ckpts=1))
log_processor = dict(by_epoch=False)
randomness = dict(seed=0)
