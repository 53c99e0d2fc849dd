# Mask R-CNN + FPN on a GreenMIM-pretrained Swin-S (window 7), COCO 2017, 12 epochs: the Swin-B
# config (mask-rcnn_greenmim-swin-b_fpn_1x_coco.py) with Swin-S (embed 96, depths 2-2-18-2,
# heads 3-6-12-24) and mmdet's Swin-S drop path 0.3.
#
#   python tools/model_converters/convert_checkpoint.py \
#       work_dirs/greenmim_swin_s_pretrain/epoch_200.pth \
#       checkpoints/greenmim_swin-s-w7_backbone.pth \
#       --config configs/mask_rcnn/mask-rcnn_greenmim-swin-s_fpn_1x_coco.py
#   bash tools/dist_train.sh configs/mask_rcnn/mask-rcnn_greenmim-swin-s_fpn_1x_coco.py 8
_base_ = ['./mask-rcnn_greenmim-swin-b_fpn_1x_coco.py']

pretrained = 'checkpoints/greenmim_swin-s-w7_backbone.pth'
model = dict(
    backbone=dict(
        arch='small',  # layer decay then spans its 26 depths (patch embedding, blocks, rest)
        drop_path_rate=0.3,
        init_cfg=dict(checkpoint=pretrained)),
    neck=dict(in_channels=[96, 192, 384, 768]))
