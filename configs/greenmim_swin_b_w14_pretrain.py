# GreenMIM pre-training of Swin-B with window 14 on ImageNet-1K at 224 px.
# At 224 the last stage is 7x7 < 14: pad_small_map=True pads it to one window (the sparse
# encoder ignores the padding, the dense model matches mmpretrain's detection setting).
_base_ = ['./greenmim_swin_b_pretrain.py']

model = dict(backbone=dict(window_size=14, pad_small_map=True))
