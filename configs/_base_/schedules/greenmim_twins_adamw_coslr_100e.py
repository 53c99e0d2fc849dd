# GreenMIM pre-training schedule of Twins, the authors' run
# (scripts/run_greenmim_twins_large.sh of their repository): AdamW (0.9, 0.95), wd 0.05,
# lr 1.5e-4 * batch / 256, linear warm-up for 40 epochs, then cosine to 0 at epoch 100.
# Nominal total batch 4096 (8 GPUs x 512); run with --auto-scale-lr on another batch size.
# AMP-ready like the Swin schedule (greenmim_adamw_coslr_200e.py): tools/train.py --amp.
optim_wrapper = dict(
    type='OptimWrapper',
    # One parameter group per distinct (lr, weight decay), as in the Swin schedule.
    constructor='MergedGroupsOptimWrapperConstructor',
    optimizer=dict(
        type='AdamW', lr=1.5e-4 * 4096 / 256, betas=(0.9, 0.95), weight_decay=0.05, fused=True),
    # No weight decay on norms, biases and the position-encoding convolutions (the authors
    # exclude 1-D parameters and the PEG, their `pos_block`).
    paramwise_cfg=dict(
        norm_decay_mult=0.0,
        bias_decay_mult=0.0,
        custom_keys={
            'mask_token': dict(decay_mult=0.),
            'position_encodings': dict(decay_mult=0.),
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
        T_max=60,
        eta_min=0.,
        by_epoch=True,
        begin=40,
        end=100,
        convert_to_iter_based=True)
]

train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=100)

# lr above is for a total batch of 4096; --auto-scale-lr rescales it to the real one.
auto_scale_lr = dict(enable=False, base_batch_size=4096)
