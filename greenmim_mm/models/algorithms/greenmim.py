"""The GreenMIM self-supervisor: mask in units, encode visible tokens, decode, MSE."""
from typing import Dict, List, Optional, Tuple, Union

import torch
from mmengine.dist import broadcast_object_list, get_rank, get_world_size
from mmengine.logging import MessageHub
from mmengine.optim import OptimWrapper
from mmpretrain.models.selfsup.base import BaseSelfSupervisor
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample
from torch import nn

from ..backbones.sparse_backbone import check_sparse_backbone
from ..utils.masking import (check_mask_ratio, mask_generator, num_visible_units, random_unit_mask,
                             unit_grid)


@torch.compiler.disable
def _update_params(optim_wrapper: OptimWrapper, loss: torch.Tensor) -> None:
    """``optim_wrapper.update_params(loss)``, never traced by ``torch.compile``."""
    optim_wrapper.update_params(loss)


@MODELS.register_module()
class GreenMIM(BaseSelfSupervisor):
    """GreenMIM: masked image modeling on a hierarchical encoder that sees visible tokens only.

    Implementation of `Green Hierarchical Vision Transformer for Masked Image Modeling
    <https://arxiv.org/abs/2205.13515>`_ (Huang et al., NeurIPS 2022).

    Each training step draws a random mask over the grid of ``mask_unit`` px units (one mask
    for the whole batch by default, as in the paper), runs the encoder on the visible tokens
    only, decodes all units and returns the reconstruction loss of the masked units.

    Mask sampling is deterministic during training: the mask of iteration ``i`` (mmengine's
    message-hub ``iter``, restored on resume) comes from :func:`mask_generator` seeded with
    ``(seed, i)``, where ``seed`` is ``mask_seed`` or, when None, rank 0's
    ``torch.initial_seed()`` -- the seed mmengine's runner gives torch (``randomness.seed``,
    restored from the checkpoint on resume). So a resumed run sees the same masks as an
    uninterrupted one, and every DDP rank draws the same batch-wise mask (one grouping for
    the global batch) even with ``randomness.diff_rank_seed=True``; per-sample masks also mix
    in the rank. Outside a training loop (no ``iter`` in the message hub) masks come from
    torch's global RNG.

    Args:
        backbone (dict): Encoder config, e.g. ``GreenMIMSwinTransformer``,
            ``GreenMIMPCPVT`` or ``GreenMIMSVT``: a backbone that keeps the contract of
            :class:`~greenmim_mm.models.backbones.sparse_backbone.SparseMIMBackboneMixin`
            (``mask_unit``, ``num_stages``, ``default_img_size`` and a ``forward(x, mask)``
            returning the visible tokens of its out stages, the last one being the final
            stage, ``(B, N_vis, C)``), checked at build time.
        neck (dict): Decoder config, e.g. ``GreenMIMPretrainDecoder``.
        head (dict): Head config with the loss, e.g. ``GreenMIMPretrainHead``.
        mask_ratio (float): Fraction of units masked, in ``(0, 1)``. Defaults to 0.75.
        mask_unit (int): Mask unit in pixels; must equal the encoder's total stride.
            Defaults to 32.
        per_sample_mask (bool): Draw an independent mask per sample instead of one per batch.
            Defaults to False.
        mask_seed (int, optional): Fixed base seed for the masks; None follows the runner's
            seed. Defaults to None.
        pretrained (str, optional): Checkpoint to initialise from. Defaults to None.
        data_preprocessor (dict | nn.Module, optional): Defaults to None
            (``SelfSupDataPreprocessor``).
        init_cfg (dict | list[dict], optional): Initialization config. Defaults to None.
    """

    def __init__(self,
                 backbone: dict,
                 neck: dict,
                 head: dict,
                 mask_ratio: float = 0.75,
                 mask_unit: int = 32,
                 per_sample_mask: bool = False,
                 mask_seed: Optional[int] = None,
                 pretrained: Optional[str] = None,
                 data_preprocessor: Optional[Union[dict, nn.Module]] = None,
                 init_cfg: Optional[Union[List[dict], dict]] = None) -> None:
        check_mask_ratio(mask_ratio)  # fail before building a large encoder
        super().__init__(
            backbone=backbone,
            neck=neck,
            head=head,
            pretrained=pretrained,
            data_preprocessor=data_preprocessor,
            init_cfg=init_cfg)
        self.mask_ratio = float(mask_ratio)
        self.mask_unit = int(mask_unit)
        self.per_sample_mask = bool(per_sample_mask)
        self.mask_seed = mask_seed
        self._rank0_seed: Optional[int] = None
        self._check_config()

    def _check_config(self) -> None:
        """Validate the backbone's contract, the unit against the encoder and the decoder, and
        the visible count. Only what the contract declares is read of the backbone."""
        check_sparse_backbone(self.backbone, type(self).__name__)
        stride = self.backbone.mask_unit
        if self.mask_unit != stride:
            raise ValueError(f'mask_unit={self.mask_unit} must equal the encoder\'s total '
                             f'stride ({stride} px, its declared `mask_unit`), so every '
                             'merged or reduced block is fully visible or fully masked')
        for name, part in (('neck', self.neck), ('head', self.head)):
            size = getattr(part, 'patch_size', self.mask_unit)
            if size != self.mask_unit:
                raise ValueError(f'{name}.patch_size={size} must equal mask_unit='
                                 f'{self.mask_unit}: the model predicts one mask unit per token')
        out_indices = tuple(getattr(self.backbone, 'out_indices', ()))
        num_stages = self.backbone.num_stages
        if out_indices and max(out_indices) != num_stages - 1:
            raise ValueError(f'backbone.out_indices={out_indices} must include the final stage '
                             f'({num_stages - 1}): the decoder reads final-stage tokens')
        img_hw = self.backbone.default_img_size
        if img_hw is not None:
            grid = unit_grid(img_hw, self.mask_unit)
            try:
                num_visible_units(grid[0] * grid[1], self.mask_ratio)
            except ValueError as err:
                raise ValueError(f'{err} (backbone img_size {img_hw[0]}x{img_hw[1]}: '
                                 f'{grid[0]}x{grid[1]} units of {self.mask_unit} px)') from None

    def train_step(self, data: Union[dict, tuple, list],
                   optim_wrapper: OptimWrapper) -> Dict[str, torch.Tensor]:
        """mmengine's ``BaseModel.train_step``, the parameter update kept out of compilation.

        mmengine's ``compile=True`` wraps this method in ``torch.compile``; dynamo then
        traces the forward and the loss, while ``optim_wrapper.update_params`` (backward
        and the optimizer step, whose ``ConfigDict`` parameter groups dynamo cannot trace)
        runs eagerly. Without compilation this is the parent's step.

        Args:
            data (dict | tuple | list): A batch from the data loader.
            optim_wrapper (OptimWrapper): Updates the parameters.

        Returns:
            Dict[str, torch.Tensor]: The losses to log.
        """
        with optim_wrapper.optim_context(self):
            data = self.data_preprocessor(data, True)
            losses = self._run_forward(data, mode='loss')
        parsed_losses, log_vars = self.parse_losses(losses)
        _update_params(optim_wrapper, parsed_losses)
        return log_vars

    def extract_feat(self, inputs: torch.Tensor) -> Tuple[torch.Tensor, ...]:
        """Dense features of unmasked images (the plain Swin forward)."""
        return self.backbone(inputs, mask=None)

    def _shared_seed(self) -> int:
        """``mask_seed``, else rank 0's ``torch.initial_seed()`` (broadcast once).

        With ``randomness.diff_rank_seed=True`` every rank has its own torch seed; the
        batch-wise mask must still be the same everywhere, so rank 0's seed is used.
        """
        if self.mask_seed is not None:
            return int(self.mask_seed)
        if self._rank0_seed is None:
            seed = [torch.initial_seed()]
            if get_world_size() > 1:
                broadcast_object_list(seed, src=0)
            self._rank0_seed = int(seed[0])
        return self._rank0_seed

    def _training_generator(self) -> Optional[torch.Generator]:
        """The generator of this training step's mask, or None outside a training loop.

        Batch-wise masks come from ``(shared seed, iteration)``, identical on every rank;
        per-sample masks add the rank, so ranks do not repeat each other's masks.
        """
        iteration = MessageHub.get_current_instance().get_info('iter')
        if iteration is None:
            return None
        stream = get_rank() if self.per_sample_mask else 0
        return mask_generator(self._shared_seed(), iteration, stream)

    def generate_mask(self,
                      inputs: torch.Tensor,
                      generator: Optional[torch.Generator] = None) -> torch.Tensor:
        """Draw the mask of a batch.

        Args:
            inputs (torch.Tensor): Images ``(B, C, H, W)``, H and W multiples of the unit.
            generator (torch.Generator, optional): CPU generator; None uses torch's global
                RNG. Defaults to None.

        Returns:
            torch.Tensor: Bool mask ``(B, H / unit, W / unit)`` on the inputs' device,
            True = masked.
        """
        grid = unit_grid(inputs.shape[-2:], self.mask_unit)
        return random_unit_mask(
            inputs.shape[0],
            grid,
            self.mask_ratio,
            per_sample=self.per_sample_mask,
            generator=generator,
            device=inputs.device)

    def forward_masked(self, inputs: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Encoder on the visible units, then the decoder: ``(B, L, unit**2 * C)``."""
        latent = self.backbone(inputs, mask)[-1]  # (B, N_vis, C_enc)
        return self.neck(latent, mask)  # (B, L, p*p*3)

    def loss(self, inputs: torch.Tensor, data_samples: List[DataSample],
             **kwargs) -> Dict[str, torch.Tensor]:
        """Reconstruction loss of a batch.

        Args:
            inputs (torch.Tensor): Pre-processed images ``(B, C, H, W)``.
            data_samples (List[DataSample]): Unused (no labels in pre-training).

        Returns:
            Dict[str, torch.Tensor]: ``dict(loss=...)``.
        """
        mask = self._training_mask(inputs)  # (B, Hu, Wu)
        pred = self.forward_masked(inputs, mask)  # (B, L, p*p*3)
        return dict(loss=self.head.loss(pred, inputs, mask))

    @torch.compiler.disable
    def _training_mask(self, inputs: torch.Tensor) -> torch.Tensor:
        """This step's mask (:meth:`generate_mask` with :meth:`_training_generator`).

        Drawn eagerly under ``torch.compile`` (mmengine's ``compile=True``): the message
        hub's iteration and the generator are Python state a graph would specialise on.
        """
        return self.generate_mask(inputs, self._training_generator())

    def reconstruct(
            self,
            inputs: torch.Tensor,
            mask: Optional[torch.Tensor] = None,
            generator: Optional[torch.Generator] = None) -> Tuple[torch.Tensor, torch.Tensor]:
        """Reconstruct images for inspection.

        See ``tools/visualization/visualize_reconstruction.py``.

        Args:
            inputs (torch.Tensor): Pre-processed images ``(B, C, H, W)``.
            mask (torch.Tensor, optional): Bool mask ``(B, Hu, Wu)``; None draws one.
            generator (torch.Generator, optional): Generator used when drawing the mask.

        Returns:
            Tuple[torch.Tensor, torch.Tensor]: The predicted images ``(B, C, H, W)`` in the
            inputs' (pre-processed) space, de-normalised per unit when ``norm_pix``, and the
            mask used.
        """
        if mask is None:
            mask = self.generate_mask(inputs, generator)
        pred = self.forward_masked(inputs, mask)  # (B, L, p*p*3)
        return self.head.to_pixels(pred, inputs), mask
