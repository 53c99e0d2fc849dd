"""Convolutions evaluated at visible tokens only, from index geometry built beforehand.

Two kinds of convolution appear in hierarchical encoders such as Twins:

- kernel = stride (patch embeddings, spatial reductions): each output token is a linear map
  of its ``k x k`` children, all visible when ``k`` divides the mask unit;
- a stride-1 depthwise ``k x k`` convolution with zero padding (Twins' position encoding):
  masked neighbours count as zeros, exactly as they would on a dense grid where they were
  zero.

Both are written as gathers (``index_select`` / ``gather``) plus a linear map, with the
convolution's own weights, so no sparse-convolution library is needed. Index tensors come
from :mod:`.geometry`: shared by the batch ``(N, ...)`` or per sample ``(B, N, ...)``.
"""
import torch
import torch.nn.functional as F
from torch import nn


def gather_tokens(x: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    """Pick tokens: x (B, L, C) with index (N,) shared or (B, N) per sample -> (B, N, C).

    ``index_select`` rather than ``x[:, index]``: its backward is an ``index_add_``, where
    advanced indexing's is a much slower accumulating ``index_put_``.
    """
    if index.dim() == 1:
        return x.index_select(1, index)
    return torch.gather(x, 1, index.unsqueeze(-1).expand(-1, -1, x.shape[-1]))


def gather_children(x: torch.Tensor, children: torch.Tensor) -> torch.Tensor:
    """Children of each coarse token, flattened channel-major like a convolution's input.

    Args:
        x (Tensor): (B, N, C) fine tokens.
        children (Tensor): (N', K) or (B, N', K) long indices into the N tokens, in kernel
            order (see :func:`.geometry.merge_index`).

    Returns:
        Tensor: (B, N', C * K), index ``c * K + k`` (the order of ``conv.weight.flatten(1)``
        and of mmcv's ``nn.Unfold``).
    """
    B, _, C = x.shape
    K = children.shape[-1]
    flat = children.flatten(-2)  # (N' * K,) or (B, N' * K)
    picked = gather_tokens(x, flat).view(B, -1, K, C)  # (B, N', K, C)
    return picked.transpose(2, 3).reshape(B, -1, C * K)  # (B, N', C * K)


def strided_conv_tokens(x: torch.Tensor, children: torch.Tensor, conv: nn.Conv2d) -> torch.Tensor:
    """``conv`` (kernel = stride, no padding, groups 1) at the visible coarse tokens.

    Args:
        x (Tensor): (B, N, C_in) fine tokens.
        children (Tensor): (N', k*k) or (B, N', k*k) from :func:`.geometry.merge_index`
            with ``factor = k``.
        conv (nn.Conv2d): the dense convolution whose weights are used.

    Returns:
        Tensor: (B, N', C_out), what ``conv`` gives at those positions.
    """
    check_strided_conv(conv)
    weight = conv.weight.flatten(1)  # (C_out, C_in * k * k)
    return F.linear(gather_children(x, children), weight, conv.bias)


def patchify_pixels(img: torch.Tensor, patch: int) -> torch.Tensor:
    """Non-overlapping ``patch x patch`` pixel blocks as tokens: (B, C, H, W) -> (B, L, C*p*p).

    Tokens in row-major order of the patch grid, each flattened channel-major (the order
    of ``conv.weight.flatten(1)``).
    """
    B, C, H, W = img.shape
    x = img.view(B, C, H // patch, patch, W // patch, patch)
    x = x.permute(0, 2, 4, 1, 3, 5)  # (B, H/p, W/p, C, p, p)
    return x.reshape(B, (H // patch) * (W // patch), C * patch * patch)


def patch_conv_pixels(img: torch.Tensor, index: torch.Tensor, conv: nn.Conv2d) -> torch.Tensor:
    """``conv`` (kernel = stride = p) on the image, evaluated at the visible patches only.

    Args:
        img (Tensor): (B, C, H, W), H and W multiples of p.
        index (Tensor): (N,) or (B, N) row-major index of the visible patches.
        conv (nn.Conv2d): the patch embedding's convolution.

    Returns:
        Tensor: (B, N, C_out).
    """
    check_strided_conv(conv)
    patches = gather_tokens(patchify_pixels(img, conv.kernel_size[0]), index)  # (B, N, C*p*p)
    return F.linear(patches, conv.weight.flatten(1), conv.bias)


def depthwise_conv_tokens(x: torch.Tensor, neighbours: torch.Tensor,
                          conv: nn.Conv2d) -> torch.Tensor:
    """A stride-1 depthwise ``conv`` with zero padding, at the visible tokens only.

    Args:
        x (Tensor): (B, N, C) visible tokens.
        neighbours (Tensor): (N, k*k) or (B, N, k*k) from
            :func:`.geometry.neighbour_index`; index N = a zero (masked or outside).
        conv (nn.Conv2d): depthwise (``groups == in == out channels``), ``k x k``,
            stride 1, padding ``k // 2``.

    Returns:
        Tensor: (B, N, C), ``conv`` of the dense grid in which masked tokens are zero, read
        at the visible positions.
    """
    C = x.shape[-1]
    k = conv.kernel_size[0]
    if not (conv.groups == conv.in_channels == conv.out_channels == C and conv.kernel_size == (k, k)
            and conv.stride == (1, 1) and conv.padding == (k // 2, k // 2)
            and conv.dilation == (1, 1)):
        raise NotImplementedError(
            'depthwise_conv_tokens supports a depthwise k x k convolution with stride 1 and '
            f'padding k // 2, got {conv}')
    padded = torch.cat([x, x.new_zeros(x.shape[0], 1, C)], 1)  # (B, N + 1, C)
    nb = gather_tokens(padded, neighbours.flatten(-2))  # (B, N * k*k, C)
    nb = nb.view(x.shape[0], -1, k * k, C)  # (B, N, k*k, C)
    weight = conv.weight.view(C, k * k).t()  # (k*k, C)
    out = (nb * weight).sum(2)  # (B, N, C)
    return out if conv.bias is None else out + conv.bias


def check_strided_conv(conv: nn.Conv2d) -> None:
    """Raise unless ``conv`` is a square kernel = stride convolution without padding."""
    k = conv.kernel_size
    if not (k[0] == k[1] and tuple(conv.stride) == tuple(k) and conv.groups == 1
            and tuple(conv.dilation) == (1, 1) and conv.padding in ((0, 0), 0, 'valid')):
        raise NotImplementedError(
            'sparse evaluation needs a convolution with a square kernel equal to its stride, '
            f'no padding, groups 1; got {conv}')
