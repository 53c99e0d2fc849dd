"""The sparse-backbone contract: what GreenMIM needs of an encoder, written once.

A GreenMIM backbone extends a dense mmpretrain backbone with a forward on the visible tokens
of a masked image. :class:`SparseMIMBackboneMixin` holds everything such backbones share --
the declarations GreenMIM reads (``mask_unit``, ``num_stages``, ``default_img_size``), the
dispatch ``forward(x, mask=None)``, the mask check and the index plan built on the CPU and
moved to the device in one go -- so that a backbone's own file holds only its stage logic.
:func:`check_sparse_backbone` is the check GreenMIM runs on whatever backbone it is given.

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
from torch import nn

from ..utils.masking import check_unit_mask
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
      the mask unit, so every stage's tokens are fully visible or fully masked;
    - :meth:`sparse_plan`: all index tensors of one masked forward, from the CPU mask;
    - :meth:`sparse_forward`: the stages on the visible tokens, with that plan;
    - :attr:`default_img_size` when the backbone has a fixed input size (default None).

    The mask unit is square: ``mask`` is ``(B, H / mask_unit, W / mask_unit)`` bool, True =
    masked, with the same number of visible units in every sample.
    """

    @property
    @abstractmethod
    def stage_strides(self) -> List[int]:
        """Input pixels per token along each axis, for every stage (e.g. [4, 8, 16, 32])."""

    @abstractmethod
    def sparse_plan(self, mask: torch.Tensor, static_shapes: bool = False) -> Any:
        """The index geometry of every stage for a CPU ``mask``.

        Args:
            mask (Tensor): (1, Hu, Wu) bool for a mask shared by the batch, else
                (B, Hu, Wu); True = masked. Checked already, on the CPU.
            static_shapes (bool): pack window groups with a fixed capacity (``ws^2``, the
                ``group_size`` of :func:`build_group_layout`), so that only group counts
                depend on the mask. Defaults to False.

        Returns:
            Any: a plan -- tensors, possibly inside NamedTuples, lists, tuples and dicts --
            that :meth:`sparse_forward` reads; :func:`plan_to_device` moves it.
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
        if static_shapes:
            plan = pad_plan_groups(self.sparse_plan(layout_mask, static_shapes=True))
        else:
            plan = self.sparse_plan(layout_mask)
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


def batched_group_attention(attn: nn.Module, qkv: torch.Tensor, layout: GroupLayout,
                            per_sample: bool) -> torch.Tensor:
    """Group window attention of a batch of visible tokens: (B, N, 3C) -> (B, N, C).

    Args:
        attn (nn.Module): the attention module (``WindowMSA`` or Twins'
            ``LocallyGroupedSelfAttention``), see :func:`group_window_attention_qkv`.
        qkv (Tensor): (B, N, 3C) ``attn.qkv`` output of the visible tokens.
        layout (GroupLayout): the packing of one sample's tokens (shared mask), or of all
            samples' tokens together (per-sample masks).
        per_sample (bool): whether ``layout`` packs all B * N tokens.

    Returns:
        Tensor: (B, N, C) attention output (after ``proj``).
    """
    if not per_sample:
        return group_window_attention_qkv(attn, qkv, layout)
    B, N, C3 = qkv.shape
    # All samples' windows share one packing: flatten to one token set.
    out = group_window_attention_qkv(attn, qkv.reshape(1, B * N, C3), layout)  # (1, B*N, C)
    return out.view(B, N, -1)


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
            f'{", ".join(missing)}. Use GreenMIMSwinTransformer, GreenMIMPCPVT or '
            'GreenMIMSVT, or subclass SparseMIMBackboneMixin '
            '(greenmim_mm.models.backbones.sparse_backbone) before your dense backbone and '
            'implement its stage_strides, sparse_plan and sparse_forward.')
