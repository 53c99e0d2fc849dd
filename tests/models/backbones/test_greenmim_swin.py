"""Exactness of the sparse GreenMIM Swin against a dense Swin that ignores masked keys."""
import pytest
import torch
from mmpretrain.models import SwinTransformer
from mmpretrain.registry import MODELS

import greenmim_mm  # noqa: F401
from greenmim_mm.models.backbones import GreenMIMSwinTransformer
from tests.helpers import random_mask
from tests.helpers.swin_exactness import TINY, build, check_exact
from tests.helpers.swin_reference import reference_forward


@pytest.mark.parametrize('ratio', [0., 0.5, 0.75, 0.9])
@pytest.mark.parametrize('per_sample', [False, True])
def test_exact_224_window7(ratio, per_sample):
    model = build(7, 224)
    x = torch.randn(2, 3, 224, 224)
    mask = random_mask(2, 7, 7, ratio, per_sample, seed=int(ratio * 10))
    check_exact(model, x, mask)


@pytest.mark.parametrize('per_sample', [False, True])
def test_exact_192_window6(per_sample):
    model = build(6, 192)
    x = torch.randn(2, 3, 192, 192)
    check_exact(model, x, random_mask(2, 6, 6, 0.75, per_sample, seed=3))


@pytest.mark.parametrize('per_sample', [False, True])
def test_exact_non_square_448x224(per_sample):
    model = build(7, 224)
    x = torch.randn(2, 3, 448, 224)
    check_exact(model, x, random_mask(2, 14, 7, 0.75, per_sample, seed=4))


@pytest.mark.parametrize('per_sample', [False, True])
def test_exact_320_window7_padded_stages(per_sample):
    # 80, 40, 20, 10 tokens per side: no stage is a multiple of the window, so the dense
    # Swin pads every stage (and its shifted windows wrap around the padded grid).
    model = build(7, 224)
    x = torch.randn(2, 3, 320, 320)
    check_exact(model, x, random_mask(2, 10, 10, 0.75, per_sample, seed=6))


@pytest.mark.parametrize('ratio', [0., 0.75])
def test_exact_window14_stage_smaller_than_window(ratio):
    # At 224 the last stage is 7x7 < 14 and the third is 14x14 == 14 (shift kept with
    # pad_small_map=True): windows cover the small stage, padding does not exist.
    model = build(14, 224, pad_small_map=True)
    x = torch.randn(2, 3, 224, 224)
    check_exact(model, x, random_mask(2, 7, 7, ratio, False, seed=5))


def test_exact_window14_without_padding_flag_shift_dropped():
    # 448: stages 112, 56, 28, 14 — last stage equals the window, so its shift is dropped.
    model = build(14, 448)
    x = torch.randn(1, 3, 448, 448)
    check_exact(model, x, random_mask(1, 14, 14, 0.75, False, seed=6))


def test_exact_with_empty_windows():
    # Only the top-left unit visible: most windows of every stage and shift are empty, and
    # the visible unit straddles shifted windows.
    model = build(7, 224)
    mask = torch.ones(2, 7, 7, dtype=torch.bool)
    mask[:, 0, 0] = False
    mask[:, 3, 4] = False
    check_exact(model, torch.randn(2, 3, 224, 224), mask)


def test_many_groups_are_packed():
    # 448x448 keeps 49 of 196 units: stage 1 has 3136 visible tokens, far above 2 * ws^2,
    # so windows are packed into groups.
    from greenmim_mm.models.utils.sparse.geometry import stage_tokens
    from greenmim_mm.models.utils.sparse.grouping import build_group_layout
    mask = random_mask(1, 14, 14, 0.75, False, seed=7)
    tokens = stage_tokens(mask, 8)
    layout = build_group_layout(tokens.coords, tokens.grid_hw, 7, 3)
    assert layout.num_groups > 1
    model = build(7, 224)
    check_exact(model, torch.randn(1, 3, 448, 448), mask)


def test_dense_forward_identical_and_state_dict_round_trip():
    cfg = dict(arch=TINY, img_size=224, window_size=7, out_indices=(0, 1, 2, 3))
    ours = build(7, 224)
    dense = SwinTransformer(**cfg)
    dense.eval()
    dense.load_state_dict(ours.state_dict(), strict=True)
    ours2 = GreenMIMSwinTransformer(**cfg)
    ours2.eval()
    ours2.load_state_dict(dense.state_dict(), strict=True)
    assert ours.state_dict().keys() == dense.state_dict().keys()
    for k, v in dense.state_dict().items():
        assert v.shape == ours.state_dict()[k].shape
    x = torch.randn(1, 3, 224, 224)
    with torch.no_grad():
        for a, b, c in zip(ours(x), dense(x), ours2(x)):
            assert torch.equal(a, b) and torch.equal(b, c)


def test_swin_b_state_dict_matches_and_registry_builds():
    ours = MODELS.build(dict(type='GreenMIMSwinTransformer', arch='base'))
    dense = SwinTransformer(arch='base')
    assert {
        k: v.shape
        for k, v in ours.state_dict().items()
    } == {
        k: v.shape
        for k, v in dense.state_dict().items()
    }


def test_train_mode_drop_path_runs_and_backprops():
    torch.manual_seed(0)
    model = GreenMIMSwinTransformer(arch=TINY, drop_path_rate=0.2, out_indices=(3, ))
    model.train()
    out = model(torch.randn(2, 3, 224, 224), random_mask(2, 7, 7, 0.75, True))[0]
    assert out.shape == (2, 12, 128)
    out.sum().backward()
    assert torch.isfinite(model.patch_embed.projection.weight.grad).all()


def test_with_cp_matches():
    model = build(7, 224)
    model_cp = build(7, 224, with_cp=True)
    x = torch.randn(1, 3, 224, 224, requires_grad=True)
    mask = random_mask(1, 7, 7, 0.5, False)
    a = model(x, mask)[-1]
    b = model_cp(x, mask)[-1]
    assert torch.allclose(a, b, atol=1e-6)


@pytest.mark.parametrize('hw', [(200, 224), (224, 100), (16, 32)])
def test_bad_input_size(hw):
    model = build(7, 224)
    with pytest.raises(ValueError, match='multiples of 32'):
        model(
            torch.randn(1, 3, *hw),
            torch.zeros(1, max(hw[0] // 32, 1), max(hw[1] // 32, 1), dtype=torch.bool))


@pytest.mark.parametrize(
    'mask',
    [
        torch.zeros(1, 7, 7),  # float
        torch.zeros(1, 7, 6, dtype=torch.bool),
        torch.zeros(7, 7, dtype=torch.bool),
        torch.zeros(2, 7, 7, dtype=torch.bool),  # batch mismatch
    ])
def test_bad_mask(mask):
    model = build(7, 224)
    with pytest.raises(ValueError, match=r'mask must be a torch.bool tensor of shape'):
        model(torch.randn(1, 3, 224, 224), mask)


def test_bad_mask_counts():
    model = build(7, 224)
    mask = random_mask(2, 7, 7, 0.75, True)
    mask[1, ~mask[1]] = True
    with pytest.raises(ValueError, match='hides every unit'):
        model(torch.randn(2, 3, 224, 224), mask)
    mask = random_mask(2, 7, 7, 0.75, True)
    mask[1] = random_mask(1, 7, 7, 0.5, False)[0]
    with pytest.raises(ValueError, match='same number of visible units'):
        model(torch.randn(2, 3, 224, 224), mask)


def test_small_stage_without_pad_small_map_is_a_clear_error():
    model = build(14, 224)
    with pytest.raises(ValueError, match='pad_small_map=True'):
        model(torch.randn(1, 3, 224, 224), random_mask(1, 7, 7, 0.75, False))


def test_no_leak_across_windows_with_large_logits():
    # Swin's additive -100 leaks once logits reach ~100 (seen: 4.9 at this scale); the
    # sparse mask must not. float64: float32 itself is too coarse for such logits.
    model = build(7, 224, seed=2).double()
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith('qkv.weight'):
                p.mul_(12.)
    x = torch.randn(1, 3, 224, 224, dtype=torch.float64)
    mask = random_mask(1, 7, 7, 0.5, False, seed=8)
    with torch.no_grad():
        sparse = model(x, mask)
        dense = reference_forward(model, x, mask)
    for s, d in zip(sparse, dense):
        assert torch.isfinite(s).all()
        assert (s - d).abs().max() < 1e-8


@pytest.mark.parametrize('autocast', [None, torch.bfloat16])
def test_sparse_blocks_use_the_memory_lean_functions(autocast):
    # The memory figures of tools/analysis_tools/benchmark.py rely on these; a refactor that falls
    # back to the plain modules would still be exact, so check the graph itself (also under AMP).
    model = build(7, 224)
    model.train()
    x = torch.randn(2, 3, 224, 224)
    with torch.autocast('cpu', dtype=autocast or torch.bfloat16, enabled=autocast is not None):
        out = model(x, random_mask(2, 7, 7, 0.75, False, seed=9))[-1]
    names, stack, seen = set(), [out.grad_fn], set()
    while stack:
        node = stack.pop()
        if node is None or node in seen:
            continue
        seen.add(node)
        names.add(type(node).__name__)
        stack.extend(n for n, _ in node.next_functions)
    for fn in ('_GroupAttentionBackward', '_LayerNormLinearBackward', '_GeluLinearBackward'):
        assert fn in names
    # no autograd GELU or softmax: their outputs would be kept for backward
    assert not names & {'GeluBackward0', 'SoftmaxBackward0'}
