# GreenMIM pre-training of Twins-SVT-L on ImageNet-1K at 224 px: the authors' recipe
# (scripts/run_greenmim_twins_large.sh of their repository): 100 epochs, 40 warm-up epochs,
# mask ratio 0.75, base lr 1.5e-4 x total batch / 256, AdamW (0.9, 0.95), wd 0.05,
# batch 512 per GPU x 8 GPUs = 4096, decoder 512 x 1 block, norm-pix loss.
#   python tools/train.py configs/greenmim_twins_svt_l_pretrain.py [--amp] [--auto-scale-lr]
#   bash tools/dist_train.sh configs/greenmim_twins_svt_l_pretrain.py 8
# Data: data/imagenet/train/**/*.JPEG (see _base_/datasets/greenmim_in1k_pretrain.py).
_base_ = [
    './_base_/models/greenmim_twins_svt_large.py',
    './_base_/datasets/greenmim_in1k_pretrain.py',
    './_base_/schedules/greenmim_twins_adamw_coslr_100e.py',
    './_base_/pretrain_runtime.py',
]

custom_imports = dict(imports=['greenmim_mm'], allow_failed_imports=False)

train_dataloader = dict(batch_size=512)  # per GPU, as the authors' run (8 GPUs)

default_hooks = dict(
    logger=dict(type='LoggerHook', interval=100),
    checkpoint=dict(interval=25, max_keep_ckpts=2, save_last=True))
custom_hooks = [dict(type='ReconstructionVisHook', interval=5000, num_images=2)]
# Same mask determinism as configs/greenmim_swin_b_pretrain.py: one batch-wise mask per step
# shared by every rank.
randomness = dict(seed=0, diff_rank_seed=False, deterministic=False)
