# ImageNet-1K fine-tuning of the authors' GreenMIM Swin-L (window 14) release at 224 px: the
# authors' Swin-L recipe (100 epochs, 20 warm-up, base lr 1e-3 per 512 images, layer decay 0.8,
# drop path 0.3, warm-up lr 2e-7, min lr 3.5e-7), reported at 85.1 top-1 (they fine-tuned with
# a total batch of 768; lr scales linearly with the batch here, as in SimMIM's code).
#
#   python tools/model_converters/convert_checkpoint.py greenmim_swin_large_w14.pth \
#       checkpoints/greenmim_swin-l-w14_backbone_cls.pth --from official \
#       --config configs/finetune/greenmim_swin_l_w14_in1k_ft.py
#   bash tools/dist_train.sh configs/finetune/greenmim_swin_l_w14_in1k_ft.py 8
#
# Windows 14, 14, 14, 7 without padding, as Microsoft's Swin runs at 224 px.
_base_ = ['./greenmim_swin_b_w14_in1k_ft.py']

# written by tools/model_converters/convert_checkpoint.py
pretrained = 'checkpoints/greenmim_swin-l-w14_backbone_cls.pth'
model = dict(
    backbone=dict(
        arch='large',
        drop_path_rate=0.3,
        init_cfg=dict(type='Pretrained', checkpoint=pretrained, prefix='backbone.')),
    head=dict(in_channels=1536))

base_lr = 1e-3
batch_size = 2048  # 8 GPUs x 256; auto_scale_lr rescales for other batches
optim_wrapper = dict(
    optimizer=dict(lr=base_lr * batch_size / 512), paramwise_cfg=dict(layer_decay_rate=0.8))
param_scheduler = [
    dict(
        type='LinearLR',
        start_factor=2e-7 / base_lr,
        by_epoch=True,
        begin=0,
        end=20,
        convert_to_iter_based=True),
    dict(
        type='CosineAnnealingLR',
        T_max=80,
        eta_min=3.5e-7 * batch_size / 512,
        by_epoch=True,
        begin=20,
        end=100,
        convert_to_iter_based=True)
]
