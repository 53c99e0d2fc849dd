# ImageNet-1K fine-tuning of the authors' GreenMIM Swin-B (window 14) release at 224 px, with
# the Swin-B recipe of greenmim_swin_b_in1k_ft.py (the authors published no Swin-B w14
# fine-tuning config).
#
#   python tools/model_converters/convert_checkpoint.py greenmim_swin_base_w14.pth \
#       checkpoints/greenmim_swin-b-w14_backbone_cls.pth --from official \
#       --config configs/finetune/greenmim_swin_b_w14_in1k_ft.py
#   bash tools/dist_train.sh configs/finetune/greenmim_swin_b_w14_in1k_ft.py 8
#
# Windows 14, 14, 14, 7 without padding: what Microsoft's Swin (where the authors fine-tuned)
# runs at 224 px, so the converted tables fit as they are.
_base_ = ['./greenmim_swin_b_in1k_ft.py']

# written by tools/model_converters/convert_checkpoint.py
pretrained = 'checkpoints/greenmim_swin-b-w14_backbone_cls.pth'
ln_cfg = dict(type='LN', eps=1e-6)
model = dict(
    backbone=dict(
        window_size=14,
        pad_small_map=False,
        stage_cfgs=[
            dict(
                window_size=w,
                block_cfgs=dict(norm_cfg=ln_cfg),
                downsample_cfg=dict(norm_cfg=ln_cfg)) for w in (14, 14, 14, 7)
        ],
        init_cfg=dict(type='Pretrained', checkpoint=pretrained, prefix='backbone.')))
