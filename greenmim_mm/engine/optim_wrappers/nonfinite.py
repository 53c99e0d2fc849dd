"""Optimizer wrappers that never apply a non-finite update and log the gradient norm.

Long mixed-precision runs of masked image models are known to end in ``loss is nan``
(GreenMIM's issue #6, SimMIM's #15, mmpretrain #1632). With these wrappers a step whose loss
or gradients are not finite leaves the weights (and the optimizer state) untouched:

- on CUDA fp16, :class:`NonFiniteSkipAmpOptimWrapper`: the loss scaler unscales the
  gradients, finds the inf/NaN and skips the step, shrinking the scale, as
  ``AmpOptimWrapper`` does; the wrapper also counts the skip and warns;
- on CPU bfloat16 (:class:`NonFiniteSkipCpuAmpOptimWrapper`) and in float32
  (:class:`NonFiniteSkipOptimWrapper`) there is no scaler: the wrapper itself checks the loss
  and the total gradient norm and skips the step with a warning that counts skips.

``max_consecutive_skips`` consecutive skips stop the run with a ``RuntimeError`` saying what
to do. The total gradient norm (before clipping; after unscaling) goes to the message hub as
``train/grad_norm`` every update, so ``LoggerHook`` prints it each logging interval
(averaged over the interval), with ``train/skipped_steps`` (skips so far in this process).
In data-parallel runs the decision to skip is all-reduced, so that every rank skips together.
"""
import warnings
from typing import List, Optional

import torch
from mmengine import dist
from mmengine.optim import AmpOptimWrapper, OptimWrapper
from mmengine.registry import OPTIM_WRAPPERS

from .cpu_amp import CpuAmpOptimWrapper
from .weight_shadow import WeightShadowMixin


class NonFiniteStepError(RuntimeError):
    """Too many consecutive optimizer steps had a non-finite loss or gradients."""


def total_grad_norm(grads: List[torch.Tensor]) -> torch.Tensor:
    """The 2-norm of all ``grads`` together (what ``torch.nn.utils.get_total_norm`` gives,
    up to rounding), in few operations.

    ``get_total_norm`` runs one ``linalg.vector_norm`` per tensor on CPU (it uses the foreach
    kernels on CUDA only). Here, per device and dtype: on CUDA one ``torch._foreach_norm``
    (one fused kernel); on CPU, float32/float64 gradients as sums of squares by ``torch.dot``
    (BLAS, multi-threaded: on a 2-core Xeon half the time of ``vector_norm``, which
    ``_foreach_norm`` also runs per tensor there), other dtypes by ``_foreach_norm``.

    Args:
        grads (list[Tensor]): The gradients.

    Returns:
        Tensor: A float32 scalar on the first gradient's device (zero without gradients).
    """
    if not grads:
        return torch.zeros(())
    groups = {}
    for grad in grads:
        groups.setdefault((grad.device, grad.dtype), []).append(grad)
    device = grads[0].device
    squares = []
    for (group_device, dtype), group in groups.items():
        if group_device.type == 'cpu' and dtype in (torch.float32, torch.float64):
            sq = torch.stack([torch.dot(g.reshape(-1), g.reshape(-1)) for g in group]).sum()
        else:
            sq = torch.stack(torch._foreach_norm(group, 2.0)).float().square().sum()
        squares.append(sq.float().to(device))
    return torch.stack(squares).sum().sqrt()


class NonFiniteSkipMixin:
    """Skip updates whose loss or gradients are not finite; log the gradient norm.

    Put it before an ``OptimWrapper`` subclass in the bases. It overrides ``backward`` (to
    note whether the loss is finite) and ``step``; ``update_params``, gradient accumulation,
    ``zero_grad`` and checkpoints stay the base class's.

    Args:
        max_consecutive_skips (int): Stop with :class:`NonFiniteStepError` when this many
            steps in a row are skipped (a diverged run, not a passing spike). 0 disables
            the limit. Defaults to 20.
        log_grad_norm (bool): Write the total gradient norm to the message hub as
            ``train/grad_norm``. Defaults to True.
        **kwargs: Arguments of the wrapped ``OptimWrapper`` class.
    """

    def __init__(self,
                 *args,
                 max_consecutive_skips: int = 20,
                 log_grad_norm: bool = True,
                 **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if not isinstance(max_consecutive_skips, int) or max_consecutive_skips < 0:
            raise ValueError('max_consecutive_skips must be a non-negative int (0: no '
                             f'limit), got {max_consecutive_skips!r}')
        self.max_consecutive_skips = max_consecutive_skips
        self.log_grad_norm = log_grad_norm
        self.consecutive_skips = 0
        self.total_skips = 0
        self._loss_finite: Optional[torch.Tensor] = None  # since the last step

    def backward(self, loss: torch.Tensor, **kwargs) -> None:
        finite = torch.isfinite(loss.detach()).all()
        self._loss_finite = finite if self._loss_finite is None else self._loss_finite & finite
        super().backward(loss, **kwargs)

    def _grads(self) -> List[torch.Tensor]:
        return [
            p.grad for group in self.optimizer.param_groups for p in group['params']
            if p.grad is not None
        ]

    def _enabled_scaler(self):
        scaler = getattr(self, 'loss_scaler', None)
        return scaler if scaler is not None and scaler.is_enabled() else None

    @torch.compiler.disable
    def step(self, **kwargs) -> None:
        """Clip (if configured) and step, or skip when the loss or a gradient is not finite.

        Never traced by ``torch.compile`` (a model whose compiled ``train_step`` calls
        ``update_params`` inside the graph, as mmpretrain's do, would have dynamo meet
        mmengine's ``ConfigDict`` parameter groups here); it runs eagerly.
        """
        scaler = self._enabled_scaler()
        if scaler is not None:
            scaler.unscale_(self.optimizer)  # the norm (and clipping) in true units
        grad_norm = total_grad_norm(self._grads())
        loss_finite = self._loss_finite
        self._loss_finite = None
        ok = torch.isfinite(grad_norm)
        if loss_finite is not None:
            ok = ok & loss_finite.to(ok.device)
        ok = ok.to(torch.float32).reshape(1)
        if dist.get_world_size() > 1:  # every rank takes the same decision
            dist.all_reduce(ok, op='min')
        norm_value = float(grad_norm)
        if bool(ok.item()):
            self.consecutive_skips = 0
            if self.log_grad_norm:
                self.message_hub.update_scalar('train/grad_norm', norm_value)
            self.message_hub.update_scalar('train/skipped_steps', self.total_skips)
            if self.clip_grad_kwargs:
                self._clip_grad()
            if scaler is not None:
                scaler.step(self.optimizer, **kwargs)
                scaler.update(getattr(self, '_scale_update_param', None))
            else:
                self.optimizer.step(**kwargs)
            return
        self._skip(scaler, norm_value, loss_finite)

    def _skip(self, scaler, norm_value: float, loss_finite: Optional[torch.Tensor]) -> None:
        """No update; shrink the loss scale, count, warn, and stop when it keeps happening."""
        scale_text = ''
        if scaler is not None:
            # unscale_ recorded the inf/NaN: update() backs the scale off without a step.
            scaler.update(getattr(self, '_scale_update_param', None))
            scale_text = f', loss scale now {scaler.get_scale():g}'
        self.consecutive_skips += 1
        self.total_skips += 1
        self.message_hub.update_scalar('train/skipped_steps', self.total_skips)
        loss_text = ('not finite' if loss_finite is not None and not bool(loss_finite) else
                     'finite' if loss_finite is not None else 'unknown')
        warnings.warn(
            f'optimizer step skipped, weights unchanged: loss {loss_text}, gradient norm '
            f'{norm_value}{scale_text} ({self.consecutive_skips} consecutive skip(s), '
            f'{self.total_skips} in total)',
            RuntimeWarning,
            stacklevel=2)
        limit = self.max_consecutive_skips
        if limit and self.consecutive_skips >= limit:
            raise NonFiniteStepError(
                f'{self.consecutive_skips} consecutive optimizer steps had a non-finite loss '
                'or gradients and were skipped: training has diverged. Resume from the last '
                'good checkpoint with a lower learning rate, a longer warm-up or gradient '
                'clipping (optim_wrapper=dict(clip_grad=dict(max_norm=...))), or train in '
                'float32 (without --amp). The limit is optim_wrapper\'s '
                f'max_consecutive_skips={limit} (0: no limit).')


@OPTIM_WRAPPERS.register_module()
class NonFiniteSkipOptimWrapper(NonFiniteSkipMixin, OptimWrapper):
    """``OptimWrapper`` (float32) that skips non-finite updates; see :class:`NonFiniteSkipMixin`."""


@OPTIM_WRAPPERS.register_module()
class NonFiniteSkipAmpOptimWrapper(WeightShadowMixin, NonFiniteSkipMixin, AmpOptimWrapper):
    """``AmpOptimWrapper`` (CUDA fp16/bf16, loss scaling) that counts skipped steps, stops
    after too many in a row and logs the gradient norm; see :class:`NonFiniteSkipMixin`.
    It keeps a reduced-precision shadow of the weights (``shadow_weights=True``), see
    :class:`WeightShadowMixin`."""


@OPTIM_WRAPPERS.register_module()
class NonFiniteSkipCpuAmpOptimWrapper(WeightShadowMixin, NonFiniteSkipMixin, CpuAmpOptimWrapper):
    """:class:`CpuAmpOptimWrapper` (CPU bfloat16 autocast) that skips non-finite updates
    (see :class:`NonFiniteSkipMixin`) and keeps a bfloat16 shadow of the weights
    (``shadow_weights=True``, see :class:`WeightShadowMixin`)."""
