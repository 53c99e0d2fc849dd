"""The authors' GreenMIM checkpoint layout, written from the facts for the tests.

An authors' checkpoint is ``{'model': state_dict, ...}``: a Microsoft-Swin encoder under
``encoder.`` (patch merging position-major in the order (0,0), (1,0), (0,1), (1,1) for the
default ``swin`` order; ``relative_position_index`` buffers stored; the final norm is
``encoder.norm``) and MAE's decoder beside it (timm ``Block``s: ``norm1``, ``attn.qkv``,
``attn.proj``, ``norm2``, ``mlp.fc1``, ``mlp.fc2``; a stored fixed ``decoder_pos_embed``).

Nothing here imports the converter: the mapping from our modules is written out key by key,
so a converter bug cannot cancel out.
"""
import argparse
import math
from collections import OrderedDict
from typing import Dict, Sequence, Tuple

import numpy as np
import torch


def mae_pos_embed(grid: int, dims: int) -> torch.Tensor:
    """MAE's ``get_2d_sincos_pos_embed`` as its recipe states, in numpy float64.

    ``np.meshgrid(w, h)`` (w first, 'xy' indexing) stacked as ``grid[0]`` (the column of each
    unit) and ``grid[1]`` (its row); the first half of the channels encodes ``grid[0]``, the
    second ``grid[1]``; each half is ``[sin(pos * omega), cos(pos * omega)]`` with
    ``omega = 1 / 10000 ** (arange(D/4) / (D/4))``.

    Returns:
        Tensor: ``(1, grid * grid, dims)`` float32, as the authors' model stores it.
    """
    coords = np.arange(grid, dtype=np.float32)
    mesh = np.stack(np.meshgrid(coords, coords), axis=0).reshape(2, -1)  # (2, L)

    def one_axis(pos):
        omega = 1. / 10000**(np.arange(dims // 4, dtype=np.float64) / (dims / 4.))
        out = np.einsum('m,d->md', pos.astype(np.float64), omega)
        return np.concatenate([np.sin(out), np.cos(out)], axis=1)

    table = np.concatenate([one_axis(mesh[0]), one_axis(mesh[1])], axis=1)  # (L, D)
    return torch.from_numpy(table).float()[None]


def _index(window: int) -> torch.Tensor:
    """Microsoft Swin's relative_position_index buffer: (dh + w - 1) * (2w - 1) + dw + w - 1."""
    pos = torch.arange(window * window)
    row, col = pos // window, pos % window
    dh = row[:, None] - row[None, :]  # (N, N), query minus key
    dw = col[:, None] - col[None, :]
    return (dh + window - 1) * (2 * window - 1) + (dw + window - 1)


def _to_position_major(param: torch.Tensor) -> torch.Tensor:
    """mmcv (nn.Unfold) merge features ``c * 4 + kh * 2 + kw`` -> Swin's ``pos * C + c``.

    Swin's positions are (0,0), (1,0), (0,1), (1,1), i.e. row-major positions [0, 2, 1, 3].
    """
    lead, four_c = param.shape[:-1], param.shape[-1]
    c = four_c // 4
    by_pos = param.reshape(*lead, c, 2, 2)  # (..., C, kh, kw)
    parts = [by_pos[..., 0, 0], by_pos[..., 1, 0], by_pos[..., 0, 1], by_pos[..., 1, 1]]
    return torch.cat(parts, dim=-1)  # (..., 4C), position-major


def authors_state_dict(model: torch.nn.Module) -> 'OrderedDict[str, torch.Tensor]':
    """Our GreenMIM model's weights written in the authors' key layout.

    Args:
        model: A ``GreenMIM`` with a 4-stage Swin backbone and a ``GreenMIMPretrainDecoder``.

    Returns:
        OrderedDict: ``encoder.*`` and decoder keys as the authors' ``MaskedAutoencoder`` has
        them, with ``relative_position_index`` buffers and an MAE ``decoder_pos_embed``.
    """
    out: 'OrderedDict[str, torch.Tensor]' = OrderedDict()
    bb = {k: v.detach().clone() for k, v in model.backbone.state_dict().items()}
    last = len(model.backbone.stages) - 1
    out['encoder.patch_embed.proj.weight'] = bb['patch_embed.projection.weight']
    out['encoder.patch_embed.proj.bias'] = bb['patch_embed.projection.bias']
    out['encoder.patch_embed.norm.weight'] = bb['patch_embed.norm.weight']
    out['encoder.patch_embed.norm.bias'] = bb['patch_embed.norm.bias']
    for i, stage in enumerate(model.backbone.stages):
        for j in range(len(stage.blocks)):
            src, dst = f'stages.{i}.blocks.{j}.', f'encoder.layers.{i}.blocks.{j}.'
            for name in ('weight', 'bias'):
                out[dst + 'norm1.' + name] = bb[src + 'norm1.' + name]
            table = bb[src + 'attn.w_msa.relative_position_bias_table']
            out[dst + 'attn.relative_position_bias_table'] = table
            out[dst + 'attn.relative_position_index'] = _index(
                (math.isqrt(table.shape[0]) + 1) // 2)
            for name in ('qkv', 'proj'):
                for p in ('weight', 'bias'):
                    out[f'{dst}attn.{name}.{p}'] = bb[f'{src}attn.w_msa.{name}.{p}']
            for name in ('weight', 'bias'):
                out[dst + 'norm2.' + name] = bb[src + 'norm2.' + name]
                out[dst + 'mlp.fc1.' + name] = bb[src + 'ffn.layers.0.0.' + name]
                out[dst + 'mlp.fc2.' + name] = bb[src + 'ffn.layers.1.' + name]
        if stage.downsample is not None:
            src, dst = f'stages.{i}.downsample.', f'encoder.layers.{i}.downsample.'
            out[dst + 'reduction.weight'] = _to_position_major(bb[src + 'reduction.weight'])
            out[dst + 'norm.weight'] = _to_position_major(bb[src + 'norm.weight'])
            out[dst + 'norm.bias'] = _to_position_major(bb[src + 'norm.bias'])
    out['encoder.norm.weight'] = bb[f'norm{last}.weight']
    out['encoder.norm.bias'] = bb[f'norm{last}.bias']

    neck = {k: v.detach().clone() for k, v in model.neck.state_dict().items()}
    out['mask_token'] = neck['mask_token']
    grid = 7
    out['decoder_pos_embed'] = mae_pos_embed(grid, neck['mask_token'].shape[-1])
    for name in ('weight', 'bias'):
        out['decoder_embed.' + name] = neck['decoder_embed.' + name]
    blocks = sorted({int(k.split('.')[1]) for k in neck if k.startswith('decoder_blocks.')})
    for j in blocks:
        src, dst = f'decoder_blocks.{j}.', f'decoder_blocks.{j}.'
        for name in ('weight', 'bias'):
            out[dst + 'norm1.' + name] = neck[src + 'ln1.' + name]
            out[dst + 'attn.qkv.' + name] = neck[src + 'attn.qkv.' + name]
            out[dst + 'attn.proj.' + name] = neck[src + 'attn.proj.' + name]
            out[dst + 'norm2.' + name] = neck[src + 'ln2.' + name]
            out[dst + 'mlp.fc1.' + name] = neck[src + 'ffn.layers.0.0.' + name]
            out[dst + 'mlp.fc2.' + name] = neck[src + 'ffn.layers.1.' + name]
    for name in ('weight', 'bias'):
        out['decoder_norm.' + name] = neck['decoder_norm.' + name]
        out['decoder_pred.' + name] = neck['decoder_pred.' + name]
    return out


def authors_release_shapes(embed: int,
                           depths: Sequence[int],
                           heads: Sequence[int],
                           windows: Sequence[int],
                           decoder_dims: int = 512,
                           decoder_depth: int = 1,
                           unit: int = 32,
                           patch: int = 4) -> Dict[str, Tuple[int, ...]]:
    """Key -> shape of an authors' release (their ``MaskedAutoencoder`` state dict)."""
    shapes: Dict[str, Tuple[int, ...]] = {
        'encoder.patch_embed.proj.weight': (embed, 3, patch, patch),
        'encoder.patch_embed.proj.bias': (embed, ),
        'encoder.patch_embed.norm.weight': (embed, ),
        'encoder.patch_embed.norm.bias': (embed, ),
    }
    for i, (depth, nh, w) in enumerate(zip(depths, heads, windows)):
        c = embed * 2**i
        for j in range(depth):
            p = f'encoder.layers.{i}.blocks.{j}.'
            shapes.update({
                p + 'norm1.weight': (c, ),
                p + 'norm1.bias': (c, ),
                p + 'attn.relative_position_bias_table': ((2 * w - 1)**2, nh),
                p + 'attn.relative_position_index': (w * w, w * w),
                p + 'attn.qkv.weight': (3 * c, c),
                p + 'attn.qkv.bias': (3 * c, ),
                p + 'attn.proj.weight': (c, c),
                p + 'attn.proj.bias': (c, ),
                p + 'norm2.weight': (c, ),
                p + 'norm2.bias': (c, ),
                p + 'mlp.fc1.weight': (4 * c, c),
                p + 'mlp.fc1.bias': (4 * c, ),
                p + 'mlp.fc2.weight': (c, 4 * c),
                p + 'mlp.fc2.bias': (c, ),
            })
        if i < len(depths) - 1:
            p = f'encoder.layers.{i}.downsample.'
            shapes.update({
                p + 'reduction.weight': (2 * c, 4 * c),
                p + 'norm.weight': (4 * c, ),
                p + 'norm.bias': (4 * c, )
            })
    c_last = embed * 2**(len(depths) - 1)
    d = decoder_dims
    shapes.update({
        'encoder.norm.weight': (c_last, ),
        'encoder.norm.bias': (c_last, ),
        'mask_token': (1, 1, d),
        'decoder_pos_embed': (1, 49, d),
        'decoder_embed.weight': (d, c_last),
        'decoder_embed.bias': (d, ),
        'decoder_norm.weight': (d, ),
        'decoder_norm.bias': (d, ),
        'decoder_pred.weight': (unit * unit * 3, d),
        'decoder_pred.bias': (unit * unit * 3, ),
    })
    for j in range(decoder_depth):
        p = f'decoder_blocks.{j}.'
        shapes.update({
            p + 'norm1.weight': (d, ),
            p + 'norm1.bias': (d, ),
            p + 'attn.qkv.weight': (3 * d, d),
            p + 'attn.qkv.bias': (3 * d, ),
            p + 'attn.proj.weight': (d, d),
            p + 'attn.proj.bias': (d, ),
            p + 'norm2.weight': (d, ),
            p + 'norm2.bias': (d, ),
            p + 'mlp.fc1.weight': (4 * d, d),
            p + 'mlp.fc1.bias': (4 * d, ),
            p + 'mlp.fc2.weight': (d, 4 * d),
            p + 'mlp.fc2.bias': (d, ),
        })
    return shapes


def wrap_release(model_state: dict) -> dict:
    """A checkpoint file's content as the authors' training script saves it."""
    return dict(
        model=model_state,
        epoch=799,
        args=argparse.Namespace(model='green_mim_swin_base_patch4_dec5121b1'))


def authors_decoder_reference(latent: torch.Tensor,
                              ids_restore: torch.Tensor,
                              sd: dict,
                              num_heads: int,
                              eps: float = 1e-6) -> torch.Tensor:
    """The authors' decoder computation, from their weights (``forward_decoder`` in words).

    Embed the latents; append ``L - N_vis`` mask tokens; reorder with
    ``gather(index=ids_restore)`` (the latents are assumed to be in shuffle order); add the
    stored table; timm blocks ``x + attn(norm1(x))``, ``x + fc2(gelu(fc1(norm2(x))))``; norm;
    linear prediction.

    Args:
        latent (Tensor): ``(B, N_vis, C)`` encoder output.
        ids_restore (Tensor): ``(B, L)`` argsort of the shuffle.
        sd (dict): The authors' state dict.
        num_heads (int): Decoder heads.

    Returns:
        Tensor: ``(B, L, unit * unit * 3)``.
    """
    B, n_vis, _ = latent.shape
    L = ids_restore.shape[1]
    x = latent @ sd['decoder_embed.weight'].t() + sd['decoder_embed.bias']  # (B, N_vis, D)
    D = x.shape[-1]
    x = torch.cat([x, sd['mask_token'].expand(B, L - n_vis, D)], dim=1)  # (B, L, D)
    x = torch.gather(x, 1, ids_restore[..., None].expand(-1, -1, D))  # (B, L, D)
    x = x + sd['decoder_pos_embed']
    j = 0
    while f'decoder_blocks.{j}.norm1.weight' in sd:
        p = f'decoder_blocks.{j}.'
        h = torch.nn.functional.layer_norm(x, (D, ), sd[p + 'norm1.weight'], sd[p + 'norm1.bias'],
                                           eps)
        qkv = (h @ sd[p + 'attn.qkv.weight'].t() + sd[p + 'attn.qkv.bias'])  # (B, L, 3D)
        qkv = qkv.view(B, L, 3, num_heads, D // num_heads).permute(2, 0, 3, 1, 4)
        q, k, v = qkv[0], qkv[1], qkv[2]  # (B, nH, L, d)
        attn = (q * (D // num_heads)**-0.5) @ k.transpose(-2, -1)  # (B, nH, L, L)
        h = (attn.softmax(-1) @ v).transpose(1, 2).reshape(B, L, D)
        x = x + h @ sd[p + 'attn.proj.weight'].t() + sd[p + 'attn.proj.bias']
        h = torch.nn.functional.layer_norm(x, (D, ), sd[p + 'norm2.weight'], sd[p + 'norm2.bias'],
                                           eps)
        h = torch.nn.functional.gelu(h @ sd[p + 'mlp.fc1.weight'].t() + sd[p + 'mlp.fc1.bias'])
        x = x + h @ sd[p + 'mlp.fc2.weight'].t() + sd[p + 'mlp.fc2.bias']
        j += 1
    x = torch.nn.functional.layer_norm(x, (D, ), sd['decoder_norm.weight'], sd['decoder_norm.bias'],
                                       eps)
    return x @ sd['decoder_pred.weight'].t() + sd['decoder_pred.bias']
