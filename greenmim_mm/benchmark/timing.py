"""Timing the contenders step by step, GreenMIM's grouping share and padding, the profile."""
import argparse
import gc
import statistics
import time
import traceback
from typing import Dict, List

from .contenders import build_contender, compile_contender, load_config, make_batch, run_step
from .op_counts import profile_step
from .options import amp_dtype


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
        names (list[str]): The contenders (``'greenmim'``, ``'simmim'``).

    Returns:
        dict: ``img``, ``batch``, ``mask_ratio``, per contender its timings (and
        ``profile``; GreenMIM's grouping share and padding), and ``speedup`` (baseline
        median step / GreenMIM's) when both were timed.
    """
    result = dict(img=img, batch=batch, mask_ratio=ratio)
    built = {}
    for name in names:
        cfg = load_config(args, name, img, ratio)
        model, ow = build_contender(name, cfg, args.device, amp_dtype(args))
        built[name] = (model, ow, make_batch(name, batch, img, ratio))
    if args.profile:  # before any compilation: the counts are of the eager step
        for name in names:
            run_step(*built[name], args.device)  # optimizer state exists from here on
            model, ow, data = built[name]
            phases = dict(optimizer=(ow.optimizer, 'step'))
            if hasattr(model.backbone, 'sparse_plan'):  # GreenMIM's grouping (CPU)
                phases['sparse_plan'] = (model.backbone, 'sparse_plan')
            result[name] = dict(
                profile=profile_step(
                    lambda: model.train_step(data, ow),
                    args.device,
                    top=args.profile_top,
                    phases=phases))
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
    for it in range(args.warmup + args.iters):
        for name in list(names):
            try:
                seconds = run_step(*built[name], args.device)
            except Exception as err:  # noqa: BLE001
                if not args.compile:
                    raise
                result[name]['error'] = _error_text(err)  # e.g. a recompilation that fails
                names.remove(name)
                continue
            if it >= args.warmup:
                times[name].append(seconds)
    for name in names:
        t = times[name]
        med = statistics.median(t)
        result.setdefault(name, {}).update(
            step_s_median=med,
            step_s_min=min(t),
            step_s_max=max(t),
            steps_s=t,
            images_per_s=batch / med)
    if 'simmim' in names and 'greenmim' in names:
        result['speedup'] = result['simmim']['step_s_median'] / result['greenmim']['step_s_median']
    if 'greenmim' in names and not args.compile:  # patching a compiled model recompiles it
        result['greenmim'].update(greenmim_internals(args, *built['greenmim']))
    del built
    gc.collect()
    return result


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
