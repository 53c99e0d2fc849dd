# GreenMIM pre-training of Swin-B (window 7) on ImageNet-1K at 224 px, 200 epochs.
#   python tools/train.py configs/greenmim_swin_b_pretrain.py [--amp] [--auto-scale-lr]
# Data: data/imagenet/train/**/*.JPEG (see _base_/datasets/greenmim_in1k_pretrain.py).
_base_ = [
    './_base_/models/greenmim_swin_base.py',
    './_base_/datasets/greenmim_in1k_pretrain.py',
    './_base_/schedules/greenmim_adamw_coslr_200e.py',
    './_base_/pretrain_runtime.py',
]

custom_imports = dict(imports=['greenmim_mm'], allow_failed_imports=False)

default_hooks = dict(
    logger=dict(type='LoggerHook', interval=100),
    # a checkpoint every 10 epochs, the latest 3 kept (plus the last one)
    checkpoint=dict(interval=10, max_keep_ckpts=3, save_last=True))

# Reconstruction pictures of the current batch every 5000 iterations, saved by the
# visualizer under <work_dir>/<timestamp>/vis_data/vis_image/.
custom_hooks = [dict(type='ReconstructionVisHook', interval=5000, num_images=2)]

# Masks are drawn from (seed, iteration) (see GreenMIM's docstring), so a resumed run sees the
# same masks, and with diff_rank_seed=False every DDP rank draws the same batch-wise mask: the
# whole global batch shares one grouping, as in the paper, and a 2-process run reproduces a
# 1-process run. (Data workers are still seeded per rank by mmengine.)
# Bit-exact resumes also need deterministic kernels: --cfg-options randomness.deterministic=True
# (on GPU with CUBLAS_WORKSPACE_CONFIG=:4096:8); left off here for speed.
randomness = dict(seed=0, diff_rank_seed=False, deterministic=False)
