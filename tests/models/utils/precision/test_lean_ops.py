"""Memory-lean LayerNorm+Linear / GELU+Linear: same values and gradients, fewer saved bytes."""
import pytest
import torch
from mmcv.cnn.bricks.transformer import FFN
from torch import nn

from greenmim_mm.models.utils.precision.lean_ops import layer_norm_linear, layer_norm_mlp
from tests.helpers import randomize_weights

CUDA = pytest.mark.skipif(not torch.cuda.is_available(), reason='needs CUDA')


def swin_ffn(dims, ffn_drop=0.):
    # As mmpretrain's SwinBlock builds it.
    return FFN(
        embed_dims=dims,
        feedforward_channels=4 * dims,
        num_fcs=2,
        ffn_drop=ffn_drop,
        dropout_layer=dict(type='DropPath', drop_prob=0.),
        act_cfg=dict(type='GELU'),
        add_identity=True)


def grads_of(fn, x, params):
    for p in params:
        p.grad = None
    x = x.detach().clone().requires_grad_(True)
    out = fn(x)
    w = torch.randn(out.shape, generator=torch.Generator().manual_seed(3), dtype=out.dtype)
    (out * w).sum().backward()
    return out.detach(), [x.grad] + [p.grad.clone() for p in params]


def saved_bytes(fn, x):
    """Bytes of the distinct non-parameter storages autograd keeps for backward."""
    storages = {}

    def pack(t):
        if not isinstance(t, nn.Parameter):
            storages[t.untyped_storage().data_ptr()] = t.untyped_storage().nbytes()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        fn(x.detach().clone().requires_grad_(True))
    return sum(storages.values())


@pytest.mark.parametrize('bias', [True, False])
def test_layer_norm_linear_matches_modules(bias):
    norm = randomize_weights(nn.LayerNorm(16).double(), 0)
    linear = randomize_weights(nn.Linear(16, 24, bias=bias).double(), 1)
    x = torch.randn(2, 5, 16, dtype=torch.float64)
    params = list(norm.parameters()) + list(linear.parameters())
    out_ref, g_ref = grads_of(lambda t: linear(norm(t)), x, params)
    out, g = grads_of(lambda t: layer_norm_linear(t, norm, linear), x, params)
    assert torch.allclose(out, out_ref, atol=1e-12)
    for a, b in zip(g, g_ref):
        assert torch.allclose(a, b, atol=1e-10)
    # keeps the input, not the normalised tokens
    assert saved_bytes(lambda t: layer_norm_linear(t, norm, linear),
                       x) < saved_bytes(lambda t: linear(norm(t)), x)


def test_layer_norm_mlp_matches_mmcv_ffn():
    dims = 8
    norm = randomize_weights(nn.LayerNorm(dims).double(), 0)
    ffn = randomize_weights(swin_ffn(dims).double(), 1)
    x = torch.randn(3, 7, dims, dtype=torch.float64)
    params = list(norm.parameters()) + list(ffn.parameters())
    out_ref, g_ref = grads_of(lambda t: ffn(norm(t), identity=t), x, params)
    out, g = grads_of(lambda t: layer_norm_mlp(t, norm, ffn), x, params)
    assert torch.allclose(out, out_ref, atol=1e-12)
    for a, b in zip(g, g_ref):
        assert torch.allclose(a, b, atol=1e-10)
    lean = saved_bytes(lambda t: layer_norm_mlp(t, norm, ffn), x)
    plain = saved_bytes(lambda t: ffn(norm(t), identity=t), x)
    # plain keeps LN in + out (2C) and hidden + GELU (8C); lean keeps LN in + hidden (5C)
    assert lean <= plain * 5.5 / 10


def test_gradcheck_float64():
    norm = randomize_weights(nn.LayerNorm(4).double(), 0)
    ffn = randomize_weights(swin_ffn(4).double(), 1)
    x = torch.randn(2, 3, 4, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda t: layer_norm_mlp(t, norm, ffn), (x, ))


def test_falls_back_to_modules_when_it_cannot_be_exact():
    norm = randomize_weights(nn.LayerNorm(8), 0)
    ffn = randomize_weights(swin_ffn(8, ffn_drop=0.5), 1)
    ffn.train()
    x = torch.randn(2, 3, 8, requires_grad=True)
    out = layer_norm_mlp(x, norm, ffn)  # active dropout: mmcv's FFN itself
    assert 'GeluLinear' not in type(out.grad_fn.next_functions[1][0]).__name__
    ffn.eval()
    out = layer_norm_mlp(x.double(), norm.double(), ffn.double())  # float64 is fine
    assert 'GeluLinear' in type(out.grad_fn.next_functions[1][0]).__name__
    out = layer_norm_mlp(x.bfloat16(), norm.bfloat16(), ffn.bfloat16())  # bf16 outside autocast
    assert 'GeluLinear' not in type(out.grad_fn.next_functions[1][0]).__name__


def _autocast_grads(fn, x, params, device, dtype):
    """Output and gradients (x first) of ``fn`` under ``dtype`` autocast, backward outside."""
    for p in params:
        p.grad = None
    x = x.detach().clone().requires_grad_(True)
    with torch.autocast(device, dtype=dtype):
        out = fn(x)
    w = torch.randn(out.shape, generator=torch.Generator().manual_seed(3)).to(device)
    (out.float() * w).sum().backward()
    return out.detach(), [x.grad] + [p.grad.clone() for p in params]


AUTOCAST_CASES = [
    ('cpu', torch.bfloat16, torch.float32),
    ('cpu', torch.bfloat16, torch.bfloat16),  # the bf16 residual stream of CPU autocast
    pytest.param('cuda', torch.float16, torch.float32, marks=CUDA),
    pytest.param('cuda', torch.bfloat16, torch.float32, marks=CUDA),
    pytest.param('cuda', torch.float16, torch.float16, marks=CUDA),
]


@pytest.mark.parametrize('device, dtype, x_dtype', AUTOCAST_CASES)
def test_under_autocast_same_as_modules(device, dtype, x_dtype):
    """Lean path under autocast: the modules' output dtype and values, their gradients up to
    the float32 bias-gradient sums (the modules sum in the reduced precision), less memory."""
    dims = 32
    norm = randomize_weights(nn.LayerNorm(dims), 0).to(device)
    ffn = randomize_weights(swin_ffn(dims), 1).to(device).eval()
    linear = randomize_weights(nn.Linear(dims, 3 * dims), 2).to(device)
    x = torch.randn(3, 50, dims, device=device).to(x_dtype)
    for lean_fn, plain_fn, params in (
        (lambda t: layer_norm_mlp(t, norm, ffn), lambda t: ffn(norm(t), identity=t),
         list(norm.parameters()) + list(ffn.parameters())),
        (lambda t: layer_norm_linear(t, norm, linear), lambda t: linear(norm(t)),
         list(norm.parameters()) + list(linear.parameters())),
    ):
        out, grads = _autocast_grads(lean_fn, x, params, device, dtype)
        ref, ref_grads = _autocast_grads(plain_fn, x, params, device, dtype)
        assert out.dtype == ref.dtype
        eps = torch.finfo(dtype).eps
        assert (out.float() - ref.float()).abs().max() <= eps * ref.float().abs().max()
        for g, r in zip(grads, ref_grads):
            assert g.dtype == r.dtype
            assert (g.float() - r.float()).abs().max() <= 2 * eps * r.float().abs().max()
    with torch.autocast(device, dtype=dtype):
        out = layer_norm_mlp(x.requires_grad_(True), norm, ffn)
    assert 'GeluLinear' in type(out.grad_fn.next_functions[1][0]).__name__
    with torch.autocast(device, dtype=dtype):
        lean = saved_bytes(lambda t: layer_norm_mlp(t, norm, ffn), x)
        plain = saved_bytes(lambda t: ffn(norm(t), identity=t), x)
    assert lean < plain


def test_cpu_autocast_takes_the_plain_modules_from_the_size_rule_up(monkeypatch):
    from greenmim_mm.models.utils.precision import lean_ops
    torch.manual_seed(0)
    norm, linear = torch.nn.LayerNorm(8), torch.nn.Linear(8, 16)
    x = torch.randn(4, 5, 8, requires_grad=True)
    monkeypatch.setattr(lean_ops, 'LEAN_MAX_NUMEL_UNDER_AUTOCAST', x.numel() + 1)
    with torch.autocast('cpu', dtype=torch.bfloat16):
        small = lean_ops.layer_norm_linear(x, norm, linear)
    monkeypatch.setattr(lean_ops, 'LEAN_MAX_NUMEL_UNDER_AUTOCAST', x.numel())
    with torch.autocast('cpu', dtype=torch.bfloat16):
        large = lean_ops.layer_norm_linear(x, norm, linear)
    fp32 = lean_ops.layer_norm_linear(x, norm, linear)  # float32: lean at every size
    assert 'LayerNormLinear' in type(small.grad_fn).__name__
    assert 'LayerNormLinear' not in type(large.grad_fn).__name__
    assert 'LayerNormLinear' in type(fp32.grad_fn).__name__
    assert torch.equal(small, large)  # the same values either way


def test_cpu_autocast_keeps_what_backward_would_recompute(monkeypatch):
    """Under CPU autocast the lean functions keep the normalised tokens and the GELU instead
    of recomputing them in backward; the results are bit-identical either way, and backward
    then runs no LayerNorm or GELU forward."""
    from greenmim_mm.models.utils.precision import lean_ops
    dims = 16
    norm = randomize_weights(nn.LayerNorm(dims), 0)
    ffn = randomize_weights(swin_ffn(dims), 1).eval()
    params = list(norm.parameters()) + list(ffn.parameters())
    x = torch.randn(2, 20, dims)
    assert lean_ops.recompute_in_backward(x)  # float32: recomputed, the lean default
    with torch.autocast('cpu', dtype=torch.bfloat16):
        assert not lean_ops.recompute_in_backward(x)
    runs = {}
    for recompute in (False, True):
        monkeypatch.setattr(lean_ops, 'recompute_in_backward', lambda t, r=recompute: r)
        fn = lambda t: layer_norm_mlp(t, norm, ffn)  # noqa: E731
        with torch.autocast('cpu', dtype=torch.bfloat16):
            kept = saved_bytes(fn, x)
        with torch.profiler.profile() as prof:
            runs[recompute] = _autocast_grads(fn, x, params, 'cpu', torch.bfloat16)
        names = [e.name for e in prof.events()]
        runs[recompute] += (kept, names.count('aten::native_layer_norm'), names.count('aten::gelu'))
    out_k, grads_k, bytes_k, ln_k, gelu_k = runs[False]  # kept
    out_r, grads_r, bytes_r, ln_r, gelu_r = runs[True]  # recomputed
    assert torch.equal(out_k, out_r)
    assert all(torch.equal(a, b) for a, b in zip(grads_k, grads_r))
    assert (ln_k, gelu_k) == (1, 1) and (ln_r, gelu_r) == (2, 2)
    assert bytes_k > bytes_r
