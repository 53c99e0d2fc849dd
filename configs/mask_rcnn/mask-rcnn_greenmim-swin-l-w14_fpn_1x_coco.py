# Mask R-CNN + FPN on the authors' GreenMIM Swin-L (window 14) release, COCO 2017, 12 epochs.
#
#   python tools/model_converters/convert_checkpoint.py greenmim_swin_large_w14.pth \
#       checkpoints/greenmim_swin-l-w14_backbone.pth --from official \
#       --config configs/mask_rcnn/mask-rcnn_greenmim-swin-l-w14_fpn_1x_coco.py
#   bash tools/dist_train.sh configs/mask_rcnn/mask-rcnn_greenmim-swin-l-w14_fpn_1x_coco.py 8
#
# Swin-L (embed 192, heads 6-12-24-48), window 14 in every stage (the release's window-7 last
# stage tables are resized to 14 by the converter), LayerNorm eps 1e-6 as in the base config.
_base_ = ['./mask-rcnn_greenmim-swin-b_fpn_1x_coco.py']

# the output of tools/model_converters/convert_checkpoint.py
pretrained = 'checkpoints/greenmim_swin-l-w14_backbone.pth'
model = dict(
    backbone=dict(
        arch='large',  # embed 192, depths 2-2-18-2, heads 6-12-24-48
        window_size=14,
        init_cfg=dict(type='Pretrained', checkpoint=pretrained, prefix='backbone.')),
    neck=dict(in_channels=[192, 384, 768, 1536]))
