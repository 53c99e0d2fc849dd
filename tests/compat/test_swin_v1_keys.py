"""v1 (mmcls 0.x) Swin checkpoints load into GreenMIMSwinTransformer as into SwinTransformer."""
from collections import OrderedDict
from typing import Optional

import pytest
import torch
import torch.nn as nn
from mmpretrain.models.backbones import SwinTransformer

from greenmim_mm.compat import swin_v1_keys
from greenmim_mm.models.backbones.greenmim_swin import GreenMIMSwinTransformer

ARCH = dict(embed_dims=16, depths=[1, 1, 2, 1], num_heads=[1, 2, 2, 4])


def swin(cls=SwinTransformer, **kwargs) -> nn.Module:
    torch.manual_seed(0)
    model = cls(arch=ARCH, img_size=128, window_size=4, drop_path_rate=0., **kwargs)
    model.eval()  # SwinTransformer.train() returns None: no chaining
    return model


def v1_state_dict(model: nn.Module, version: Optional[int], prefix: str = '') -> OrderedDict:
    """The model's weights as an mmcls 0.x checkpoint holds them: the last output norm under
    ``norm.*``, the shifted blocks' ``attn_mask`` buffers stored, an old (or no) version."""
    state = OrderedDict()
    for key, value in model.state_dict().items():
        if key.startswith('norm3.'):
            key = 'norm.' + key[len('norm3.'):]
        state[prefix + key] = value.clone()
    state[prefix + 'stages.0.blocks.0.attn.attn_mask'] = torch.zeros(4, 16, 16)
    if version is not None:
        state._metadata = OrderedDict({prefix[:-1]: dict(version=version)})
    return state


def test_upstream_still_skips_subclasses():
    """mmpretrain upgrades v1 keys for SwinTransformer itself only; the day a subclass gets
    them too, this fails: delete greenmim_mm/compat/swin_v1_keys.py."""
    assert swin_v1_keys.NEEDED

    class Subclass(SwinTransformer):
        pass

    with pytest.raises(RuntimeError, match='norm3'):
        swin(Subclass).load_state_dict(v1_state_dict(swin(), None), strict=True)


@pytest.mark.parametrize('version', [None, 1])
def test_v1_checkpoint_loads_strictly_and_matches_swin(version):
    source = swin(out_indices=(0, 1, 2, 3))
    for p in source.parameters():  # weights unlike any fresh initialisation
        p.data.normal_(0, 0.2)
    reference, ours = swin(out_indices=(0, 1, 2, 3)), swin(
        GreenMIMSwinTransformer, out_indices=(0, 1, 2, 3))
    reference.load_state_dict(v1_state_dict(source, version), strict=True)
    ours.load_state_dict(v1_state_dict(source, version), strict=True)
    assert torch.equal(ours.norm3.weight, source.norm3.weight)
    x = torch.randn(2, 3, 128, 128)
    with torch.no_grad():
        for a, b in zip(reference(x), ours(x)):
            torch.testing.assert_close(a, b, rtol=0, atol=0)


def test_v1_keys_under_a_prefix():
    """As mmdet loads a whole detector checkpoint: the backbone's keys carry 'backbone.'."""
    source = swin()
    holder = nn.Module()
    holder.backbone = swin(GreenMIMSwinTransformer)
    holder.load_state_dict(v1_state_dict(source, None, prefix='backbone.'), strict=True)
    assert torch.equal(holder.backbone.norm3.bias, source.norm3.bias)


def test_current_checkpoints_are_untouched():
    source = swin(GreenMIMSwinTransformer)
    state = source.state_dict()
    assert any(k.startswith('norm3.') for k in state)
    swin(GreenMIMSwinTransformer).load_state_dict(state, strict=True)
