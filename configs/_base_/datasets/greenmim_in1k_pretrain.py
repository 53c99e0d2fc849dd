# ImageNet-1K train images for GreenMIM pre-training (labels unused).
# Expected: data/imagenet/train/<wnid>/<name>.JPEG (any image files under data/imagenet/train).
# To skip the folder scan, set ann_file='meta/train.txt' (lines "path" or "path label").
dataset_type = 'PretrainImageFolder'
data_root = 'data/imagenet/'

train_pipeline = [
    # A missing, empty, truncated or undecodable image stops the run with its path; with
    # on_error='skip' it is logged and another image is drawn instead (days-long runs on
    # ImageNet copies with a few bad files).
    dict(type='SafeLoadImageFromFile', on_error='raise'),
    dict(
        type='RandomResizedCrop',
        scale=224,
        crop_ratio_range=(0.2, 1.0),
        backend='pillow',
        interpolation='bicubic'),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackInputs')
]

train_dataloader = dict(
    batch_size=256,
    num_workers=8,
    persistent_workers=True,
    pin_memory=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    collate_fn=dict(type='default_collate'),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        data_prefix='train',
        layout_hint='This is the ImageNet-1K train split: download it from '
        'https://image-net.org and link it, e.g. `ln -s /path/to/imagenet data/imagenet`.',
        pipeline=train_pipeline))
