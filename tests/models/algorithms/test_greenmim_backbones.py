"""GreenMIM reads only the sparse-backbone contract: Twins, a third (toy) backbone, clear errors."""
import pytest
import torch
from mmpretrain.registry import MODELS
from torch import nn

import greenmim_mm  # noqa: F401  (registers the modules)
from greenmim_mm.models.backbones.sparse_backbone import (SparseMIMBackboneMixin,
                                                          registered_sparse_backbones)
from tests.helpers.tiny_models import tiny_svt_cfg
from tests.helpers.toy_backbone import ToySparseWindowNet  # noqa: F401  (registers the toy)

TINY_SVT = tiny_svt_cfg()


def cfg(backbone, embed_dim=32, **kwargs):
    out = dict(
        type='GreenMIM',
        backbone=backbone,
        neck=dict(
            type='GreenMIMPretrainDecoder',
            embed_dim=embed_dim,
            decoder_embed_dim=32,
            decoder_num_heads=2),
        head=dict(type='GreenMIMPretrainHead'),
        mask_ratio=0.5)
    out.update(kwargs)
    return out


class _PartialEncoder(SparseMIMBackboneMixin, nn.Module):
    """Keeps the contract's declarations but not its sparse forward."""
    stage_strides = [32]


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


@pytest.mark.parametrize('per_sample', [False, True])
def test_a_third_backbone_pretrains_from_its_stage_logic_alone(per_sample):
    # The toy of docs/en/add_a_backbone.md (exact against its dense oracle:
    # tests/models/backbones/test_sparse_backbone.py): 16-px units, 32 channels at the end.
    model = MODELS.build(
        cfg(dict(type='ToySparseWindowNet', out_indices=(1, )),
            mask_unit=16,
            per_sample_mask=per_sample,
            neck=dict(
                type='GreenMIMPretrainDecoder',
                patch_size=16,
                embed_dim=32,
                decoder_embed_dim=32,
                decoder_num_heads=2),
            head=dict(type='GreenMIMPretrainHead', patch_size=16)))
    torch.manual_seed(0)
    loss = model.loss(torch.randn(2, 3, 96, 64), [])['loss']
    loss.backward()
    assert torch.isfinite(loss)
    missing = [n for n, p in model.named_parameters() if p.grad is None]
    assert not missing, missing


def test_a_backbone_off_the_contract_is_refused_with_one_clear_error():
    plain = dict(TINY_SVT, type='SVT')  # mmpretrain's SVT: none of the contract
    with pytest.raises(ValueError) as err:
        MODELS.build(cfg(plain))
    message = str(err.value)
    assert message.startswith('GreenMIM needs a sparse backbone; SVT lacks `mask_unit`')
    for missing in ('`num_stages`', '`forward(x, mask)`'):
        assert missing in message  # every missing member, in the one error
    assert 'subclass SparseMIMBackboneMixin' in message and 'sparse_forward' in message
    # The backbones it offers are those registered, the toy registered by this module too.
    names = registered_sparse_backbones()
    assert {'GreenMIMSwinTransformer', 'GreenMIMPCPVT', 'GreenMIMSVT',
            'ToySparseWindowNet'} <= set(names)
    assert f'Use a registered sparse backbone ({", ".join(names)})' in message
    # SVT's own default_img_size does not exist: absent is reported, not taken for None.
    assert "`default_img_size` (an (H, W) pair or None, got 'absent')" in message


def test_the_mixin_names_what_a_subclass_has_left_to_write():
    with pytest.raises(TypeError, match='sparse_forward.*sparse_plan|sparse_plan.*sparse_fo'):
        _PartialEncoder()


def test_unit_and_out_indices_checks_use_the_declarations():
    with pytest.raises(
            ValueError, match=r"mask_unit=16 must equal the encoder's total stride "
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
        torch.testing.assert_close(
            dense.forward_masked(x, none), sparse.forward_masked(x, none), rtol=1e-4, atol=1e-5)
