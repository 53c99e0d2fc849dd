"""Step memory of one contender, measured in a fresh process (see the package docstring).

:func:`measure_memory` starts ``python -m greenmim_mm.benchmark.memory_probe`` with the
benchmark's flags plus the hidden ``--memory-worker NAME --worker-case IMG:BATCH``; the worker
(:func:`memory_worker`) builds that one model, warms it up, measures and prints one JSON line.
"""
import argparse
import gc
import json
import os
import os.path as osp
import statistics
import subprocess
import sys
from typing import List, Optional

import torch

from .contenders import build_contender, load_config, make_batch, prepare_process, run_step
from .options import amp_dtype, parse_args, parse_case

MMAP_THRESHOLD = 128 * 1024  # bytes; glibc's default starting value, kept fixed


def _proc_status_kib(field: str) -> int:
    with open('/proc/self/status') as f:
        for line in f:
            if line.startswith(field + ':'):
                return int(line.split()[1])
    raise KeyError(field)


def _reset_rss_peak() -> bool:
    try:
        with open('/proc/self/clear_refs', 'w') as f:
            f.write('5')
        return True
    except OSError:
        return False


def _trim_heap() -> bool:
    """Return the C heap's free memory to the system (glibc); False where unavailable."""
    try:
        import ctypes
        return bool(ctypes.CDLL('libc.so.6').malloc_trim(0) or True)
    except (OSError, AttributeError):
        return False


def memory_worker(args: argparse.Namespace) -> dict:
    """One model, warm-up, then step memory; prints the result as one JSON line.

    Args:
        args (argparse.Namespace): The benchmark's arguments with ``memory_worker`` (the
            contender) and ``worker_case`` (``'IMG:BATCH'``).

    Returns:
        dict: ``step_bytes`` (median), ``step_bytes_all``, ``total_peak_bytes``, ``method``.
    """
    name = args.memory_worker
    img, batch = parse_case(args.worker_case)
    cfg = load_config(args, name, img, args.mask_ratio)
    model, ow = build_contender(name, cfg, args.device, amp_dtype(args))
    # Gradient buffers persist between steps (state, like the AdamW moments); otherwise
    # both models' step memory would start with the same ~350 MB of Swin-B gradients.
    zero_grad = ow.optimizer.zero_grad
    ow.optimizer.zero_grad = lambda set_to_none=True: zero_grad(set_to_none=False)
    data = make_batch(name, batch, img, args.mask_ratio)
    for _ in range(args.warmup):
        run_step(model, ow, data, args.device)
    steps, total_peak, method = [], 0, None
    for _ in range(args.mem_steps):
        gc.collect()
        if args.device == 'cuda':
            method = 'cuda max_memory_allocated - memory_allocated'
            total_peak = max(total_peak, torch.cuda.max_memory_allocated())
            torch.cuda.reset_peak_memory_stats()
            before = torch.cuda.memory_allocated()
            run_step(model, ow, data, args.device)
            peak = torch.cuda.max_memory_allocated()
        else:
            total_peak = max(total_peak, _proc_status_kib('VmHWM') * 1024)
            trimmed = _trim_heap()
            before = _proc_status_kib('VmRSS') * 1024
            if _reset_rss_peak():
                method = 'peak RSS (VmHWM after clear_refs) - RSS before'
            else:
                method = 'VmHWM - RSS before (peak could not be reset: upper bound)'
            method += ', heap trimmed before' if trimmed else ', heap not trimmed'
            if 'MALLOC_MMAP_THRESHOLD_' in os.environ:
                method += f", MALLOC_MMAP_THRESHOLD_={os.environ['MALLOC_MMAP_THRESHOLD_']}"
            run_step(model, ow, data, args.device)
            peak = _proc_status_kib('VmHWM') * 1024
        total_peak = max(total_peak, peak)
        steps.append(peak - before)
    result = dict(
        step_bytes=statistics.median(steps),
        step_bytes_all=steps,
        total_peak_bytes=total_peak,
        method=method)
    print(json.dumps(result))
    return result


def worker_command(args: argparse.Namespace, name: str, img: int, batch: int) -> List[str]:
    """The command line of the worker that measures ``name`` at ``img`` px, ``batch``."""
    cmd = [
        sys.executable, '-m', __name__, '--memory-worker', name, '--worker-case', f'{img}:{batch}',
        '--mask-ratio',
        str(args.mask_ratio), '--device', args.device, '--warmup',
        str(max(args.warmup, 1)), '--mem-steps',
        str(args.mem_steps), f'--{name}-config',
        getattr(args, f'{name}_config'), '--model', args.model
    ]
    for flag, value in (('--arch', args.arch), ('--threads', args.threads)):
        if value is not None:
            cmd += [flag, str(value)]
    for flag in ('amp', 'baseline_fused_adamw'):
        if getattr(args, flag):
            cmd.append('--' + flag.replace('_', '-'))
    if args.amp:
        cmd += ['--amp-dtype', args.amp_dtype]
    return cmd


def measure_memory(args: argparse.Namespace, name: str, img: int, batch: int) -> dict:
    """Step memory of one model, measured in a fresh process (:func:`memory_worker`)."""
    env = dict(os.environ)
    env.setdefault('MALLOC_MMAP_THRESHOLD_', str(MMAP_THRESHOLD))  # see the package docstring
    # the worker imports this very package, installed or not
    package_parent = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
    env['PYTHONPATH'] = os.pathsep.join(p for p in (package_parent, env.get('PYTHONPATH')) if p)
    proc = subprocess.run(
        worker_command(args, name, img, batch), capture_output=True, text=True, env=env)
    if proc.returncode != 0:
        raise RuntimeError(f'memory measurement of {name} at {img}px batch {batch} failed:\n'
                           f'{proc.stderr[-3000:]}')
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main(argv: Optional[List[str]] = None) -> dict:
    """The worker process's entry point."""
    args = parse_args(argv)
    if not (args.memory_worker and args.worker_case):
        raise SystemExit('greenmim_mm.benchmark.memory_probe is the memory worker of '
                         'tools/analysis_tools/benchmark.py: it needs --memory-worker NAME '
                         '--worker-case IMG:BATCH; run the benchmark instead')
    prepare_process(args)
    return memory_worker(args)


if __name__ == '__main__':
    main()
