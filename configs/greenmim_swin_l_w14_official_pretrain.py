# Continue GreenMIM pre-training from the authors' released Swin-L (window 14) checkpoint.
#
#   python tools/model_converters/convert_checkpoint.py greenmim_swin_large_w14.pth \
#       checkpoints/greenmim_swin-l-w14_official_full.pth --from official --keep-decoder \
#       --config configs/greenmim_swin_l_w14_official_pretrain.py
#   python tools/train.py configs/greenmim_swin_l_w14_official_pretrain.py
#
# Swin-L (embed 192, heads 6-12-24-48) with the windows of the Swin-B w14 release: 14, 14, 14
# and 7 in the last stage (7x7 at 224 px), LayerNorm eps 1e-6, decoder 1536 -> 512, MAE's
# sin-cos table.
_base_ = ['./greenmim_swin_b_w14_official_pretrain.py']

model = dict(backbone=dict(arch='large'), neck=dict(embed_dim=1536))  # 8 * embed_dims of Swin-L

# written by tools/model_converters/convert_checkpoint.py
load_from = 'checkpoints/greenmim_swin-l-w14_official_full.pth'
