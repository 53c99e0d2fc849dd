"""CpuAmpOptimWrapper: bfloat16 autocast on CPU, built from configs of any scope."""
import pytest
import torch
import torch.nn as nn
from mmengine.optim import AmpOptimWrapper, build_optim_wrapper
from mmengine.registry import DefaultScope

from greenmim_mm.engine.optim_wrappers import CpuAmpOptimWrapper


def build(model: nn.Module, scope: str) -> CpuAmpOptimWrapper:
    """Build the wrapper by its type name, as tools/train.py --amp configures it."""
    cfg = dict(type='CpuAmpOptimWrapper', dtype='bfloat16', optimizer=dict(type='SGD', lr=0.1))
    with DefaultScope.overwrite_default_scope(scope):
        return build_optim_wrapper(model, cfg)


@pytest.mark.parametrize('scope', ['mmpretrain', 'mmdet', 'mmengine'])
def test_builds_from_both_scopes(scope):
    wrapper = build(nn.Linear(4, 2), scope)
    assert isinstance(wrapper, CpuAmpOptimWrapper)
    assert isinstance(wrapper, AmpOptimWrapper)


def test_autocasts_to_bfloat16_and_steps():
    torch.manual_seed(0)
    model = nn.Linear(4, 2)
    wrapper = build(model, 'mmpretrain')
    before = model.weight.detach().clone()
    with wrapper.optim_context(model):
        out = model(torch.randn(3, 4))
    assert out.dtype == torch.bfloat16
    wrapper.update_params(out.float().pow(2).mean())
    assert not torch.equal(before, model.weight)
    assert model.weight.dtype == torch.float32


def test_state_dict_round_trip():
    model = nn.Linear(4, 2)
    wrapper = build(model, 'mmpretrain')
    with wrapper.optim_context(model):
        loss = model(torch.randn(3, 4)).float().sum()
    wrapper.update_params(loss)
    state = wrapper.state_dict()
    other = build(nn.Linear(4, 2), 'mmpretrain')
    other.load_state_dict(state)
    assert other.param_groups[0]['lr'] == wrapper.param_groups[0]['lr']


def test_rejects_float16():
    with pytest.raises(AssertionError, match='bfloat16'):
        CpuAmpOptimWrapper(
            dtype='float16', optimizer=torch.optim.SGD(nn.Linear(2, 2).parameters(), lr=0.1))


@pytest.mark.skipif(torch.cuda.is_available(), reason='the upstream limit is about no CUDA')
def test_upstream_amp_wrapper_still_refuses_cpu():
    """mmengine's ``AmpOptimWrapper`` asserts a GPU; the day it builds on a CPU-only machine,
    this fails: delete greenmim_mm/engine/optim_wrappers/cpu_amp.py."""
    with pytest.raises(AssertionError):
        AmpOptimWrapper(
            dtype='bfloat16', optimizer=torch.optim.SGD(nn.Linear(2, 2).parameters(), lr=0.1))
