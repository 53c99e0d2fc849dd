"""Every config declares the runtime hooks, so upstream tools run them (issue: stock path).

The hooks live in the configs (``configs/_base_/{pretrain,det}_runtime.py``), not in our
tools: mmpretrain's and mmdet's own ``tools/train.py`` build the same hooks from them. The
hooks are registered in mmengine's root registry, so both scopes find them unprefixed.
"""
import glob
import os.path as osp

import pytest
from mmengine.config import Config
from mmengine.registry import HOOKS, OPTIM_WRAPPERS, DefaultScope

import greenmim_mm  # noqa: F401  (registers the hooks)
from greenmim_mm.engine.hooks.atomic_checkpoint import AtomicCheckpointHook
from greenmim_mm.engine.hooks.checkpoint_check import CheckpointCompatibilityHook
from greenmim_mm.engine.hooks.dist_loss_hook import DistLossAverageHook
from tests.helpers import REPO_ROOT

# configs/benchmark/ holds mmpretrain's own SimMIM config (the benchmark's baseline) unchanged.
CONFIGS = sorted(
    osp.relpath(p, REPO_ROOT)
    for p in glob.glob(osp.join(REPO_ROOT, 'configs', '**', '*.py'), recursive=True)
    if '_base_' not in p and osp.sep + 'benchmark' + osp.sep not in p)
HOOK_TYPES = dict(
    checkpoint=AtomicCheckpointHook,
    checkpoint_check=CheckpointCompatibilityHook,
    dist_loss_average=DistLossAverageHook)

# Every config a user runs; a new one is checked by the parametrized test below on its own.
KNOWN_CONFIGS = [
    f'configs/{name}.py'
    for name in ('greenmim_swin_b_pretrain', 'greenmim_swin_b_w14_pretrain',
                 'greenmim_swin_l_w14_pretrain', 'greenmim_swin_b_official_pretrain',
                 'greenmim_swin_b_w14_official_pretrain', 'greenmim_swin_l_w14_official_pretrain',
                 'greenmim_twins_pcpvt_b_pretrain', 'greenmim_twins_svt_l_pretrain',
                 'demo/greenmim_demo_pretrain', 'demo/greenmim_twins_demo_pretrain',
                 'demo/mask-rcnn_greenmim_demo', 'finetune/greenmim_swin_b_in1k_ft',
                 'finetune/greenmim_swin_b_w14_in1k_ft', 'finetune/greenmim_swin_l_w14_in1k_ft',
                 'mask_rcnn/mask-rcnn_greenmim-swin-b_fpn_1x_coco',
                 'mask_rcnn/mask-rcnn_greenmim-swin-b_fpn_ms-3x_coco',
                 'mask_rcnn/mask-rcnn_greenmim-swin-b-w14_fpn_1x_coco',
                 'mask_rcnn/mask-rcnn_greenmim-swin-l-w14_fpn_1x_coco',
                 'mask_rcnn/mask-rcnn_greenmim-twins-svt-l_fpn_1x_coco')
]


def test_configs_are_found():
    missing = sorted(set(KNOWN_CONFIGS) - set(CONFIGS))
    assert not missing, f'the glob misses {missing}'
    assert not any('_base_' in p or p.startswith('configs/benchmark/') for p in CONFIGS)


@pytest.mark.parametrize('path', CONFIGS)
def test_config_declares_the_runtime_hooks(path):
    cfg = Config.fromfile(osp.join(REPO_ROOT, path))
    assert 'greenmim_mm' in cfg.custom_imports.imports
    for name, cls in HOOK_TYPES.items():
        hook_cfg = cfg.default_hooks[name]
        with DefaultScope.overwrite_default_scope(cfg.default_scope):
            hook = HOOKS.build(hook_cfg)
        assert type(hook) is cls, (name, hook_cfg)
    if cfg.get('auto_scale_lr'):  # mmdet's train.py --auto-scale-lr needs the key
        assert 'enable' in cfg.auto_scale_lr


@pytest.mark.parametrize('scope', ['mmpretrain', 'mmdet', 'mmengine'])
def test_generic_pieces_are_found_unprefixed_in_every_scope(scope):
    with DefaultScope.overwrite_default_scope(scope):
        for name, cls in HOOK_TYPES.items():
            assert HOOKS.build(dict(type=cls.__name__)).__class__ is cls
        assert OPTIM_WRAPPERS.get('CpuAmpOptimWrapper').__name__ == 'CpuAmpOptimWrapper'


def test_prefixed_names_of_older_dumped_configs_still_resolve():
    with DefaultScope.overwrite_default_scope('mmdet'):
        assert HOOKS.get('mmpretrain.AtomicCheckpointHook') is AtomicCheckpointHook
        assert OPTIM_WRAPPERS.get('mmpretrain.CpuAmpOptimWrapper').__name__ == \
            'CpuAmpOptimWrapper'
