"""MergedGroupsOptimWrapperConstructor: fewer parameter groups, the same updates."""
import copy

import pytest
import torch
import torch.nn as nn
from mmengine.config import Config
from mmengine.optim import build_optim_wrapper
from mmengine.optim.scheduler import LinearLR

from greenmim_mm.engine.optim_wrappers import merge_param_groups
from tests.helpers import REPO_ROOT


class Net(nn.Module):

    def __init__(self):
        super().__init__()
        self.mask_token = nn.Parameter(torch.randn(1, 1, 8))
        self.fc1 = nn.Linear(8, 16)
        self.norm = nn.LayerNorm(16)
        self.fc2 = nn.Linear(16, 8)

    def forward(self, x):
        return self.fc2(self.norm(self.fc1(x + self.mask_token)))


PARAMWISE = dict(
    norm_decay_mult=0.0, bias_decay_mult=0.0, custom_keys={'mask_token': dict(decay_mult=0.)})


def build(model, constructor=None):
    cfg = dict(
        type='OptimWrapper',
        optimizer=dict(type='AdamW', lr=1e-2, weight_decay=0.05, fused=True),
        paramwise_cfg=PARAMWISE)
    if constructor:
        cfg['constructor'] = constructor
    return build_optim_wrapper(model, cfg)


def settings_of(optimizer):
    """Parameter name-free map: id(param) -> (lr, weight_decay)."""
    return {
        id(p): (g['lr'], g['weight_decay'])
        for g in optimizer.param_groups
        for p in g['params']
    }


def test_merge_param_groups_keeps_order_and_settings():
    a, b, c, d = (nn.Parameter(torch.zeros(1)) for _ in range(4))
    groups = [
        dict(params=[a], lr=1., weight_decay=0.),
        dict(params=[b], lr=1., weight_decay=.1),
        dict(params=[c], lr=1., weight_decay=0.),
        dict(params=[d], lr=2., weight_decay=.1)
    ]
    merged = merge_param_groups(groups)
    assert [[id(p) for p in g['params']] for g in merged] == [[id(a), id(c)], [id(b)], [id(d)]]
    assert [(g['lr'], g['weight_decay']) for g in merged] == [(1., 0.), (1., .1), (2., .1)]


def test_same_updates_as_the_default_constructor():
    torch.manual_seed(0)
    plain_model = Net()
    merged_model = copy.deepcopy(plain_model)
    plain = build(plain_model)
    merged = build(merged_model, 'MergedGroupsOptimWrapperConstructor')
    assert len(plain.optimizer.param_groups) == 7  # one per parameter
    # decayed weights; norms and biases; the mask token (its group also records decay_mult)
    assert len(merged.optimizer.param_groups) == 3
    pairs = list(zip(plain_model.parameters(), merged_model.parameters()))
    plain_settings, merged_settings = settings_of(plain.optimizer), settings_of(merged.optimizer)
    assert all(plain_settings[id(p)] == merged_settings[id(q)] for p, q in pairs)

    schedulers = [LinearLR(w.optimizer, start_factor=0.1, end=3) for w in (plain, merged)]
    for step in range(3):
        x = torch.randn(4, 1, 8, generator=torch.Generator().manual_seed(step))
        for model, wrapper in ((plain_model, plain), (merged_model, merged)):
            wrapper.update_params(model(x).square().mean())
        for scheduler in schedulers:
            scheduler.step()
    for p, q in pairs:
        assert torch.equal(p, q)


def test_pretraining_configs_use_it():
    cfg = Config.fromfile(f'{REPO_ROOT}/configs/greenmim_swin_b_pretrain.py')
    assert cfg.optim_wrapper.constructor == 'MergedGroupsOptimWrapperConstructor'
    twins = Config.fromfile(f'{REPO_ROOT}/configs/greenmim_twins_svt_l_pretrain.py')
    assert twins.optim_wrapper.constructor == 'MergedGroupsOptimWrapperConstructor'


@pytest.mark.parametrize('key', ['lr', 'weight_decay'])
def test_groups_that_differ_stay_apart(key):
    a, b = nn.Parameter(torch.zeros(1)), nn.Parameter(torch.zeros(1))
    groups = [dict(params=[a], lr=1., weight_decay=0.), dict(params=[b], lr=1., weight_decay=0.)]
    groups[1][key] = 0.5
    assert len(merge_param_groups(groups)) == 2
