"""Sparse Twins (PCPVT, SVT) vs mmpretrain's dense Twins in which masked tokens do not exist."""
import pytest
import torch
from mmpretrain.models import PCPVT, SVT
from mmpretrain.registry import MODELS

import greenmim_mm  # noqa: F401  (registers the modules)
from greenmim_mm.models.backbones import GreenMIMPCPVT, GreenMIMSVT
from greenmim_mm.models.utils.masking import random_unit_mask
from tests.helpers import randomize_weights
from tests.helpers.twins_reference import reference_forward

# Tiny archs: two blocks in most stages (SVT: an LSA and a GSA layer), sr 8/4/2/1.
PCPVT_ARCH = dict(
    embed_dims=[16, 24, 32, 40],
    depths=[2, 1, 2, 1],
    num_heads=[1, 2, 2, 4],
    patch_sizes=[4, 2, 2, 2],
    strides=[4, 2, 2, 2],
    mlp_ratios=[2, 2, 2, 2],
    sr_ratios=[8, 4, 2, 1])
SVT_ARCH = dict(PCPVT_ARCH, depths=[2, 2, 2, 2], window_sizes=[7, 7, 7, 7])
SVT_SMALL_WINDOWS = dict(SVT_ARCH, window_sizes=[5, 3, 3, 2])

# Largest absolute errors seen, printed at the end of the session with -s (for the record).
MAX_ERRORS = {}


def build(cls, arch, **kwargs):
    torch.manual_seed(0)
    cfg = dict(
        arch=arch,
        out_indices=(0, 1, 2, 3),
        qkv_bias=True,
        norm_after_stage=[True, True, True, True])
    cfg.update(kwargs)
    model = cls(**cfg)
    # Init-sized weights, but no norm or bias at 1 / 0: every gradient is checked.
    randomize_weights(model, weight_std=0.02)
    return model


def _record(key, err):
    MAX_ERRORS[key] = max(MAX_ERRORS.get(key, 0.), float(err))


def _close(actual, expected, key, rtol=1e-4, atol=2e-5):
    err = (actual - expected).abs().max()
    _record(key, err)
    _record(key + ' (relative to max |expected|)', err / expected.abs().max().clamp_min(1e-30))
    torch.testing.assert_close(actual, expected, rtol=rtol, atol=atol)


@pytest.fixture(scope='module', autouse=True)
def report_errors():
    yield
    for key, err in sorted(MAX_ERRORS.items()):
        print(f'max abs error {key}: {err:.3g}')


@pytest.mark.parametrize('cls, parent, arch', [(GreenMIMPCPVT, PCPVT, PCPVT_ARCH),
                                               (GreenMIMSVT, SVT, SVT_ARCH)])
def test_state_dict_matches_the_parent_both_ways(cls, parent, arch):
    ours = build(cls, arch)
    theirs = parent(arch=arch, out_indices=(0, 1, 2, 3), qkv_bias=True, norm_after_stage=[True] * 4)
    ours_sd, theirs_sd = ours.state_dict(), theirs.state_dict()
    assert list(ours_sd) == list(theirs_sd)
    assert all(ours_sd[k].shape == theirs_sd[k].shape for k in ours_sd)
    theirs.load_state_dict(ours_sd, strict=True)
    fresh = cls(arch=arch, out_indices=(0, 1, 2, 3), qkv_bias=True, norm_after_stage=[True] * 4)
    fresh.load_state_dict(theirs.state_dict(), strict=True)
    # Without a mask our forward is the parent's dense forward.
    x = torch.randn(1, 3, 96, 64)
    for a, b in zip(fresh(x), theirs(x)):
        assert torch.equal(a, b)


def test_registered_and_arch_zoo():
    svt = MODELS.build(dict(type='GreenMIMSVT', arch='small'))
    assert isinstance(svt, SVT) and isinstance(svt, GreenMIMPCPVT)
    assert svt.window_sizes == [7, 7, 7, 7] and svt.mask_unit == 32
    pcpvt = MODELS.build(dict(type='GreenMIMPCPVT', arch='small'))
    assert not isinstance(pcpvt, SVT) and pcpvt.num_stages == 4


def _grads(model):
    return {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}


def _run(model, x, mask, sparse: bool):
    """Outputs of every stage at the visible tokens and all parameter gradients."""
    model.zero_grad()
    outs = model(x, mask) if sparse else reference_forward(model, x, mask)
    g = torch.Generator().manual_seed(2)
    loss = sum((o * torch.randn(o.shape, generator=g)).sum() for o in outs)
    loss.backward()
    return [o.detach() for o in outs], _grads(model)


def _compare(model, x, mask, key):
    outs, grads = _run(model, x, mask, sparse=True)
    ref_outs, ref_grads = _run(model, x, mask, sparse=False)
    assert len(outs) == len(ref_outs) == 4
    for s, (a, b) in enumerate(zip(outs, ref_outs)):
        assert a.shape == b.shape
        _close(a, b, f'{key} out')
    names = {n for n, p in model.named_parameters()}
    assert set(grads) == set(ref_grads) == names  # every parameter gets a gradient
    for n in names:
        # float32 sums of large terms (the patch embedding's gradients reach ~400): an
        # element that cancels to ~10 keeps the absolute error of its terms, so the absolute
        # tolerance follows the gradient's scale (a 3e-4 error on AMD EPYC's BLAS, 8e-7 of it)
        atol = max(1e-4, 2e-6 * float(ref_grads[n].abs().max()))
        _close(grads[n], ref_grads[n], f'{key} grad', rtol=1e-3, atol=atol)


@pytest.mark.parametrize('cls, arch', [(GreenMIMPCPVT, PCPVT_ARCH), (GreenMIMSVT, SVT_ARCH),
                                       (GreenMIMSVT, SVT_SMALL_WINDOWS)])
@pytest.mark.parametrize('hw', [(224, 224), (160, 96), (448, 224)])
@pytest.mark.parametrize('per_sample', [False, True])
def test_sparse_equals_dense_without_masked_tokens(cls, arch, hw, per_sample):
    model = build(cls, arch)
    B = 2
    x = torch.randn(B, 3, *hw)
    g = torch.Generator().manual_seed(hw[0] + hw[1] + per_sample)
    mask = random_unit_mask(B, (hw[0] // 32, hw[1] // 32), 0.75, per_sample=per_sample, generator=g)
    _compare(model, x, mask, f'{cls.__name__} {hw}')


@pytest.mark.parametrize('cls, parent, arch', [(GreenMIMPCPVT, PCPVT, PCPVT_ARCH),
                                               (GreenMIMSVT, SVT, SVT_ARCH)])
@pytest.mark.parametrize('hw', [(224, 224), (160, 96)])
def test_nothing_masked_equals_the_parent_and_the_oracle(cls, parent, arch, hw):
    """With every unit visible both the sparse model and the oracle are mmpretrain's forward.

    At 160x96 the SVT windows need padding: mmpretrain keeps padding apart with -1000,
    ours and the oracle's do not have it at all.
    """
    model = build(cls, arch).eval()
    x = torch.randn(2, 3, *hw)
    mask = torch.zeros(2, hw[0] // 32, hw[1] // 32, dtype=torch.bool)
    with torch.no_grad():
        dense = [o.flatten(2).transpose(1, 2) for o in parent.forward(model, x)]
        sparse = model(x, mask)
        oracle = reference_forward(model, x, mask)
    for d, s, o in zip(dense, sparse, oracle):
        _close(s, d, f'{cls.__name__} nothing masked vs mmpretrain')
        _close(o, d, f'{cls.__name__} oracle vs mmpretrain')


@pytest.mark.parametrize('cls, arch', [(GreenMIMPCPVT, PCPVT_ARCH), (GreenMIMSVT, SVT_ARCH)])
def test_masked_pixels_change_no_visible_output(cls, arch):
    model = build(cls, arch).eval()
    x = torch.randn(2, 3, 160, 96)
    mask = random_unit_mask(
        2, (5, 3), 0.6, per_sample=True, generator=torch.Generator().manual_seed(3))
    hidden = mask.repeat_interleave(32, 1).repeat_interleave(32, 2)[:, None]  # (B, 1, H, W)
    x2 = torch.where(hidden, 100 * torch.randn_like(x), x)
    with torch.no_grad():
        for a, b in zip(model(x, mask), model(x2, mask)):
            assert torch.equal(a, b)


def test_sides_not_multiple_of_32_are_refused():
    model = build(GreenMIMSVT, SVT_ARCH)
    with pytest.raises(ValueError, match='positive multiples of 32'):
        model(torch.randn(1, 3, 100, 96), torch.zeros(1, 3, 3, dtype=torch.bool))
    with pytest.raises(ValueError, match=r'mask must be a torch.bool tensor of shape'):
        model(torch.randn(1, 3, 96, 96), torch.zeros(1, 3, 3))


def test_reduction_cells_must_tile_the_unit():
    model = build(GreenMIMPCPVT, dict(PCPVT_ARCH, sr_ratios=[16, 4, 2, 1]))
    with pytest.raises(ValueError, match='sr_ratio 16'):
        model(torch.randn(1, 3, 64, 64), torch.tensor([[[True, False], [False, True]]]))


def test_float64_is_exact():
    """In float64 the sparse model and the oracle agree to rounding (~1e-15)."""
    model = build(GreenMIMSVT, SVT_SMALL_WINDOWS).double()
    x = torch.randn(2, 3, 160, 96, dtype=torch.float64)
    mask = random_unit_mask(
        2, (5, 3), 0.75, per_sample=True, generator=torch.Generator().manual_seed(4))
    outs, grads = _run(model, x, mask, sparse=True)
    ref_outs, ref_grads = _run(model, x, mask, sparse=False)
    for a, b in zip(outs, ref_outs):
        _close(a, b, 'float64 out', rtol=1e-10, atol=1e-11)
    for n in grads:
        _close(grads[n], ref_grads[n], 'float64 grad', rtol=1e-10, atol=1e-11)
