"""GreenMIM's light decoder: visible final-stage tokens -> pixels of every mask unit."""
from typing import Dict, List, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
from mmengine.model import BaseModule
from mmpretrain.models.backbones.vision_transformer import TransformerEncoderLayer
from mmpretrain.models.utils import build_2d_sincos_position_embedding, build_norm_layer
from mmpretrain.registry import MODELS

from ..utils.masking import sorted_visible_indices, visible_indices
from ..utils.precision.attention_kernel import decoder_attention_kernel


def sincos_pos_embed_2d(grid_hw: Sequence[int], embed_dims: int) -> torch.Tensor:
    """Fixed 2-D sin-cos position embedding of an ``Hu x Wu`` grid in row-major order.

    A thin wrapper of mmpretrain's ``build_2d_sincos_position_embedding``, which flattens
    its ``(h, w)`` argument column-major (``meshgrid(w, h)`` with 'ij' indexing). Passing the
    grid as ``(Wu, Hu)`` makes token ``r * Wu + c`` encode row ``r`` (first half of the
    channels) and column ``c`` (second half), so the embedding of a unit depends only on its
    position, whatever the grid's shape; on a square grid this equals mmpretrain's embedding
    exactly. MAE's table has the halves swapped, see :func:`mae_sincos_pos_embed_2d`.

    Args:
        grid_hw (Sequence[int]): Grid ``(Hu, Wu)``.
        embed_dims (int): Embedding size, divisible by 4.

    Returns:
        torch.Tensor: Float32 tensor ``(1, Hu * Wu, embed_dims)``.
    """
    hu, wu = int(grid_hw[0]), int(grid_hw[1])
    return build_2d_sincos_position_embedding((wu, hu), embed_dims)  # (1, L, D)


def mae_sincos_pos_embed_2d(grid_hw: Sequence[int], embed_dims: int) -> torch.Tensor:
    """The 2-D sin-cos table of MAE's ``get_2d_sincos_pos_embed``, for any grid.

    MAE's table (used by the authors' GreenMIM decoder and stored in their checkpoints as
    ``decoder_pos_embed``) puts the **column** in the first half of the channels and the row in
    the second: unit ``(r, c)`` at index ``r * Wu + c`` gets
    ``[sin(c * w), cos(c * w), sin(r * w), cos(r * w)]`` with ``w_k = 10000 ** (-k / (D / 4))``,
    ``k < D / 4``. :func:`sincos_pos_embed_2d` has the halves the other way round (row first),
    so at a 7x7 grid and 128 channels the two differ by up to 1.99. Like MAE's, the values are
    computed in float64 and rounded to float32.

    Args:
        grid_hw (Sequence[int]): Grid ``(Hu, Wu)``.
        embed_dims (int): Embedding size, divisible by 4.

    Returns:
        torch.Tensor: Float32 tensor ``(1, Hu * Wu, embed_dims)``.
    """
    hu, wu = int(grid_hw[0]), int(grid_hw[1])
    quarter = embed_dims // 4
    omega = 1. / 10000**(torch.arange(quarter, dtype=torch.float64) / quarter)  # (D/4,)
    rows, cols = torch.meshgrid(
        torch.arange(hu, dtype=torch.float64), torch.arange(wu, dtype=torch.float64), indexing='ij')
    out_c = cols.reshape(-1, 1) * omega  # (L, D/4)
    out_r = rows.reshape(-1, 1) * omega  # (L, D/4)
    table = torch.cat([out_c.sin(), out_c.cos(), out_r.sin(), out_r.cos()], dim=1)  # (L, D)
    return table.float()[None]  # (1, L, D)


# Fixed position tables a decoder can be built with (``pos_embed_layout``).
POS_EMBED_LAYOUTS = {'mmpretrain': sincos_pos_embed_2d, 'mae': mae_sincos_pos_embed_2d}


@MODELS.register_module()
class GreenMIMPretrainDecoder(BaseModule):
    """Decoder of `GreenMIM <https://arxiv.org/abs/2205.13515>`_ pre-training.

    Projects the encoder's visible final-stage tokens, puts a learned mask token at every
    masked unit, adds a fixed 2-D sin-cos position embedding of the unit grid (computed for
    whatever grid the input has, not a fixed 7x7), and runs ``decoder_depth`` plain
    transformer blocks (mmpretrain's ``TransformerEncoderLayer``), a norm and a linear
    predictor of the ``patch_size**2 * in_chans`` pixels of each unit. Unlike mmpretrain's
    ``MAEPretrainDecoder`` there is no class token.

    Args:
        patch_size (int): Side of a mask unit in pixels (the encoder's total stride).
            Defaults to 32.
        in_chans (int): Image channels to predict. Defaults to 3.
        embed_dim (int): Channels of the encoder's final-stage tokens. Defaults to 1024
            (Swin-B).
        decoder_embed_dim (int): Decoder width, divisible by 4. Defaults to 512.
        decoder_depth (int): Number of transformer blocks; the paper finds one is best.
            Defaults to 1.
        decoder_num_heads (int): Attention heads per block. Defaults to 16.
        mlp_ratio (float): Hidden size of the MLP relative to ``decoder_embed_dim``.
            Defaults to 4.
        norm_cfg (dict): Norm layer config. Defaults to ``dict(type='LN', eps=1e-6)``.
        pos_embed_layout (str): Channel layout of the fixed sin-cos table: ``'mmpretrain'``
            (row in the first half, :func:`sincos_pos_embed_2d`) or ``'mae'`` (column first,
            :func:`mae_sincos_pos_embed_2d`; the table the authors' released decoders were
            trained with, so a converted decoder needs it). Defaults to 'mmpretrain'.
        init_cfg (dict | list[dict], optional): Initialization config. Defaults to None,
            which uses :meth:`init_weights` (Xavier-uniform linears, unit LayerNorms and a
            normal(0.02) mask token, as MAE).
    """

    def __init__(self,
                 patch_size: int = 32,
                 in_chans: int = 3,
                 embed_dim: int = 1024,
                 decoder_embed_dim: int = 512,
                 decoder_depth: int = 1,
                 decoder_num_heads: int = 16,
                 mlp_ratio: float = 4.,
                 norm_cfg: dict = dict(type='LN', eps=1e-6),
                 pos_embed_layout: str = 'mmpretrain',
                 init_cfg: Optional[Union[List[dict], dict]] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        if decoder_embed_dim % 4:
            raise ValueError('decoder_embed_dim must be divisible by 4 for the 2-D sin-cos '
                             f'position embedding, got {decoder_embed_dim}')
        if pos_embed_layout not in POS_EMBED_LAYOUTS:
            raise ValueError(f'pos_embed_layout={pos_embed_layout!r} is not one of '
                             f'{sorted(POS_EMBED_LAYOUTS)}: use \'mae\' for a decoder converted '
                             'from the authors\' checkpoints, \'mmpretrain\' otherwise')
        self.pos_embed_layout = pos_embed_layout
        self.patch_size = patch_size
        self.in_chans = in_chans
        self.decoder_embed_dim = decoder_embed_dim

        self.decoder_embed = nn.Linear(embed_dim, decoder_embed_dim, bias=True)
        self.mask_token = nn.Parameter(torch.zeros(1, 1, decoder_embed_dim))
        self.decoder_blocks = nn.ModuleList([
            TransformerEncoderLayer(
                decoder_embed_dim,
                decoder_num_heads,
                int(mlp_ratio * decoder_embed_dim),
                qkv_bias=True,
                norm_cfg=norm_cfg) for _ in range(decoder_depth)
        ])
        self.decoder_norm = build_norm_layer(norm_cfg, decoder_embed_dim)
        self.decoder_pred = nn.Linear(decoder_embed_dim, patch_size**2 * in_chans, bias=True)
        # Position tables by grid, on CPU in float32; not parameters, not in checkpoints.
        self._pos_cache: Dict[Tuple[int, int], torch.Tensor] = {}

    def init_weights(self) -> None:
        """Xavier-uniform linears with zero bias, unit LayerNorms, normal(0.02) mask token."""
        super().init_weights()
        if self.init_cfg is not None:
            return
        for m in self.modules():
            if isinstance(m, nn.Linear):
                nn.init.xavier_uniform_(m.weight)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
            elif isinstance(m, nn.LayerNorm):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
        nn.init.normal_(self.mask_token, std=.02)

    def pos_embed(self, grid_hw: Sequence[int]) -> torch.Tensor:
        """The fixed position embedding ``(1, Hu * Wu, D)`` of a unit grid (cached)."""
        key = (int(grid_hw[0]), int(grid_hw[1]))
        if key not in self._pos_cache:
            build = POS_EMBED_LAYOUTS[self.pos_embed_layout]
            self._pos_cache[key] = build(key, self.decoder_embed_dim)
        return self._pos_cache[key]

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Predict the pixels of every unit.

        Args:
            x (torch.Tensor): Visible final-stage tokens ``(B, N_vis, embed_dim)`` in
                row-major order of the visible units.
            mask (torch.Tensor): Bool mask ``(B, Hu, Wu)``, True = masked.

        Returns:
            torch.Tensor: Predictions ``(B, Hu * Wu, patch_size**2 * in_chans)`` for all
            units in row-major order (the loss uses the masked ones).
        """
        batch_size, hu, wu = mask.shape
        if torch.compiler.is_compiling():
            # No host sync in a compiled graph; the encoder's plan has checked the mask.
            ids_vis = sorted_visible_indices(mask, x.shape[1])  # (B, N_vis)
        else:
            ids_vis = visible_indices(mask)  # (B, N_vis)
            if x.shape[:2] != ids_vis.shape:
                raise ValueError(f'the decoder got {tuple(x.shape[:2])} (batch, tokens) but '
                                 f'the mask has {tuple(ids_vis.shape)} visible units')

        x = self.decoder_embed(x)  # (B, N_vis, D)
        dims = x.shape[-1]
        tokens = self.mask_token.to(x.dtype).expand(batch_size, hu * wu, dims)  # (B, L, D)
        # Put each visible token at its unit; every other unit keeps the mask token.
        x = tokens.scatter(1, ids_vis.unsqueeze(-1).expand(-1, -1, dims), x)  # (B, L, D)
        x = x + self.pos_embed((hu, wu)).to(device=x.device, dtype=x.dtype)  # (B, L, D)

        with decoder_attention_kernel(x):
            for block in self.decoder_blocks:
                x = block(x)  # (B, L, D)
        x = self.decoder_norm(x)
        return self.decoder_pred(x)  # (B, L, p*p*C)
