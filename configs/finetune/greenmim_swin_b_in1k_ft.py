# ImageNet-1K fine-tuning of a GreenMIM-pretrained Swin-B (window 7) at 224 px: the SimMIM recipe
# the paper follows (100 epochs, 20 warm-up, AdamW wd 0.05, layer decay 0.9, drop path 0.1,
# base lr 1.25e-3 per 512 images), reported at 83.8 top-1.
#
#   python tools/model_converters/convert_checkpoint.py \
#       work_dirs/greenmim_swin_b_pretrain/epoch_200.pth \
#       checkpoints/greenmim_swin-b-w7_backbone_cls.pth \
#       --config configs/finetune/greenmim_swin_b_in1k_ft.py
#   bash tools/dist_train.sh configs/finetune/greenmim_swin_b_in1k_ft.py 8
#
# Data: data/imagenet/{train,val}/ as mmpretrain's ImageNet dataset reads it.
_base_ = ['mmpretrain::simmim/benchmarks/swin-base-w7_8xb256-coslr-100e_in1k.py']

custom_imports = dict(imports=['greenmim_mm'], allow_failed_imports=False)

# greenmim_mm's runtime hooks (see ../_base_/pretrain_runtime.py); set here because the
# mmpretrain config above already brings a runtime (two bases may not both set default_hooks).
default_hooks = dict(
    checkpoint=dict(type='AtomicCheckpointHook'),
    checkpoint_check=dict(type='CheckpointCompatibilityHook'),
    dist_loss_average=dict(type='DistLossAverageHook'))

# written by tools/model_converters/convert_checkpoint.py
pretrained = 'checkpoints/greenmim_swin-b-w7_backbone_cls.pth'
# LayerNorm eps of the authors' encoder; mmpretrain's default (1e-5, used by
# configs/greenmim_swin_b_pretrain.py) differs by ~3e-5 relative. Match your checkpoint.
ln_cfg = dict(type='LN', eps=1e-6)

model = dict(
    backbone=dict(
        type='GreenMIMSwinTransformer',  # dense forward; same keys as SwinTransformer
        arch='base',
        img_size=224,
        window_size=7,
        drop_path_rate=0.1,
        norm_cfg=ln_cfg,
        stage_cfgs=dict(
            _delete_=True, block_cfgs=dict(norm_cfg=ln_cfg), downsample_cfg=dict(norm_cfg=ln_cfg)),
        patch_cfg=dict(norm_cfg=ln_cfg),
        init_cfg=dict(type='Pretrained', checkpoint=pretrained, prefix='backbone.')))

# 8 GPUs x 256 = 2048 images per step: lr = 1.25e-3 * 2048 / 512.
base_lr = 1.25e-3
batch_size = 2048
optim_wrapper = dict(
    optimizer=dict(
        type='AdamW', lr=base_lr * batch_size / 512, betas=(0.9, 0.999), weight_decay=0.05),
    clip_grad=dict(max_norm=5.0),
    constructor='LearningRateDecayOptimWrapperConstructor',
    paramwise_cfg=dict(
        _delete_=True,
        layer_decay_rate=0.9,
        custom_keys={
            '.norm': dict(decay_mult=0.0),
            '.bias': dict(decay_mult=0.0),
            '.absolute_pos_embed': dict(decay_mult=0.0),
            '.relative_position_bias_table': dict(decay_mult=0.0)
        }))
param_scheduler = [
    dict(
        type='LinearLR',
        start_factor=2.5e-7 / base_lr,
        by_epoch=True,
        begin=0,
        end=20,
        convert_to_iter_based=True),
    dict(
        type='CosineAnnealingLR',
        T_max=80,
        eta_min=2.5e-7 * batch_size / 512,
        by_epoch=True,
        begin=20,
        end=100,
        convert_to_iter_based=True)
]
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=100)
auto_scale_lr = dict(enable=False, base_batch_size=batch_size)
