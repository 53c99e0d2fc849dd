"""GreenMIM reads no backbone internals: Twins, a toy encoder, and a clear error without a unit."""
import pytest
import torch
from mmpretrain.registry import MODELS
from torch import nn

import greenmim_mm  # noqa: F401  (registers the modules)

TINY_SVT = dict(
    type='GreenMIMSVT',
    arch=dict(embed_dims=[16, 16, 32, 32], depths=[2, 2, 2, 2], num_heads=[1, 1, 2, 2],
              patch_sizes=[4, 2, 2, 2], strides=[4, 2, 2, 2], mlp_ratios=[2, 2, 2, 2],
              sr_ratios=[8, 4, 2, 1], window_sizes=[7, 7, 7, 7]),
    qkv_bias=True,
    norm_after_stage=[False, False, False, True])


def cfg(backbone, embed_dim=32, **kwargs):
    out = dict(
        type='GreenMIM',
        backbone=backbone,
        neck=dict(type='GreenMIMPretrainDecoder', embed_dim=embed_dim, decoder_embed_dim=32,
                  decoder_num_heads=2),
        head=dict(type='GreenMIMPretrainHead'),
        mask_ratio=0.5)
    out.update(kwargs)
    return out


@MODELS.register_module(name='_ToyUnitEncoder', force=True)
class _ToyUnitEncoder(nn.Module):
    """Not Swin, not Twins: one linear map per 32-px unit, declares only its mask unit."""
    mask_unit = 32

    def __init__(self):
        super().__init__()
        self.proj = nn.Linear(3 * 32 * 32, 32)

    def forward(self, x, mask=None):
        B, C, H, W = x.shape
        units = x.view(B, C, H // 32, 32, W // 32, 32).permute(0, 2, 4, 1, 3, 5)
        units = units.reshape(B, (H // 32) * (W // 32), -1)  # (B, L, 3*32*32)
        if mask is not None:
            units = units[~mask.flatten(1)].view(B, -1, units.shape[-1])  # (B, N_vis, .)
        return (self.proj(units), )


@pytest.mark.parametrize('per_sample', [False, True])
def test_twins_pretraining_step_reaches_every_parameter(per_sample):
    model = MODELS.build(cfg(TINY_SVT, per_sample_mask=per_sample))
    model.init_weights()
    torch.manual_seed(0)
    loss = model.loss(torch.randn(2, 3, 96, 128), [])['loss']
    loss.backward()
    assert torch.isfinite(loss)
    missing = [n for n, p in model.named_parameters() if p.grad is None]
    assert not missing, missing
    assert model.extract_feat(torch.randn(1, 3, 64, 64))[-1].shape == (1, 32, 2, 2)  # dense


def test_any_backbone_declaring_its_unit_works():
    model = MODELS.build(cfg(dict(type='_ToyUnitEncoder')))
    loss = model.loss(torch.randn(2, 3, 96, 96), [])['loss']
    loss.backward()
    assert torch.isfinite(loss) and model.backbone.proj.weight.grad is not None


def test_a_backbone_without_a_mask_unit_is_refused_clearly():
    plain = dict(TINY_SVT, type='SVT')  # mmpretrain's SVT: no mask_unit, no forward(x, mask)
    with pytest.raises(ValueError, match=r'declares its mask unit.*forward\(x, mask\).*SVT'):
        MODELS.build(cfg(plain))


def test_unit_and_out_indices_checks_use_the_declarations():
    with pytest.raises(ValueError, match=r"mask_unit=16 must equal the encoder's total stride "
                       r'\(32 px'):
        MODELS.build(cfg(TINY_SVT, mask_unit=16))
    with pytest.raises(ValueError, match='out_indices'):
        MODELS.build(cfg(dict(TINY_SVT, out_indices=(2, ))))


def test_dense_baseline_runs_the_same_model_densely():
    dense = MODELS.build(cfg(TINY_SVT, type='GreenMIMDenseBaseline'))
    sparse = MODELS.build(cfg(TINY_SVT))
    sparse.load_state_dict(dense.state_dict())
    x = torch.randn(2, 3, 96, 96)
    mask = torch.zeros(2, 3, 3, dtype=torch.bool)
    mask[:, 0] = True
    dense.eval(), sparse.eval()
    with torch.no_grad():
        d = dense.forward_masked(x, mask)
        s = sparse.forward_masked(x, mask)
    assert d.shape == s.shape == (2, 9, 32 * 32 * 3)
    # The dense encoder sees zeros where the sparse one sees nothing: they differ (the
    # baseline is not exact, only equal in cost to SimMIM-style pretraining) ...
    assert not torch.allclose(d, s)
    # ... but with nothing masked, both are the same model.
    none = torch.zeros_like(mask)
    with torch.no_grad():
        torch.testing.assert_close(dense.forward_masked(x, none), sparse.forward_masked(x, none),
                                   rtol=1e-4, atol=1e-5)
