# Mask R-CNN + FPN on a GreenMIM-pretrained Swin-T (window 7), COCO 2017, 12 epochs: the Swin-B
# config (mask-rcnn_greenmim-swin-b_fpn_1x_coco.py) with Swin-T (embed 96, depths 2-2-6-2,
# heads 3-6-12-24) and mmdet's Swin-T drop path 0.2.
#
#   python tools/model_converters/convert_checkpoint.py \
#       work_dirs/greenmim_swin_t_pretrain/epoch_200.pth \
#       checkpoints/greenmim_swin-t-w7_backbone.pth \
#       --config configs/mask_rcnn/mask-rcnn_greenmim-swin-t_fpn_1x_coco.py
#   bash tools/dist_train.sh configs/mask_rcnn/mask-rcnn_greenmim-swin-t_fpn_1x_coco.py 8
_base_ = ['./mask-rcnn_greenmim-swin-b_fpn_1x_coco.py']

pretrained = 'checkpoints/greenmim_swin-t-w7_backbone.pth'
model = dict(
    backbone=dict(
        arch='tiny',  # layer decay then spans its 14 depths (patch embedding, blocks, rest)
        drop_path_rate=0.2,
        init_cfg=dict(checkpoint=pretrained)),
    neck=dict(in_channels=[96, 192, 384, 768]))
