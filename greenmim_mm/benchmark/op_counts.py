"""What one training step costs in operations: ATen operations, casts, bytes cast, top ops.

:func:`count_aten_ops` runs a step under a ``TorchDispatchMode`` and counts every ATen
operation that reaches the kernel level: after autograd and autocast (so the casts autocast
inserts are seen), after composite operations have decomposed (``linear`` is counted as the
``t`` + ``addmm`` it runs), forward, backward and optimizer alike. Each counted operation is
one kernel call (or one metadata-only view), whatever called it, so the count depends on the
code and the shapes, not on the machine or its load.

A *cast* is an explicit dtype conversion: ``aten::_to_copy`` (what ``.to(dtype)``,
``.float()``, ``type_as`` and autocast's cached casts run) whose output dtype differs from
its input's, and ``aten::copy_`` / ``aten::copy`` / ``aten::_foreach_copy_`` whose
destination dtype differs from the source's (casting into an existing buffer). A
``_foreach_copy_`` counts one cast per converted tensor. Bytes cast are the bytes written,
in the destination dtype (one bfloat16 copy of a float32 weight counts 2 bytes per
element). Type promotion inside other operations (a bf16 + fp32 add) and ``dtype=``
arguments of reductions are not casts here. Copies that change only the device are counted
apart, as transfers.

:func:`top_ops_by_time` profiles a step with ``torch.profiler`` (CPU, and CUDA when the
step runs there) and lists the ATen operations with the most self time. It splits the step's
self time into the matrix multiplies (:data:`GEMM_OPS`: the kernels of ``linear``,
``matmul``, ``einsum`` and the convolutions, forward and backward) and everything else: with
bfloat16 matmuls on a CPU with AMX, or on a GPU, the time outside the GEMMs decides the step,
and it compares implementations even on a CPU that emulates bfloat16. A GEMM's time is its
whole time, the operations it calls included: where the CPU has no bfloat16 GEMM kernel
(AVX2 only), torch's fallback runs each matrix product as thousands of ``select`` /
``as_strided`` / nested ``mm`` calls, which belong to the GEMM, not to the time around it.
"""
from collections import Counter
from typing import Any, Callable, Dict, Optional, Tuple

import torch
from torch.utils._python_dispatch import TorchDispatchMode

_TO_COPY_OPS = ('aten::_to_copy', 'aten::_autocast_to_reduced_precision',
                'aten::_autocast_to_full_precision')
_COPY_INTO_OPS = ('aten::copy_', 'aten::copy')
# The matrix-matrix multiply kernels (convolutions included): their self time is the GEMM
# time of a step. The composite operations above them (``aten::linear``, ``aten::matmul``,
# ``aten::einsum``, ``aten::convolution``) are not listed: their own self time is the
# reshaping and dispatch around the kernel, which counts as time outside the GEMMs; nor are
# the memory-bound vector products (``dot``, ``mv``: e.g. a gradient norm).
GEMM_OPS = frozenset({
    'aten::mm', 'aten::addmm', 'aten::bmm', 'aten::baddbmm', 'aten::addbmm',
    'aten::_addmm_activation', 'aten::mkldnn_linear', 'aten::mkldnn_linear_backward',
    'aten::mkldnn_linear_backward_input', 'aten::mkldnn_linear_backward_weights',
    'aten::mkldnn_matmul', 'aten::mkldnn_convolution', 'aten::convolution_backward',
    'aten::cudnn_convolution', 'aten::_slow_conv2d_forward', 'aten::_slow_conv2d_backward',
    'aten::_scaled_mm', 'aten::_int_mm'
})


class _AtenCounter(TorchDispatchMode):
    """Counts the ATen operations dispatched under it, and the casts among them."""

    def __init__(self):
        super().__init__()
        self.ops: Counter = Counter()
        self.casts = 0
        self.cast_bytes = 0
        self.cast_kinds: Dict[str, Dict[str, int]] = {}
        self.transfers = 0
        self.transfer_bytes = 0
        self.phase: Optional[str] = None
        self.phases: Counter = Counter()

    def _conversion(self, src: torch.Tensor, dst: torch.Tensor) -> None:
        nbytes = dst.numel() * dst.element_size()
        if src.dtype != dst.dtype:
            self.casts += 1
            self.cast_bytes += nbytes
            kind = self.cast_kinds.setdefault(f'{str(src.dtype)[6:]}->{str(dst.dtype)[6:]}',
                                              dict(casts=0, bytes=0))
            kind['casts'] += 1
            kind['bytes'] += nbytes
        elif src.device != dst.device:
            self.transfers += 1
            self.transfer_bytes += nbytes

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        name = func._schema.name
        if name.startswith('profiler::'):  # record_function markers, no work
            return out
        self.ops[name] += 1
        if self.phase is not None:
            self.phases[self.phase] += 1
        if name in _TO_COPY_OPS and isinstance(out, torch.Tensor):
            self._conversion(args[0], out)
        elif name in _COPY_INTO_OPS:
            self._conversion(args[1], out)
        elif name == 'aten::_foreach_copy_':
            for dst, src in zip(args[0], args[1]):
                self._conversion(src, dst)
        return out


def count_aten_ops(step: Callable[[], Any],
                   phases: Optional[Dict[str, Tuple[object, str]]] = None) -> dict:
    """Run ``step`` once and count its ATen operations and casts (see the module docstring).

    Warm the step up first (the optimizer's first step creates its state), and pass the
    eager model: a compiled one runs generated kernels, not ATen operations.

    Args:
        step (Callable[[], Any]): One training step, e.g.
            ``lambda: model.train_step(data, optim_wrapper)``.
        phases (dict, optional): Name -> ``(owner, method name)``: the operations run inside
            that method during the step are also counted under the name, e.g.
            ``{'optimizer': (optim_wrapper.optimizer, 'step')}``. Defaults to None.

    Returns:
        dict: ``aten_ops`` (int, operations of the ``aten`` namespace), ``other_ops`` (int,
        operations of other namespaces, e.g. custom ops; ``profiler::`` markers are not
        counted), ``casts`` (int), ``cast_bytes`` (int,
        bytes written in the destination dtype), ``cast_kinds`` (``'float32->bfloat16'``
        -> ``{'casts', 'bytes'}``), ``transfers`` and ``transfer_bytes`` (device-only
        copies), ``phases`` (name -> operations inside it; with ``phases``) and ``ops``
        (operation name -> count, most frequent first).
    """
    counter = _AtenCounter()
    originals = {}
    for phase, (owner, attr) in (phases or {}).items():
        originals[phase] = (owner, attr, owner.__dict__.get(attr))
        method = getattr(owner, attr)

        def in_phase(*args, _method=method, _phase=phase, **kwargs):
            outer, counter.phase = counter.phase, _phase
            try:
                return _method(*args, **kwargs)
            finally:
                counter.phase = outer

        setattr(owner, attr, in_phase)
    try:
        with counter:
            step()
    finally:
        for owner, attr, own in originals.values():
            if own is None:
                delattr(owner, attr)  # the class's method again
            else:
                setattr(owner, attr, own)
    aten_ops = sum(n for op, n in counter.ops.items() if op.startswith('aten::'))
    result = dict(
        aten_ops=aten_ops,
        other_ops=sum(counter.ops.values()) - aten_ops,
        casts=counter.casts,
        cast_bytes=counter.cast_bytes,
        cast_kinds=counter.cast_kinds,
        transfers=counter.transfers,
        transfer_bytes=counter.transfer_bytes)
    if phases:
        result['phases'] = {phase: counter.phases[phase] for phase in phases}
    result['ops'] = dict(counter.ops.most_common())
    return result


def top_ops_by_time(step: Callable[[], Any], device: str = 'cpu', top: int = 15) -> dict:
    """Profile one run of ``step`` with ``torch.profiler``; the ATen ops with most self time.

    Args:
        step (Callable[[], Any]): One training step (warmed up).
        device (str): ``'cuda'`` also records CUDA kernels and sorts by device time.
            Defaults to ``'cpu'``.
        top (int): How many operations to list. Defaults to 15.

    Returns:
        dict: ``sort_by`` (``'self_cpu'`` or ``'self_cuda'``), ``step_s`` (wall time of the
        profiled step, profiler overhead included), ``profiled_aten_calls`` (every
        ``aten::`` event the profiler recorded, nested calls included), ``gemm_ops`` (the
        names of :data:`GEMM_OPS` that ran), ``gemm_ms`` and ``gemm_calls`` (time and calls of
        those; on CPU the whole time of the outermost GEMM calls, what they call included),
        ``aten_self_ms`` (self time of every ``aten::`` event),
        ``non_gemm_aten_ms`` (the difference) -- CUDA time with ``device='cuda'``, else CPU
        time -- ``top`` and ``top_non_gemm``: per operation ``name``, ``calls``,
        ``self_cpu_ms``, ``cpu_total_ms`` (and ``self_cuda_ms`` on CUDA), all operations and
        those outside :data:`GEMM_OPS`.
    """
    import time

    from torch.profiler import ProfilerActivity, profile

    activities = [ProfilerActivity.CPU]
    cuda = device == 'cuda'
    if cuda:
        activities.append(ProfilerActivity.CUDA)
        torch.cuda.synchronize()
    with profile(activities=activities) as prof:
        start = time.perf_counter()
        step()
        if cuda:
            torch.cuda.synchronize()
        seconds = time.perf_counter() - start
    events = [e for e in prof.key_averages() if e.key.startswith('aten::')]

    def self_cuda_us(event) -> float:
        return getattr(event, 'self_device_time_total', getattr(event, 'self_cuda_time_total', 0.0))

    key = self_cuda_us if cuda else (lambda e: e.self_cpu_time_total)

    def row(event) -> dict:
        entry = dict(
            name=event.key,
            calls=event.count,
            self_cpu_ms=event.self_cpu_time_total / 1e3,
            cpu_total_ms=event.cpu_time_total / 1e3)
        if cuda:
            entry['self_cuda_ms'] = self_cuda_us(event) / 1e3
        return entry

    ranked = sorted(events, key=key, reverse=True)
    gemms = [e for e in events if e.key in GEMM_OPS]
    aten_ms = sum(key(e) for e in events) / 1e3
    if cuda:
        gemm_ms = sum(key(e) for e in gemms) / 1e3
        gemm_calls = sum(e.count for e in gemms)
        top_non_gemm = [row(e) for e in ranked if e.key not in GEMM_OPS][:top]
    else:  # the outermost GEMM calls, with everything they call
        inside_gemm = _inside_gemm_ids(prof.events())
        outer = [e for e in prof.events() if e.name in GEMM_OPS and id(e) not in inside_gemm]
        gemm_ms = sum(e.cpu_time_total for e in outer) / 1e3
        gemm_calls = len(outer)
        top_non_gemm = _outside_gemm_rows(prof.events(), inside_gemm)[:top]
    return dict(
        sort_by='self_cuda' if cuda else 'self_cpu',
        step_s=seconds,
        profiled_aten_calls=sum(e.count for e in events),
        gemm_ops=sorted(e.key for e in gemms),
        gemm_ms=gemm_ms,
        gemm_calls=gemm_calls,
        aten_self_ms=aten_ms,
        non_gemm_aten_ms=aten_ms - gemm_ms,
        top=[row(e) for e in ranked[:top]],
        top_non_gemm=top_non_gemm)


def _outside_gemm_rows(events, inside_gemm: set) -> list:
    """Per ATen operation outside the GEMM calls: ``name``, ``calls``, ``self_cpu_ms``,
    ``cpu_total_ms``, most self time first."""
    rows = {}
    for e in events:
        if e.name.startswith('aten::') and e.name not in GEMM_OPS and id(e) not in inside_gemm:
            r = rows.setdefault(e.name, dict(name=e.name, calls=0, self_cpu_ms=0., cpu_total_ms=0.))
            r['calls'] += 1
            r['self_cpu_ms'] += e.self_cpu_time_total / 1e3
            r['cpu_total_ms'] += e.cpu_time_total / 1e3
    return sorted(rows.values(), key=lambda r: r['self_cpu_ms'], reverse=True)


def _inside_gemm_ids(events) -> set:
    """``id`` of every profiler event that runs inside a :data:`GEMM_OPS` call (CPU)."""
    inside = set()
    for event in events:
        parent = event.cpu_parent
        while parent is not None:
            if parent.name in GEMM_OPS:
                inside.add(id(event))
                break
            parent = parent.cpu_parent
    return inside


def profile_step(step: Callable[[], Any],
                 device: str = 'cpu',
                 top: int = 15,
                 ops_listed: Optional[int] = None,
                 phases: Optional[Dict[str, Tuple[object, str]]] = None) -> dict:
    """:func:`count_aten_ops` and :func:`top_ops_by_time` of one step each.

    Args:
        step (Callable[[], Any]): One training step, already warmed up, eager.
        device (str): Where the step runs. Defaults to ``'cpu'``.
        top (int): Operations listed by time. Defaults to 15.
        ops_listed (int, optional): Keep only this many of the most frequent operations in
            ``counts['ops']``; all when None.
        phases (dict, optional): Passed to :func:`count_aten_ops`. Defaults to None.

    Returns:
        dict: ``counts`` (:func:`count_aten_ops`) and ``time`` (:func:`top_ops_by_time`).
    """
    counts = count_aten_ops(step, phases)
    if ops_listed is not None:
        counts['ops'] = dict(list(counts['ops'].items())[:ops_listed])
    return dict(counts=counts, time=top_ops_by_time(step, device, top))
