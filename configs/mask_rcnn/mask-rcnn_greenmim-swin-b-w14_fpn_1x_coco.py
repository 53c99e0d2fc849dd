# Mask R-CNN + FPN on the authors' GreenMIM Swin-B (window 14) release, COCO 2017, 12 epochs.
#
#   python tools/model_converters/convert_checkpoint.py greenmim_swin_base_w14.pth \
#       checkpoints/greenmim_swin-b-w14_backbone.pth --from official \
#       --config configs/mask_rcnn/mask-rcnn_greenmim-swin-b-w14_fpn_1x_coco.py
#   bash tools/dist_train.sh configs/mask_rcnn/mask-rcnn_greenmim-swin-b-w14_fpn_1x_coco.py 8
#
# Window 14 in every stage on detection inputs (pad_small_map=True pads maps smaller than a
# window). The release trained its last stage with window 7 (7x7 at 224 px): the converter
# resizes those relative-position tables 13x13 -> 27x27 bicubically (it prints each one).
_base_ = ['./mask-rcnn_greenmim-swin-b_fpn_1x_coco.py']

# the output of tools/model_converters/convert_checkpoint.py
pretrained = 'checkpoints/greenmim_swin-b-w14_backbone.pth'
model = dict(
    backbone=dict(
        window_size=14, init_cfg=dict(type='Pretrained', checkpoint=pretrained,
                                      prefix='backbone.')))
