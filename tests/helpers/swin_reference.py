"""The oracle for the sparse encoder: mmpretrain's dense Swin with masked keys ignored.

Runs an mmpretrain ``SwinTransformer`` (its own patch embedding, blocks, FFNs, patch
merging and norms) on the full grid, but every window attention — shifted or not — treats
masked tokens and padding as absent keys. Written plainly after mmpretrain's
``ShiftWindowMSA.forward`` (roll, pad, partition, region mask), with the key mask added.
Outputs are gathered at the visible positions of each stage.
"""
import torch
import torch.nn.functional as F
from mmpretrain.models.backbones.swin_transformer import SwinTransformer


def _region_labels(hw, window_size, shift_size):
    """Swin's region ids of the padded, rolled grid (mmpretrain's get_attn_mask slices)."""
    labels = torch.zeros(hw, dtype=torch.long)
    if shift_size > 0:
        slices = (slice(0, -window_size), slice(-window_size,
                                                -shift_size), slice(-shift_size, None))
        cnt = 0
        for h in slices:
            for w in slices:
                labels[h, w] = cnt
                cnt += 1
    return labels


def _partition(t, ws):
    """(B, Hp, Wp, ...) -> (B * nW, ws * ws, ...)."""
    B, H, W = t.shape[:3]
    rest = t.shape[3:]
    t = t.view(B, H // ws, ws, W // ws, ws, *rest)
    t = t.permute(0, 1, 3, 2, 4, *range(5, 5 + len(rest))).contiguous()
    return t.view(B * (H // ws) * (W // ws), ws * ws, *rest)


def _reverse(t, B, H, W, ws):
    """(B * nW, ws * ws, C) -> (B, H, W, C)."""
    C = t.shape[-1]
    t = t.view(B, H // ws, W // ws, ws, ws, C).permute(0, 1, 3, 2, 4, 5)
    return t.contiguous().view(B, H, W, C)


def masked_shift_window_msa(attn, query, hw_shape, visible):
    """mmpretrain ShiftWindowMSA.forward with masked keys (and padding) ignored.

    Args:
        attn: a ShiftWindowMSA.
        query (Tensor): (B, H*W, C).
        hw_shape (tuple): (H, W).
        visible (Tensor): (B, H, W) bool.
    """
    B, L, C = query.shape
    H, W = hw_shape
    query = query.view(B, H, W, C)
    ws, shift = attn.window_size, attn.shift_size
    if min(H, W) == ws:
        shift = shift if attn.pad_small_map else 0
    elif min(H, W) < ws:
        assert attn.pad_small_map
    pad_r = (ws - W % ws) % ws
    pad_b = (ws - H % ws) % ws
    query = F.pad(query, (0, 0, 0, pad_r, 0, pad_b))
    valid = F.pad(visible, (0, pad_r, 0, pad_b), value=False)
    Hp, Wp = query.shape[1], query.shape[2]
    if shift > 0:
        query = torch.roll(query, shifts=(-shift, -shift), dims=(1, 2))
        valid = torch.roll(valid, shifts=(-shift, -shift), dims=(1, 2))
    region = _region_labels((Hp, Wp), ws, shift).to(query.device)
    q_win = _partition(query, ws)  # (B*nW, ws*ws, C)
    valid_win = _partition(valid.unsqueeze(-1), ws)[..., 0]  # (B*nW, ws*ws)
    region_win = _partition(region.expand(B, Hp, Wp).unsqueeze(-1), ws)[..., 0]
    allowed = (region_win.unsqueeze(2) == region_win.unsqueeze(1)) & valid_win.unsqueeze(1)
    # A masked query still sees itself, so that its (unused) row stays finite.
    allowed = allowed | torch.eye(ws * ws, dtype=torch.bool, device=query.device)

    w_msa = attn.w_msa
    n = ws * ws
    nH = w_msa.num_heads
    qkv = w_msa.qkv(q_win).reshape(-1, n, 3, nH, C // nH).permute(2, 0, 3, 1, 4)
    q, k, v = qkv[0], qkv[1], qkv[2]
    logits = (q * w_msa.scale) @ k.transpose(-2, -1)
    bias = w_msa.relative_position_bias_table[w_msa.relative_position_index.view(-1)]
    logits = logits + bias.view(n, n, -1).permute(2, 0, 1).unsqueeze(0)
    logits = logits.masked_fill(~allowed.unsqueeze(1), float('-inf'))
    out = (logits.softmax(-1) @ v).transpose(1, 2).reshape(-1, n, C)
    out = w_msa.proj(out)
    x = _reverse(out, B, Hp, Wp, ws)
    if shift > 0:
        x = torch.roll(x, shifts=(shift, shift), dims=(1, 2))
    x = x[:, :H, :W, :].contiguous().view(B, H * W, C)
    return attn.drop(x)


def reference_forward(model: SwinTransformer, x: torch.Tensor, mask: torch.Tensor):
    """Dense Swin forward ignoring masked keys; visible tokens per out_indices stage.

    Args:
        model (SwinTransformer): any mmpretrain Swin (dense or our subclass).
        x (Tensor): (B, 3, H, W).
        mask (Tensor): (B, H/32, W/32) bool, True = masked.

    Returns:
        list[Tensor]: per out stage, (B, N_vis, C) in row-major order of visible positions.
    """
    x, hw = model.patch_embed(x)
    x = model.drop_after_pos(x)
    outs = []
    num_stages = len(model.stages)
    for i, stage in enumerate(model.stages):
        scale = 2**(num_stages - 1 - i)
        visible = (~mask).repeat_interleave(scale, 1).repeat_interleave(scale, 2)
        assert visible.shape[1:] == hw
        for block in stage.blocks:
            identity = x
            y = block.norm1(x)
            y = masked_shift_window_msa(block.attn, y, hw, visible)
            x = y + identity
            x = block.ffn(block.norm2(x), identity=x)
        if i in model.out_indices:
            out = getattr(model, f'norm{i}')(x)  # (B, H*W, C)
            vis = visible.flatten(1)
            outs.append(torch.stack([out[b][vis[b]] for b in range(out.shape[0])]))
        if stage.downsample is not None:
            x, hw = stage.downsample(x, hw)
    return outs
