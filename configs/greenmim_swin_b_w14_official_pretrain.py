# Continue GreenMIM pre-training from the authors' released Swin-B (window 14) checkpoint.
#
#   python tools/model_converters/convert_checkpoint.py greenmim_swin_base_w14.pth \
#       checkpoints/greenmim_swin-b-w14_official_full.pth --from official --keep-decoder \
#       --config configs/greenmim_swin_b_w14_official_pretrain.py
#   python tools/train.py configs/greenmim_swin_b_w14_official_pretrain.py
#
# As the authors' Swin at 224 px: windows 14, 14, 14, 7 (stage 2, 14x14, is one window without
# shift; stage 3, 7x7, was shrunk to window 7, and its tables have 13x13 rows), no padding of
# small maps, LayerNorm eps 1e-6, the decoder's sin-cos table in MAE's layout.
_base_ = ['./greenmim_swin_b_official_pretrain.py']

ln_cfg = dict(type='LN', eps=1e-6)
model = dict(
    backbone=dict(
        window_size=14,
        pad_small_map=False,
        stage_cfgs=[
            dict(
                window_size=14,
                block_cfgs=dict(norm_cfg=ln_cfg),
                downsample_cfg=dict(norm_cfg=ln_cfg)),
            dict(
                window_size=14,
                block_cfgs=dict(norm_cfg=ln_cfg),
                downsample_cfg=dict(norm_cfg=ln_cfg)),
            dict(
                window_size=14,
                block_cfgs=dict(norm_cfg=ln_cfg),
                downsample_cfg=dict(norm_cfg=ln_cfg)),
            dict(
                window_size=7,
                block_cfgs=dict(norm_cfg=ln_cfg),
                downsample_cfg=dict(norm_cfg=ln_cfg)),
        ]))

# written by tools/model_converters/convert_checkpoint.py
load_from = 'checkpoints/greenmim_swin-b-w14_official_full.pth'
