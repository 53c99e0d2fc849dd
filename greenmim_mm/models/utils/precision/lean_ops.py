"""Memory-lean LayerNorm + Linear and GELU + Linear for the sparse Swin and Twins blocks.

Autograd keeps, per token and block, both LayerNorms' inputs and outputs, the MLP's hidden
pre-activation and its GELU output (4C floats each). Two autograd functions compute exactly
the same forward and gradients with the same ATen kernels but keep less: ``LayerNorm +
Linear`` keeps the LayerNorm input (the output is recomputed in backward), ``GELU + Linear``
keeps the pre-activation (the GELU is recomputed). That is 6C fewer floats per token and
block, about a third of a block's activations, for two cheap elementwise passes. The sparse
Swin blocks use them for the attention's ``qkv``, the MLP and the patch merging, the sparse
Twins blocks for the attention's ``qkv`` (locally grouped attention) and the MLP. Under CPU
autocast they keep the normalised tokens and the GELU output as well and recompute nothing
(:func:`recompute_in_backward`): there the recomputation costs more time than its memory is
worth.

Under autocast (bf16 on CPU; fp16 or bf16 on CUDA) they cast as autocast casts the modules
they replace: the linear layers (forward and backward matmuls) run in the autocast dtype with
the weights cast to it, the LayerNorm computes its statistics in float32 (on CUDA autocast
runs ``layer_norm`` in float32, on CPU it keeps the input's dtype and the kernel accumulates
in float32), GELU runs in its input's dtype, and results come out in the autocast dtype as
the modules' would. Bias gradients are summed as autograd sums them (float32 accumulation,
the result rounded to the autocast dtype once, then float32). Backward runs with autocast off
and the same explicit casts, whatever the autocast state at ``backward()``.

Unlike autograd of ``F.linear`` under autocast, which keeps the reduced-precision copy of
every weight until backward (half the model's parameter memory, more than the lean
activations of a Swin-B step at 224 px), they keep the float32 parameter itself. In a
training forward and its backward they read the parameter's reduced-precision shadow when
the optimizer wrapper keeps one (:mod:`.shadow_store`; the ``--amp`` wrappers do): one copy
of the weights, cast once per optimizer step. Otherwise (no such wrapper, eval, no-grad)
they cast the parameter in forward and again in backward: the same bits, one layer's copy
alive at a time.

They apply to float32/float64 (and under autocast to float32/bf16/fp16 inputs), GELU MLPs
without dropout (or in eval mode): :func:`layer_norm_linear`, :func:`layer_norm_mlp` and
:func:`layer_norm_ffn_branch` fall back to the modules otherwise.
"""
import contextlib
from typing import Optional, Tuple

import torch
import torch.nn.functional as F
from mmcv.cnn.bricks.wrappers import Linear as MMCVLinear
from torch import nn
from torch.autograd import Function

from .shadow_store import shadow_of

# Layers whose forward is exactly F.linear (mmcv's wrapper only adds empty-input handling).
_PLAIN_LINEARS = (nn.Linear, MMCVLinear)


def autocast_dtype(x: torch.Tensor) -> Optional[torch.dtype]:
    """The dtype autocast would compute a matmul of ``x`` in, or None without autocast.

    None also for float64 inputs, which autocast leaves alone.
    """
    device = x.device.type
    if x.dtype == torch.float64 or not torch.is_autocast_enabled(device):
        return None
    return torch.get_autocast_dtype(device)


def to_dtype(t: Optional[torch.Tensor], dtype: Optional[torch.dtype]) -> Optional[torch.Tensor]:
    """``t`` in ``dtype`` (no copy when it already is, or when ``dtype`` is None)."""
    return t if t is None or dtype is None else t.to(dtype)


def bias_grad(grad: torch.Tensor, dtype: Optional[torch.dtype]) -> torch.Tensor:
    """(M, C) output gradient -> (C,) bias gradient, as autograd of the plain linear gives it.

    Under autocast (``dtype`` not None) the sum runs in ``grad``'s reduced precision (the
    kernels accumulate in float32 and round the result once) and comes back in float32, the
    parameter's dtype: the values of autocast's ``addmm`` backward followed by the cast's.
    ``sum(0, dtype=torch.float32)`` would first write a float32 copy of the whole gradient,
    which on CPU costs several times the sum.
    """
    return grad.sum(0) if dtype is None else grad.sum(0).float()


def shadowed_inputs(ctx, train: bool) -> Tuple[bool, ...]:
    """Per input of an autograd function, whether it may read a parameter's shadow.

    Only a training forward (``train``: grad mode was on at ``apply``) of an input that gets
    a gradient, and the backward of that forward; eval and no-grad forwards cast as before.
    """
    return tuple(train and need for need in ctx.needs_input_grad)


def param_in(param: Optional[torch.Tensor], dtype: Optional[torch.dtype],
             shadowed: bool) -> Optional[torch.Tensor]:
    """``param`` in ``dtype``: its kept reduced-precision shadow where ``shadowed`` and one
    is kept (:mod:`.shadow_store`), else a cast; ``param`` itself when ``dtype`` is None."""
    if param is None or dtype is None:
        return param
    shadow = shadow_of(param, dtype) if shadowed else None
    return param.to(dtype) if shadow is None else shadow


def no_autocast(device_type: str, dtype: Optional[torch.dtype]):
    """Autocast switched off for a backward that casts explicitly (``dtype`` not None)."""
    if dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(device_type, enabled=False)


def recompute_in_backward(x: torch.Tensor) -> bool:
    """Whether :class:`_LayerNormLinear` and :class:`_GeluLinear` recompute in backward the
    normalised tokens and the GELU output, or keep them.

    They keep them under CPU autocast, where the recomputation is bfloat16 elementwise work
    (emulated outside AVX-512-BF16) costing more time than its memory is worth: a GELU and a
    LayerNorm per block, for a step memory still within a fifth of SimMIM's at Swin-B 224 px
    batch 8 (docs/en/mixed_precision.md, measured). In float32 and on accelerators they
    recompute.
    """
    return x.device.type != 'cpu' or autocast_dtype(x) is None


def _layer_norm_input(x2d: torch.Tensor, dtype: Optional[torch.dtype]) -> torch.Tensor:
    """What autocast hands ``layer_norm``: float32 on CUDA (and other accelerators), the
    input unchanged on CPU (whose kernel accumulates reduced precision in float32)."""
    if dtype is None or x2d.device.type == 'cpu' or x2d.dtype == torch.float32:
        return x2d
    return x2d.float()


def _layer_norm(x2d: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor,
                eps: float) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(M, C) -> LayerNorm output, mean (M, 1), rstd (M, 1): autograd's own kernel."""
    return torch.native_layer_norm(x2d, (x2d.shape[-1], ), weight, bias, eps)


def _layer_norm_backward(grad: torch.Tensor, x2d: torch.Tensor, mean: torch.Tensor,
                         rstd: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor,
                         needs: Tuple[bool, bool, bool]):
    # The CPU kernel wants float32 statistics of a reduced-precision input, as its forward
    # gives them; a forward traced by torch.compile (inductor) may return them in x's dtype.
    if x2d.dtype in (torch.bfloat16, torch.float16) and mean.dtype != torch.float32:
        mean, rstd = mean.float(), rstd.float()
    return torch.ops.aten.native_layer_norm_backward(grad, x2d, (x2d.shape[-1], ), mean, rstd,
                                                     weight, bias, list(needs))


class _LayerNormLinear(Function):
    """``linear(layer_norm(x))`` keeping x instead of the normalised tokens."""

    @staticmethod
    def forward(ctx, x, ln_w, ln_b, eps, weight, bias, train):
        dtype = autocast_dtype(x)  # None: no casts at all
        x2d = x.reshape(-1, x.shape[-1])  # (M, C)
        xn, mean, rstd = _layer_norm(_layer_norm_input(x2d, dtype), ln_w, ln_b, eps)
        ctx.shadowed = shadowed = shadowed_inputs(ctx, train)
        xn = to_dtype(xn, dtype)
        out = F.linear(xn, param_in(weight, dtype, shadowed[4]),
                       param_in(bias, dtype, shadowed[5]))  # (M, C_out)
        ctx.eps, ctx.dtype = eps, dtype
        kept = [] if recompute_in_backward(x) else [xn]
        ctx.save_for_backward(x2d, mean, rstd, ln_w, ln_b, weight, *kept)
        return out.view(*x.shape[:-1], out.shape[-1])

    @staticmethod
    def backward(ctx, grad_out):
        x2d, mean, rstd, ln_w, ln_b, weight, *kept = ctx.saved_tensors
        need, dtype = ctx.needs_input_grad, ctx.dtype
        with no_autocast(x2d.device.type, dtype):
            g = to_dtype(grad_out.reshape(-1, grad_out.shape[-1]), dtype)  # (M, C_out)
            ln_x = _layer_norm_input(x2d, dtype)
            if kept:
                xn = kept.pop()
            else:  # recomputed
                xn = to_dtype(_layer_norm(ln_x, ln_w, ln_b, ctx.eps)[0], dtype)
            grad_w = grad_b = grad_x = grad_ln_w = grad_ln_b = None
            if need[4]:
                grad_w = g.t().mm(xn).to(weight.dtype)
            if need[5]:
                grad_b = bias_grad(g, dtype)
            del xn
            if any(need[:3]):
                w = param_in(weight, dtype, ctx.shadowed[4])
                grad_xn = g.mm(w).to(ln_x.dtype)  # (M, C)
                grad_x, grad_ln_w, grad_ln_b = _layer_norm_backward(grad_xn, ln_x, mean, rstd, ln_w,
                                                                    ln_b, tuple(need[:3]))
                if grad_x is not None:
                    grad_x = grad_x.to(x2d.dtype).view(grad_out.shape[:-1] + (x2d.shape[-1], ))
        return grad_x, grad_ln_w, grad_ln_b, None, grad_w, grad_b, None


class _GeluLinear(Function):
    """``linear(gelu(h))`` keeping h instead of its GELU."""

    @staticmethod
    def forward(ctx, hidden, weight, bias, train):
        dtype = autocast_dtype(hidden)
        h2d = hidden.reshape(-1, hidden.shape[-1])  # (M, 4C)
        ctx.shadowed = shadowed = shadowed_inputs(ctx, train)
        # GELU in the hidden's dtype (autocast leaves gelu alone), the linear in ``dtype``.
        act = to_dtype(F.gelu(h2d), dtype)
        out = F.linear(act, param_in(weight, dtype, shadowed[1]),
                       param_in(bias, dtype, shadowed[2]))  # (M, C)
        ctx.dtype = dtype
        ctx.save_for_backward(h2d, weight, *([] if recompute_in_backward(hidden) else [act]))
        return out.view(*hidden.shape[:-1], out.shape[-1])

    @staticmethod
    def backward(ctx, grad_out):
        h2d, weight, *kept = ctx.saved_tensors
        need, dtype = ctx.needs_input_grad, ctx.dtype
        with no_autocast(h2d.device.type, dtype):
            g = to_dtype(grad_out.reshape(-1, grad_out.shape[-1]), dtype)  # (M, C)
            grad_w = grad_b = grad_h = None
            if need[1]:  # the kept GELU, or recomputed
                act = kept.pop() if kept else to_dtype(F.gelu(h2d), dtype)
                grad_w = g.t().mm(act).to(weight.dtype)
                del act
            if need[2]:
                grad_b = bias_grad(g, dtype)
            if need[0]:
                grad_h = torch.ops.aten.gelu_backward(
                    g.mm(param_in(weight, dtype, ctx.shadowed[1])).to(h2d.dtype), h2d)
                grad_h = grad_h.view(grad_out.shape[:-1] + (h2d.shape[-1], ))
        return grad_h, grad_w, grad_b, None


# Under CPU autocast, inputs with at least this many elements take the plain modules: there
# the recomputation in backward (a LayerNorm, a GELU) costs more time than autograd's own
# nodes (AMX, bf16: from about Swin-B's stage 1 at batch 8, 1536 x 256 tokens x channels,
# upwards); below it the lean functions are the faster path (fewer autograd nodes and casts).
# See docs/en/mixed_precision.md. float32, and CUDA (not measured; memory is what limits the
# batch there), keep the lean path at every size.
LEAN_MAX_NUMEL_UNDER_AUTOCAST = 2**18


def _lean_ok(x: torch.Tensor, norm: nn.Module) -> bool:
    """Whether the lean path computes what the modules would, and is not slower."""
    if (x.device.type == 'cpu' and autocast_dtype(x) is not None
            and x.numel() >= LEAN_MAX_NUMEL_UNDER_AUTOCAST):
        return False
    return (isinstance(norm, nn.LayerNorm) and norm.elementwise_affine and norm.weight is not None
            and norm.bias is not None and len(norm.normalized_shape) == 1 and lean_dtype_ok(x))


def lean_dtype_ok(x: torch.Tensor) -> bool:
    """float32/float64 tokens, or under autocast float32 and the reduced precisions."""
    if autocast_dtype(x) is None:
        return x.dtype in (torch.float32, torch.float64)
    return x.dtype in (torch.float32, torch.bfloat16, torch.float16)


def layer_norm_linear(x: torch.Tensor, norm: nn.Module, linear: nn.Linear) -> torch.Tensor:
    """``linear(norm(x))`` for (..., C) tokens, memory-lean when possible."""
    if not (_lean_ok(x, norm) and plain_linear(linear)):
        return linear(norm(x))
    return _LayerNormLinear.apply(x, norm.weight, norm.bias, norm.eps, linear.weight, linear.bias,
                                  torch.is_grad_enabled())


def _lean_ffn(x: torch.Tensor, norm: nn.Module, ffn: nn.Module) -> bool:
    """Whether ``ffn`` is the plain two-layer GELU mmcv ``FFN`` the lean path computes."""
    layers = getattr(ffn, 'layers', None)
    lean = (
        _lean_ok(x, norm) and getattr(ffn, 'num_fcs', None) == 2 and layers is not None
        and len(layers) == 3 and isinstance(getattr(ffn, 'gamma2', None), nn.Identity))
    if lean:
        block1, fc2, drop2 = layers[0], layers[1], layers[2]
        lean = (
            len(block1) == 3 and plain_linear(block1[0]) and plain_linear(fc2)
            and type(block1[1]) is nn.GELU and block1[1].approximate == 'none'
            and all(inactive_dropout(m) for m in (block1[2], drop2)))
    return lean


def _lean_ffn_branch(x: torch.Tensor, norm: nn.Module, ffn: nn.Module) -> torch.Tensor:
    """``ffn.dropout_layer(fc2(gelu(fc1(norm(x)))))`` through the lean autograd functions."""
    fc1, fc2 = ffn.layers[0][0], ffn.layers[1]
    # Two autograd nodes, not one: each frees its weight gradient before the next runs.
    train = torch.is_grad_enabled()
    hidden = _LayerNormLinear.apply(x, norm.weight, norm.bias, norm.eps, fc1.weight, fc1.bias,
                                    train)  # (..., 4C)
    out = _GeluLinear.apply(hidden, fc2.weight, fc2.bias, train)  # (..., C)
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
