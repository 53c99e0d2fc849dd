"""The dense counterpart of GreenMIM, for benchmarks: the same model run on the whole image."""
import torch
from mmpretrain.registry import MODELS

from .greenmim import GreenMIM


@MODELS.register_module()
class GreenMIMDenseBaseline(GreenMIM):
    """GreenMIM's encoder, decoder and loss, with the encoder run densely, SimMIM-style.

    The masked units' pixels are set to zero (the mean after normalisation) and the backbone's
    dense ``forward(x)`` runs on the whole image; every final-stage token goes to the same
    decoder (no mask token is needed) and the loss is GreenMIM's, on the masked units. It
    costs what a SimMIM-style pretraining of the same backbone costs, so
    ``tools/analysis_tools/benchmark.py --model twins`` compares it with :class:`GreenMIM`
    on equal terms.

    Same arguments as :class:`GreenMIM`; the backbone's dense forward must return
    ``(B, C, H / mask_unit, W / mask_unit)`` maps, the last one being the final stage.
    """

    def forward_masked(self, inputs: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Dense encoder on the image with masked units zeroed, then the decoder."""
        unit = self.mask_unit
        keep = (~mask).repeat_interleave(unit, 1).repeat_interleave(unit, 2)  # (B, H, W)
        feats = self.backbone(inputs * keep.unsqueeze(1).to(inputs.dtype))[-1]  # (B, C, Hu, Wu)
        latent = feats.flatten(2).transpose(1, 2)  # (B, L, C)
        return self.neck(latent, torch.zeros_like(mask))  # (B, L, p*p*3)
