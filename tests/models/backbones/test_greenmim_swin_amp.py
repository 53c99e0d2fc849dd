"""Exactness under autocast: the sparse encoder is as accurate as the dense reference.

Both run the same fp32 weights under the same autocast and are compared with the dense
reference in float64 (see ``amp_exactness.py``). Under bf16 each rounding is ~2^-9
relative, so both errors are ~1e-2, dominated by the same roundings (inputs of every
matmul, the bf16 residual stream on CPU); the sparse encoder sums in a different order
(packed groups, per-token gathers) and keeps the softmax, LayerNorm statistics and bias
gradients in float32. Bound: each stage output's error and the largest gradient error are
at most ``FACTOR`` = 1.5 x the dense reference's (measured: 1.0-1.16 for outputs, 0.93-1.04
for the worst gradient; single gradients 0.44-2.06), and every parameter's gradient error at
most ``PER_PARAM_FACTOR`` = 3 x the dense one's, or below 2^-8 (half a bf16 ulp), where
single gradients are at the rounding floor and their ratio is noise. Any real mistake (a
matmul in the wrong precision, a leaking mask, a lost normalisation) shows as errors of the
order of the values themselves.
"""
import pytest
import torch

from greenmim_mm.models.utils.precision.shadow_store import WeightShadow
from tests.helpers import random_mask
from tests.helpers.amp_exactness import autocast_errors
from tests.helpers.swin_exactness import build

FACTOR = 1.5
PER_PARAM_FACTOR = 3.0
FLOOR = 2.0**-8
CUDA = pytest.mark.skipif(not torch.cuda.is_available(), reason='needs CUDA')


def check_as_exact_as_dense(errors, dtype=torch.bfloat16):
    sparse_dtypes, dense_dtypes = errors['dtypes']
    assert sparse_dtypes == dense_dtypes, 'outputs must come in the plain modules\' dtypes'
    for stage, (sparse, dense) in enumerate(errors['out']):
        assert sparse <= FACTOR * dense, f'stage {stage}: {sparse:.2e} vs dense {dense:.2e}'
    worst_sparse = max(s for s, _ in errors['grad'].values())
    worst_dense = max(d for _, d in errors['grad'].values())
    assert worst_sparse <= FACTOR * worst_dense, (worst_sparse, worst_dense)
    for name, (sparse, dense) in errors['grad'].items():
        assert sparse <= max(PER_PARAM_FACTOR * dense, FLOOR), \
            f'gradient of {name}: {sparse:.2e} vs dense {dense:.2e}'
    # the comparison is meaningful: reduced precision, not float32, was exercised
    assert max(s for s, _ in errors['out']) > 1e-4


@pytest.mark.parametrize('per_sample', [False, True])
def test_bf16_224_window7(per_sample):
    model = build(7, 224)
    x = torch.randn(2, 3, 224, 224)
    mask = random_mask(2, 7, 7, 0.75, per_sample, seed=11)
    check_as_exact_as_dense(autocast_errors(model, x, mask, torch.bfloat16))


def test_bf16_non_square_448x224():
    model = build(7, 224)
    x = torch.randn(2, 3, 448, 224)
    check_as_exact_as_dense(
        autocast_errors(model, x, random_mask(2, 14, 7, 0.75, False, seed=12), torch.bfloat16))


def test_bf16_window14_pad_small_map():
    model = build(14, 224, pad_small_map=True)
    x = torch.randn(2, 3, 224, 224)
    check_as_exact_as_dense(
        autocast_errors(model, x, random_mask(2, 7, 7, 0.75, False, seed=13), torch.bfloat16))


@CUDA
@pytest.mark.parametrize('dtype', [torch.float16, torch.bfloat16])
@pytest.mark.parametrize('per_sample', [False, True])
def test_cuda_224_window7(dtype, per_sample):
    model = build(7, 224).cuda()
    x = torch.randn(2, 3, 224, 224, device='cuda')
    mask = random_mask(2, 7, 7, 0.75, per_sample, seed=11).cuda()
    check_as_exact_as_dense(autocast_errors(model, x, mask, dtype))


@pytest.mark.parametrize('device, dtype', [
    ('cpu', torch.bfloat16),
    pytest.param('cuda', torch.float16, marks=CUDA),
    pytest.param('cuda', torch.bfloat16, marks=CUDA),
])
def test_large_logits_finite_and_as_exact_as_dense(device, dtype):
    # qkv weights scaled up as in the float64 leak test: logits of ~100, where Swin's -100
    # mask leaks; under autocast the -inf mask stays exact and nothing overflows.
    model = build(7, 224, seed=2).to(device)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith('qkv.weight'):
                p.mul_(12.)
    x = torch.randn(1, 3, 224, 224, device=device)
    mask = random_mask(1, 7, 7, 0.5, False, seed=8).to(device)
    with torch.autocast(device, dtype=dtype):
        outs = model(x, mask)
    sum(o.float().square().mean() for o in outs).backward()
    assert all(torch.isfinite(o).all() for o in outs)
    assert all(torch.isfinite(p.grad).all() for p in model.parameters() if p.grad is not None)
    check_as_exact_as_dense(autocast_errors(model, x, mask, dtype))


def reduced_precision_weight_copies(model, run, dtype):
    """Names of the parameters whose ``dtype`` copy autograd keeps for backward in ``run()``."""
    copies = {name: p.detach().to(dtype) for name, p in model.named_parameters() if p.dim() > 1}
    kept = set()

    def same(c, t):
        return c.shape == t.shape and torch.equal(c, t)

    def pack(t):
        if t.dtype == dtype:  # linear layers keep the weight transposed
            kept.update(name for name, c in copies.items()
                        if same(c, t) or (c.dim() == 2 and same(c.t(), t)))
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        run()
    return kept


@pytest.mark.parametrize('shadow', [False, True])
def test_autocast_keeps_no_weight_copies_for_backward(shadow):
    # Autograd of a plain linear layer under autocast keeps its bf16 weight until backward:
    # half the parameter memory, more than a Swin-B step's lean activations. The lean linear
    # layers keep the float32 parameter and cast it again in backward instead, or read the
    # one shadow an AMP optimizer wrapper keeps (persistent, never saved per layer).
    model = build(7, 224)
    model.train()
    keeper = WeightShadow(model.parameters()) if shadow else None
    x = torch.randn(2, 3, 224, 224)
    mask = random_mask(2, 7, 7, 0.75, False, seed=11)
    linear = model.stages[0].blocks[0].attn.w_msa.qkv

    def plain():
        with torch.autocast('cpu', dtype=torch.bfloat16):
            linear(torch.randn(4, linear.in_features, requires_grad=True))

    def sparse():
        with torch.autocast('cpu', dtype=torch.bfloat16):
            model(x, mask)

    # the probe sees what plain autocast keeps
    assert reduced_precision_weight_copies(
        model, plain, torch.bfloat16) == {'stages.0.blocks.0.attn.w_msa.qkv.weight'}
    kept = reduced_precision_weight_copies(model, sparse, torch.bfloat16)
    # Only the patch embedding's convolution is an ordinary module (a few thousand weights).
    assert kept <= {'patch_embed.projection.weight'}, sorted(kept)
    if shadow:  # the lean layers read the shadows of all their weights and biases
        lean = ('qkv.', 'w_msa.proj.', 'ffn.layers.0.0.', 'ffn.layers.1.', 'reduction.')
        assert len(keeper) == sum(any(k in n for k in lean) for n, _ in model.named_parameters())
