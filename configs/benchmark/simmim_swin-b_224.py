# The SimMIM baseline of tools/analysis_tools/benchmark.py: mmpretrain's own SimMIM Swin-B config,
# changed only to see the same input as configs/greenmim_swin_b_pretrain.py (224 px, window 7).
# mmpretrain's config is for 192 px with window 6; at 224 px window 6 would make SimMIM pad
# every stage (56 = 9 x 6 + 2), so the window follows the input like in our Swin-B.
# tools/analysis_tools/benchmark.py overrides img_size (and arch) per measured case.
_base_ = 'mmpretrain::simmim/simmim_swin-base-w6_8xb256-amp-coslr-100e_in1k-192px.py'

model = dict(backbone=dict(img_size=224, stage_cfgs=dict(block_cfgs=dict(window_size=7))))
