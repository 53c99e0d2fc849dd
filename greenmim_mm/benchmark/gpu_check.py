"""``make gpu-check``: the CUDA tests and the benchmark grid on one GPU, in one go.

Runs, each in its own process and within one time budget (8 minutes by default):

1. the tests that need CUDA (``pytest tests -k cuda``; on a machine without CUDA they are
   recorded as skipped);
2. the benchmark (:mod:`greenmim_mm.benchmark.run`) at 224 px, batch 32, 64 and 128, in
   float32 and under AMP (float16 and bfloat16 autocast), eager with ``--profile`` (ATen
   operations, casts and bytes cast per step), then the step memory at the largest batch;
3. the same grid with ``--compile`` (``torch.compile`` of ``train_step``), one process per
   precision and batch; a contender that fails to compile is recorded with its error.

Whatever the budget leaves out is recorded as not run. Writes ``gpu_check.json`` (every
run's results or error) and ``gpu_check.md`` (a short table) to ``--out-dir``.

``--tiny`` is the CPU-sized smoke run that ``make test-slow`` exercises (a small Swin,
:data:`.options.SMOKE_ARCH`, 224 px batch 1, no warm-up, one timed and one profiled step,
eager float32 and bfloat16, no memory processes, CUDA tests only where a GPU is present).
"""
import argparse
import json
import os
import os.path as osp
import signal
import subprocess
import sys
import time
from typing import List, Optional

import torch

from .options import SMOKE_ARCH

PRECISIONS = {
    'fp32': [],
    'fp16': ['--amp', '--amp-dtype', 'float16'],
    'bf16': ['--amp', '--amp-dtype', 'bfloat16']
}


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    """The flags of ``tools/analysis_tools/gpu_check.py``."""
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument(
        '--out-dir',
        default=osp.join('work_dirs', 'gpu_check'),
        help='where gpu_check.json and gpu_check.md go')
    parser.add_argument(
        '--budget-s',
        type=float,
        default=480.,
        help='time for everything; what does not fit is recorded as not run')
    parser.add_argument('--batches', nargs='+', type=int, default=[32, 64, 128])
    parser.add_argument('--img', type=int, default=224)
    parser.add_argument(
        '--precisions', nargs='+', choices=list(PRECISIONS), default=list(PRECISIONS))
    parser.add_argument(
        '--modes', nargs='+', choices=['eager', 'compiled'], default=['eager', 'compiled'])
    parser.add_argument('--iters', type=int, default=5, help='timed steps per model and case')
    parser.add_argument('--warmup', type=int, default=2, help='untimed steps (after compiling)')
    parser.add_argument('--no-tests', action='store_true', help='skip the CUDA tests')
    parser.add_argument(
        '--tests-dir',
        help="the test suite whose CUDA tests run first (a source checkout's tests/; "
        'tools/analysis_tools/gpu_check.py passes it)')
    parser.add_argument('--no-memory', action='store_true', help='skip the memory processes')
    parser.add_argument(
        '--tiny',
        action='store_true',
        help='smoke run on any machine: a small Swin (embed 32, depths 2-2-2-2), batch 1, '
        'one timed and one profiled step without warm-up, eager fp32 and bf16, no memory '
        'processes')
    args = parser.parse_args(argv)
    args.device = 'cuda' if torch.cuda.is_available() else 'cpu'
    if args.tiny:
        # the fewest steps that still fill every field: on a CPU without bf16 instructions
        # a bf16 step of the dense baseline takes seconds even at this size
        args.batches, args.iters, args.warmup, args.no_memory = [1], 1, 0, True
        args.modes = ['eager']
        args.precisions = ['fp32', 'bf16'] + (['fp16'] if args.device == 'cuda' else [])
    elif args.device != 'cuda':
        parser.error('no CUDA device is visible to torch: the GPU check needs one (use --tiny '
                     'for the smoke run on a CPU)')
    return args


class Budget:
    """The time left of ``--budget-s``, shared by the runs."""

    def __init__(self, seconds: float):
        self.end = time.monotonic() + seconds

    def left(self) -> float:
        return self.end - time.monotonic()


def _subprocess_env() -> dict:
    env = dict(os.environ)
    package_parent = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
    env['PYTHONPATH'] = os.pathsep.join(p for p in (package_parent, env.get('PYTHONPATH')) if p)
    return env


def _run(cmd: List[str], budget: Budget, log_path: str) -> dict:
    """Run ``cmd`` within the budget; its output goes to ``log_path``."""
    left = budget.left()
    if left < 5:
        return dict(status='not run: time budget spent')
    start = time.monotonic()
    with open(log_path, 'w') as log:
        # its own process group: a timeout also ends the memory workers it started
        proc = subprocess.Popen(
            cmd,
            stdout=log,
            stderr=subprocess.STDOUT,
            text=True,
            env=_subprocess_env(),
            start_new_session=True)
        try:
            proc.wait(timeout=left)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            return dict(
                status=f'stopped: time budget spent after {left:.0f} s',
                seconds=time.monotonic() - start,
                log=log_path)
    status = 'ok' if proc.returncode == 0 else f'failed (exit {proc.returncode})'
    return dict(status=status, seconds=time.monotonic() - start, log=log_path)


def run_cuda_tests(args: argparse.Namespace, budget: Budget) -> dict:
    """``pytest tests -k cuda``: outcome counts from its JUnit XML."""
    if args.device != 'cuda':
        return dict(status='skipped: no CUDA device')
    if not args.tests_dir:
        return dict(status='skipped: no --tests-dir (the tests are in a source checkout)')
    xml = osp.join(args.out_dir, 'cuda_tests.xml')
    result = _run([
        sys.executable, '-m', 'pytest', args.tests_dir, '-k', 'cuda', '-q', '-rs', '-p',
        'no:cacheprovider', f'--junitxml={xml}'
    ], budget, osp.join(args.out_dir, 'cuda_tests.log'))
    if osp.exists(xml):
        import xml.etree.ElementTree as ET
        root = ET.parse(xml).getroot()
        suite = root if root.tag == 'testsuite' else root.find('testsuite')
        counted = ('tests', 'failures', 'errors', 'skipped')
        result.update({k: int(suite.get(k, 0)) for k in counted})
        result['passed'] = (
            result['tests'] - result['failures'] - result['errors'] - result['skipped'])
    if result['status'] == 'failed (exit 5)':
        result['status'] = 'no tests collected'
    return result


def benchmark_command(args: argparse.Namespace, cell: dict, json_path: str) -> List[str]:
    """The benchmark process of one grid cell (see :func:`grid`)."""
    cmd = [
        sys.executable, '-m', 'greenmim_mm.benchmark.run', '--device', args.device, '--no-sweep',
        '--iters',
        str(args.iters), '--warmup',
        str(args.warmup), '--json', json_path, '--cases'
    ] + [f'{args.img}:{b}' for b in cell['batches']]
    cmd += PRECISIONS[cell['precision']]
    if cell['kind'] == 'memory':
        cmd += ['--no-time', '--mem-steps', '1']
    else:
        cmd += ['--no-memory'] + (['--compile'] if cell['kind'] == 'compiled' else ['--profile'])
    if args.tiny:
        cmd += ['--arch', SMOKE_ARCH, '--threads', '1']
        if cell['kind'] == 'eager':
            cmd += ['--profile-steps', '1']
    return cmd


def grid(args: argparse.Namespace) -> List[dict]:
    """The benchmark processes in the order they run, each a dict of ``precision``, ``kind``
    and ``batches``: eager timings with ``--profile`` (one process per precision, all
    batches), the step memory (per precision, the largest batch), compiled timings (one
    process per precision and batch, so that a budget spent mid-way keeps what was done)."""
    precisions = [p for p in args.precisions if p != 'fp16' or args.device == 'cuda']
    cells = []
    if 'eager' in args.modes:
        cells += [dict(precision=p, kind='eager', batches=list(args.batches)) for p in precisions]
        if not args.no_memory:
            cells += [
                dict(precision=p, kind='memory', batches=[max(args.batches)]) for p in precisions
            ]
    if 'compiled' in args.modes:
        cells += [
            dict(precision=p, kind='compiled', batches=[b]) for p in precisions
            for b in args.batches
        ]
    return cells


def main(argv: Optional[List[str]] = None) -> dict:
    """Run the check; write and return its results.

    Args:
        argv (list[str], optional): The flags; ``sys.argv[1:]`` when None.

    Returns:
        dict: ``machine``, ``settings``, ``cuda_tests`` and ``runs`` (per precision, mode
        and kind the benchmark's results or the run's status), as in ``gpu_check.json``.
    """
    args = parse_args(argv)
    os.makedirs(args.out_dir, exist_ok=True)
    budget = Budget(args.budget_s)
    results = dict(
        machine=dict(
            device=args.device,
            torch=torch.__version__,
            date=time.strftime('%Y-%m-%d', time.gmtime()),
            gpu=torch.cuda.get_device_name() if args.device == 'cuda' else None),
        settings={
            k: v
            for k, v in vars(args).items() if k != 'out_dir'
        },
        cuda_tests=None,
        runs=[])
    print('[gpu-check] CUDA tests ...', flush=True)
    results['cuda_tests'] = (
        dict(status='skipped: --no-tests') if args.no_tests else run_cuda_tests(args, budget))
    for cell in grid(args):
        name = f"{cell['precision']}_{cell['kind']}" + (f"_b{cell['batches'][0]}"
                                                        if cell['kind'] == 'compiled' else '')
        print(f'[gpu-check] {name} ...', flush=True)
        stem = osp.join(args.out_dir, 'bench_' + name)
        run = dict(cell, mode='compiled' if cell['kind'] == 'compiled' else 'eager')
        run.update(_run(benchmark_command(args, cell, stem + '.json'), budget, stem + '.log'))
        if osp.exists(stem + '.json') and run['status'] == 'ok':
            with open(stem + '.json') as f:
                bench = json.load(f)
            run['cases'] = bench['cases']
            results['machine'].update(cpu=bench['machine']['cpu'])
        results['runs'].append(run)
    with open(osp.join(args.out_dir, 'gpu_check.json'), 'w') as f:
        json.dump(results, f, indent=1)
    table = markdown(results)
    with open(osp.join(args.out_dir, 'gpu_check.md'), 'w') as f:
        f.write(table)
    print('\n' + table + f"\nwrote {osp.join(args.out_dir, 'gpu_check.json')} and gpu_check.md")
    return results


def _seconds(entry: Optional[dict]) -> str:
    return f"{entry['step_s_median'] * 1e3:.0f} ms" if entry and 'step_s_median' in entry \
        else ('error' if entry and 'error' in entry else '-')


def markdown(results: dict) -> str:
    """The short table of ``gpu_check.md``."""
    m = results['machine']
    tests = results['cuda_tests']
    lines = [
        f"# GPU check: {m.get('gpu') or m['device']} (CPU {m.get('cpu', '?')}, "
        f"torch {m['torch']}, {m.get('date', '?')})", '',
        'CUDA tests: ' + (f"{tests['passed']} passed, {tests['failures']} failed, "
                          f"{tests['errors']} errors, {tests['skipped']} skipped "
                          f"({tests['seconds']:.0f} s)" if 'tests' in tests else tests['status']),
        '', '| precision | mode | batch | GreenMIM step | SimMIM step | speed-up | '
        'GreenMIM img/s | compile (G / S) | ATen ops G / S | casts G / S |',
        '|---|---|---|---|---|---|---|---|---|---|'
    ]
    memory_rows = []
    for run in results['runs']:
        if run['kind'] == 'memory':
            for case in run.get('cases', []):
                mem = case['memory']
                memory_rows.append(f"| {run['precision']} | {case['batch']} | "
                                   f"{mem['greenmim']['step_bytes'] / 2**20:.0f} MiB | "
                                   f"{mem['simmim']['step_bytes'] / 2**20:.0f} MiB | "
                                   f"{mem['step_ratio']:.2f}x |")
            if 'cases' not in run:
                memory_rows.append(f"| {run['precision']} | - | {run['status']} | | |")
            continue
        if 'cases' not in run:
            lines.append(f"| {run['precision']} | {run['mode']} | - | {run['status']} | | | "
                         '| | | |')
            continue
        for case in run['cases']:
            g, s = case.get('greenmim', {}), case.get('simmim', {})
            compile_s = ' / '.join(f"{e['first_step_s']:.0f} s" if 'first_step_s' in e else '-'
                                   for e in (g, s)) if run['mode'] == 'compiled' else '-'
            counts = [e.get('profile', {}).get('counts') for e in (g, s)]
            ops = ' / '.join(f"{c['aten_ops']:,}" for c in counts) if all(counts) else '-'
            casts = (' / '.join(f"{c['casts']:,} ({c['cast_bytes'] / 2**20:.0f} MiB)"
                                for c in counts) if all(counts) else '-')
            speedup = f"{case['speedup']:.2f}x" if 'speedup' in case else '-'
            ips = f"{g['images_per_s']:.1f}" if 'images_per_s' in g else '-'
            lines.append(f"| {run['precision']} | {run['mode']} | {case['batch']} | "
                         f"{_seconds(g)} | {_seconds(s)} | {speedup} | {ips} | {compile_s} | "
                         f"{ops} | {casts} |")
    if memory_rows:
        lines += [
            '', '| precision | batch | GreenMIM step memory | SimMIM step memory | '
            'ratio |', '|---|---|---|---|---|'
        ] + memory_rows
    errors = [(run, name, case[name]['error']) for run in results['runs']
              for case in run.get('cases', []) for name in ('greenmim', 'simmim')
              if 'error' in case.get(name, {})]
    if errors:
        lines += ['', 'Errors:'] + [
            f"- {run['precision']} {run['mode']} {name}: {err[:300]}" for run, name, err in errors
        ]
    return '\n'.join(lines) + '\n'


if __name__ == '__main__':
    main()
