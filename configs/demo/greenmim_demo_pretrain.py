# A GreenMIM pre-training demo that trains visibly on 2 CPU cores in a couple of minutes.
#   python tools/dataset_converters/make_demo_data.py  # data/demo: pretrain/ images, COCO jsons
#   python tools/train.py configs/demo/greenmim_demo_pretrain.py
# A small Swin (embed 48, depths 2-2-2-2, window 7 at 224 px): the same architecture as the
# demo Mask R-CNN backbone, so work_dirs/greenmim_demo_pretrain/iter_*.pth transfers to it.
_base_ = ['../greenmim_swin_b_pretrain.py']

model = dict(
    backbone=dict(
        arch=dict(_delete_=True, embed_dims=48, depths=[2, 2, 2, 2], num_heads=[3, 6, 12, 24]),
        window_size=7),
    neck=dict(embed_dim=384, decoder_embed_dim=128, decoder_num_heads=4))

train_dataloader = dict(
    batch_size=16,
    num_workers=2,
    persistent_workers=True,
    pin_memory=False,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(
        data_root='data/demo/',
        data_prefix='pretrain',
        layout_hint=
        'Generate the demo data first: `python tools/dataset_converters/make_demo_data.py`.'))

optim_wrapper = dict(optimizer=dict(lr=1e-3))
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-2, by_epoch=False, begin=0, end=20),
    dict(type='CosineAnnealingLR', T_max=280, eta_min=1e-5, by_epoch=False, begin=20, end=300)
]
train_cfg = dict(_delete_=True, type='IterBasedTrainLoop', max_iters=300)
auto_scale_lr = dict(base_batch_size=16)

default_hooks = dict(
    logger=dict(type='LoggerHook', interval=10),
    checkpoint=dict(by_epoch=False, interval=100, max_keep_ckpts=2, save_last=True))
log_processor = dict(by_epoch=False)
custom_hooks = [dict(type='ReconstructionVisHook', interval=100, num_images=2)]
# deterministic=True (torch.use_deterministic_algorithms): on CPU, the backward of indexing
# (e.g. the relative position bias lookup) accumulates in a varying order otherwise, so two
# runs -- or a resumed and an uninterrupted one -- would drift apart in the last bits.
randomness = dict(seed=0, diff_rank_seed=False, deterministic=True)
