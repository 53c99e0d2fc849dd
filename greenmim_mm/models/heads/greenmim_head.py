"""GreenMIM's pixel head: per-unit targets, the masked MSE, and the inverse for pictures."""
from typing import Optional, Tuple

import torch
from mmpretrain.models.heads import MAEPretrainHead
from mmpretrain.registry import MODELS

NORM_PIX_EPS = 1e-6


@MODELS.register_module()
class GreenMIMPretrainHead(MAEPretrainHead):
    """Reconstruction head of `GreenMIM <https://arxiv.org/abs/2205.13515>`_.

    mmpretrain's ``MAEPretrainHead`` with patch = mask unit (32 px), extended to non-square
    images and to GreenMIM's unit-grid masks. With ``norm_pix=True`` the target of a unit is
    its ``patch_size**2 * in_channels`` values normalised by their own mean and (unbiased)
    variance, eps 1e-6; with mmpretrain's ``PixelReconstructionLoss('L2')`` the loss is the
    MSE per unit averaged over the masked units only.

    Args:
        loss (dict): Loss config. Defaults to
            ``dict(type='PixelReconstructionLoss', criterion='L2')``.
        norm_pix (bool): Normalise each unit's target pixels. Defaults to True.
        patch_size (int): Side of a mask unit in pixels. Defaults to 32.
        in_channels (int): Image channels. Defaults to 3.
    """

    def __init__(self,
                 loss: dict = dict(type='PixelReconstructionLoss', criterion='L2'),
                 norm_pix: bool = True,
                 patch_size: int = 32,
                 in_channels: int = 3) -> None:
        super().__init__(
            loss=loss, norm_pix=norm_pix, patch_size=patch_size, in_channels=in_channels)

    def patchify(self, imgs: torch.Tensor) -> torch.Tensor:
        """Split ``(B, C, H, W)`` images into units ``(B, Hu * Wu, p * p * C)``, row-major.

        The value order inside a unit is (row, column, channel), as MAE's.
        """
        p, c = self.patch_size, self.in_channels
        batch_size, _, h, w = imgs.shape
        if h % p or w % p:
            raise ValueError(f'image size {h}x{w} is not a multiple of the unit ({p} px)')
        hu, wu = h // p, w // p
        x = imgs.reshape(batch_size, c, hu, p, wu, p)  # (B, C, Hu, p, Wu, p)
        x = torch.einsum('nchpwq->nhwpqc', x)  # (B, Hu, Wu, p, p, C)
        return x.reshape(batch_size, hu * wu, p * p * c)  # (B, L, p*p*C)

    def unpatchify(self,
                   x: torch.Tensor,
                   grid_hw: Optional[Tuple[int, int]] = None) -> torch.Tensor:
        """Inverse of :meth:`patchify`: ``(B, Hu * Wu, p * p * C)`` -> ``(B, C, H, W)``.

        Args:
            x (torch.Tensor): Units in row-major order.
            grid_hw (Tuple[int, int], optional): The unit grid; None means square.
        """
        p, c = self.patch_size, self.in_channels
        if grid_hw is None:
            hu = wu = int(round(x.shape[1]**.5))
        else:
            hu, wu = grid_hw
        if hu * wu != x.shape[1]:
            raise ValueError(f'{x.shape[1]} units do not fill a {hu}x{wu} grid')
        x = x.reshape(x.shape[0], hu, wu, p, p, c)  # (B, Hu, Wu, p, p, C)
        x = torch.einsum('nhwpqc->nchpwq', x)  # (B, C, Hu, p, Wu, p)
        return x.reshape(x.shape[0], c, hu * p, wu * p)  # (B, C, H, W)

    def unit_stats(self, imgs: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        """Per-unit mean and unbiased variance of the images, each ``(B, L, 1)``."""
        units = self.patchify(imgs)  # (B, L, p*p*C)
        return units.mean(dim=-1, keepdim=True), units.var(dim=-1, keepdim=True)

    def construct_target(self, target: torch.Tensor) -> torch.Tensor:
        """Units of the input images, normalised per unit when ``norm_pix``: ``(B, L, p*p*C)``."""
        units = self.patchify(target.float())  # (B, L, p*p*C)
        if self.norm_pix:
            mean = units.mean(dim=-1, keepdim=True)
            var = units.var(dim=-1, keepdim=True)
            units = (units - mean) / (var + NORM_PIX_EPS)**.5
        return units

    def loss(self, pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """MSE over the masked units.

        Args:
            pred (torch.Tensor): Decoder output ``(B, L, p*p*C)``.
            target (torch.Tensor): The (pre-processed) input images ``(B, C, H, W)``.
            mask (torch.Tensor): Bool mask ``(B, Hu, Wu)`` (or ``(B, L)``), True = masked.

        Returns:
            torch.Tensor: Scalar loss (float32 even under autocast).
        """
        target = self.construct_target(target)  # (B, L, p*p*C)
        weight = mask.flatten(1).float()  # (B, L)
        return self.loss_module(pred.float(), target, weight)

    def to_pixels(self, pred: torch.Tensor, imgs: torch.Tensor) -> torch.Tensor:
        """Turn predictions into an image in the input's (pre-processed) space.

        With ``norm_pix`` each predicted unit is de-normalised with the mean and variance of
        the same unit of ``imgs`` (the statistics the target was normalised with).

        Args:
            pred (torch.Tensor): Decoder output ``(B, L, p*p*C)``.
            imgs (torch.Tensor): The input images ``(B, C, H, W)``.

        Returns:
            torch.Tensor: Predicted images ``(B, C, H, W)`` in float32.
        """
        pred = pred.float()
        if self.norm_pix:
            mean, var = self.unit_stats(imgs.float())  # (B, L, 1) each
            pred = pred * (var + NORM_PIX_EPS)**.5 + mean  # (B, L, p*p*C)
        p = self.patch_size
        return self.unpatchify(pred, (imgs.shape[2] // p, imgs.shape[3] // p))
