"""Reconstruction pictures: pure panel builders and a training hook that saves them."""
from typing import List, Optional, Sequence, Tuple

import cv2
import numpy as np
import torch
from mmengine.dist import is_main_process
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmpretrain.registry import HOOKS

from ...models.utils.masking import mask_generator

PANEL_TITLES = ('original', 'masked', 'reconstruction', 'reconstruction + visible')
Tensor = torch.Tensor


def to_uint8_images(imgs: Tensor, mean: Optional[Tensor], std: Optional[Tensor]) -> np.ndarray:
    """Undo the data pre-processor's normalisation: ``(B, 3, H, W)`` -> ``(B, H, W, 3)`` uint8.

    Args:
        imgs (Tensor): Images in the pre-processed space (RGB when the pre-processor converts).
        mean (Tensor, optional): The pre-processor's ``mean`` buffer ``(3, 1, 1)``; None means
            no normalisation was applied.
        std (Tensor, optional): The pre-processor's ``std`` buffer ``(3, 1, 1)``.

    Returns:
        np.ndarray: Images in 0..255, channel order unchanged.
    """
    imgs = imgs.detach().float().cpu()
    if mean is not None and std is not None:
        imgs = imgs * std.float().cpu() + mean.float().cpu()  # (B, 3, H, W)
    imgs = imgs.clamp(0, 255).round().to(torch.uint8)
    return imgs.permute(0, 2, 3, 1).numpy()  # (B, H, W, 3)


def unit_mask_to_pixels(mask: Tensor, img_hw: Sequence[int]) -> Tensor:
    """Upsample a unit mask ``(B, Hu, Wu)`` to a pixel mask ``(B, 1, H, W)`` (bool)."""
    hu, wu = mask.shape[-2:]
    ry, rx = int(img_hw[0]) // hu, int(img_hw[1]) // wu
    pix = mask.repeat_interleave(ry, dim=1).repeat_interleave(rx, dim=2)  # (B, H, W)
    return pix.unsqueeze(1)  # (B, 1, H, W)


def reconstruction_panels(inputs: Tensor,
                          pred_imgs: Tensor,
                          mask: Tensor,
                          mean: Optional[Tensor] = None,
                          std: Optional[Tensor] = None,
                          titles: bool = True) -> List[np.ndarray]:
    """Build one RGB picture per image: original | masked | reconstruction | pasted.

    Args:
        inputs (Tensor): Pre-processed input images ``(B, 3, H, W)``.
        pred_imgs (Tensor): Reconstructions in the same space ``(B, 3, H, W)`` (the model's
            ``reconstruct``, already de-normalised per unit when ``norm_pix`` is on).
        mask (Tensor): Bool unit mask ``(B, Hu, Wu)``, True = masked.
        mean (Tensor, optional): Pre-processor mean ``(3, 1, 1)``. Defaults to None.
        std (Tensor, optional): Pre-processor std ``(3, 1, 1)``. Defaults to None.
        titles (bool): Add a title strip above the four panels. Defaults to True.

    Returns:
        List[np.ndarray]: ``B`` uint8 arrays ``(H [+ strip], 4 * W, 3)``.

    The masked panel fills masked units with 0 in the pre-processed space (the dataset mean
    colour); the last panel keeps the original pixels of the visible units and shows the
    reconstruction in the masked ones.
    """
    inputs = inputs.detach().float().cpu()
    pred_imgs = pred_imgs.detach().float().cpu()
    pix_mask = unit_mask_to_pixels(mask.cpu(), inputs.shape[-2:])  # (B, 1, H, W)
    masked = inputs.masked_fill(pix_mask, 0.)
    pasted = torch.where(pix_mask, pred_imgs, inputs)
    columns = [to_uint8_images(x, mean, std) for x in (inputs, masked, pred_imgs, pasted)]
    panels = []
    for i in range(inputs.shape[0]):
        row = np.concatenate([col[i] for col in columns], axis=1)  # (H, 4W, 3)
        if titles:
            row = np.concatenate([_title_strip(inputs.shape[-1]), row], axis=0)
        panels.append(np.ascontiguousarray(row))
    return panels


def _title_strip(width: int, height: int = 20) -> np.ndarray:
    """A white strip ``(height, 4 * width, 3)`` with the four panel titles."""
    strip = np.full((height, 4 * width, 3), 255, dtype=np.uint8)
    scale = max(0.3, min(0.45, width / 500))
    for k, title in enumerate(PANEL_TITLES):
        cv2.putText(strip, title, (k * width + 4, height - 6), cv2.FONT_HERSHEY_SIMPLEX, scale,
                    (0, 0, 0), 1, cv2.LINE_AA)
    return strip


def preprocessor_stats(model: torch.nn.Module) -> Tuple[Optional[Tensor], Optional[Tensor]]:
    """The data pre-processor's ``(mean, std)`` buffers, or ``(None, None)`` without them."""
    preprocessor = getattr(model, 'data_preprocessor', None)
    if not getattr(preprocessor, '_enable_normalize', False):
        return None, None
    return preprocessor.mean, preprocessor.std


@torch.no_grad()
def reconstruct_batch(model: torch.nn.Module,
                      inputs: Tensor,
                      generator: Optional[torch.Generator] = None,
                      mask: Optional[Tensor] = None) -> Tuple[Tensor, Tensor]:
    """Run ``model.reconstruct`` in eval mode without gradients, restoring the mode.

    Args:
        model (nn.Module): A :class:`GreenMIM` model (not a DDP wrapper).
        inputs (Tensor): Pre-processed images ``(B, 3, H, W)``.
        generator (torch.Generator, optional): Generator of the mask, e.g.
            :func:`mask_generator`; a private one keeps torch's global RNG (and so training)
            untouched. Defaults to None (global RNG).
        mask (Tensor, optional): A given mask ``(B, Hu, Wu)`` instead. Defaults to None.

    Returns:
        Tuple[Tensor, Tensor]: Reconstructed images and the mask.
    """
    was_training = model.training
    model.eval()
    try:
        return model.reconstruct(inputs, mask=mask, generator=generator)
    finally:
        model.train(was_training)


@HOOKS.register_module()
class ReconstructionVisHook(Hook):
    """Save reconstruction pictures of the current training batch every ``interval`` iters.

    Each picture shows original | masked input | reconstruction | reconstruction pasted into
    the visible pixels (see :func:`reconstruction_panels`), for the first ``num_images`` images
    of the batch, with a fixed mask drawn from ``seed``. Pictures go to the runner's
    visualizer (with ``LocalVisBackend``: ``<work_dir>/<timestamp>/vis_data/vis_image/
    reconstruction_<k>_<iter>.png``). Only the main process draws them; the hook uses a
    private generator and never touches the global RNG, so it does not change training.

    Args:
        interval (int): Draw every ``interval`` training iterations. Defaults to 500.
        num_images (int): Images of the batch to draw. Defaults to 2.
        seed (int): Seed of the mask used for the pictures. Defaults to 0.
    """

    priority = 'LOW'

    def __init__(self, interval: int = 500, num_images: int = 2, seed: int = 0) -> None:
        if interval < 1 or num_images < 1:
            raise ValueError('interval and num_images must be positive, got '
                             f'interval={interval}, num_images={num_images}')
        self.interval = interval
        self.num_images = num_images
        self.seed = seed

    def after_train_iter(self, runner, batch_idx: int, data_batch=None, outputs=None) -> None:
        if data_batch is None or not self.every_n_train_iters(runner, self.interval):
            return
        if not is_main_process():
            return
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        data = model.data_preprocessor(data_batch, False)
        inputs = data['inputs'][:self.num_images]
        pred_imgs, mask = reconstruct_batch(model, inputs, mask_generator(self.seed, 0))
        mean, std = preprocessor_stats(model)
        for k, panel in enumerate(reconstruction_panels(inputs, pred_imgs, mask, mean, std)):
            runner.visualizer.add_image(f'reconstruction_{k}', panel, step=runner.iter + 1)
