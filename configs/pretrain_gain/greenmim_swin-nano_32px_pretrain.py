# GreenMIM pre-training of a small Swin on 32-px images: the GreenMIM arm of the
# pretraining-gain experiment (docs/en/pretraining_gain.md, `make gain`).
#   python tools/dataset_converters/make_glyph_data.py --out data/glyphs
#   python tools/train.py configs/pretrain_gain/greenmim_swin-nano_32px_pretrain.py
# The experiment sets max_iters, the schedule's end and the checkpoints from its wall-clock
# budget, and data_root from --data.
#
# Swin "nano": embed 48, three stages of depths 2-2-2 (heads 3-6-12), a 2-px patch, window 4.
# Stage grids at 32 px: 16x16, 8x8, 4x4 tokens. The total stride -- GreenMIM's mask unit -- is
# 8 px, so an image has 4x4 units and a glyph spans several of them: a masked unit hides part
# of a stroke, which the visible units predict.
_base_ = ['../_base_/pretrain_runtime.py']

custom_imports = dict(imports=['greenmim_mm'], allow_failed_imports=False)

img_size = 32
patch_size = 2
mask_unit = 8  # patch_size * 2**(stages - 1)
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
        patch_cfg=dict(kernel_size=patch_size, stride=patch_size),
        window_size=4,
        drop_path_rate=0.0,
        out_indices=(2, ),
        init_cfg=[
            dict(type='TruncNormal', layer='Linear', std=0.02, bias=0.),
            dict(type='Constant', layer='LayerNorm', val=1., bias=0.)
        ]),
    # GreenMIM's recipe: a transformer decoder over all units (here 2 blocks of width 128)
    # predicting each masked unit's normalized pixels (MSE).
    neck=dict(
        type='GreenMIMPretrainDecoder',
        patch_size=mask_unit,
        in_chans=3,
        embed_dim=192,  # the last stage's channels: 4 * 48
        decoder_embed_dim=128,
        decoder_depth=2,
        decoder_num_heads=4,
        mlp_ratio=4.),
    head=dict(
        type='GreenMIMPretrainHead',
        norm_pix=True,
        patch_size=mask_unit,
        loss=dict(type='PixelReconstructionLoss', criterion='L2')))

# The same images and crops as the SimMIM arm (simmim_swin-nano_32px_pretrain.py). No flips:
# a mirrored glyph is another character. Images of any size are resized to img_size here.
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(
        type='RandomResizedCrop',
        scale=img_size,
        crop_ratio_range=(0.5, 1.0),
        backend='pillow',
        interpolation='bicubic'),
    dict(type='PackInputs')
]
train_dataloader = dict(
    batch_size=64,
    num_workers=0,  # on 2 cores a loader process costs more than decoding 32-px PNGs
    persistent_workers=False,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    collate_fn=dict(type='default_collate'),
    dataset=dict(
        type='PretrainImageFolder',
        data_root='data/glyphs/',
        data_prefix='unlabeled',
        layout_hint='Generate it with tools/dataset_converters/make_glyph_data.py.',
        pipeline=train_pipeline))

# Shared by both arms: AdamW, lr 1e-3 with a short linear warm-up and a cosine decay to the
# last iteration (a few hundred to a few thousand iterations of batch 64).
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
    # the weights after 1/8, 1/4, 1/2 and all of the run (the experiment probes them)
    checkpoint=dict(
        by_epoch=False,
        interval=max_iters // 8,
        max_keep_ckpts=-1,
        save_last=True,
        save_optimizer=False))
log_processor = dict(by_epoch=False)
# The seed fixes the data order and the crops: the same in both arms for one seed.
randomness = dict(seed=0, diff_rank_seed=False, deterministic=False)
