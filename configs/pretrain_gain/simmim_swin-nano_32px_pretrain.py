# mmpretrain's SimMIM on the same small Swin, images, crops and schedule as
# greenmim_swin-nano_32px_pretrain.py: the SimMIM arm of the pretraining-gain experiment
# (docs/en/pretraining_gain.md). SimMIM's own recipe otherwise: a mask token fills the masked
# patches (the encoder computes all 256 tokens), mask ratio 0.6 in 8-px units (the same unit
# as GreenMIM's), a linear decoder (1x1 conv + pixel shuffle) and an L1 loss on the masked
# raw pixels.
#   python tools/train.py configs/pretrain_gain/simmim_swin-nano_32px_pretrain.py
_base_ = ['./greenmim_swin-nano_32px_pretrain.py']

img_size = 32
patch_size = 2
mask_unit = 8
model = dict(
    _delete_=True,
    type='SimMIM',
    data_preprocessor=dict(
        type='SelfSupDataPreprocessor',
        mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375],
        to_rgb=True),
    backbone=dict(
        type='SimMIMSwinTransformer',
        arch=dict(embed_dims=48, depths=[2, 2, 2], num_heads=[3, 6, 12]),
        img_size=img_size,
        patch_cfg=dict(kernel_size=patch_size, stride=patch_size),
        stage_cfgs=dict(block_cfgs=dict(window_size=4)),
        drop_path_rate=0.0,
        out_indices=(2, ),
        init_cfg=[
            dict(type='TruncNormal', layer='Linear', std=0.02, bias=0.),
            dict(type='Constant', layer='LayerNorm', val=1., bias=0.)
        ]),
    neck=dict(type='SimMIMLinearDecoder', in_channels=192, encoder_stride=mask_unit),
    head=dict(
        type='SimMIMHead',
        patch_size=patch_size,
        loss=dict(type='PixelReconstructionLoss', criterion='L1', channel=3)))

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(
        type='RandomResizedCrop',
        scale=img_size,
        crop_ratio_range=(0.5, 1.0),
        backend='pillow',
        interpolation='bicubic'),
    dict(
        type='SimMIMMaskGenerator',
        input_size=img_size,
        mask_patch_size=mask_unit,
        model_patch_size=patch_size,
        mask_ratio=0.6),
    dict(type='PackInputs')  # packs the mask as a tensor
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
