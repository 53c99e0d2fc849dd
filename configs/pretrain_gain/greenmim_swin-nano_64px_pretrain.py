# GreenMIM pre-training of a small Swin at 64 px on the generated shapes: arm (b) of the
# pretraining-gain experiment (docs/en/pretraining_gain.md, `make gain`).
#   python tools/dataset_converters/make_demo_data.py --out data/gain --size 64 ...
#   python tools/train.py configs/pretrain_gain/greenmim_swin-nano_64px_pretrain.py
# The experiment sets max_iters (and the schedule's end) from the wall-clock budget.
#
# Swin "nano": embed 48, three stages of depths 2-2-2 (heads 3-6-12), patch 4, window 4. Three
# stages give a total stride -- GreenMIM's mask unit -- of 16 px, so a 64-px image has 4x4
# units (four stages would leave 2x2 units of 32 px: one visible unit at ratio 0.75).
_base_ = ['../_base_/pretrain_runtime.py']

custom_imports = dict(imports=['greenmim_mm'], allow_failed_imports=False)

img_size = 64
mask_unit = 16
model = dict(
    type='GreenMIM',
    mask_ratio=0.75,
    mask_unit=mask_unit,
    data_preprocessor=dict(
        type='SelfSupDataPreprocessor',
        mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375],
        to_rgb=True),
    backbone=dict(
        type='GreenMIMSwinTransformer',
        arch=dict(embed_dims=48, depths=[2, 2, 2], num_heads=[3, 6, 12]),
        img_size=img_size,
        window_size=4,
        drop_path_rate=0.0,
        out_indices=(2, ),
        init_cfg=[
            dict(type='TruncNormal', layer='Linear', std=0.02, bias=0.),
            dict(type='Constant', layer='LayerNorm', val=1., bias=0.)
        ]),
    neck=dict(
        type='GreenMIMPretrainDecoder',
        patch_size=mask_unit,
        in_chans=3,
        embed_dim=192,  # the last stage's channels: 4 * 48
        decoder_embed_dim=128,
        decoder_depth=1,
        decoder_num_heads=4,
        mlp_ratio=4.),
    head=dict(
        type='GreenMIMPretrainHead',
        norm_pix=True,
        patch_size=mask_unit,
        loss=dict(type='PixelReconstructionLoss', criterion='L2')))

# The same images, crops and flips as the SimMIM arm (simmim_swin-nano_64px_pretrain.py).
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(
        type='RandomResizedCrop',
        scale=img_size,
        crop_ratio_range=(0.5, 1.0),
        backend='pillow',
        interpolation='bicubic'),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackInputs')
]
train_dataloader = dict(
    batch_size=64,
    num_workers=1,
    persistent_workers=True,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    collate_fn=dict(type='default_collate'),
    dataset=dict(
        type='CustomDataset',
        data_root='data/gain/',
        data_prefix='pretrain',
        with_label=False,
        pipeline=train_pipeline))

max_iters = 1000  # set by the experiment from the measured step time
warmup_iters = 50
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=1e-3, betas=(0.9, 0.95), weight_decay=0.05),
    paramwise_cfg=dict(
        norm_decay_mult=0.0,
        bias_decay_mult=0.0,
        custom_keys={
            'mask_token': dict(decay_mult=0.),
            'relative_position_bias_table': dict(decay_mult=0.),
            'absolute_pos_embed': dict(decay_mult=0.),
        }))
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-2, by_epoch=False, begin=0, end=warmup_iters),
    dict(type='CosineAnnealingLR', eta_min=1e-5, by_epoch=False, begin=warmup_iters, end=max_iters)
]
train_cfg = dict(type='IterBasedTrainLoop', max_iters=max_iters)
default_hooks = dict(
    logger=dict(type='LoggerHook', interval=10),
    checkpoint=dict(by_epoch=False, interval=max_iters, max_keep_ckpts=1, save_last=True))
log_processor = dict(by_epoch=False)
randomness = dict(seed=0, diff_rank_seed=False, deterministic=False)
