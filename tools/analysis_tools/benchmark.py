"""Side-by-side training-step speed and memory of GreenMIM and mmpretrain's SimMIM.

Both models are built from configs (ours: ``configs/greenmim_swin_b_pretrain.py``; SimMIM:
``configs/benchmark/simmim_swin-b_224.py``, mmpretrain's SimMIM Swin-B at our input size) with
their configs' optimizers (AdamW). A step is what the runner does each iteration:
``model.train_step`` = data preprocessing, forward, loss, backward, gradient clipping where
the config asks for it, AdamW step, zero grad.

- Time: one process holds both models, warms each up, then alternates them step by step so
  that machine noise hits both alike; median, min/max, images/s and the ratio are reported.
- Memory: each model in its own process. "Step memory" is the peak during one step minus
  the memory before it (after warm-up steps): on CPU peak RSS (the high-water mark is reset
  by writing 5 to /proc/self/clear_refs) minus RSS, on CUDA
  ``torch.cuda.max_memory_allocated`` minus ``memory_allocated``. Two choices make it the
  memory of the step's own work (activations, temporaries) and repeatable: gradient buffers
  stay allocated between steps (``zero_grad(set_to_none=False)``, for both models), so they
  count as state like the AdamW moments; and before each measured step the C allocator
  returns its free memory to the system (glibc ``malloc_trim``). Without the trim the same
  step of the same model measured anywhere between 0 and 350 MB, depending on what the
  previous step left in the heap. For the same reason the memory processes run with glibc's
  mmap threshold fixed at 128 KiB (``MALLOC_MMAP_THRESHOLD_``, unless already set): by default
  glibc raises it after every large free, so the blocks of one step come from the heap and a
  freed block whose neighbours are still in use stays resident; at 224 px batch 2 that read
  142-164 MB for a step that needs 69 MB (bf16) and 111-121 MB for 79 MB (fp32).
  "Total peak" is the process's peak RSS over everything (model, optimizer state,
  gradients, steps).
- GreenMIM internals: the share of its step spent computing the grouping (the encoder's
  ``sparse_plan``: token sets, window packing, masks, merge indices) and the padding of
  every stage (empty group slots / visible tokens).
- A sweep over input size and mask ratio shows how the cost grows with the work.

Writes a table to stdout, ``--json`` and a PNG plot (``--plot``). Examples::

    python tools/analysis_tools/benchmark.py                       # the full set (make bench), ~15 min on 2 cores
    python tools/analysis_tools/benchmark.py --cases 224:8 --no-sweep --no-memory
    python tools/analysis_tools/benchmark.py --arch small --img 224 320 --batch 4 --no-sweep
    python tools/analysis_tools/benchmark.py --arch tiny --cases 224:1 --iters 1 --warmup 1 \\
        --sweep-sizes 224 --sweep-ratios 0.75     # smoke run
    python tools/analysis_tools/benchmark.py --device cuda --cases 224:64 224:128
    python tools/analysis_tools/benchmark.py --amp                 # both under bf16 autocast (fp16 on CUDA)
    python tools/analysis_tools/benchmark.py --device cuda --amp --amp-dtype bfloat16
"""
import argparse
import copy
import gc
import json
import os
import os.path as osp
import platform
import statistics
import subprocess
import sys
import time
from typing import Dict, List, Optional, Tuple

import torch

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))  # the checkout
DEFAULT_CONFIGS = {
    'greenmim': osp.join(ROOT, 'configs/greenmim_swin_b_pretrain.py'),
    'simmim': osp.join(ROOT, 'configs/benchmark/simmim_swin-b_224.py'),
}
# --model twins: GreenMIM on Twins-SVT-L against the same model run densely on the whole
# image (GreenMIMDenseBaseline, SimMIM-style); the baseline is reported in the SimMIM columns.
TWINS_CONFIGS = {
    'greenmim': osp.join(ROOT, 'configs/greenmim_twins_svt_l_pretrain.py'),
    'simmim': osp.join(ROOT, 'configs/benchmark/dense_twins_svt_l_224.py'),
}


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Training-step speed and memory of GreenMIM vs SimMIM, side by side',
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=__doc__.split('Examples::')[1])
    parser.add_argument('--model', default='swin', choices=['swin', 'twins'],
                        help='swin: GreenMIM vs SimMIM on Swin-B (default); twins: GreenMIM '
                        'vs the same Twins-SVT-L run densely (SimMIM-style), reported in the '
                        'SimMIM columns')
    parser.add_argument('--greenmim-config', help='default: the --model pair\'s')
    parser.add_argument('--simmim-config', help='baseline config; default: the --model pair\'s')
    parser.add_argument('--arch', help="Swin arch for both models (e.g. 'tiny'); default: "
                        "the configs' (base)")
    parser.add_argument('--cases', nargs='+', default=['224:8', '224:2', '448:2'],
                        help='IMG:BATCH pairs measured for both models')
    parser.add_argument('--batch', nargs='+', type=int,
                        help='batch sizes: measure every --img (default 224) at each of '
                        'these instead of --cases')
    parser.add_argument('--img', nargs='+', type=int,
                        help='input sizes, with --batch (default 8 and 2) instead of --cases')
    parser.add_argument('--mask-ratio', type=float, default=0.75)
    parser.add_argument('--iters', type=int, default=5, help='timed steps per model')
    parser.add_argument('--warmup', type=int, default=2, help='untimed steps per model')
    parser.add_argument('--mem-steps', type=int, default=3, help='measured steps per model')
    parser.add_argument('--no-memory', action='store_true', help='skip the memory processes')
    parser.add_argument('--no-time', action='store_true',
                        help='memory only: skip the timing of --cases and the sweep (e.g. '
                        'bf16 on a CPU without bf16 instructions, where a SimMIM step takes '
                        'minutes and its time says nothing)')
    parser.add_argument('--no-sweep', action='store_true')
    parser.add_argument('--sweep-sizes', nargs='+', type=int, default=[224, 320, 448])
    parser.add_argument('--sweep-ratios', nargs='+', type=float, default=[0.6, 0.75, 0.9])
    parser.add_argument('--sweep-batch', type=int, default=2)
    parser.add_argument('--device', default='cuda' if torch.cuda.is_available() else 'cpu',
                        choices=['cpu', 'cuda'])
    parser.add_argument('--amp', action='store_true',
                        help='mixed precision for both models: autocast and the optimizer '
                        'wrapper that skips non-finite steps (NonFiniteSkipAmpOptimWrapper '
                        'with dynamic loss scaling on CUDA, NonFiniteSkipCpuAmpOptimWrapper '
                        'on CPU)')
    parser.add_argument('--amp-dtype', choices=['float16', 'bfloat16'],
                        help='autocast dtype with --amp (default: float16 on CUDA, bfloat16 '
                        'on CPU, the only one CpuAmpOptimWrapper supports)')
    parser.add_argument('--threads', type=int, help='torch CPU threads (default: torch\'s)')
    parser.add_argument('--baseline-fused-adamw', action='store_true',
                        help='give SimMIM the fused AdamW of our config too (by default each '
                        'model keeps its own config\'s optimizer), to see how much of the '
                        'speed-up is the optimizer implementation')
    parser.add_argument('--json', help='write all results to this file')
    parser.add_argument('--plot', help='write a PNG plot to this file')
    parser.add_argument('--memory-worker', choices=['greenmim', 'simmim'],
                        help=argparse.SUPPRESS)
    parser.add_argument('--worker-case', help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    pair = TWINS_CONFIGS if args.model == 'twins' else DEFAULT_CONFIGS
    args.greenmim_config = args.greenmim_config or pair['greenmim']
    args.simmim_config = args.simmim_config or pair['simmim']
    if args.model == 'twins' and args.arch is not None:
        parser.error('--arch selects a Swin arch; with --model twins edit the configs instead')
    if args.batch or args.img:
        args.cases = [f'{img}:{batch}' for img in (args.img or [224])
                      for batch in (args.batch or [8, 2])]
    if args.no_time and args.no_memory:
        parser.error('--no-time with --no-memory leaves nothing to measure')
    if args.no_time:
        args.no_sweep = True
    if args.amp_dtype and not args.amp:
        parser.error('--amp-dtype needs --amp')
    if args.amp:
        args.amp_dtype = args.amp_dtype or ('float16' if args.device == 'cuda' else 'bfloat16')
        if args.device == 'cpu' and args.amp_dtype != 'bfloat16':
            parser.error(f'--amp-dtype {args.amp_dtype} on CPU: CPU mixed precision here is '
                         'bfloat16 only (CpuAmpOptimWrapper); use --amp-dtype bfloat16 or '
                         '--device cuda')
    return args


def parse_case(text: str) -> Tuple[int, int]:
    try:
        img, batch = (int(v) for v in text.split(':'))
    except ValueError:
        raise SystemExit(f'--cases takes IMG:BATCH pairs such as 224:8, got {text!r}')
    if img % 32 or img <= 0 or batch <= 0:
        raise SystemExit(f'case {text}: the image size must be a positive multiple of 32 '
                         '(the mask unit) and the batch positive')
    return img, batch


# ---------------------------------------------------------------------------- building


def load_config(args, name: str, img: int, ratio: float):
    """The model and optimizer config of one contender, adapted to the measured case."""
    from mmengine.config import Config
    from mmpretrain.models import SwinTransformer

    cfg = Config.fromfile(getattr(args, f'{name}_config'))
    model = cfg.model
    if args.model == 'swin':  # Twins has no fixed input size
        model.backbone.img_size = img
    if args.arch is not None:
        model.backbone.arch = args.arch
        final_dims = SwinTransformer.arch_zoo[args.arch]['embed_dims'] * 8
        if name == 'greenmim':
            model.neck.embed_dim = final_dims
        else:
            model.neck.in_channels = final_dims
    if name == 'greenmim':
        model.mask_ratio = ratio
    elif args.baseline_fused_adamw:
        cfg.optim_wrapper.optimizer.fused = True
    return cfg


def amp_dtype(args) -> Optional[str]:
    """The autocast dtype of the run, None for float32."""
    return args.amp_dtype if args.amp else None


def build_contender(name: str, cfg, device: str, amp_dtype: Optional[str]):
    """(model, optim_wrapper) in training mode on ``device``; ``amp_dtype`` None: float32."""
    from mmengine.optim import build_optim_wrapper
    from mmpretrain.registry import MODELS

    model = MODELS.build(copy.deepcopy(cfg.model)).to(device)
    model.train()
    ow_cfg = copy.deepcopy(cfg.optim_wrapper)
    if amp_dtype is not None:
        # The same wrapper for both models (SimMIM's config asks for AmpOptimWrapper with a
        # static loss scale; on CUDA both get dynamic scaling, as tools/train.py --amp).
        ow_cfg.dtype = amp_dtype
        if device == 'cuda':
            ow_cfg.type = 'NonFiniteSkipAmpOptimWrapper'
            ow_cfg.loss_scale = 'dynamic'
        else:
            ow_cfg.type = 'NonFiniteSkipCpuAmpOptimWrapper'
            ow_cfg.pop('loss_scale', None)
    else:
        ow_cfg.type = 'OptimWrapper'  # SimMIM's config asks for AMP, a GPU-only wrapper
        ow_cfg.pop('dtype', None)
        ow_cfg.pop('loss_scale', None)
    return model, build_optim_wrapper(model, ow_cfg)


def make_batch(name: str, batch: int, img: int, ratio: float, seed: int = 0) -> dict:
    """A batch as mmpretrain's default_collate gives it: (B, 3, H, W) uint8 images and data
    samples (with SimMIM's pipeline mask)."""
    from mmpretrain.structures import DataSample

    gen = torch.Generator().manual_seed(seed)
    inputs = torch.randint(0, 256, (batch, 3, img, img), dtype=torch.uint8, generator=gen)
    samples = [DataSample() for _ in range(batch)]
    if name == 'simmim':
        # SimMIM draws its mask in the data pipeline; GreenMIM draws it inside the model.
        import numpy as np
        from mmpretrain.datasets.transforms import SimMIMMaskGenerator
        np.random.seed(seed)
        masker = SimMIMMaskGenerator(
            input_size=img, mask_patch_size=32, model_patch_size=4, mask_ratio=ratio)
        for sample in samples:
            sample.set_field(torch.from_numpy(masker({})['mask']), 'mask')
    return dict(inputs=inputs, data_samples=samples)


def sync(device: str) -> None:
    if device == 'cuda':
        torch.cuda.synchronize()


def run_step(model, optim_wrapper, data: dict, device: str) -> float:
    """One training step, in seconds."""
    sync(device)
    start = time.perf_counter()
    model.train_step(data, optim_wrapper)
    sync(device)
    return time.perf_counter() - start


# ---------------------------------------------------------------------------- timing


def time_case(args, img: int, batch: int, ratio: float, names: List[str]) -> dict:
    """Alternate the contenders step by step; returns per-model timings."""
    built = {}
    for name in names:
        cfg = load_config(args, name, img, ratio)
        model, ow = build_contender(name, cfg, args.device, amp_dtype(args))
        built[name] = (model, ow, make_batch(name, batch, img, ratio))
    times: Dict[str, List[float]] = {name: [] for name in names}
    for it in range(args.warmup + args.iters):
        for name in names:
            seconds = run_step(*built[name], args.device)
            if it >= args.warmup:
                times[name].append(seconds)
    result = dict(img=img, batch=batch, mask_ratio=ratio)
    for name in names:
        t = times[name]
        med = statistics.median(t)
        result[name] = dict(step_s_median=med, step_s_min=min(t), step_s_max=max(t),
                            steps_s=t, images_per_s=batch / med)
    if 'simmim' in names and 'greenmim' in names:
        result['speedup'] = result['simmim']['step_s_median'] / result['greenmim'][
            'step_s_median']
    if 'greenmim' in names:
        result['greenmim'].update(greenmim_internals(args, *built['greenmim']))
    del built
    gc.collect()
    return result


def greenmim_internals(args, model, optim_wrapper, data: dict) -> dict:
    """Grouping time share (measured inside real steps) and padding per stage."""
    backbone = model.backbone
    spent = []
    plans = []
    original = backbone.sparse_plan

    def timed_plan(mask):
        start = time.perf_counter()
        plan = original(mask)  # CPU work on a CPU mask, whatever the device
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
        stage_layouts = [(p.tokens, {(getattr(b.attn, 'window_size', 0), 0): p.window_layout})
                         for p, b in zip(plans[-1], (s[0] for s in backbone.stages))
                         if p.window_layout is not None]
    else:
        stage_layouts = list(zip(plans[-1].tokens, plans[-1].layouts))
    for i, (tokens, layouts) in enumerate(stage_layouts):
        n = tokens.coords.shape[0]
        for (ws, shift), layout in layouts.items():
            slots = layout.num_groups * layout.group_size
            padding.append(dict(stage=i, window=ws, shift=shift, tokens=n,
                                groups=layout.num_groups, group_size=layout.group_size,
                                padding=(slots - n) / n))
    return dict(grouping_s=grouping, grouping_share=grouping / statistics.median(step_times),
                padding=padding)


# ---------------------------------------------------------------------------- memory


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


def memory_worker(args) -> None:
    """Runs in its own process: one model, warm-up, then step memory. Prints one JSON line."""
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
    print(json.dumps(dict(step_bytes=statistics.median(steps), step_bytes_all=steps,
                          total_peak_bytes=total_peak, method=method)))


MMAP_THRESHOLD = 128 * 1024  # bytes; glibc's default starting value, kept fixed


def measure_memory(args, name: str, img: int, batch: int) -> dict:
    """Step memory of one model, measured in a fresh process."""
    cmd = [sys.executable, osp.abspath(__file__), '--memory-worker', name,
           '--worker-case', f'{img}:{batch}', '--mask-ratio', str(args.mask_ratio),
           '--device', args.device, '--warmup', str(max(args.warmup, 1)),
           '--mem-steps', str(args.mem_steps),
           f'--{name}-config', getattr(args, f'{name}_config'), '--model', args.model]
    for flag, value in (('--arch', args.arch), ('--threads', args.threads)):
        if value is not None:
            cmd += [flag, str(value)]
    for flag in ('amp', 'baseline_fused_adamw'):
        if getattr(args, flag):
            cmd.append('--' + flag.replace('_', '-'))
    if args.amp:
        cmd += ['--amp-dtype', args.amp_dtype]
    env = dict(os.environ)
    env.setdefault('MALLOC_MMAP_THRESHOLD_', str(MMAP_THRESHOLD))  # see the module docstring
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if proc.returncode != 0:
        raise RuntimeError(f'memory measurement of {name} at {img}px batch {batch} failed:\n'
                           f'{proc.stderr[-3000:]}')
    return json.loads(proc.stdout.strip().splitlines()[-1])


# ---------------------------------------------------------------------------- reporting


def machine_info(args) -> dict:
    info = dict(platform=platform.platform(), python=platform.python_version(),
                torch=torch.__version__, device=args.device, threads=torch.get_num_threads(),
                cpus=os.cpu_count(), amp=args.amp,
                precision=args.amp_dtype + ' autocast' if args.amp else 'float32')
    try:
        info['load_avg'] = os.getloadavg()  # other processes on the machine skew timings
    except OSError:
        pass
    try:
        with open('/proc/cpuinfo') as f:
            info['cpu'] = next(l.split(':', 1)[1].strip() for l in f if l.startswith('model name'))
    except (OSError, StopIteration):
        info['cpu'] = platform.processor()
    if args.device == 'cuda':
        info['gpu'] = torch.cuda.get_device_name()
    return info


def mib(nbytes: float) -> str:
    return f'{nbytes / 2**20:.0f} MiB'


def print_report(results: dict) -> None:
    m = results['machine']
    load = (', load average at start %.2f %.2f %.2f' % tuple(m['load_avg'])
            if 'load_avg' in m else '')
    print(f"\nmachine: {m['cpu']} ({m['cpus']} CPUs, torch {m['torch']}, {m['threads']} "
          f"threads, device {m['device']}{', ' + m['gpu'] if 'gpu' in m else ''}, "
          f"{m.get('precision', 'float32')}{load})")
    print('\n| size | batch | SimMIM step | GreenMIM step | speed-up | img/s (G / S) | '
          'step memory G / S | ratio | grouping share |')
    print('|---|---|---|---|---|---|---|---|---|')
    for case in results['cases']:
        mem = case.get('memory')
        mem_text = (f"{mib(mem['greenmim']['step_bytes'])} / {mib(mem['simmim']['step_bytes'])}"
                    f" | {mem['step_ratio']:.2f}x" if mem else '- | -')
        if 'greenmim' not in case:  # --no-time
            print(f"| {case['img']} | {case['batch']} | - | - | - | - | {mem_text} | - |")
            continue
        g, s = case['greenmim'], case['simmim']
        print(f"| {case['img']} | {case['batch']} | {s['step_s_median']:.2f} s | "
              f"{g['step_s_median']:.2f} s | {case['speedup']:.2f}x | "
              f"{g['images_per_s']:.2f} / {s['images_per_s']:.2f} | {mem_text} | "
              f"{100 * g['grouping_share']:.1f}% |")
    if 'greenmim' not in results['cases'][0]:
        return
    first = results['cases'][0]['greenmim']
    print(f"\npadding (empty slots / visible tokens) at {results['cases'][0]['img']} px:")
    for p in first['padding']:
        print(f"  stage {p['stage']} window {p['window']} shift {p['shift']}: {p['tokens']} "
              f"tokens in {p['groups']} x {p['group_size']} slots, padding {p['padding']:.3f}")
    if results.get('sweep'):
        print('\nsweep (batch {}):'.format(results['sweep'][0]['batch']))
        print('| size | mask ratio | GreenMIM step | SimMIM step | speed-up |')
        print('|---|---|---|---|---|')
        for case in results['sweep']:
            s = case.get('simmim')
            print(f"| {case['img']} | {case['mask_ratio']} | "
                  f"{case['greenmim']['step_s_median']:.3f} s | "
                  f"{(str(round(s['step_s_median'], 3)) + ' s') if s else '-'} | "
                  f"{(str(round(case['speedup'], 2)) + 'x') if 'speedup' in case else '-'} |")


def _plot_step_time(ax, results: dict) -> None:
    """Bars of both models' median step per case, with the speed-up."""
    cases = [c for c in results['cases'] if 'greenmim' in c]  # none with --no-time
    labels = [f"{c['img']}px b{c['batch']}" for c in cases]
    xs = range(len(cases))
    ax.bar([x - 0.2 for x in xs], [c['simmim']['step_s_median'] for c in cases], 0.4,
           label='SimMIM')
    ax.bar([x + 0.2 for x in xs], [c['greenmim']['step_s_median'] for c in cases], 0.4,
           label='GreenMIM')
    for x, c in zip(xs, cases):
        ax.text(x + 0.2, c['greenmim']['step_s_median'], f"{c['speedup']:.2f}x", ha='center',
                va='bottom', fontsize=9)
    ax.set_xticks(list(xs), labels)
    ax.set_ylabel('training step (s, median)')
    ax.set_title('Step time')
    ax.legend()


def _plot_step_memory(ax, results: dict) -> None:
    """Bars of both models' step memory per case, with the ratio."""
    with_mem = [c for c in results['cases'] if 'memory' in c]
    if with_mem:
        xs = range(len(with_mem))
        ax.bar([x - 0.2 for x in xs],
               [c['memory']['simmim']['step_bytes'] / 2**20 for c in with_mem], 0.4,
               label='SimMIM')
        ax.bar([x + 0.2 for x in xs],
               [c['memory']['greenmim']['step_bytes'] / 2**20 for c in with_mem], 0.4,
               label='GreenMIM')
        for x, c in zip(xs, with_mem):
            ax.text(x + 0.2, c['memory']['greenmim']['step_bytes'] / 2**20,
                    f"{c['memory']['step_ratio']:.2f}x", ha='center', va='bottom', fontsize=9)
        ax.set_xticks(list(xs), [f"{c['img']}px b{c['batch']}" for c in with_mem])
        ax.legend()
    ax.set_ylabel('step memory (MiB)')
    ax.set_title('Memory a step needs beyond model + optimizer')


def _plot_sweep(ax, results: dict) -> None:
    """Step time against input size (and mask ratio at the smallest)."""
    sweep = results.get('sweep') or []
    sizes = [c for c in sweep if c['mask_ratio'] == results['args']['mask_ratio']]
    if sizes:
        ax.plot([c['img'] for c in sizes], [c['greenmim']['step_s_median'] for c in sizes],
                'o-', label=f"GreenMIM, ratio {results['args']['mask_ratio']}")
        ax.plot([c['img'] for c in sizes if 'simmim' in c],
                [c['simmim']['step_s_median'] for c in sizes if 'simmim' in c], 's--',
                label='SimMIM')
        base = next(c for c in sizes if c['img'] == min(x['img'] for x in sizes))
        for c in sweep:
            if c['img'] == base['img'] and c['mask_ratio'] != results['args']['mask_ratio']:
                ax.plot([c['img']], [c['greenmim']['step_s_median']], 'x', markersize=9)
                ax.annotate(f"ratio {c['mask_ratio']}", (c['img'], c['greenmim']['step_s_median']),
                            textcoords='offset points', xytext=(6, -4), fontsize=8)
        ax.set_xlabel('input size (px)')
        ax.set_ylabel('training step (s, median)')
        ax.set_title(f"Sweep, batch {sizes[0]['batch']}")
        ax.legend()


def plot(results: dict, path: str) -> None:
    """Step time, step memory and the sweep side by side (memory alone with --no-time)."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    panels = [_plot_step_memory]
    if any('greenmim' in c for c in results['cases']):
        panels = [_plot_step_time, _plot_step_memory, _plot_sweep]
    fig, axes = plt.subplots(1, len(panels), figsize=(5 * len(panels) + 1, 4.2),
                             squeeze=False)
    for ax, panel in zip(axes[0], panels):
        panel(ax, results)
    m = results['machine']
    model = ('Twins-SVT-L (baseline: dense, SimMIM-style)'
             if results['args'].get('model') == 'twins' else
             f"Swin-{results['args']['arch'] or 'base'}")
    fig.suptitle(f"{model}: {m['cpu']}, {m['threads']} threads, "
                 f"{m['device']}{' ' + m['gpu'] if 'gpu' in m else ''}, "
                 f"{m.get('precision', 'float32')}", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


# ---------------------------------------------------------------------------- main


def main(argv=None) -> dict:
    args = parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.device == 'cuda' and not torch.cuda.is_available():
        raise SystemExit('--device cuda: no CUDA device is visible to torch')
    from mmengine.logging import MMLogger
    from mmengine.registry import init_default_scope
    import greenmim_mm  # noqa: F401  registers GreenMIM in mmpretrain's registries
    init_default_scope('mmpretrain')
    # the optimizer constructor logs one line per parameter group
    MMLogger.get_instance('mmengine', log_level='WARNING').setLevel('WARNING')
    if args.memory_worker:
        memory_worker(args)
        return {}
    torch.manual_seed(0)
    results = dict(args=vars(args), machine=machine_info(args), cases=[], sweep=[])
    for text in args.cases:
        img, batch = parse_case(text)
        if args.no_time:
            case = dict(img=img, batch=batch, mask_ratio=args.mask_ratio)
        else:
            print(f'[benchmark] {img}px batch {batch}: timing both models ...', flush=True)
            case = time_case(args, img, batch, args.mask_ratio, ['greenmim', 'simmim'])
        if not args.no_memory:
            print(f'[benchmark] {img}px batch {batch}: memory, one process per model ...',
                  flush=True)
            mem = {name: measure_memory(args, name, img, batch) for name in ('greenmim', 'simmim')}
            mem['step_ratio'] = mem['greenmim']['step_bytes'] / max(mem['simmim']['step_bytes'], 1)
            mem['total_peak_ratio'] = (mem['greenmim']['total_peak_bytes'] /
                                       max(mem['simmim']['total_peak_bytes'], 1))
            case['memory'] = mem
        results['cases'].append(case)
    if not args.no_sweep:
        for img in args.sweep_sizes:
            print(f'[benchmark] sweep {img}px ...', flush=True)
            results['sweep'].append(
                time_case(args, img, args.sweep_batch, args.mask_ratio, ['greenmim', 'simmim']))
        for ratio in args.sweep_ratios:
            if ratio == args.mask_ratio and args.sweep_sizes:
                continue
            img = min(args.sweep_sizes) if args.sweep_sizes else 224
            print(f'[benchmark] sweep {img}px mask ratio {ratio} ...', flush=True)
            results['sweep'].append(time_case(args, img, args.sweep_batch, ratio, ['greenmim']))
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


if __name__ == '__main__':
    main()
