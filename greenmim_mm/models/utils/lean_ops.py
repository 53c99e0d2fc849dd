"""Memory-lean LayerNorm + Linear and GELU + Linear for the sparse Swin blocks.

Autograd keeps, per token and block, both LayerNorms' inputs and outputs, the MLP's hidden
pre-activation and its GELU output (4C floats each). Two autograd functions compute exactly
the same forward and gradients with the same ATen kernels but keep less: ``LayerNorm +
Linear`` keeps the LayerNorm input (the output is recomputed in backward), ``GELU + Linear``
keeps the pre-activation (the GELU is recomputed). That is 6C fewer floats per token and
block, about a third of a block's activations, for two cheap elementwise passes.

They apply to float32/float64 without autocast, GELU MLPs without dropout (or in eval mode):
:func:`layer_norm_linear` and :func:`layer_norm_mlp` fall back to the modules otherwise.
"""
from typing import Tuple

import torch
import torch.nn.functional as F
from mmcv.cnn.bricks.wrappers import Linear as MMCVLinear
from torch import nn
from torch.autograd import Function

# Layers whose forward is exactly F.linear (mmcv's wrapper only adds empty-input handling).
_PLAIN_LINEARS = (nn.Linear, MMCVLinear)


def _layer_norm(x2d: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor,
                eps: float) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(M, C) -> LayerNorm output, mean (M, 1), rstd (M, 1): autograd's own kernel."""
    return torch.native_layer_norm(x2d, (x2d.shape[-1], ), weight, bias, eps)


def _layer_norm_backward(grad: torch.Tensor, x2d: torch.Tensor, mean: torch.Tensor,
                         rstd: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor,
                         needs: Tuple[bool, bool, bool]):
    return torch.ops.aten.native_layer_norm_backward(grad, x2d, (x2d.shape[-1], ), mean, rstd,
                                                     weight, bias, list(needs))


class _LayerNormLinear(Function):
    """``linear(layer_norm(x))`` keeping x instead of the normalised tokens."""

    @staticmethod
    def forward(ctx, x, ln_w, ln_b, eps, weight, bias):
        x2d = x.reshape(-1, x.shape[-1])  # (M, C)
        xn, mean, rstd = _layer_norm(x2d, ln_w, ln_b, eps)
        out = F.linear(xn, weight, bias)  # (M, C_out)
        ctx.eps = eps
        ctx.save_for_backward(x2d, mean, rstd, ln_w, ln_b, weight)
        return out.view(*x.shape[:-1], out.shape[-1])

    @staticmethod
    def backward(ctx, grad_out):
        x2d, mean, rstd, ln_w, ln_b, weight = ctx.saved_tensors
        need = ctx.needs_input_grad
        g = grad_out.reshape(-1, grad_out.shape[-1])  # (M, C_out)
        xn = _layer_norm(x2d, ln_w, ln_b, ctx.eps)[0]  # recomputed
        grad_w = g.t().mm(xn) if need[4] else None
        grad_b = g.sum(0) if need[5] else None
        grad_x = grad_ln_w = grad_ln_b = None
        if any(need[:3]):
            grad_x, grad_ln_w, grad_ln_b = _layer_norm_backward(
                g.mm(weight), x2d, mean, rstd, ln_w, ln_b, tuple(need[:3]))
            if grad_x is not None:
                grad_x = grad_x.view(grad_out.shape[:-1] + (x2d.shape[-1], ))
        return grad_x, grad_ln_w, grad_ln_b, None, grad_w, grad_b


class _GeluLinear(Function):
    """``linear(gelu(h))`` keeping h instead of its GELU."""

    @staticmethod
    def forward(ctx, hidden, weight, bias):
        h2d = hidden.reshape(-1, hidden.shape[-1])  # (M, 4C)
        out = F.linear(F.gelu(h2d), weight, bias)  # (M, C)
        ctx.save_for_backward(h2d, weight)
        return out.view(*hidden.shape[:-1], out.shape[-1])

    @staticmethod
    def backward(ctx, grad_out):
        h2d, weight = ctx.saved_tensors
        need = ctx.needs_input_grad
        g = grad_out.reshape(-1, grad_out.shape[-1])  # (M, C)
        grad_w = g.t().mm(F.gelu(h2d)) if need[1] else None  # GELU recomputed
        grad_b = g.sum(0) if need[2] else None
        grad_h = None
        if need[0]:
            grad_h = torch.ops.aten.gelu_backward(g.mm(weight), h2d)
            grad_h = grad_h.view(grad_out.shape[:-1] + (h2d.shape[-1], ))
        return grad_h, grad_w, grad_b


def _lean_ok(x: torch.Tensor, norm: nn.Module) -> bool:
    """Whether the lean path computes what the modules would."""
    return (isinstance(norm, nn.LayerNorm) and norm.elementwise_affine
            and norm.weight is not None and norm.bias is not None
            and len(norm.normalized_shape) == 1 and x.dtype in (torch.float32, torch.float64)
            and not torch.is_autocast_enabled(x.device.type))


def layer_norm_linear(x: torch.Tensor, norm: nn.Module, linear: nn.Linear) -> torch.Tensor:
    """``linear(norm(x))`` for (..., C) tokens, memory-lean when possible."""
    if not (_lean_ok(x, norm) and plain_linear(linear)):
        return linear(norm(x))
    return _LayerNormLinear.apply(x, norm.weight, norm.bias, norm.eps, linear.weight,
                                  linear.bias)


def _lean_ffn(x: torch.Tensor, norm: nn.Module, ffn: nn.Module) -> bool:
    """Whether ``ffn`` is the plain two-layer GELU mmcv ``FFN`` the lean path computes."""
    layers = getattr(ffn, 'layers', None)
    lean = (_lean_ok(x, norm) and getattr(ffn, 'num_fcs', None) == 2 and layers is not None
            and len(layers) == 3 and isinstance(getattr(ffn, 'gamma2', None), nn.Identity))
    if lean:
        block1, fc2, drop2 = layers[0], layers[1], layers[2]
        lean = (len(block1) == 3 and plain_linear(block1[0]) and plain_linear(fc2)
                and type(block1[1]) is nn.GELU and block1[1].approximate == 'none'
                and all(inactive_dropout(m) for m in (block1[2], drop2)))
    return lean


def _lean_ffn_branch(x: torch.Tensor, norm: nn.Module, ffn: nn.Module) -> torch.Tensor:
    """``ffn.dropout_layer(fc2(gelu(fc1(norm(x)))))`` through the lean autograd functions."""
    fc1, fc2 = ffn.layers[0][0], ffn.layers[1]
    # Two autograd nodes, not one: each frees its weight gradient before the next runs.
    hidden = _LayerNormLinear.apply(x, norm.weight, norm.bias, norm.eps, fc1.weight,
                                    fc1.bias)  # (..., 4C)
    out = _GeluLinear.apply(hidden, fc2.weight, fc2.bias)  # (..., C)
    return ffn.dropout_layer(out)


def layer_norm_mlp(x: torch.Tensor, norm: nn.Module, ffn: nn.Module) -> torch.Tensor:
    """``ffn(norm(x), identity=x)`` of an mmcv ``FFN`` (fc1, GELU, fc2, drop path, residual).

    The lean path needs the plain two-layer GELU FFN of Swin: ``num_fcs == 2``, no layer
    scale, no active dropout (the drop path on the branch is applied as usual).
    """
    if not (_lean_ffn(x, norm, ffn) and getattr(ffn, 'add_identity', False)):
        return ffn(norm(x), identity=x)
    return x + _lean_ffn_branch(x, norm, ffn)


def layer_norm_ffn_branch(x: torch.Tensor, norm: nn.Module, ffn: nn.Module) -> torch.Tensor:
    """``ffn(norm(x))`` of an mmcv ``FFN`` built with ``add_identity=False`` (Twins).

    The residual is the caller's. Memory-lean under the conditions of :func:`layer_norm_mlp`.
    """
    if getattr(ffn, 'add_identity', True):
        raise ValueError('layer_norm_ffn_branch expects an FFN with add_identity=False; '
                         'use layer_norm_mlp for FFNs that add their own residual')
    if not _lean_ffn(x, norm, ffn):
        return ffn(norm(x))
    return _lean_ffn_branch(x, norm, ffn)


def plain_linear(module: nn.Module) -> bool:
    """Whether ``module(x)`` is exactly ``F.linear(x, weight, bias)``."""
    return type(module) in _PLAIN_LINEARS


def inactive_dropout(module: nn.Module) -> bool:
    """Whether a dropout layer is the identity (an Identity, p == 0, or in eval mode)."""
    if isinstance(module, nn.Identity):
        return True
    return isinstance(module, nn.Dropout) and (module.p == 0 or not module.training)
