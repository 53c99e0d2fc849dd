# GreenMIM pre-training of Swin-T (window 7) on ImageNet-1K at 224 px, 200 epochs: the Swin-B
# recipe (configs/greenmim_swin_b_pretrain.py) with the Swin paper's Swin-T (embed 96, depths
# 2-2-6-2, heads 3-6-12-24), for GPUs that cannot hold Swin-B. The paper pre-trains Swin-B/L
# only; this recipe is theirs, not tuned for Swin-T.
#   python tools/train.py configs/greenmim_swin_t_pretrain.py [--amp] [--auto-scale-lr]
_base_ = ['./greenmim_swin_b_pretrain.py']

model = dict(
    backbone=dict(arch='tiny'),  # mmpretrain's 'tiny': embed 96, depths 2-2-6-2
    neck=dict(embed_dim=768))  # 8 * embed_dims: the last stage's channels
