"""A parameter's shadow always holds ``param.to(dtype)``, however the parameter changed."""
import gc

import torch
from torch import nn

from greenmim_mm.models.utils.precision.shadow_store import WeightShadow, shadow_of

BF16 = torch.bfloat16


def expect_current(p, dtype=BF16):
    shadow = shadow_of(p, dtype)
    assert shadow is not None and shadow.dtype == dtype
    assert torch.equal(shadow, p.detach().to(dtype))
    return shadow


def test_made_on_first_use_and_reused():
    p, other = nn.Parameter(torch.randn(5, 3)), nn.Parameter(torch.randn(3))
    keeper = WeightShadow([p])
    assert len(keeper) == 0 and shadow_of(other, BF16) is None
    first = expect_current(p)
    assert shadow_of(p, BF16) is first and len(keeper) == 1
    assert keeper.num_bytes() == 5 * 3 * 2


def test_never_stale():
    p = nn.Parameter(torch.randn(4, 4))
    keeper = WeightShadow([p])
    expect_current(p)
    with torch.no_grad():
        p.mul_(3)  # bumps the version counter
    expect_current(p)
    p.data = torch.randn(4, 4)  # new storage, same version
    expect_current(p)
    module = nn.Linear(4, 4)
    keeper = WeightShadow(module.parameters())
    expect_current(module.weight)
    module.load_state_dict({k: torch.randn_like(v) for k, v in module.state_dict().items()})
    expect_current(module.weight)
    expect_current(module.weight, torch.float16)  # another autocast dtype: cast anew
    assert len(keeper) == 1


def test_refresh_after_fused_optimizer_step():
    # Fused AdamW updates in place without bumping the version counter: only the refresh
    # after the step keeps the shadow current.
    p = nn.Parameter(torch.randn(6, 2))
    keeper = WeightShadow([p])
    before = expect_current(p).clone()
    version = p._version
    p.grad = torch.randn(6, 2)
    torch.optim.AdamW([p], lr=0.1, fused=True).step()
    assert p._version == version, 'fused AdamW bumps the version now: refresh is optional'
    assert torch.equal(shadow_of(p, BF16), before)  # what the refresh is for
    keeper.refresh()
    expect_current(p)


def test_none_in_inference_mode_without_a_shadow():
    p = nn.Parameter(torch.randn(2, 2))
    keeper = WeightShadow([p])
    with torch.inference_mode():
        assert shadow_of(p, BF16) is None
    expect_current(p)
    with torch.inference_mode():  # an existing one is read (and refreshed) there
        assert torch.equal(shadow_of(p, BF16), p.detach().to(BF16))
    assert len(keeper) == 1


def test_not_in_state_dict_and_released_with_its_keeper():
    module = nn.Linear(3, 3)
    keys = list(module.state_dict())
    keeper = WeightShadow(module.parameters())
    expect_current(module.weight)
    assert list(module.state_dict()) == keys
    del keeper
    gc.collect()
    assert shadow_of(module.weight, BF16) is None
