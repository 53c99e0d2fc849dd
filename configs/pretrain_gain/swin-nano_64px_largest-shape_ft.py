# Fine-tuning the small Swin of the pretraining-gain experiment (docs/en/pretraining_gain.md)
# to classify the category (circle, rectangle, triangle, ellipse) of each image's largest
# shape: an mmpretrain ImageClassifier on a few labeled 64-px images. The same config serves
# all three arms; only the backbone's start differs:
#   random init:  as here (init_cfg of the pre-training configs);
#   pre-trained:  --cfg-options model.backbone.init_cfg.type=Pretrained \
#                     model.backbone.init_cfg.checkpoint=<pretrain work_dir>/iter_N.pth \
#                     model.backbone.init_cfg.prefix=backbone.
# (GreenMIM's and SimMIM's checkpoints both hold the plain Swin keys under `backbone.`;
# SimMIM's mask token is left out.) The labels (meta/{train,val,test}.txt, "path label"
# lines) come from the generator's annotations: greenmim_mm/experiments/largest_shape.py.
_base_ = ['../_base_/pretrain_runtime.py']

custom_imports = dict(imports=['greenmim_mm'], allow_failed_imports=False)

classes = ('circle', 'rectangle', 'triangle', 'ellipse')
model = dict(
    type='ImageClassifier',
    backbone=dict(
        type='GreenMIMSwinTransformer',  # dense forward: mmpretrain's SwinTransformer
        arch=dict(embed_dims=48, depths=[2, 2, 2], num_heads=[3, 6, 12]),
        img_size=64,
        window_size=4,
        drop_path_rate=0.1,
        out_indices=(2, ),
        init_cfg=[
            dict(type='TruncNormal', layer='Linear', std=0.02, bias=0.),
            dict(type='Constant', layer='LayerNorm', val=1., bias=0.)
        ]),
    neck=dict(type='GlobalAveragePooling'),
    head=dict(
        type='LinearClsHead',
        num_classes=len(classes),
        in_channels=192,
        loss=dict(type='CrossEntropyLoss', loss_weight=1.0),
        topk=(1, )))
data_preprocessor = dict(
    num_classes=len(classes),
    mean=[123.675, 116.28, 103.53],
    std=[58.395, 57.12, 57.375],
    to_rgb=True)

# Flips keep the largest shape and its category; crops could cut it.
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(
        type='RandomFlip',
        prob=[0.25, 0.25, 0.25],
        direction=['horizontal', 'vertical', 'diagonal']),
    dict(type='PackInputs')
]
test_pipeline = [dict(type='LoadImageFromFile'), dict(type='PackInputs')]

dataset = dict(
    type='CustomDataset', data_root='data/gain/', data_prefix='', metainfo=dict(classes=classes))
loader = dict(num_workers=1, persistent_workers=True, collate_fn=dict(type='default_collate'))
train_dataloader = dict(
    **loader,
    batch_size=32,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(**dataset, ann_file='meta/train.txt', pipeline=train_pipeline))
val_dataloader = dict(
    **loader,
    batch_size=64,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(**dataset, ann_file='meta/val.txt', pipeline=test_pipeline))
test_dataloader = dict(
    **loader,
    batch_size=64,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(**dataset, ann_file='meta/test.txt', pipeline=test_pipeline))
val_evaluator = dict(type='Accuracy', topk=(1, ))
test_evaluator = val_evaluator

max_epochs = 20
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=1e-3, betas=(0.9, 0.999), weight_decay=0.05),
    clip_grad=dict(max_norm=5.0),
    paramwise_cfg=dict(
        norm_decay_mult=0.0,
        bias_decay_mult=0.0,
        custom_keys={
            'relative_position_bias_table': dict(decay_mult=0.),
            'absolute_pos_embed': dict(decay_mult=0.),
        }))
param_scheduler = [
    dict(
        type='LinearLR',
        start_factor=1e-2,
        by_epoch=True,
        begin=0,
        end=2,
        convert_to_iter_based=True),
    dict(
        type='CosineAnnealingLR',
        eta_min=1e-5,
        by_epoch=True,
        begin=2,
        end=max_epochs,
        convert_to_iter_based=True)
]
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=max_epochs, val_interval=max_epochs)
val_cfg = dict()
test_cfg = dict()
default_hooks = dict(
    logger=dict(type='LoggerHook', interval=10),
    checkpoint=dict(interval=max_epochs, max_keep_ckpts=1, save_last=True))
# The seed fixes the data order, the flips and the head's initial weights: the same for the
# three arms of one seed.
randomness = dict(seed=0, diff_rank_seed=False, deterministic=False)
