"""Shared pieces of the reliability tests: tiny configs, running the tools, reading results.

Subprocess runs use ``OMP_NUM_THREADS=1``: on a busy 2-core machine two intra-op threads make
the demo model's small ops up to ~100x slower (spinning OpenMP barriers).
"""
import json
import os
import os.path as osp
from typing import Dict, List

import torch

from tests.helpers import REPO_ROOT

DEMO_PRETRAIN = osp.join(REPO_ROOT, 'configs', 'demo', 'greenmim_demo_pretrain.py')
DEMO_DET = osp.join(REPO_ROOT, 'configs', 'demo', 'mask-rcnn_greenmim_demo.py')

# The demo pre-training config, shrunk for tests: the demo model at 224 px, a few images,
# num_workers=0, a log line (and a scalars.json entry) per iteration, no picture hook.
TINY_PRETRAIN = """
_base_ = [{base!r}]
train_pipeline = {pipeline}
train_dataloader = dict(
    batch_size={batch_size}, num_workers={num_workers},
    persistent_workers={persistent}, pin_memory=False,
    dataset=dict(data_root={data_root!r}, data_prefix='pretrain', pipeline=train_pipeline))
train_cfg = dict(max_iters={max_iters})
default_hooks = dict(
    logger=dict(interval=1),
    checkpoint=dict(interval={ckpt_interval}, max_keep_ckpts={max_keep}))
log_processor = dict(window_size=1)
custom_hooks = []
"""

DETERMINISTIC_PIPELINE = """[
    dict(type='SafeLoadImageFromFile'),
    dict(type='Resize', scale=(224, 224)),
    dict(type='PackInputs'),
]"""

RANDOM_PIPELINE = """[
    dict(type='SafeLoadImageFromFile'),
    dict(type='RandomResizedCrop', scale=224, crop_ratio_range=(0.2, 1.0), backend='pillow',
         interpolation='bicubic'),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackInputs'),
]"""


def write_tiny_pretrain_config(path: str,
                               data_root: str,
                               pipeline: str = DETERMINISTIC_PIPELINE,
                               batch_size: int = 2,
                               max_iters: int = 2,
                               ckpt_interval: int = 1000,
                               max_keep: int = 2,
                               num_workers: int = 0,
                               extra: str = '') -> str:
    """Write a config inheriting the demo pre-training config with test-sized settings.

    Returns:
        str: ``path``.
    """
    text = TINY_PRETRAIN.format(
        base=DEMO_PRETRAIN,
        pipeline=pipeline,
        batch_size=batch_size,
        num_workers=num_workers,
        persistent=num_workers > 0,
        data_root=data_root,
        max_iters=max_iters,
        ckpt_interval=ckpt_interval,
        max_keep=max_keep)
    with open(path, 'w') as f:
        f.write(text + extra)
    return path


def logged_scalars(work_dir: str) -> List[Dict]:
    """The per-iteration entries of mmengine's ``<work_dir>/<timestamp>/vis_data/scalars.json``
    (of the latest run in ``work_dir``)."""
    runs = sorted(d for d in os.listdir(work_dir) if osp.isdir(osp.join(work_dir, d)))
    path = osp.join(work_dir, runs[-1], 'vis_data', 'scalars.json')
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def state_dict_of(checkpoint: str) -> Dict[str, torch.Tensor]:
    """The model weights of an mmengine checkpoint."""
    return torch.load(checkpoint, map_location='cpu', weights_only=False)['state_dict']
