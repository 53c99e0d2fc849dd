# mmdet's default runtime plus greenmim_mm's hooks (see ./pretrain_runtime.py for what each
# does; mmengine forbids two bases defining `default_hooks`, hence one runtime per scope).
_base_ = ['mmdet::_base_/default_runtime.py']

default_hooks = dict(
    checkpoint=dict(type='AtomicCheckpointHook'),
    checkpoint_check=dict(type='CheckpointCompatibilityHook'),
    dist_loss_average=dict(type='DistLossAverageHook'))
