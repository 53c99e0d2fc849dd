"""The oracle for the sparse Twins encoders: mmpretrain's dense Twins without masked tokens.

Runs an mmpretrain ``PCPVT`` / ``SVT`` on the full grid with its own modules (patch
embeddings, position-encoding convolutions, norms, linear layers, FFNs, reduction
convolutions), and makes masked tokens not exist:

- after every module that writes tokens, masked positions are set to zero, so convolutions
  (patch embeddings, reductions, the 3x3 position encoding) see zeros there;
- global sub-sampled attention ignores keys of masked reduction cells;
- locally-grouped attention (written plainly after mmpretrain's
  ``LocallyGroupedSelfAttention.forward``: pad, partition) ignores masked and padding keys.

Outputs are gathered at the visible positions of each stage.
"""
import torch
import torch.nn.functional as F
from mmpretrain.models.backbones.twins import GlobalSubsampledAttention, LocallyGroupedSelfAttention


def _attend(q, k, v, allowed, scale):
    """softmax(q k^T * scale) v with disallowed keys at -inf; q (..., Lq, hd)."""
    logits = (q @ k.transpose(-2, -1)) * scale
    logits = logits.masked_fill(~allowed, float('-inf'))
    return logits.softmax(-1) @ v


def masked_gsa(attn: GlobalSubsampledAttention, x, hw, visible):
    """GlobalSubsampledAttention.forward with keys of masked cells ignored.

    Args:
        x (Tensor): (B, H*W, C) normed tokens, zero at masked positions.
        hw (tuple): (H, W).
        visible (Tensor): (B, H, W) bool.
    """
    B, N, C = x.shape
    nH = attn.num_heads
    q = attn.q(x).reshape(B, N, nH, C // nH).permute(0, 2, 1, 3)
    key_visible = visible.flatten(1)  # (B, H*W)
    if attn.sr_ratio > 1:
        sr = attn.sr_ratio
        y = attn.sr(x.permute(0, 2, 1).reshape(B, C, *hw))  # dense reduction conv
        y = attn.norm(y.reshape(B, C, -1).permute(0, 2, 1))
        key_visible = F.max_pool2d(visible[:, None].float(), sr, sr).flatten(1) > 0
        # A cell is either fully visible or fully masked (sr tokens divide the unit).
        assert torch.equal(key_visible, -F.max_pool2d(-visible[:, None].float(), sr, sr).flatten(1)
                           > 0)
    else:
        y = x
    kv = attn.kv(y).reshape(B, -1, 2, nH, C // nH).permute(2, 0, 3, 1, 4)
    k, v = kv[0], kv[1]
    allowed = key_visible[:, None, None, :]  # (B, 1, 1, Nk)
    scale = getattr(attn, 'scale', attn.head_dims**-0.5)  # mmpretrain 1.2: SDPA's default
    out = _attend(q, k, v, allowed, scale).transpose(1, 2).reshape(B, N, C)
    return attn.out_drop(attn.proj_drop(attn.proj(out)))


def masked_lsa(attn: LocallyGroupedSelfAttention, x, hw, visible):
    """LocallyGroupedSelfAttention.forward with masked and padding keys ignored."""
    B, N, C = x.shape
    H, W = hw
    ws = attn.window_size
    x = x.view(B, H, W, C)
    pad_r = (ws - W % ws) % ws
    pad_b = (ws - H % ws) % ws
    x = F.pad(x, (0, 0, 0, pad_r, 0, pad_b))
    valid = F.pad(visible, (0, pad_r, 0, pad_b), value=False)
    Hp, Wp = x.shape[1:3]
    h, w = Hp // ws, Wp // ws
    x = x.reshape(B, h, ws, w, ws, C).transpose(2, 3)  # (B, h, w, ws, ws, C)
    valid = valid.reshape(B, h, ws, w, ws).transpose(2, 3).reshape(B, h * w, ws * ws)
    nH = attn.num_heads
    qkv = attn.qkv(x).reshape(B, h * w, ws * ws, 3, nH, C // nH).permute(3, 0, 1, 4, 2, 5)
    q, k, v = qkv[0], qkv[1], qkv[2]  # (B, nW, nH, ws*ws, hd)
    # A masked query still sees itself, so that its (unused) row stays finite.
    allowed = valid[:, :, None, None, :] | torch.eye(ws * ws, dtype=torch.bool)
    out = _attend(q, k, v, allowed, attn.scale)  # (B, nW, nH, ws*ws, hd)
    out = out.transpose(2, 3).reshape(B, h, w, ws, ws, C).transpose(2, 3)
    out = out.reshape(B, Hp, Wp, C)[:, :H, :W].reshape(B, N, C)
    return attn.proj_drop(attn.proj(out))


def reference_forward(model, x: torch.Tensor, mask: torch.Tensor):
    """Dense Twins forward in which masked tokens do not exist; visible tokens per out stage.

    Args:
        model (PCPVT): any mmpretrain PCPVT / SVT (dense or our subclass).
        x (Tensor): (B, 3, H, W).
        mask (Tensor): (B, H/32, W/32) bool, True = masked.

    Returns:
        list[Tensor]: per out stage, (B, N_vis, C) in row-major order of visible positions.
    """
    B = x.shape[0]
    unit = x.shape[-1] // mask.shape[-1]
    outs = []
    stride = 1
    for i in range(model.num_stage):
        stride *= model.strides[i]
        scale = unit // stride
        visible = (~mask).repeat_interleave(scale, 1).repeat_interleave(scale, 2)
        keep = visible.flatten(1)[..., None].to(x.dtype)  # (B, H*W, 1)
        x, hw = model.patch_embeds[i](x)
        assert tuple(hw) == tuple(visible.shape[1:])
        x = model.position_encoding_drops[i](x) * keep
        for j, block in enumerate(model.stages[i]):
            y = block.norm1(x) * keep
            if isinstance(block.attn, LocallyGroupedSelfAttention):
                y = masked_lsa(block.attn, y, hw, visible)
            else:
                y = masked_gsa(block.attn, y, hw, visible)
            x = (x + block.drop_path(y)) * keep
            x = (x + block.drop_path(block.ffn(block.norm2(x)))) * keep
            if j == 0:
                x = model.position_encodings[i](x, hw) * keep
        x = getattr(model, f'norm_after_stage{i}')(x) * keep
        if i in model.out_indices:
            vis = visible.flatten(1)
            outs.append(torch.stack([x[b][vis[b]] for b in range(B)]))
        x = x.reshape(B, *hw, -1).permute(0, 3, 1, 2).contiguous()
    return outs
