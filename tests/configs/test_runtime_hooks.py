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

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
# configs/benchmark/ holds mmpretrain's own SimMIM config (the benchmark's baseline) unchanged.
CONFIGS = sorted(
    osp.relpath(p, REPO) for p in glob.glob(osp.join(REPO, 'configs', '**', '*.py'),
                                            recursive=True)
    if '_base_' not in p and osp.sep + 'benchmark' + osp.sep not in p)
HOOK_TYPES = dict(
    checkpoint=AtomicCheckpointHook,
    checkpoint_check=CheckpointCompatibilityHook,
    dist_loss_average=DistLossAverageHook)


def test_configs_are_found():
    assert len(CONFIGS) >= 8 and 'configs/demo/mask-rcnn_greenmim_demo.py' in CONFIGS


@pytest.mark.parametrize('path', CONFIGS)
def test_config_declares_the_runtime_hooks(path):
    cfg = Config.fromfile(osp.join(REPO, path))
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
