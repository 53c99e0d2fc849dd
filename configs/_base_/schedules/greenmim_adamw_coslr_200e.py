# GreenMIM pre-training schedule: AdamW (0.9, 0.95), wd 0.05, lr 1.5e-4 * batch / 256,
# linear warm-up for 40 epochs, then cosine to 0 at epoch 200.
# Nominal total batch 2048 (8 GPUs x 256); run with --auto-scale-lr on another batch size.
# AMP-ready: tools/train.py --amp turns this into AmpOptimWrapper (fp16, dynamic loss scale)
# on GPU, or CpuAmpOptimWrapper (bfloat16 autocast) on CPU.
optim_wrapper = dict(
    type='OptimWrapper',
    # One parameter group per distinct (lr, weight decay) instead of one per parameter: the
    # same updates, a fused AdamW step of ~6 operations instead of ~700 (Swin-B).
    constructor='MergedGroupsOptimWrapperConstructor',
    # fused=True: one multi-threaded kernel per parameter (CPU and CUDA) instead of ~8
    # elementwise passes; same update. On Swin-B it cuts the AdamW step ~5x on CPU.
    optimizer=dict(
        type='AdamW', lr=1.5e-4 * 2048 / 256, betas=(0.9, 0.95), weight_decay=0.05, fused=True),
    paramwise_cfg=dict(
        norm_decay_mult=0.0,
        bias_decay_mult=0.0,
        custom_keys={
            'mask_token': dict(decay_mult=0.),
            'relative_position_bias_table': dict(decay_mult=0.),
            'absolute_pos_embed': dict(decay_mult=0.),
        }))

param_scheduler = [
    dict(
        type='LinearLR',
        start_factor=1e-4,
        by_epoch=True,
        begin=0,
        end=40,
        convert_to_iter_based=True),
    dict(
        type='CosineAnnealingLR',
        T_max=160,
        eta_min=0.,
        by_epoch=True,
        begin=40,
        end=200,
        convert_to_iter_based=True)
]

train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=200)

# lr above is for a total batch of 2048; --auto-scale-lr rescales it to the real one.
auto_scale_lr = dict(enable=False, base_batch_size=2048)
