"""Random masks over GreenMIM's mask units, as small pure functions.

GreenMIM (`Huang et al., NeurIPS 2022 <https://arxiv.org/abs/2205.13515>`_) masks in units
of the encoder's total stride (32x32 px for a 4-stage Swin with patch 4), so every 2x2 block
merged by a patch merging layer is either fully visible or fully masked at every stage.

Conventions used everywhere in this package:

- A mask is a ``torch.bool`` tensor of shape ``(B, Hu, Wu)`` over the unit grid,
  ``True`` = masked (hidden from the encoder), ``False`` = visible.
- Every sample of a batch has the same number of visible units, so the encoder's visible
  tokens stack into ``(B, N_vis, C)``.

Determinism: :func:`mask_generator` seeds a CPU ``torch.Generator`` from ``(seed, iteration)``,
so the mask of a training step is a pure function of the run's seed and the step's index. It
does not touch torch's global RNG, is the same on every device and every DDP rank that shares
the seed, and is reproduced exactly when a run is resumed from a checkpoint.
"""
from typing import Optional, Sequence, Tuple, Union

import numpy as np
import torch

# Slack for ``num_units * (1 - mask_ratio)`` landing just under an integer through float
# rounding (e.g. 100 * (1 - 0.9) = 9.999999999999998 must keep 10 units, not 9).
_FLOOR_TOLERANCE = 1e-6


def unit_grid(img_hw: Sequence[int], mask_unit: int) -> Tuple[int, int]:
    """The grid of mask units that tiles an image.

    Args:
        img_hw (Sequence[int]): Image height and width in pixels.
        mask_unit (int): Side of a square mask unit in pixels.

    Returns:
        Tuple[int, int]: ``(Hu, Wu)``, the number of unit rows and columns.

    Raises:
        ValueError: If the height or width is not a positive multiple of ``mask_unit``.
    """
    h, w = int(img_hw[0]), int(img_hw[1])
    if mask_unit <= 0:
        raise ValueError(f'mask_unit must be a positive number of pixels, got {mask_unit}')
    if h <= 0 or w <= 0 or h % mask_unit or w % mask_unit:
        raise ValueError(f'GreenMIM needs the image height and width to be positive '
                         f'multiples of the mask unit ({mask_unit} px), got {h}x{w}')
    return h // mask_unit, w // mask_unit


def num_visible_units(num_units: int, mask_ratio: float) -> int:
    """How many units stay visible: ``floor(num_units * (1 - mask_ratio))``.

    This is MAE's ``int(L * (1 - mask_ratio))`` (ratio 0.75 on a 7x7 grid keeps
    ``int(49 * 0.25) = 12`` units), made robust to float rounding just below an integer.

    Args:
        num_units (int): Number of units in the grid.
        mask_ratio (float): Fraction of units to mask, in ``(0, 1)``.

    Returns:
        int: The number of visible units, at least 1.

    Raises:
        ValueError: If ``mask_ratio`` is not in ``(0, 1)`` or no unit would stay visible.
    """
    check_mask_ratio(mask_ratio)
    num_visible = int(num_units * (1.0 - mask_ratio) + _FLOOR_TOLERANCE)
    if num_visible < 1:
        raise ValueError(f'mask_ratio={mask_ratio} leaves no visible unit on a grid of '
                         f'{num_units} mask units; lower mask_ratio or use larger images')
    return num_visible


def check_mask_ratio(mask_ratio: float) -> None:
    """Raise a ``ValueError`` naming ``mask_ratio`` unless it lies in the open interval (0, 1).

    Args:
        mask_ratio (float): Fraction of units to mask.
    """
    if isinstance(mask_ratio, bool) or not isinstance(mask_ratio, (int, float)) \
            or not 0.0 < float(mask_ratio) < 1.0:
        raise ValueError(f'mask_ratio must be a number in the open interval (0, 1), '
                         f'got {mask_ratio!r}')


def random_unit_mask(batch_size: int,
                     grid_hw: Sequence[int],
                     mask_ratio: float,
                     per_sample: bool = False,
                     generator: Optional[torch.Generator] = None,
                     device: Union[str, torch.device, None] = None) -> torch.Tensor:
    """Draw a random mask over the unit grid with an exact number of masked units.

    Args:
        batch_size (int): Number of samples ``B``.
        grid_hw (Sequence[int]): The unit grid ``(Hu, Wu)``.
        mask_ratio (float): Fraction of units to mask, in ``(0, 1)``; the number kept visible
            is :func:`num_visible_units`.
        per_sample (bool): If False (the paper's setting), draw one mask and share it across
            the batch; if True, draw an independent mask per sample (same visible count).
            Defaults to False.
        generator (torch.Generator, optional): A CPU generator to draw from; None uses torch's
            global RNG. Defaults to None.
        device (str | torch.device, optional): Device of the returned mask. The draw itself
            always happens on CPU, so a seed gives the same mask on every device.
            Defaults to None (CPU).

    Returns:
        torch.Tensor: Bool mask of shape ``(B, Hu, Wu)``, True = masked.
    """
    hu, wu = int(grid_hw[0]), int(grid_hw[1])
    num_units = hu * wu
    num_visible = num_visible_units(num_units, mask_ratio)
    num_draws = batch_size if per_sample else 1

    noise = torch.rand(num_draws, num_units, generator=generator)  # (D, L)
    ids_keep = torch.argsort(noise, dim=1)[:, :num_visible]  # (D, N_vis)
    mask = torch.ones(num_draws, num_units, dtype=torch.bool)  # (D, L)
    mask.scatter_(1, ids_keep, False)
    mask = mask.view(num_draws, hu, wu).expand(batch_size, hu, wu)  # (B, Hu, Wu)
    return mask.contiguous().to(device)


def mask_generator(seed: int, iteration: int, stream: int = 0) -> torch.Generator:
    """A CPU generator whose state is a pure function of ``(seed, iteration, stream)``.

    The integers are mixed with numpy's ``SeedSequence`` (so nearby seeds and iterations
    give unrelated streams) into a 64-bit seed for a fresh ``torch.Generator``.

    Args:
        seed (int): The run's seed (any non-negative integer; negative ones are wrapped).
        iteration (int): The training iteration (0-based, as in mmengine's message hub).
        stream (int): An extra key, e.g. the DDP rank for per-sample masks. Defaults to 0,
            which gives the same stream as the two-key form.

    Returns:
        torch.Generator: A new CPU generator.
    """
    words = [int(seed) % 2**64, int(iteration) % 2**64]
    if stream:
        words.append(int(stream) % 2**64)
    state = np.random.SeedSequence(words).generate_state(1, dtype=np.uint64)[0]
    generator = torch.Generator(device='cpu')
    generator.manual_seed(int(state))
    return generator


def visible_indices(mask: torch.Tensor) -> torch.Tensor:
    """Row-major indices of the visible units of each sample.

    Args:
        mask (torch.Tensor): Bool mask ``(B, Hu, Wu)``, True = masked, with the same number of
            visible units in every sample.

    Returns:
        torch.Tensor: Long tensor ``(B, N_vis)``, increasing along dim 1.

    Raises:
        ValueError: If the samples have different visible counts.
    """
    batch_size = mask.shape[0]
    visible = ~mask.flatten(1)  # (B, L)
    counts = visible.sum(dim=1)
    if batch_size and bool((counts != counts[0]).any()):
        raise ValueError('every sample of a batch must keep the same number of visible '
                         f'units, got {counts.tolist()}')
    return visible.nonzero(as_tuple=True)[1].view(batch_size, -1)  # (B, N_vis)


def sorted_visible_indices(mask: torch.Tensor, num_visible: int) -> torch.Tensor:
    """:func:`visible_indices` without a host sync, for a known visible count.

    A stable sort puts the visible (False) units first, in row-major order. Nothing is
    checked (a check reads values on the host): use it where the mask was checked before,
    e.g. inside a compiled graph after the encoder's :func:`check_unit_mask`.

    Args:
        mask (torch.Tensor): Bool mask ``(B, Hu, Wu)``, True = masked, with ``num_visible``
            visible units in every sample.
        num_visible (int): N_vis.

    Returns:
        torch.Tensor: Long tensor ``(B, N_vis)``, increasing along dim 1.
    """
    order = torch.sort(mask.flatten(1).to(torch.uint8), dim=1, stable=True)[1]  # (B, L)
    return order[:, :num_visible]


def check_unit_mask(x: torch.Tensor,
                    mask: torch.Tensor,
                    mask_unit: int,
                    owner: str = 'the encoder') -> torch.Tensor:
    """Validate an encoder's input size and unit mask; returns the mask.

    Args:
        x (Tensor): (B, C, H, W) images.
        mask (Tensor): (B, H / unit, W / unit) bool, True = masked.
        mask_unit (int): the encoder's mask unit in pixels.
        owner (str): name used in the messages. Defaults to 'the encoder'.

    Returns:
        Tensor: ``mask``.

    Raises:
        ValueError: on sides that are not positive multiples of the unit, a mask of the wrong
            type or shape, a sample without visible units, or unequal visible counts.
    """
    unit = int(mask_unit)
    B, _, H, W = x.shape
    if H % unit or W % unit or H < unit or W < unit:
        raise ValueError(
            f'{owner} got an input of {H}x{W} px with a mask; masked inputs need a height '
            f'and width that are positive multiples of {unit} (the mask unit = patch size x '
            f'the downsampling of all stages). Resize or crop the images, e.g. to '
            f'{max(unit, H // unit * unit)}x{max(unit, W // unit * unit)}.')
    expected = (B, H // unit, W // unit)
    if not isinstance(mask, torch.Tensor) or mask.dtype != torch.bool or tuple(
            mask.shape) != expected:
        got = (f'{type(mask).__name__}' if not isinstance(mask, torch.Tensor) else
               f'{mask.dtype} tensor of shape {tuple(mask.shape)}')
        raise ValueError(f'mask must be a torch.bool tensor of shape (B, H/{unit}, '
                         f'W/{unit}) = {expected} (True = masked), got a {got}.')
    visible = (~mask).flatten(1).sum(1)
    if int(visible.min()) == 0:
        raise ValueError('mask hides every unit of at least one sample; keep at least '
                         'one visible unit (lower the mask ratio).')
    if bool((visible != visible[0]).any()):
        raise ValueError('per-sample masks must keep the same number of visible units '
                         f'in every sample, got {visible.tolist()}.')
    return mask
