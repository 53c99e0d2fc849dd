# The frozen-feature probe of the pretraining-gain experiment (docs/en/pretraining_gain.md):
# the Swin of the pre-training configs read as it is. Every stage's output is average-pooled
# (48 + 96 + 192 = 336 features per image), the features are standardized on the labeled
# training images, and scikit-learn fits
#   - a multinomial logistic regression, its inverse regularization C chosen on val from
#     probe.C (the primary figure), and
#   - a k-nearest-neighbour classifier, k = probe.knn_k (a second figure, nothing to choose).
# The backbone's weights are a pre-training checkpoint's `backbone.` keys (loaded strictly),
# or this config's initialization (random init).
#   python tools/analysis_tools/pretrain_gain.py   (runs it on every checkpoint)
_base_ = ['../_base_/pretrain_runtime.py']

custom_imports = dict(imports=['greenmim_mm'], allow_failed_imports=False)

img_size = 32
model = dict(
    type='ImageClassifier',
    backbone=dict(
        type='GreenMIMSwinTransformer',  # dense forward: mmpretrain's SwinTransformer
        arch=dict(embed_dims=48, depths=[2, 2, 2], num_heads=[3, 6, 12]),
        img_size=img_size,
        patch_cfg=dict(kernel_size=2, stride=2),
        window_size=4,
        drop_path_rate=0.0,
        out_indices=(0, 1, 2),
        init_cfg=[
            dict(type='TruncNormal', layer='Linear', std=0.02, bias=0.),
            dict(type='Constant', layer='LayerNorm', val=1., bias=0.)
        ]),
    neck=dict(type='GlobalAveragePooling'),
    head=None,
    data_preprocessor=dict(
        type='ClsDataPreprocessor',
        mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375],
        to_rgb=True))

# Images of any size: the short side resized to img_size, then the centre crop.
probe_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(
        type='ResizeEdge', scale=img_size, edge='short', backend='pillow', interpolation='bicubic'),
    dict(type='CenterCrop', crop_size=img_size),
    dict(type='PackInputs')
]
# One loader per labeled split: data_prefix is set to train, val or test.
probe_dataloader = dict(
    batch_size=250,
    num_workers=0,
    sampler=dict(type='DefaultSampler', shuffle=False),
    collate_fn=dict(type='default_collate'),
    dataset=dict(
        type='CustomDataset',
        data_root='data/glyphs/',
        data_prefix='train',
        with_label=True,
        pipeline=probe_pipeline))
probe = dict(C=[0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1.0, 3.0, 10.0], knn_k=5, max_iter=2000)
