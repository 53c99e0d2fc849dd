# ImageNet-1K fine-tuning of a GreenMIM-pretrained Swin-T (window 7) at 224 px: the Swin-B
# recipe (greenmim_swin_b_in1k_ft.py: 100 epochs, AdamW, layer decay 0.9, drop path 0.1) with
# Swin-T (embed 96, depths 2-2-6-2, heads 3-6-12-24). Not tuned for Swin-T.
#
#   python tools/model_converters/convert_checkpoint.py \
#       work_dirs/greenmim_swin_t_pretrain/epoch_200.pth \
#       checkpoints/greenmim_swin-t-w7_backbone_cls.pth \
#       --config configs/finetune/greenmim_swin_t_in1k_ft.py
#   bash tools/dist_train.sh configs/finetune/greenmim_swin_t_in1k_ft.py 8
_base_ = ['./greenmim_swin_b_in1k_ft.py']

pretrained = 'checkpoints/greenmim_swin-t-w7_backbone_cls.pth'
model = dict(
    backbone=dict(arch='tiny', init_cfg=dict(checkpoint=pretrained)), head=dict(in_channels=768))
