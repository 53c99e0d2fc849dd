"""Mask generator: exact counts, batch-wise sharing, seed determinism, uniformity."""
import pytest
import torch

from greenmim_mm.models.utils.masking import (check_mask_ratio, mask_generator, num_visible_units,
                                              random_unit_mask, sorted_visible_indices, unit_grid,
                                              visible_indices)


def test_unit_grid():
    assert unit_grid((224, 224), 32) == (7, 7)
    assert unit_grid((192, 256), 32) == (6, 8)
    for bad in [(200, 224), (224, 0), (16, 32)]:
        with pytest.raises(ValueError, match='multiples of the mask unit'):
            unit_grid(bad, 32)


def test_num_visible_units_matches_spec_and_mae():
    assert num_visible_units(49, 0.75) == 12  # int(49 * 0.25), the paper's 224 setting
    assert num_visible_units(36, 0.75) == 9
    for n in range(1, 200):
        for ratio in (0.1, 0.25, 0.5, 0.6, 0.75, 0.9):
            exact = n * (1 - ratio)
            # MAE's int(n * (1 - r)), except where float rounding lands just below an integer
            expected = round(exact) if abs(exact - round(exact)) < 1e-9 else int(exact)
            if expected >= 1:
                assert num_visible_units(n, ratio) == expected, (n, ratio)
    assert num_visible_units(100, 0.9) == 10  # 100 * (1 - 0.9) = 9.999999999999998


@pytest.mark.parametrize('ratio', [0, 1, 1.5, -0.25, None, 'half', True])
def test_bad_ratio(ratio):
    with pytest.raises(ValueError, match='mask_ratio'):
        check_mask_ratio(ratio)
    with pytest.raises(ValueError, match='mask_ratio'):
        random_unit_mask(2, (7, 7), ratio)


def test_zero_visible_is_an_error():
    with pytest.raises(ValueError, match='mask_ratio=0.8 leaves no visible unit'):
        num_visible_units(4, 0.8)


@pytest.mark.parametrize('per_sample', [False, True])
@pytest.mark.parametrize('grid', [(7, 7), (6, 8), (1, 3)])
def test_exact_count_shape_dtype(per_sample, grid):
    gen = torch.Generator().manual_seed(0)
    for _ in range(20):
        mask = random_unit_mask(5, grid, 0.6, per_sample=per_sample, generator=gen)
        assert mask.shape == (5, *grid) and mask.dtype == torch.bool
        visible = (~mask).flatten(1).sum(1)
        assert visible.tolist() == [num_visible_units(grid[0] * grid[1], 0.6)] * 5


def test_batch_wise_shares_one_mask_per_sample_differs():
    gen = torch.Generator().manual_seed(1)
    shared = random_unit_mask(8, (7, 7), 0.75, per_sample=False, generator=gen)
    assert bool((shared == shared[:1]).all())
    own = random_unit_mask(8, (7, 7), 0.75, per_sample=True, generator=gen)
    # 8 independent draws of 12 of 49 units: all equal has probability ~C(49,12)^-7
    assert not bool((own == own[:1]).all())
    assert len({tuple(m.flatten().tolist()) for m in own}) > 1


def test_seed_determinism_and_generator_isolation():
    a = random_unit_mask(4, (7, 7), 0.75, per_sample=True, generator=mask_generator(3, 10))
    b = random_unit_mask(4, (7, 7), 0.75, per_sample=True, generator=mask_generator(3, 10))
    c = random_unit_mask(4, (7, 7), 0.75, per_sample=True, generator=mask_generator(3, 11))
    d = random_unit_mask(4, (7, 7), 0.75, per_sample=True, generator=mask_generator(4, 10))
    assert torch.equal(a, b)
    assert not torch.equal(a, c) and not torch.equal(a, d)
    # a generator never touches torch's global RNG
    state = torch.get_rng_state()
    random_unit_mask(4, (7, 7), 0.75, generator=mask_generator(0, 0))
    assert torch.equal(state, torch.get_rng_state())
    # the global RNG is used (and reproducible) without a generator
    torch.manual_seed(5)
    e = random_unit_mask(2, (7, 7), 0.75)
    torch.manual_seed(5)
    assert torch.equal(e, random_unit_mask(2, (7, 7), 0.75))


def test_mask_generator_seeds_are_mixed():
    seeds = {mask_generator(s, i).initial_seed() for s in range(20) for i in range(20)}
    assert len(seeds) == 400
    mask_generator(-1, 2**70)  # wrapped, no overflow


def test_every_unit_equally_likely():
    """Each unit is masked with probability ratio; 2000 draws -> within 5 sigma."""
    gen = torch.Generator().manual_seed(0)
    masks = random_unit_mask(2000, (7, 7), 0.75, per_sample=True, generator=gen)
    freq = masks.float().mean(0)  # (7, 7)
    p = 37 / 49
    sigma = (p * (1 - p) / 2000)**.5
    assert float((freq - p).abs().max()) < 5 * sigma


def test_device_argument_keeps_the_draw():
    """The draw happens on CPU: one seed gives the same mask on every device."""
    expected = random_unit_mask(2, (4, 4), 0.5, generator=torch.Generator().manual_seed(3))
    assert expected.shape == (2, 4, 4) and int((~expected[0]).sum()) == 8
    for device in ['cpu'] + (['cuda'] if torch.cuda.is_available() else []):
        mask = random_unit_mask(
            2, (4, 4), 0.5, generator=torch.Generator().manual_seed(3), device=device)
        assert mask.device.type == device
        assert torch.equal(mask.cpu(), expected)


def test_visible_indices():
    mask = torch.tensor([[[True, False, True], [False, True, True]],
                         [[False, True, True], [True, True, False]]])
    assert visible_indices(mask).tolist() == [[1, 3], [0, 5]]
    with pytest.raises(ValueError, match='same number of visible'):
        visible_indices(torch.tensor([[[True, False]], [[False, False]]]))


def test_sorted_visible_indices_equal_visible_indices():
    gen = torch.Generator().manual_seed(0)
    for per_sample in (False, True):
        mask = random_unit_mask(3, (7, 7), 0.75, per_sample=per_sample, generator=gen)
        expected = visible_indices(mask)  # (3, 12)
        assert torch.equal(sorted_visible_indices(mask, 12), expected)
