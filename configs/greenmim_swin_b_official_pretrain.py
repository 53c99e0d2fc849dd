# Continue GreenMIM pre-training from the authors' released Swin-B (window 7) checkpoint.
#
#   python tools/model_converters/convert_checkpoint.py greenmim_swin_base_w7.pth \
#       checkpoints/greenmim_swin-b-w7_official_full.pth --from official --keep-decoder \
#       --config configs/greenmim_swin_b_official_pretrain.py
#   python tools/train.py configs/greenmim_swin_b_official_pretrain.py
#
# The model is the release's: LayerNorm eps 1e-6 everywhere (encoder and decoder), window 7 in
# every stage (the last stage, 7x7 at 224 px, is one window without shift), a decoder of width
# 512, 16 heads, 1 block, whose fixed sin-cos table has MAE's layout (column first). The
# schedule is the 200-epoch one of greenmim_swin_b_pretrain.py; shorten it for a continuation
# on your own data (e.g. --cfg-options train_cfg.max_epochs=... and param_scheduler).
_base_ = ['./greenmim_swin_b_pretrain.py']

custom_imports = dict(imports=['greenmim_mm'], allow_failed_imports=False)

ln_cfg = dict(type='LN', eps=1e-6)
model = dict(
    backbone=dict(
        window_size=7,
        pad_small_map=False,
        norm_cfg=ln_cfg,  # the output norm (norm3)
        stage_cfgs=dict(block_cfgs=dict(norm_cfg=ln_cfg), downsample_cfg=dict(norm_cfg=ln_cfg)),
        patch_cfg=dict(norm_cfg=ln_cfg)),
    neck=dict(norm_cfg=ln_cfg, pos_embed_layout='mae'))

# written by tools/model_converters/convert_checkpoint.py
load_from = 'checkpoints/greenmim_swin-b-w7_official_full.pth'
