"""Non-finite losses and gradients never update the weights; the gradient norm is logged."""
import copy

import pytest
import torch
import torch.nn as nn
from mmengine.logging import MessageHub
from mmengine.optim import AmpOptimWrapper, build_optim_wrapper
from mmengine.registry import DefaultScope

import greenmim_mm  # noqa: F401  (registers the wrappers)
from greenmim_mm.engine.optim_wrappers import (NonFiniteSkipCpuAmpOptimWrapper,
                                               NonFiniteSkipOptimWrapper, NonFiniteStepError)

CUDA = pytest.mark.skipif(not torch.cuda.is_available(), reason='needs CUDA')


def build(type_name, scope='mmpretrain', device='cpu', **kwargs):
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 8), nn.GELU(), nn.Linear(8, 2)).to(device)
    cfg = dict(type=type_name, optimizer=dict(type='AdamW', lr=0.1), **kwargs)
    with DefaultScope.overwrite_default_scope(scope):
        return model, build_optim_wrapper(model, cfg)


def loss_of(model, wrapper, scale=1.0, device='cpu'):
    x = torch.randn(3, 4, device=device)
    with wrapper.optim_context(model):
        return model(x).float().pow(2).mean() * scale


def snapshot(model, wrapper):
    return (copy.deepcopy(model.state_dict()), copy.deepcopy(wrapper.optimizer.state_dict()))


def assert_same(a, b):
    params_a, opt_a = a
    params_b, opt_b = b
    for k in params_a:
        assert torch.equal(params_a[k], params_b[k]), k
    assert opt_a['state'].keys() == opt_b['state'].keys()
    for i in opt_a['state']:
        for k, v in opt_a['state'][i].items():
            assert torch.equal(v, opt_b['state'][i][k]), (i, k)


@pytest.mark.parametrize('scope', ['mmpretrain', 'mmdet'])
@pytest.mark.parametrize('name, cls', [
    ('NonFiniteSkipOptimWrapper', NonFiniteSkipOptimWrapper),
    ('NonFiniteSkipCpuAmpOptimWrapper', NonFiniteSkipCpuAmpOptimWrapper),
])
def test_builds_without_scope_prefix(scope, name, cls):
    _, wrapper = build(name, scope)
    assert type(wrapper) is cls


@pytest.mark.parametrize('name', ['NonFiniteSkipOptimWrapper', 'NonFiniteSkipCpuAmpOptimWrapper'])
@pytest.mark.parametrize('bad', [float('nan'), float('inf')])
def test_non_finite_loss_skips_the_step_and_counts(name, bad):
    model, wrapper = build(name)
    wrapper.update_params(loss_of(model, wrapper))  # a real step: AdamW state exists
    before = snapshot(model, wrapper)
    for count in (1, 2):
        with pytest.warns(
                RuntimeWarning,
                match=rf'skipped, weights unchanged: loss not '
                rf'finite.*\({count} consecutive skip\(s\), {count} in total\)'):
            wrapper.update_params(loss_of(model, wrapper, scale=bad))
        assert_same(before, snapshot(model, wrapper))
        assert all(p.grad is None or not p.grad.abs().sum() for p in model.parameters())
    assert (wrapper.consecutive_skips, wrapper.total_skips) == (2, 2)
    wrapper.update_params(loss_of(model, wrapper))  # finite again: steps, resets the run
    assert (wrapper.consecutive_skips, wrapper.total_skips) == (0, 2)
    after = snapshot(model, wrapper)
    assert not torch.equal(after[0]['0.weight'], before[0]['0.weight'])


def test_non_finite_gradient_with_finite_loss_is_skipped():
    model, wrapper = build('NonFiniteSkipCpuAmpOptimWrapper')
    wrapper.update_params(loss_of(model, wrapper))
    before = snapshot(model, wrapper)
    handle = model[0].weight.register_hook(lambda g: torch.full_like(g, float('nan')))
    with pytest.warns(RuntimeWarning, match='loss finite, gradient norm nan'):
        wrapper.update_params(loss_of(model, wrapper))
    handle.remove()
    assert_same(before, snapshot(model, wrapper))


def test_too_many_consecutive_skips_stop_the_run():
    model, wrapper = build('NonFiniteSkipCpuAmpOptimWrapper', max_consecutive_skips=3)
    with pytest.warns(RuntimeWarning):
        for _ in range(2):
            wrapper.update_params(loss_of(model, wrapper, scale=float('nan')))
        with pytest.raises(
                NonFiniteStepError,
                match=r'3 consecutive optimizer steps.*max_consecutive_skips=3'):
            wrapper.update_params(loss_of(model, wrapper, scale=float('nan')))


def test_a_nan_micro_batch_poisons_the_accumulated_step():
    model, wrapper = build('NonFiniteSkipOptimWrapper', accumulative_counts=2)
    wrapper.initialize_count_status(model, 0, 4)
    before = snapshot(model, wrapper)
    wrapper.update_params(loss_of(model, wrapper, scale=float('nan')))  # accumulates
    with pytest.warns(RuntimeWarning, match='loss not finite'):
        wrapper.update_params(loss_of(model, wrapper))  # steps: skipped
    assert_same(before, snapshot(model, wrapper))
    assert wrapper.total_skips == 1


@pytest.mark.parametrize('clip', [None, dict(max_norm=0.01)])
def test_grad_norm_is_logged_before_clipping(clip):
    hub = MessageHub.get_instance('test_nonfinite_grad_norm')
    model, wrapper = build('NonFiniteSkipCpuAmpOptimWrapper', clip_grad=clip)
    wrapper.message_hub = hub
    loss = loss_of(model, wrapper)
    expected = torch.autograd.grad(loss, list(model.parameters()), retain_graph=True)
    expected = torch.linalg.vector_norm(
        torch.stack([torch.linalg.vector_norm(g) for g in expected]))
    wrapper.update_params(loss)
    logged = hub.get_scalar('train/grad_norm').current()
    assert logged == pytest.approx(float(expected), rel=1e-6)
    assert hub.get_scalar('train/skipped_steps').current() == 0


def test_bad_limit_is_a_clear_error():
    with pytest.raises(ValueError, match='max_consecutive_skips'):
        build('NonFiniteSkipOptimWrapper', max_consecutive_skips=-1)


@CUDA
@pytest.mark.parametrize('dtype', ['float16', 'bfloat16'])
def test_cuda_amp_non_finite_loss_is_skipped_and_scale_backs_off(dtype):
    model, wrapper = build(
        'NonFiniteSkipAmpOptimWrapper',
        device='cuda',
        dtype=dtype,
        loss_scale='dynamic',
        max_consecutive_skips=2)
    assert isinstance(wrapper, AmpOptimWrapper)
    wrapper.update_params(loss_of(model, wrapper, device='cuda'))
    before = snapshot(model, wrapper)
    scale = wrapper.loss_scaler.get_scale()
    with pytest.warns(RuntimeWarning, match='1 consecutive'):
        wrapper.update_params(loss_of(model, wrapper, scale=float('nan'), device='cuda'))
    assert_same(before, snapshot(model, wrapper))
    assert wrapper.loss_scaler.get_scale() < scale
    with pytest.warns(RuntimeWarning), pytest.raises(NonFiniteStepError):
        wrapper.update_params(loss_of(model, wrapper, scale=float('nan'), device='cuda'))


@pytest.mark.parametrize('device', ['cpu', pytest.param('cuda', marks=CUDA)])
def test_total_grad_norm_equals_get_total_norm(device):
    from greenmim_mm.engine.optim_wrappers.nonfinite import total_grad_norm
    torch.manual_seed(0)
    grads = [
        torch.randn(30, 40, device=device),
        torch.randn(7, device=device).t(),
        torch.randn(5, 3, device=device).t(),  # not contiguous
        torch.randn(6, dtype=torch.float64, device=device),
        torch.randn(9, device=device).bfloat16()
    ]
    expected = torch.nn.utils.get_total_norm(grads, 2.0)
    got = total_grad_norm(grads)
    assert got.dtype == torch.float32 and got.device == grads[0].device
    assert torch.allclose(got.double(), expected.double().cpu().to(device), rtol=1e-5)
    for bad in (float('nan'), float('inf')):
        assert not torch.isfinite(total_grad_norm(grads + [torch.tensor([1., bad], device=device)]))
    assert total_grad_norm([]).item() == 0
