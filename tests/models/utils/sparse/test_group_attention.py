"""Group window attention: equals per-window attention, gradcheck, low-precision safety."""
import pytest
import torch
from mmpretrain.models.utils.attention import WindowMSA

from greenmim_mm.models.utils.sparse.geometry import stage_tokens
from greenmim_mm.models.utils.sparse.group_attention import group_window_attention
from greenmim_mm.models.utils.sparse.grouping import build_group_layout, pad_groups, window_ids


def small_case(dtype=torch.float32, threshold=None, seed=0):
    torch.manual_seed(seed)
    mask = torch.tensor([[[False, True, True], [True, False, False]]])  # 2x3 units
    tokens = stage_tokens(mask, 4)  # 8x12 grid, 48 visible tokens
    ws, shift = 3, 1
    layout = build_group_layout(
        tokens.coords, tokens.grid_hw, ws, shift, single_group_threshold=threshold)
    msa = WindowMSA(8, (ws, ws), 2).to(dtype)
    with torch.no_grad():
        msa.relative_position_bias_table.normal_()
    x = torch.randn(2, tokens.coords.shape[0], 8, dtype=dtype)
    return msa, x, layout, tokens, ws, shift


def per_window_reference(msa, x, tokens, ws, shift):
    """Attention computed window by window with a plain loop (no grouping)."""
    ids = window_ids(tokens.coords, tokens.grid_hw, ws, shift)
    out = torch.zeros_like(x)
    for w in ids.unique():
        sel = (ids == w).nonzero()[:, 0]
        c = tokens.coords[sel]
        rel = (c[:, None] - c[None] + ws - 1)
        rel = rel[..., 0] * (2 * ws - 1) + rel[..., 1]
        B, n, C = x.shape[0], sel.numel(), x.shape[2]
        qkv = msa.qkv(x[:, sel]).view(B, n, 3, msa.num_heads, -1).permute(2, 0, 3, 1, 4)
        logits = qkv[0] * msa.scale @ qkv[1].transpose(-2, -1)
        logits = logits + msa.relative_position_bias_table[rel].permute(2, 0, 1)
        o = (logits.softmax(-1) @ qkv[2]).transpose(1, 2).reshape(B, n, C)
        out[:, sel] = msa.proj(o).to(out.dtype)  # under autocast proj gives bf16
    return out


@pytest.mark.parametrize('threshold', [None, 0])
def test_matches_per_window_loop(threshold):
    msa, x, layout, tokens, ws, shift = small_case(threshold=threshold)
    if threshold == 0:
        assert layout.num_groups > 1
    ref = per_window_reference(msa, x, tokens, ws, shift)
    assert torch.allclose(group_window_attention(msa, x, layout), ref, atol=1e-5)


def test_fixed_group_size_and_empty_groups_change_nothing():
    """The static-shape layout of a compiled forward (groups of ws^2 slots, padded with empty
    groups) gives the per-window result, and no gradient reaches the padding."""
    msa, x, _, tokens, ws, shift = small_case(threshold=0)
    layout = build_group_layout(
        tokens.coords, tokens.grid_hw, ws, shift, single_group_threshold=0, group_size=ws * ws)
    padded = pad_groups(layout, layout.num_groups + 2)
    x = x.requires_grad_()
    ref = per_window_reference(msa, x, tokens, ws, shift)
    out = group_window_attention(msa, x, padded)
    assert torch.allclose(out, ref, atol=1e-5)
    grad_ref, = torch.autograd.grad(ref.square().sum(), x)
    grad, = torch.autograd.grad(out.square().sum(), x)
    assert torch.allclose(grad, grad_ref, atol=1e-5)


class _Caller(torch.nn.Module):
    """Module wrapper so that torch.func.functional_call can swap the parameters."""

    def __init__(self, msa, layout):
        super().__init__()
        self.msa = msa
        self.layout = layout

    def forward(self, x):
        return group_window_attention(self.msa, x, self.layout)


def test_gradcheck_float64():
    msa, x, layout, *_ = small_case(torch.float64, threshold=0)
    assert layout.num_groups > 1
    x = x.requires_grad_(True)
    assert torch.autograd.gradcheck(
        lambda x: group_window_attention(msa, x, layout), (x, ),
        eps=1e-6,
        atol=1e-5,
        fast_mode=True)
    # Parameter gradients (the relative position bias table included) through the layout.
    caller = _Caller(msa, layout)
    names = [n for n, _ in caller.named_parameters()]
    params = tuple(p.detach().clone().requires_grad_(True) for _, p in caller.named_parameters())

    def by_params(*ps):
        return torch.func.functional_call(caller, dict(zip(names, ps)), (x.detach(), ))

    assert torch.autograd.gradcheck(by_params, params, eps=1e-6, atol=1e-5, fast_mode=True)


@pytest.mark.parametrize('dtype', [torch.bfloat16, torch.float16])
def test_no_nan_under_low_precision(dtype):
    # Padding slots and windows of a single token are the rows that could be empty.
    msa, x, layout, tokens, ws, shift = small_case(threshold=0)
    assert layout.group_size * layout.num_groups > x.shape[1]  # padding exists
    if dtype is torch.float16:
        msa, x = msa.to(dtype), x.to(dtype)
        out = group_window_attention(msa, x, layout)
    else:
        with torch.autocast('cpu', dtype=dtype):
            out = group_window_attention(msa, x, layout)
    assert out.dtype == dtype
    assert torch.isfinite(out).all()
    ref = per_window_reference(msa.float(), x.float(), tokens, ws, shift)
    assert (out.float() - ref).abs().max() < 0.1


def test_recomputing_attention_equals_sdpa_path():
    """The lean autograd function (probabilities recomputed) against the SDPA path."""
    msa, x, layout, *_ = small_case(torch.float64, threshold=0)
    assert layout.num_groups > 1 and layout.num_groups * layout.group_size > x.shape[1]
    results = []
    for drop in (0., 1e-12):  # any attn_drop > 0 in training takes the SDPA path
        msa.attn_drop.p = drop
        msa.train()
        msa.zero_grad()
        xi = x.detach().clone().requires_grad_(True)
        torch.manual_seed(0)
        out = group_window_attention(msa, xi, layout)
        assert ('GroupAttention' in type(out.grad_fn).__name__) == (drop == 0.)
        out.mul(torch.linspace(-1, 1, out.numel(), dtype=out.dtype).view_as(out)).sum().backward()
        results.append([out.detach(), xi.grad] + [p.grad.clone() for p in msa.parameters()])
    for lean, sdpa in zip(*results):
        assert torch.allclose(lean, sdpa, atol=1e-9)


@pytest.mark.parametrize('autocast', [False, True])
def test_recomputing_attention_keeps_no_probabilities(autocast):
    # Also under CPU autocast, where the lean LayerNorm/GELU functions keep their outputs:
    # keeping the probabilities too was measured to cost too much step memory
    # (docs/en/mixed_precision.md, the lean_keep_memory figure).
    msa, x, layout, *_ = small_case(threshold=0)
    shapes = []

    def pack(t):
        shapes.append(tuple(t.shape))
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        with torch.autocast('cpu', dtype=torch.bfloat16, enabled=autocast):
            group_window_attention(msa, x.requires_grad_(True), layout)
    gs = layout.group_size
    assert not [s for s in shapes if len(s) >= 2 and s[-2:] == (gs, gs)]


CUDA = pytest.mark.skipif(not torch.cuda.is_available(), reason='needs CUDA')


def _outputs_and_grads(fn, msa, x, dtype):
    msa.zero_grad()
    x = x.detach().clone().requires_grad_(True)
    with torch.autocast(x.device.type, dtype=dtype, enabled=dtype is not None):
        out = fn(msa, x)
    w = torch.linspace(-1, 1, out.numel(), dtype=torch.float64, device=x.device)
    (out.double() * w.view_as(out)).sum().backward()
    return out, [x.grad.double()] + [p.grad.double() for p in msa.parameters()]


@pytest.mark.parametrize('device, dtype', [
    ('cpu', torch.bfloat16),
    pytest.param('cuda', torch.float16, marks=CUDA),
    pytest.param('cuda', torch.bfloat16, marks=CUDA),
])
@pytest.mark.parametrize('logit_scale', [1., 12.])
def test_under_autocast_as_exact_as_per_window_modules(device, dtype, logit_scale):
    """The lean function under autocast (softmax in float32, matmuls in ``dtype``) against
    per-window attention of the plain modules under the same autocast, both against float64;
    with qkv weights scaled up (large logits) outputs and gradients stay finite."""
    import copy
    msa, x, layout, tokens, ws, shift = small_case(threshold=0)
    with torch.no_grad():
        msa.qkv.weight.mul_(logit_scale)
    msa, x = msa.to(device), x.to(device)
    layout = layout._replace(
        **{
            f: getattr(layout, f).to(device)
            for f in ('gather_index', 'slot_index', 'attn_mask', 'rel_pos_index')
        })
    tokens = tokens._replace(coords=tokens.coords.to(device))
    lean_fn = lambda m, t: group_window_attention(m, t, layout)  # noqa: E731
    ref_fn = lambda m, t: per_window_reference(m, t, tokens, ws, shift)  # noqa: E731
    truth, truth_grads = _outputs_and_grads(lean_fn, copy.deepcopy(msa).double(), x.double(), None)
    out, grads = _outputs_and_grads(lean_fn, msa, x, dtype)
    assert 'GroupAttention' in type(out.grad_fn).__name__  # the lean path, not SDPA
    assert out.dtype == dtype
    ref, ref_grads = _outputs_and_grads(ref_fn, msa, x, dtype)
    assert torch.isfinite(out).all() and all(torch.isfinite(g).all() for g in grads)

    def err(a, t):
        return float((a.double() - t).abs().max() / t.abs().max())

    eps = torch.finfo(dtype).eps
    assert err(out, truth) <= max(1.5 * err(ref, truth), eps)
    for g, r, t in zip(grads, ref_grads, truth_grads):
        assert err(g, t) <= max(1.5 * err(r, t), eps), (err(g, t), err(r, t))
