"""Timing the contenders step by step, GreenMIM's grouping share and padding, the profile."""
import argparse
import gc
import statistics
import time
import traceback
from typing import Dict, List

from .contenders import build_case, compile_contender, run_step
from .op_counts import count_aten_ops, top_ops_by_time


def _error_text(err: BaseException) -> str:
    """One line for the JSON: the exception and where it came from."""
    where = traceback.extract_tb(err.__traceback__)[-1:]
    place = f' ({where[0].filename}:{where[0].lineno})' if where else ''
    return f'{type(err).__name__}: {str(err).strip()[:2000]}{place}'


def time_case(args: argparse.Namespace, img: int, batch: int, ratio: float,
              names: List[str]) -> dict:
    """Alternate the contenders step by step.

    With ``args.compile`` each contender is compiled first and its first step (the
    compilation) is timed on its own; a contender whose compilation or step fails gets
    ``{'error': ...}`` and is left out of the rest. With ``args.profile`` each contender's
    operations are counted after the timing (on the eager model).

    Args:
        args (argparse.Namespace): The benchmark's arguments.
        img (int): Input size.
        batch (int): Batch size.
        ratio (float): GreenMIM's mask ratio.
        names (list[str]): The contenders (``'greenmim'``, ``'simmim'``, ``'authors'``).

    Returns:
        dict: ``img``, ``batch``, ``mask_ratio``, per contender its timings (and
        ``step_cpu_s_median``, the median CPU time of the process per step; with
        ``profile`` the time split of :func:`profile_contenders`,
        ``outside_gemm_unprofiled_s`` (the median step minus the GEMM time) and
        ``outside_gemm_cpu_s`` (the median step CPU time times the share outside the GEMMs,
        the figure least disturbed by other processes on a shared machine); GreenMIM's
        grouping share and padding),
        ``speedup`` (baseline median step / GreenMIM's) and ``speedup_vs_authors`` (the
        authors' code's / GreenMIM's) when both were timed, and with ``profile``
        ``outside_gemm_vs_authors`` and ``outside_gemm_cpu_vs_authors`` (GreenMIM's time
        outside the GEMMs over the authors' code's).
    """
    result = dict(img=img, batch=batch, mask_ratio=ratio)
    built = {name: build_case(args, name, img, batch, ratio) for name in names}
    if args.profile:  # before any compilation: the counts are of the eager step
        profile_contenders(args, built, result)
    if args.compile:
        for name in list(names):
            entry = result.setdefault(name, {})
            try:
                compile_contender(built[name][0], args.compile)
                entry['compile'] = args.compile
                entry['first_step_s'] = run_step(*built[name], args.device)
            except Exception as err:  # noqa: BLE001  recorded, the other contender goes on
                entry['error'] = _error_text(err)
                names = [n for n in names if n != name]
                del built[name]
                gc.collect()
    times: Dict[str, List[float]] = {name: [] for name in names}
    cpu_times: Dict[str, List[float]] = {name: [] for name in names}
    for it in range(args.warmup + args.iters):
        for name in list(names):
            try:
                cpu_start = time.process_time()
                seconds = run_step(*built[name], args.device)
                cpu_seconds = time.process_time() - cpu_start
            except Exception as err:  # noqa: BLE001
                if not args.compile:
                    raise
                result[name]['error'] = _error_text(err)  # e.g. a recompilation that fails
                names.remove(name)
                continue
            if it >= args.warmup:
                times[name].append(seconds)
                cpu_times[name].append(cpu_seconds)
    for name in names:
        t = times[name]
        med = statistics.median(t)
        result.setdefault(name, {}).update(
            step_s_median=med,
            step_s_min=min(t),
            step_s_max=max(t),
            steps_s=t,
            images_per_s=batch / med,
            step_cpu_s_median=statistics.median(cpu_times[name]))
        entry = result[name]
        if 'profile' in entry:  # the median step minus the GEMMs of the profiled steps
            entry['outside_gemm_unprofiled_s'] = med - entry['gemm_s']
            entry['outside_gemm_cpu_s'] = entry['step_cpu_s_median'] * (1 - entry['gemm_share'])
    if 'greenmim' in names:
        ours = result['greenmim']
        for other, key in (('simmim', 'speedup'), ('authors', 'speedup_vs_authors')):
            if other in names:
                result[key] = result[other]['step_s_median'] / ours['step_s_median']
        if 'authors' in names and 'outside_gemm_s' in ours:
            for key in ('outside_gemm_s', 'outside_gemm_cpu_s'):  # -> outside_gemm_vs_authors, ..
                result[key[:-2] + '_vs_authors'] = ours[key] / result['authors'][key]
    if 'greenmim' in names and not args.compile:  # patching a compiled model recompiles it
        result['greenmim'].update(greenmim_internals(args, *built['greenmim']))
    del built
    gc.collect()
    return result


def profile_contenders(args: argparse.Namespace, built: dict, result: dict) -> None:
    """Count each contender's operations in one step, then profile ``args.profile_steps``
    steps of each, the contenders alternating.

    Adds to ``result[name]``: ``profile`` (``counts``: :func:`count_aten_ops`; ``time``:
    :func:`top_ops_by_time` of the profiled step with the median time outside the GEMMs;
    ``rounds``: per profiled step ``step_s``, ``gemm_ms`` and ``non_gemm_aten_ms``),
    ``gemm_s``, ``gemm_share`` and ``outside_gemm_s`` (medians over the profiled steps of
    the GEMM self time, of its share of the step's wall time and of the wall time minus it).

    Args:
        args (argparse.Namespace): The benchmark's arguments.
        built (dict): name -> ``(model, optim_wrapper, data)``.
        result (dict): The case's result, updated in place.
    """
    for name, (model, ow, data) in built.items():
        run_step(model, ow, data, args.device)  # optimizer state exists from here on
        phases = dict(optimizer=(ow.optimizer, 'step'))
        backbone = getattr(model, 'backbone', None)
        if hasattr(backbone, 'sparse_plan'):  # GreenMIM's grouping (CPU)
            phases['sparse_plan'] = (backbone, 'sparse_plan')
        counts = count_aten_ops(lambda: model.train_step(data, ow), phases)
        result.setdefault(name, {})['profile'] = dict(counts=counts)
    rounds = {name: [] for name in built}
    for _ in range(args.profile_steps):
        for name, (model, ow, data) in built.items():
            rounds[name].append(
                top_ops_by_time(lambda: model.train_step(data, ow), args.device, args.profile_top))
    for name, timed in rounds.items():
        outside = [t['step_s'] - t['gemm_ms'] / 1e3 for t in timed]
        middle = sorted(range(len(timed)), key=outside.__getitem__)[len(timed) // 2]
        profile = result[name]['profile']
        profile['time'] = timed[middle]
        profile['rounds'] = [
            dict(step_s=t['step_s'], gemm_ms=t['gemm_ms'], non_gemm_aten_ms=t['non_gemm_aten_ms'])
            for t in timed
        ]
        result[name].update(
            gemm_s=statistics.median(t['gemm_ms'] for t in timed) / 1e3,
            gemm_share=statistics.median(t['gemm_ms'] / 1e3 / t['step_s'] for t in timed),
            outside_gemm_s=statistics.median(outside))


def greenmim_internals(args: argparse.Namespace, model, optim_wrapper, data: dict) -> dict:
    """Grouping time share (measured inside real steps) and padding per stage."""
    backbone = model.backbone
    spent = []
    plans = []
    original = backbone.sparse_plan

    def timed_plan(geometry):
        start = time.perf_counter()
        plan = original(geometry)  # CPU work on a CPU mask, whatever the device
        spent.append(time.perf_counter() - start)
        plans.append(plan)
        return plan

    backbone.sparse_plan = timed_plan
    try:
        step_times = [run_step(model, optim_wrapper, data, args.device) for _ in range(2)]
    finally:
        del backbone.sparse_plan
    grouping = statistics.median(spent)
    padding = []
    if isinstance(plans[-1], list):  # Twins: one TwinsStagePlan per stage, windows unshifted
        stage_layouts = [(p.tokens, {
            (getattr(b.attn, 'window_size', 0), 0): p.window_layout
        }) for p, b in zip(plans[-1], (s[0] for s in backbone.stages))
                         if p.window_layout is not None]
    else:
        stage_layouts = list(zip(plans[-1].tokens, plans[-1].layouts))
    for i, (tokens, layouts) in enumerate(stage_layouts):
        n = tokens.coords.shape[0]
        for (ws, shift), layout in layouts.items():
            slots = layout.num_groups * layout.group_size
            padding.append(
                dict(
                    stage=i,
                    window=ws,
                    shift=shift,
                    tokens=n,
                    groups=layout.num_groups,
                    group_size=layout.group_size,
                    padding=(slots - n) / n))
    return dict(
        grouping_s=grouping,
        grouping_share=grouping / statistics.median(step_times),
        padding=padding)
