"""The benchmark's command line: flags, their checks, the measured cases."""
import argparse
import json
from typing import List, Optional, Tuple

import torch

from ..mim_files import config_path

DEFAULT_CONFIGS = {
    'greenmim': config_path('greenmim_swin_b_pretrain.py'),
    'simmim': config_path('benchmark/simmim_swin-b_224.py'),
}
# --model twins: GreenMIM on Twins-SVT-L against the same model run densely on the whole
# image (GreenMIMDenseBaseline, SimMIM-style); the baseline is reported in the SimMIM columns.
TWINS_CONFIGS = {
    'greenmim': config_path('greenmim_twins_svt_l_pretrain.py'),
    'simmim': config_path('benchmark/dense_twins_svt_l_224.py'),
}
COMPILE_TARGETS = ('train_step', 'backbone')
# A Swin small enough that a dense bfloat16 step takes well under a second on a CPU that
# emulates bf16 (no AVX-512-BF16/AMX), yet with every stage, shifted windows and patch
# merging: the smoke runs of gpu_check --tiny and the tests use it.
SMOKE_ARCH = '{"embed_dims": 32, "depths": [2, 2, 2, 2], "num_heads": [1, 2, 4, 8]}'
_ARCH_KEYS = {'embed_dims', 'depths', 'num_heads'}

EXAMPLES = """
    python tools/analysis_tools/benchmark.py        # the full set (make bench), ~15 min on 2 cores
    python tools/analysis_tools/benchmark.py --cases 224:8 --no-sweep --no-memory
    python tools/analysis_tools/benchmark.py --arch small --img 224 320 --batch 4 --no-sweep
    python tools/analysis_tools/benchmark.py --arch tiny --cases 224:1 --iters 1 --warmup 1 \\
        --sweep-sizes 224 --sweep-ratios 0.75     # smoke run
    python tools/analysis_tools/benchmark.py --device cuda --cases 224:64 224:128
    python tools/analysis_tools/benchmark.py --amp  # both under bf16 autocast (fp16 on CUDA)
    python tools/analysis_tools/benchmark.py --device cuda --amp --amp-dtype bfloat16
    python tools/analysis_tools/benchmark.py --cases 224:8 --no-sweep --no-memory --profile
    python tools/analysis_tools/benchmark.py --device cuda --cases 224:64 --compile
    python tools/analysis_tools/benchmark.py --amp --cases 224:8 --no-sweep --no-memory \\
        --profile --authors-code /tmp/GreenMIM    # ours vs the authors' code outside the GEMMs
"""


def build_parser() -> argparse.ArgumentParser:
    """The parser of ``tools/analysis_tools/benchmark.py`` (and of the memory workers)."""
    parser = argparse.ArgumentParser(
        description='Training-step speed and memory of GreenMIM vs SimMIM, side by side',
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog='examples:' + EXAMPLES)
    parser.add_argument(
        '--model',
        default='swin',
        choices=['swin', 'twins'],
        help='swin: GreenMIM vs SimMIM on Swin-B (default); twins: GreenMIM '
        'vs the same Twins-SVT-L run densely (SimMIM-style), reported in the '
        'SimMIM columns')
    parser.add_argument('--greenmim-config', help='default: the --model pair\'s')
    parser.add_argument('--simmim-config', help='baseline config; default: the --model pair\'s')
    parser.add_argument(
        '--arch',
        help="Swin arch for both models: a name of mmpretrain's SwinTransformer.arch_zoo "
        "(e.g. 'tiny') or a JSON object of embed_dims, depths and num_heads (e.g. "
        f"'{SMOKE_ARCH}'); default: the configs' (base)")
    parser.add_argument(
        '--cases',
        nargs='+',
        default=['224:8', '224:2', '448:2'],
        help='IMG:BATCH pairs measured for both models')
    parser.add_argument(
        '--batch',
        nargs='+',
        type=int,
        help='batch sizes: measure every --img (default 224) at each of '
        'these instead of --cases')
    parser.add_argument(
        '--img',
        nargs='+',
        type=int,
        help='input sizes, with --batch (default 8 and 2) instead of --cases')
    parser.add_argument('--mask-ratio', type=float, default=0.75)
    parser.add_argument('--iters', type=int, default=5, help='timed steps per model')
    parser.add_argument('--warmup', type=int, default=2, help='untimed steps per model')
    parser.add_argument('--mem-steps', type=int, default=3, help='measured steps per model')
    parser.add_argument('--no-memory', action='store_true', help='skip the memory processes')
    parser.add_argument(
        '--no-time',
        action='store_true',
        help='memory only: skip the timing of --cases and the sweep (e.g. '
        'bf16 on a CPU without bf16 instructions, where a SimMIM step takes '
        'minutes and its time says nothing)')
    parser.add_argument('--no-sweep', action='store_true')
    parser.add_argument('--sweep-sizes', nargs='+', type=int, default=[224, 320, 448])
    parser.add_argument('--sweep-ratios', nargs='+', type=float, default=[0.6, 0.75, 0.9])
    parser.add_argument('--sweep-batch', type=int, default=2)
    parser.add_argument(
        '--device', default='cuda' if torch.cuda.is_available() else 'cpu', choices=['cpu', 'cuda'])
    parser.add_argument(
        '--amp',
        action='store_true',
        help='mixed precision for both models: autocast and the optimizer '
        'wrapper that skips non-finite steps (NonFiniteSkipAmpOptimWrapper '
        'with dynamic loss scaling on CUDA, NonFiniteSkipCpuAmpOptimWrapper '
        'on CPU)')
    parser.add_argument(
        '--amp-dtype',
        choices=['float16', 'bfloat16'],
        help='autocast dtype with --amp (default: float16 on CUDA, bfloat16 '
        'on CPU, the only one CpuAmpOptimWrapper supports)')
    parser.add_argument('--threads', type=int, help='torch CPU threads (default: torch\'s)')
    parser.add_argument(
        '--baseline-fused-adamw',
        action='store_true',
        help='give SimMIM the fused AdamW of our config too (by default each '
        'model keeps its own config\'s optimizer), to see how much of the '
        'speed-up is the optimizer implementation')
    parser.add_argument(
        '--profile',
        action='store_true',
        help='per contender and case: ATen operations, casts and bytes cast '
        'per training step, and the top operations by time (torch.profiler; '
        'CPU, and CUDA with --device cuda); see docs/en/benchmark_profiling.md')
    parser.add_argument(
        '--authors-code',
        metavar='PATH',
        help='also time the authors\' GreenMIM code (a local checkout of '
        'github.com/LayneH/GreenMIM; needs timm) on the --cases, their Swin '
        'at the same arch, size and mask ratio with a fused AdamW (see '
        'greenmim_mm/benchmark/authors.py); not in the memory processes or the sweep')
    parser.add_argument(
        '--profile-steps',
        type=int,
        default=3,
        help='steps profiled per contender with --profile, the contenders '
        'alternating; the time split is their median (default 3)')
    parser.add_argument(
        '--profile-top',
        type=int,
        default=15,
        help='how many operations --profile lists by time (default 15)')
    parser.add_argument(
        '--compile',
        nargs='?',
        const='train_step',
        choices=COMPILE_TARGETS,
        help='time torch.compile\'d contenders: train_step (the default, as '
        'mmengine\'s compile=True does) or backbone; a contender that fails '
        'to compile is recorded with its error instead of timed')
    parser.add_argument('--json', help='write all results to this file')
    parser.add_argument('--plot', help='write a PNG plot to this file')
    parser.add_argument('--memory-worker', choices=['greenmim', 'simmim'], help=argparse.SUPPRESS)
    parser.add_argument('--worker-case', help=argparse.SUPPRESS)
    return parser


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    """Parse and check the flags; fill in the configs, cases and AMP dtype.

    Args:
        argv (list[str], optional): The arguments; ``sys.argv[1:]`` when None.

    Returns:
        argparse.Namespace: The checked arguments.
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    pair = TWINS_CONFIGS if args.model == 'twins' else DEFAULT_CONFIGS
    args.greenmim_config = args.greenmim_config or pair['greenmim']
    args.simmim_config = args.simmim_config or pair['simmim']
    if args.model == 'twins' and args.arch is not None:
        parser.error('--arch selects a Swin arch; with --model twins edit the configs instead')
    if args.arch is not None:
        try:
            arch_spec(args.arch)
        except ValueError as err:
            parser.error(str(err))
    if args.batch or args.img:
        args.cases = [
            f'{img}:{batch}' for img in (args.img or [224]) for batch in (args.batch or [8, 2])
        ]
    if args.no_time and args.no_memory:
        parser.error('--no-time with --no-memory leaves nothing to measure')
    if args.authors_code and args.model != 'swin':
        parser.error('--authors-code runs the authors\' Swin GreenMIM; drop --model twins')
    if args.authors_code and args.no_time:
        parser.error('--authors-code adds a timed contender; drop --no-time')
    if args.no_time and (args.profile or args.compile):
        parser.error('--profile and --compile act on the timed steps; drop --no-time')
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
    """``'IMG:BATCH'`` -> ``(img, batch)``; a clear error for anything else."""
    try:
        img, batch = (int(v) for v in text.split(':'))
    except ValueError:
        raise SystemExit(f'--cases takes IMG:BATCH pairs such as 224:8, got {text!r}')
    if img % 32 or img <= 0 or batch <= 0:
        raise SystemExit(f'case {text}: the image size must be a positive multiple of 32 '
                         '(the mask unit) and the batch positive')
    return img, batch


def amp_dtype(args: argparse.Namespace) -> Optional[str]:
    """The autocast dtype of the run, None for float32."""
    return args.amp_dtype if args.amp else None


def baseline_label(args_or_model) -> str:
    """How reports name the baseline contender: SimMIM, or the dense Twins model."""
    model = args_or_model if isinstance(args_or_model, str) else args_or_model.model
    return 'dense Twins' if model == 'twins' else 'SimMIM'


def arch_spec(arch: Optional[str]) -> dict:
    """``--arch`` as a Swin arch dict: ``embed_dims`` (int), ``depths`` and ``num_heads``
    (four ints each).

    Args:
        arch (str, optional): A name of mmpretrain's ``SwinTransformer.arch_zoo``, or a JSON
            object with exactly those three keys; None: ``'base'``.

    Returns:
        dict: A new dict (what ``SwinTransformer(arch=...)`` accepts).

    Raises:
        ValueError: Neither a known name nor such an object (the message says which).
    """
    from mmpretrain.models import SwinTransformer
    zoo = SwinTransformer.arch_zoo
    arch = arch or 'base'
    if arch in zoo:
        return dict(zoo[arch])
    try:
        spec = json.loads(arch)
    except json.JSONDecodeError:
        spec = None
    if not _is_arch_dict(spec):
        raise ValueError(f'--arch {arch!r} is neither a Swin arch name ({", ".join(zoo)}) nor a '
                         'JSON object of embed_dims (int), depths and num_heads (4 ints each), '
                         f'e.g. {SMOKE_ARCH!r}')
    return spec


def _is_arch_dict(spec) -> bool:
    """Whether ``spec`` is a dict of exactly ``embed_dims`` (an int), ``depths`` and
    ``num_heads`` (lists of four ints)."""
    if not (isinstance(spec, dict) and set(spec) == _ARCH_KEYS
            and isinstance(spec['embed_dims'], int)):
        return False
    return all(
        isinstance(spec[k], list) and len(spec[k]) == 4 and all(
            isinstance(v, int) for v in spec[k]) for k in ('depths', 'num_heads'))


def arch_label(arch: Optional[str]) -> str:
    """``Swin-base``, ``Swin-tiny``, or ``Swin (embed 32, depths 2-2-2-2)`` for a JSON arch."""
    if arch is None or not arch.startswith('{'):
        return f"Swin-{arch or 'base'}"
    spec = arch_spec(arch)
    return f"Swin (embed {spec['embed_dims']}, depths {'-'.join(map(str, spec['depths']))})"
