"""GreenMIM algorithm: build-time checks, hand-computed loss, deterministic masks, AMP."""
import pytest
import torch
from mmpretrain.registry import MODELS

import greenmim_mm  # noqa: F401  (registers the modules)
from greenmim_mm.models.algorithms import GreenMIM
from greenmim_mm.models.backbones import GreenMIMSwinTransformer
from greenmim_mm.models.utils.masking import mask_generator, random_unit_mask
from tests.helpers import tiny_greenmim_cfg

IMG = 96  # a 3x3 grid of 32-px units


def build(**kwargs) -> GreenMIM:
    model = MODELS.build(tiny_greenmim_cfg(**kwargs))
    model.init_weights()
    return model


def spy_masks(model: GreenMIM) -> list:
    """Record the masks the encoder receives."""
    seen = []
    forward = model.backbone.forward

    def spy(x, mask=None):
        seen.append(None if mask is None else mask.clone())
        return forward(x, mask)

    model.backbone.forward = spy
    return seen


@pytest.mark.parametrize('kwargs, message', [
    (dict(mask_ratio=0), 'mask_ratio must be a number in the open interval'),
    (dict(mask_ratio=1.0), 'mask_ratio must be a number in the open interval'),
    (dict(mask_ratio=1.5), 'mask_ratio'),
    (dict(mask_ratio=-0.1), 'mask_ratio'),
    (dict(mask_ratio=0.95), r'mask_ratio=0.95 leaves no visible unit.*96x96'),
    (dict(mask_unit=16), r"mask_unit=16 must equal the encoder's total stride \(32 px"),
    (dict(mask_unit=64), 'mask_unit=64'),
    (dict(neck=dict(patch_size=16)), 'neck.patch_size=16 must equal mask_unit=32'),
    (dict(head=dict(patch_size=16)), 'head.patch_size=16 must equal mask_unit=32'),
    (dict(backbone=dict(out_indices=(2, ))), 'out_indices'),
])
def test_invalid_settings_fail_at_build(kwargs, message):
    with pytest.raises(ValueError, match=message):
        MODELS.build(tiny_greenmim_cfg(**kwargs))


def test_the_mask_unit_is_the_swin_total_stride():
    swin = GreenMIMSwinTransformer(arch='tiny')
    assert swin.stage_strides == [4, 8, 16, 32] and swin.mask_unit == 32
    swin = GreenMIMSwinTransformer(arch='tiny', patch_size=2, img_size=128)
    assert swin.mask_unit == 16 and swin.num_stages == 4 and swin.default_img_size == (128, 128)


def test_defaults():
    model = build()
    assert type(model.data_preprocessor).__name__ == 'SelfSupDataPreprocessor'
    assert model.mask_unit == 32 and not model.per_sample_mask and model.mask_seed is None
    assert GreenMIM.__init__.__defaults__[0] == 0.75  # mask_ratio default


def test_loss_equals_hand_computed_value(hub_iter):
    """With a zero predictor the loss is the mean over masked units of (D-1)/D * v/(v+eps)."""
    model = build(mask_seed=123)
    torch.nn.init.zeros_(model.neck.decoder_pred.weight)
    torch.nn.init.zeros_(model.neck.decoder_pred.bias)
    gen = torch.Generator().manual_seed(0)
    scale = torch.arange(1., 10.).view(1, 1, 3, 3).repeat_interleave(32, 2).repeat_interleave(
        32, 3)  # a different spread per unit: the value depends on which units are masked
    inputs = torch.randn(2, 3, IMG, IMG, generator=gen) * scale
    hub_iter(7)
    loss = model.loss(inputs, [])['loss']

    mask = random_unit_mask(2, (3, 3), 0.5, generator=mask_generator(123, 7))  # (2, 3, 3)
    d = 32 * 32 * 3
    per_unit = []
    for b in range(2):
        for r in range(3):
            for c in range(3):
                if mask[b, r, c]:
                    unit = inputs[b, :, 32 * r:32 * r + 32, 32 * c:32 * c + 32].double()
                    var = unit.var()  # unbiased, over the unit's 3072 values
                    per_unit.append((d - 1) / d * var / (var + 1e-6))
    expected = torch.stack(per_unit).mean()
    assert len(per_unit) == 2 * 5
    assert loss.item() == pytest.approx(expected.item(), rel=1e-5)


def test_masks_are_a_function_of_seed_and_iter(hub_iter):
    model = build(mask_seed=5)
    seen = spy_masks(model)
    inputs = torch.randn(2, 3, IMG, IMG)
    for i in (3, 3, 4):
        hub_iter(i)
        model.loss(inputs, [])
    assert torch.equal(seen[0], seen[1]) and not torch.equal(seen[0], seen[2])
    assert torch.equal(seen[0], random_unit_mask(2, (3, 3), 0.5, generator=mask_generator(5, 3)))
    assert bool((seen[0] == seen[0][:1]).all())  # batch-wise: one mask for the batch


def test_mask_seed_defaults_to_the_runner_seed(hub_iter):
    """mask_seed=None follows torch.initial_seed(), i.e. the seed the runner gave torch."""
    model = build()
    seen = spy_masks(model)
    hub_iter(9)
    torch.manual_seed(2024)
    model.loss(torch.randn(2, 3, IMG, IMG), [])
    assert torch.equal(seen[0], random_unit_mask(2, (3, 3), 0.5, generator=mask_generator(2024, 9)))


def test_training_step_leaves_global_rng_alone(hub_iter):
    model = build()
    inputs = torch.randn(2, 3, IMG, IMG)
    hub_iter(0)
    state = torch.get_rng_state()
    model.loss(inputs, [])['loss'].backward()
    assert torch.equal(state, torch.get_rng_state())


def test_outside_a_loop_masks_come_from_the_global_rng(no_iter):
    model = build()
    seen = spy_masks(model)
    torch.manual_seed(0)
    model.loss(torch.randn(2, 3, IMG, IMG), [])
    torch.manual_seed(0)
    torch.randn(2, 3, IMG, IMG)  # the same draws as above before the mask
    assert torch.equal(seen[0], random_unit_mask(2, (3, 3), 0.5))


def test_per_sample_masks(hub_iter):
    model = build(per_sample_mask=True)
    seen = spy_masks(model)
    hub_iter(1)
    model.loss(torch.randn(6, 3, IMG, IMG), [])
    mask = seen[0]
    assert (~mask).flatten(1).sum(1).tolist() == [4] * 6
    assert not bool((mask == mask[:1]).all())


def test_fwd_bwd_reaches_every_parameter(no_iter):
    model = build()
    loss = model(torch.randn(2, 3, IMG, IMG), [], mode='loss')['loss']
    loss.backward()
    assert torch.isfinite(loss)
    missing = [n for n, p in model.named_parameters() if p.requires_grad and p.grad is None]
    assert not missing


def test_bf16_autocast(no_iter):
    model = build()
    with torch.autocast('cpu', dtype=torch.bfloat16):
        loss = model.loss(torch.randn(2, 3, IMG, IMG), [])['loss']
    loss.backward()
    assert loss.dtype == torch.float32 and torch.isfinite(loss)
    assert all(torch.isfinite(p.grad).all() for p in model.parameters() if p.grad is not None)


def test_non_square_inputs(no_iter):
    model = build()
    loss = model.loss(torch.randn(2, 3, 96, 192), [])['loss']  # a 3x6 grid, 9 visible
    assert torch.isfinite(loss)
    with pytest.raises(ValueError, match='multiples'):
        model.loss(torch.randn(2, 3, 100, 96), [])


def test_extract_feat_is_dense():
    model = build()
    feats = model(torch.randn(2, 3, IMG, IMG), mode='tensor')
    assert feats[-1].shape == (2, 128, 3, 3)


def test_reconstruct(no_iter):
    model = build()
    inputs = torch.randn(2, 3, IMG, IMG)
    with torch.no_grad():
        imgs, mask = model.reconstruct(inputs, generator=mask_generator(0, 0))
        again, mask2 = model.reconstruct(inputs, mask=mask)
    assert imgs.shape == inputs.shape and mask.shape == (2, 3, 3)
    assert torch.equal(mask, mask2) and torch.allclose(imgs, again)


def test_overfits_a_batch(hub_iter):
    """A few AdamW steps on one batch lower the loss (the decoder and encoder learn)."""
    torch.manual_seed(0)
    model = build(mask_seed=0)
    inputs = torch.randn(2, 3, IMG, IMG)
    optim = torch.optim.AdamW(model.parameters(), lr=1e-3)
    losses = []
    for _ in range(15):
        hub_iter(0)  # the same mask every step
        loss = model.loss(inputs, [])['loss']
        optim.zero_grad()
        loss.backward()
        optim.step()
        losses.append(loss.item())
    assert losses[-1] < 0.9 * losses[0]
