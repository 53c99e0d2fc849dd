# GreenMIM pre-training of Swin-L with window 14 on ImageNet-1K at 224 px.
_base_ = ['./greenmim_swin_b_pretrain.py']

model = dict(
    backbone=dict(arch='large', window_size=14, pad_small_map=True),
    neck=dict(embed_dim=1536))  # 8 * embed_dims of Swin-L
