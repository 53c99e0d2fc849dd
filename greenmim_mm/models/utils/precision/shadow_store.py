"""Reduced-precision shadows of parameters, so that autocast casts each weight once per step.

Under autocast every matmul runs on a reduced-precision (bf16/fp16) copy of its float32
weight. The memory-lean autograd functions (:mod:`.lean_ops`, :mod:`..sparse.group_attention`) keep
the float32 parameter for backward instead of that copy, so without a shadow they cast each
weight twice per step: in forward and again in backward. A :class:`WeightShadow` keeps one
reduced-precision copy of each parameter those functions read, as optimizer state (the
optimizer wrapper owns it, like AdamW's moments): refreshed once after every
``optimizer.step()`` and read by the lean functions in forward and backward. The float32
master weights and the optimizer are unchanged, and a shadow holds exactly the bits of
``param.to(dtype)``, so results are identical with and without it.

A shadow is never used stale: besides the refresh after each optimizer step (fused
optimizers do not bump the parameters' version counters), a lookup compares the parameter's
version counter, storage and shape with those at the last refresh, and casts again when they
differ (``load_state_dict``, resuming, in-place edits under ``torch.no_grad()``). The one
change it cannot see is an in-place edit through ``param.data``, which autograd does not see
either; edit parameters under ``torch.no_grad()`` instead.

Shadows are not parameters or buffers: they never enter a ``state_dict`` or a checkpoint.
"""
import weakref
from typing import Iterable, Optional

import torch
from torch.utils.weak import WeakIdKeyDictionary

# parameter -> weak reference to the WeightShadow that keeps its copy.
# Why a lookup by parameter rather than a handle passed down: the lean functions run inside
# the forwards of mmpretrain's modules (WindowMSA, FFN, PatchMerging), whose signatures are not
# ours, and the optimizer wrapper that owns the shadows never sees those calls. The parameter
# is the one object both sides hold, so it is the key; both sides are weak, so the map keeps
# neither a model nor a wrapper alive.
_OWNERS = WeakIdKeyDictionary()


class _Entry:
    """One parameter's shadow and what the parameter was when it was last cast."""

    __slots__ = ('shadow', 'version', 'data_ptr')

    def __init__(self, param: torch.Tensor, dtype: torch.dtype) -> None:
        with torch.no_grad():
            self.shadow = param.detach().to(dtype)
        self.mark(param)

    def mark(self, param: torch.Tensor) -> None:
        self.version, self.data_ptr = param._version, param.data_ptr()

    def fits(self, param: torch.Tensor, dtype: torch.dtype) -> bool:
        """Whether the shadow has the place of ``param.to(dtype)`` (its values aside)."""
        shadow = self.shadow
        return (shadow.dtype == dtype and shadow.shape == param.shape
                and shadow.device == param.device)

    def current(self, param: torch.Tensor) -> bool:
        """Whether ``param`` is unchanged since the shadow was last cast from it."""
        return self.version == param._version and self.data_ptr == param.data_ptr()


class WeightShadow:
    """Reduced-precision copies of parameters, made on first use and kept current.

    Only parameters given here get a shadow, and only once a lean function asks for it in a
    training forward (the dtype is the autocast dtype of that forward), so the copies cover
    the weights those functions read, not the modules autocast casts itself. Registering a
    parameter that another ``WeightShadow`` holds moves it to this one.

    Args:
        params (Iterable[Tensor]): the parameters that may be shadowed (typically all of an
            optimizer's).
    """

    def __init__(self, params: Iterable[torch.Tensor]) -> None:
        self._entries = WeakIdKeyDictionary()  # parameter -> _Entry
        ref = weakref.ref(self)
        for param in params:
            if param.is_floating_point():
                _OWNERS[param] = ref

    def get(self, param: torch.Tensor, dtype: torch.dtype) -> Optional[torch.Tensor]:
        """``param.to(dtype)`` from the shadow (cast again first if ``param`` changed).

        None when no shadow can be made here (inside ``torch.inference_mode``, whose tensors
        autograd cannot save).
        """
        entry = self._entries.get(param)
        if entry is None or not entry.fits(param, dtype):
            if torch.is_inference_mode_enabled():
                return None
            entry = self._entries[param] = _Entry(param, dtype)
        elif not entry.current(param):
            with torch.no_grad():
                entry.shadow.copy_(param.detach())
            entry.mark(param)
        return entry.shadow

    @torch.no_grad()
    def refresh(self) -> None:
        """Cast every shadowed parameter again (after an optimizer step): one foreach copy
        per device and dtype."""
        groups, moved = {}, []
        for param, entry in self._entries.items():
            if entry.fits(param, entry.shadow.dtype):
                groups.setdefault((param.device, entry.shadow.dtype), []).append((param, entry))
            else:  # reshaped or moved: cast anew on next use
                moved.append(param)
        for param in moved:
            del self._entries[param]
        for pairs in groups.values():
            torch._foreach_copy_([e.shadow for _, e in pairs], [p.detach() for p, _ in pairs])
            for param, entry in pairs:
                entry.mark(param)

    def num_bytes(self) -> int:
        """Memory held by the shadows."""
        return sum(e.shadow.numel() * e.shadow.element_size() for e in self._entries.values())

    def __len__(self) -> int:
        return len(self._entries)


def shadow_of(param: torch.Tensor, dtype: torch.dtype) -> Optional[torch.Tensor]:
    """The current ``dtype`` shadow of ``param``, or None when no ``WeightShadow`` keeps it."""
    ref = _OWNERS.get(param)
    owner = ref() if ref is not None else None
    return None if owner is None else owner.get(param, dtype)
