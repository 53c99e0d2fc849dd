# mmpretrain's default runtime plus the hooks every greenmim_mm run relies on. Declared here,
# not added by a tool, so that mmpretrain's and mmdet's own tools/train.py and tools/test.py
# (and `mim train`) run them too. All three are registered in mmengine's root registry by
# `import greenmim_mm` and do nothing where they are not needed:
#   checkpoint: AtomicCheckpointHook, mmengine's CheckpointHook whose saves a kill cannot
#       truncate, deleting outdated checkpoints only after the new one is complete;
#   checkpoint_check: refuses a checkpoint of another architecture before any weight is
#       copied (strict on resume and test, 'any weight fits' for load_from);
#   dist_loss_average: logs losses averaged over all ranks (a no-op in one process).
_base_ = ['mmpretrain::_base_/default_runtime.py']

default_hooks = dict(
    checkpoint=dict(type='AtomicCheckpointHook'),
    checkpoint_check=dict(type='CheckpointCompatibilityHook'),
    dist_loss_average=dict(type='DistLossAverageHook'))
