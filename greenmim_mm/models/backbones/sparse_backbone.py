"""The sparse-backbone contract: what GreenMIM needs of an encoder, written once.

A GreenMIM backbone extends a dense mmpretrain backbone with a forward on the visible tokens
of a masked image. :class:`SparseMIMBackboneMixin` holds everything such backbones share --
the declarations GreenMIM reads (``mask_unit``, ``num_stages``, ``default_img_size``), the
dispatch ``forward(x, mask=None)``, the mask check, the index geometry of the mask
(:class:`~greenmim_mm.models.utils.sparse.MaskGeometry`: visible tokens per stage, children,
window packing with or without static shapes) and the plan built on the CPU and moved to the
device in one go; :func:`sparse_window_attention` runs a block's window attention on the
visible tokens for a shared or a per-sample mask alike -- so that a backbone's own file holds
only its stage logic. :func:`check_sparse_backbone` is the check GreenMIM runs on whatever
backbone it is given. ``docs/en/add_a_backbone.md`` walks through a small example.

Under ``torch.compile`` the plan is the one graph break of the sparse forward: it is built
eagerly on the CPU (the mask check included, so the compiled graph holds no host sync), and
its shapes depend on the mask only through a few buckets of group counts (see
:func:`pad_plan_groups`), so a run at a fixed input size and mask ratio compiles a bounded
number of graphs.
"""
import inspect
from abc import ABCMeta, abstractmethod
from typing import Any, Callable, List, Optional, Tuple

import torch
from mmengine.registry import Registry
from mmpretrain.registry import MODELS
from torch import nn

from ..utils.masking import check_unit_mask
from ..utils.precision.lean_ops import layer_norm_linear
from ..utils.sparse.geometry import MaskGeometry
from ..utils.sparse.group_attention import group_window_attention_qkv
from ..utils.sparse.grouping import GroupLayout, group_count_buckets, pad_groups


class SparseMIMBackboneMixin(metaclass=ABCMeta):
    """A hierarchical backbone that can run on the visible tokens of a masked image.

    `Green Hierarchical Vision Transformer for Masked Image Modeling
    <https://arxiv.org/abs/2205.13515>`_

    Put the mixin first among the bases, before the dense backbone it extends
    (``class GreenMIMSwinTransformer(SparseMIMBackboneMixin, SwinTransformer)``): then
    ``forward(x)`` is the dense parent forward, parameters and ``state_dict`` are the
    parent's, and ``forward(x, mask)`` runs :meth:`sparse_forward` on a plan of index
    geometry built by :meth:`sparse_plan`. A subclass provides its stage logic only:

    - :attr:`stage_strides`: the input pixels per token of each stage; the last one is
      the mask unit, and every stride divides it, so every stage's tokens (and every cell
      of tokens a merge or reduction reads) are fully visible or fully masked;
    - :meth:`sparse_plan`: all index tensors of one masked forward, read from the
      :class:`~greenmim_mm.models.utils.sparse.MaskGeometry` of the mask;
    - :meth:`sparse_forward`: the stages on the visible tokens, with that plan (window
      attention through :func:`sparse_window_attention`);
    - :attr:`default_img_size` when the backbone has a fixed input size (default None).

    The mask unit is square: ``mask`` is ``(B, H / mask_unit, W / mask_unit)`` bool, True =
    masked, with the same number of visible units in every sample. A mask that every sample
    shares gets one plan for the whole batch. So an index tensor in a plan has one of two
    shapes, and a backbone's code must take both:

    - ``(N, ...)``: shared by the batch (``MaskGeometry.shared``), N visible tokens;
    - ``(B, N, ...)``: per sample, N visible tokens in each of the B samples.

    A :class:`~greenmim_mm.models.utils.sparse.GroupLayout` packs the N tokens of one sample
    (shared) or the B * N tokens of all samples together (per sample).
    """

    @property
    @abstractmethod
    def stage_strides(self) -> List[int]:
        """Input pixels per token along each axis, for every stage (e.g. [4, 8, 16, 32])."""

    @abstractmethod
    def sparse_plan(self, geometry: MaskGeometry) -> Any:
        """The index geometry of every stage for one mask.

        Args:
            geometry (MaskGeometry): the mask's visible tokens per stage
                (``geometry.tokens(i)``), children of coarser cells
                (``geometry.children(i, factor)``) and window packings
                (``geometry.window_layout(i, ws, shift)``), built from the checked CPU
                mask with :attr:`tokens_per_unit`; ``geometry.mask`` is (1, Hu, Wu) for a
                mask shared by the batch, else (B, Hu, Wu).

        Returns:
            Any: a plan -- tensors and :class:`GroupLayout` s, possibly inside
            NamedTuples, lists, tuples and dicts -- that :meth:`sparse_forward` reads;
            :func:`plan_to_device` moves it, :func:`pad_plan_groups` pads its layouts for a
            compiled forward.
        """

    @abstractmethod
    def sparse_forward(self, x: torch.Tensor, plan: Any) -> tuple:
        """The stages on the visible tokens.

        Args:
            x (Tensor): (B, 3, H, W) images.
            plan (Any): :meth:`sparse_plan` of the mask, on ``x``'s device.

        Returns:
            tuple[Tensor]: one (B, N_visible_s, C_s) tensor per ``out_indices`` stage, tokens
            in row-major order of the visible positions.
        """

    @property
    def mask_unit(self) -> int:
        """The mask unit GreenMIM draws masks in, in pixels: the last stage's stride."""
        return int(self.stage_strides[-1])

    @property
    def tokens_per_unit(self) -> List[int]:
        """Tokens per mask-unit side at each stage: ``mask_unit // stage_strides[i]``."""
        unit, strides = self.mask_unit, [int(s) for s in self.stage_strides]
        if any(s <= 0 or unit % s for s in strides):
            raise ValueError(f'{type(self).__name__}: every stage stride must divide the mask '
                             f'unit (the last stride, {unit} px), got stage_strides {strides}')
        return [unit // s for s in strides]

    @property
    def num_stages(self) -> int:
        """Number of stages (the last one feeds GreenMIM's decoder)."""
        return len(self.stage_strides)

    @property
    def default_img_size(self) -> Optional[Tuple[int, int]]:
        """The (H, W) input size the backbone was built for, None if it has none."""
        return None

    def forward(self, x: torch.Tensor, mask: Optional[torch.Tensor] = None) -> tuple:
        """Dense forward without ``mask``; sparse forward on visible tokens with it.

        Args:
            x (Tensor): (B, 3, H, W) images; with a mask H and W must be multiples of
                :attr:`mask_unit`.
            mask (Tensor, optional): (B, H / mask_unit, W / mask_unit) bool, True = masked
                unit, on any device. All samples must keep the same number of visible units.
                Defaults to None.

        Returns:
            tuple[Tensor]: without mask, the dense parent's outputs; with a mask, those of
            :meth:`sparse_forward`.
        """
        if mask is None:
            return super().forward(x)
        # True while torch.compile traces (a constant of the graph), False in eager mode.
        static_shapes = torch.compiler.is_compiling()
        return self.sparse_forward(x, self.checked_sparse_plan(x, mask, static_shapes))

    @torch.compiler.disable
    def checked_sparse_plan(self,
                            x: torch.Tensor,
                            mask: torch.Tensor,
                            static_shapes: bool = False) -> Any:
        """Check ``mask`` against ``x``, build its plan on the CPU, move it to ``x``'s device.

        The geometry is built on the CPU whatever the device: it is small and full of
        data-dependent shapes (each a device sync), and is moved in one go. A mask that all
        samples share gets one plan for the whole batch. ``torch.compile`` does not trace
        this method (one graph break).

        Args:
            x (Tensor): (B, 3, H, W) images.
            mask (Tensor): (B, H / mask_unit, W / mask_unit) bool, True = masked.
            static_shapes (bool): build the plan for a compiled forward: fixed group
                capacities and group counts padded to buckets (:func:`pad_plan_groups`).
                Results are the same. Defaults to False.

        Returns:
            Any: :meth:`sparse_plan` of the mask, on ``x``'s device.
        """
        mask = mask.cpu() if isinstance(mask, torch.Tensor) else mask
        mask = check_unit_mask(x, mask, self.mask_unit, type(self).__name__)
        shared = bool((mask == mask[:1]).all())
        layout_mask = mask[:1] if shared else mask  # (1 or B, Hu, Wu)
        plan = self.sparse_plan(MaskGeometry(layout_mask, self.tokens_per_unit, static_shapes))
        if static_shapes:
            plan = pad_plan_groups(plan)
        return plan_to_device(plan, x.device)


def map_plan(plan: Any, fn: Callable[[Any], Any], leaf_types: tuple = (torch.Tensor, )) -> Any:
    """``plan`` with ``fn`` applied to every value of ``leaf_types`` in it.

    Args:
        plan (Any): values nested in NamedTuples, lists, tuples and dicts.
        fn (Callable): applied to each leaf.
        leaf_types (tuple[type]): the types ``fn`` applies to (checked before descending
            into a NamedTuple). Defaults to tensors.

    Returns:
        Any: the same structure, leaves mapped, other values kept as they are.
    """
    if isinstance(plan, leaf_types):
        return fn(plan)
    if isinstance(plan, tuple) and hasattr(plan, '_fields'):  # NamedTuple
        return type(plan)(*(map_plan(v, fn, leaf_types) for v in plan))
    if isinstance(plan, (list, tuple)):
        return type(plan)(map_plan(v, fn, leaf_types) for v in plan)
    if isinstance(plan, dict):
        return {k: map_plan(v, fn, leaf_types) for k, v in plan.items()}
    return plan


def plan_to_device(plan: Any, device: torch.device) -> Any:
    """``plan`` with every tensor in it on ``device`` (the plan itself on the CPU).

    Args:
        plan (Any): tensors, possibly nested in NamedTuples, lists, tuples and dicts; other
            values are kept as they are.
        device (torch.device): the target device.

    Returns:
        Any: the same structure, tensors moved (non-blocking).
    """
    if torch.device(device).type == 'cpu':
        return plan
    return map_plan(plan, lambda t: t.to(device, non_blocking=True))


def pad_plan_groups(plan: Any) -> Any:
    """Pad every packed :class:`GroupLayout` of ``plan`` to one bucket of group counts.

    A packed layout (more than one group) of N tokens in groups of ``gs`` is padded with
    empty groups to a count from :func:`group_count_buckets` (N, gs); one bucket level is
    chosen for the whole plan -- the lowest that holds every layout -- so the shapes of
    all layouts together take at most three values for given N and ``gs``. Padded groups
    are fully masked and their outputs never read: results do not change.

    Args:
        plan (Any): a plan built with fixed group capacities (``static_shapes=True``).

    Returns:
        Any: the same plan, layouts padded.
    """
    packed = []
    map_plan(plan, lambda layout: packed.append(layout)
             if layout.num_groups > 1 else None, (GroupLayout, ))
    if not packed:
        return plan

    def buckets(layout: GroupLayout) -> List[int]:
        return group_count_buckets(layout.slot_index.shape[0], layout.group_size)

    level = max(
        next(k for k, b in enumerate(buckets(layout)) if layout.num_groups <= b)
        for layout in packed)

    def pad(layout: GroupLayout) -> GroupLayout:
        if layout.num_groups == 1:
            return layout
        sizes = buckets(layout)
        return pad_groups(layout, sizes[min(level, len(sizes) - 1)])

    return map_plan(plan, pad, (GroupLayout, ))


def sparse_window_attention(x: torch.Tensor, norm: nn.Module, attn: nn.Module,
                            layout: GroupLayout) -> torch.Tensor:
    """A pre-norm window attention on visible tokens, ``attn(norm(x))``: (B, N, C) -> (B, N, C).

    The norm is fused with ``attn.qkv`` (:func:`layer_norm_linear`, which keeps fewer
    activations for backward); the windows are those packed by ``layout``. A layout of N
    tokens (a mask shared by the batch) serves every sample; one of B * N tokens packs the
    windows of all samples together (per-sample masks).

    Args:
        x (Tensor): (B, N, C) visible tokens, before the block's norm.
        norm (nn.Module): the block's pre-attention ``nn.LayerNorm``.
        attn (nn.Module): the attention module (mmpretrain's ``WindowMSA``, Twins'
            ``LocallyGroupedSelfAttention``): see :func:`group_window_attention_qkv`.
        layout (GroupLayout): ``MaskGeometry.window_layout`` of the stage, in the plan.

    Returns:
        Tensor: (B, N, C) attention output (after ``proj``), without residual.
    """
    qkv = layer_norm_linear(x, norm, attn.qkv)  # (B, N, 3C)
    B, N, C3 = qkv.shape
    packed = layout.slot_index.shape[0]
    if packed == N:
        return group_window_attention_qkv(attn, qkv, layout)  # (B, N, C)
    if packed != B * N:
        raise ValueError(f'a window layout of {packed} tokens does not fit {B} samples of '
                         f'{N} visible tokens (N for a shared mask, B * N per sample)')
    # All samples' windows share one packing: flatten to one token set.
    out = group_window_attention_qkv(attn, qkv.reshape(1, B * N, C3), layout)  # (1, B*N, C)
    return out.view(B, N, -1)


def registered_sparse_backbones(registry: Registry = MODELS) -> List[str]:
    """Names of the registered backbones that keep the sparse contract, sorted.

    Args:
        registry (Registry): where to look, with its child registries (their names
            scope-prefixed). Defaults to mmpretrain's ``MODELS``, where GreenMIM builds its
            backbone.

    Returns:
        list[str]: every registered concrete subclass of :class:`SparseMIMBackboneMixin`.
    """
    names = [
        name for name, cls in registry.module_dict.items() if isinstance(cls, type)
        and issubclass(cls, SparseMIMBackboneMixin) and not inspect.isabstract(cls)
    ]
    for scope, child in registry.children.items():
        names += [f'{scope}.{name}' for name in registered_sparse_backbones(child)]
    return sorted(names)


def check_sparse_backbone(backbone: nn.Module, owner: str = 'GreenMIM') -> None:
    """Raise one ``ValueError`` naming all that ``backbone`` lacks of the sparse contract.

    The contract is that of :class:`SparseMIMBackboneMixin`: a positive int ``mask_unit``
    and ``num_stages``, a ``default_img_size`` that is an (H, W) pair or None, and a
    ``forward`` with a ``mask`` argument.

    Args:
        backbone (nn.Module): the built backbone.
        owner (str): who needs it, for the message. Defaults to 'GreenMIM'.
    """
    missing = []
    for name in ('mask_unit', 'num_stages'):
        value = getattr(backbone, name, None)
        if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
            missing.append(f'`{name}` (a positive int, got {value!r})')
    size = getattr(backbone, 'default_img_size', 'absent')
    if not (size is None or (isinstance(size, (tuple, list)) and len(size) == 2)):
        missing.append(f'`default_img_size` (an (H, W) pair or None, got {size!r})')
    try:
        takes_mask = 'mask' in inspect.signature(backbone.forward).parameters
    except (TypeError, ValueError):
        takes_mask = False
    if not takes_mask:
        missing.append('`forward(x, mask)` returning the visible tokens')
    if missing:
        raise ValueError(
            f'{owner} needs a sparse backbone; {type(backbone).__name__} lacks '
            f'{", ".join(missing)}. Use a registered sparse backbone '
            f'({", ".join(registered_sparse_backbones()) or "none registered"}), or subclass '
            'SparseMIMBackboneMixin (greenmim_mm.models.backbones.sparse_backbone) before your '
            'dense backbone and implement its stage_strides, sparse_plan and sparse_forward '
            '(docs/en/add_a_backbone.md).')
