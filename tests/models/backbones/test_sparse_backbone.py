"""The sparse-backbone contract on a third backbone: the toy of tests/helpers/toy_backbone.py
equals its dense oracle (outputs and every parameter gradient), with what the mixin derives."""
import pytest
import torch
from mmengine.registry import Registry
from mmpretrain.registry import MODELS

from greenmim_mm.models.backbones import (GreenMIMPCPVT, GreenMIMSVT, GreenMIMSwinTransformer,
                                          SparseMIMBackboneMixin)
from greenmim_mm.models.backbones.sparse_backbone import (registered_sparse_backbones,
                                                          sparse_window_attention)
from greenmim_mm.models.utils.sparse import MaskGeometry
from tests.helpers import random_mask, randomize_weights
from tests.helpers.toy_backbone import ToySparseWindowNet, ToyWindowNet, reference_forward


def build(seed=0, **kwargs) -> ToySparseWindowNet:
    """The toy with random weights (large relative position tables, no norm at identity)."""
    torch.manual_seed(seed)
    return randomize_weights(ToySparseWindowNet(**kwargs), seed=seed)


def run(model, x, mask, sparse: bool):
    """Outputs of every out stage and all parameter gradients of a fixed random loss."""
    model.zero_grad()
    outs = model(x, mask) if sparse else reference_forward(model, x, mask)
    gen = torch.Generator().manual_seed(2)
    loss = sum((o * torch.randn(o.shape, generator=gen).to(o.dtype)).sum() for o in outs)
    loss.backward()
    grads = {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}
    return [o.detach() for o in outs], grads


def assert_exact(model, x, mask, rtol=1e-4, atol=1e-5):
    outs, grads = run(model, x, mask, sparse=True)
    ref_outs, ref_grads = run(model, x, mask, sparse=False)
    assert len(outs) == len(ref_outs) == len(model.out_indices)
    for a, b in zip(outs, ref_outs):
        assert a.shape == b.shape
        torch.testing.assert_close(a, b, rtol=rtol, atol=atol)
    names = {n for n, _ in model.named_parameters()}
    assert set(grads) == set(ref_grads) == names  # every parameter gets a gradient
    for n in names:
        scale = ref_grads[n].abs().max().clamp_min(1.)
        torch.testing.assert_close(grads[n] / scale, ref_grads[n] / scale, rtol=rtol, atol=atol)


@pytest.mark.parametrize('hw, ratio', [((96, 96), 0.5), ((96, 96), 0.75), ((80, 112), 0.5),
                                       ((160, 64), 0.75)])
@pytest.mark.parametrize('per_sample', [False, True])
def test_toy_equals_its_dense_oracle(hw, ratio, per_sample):
    # Window 3 on a grid of 2x2 tokens per 16-px unit: windows straddle units, are partly
    # visible, and at 80x112 and 160x64 the dense grid is padded. At 96 px stage 0 keeps
    # 72 or 36 tokens (> 2 * ws^2): its windows are packed into several groups.
    model = build(window_size=3)
    x = torch.randn(3, 3, *hw)
    mask = random_mask(3, hw[0] // 16, hw[1] // 16, ratio, per_sample, seed=hw[0] + hw[1])
    assert_exact(model, x, mask)


def test_toy_is_exact_in_float64_with_a_window_larger_than_the_last_stage():
    model = build(window_size=4, depths=(1, 2), num_heads=(2, 2)).double()
    x = torch.randn(2, 3, 48, 80, dtype=torch.float64)
    mask = random_mask(2, 3, 5, 0.6, per_sample=True, seed=1)
    assert_exact(model, x, mask, rtol=1e-10, atol=1e-11)


def test_nothing_masked_is_the_dense_forward():
    model = build().eval()
    x = torch.randn(2, 3, 80, 112)
    with torch.no_grad():
        dense = [o.flatten(2).transpose(1, 2) for o in ToyWindowNet.forward(model, x)]
        sparse = model(x, torch.zeros(2, 5, 7, dtype=torch.bool))
    for d, s in zip(dense, sparse):
        torch.testing.assert_close(s, d, rtol=1e-4, atol=1e-5)


def test_masked_pixels_change_no_visible_output():
    model = build().eval()
    x = torch.randn(2, 3, 96, 64)
    mask = random_mask(2, 6, 4, 0.5, per_sample=True, seed=3)
    hidden = mask.repeat_interleave(16, 1).repeat_interleave(16, 2)[:, None]  # (B, 1, H, W)
    x2 = torch.where(hidden, 100 * torch.randn_like(x), x)
    with torch.no_grad():
        for a, b in zip(model(x, mask), model(x2, mask)):
            assert torch.equal(a, b)


@pytest.mark.parametrize('per_sample', [False, True])
def test_the_static_shape_plan_gives_the_same_results(per_sample):
    """The plan a compiled forward uses (fixed group capacity, padded group counts)."""
    model = build().eval()
    x = torch.randn(2, 3, 128, 128)
    mask = random_mask(2, 8, 8, 0.5, per_sample, seed=5)
    plan = model.checked_sparse_plan(x, mask, static_shapes=True)
    assert all(layout.group_size == 9 for layout in plan.windows if layout.num_groups > 1)
    assert plan.windows[0].num_groups > 1
    with torch.no_grad():
        for a, b in zip(model.sparse_forward(x, plan), model(x, mask)):
            torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)


def test_the_mixin_derives_the_declarations_from_the_stage_strides():
    toy = ToySparseWindowNet(
        patch_size=4,
        embed_dims=(8, 8, 16),
        depths=(1, 1, 1),
        num_heads=(1, 1, 1),
        out_indices=(2, ))
    assert toy.stage_strides == [4, 8, 16]
    assert (toy.mask_unit, toy.num_stages, toy.default_img_size) == (16, 3, None)
    assert toy.tokens_per_unit == [4, 2, 1]
    swin = GreenMIMSwinTransformer(arch=dict(embed_dims=16, depths=[1] * 4, num_heads=[1] * 4))
    assert swin.tokens_per_unit == [8, 4, 2, 1] and swin.mask_unit == 32
    svt = GreenMIMSVT(arch='small')
    assert svt.tokens_per_unit == [8, 4, 2, 1]


def test_strides_that_do_not_divide_the_unit_are_refused():

    class Uneven(ToySparseWindowNet):
        stage_strides = [6, 16]

    model = Uneven()
    with pytest.raises(
            ValueError,
            match=r'every stage stride must divide the mask unit \(the '
            r'last stride, 16 px\), got stage_strides \[6, 16\]'):
        model(torch.randn(1, 3, 32, 32), torch.zeros(1, 2, 2, dtype=torch.bool))


def test_window_attention_refuses_a_layout_of_other_tokens():
    block = ToySparseWindowNet().stages[0][0]
    geometry = MaskGeometry(random_mask(2, 4, 4, 0.5, True, seed=0), [2, 1])
    layout = geometry.window_layout(0, 3)  # 2 samples x 8 units x 4 tokens
    x = torch.randn(3, 32, 16)
    with pytest.raises(
            ValueError,
            match='a window layout of 64 tokens does not fit 3 samples '
            r'of 32 visible tokens \(N for a shared mask, B \* N per sample\)'):
        sparse_window_attention(x, block.norm1, block.attn, layout)


def test_registered_sparse_backbones_are_read_from_the_registry():
    names = registered_sparse_backbones()
    for cls in (GreenMIMSwinTransformer, GreenMIMPCPVT, GreenMIMSVT, ToySparseWindowNet):
        assert cls.__name__ in names
    assert 'SwinTransformer' not in names and 'SVT' not in names

    class Listed(ToySparseWindowNet):
        pass

    class Unfinished(SparseMIMBackboneMixin, ToyWindowNet):  # no stage logic: abstract
        pass

    child = Registry('model', parent=MODELS, scope='toy_project')
    try:
        MODELS.register_module(name='_ListedToy', module=Listed)
        MODELS.register_module(name='_UnfinishedToy', module=Unfinished)
        child.register_module(name='ChildToy', module=Listed)
        assert registered_sparse_backbones() == sorted(names +
                                                       ['_ListedToy', 'toy_project.ChildToy'])
    finally:
        MODELS.module_dict.pop('_ListedToy', None)
        MODELS.module_dict.pop('_UnfinishedToy', None)
        MODELS.children.pop('toy_project', None)
    assert registered_sparse_backbones() == names
