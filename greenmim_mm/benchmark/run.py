"""The benchmark's main: the cases, the memory processes, the sweep, the outputs."""
import json
import os
import os.path as osp
from typing import List, Optional

import torch

from .contenders import prepare_process
from .memory_probe import measure_memory, memory_worker
from .options import parse_args, parse_case
from .plot import plot
from .report import machine_info, print_report
from .timing import time_case

CONTENDERS = ['greenmim', 'simmim']


def main(argv: Optional[List[str]] = None) -> dict:
    """Run the benchmark as ``tools/analysis_tools/benchmark.py`` does.

    Args:
        argv (list[str], optional): The flags; ``sys.argv[1:]`` when None.

    Returns:
        dict: ``args``, ``machine``, ``cases`` and ``sweep``, as written to ``--json``
        (empty in a memory-worker process).
    """
    args = parse_args(argv)
    prepare_process(args)
    if args.memory_worker:  # the workers of older command lines (the tool's path)
        memory_worker(args)
        return {}
    torch.manual_seed(0)
    results = dict(args=vars(args), machine=machine_info(args), cases=[], sweep=[])
    for text in args.cases:
        img, batch = parse_case(text)
        if args.no_time:
            case = dict(img=img, batch=batch, mask_ratio=args.mask_ratio)
        else:
            names = CONTENDERS + (['authors'] if args.authors_code else [])
            print(f'[benchmark] {img}px batch {batch}: timing {", ".join(names)} ...', flush=True)
            case = time_case(args, img, batch, args.mask_ratio, names)
        if not args.no_memory:
            print(
                f'[benchmark] {img}px batch {batch}: memory, one process per model ...', flush=True)
            mem = {name: measure_memory(args, name, img, batch) for name in CONTENDERS}
            mem['step_ratio'] = mem['greenmim']['step_bytes'] / max(mem['simmim']['step_bytes'], 1)
            mem['total_peak_ratio'] = (
                mem['greenmim']['total_peak_bytes'] / max(mem['simmim']['total_peak_bytes'], 1))
            case['memory'] = mem
        results['cases'].append(case)
    if not args.no_sweep:
        sweep_args = _without_profile(args)
        for img in args.sweep_sizes:
            print(f'[benchmark] sweep {img}px ...', flush=True)
            results['sweep'].append(
                time_case(sweep_args, img, args.sweep_batch, args.mask_ratio, list(CONTENDERS)))
        for ratio in args.sweep_ratios:
            if ratio == args.mask_ratio and args.sweep_sizes:
                continue
            img = min(args.sweep_sizes) if args.sweep_sizes else 224
            print(f'[benchmark] sweep {img}px mask ratio {ratio} ...', flush=True)
            results['sweep'].append(
                time_case(sweep_args, img, args.sweep_batch, ratio, ['greenmim']))
    print_report(results)
    if args.json:
        os.makedirs(osp.dirname(osp.abspath(args.json)), exist_ok=True)
        with open(args.json, 'w') as f:
            json.dump(results, f, indent=1)
        print(f'\nwrote {args.json}')
    if args.plot:
        os.makedirs(osp.dirname(osp.abspath(args.plot)), exist_ok=True)
        plot(results, args.plot)
        print(f'wrote {args.plot}')
    return results


def _without_profile(args):
    """The sweep times only: the profile is of the --cases."""
    import copy
    sweep_args = copy.copy(args)
    sweep_args.profile = False
    return sweep_args


if __name__ == '__main__':
    main()
