# A GreenMIM pre-training demo on a small Twins-SVT that trains visibly on 2 CPU cores.
#   python tools/dataset_converters/make_demo_data.py  # data/demo: pretrain/ images, COCO jsons
#   python tools/train.py configs/demo/greenmim_twins_demo_pretrain.py
# SVT with embed 32/64/128/256, depths 2/2/2/2 (one locally-grouped and one global layer per
# stage), windows 7, sr 8/4/2/1, at 224 px on data/demo/pretrain; 150 iterations.
_base_ = ['./greenmim_demo_pretrain.py']

model = dict(
    backbone=dict(
        _delete_=True,
        type='GreenMIMSVT',
        arch=dict(
            embed_dims=[32, 64, 128, 256],
            depths=[2, 2, 2, 2],
            num_heads=[1, 2, 4, 8],
            patch_sizes=[4, 2, 2, 2],
            strides=[4, 2, 2, 2],
            mlp_ratios=[4, 4, 4, 4],
            sr_ratios=[8, 4, 2, 1],
            window_sizes=[7, 7, 7, 7]),
        qkv_bias=True,
        norm_cfg=dict(type='LN', eps=1e-6),
        norm_after_stage=[False, False, False, True],
        out_indices=(3, )),
    neck=dict(embed_dim=256, decoder_embed_dim=128, decoder_num_heads=4))

optim_wrapper = dict(
    paramwise_cfg=dict(
        _delete_=True,
        norm_decay_mult=0.0,
        bias_decay_mult=0.0,
        custom_keys={
            'mask_token': dict(decay_mult=0.),
            'position_encodings': dict(decay_mult=0.),
        }))
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-2, by_epoch=False, begin=0, end=15),
    dict(type='CosineAnnealingLR', T_max=135, eta_min=1e-5, by_epoch=False, begin=15, end=150)
]
train_cfg = dict(max_iters=150)
default_hooks = dict(
    logger=dict(type='LoggerHook', interval=10),
    checkpoint=dict(by_epoch=False, interval=50, max_keep_ckpts=2, save_last=True))
custom_hooks = [dict(type='ReconstructionVisHook', interval=50, num_images=2)]
