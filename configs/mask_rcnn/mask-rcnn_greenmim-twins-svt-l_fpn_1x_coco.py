# Mask R-CNN + FPN on a GreenMIM-pretrained Twins-SVT-L, COCO 2017, 12 epochs.
#
#   # 1. the backbone checkpoint from our pre-training (configs/greenmim_twins_svt_l_pretrain.py)
#   python tools/model_converters/convert_checkpoint.py \
#       work_dirs/greenmim_twins_svt_l_pretrain/epoch_100.pth \
#       checkpoints/greenmim_twins-svt-l_backbone.pth \
#       --config configs/mask_rcnn/mask-rcnn_greenmim-twins-svt-l_fpn_1x_coco.py
#   # 2. train (8 GPUs x 2 images) and test
#   bash tools/dist_train.sh configs/mask_rcnn/mask-rcnn_greenmim-twins-svt-l_fpn_1x_coco.py 8
#   python tools/test.py configs/mask_rcnn/mask-rcnn_greenmim-twins-svt-l_fpn_1x_coco.py \
#       work_dirs/mask-rcnn_greenmim-twins-svt-l_fpn_1x_coco/epoch_12.pth
#
# Data: data/coco/annotations/instances_{train,val}2017.json, data/coco/{train,val}2017/.
_base_ = ['./mask-rcnn_greenmim-swin-b_fpn_1x_coco.py']

# the output of tools/model_converters/convert_checkpoint.py
pretrained = 'checkpoints/greenmim_twins-svt-l_backbone.pth'

model = dict(
    backbone=dict(
        _delete_=True,
        type='mmpretrain.GreenMIMSVT',  # dense forward; same keys as mmpretrain's SVT
        arch='large',  # embed 128/256/512/1024, depths 2/2/18/2, windows 7, sr 8/4/2/1
        qkv_bias=True,
        drop_path_rate=0.3,
        norm_cfg=dict(type='LN', eps=1e-6),  # as pre-trained
        # the pre-trained final norm is kept on stage 4; FPN reads the other stages raw
        norm_after_stage=[False, False, False, True],
        out_indices=(0, 1, 2, 3),
        init_cfg=dict(type='Pretrained', checkpoint=pretrained, prefix='backbone.')),
    neck=dict(in_channels=[128, 256, 512, 1024]))

# AdamW without layer-wise decay (the Swin base's constructor maps Swin layers only); no
# weight decay on norms, biases and the position-encoding convolutions.
optim_wrapper = dict(
    _delete_=True,
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=1e-4, betas=(0.9, 0.999), weight_decay=0.05),
    paramwise_cfg=dict(
        norm_decay_mult=0.,
        bias_decay_mult=0.,
        custom_keys={'position_encodings': dict(decay_mult=0.)}))
