"""Side-by-side speed and memory of the GreenMIM sparse encoder against dense baselines.

Measured in one process, alternating the contenders every iteration so that both see the
same machine state:

- ``greenmim``: :class:`GreenMIMSwinTransformer` on the visible tokens (mask ratio 0.75),
- ``simmim``: mmpretrain's ``SimMIMSwinTransformer`` (dense, mask token), the baseline of
  the paper's speed claims,
- ``dense``: the plain dense ``SwinTransformer`` forward.

Each step is forward + backward of the encoder (sum of the last stage as the loss). The
time spent building the groupings (all stages and shifts) is timed separately with the same
functions the encoder calls. Prints a table and, with ``--json``, writes the numbers.

Example::

    python tools/benchmark.py --arch base --batch 8 --img 224 --iters 3
"""
import argparse
import json
import resource
import time

import torch
from mmpretrain.models import SimMIMSwinTransformer, SwinTransformer

from greenmim_mm.models.backbones import GreenMIMSwinTransformer
from greenmim_mm.models.utils.grouping import build_group_layout
from greenmim_mm.models.utils.sparse_geometry import stage_tokens


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--arch', default='base', help='Swin arch name (tiny/small/base/large)')
    parser.add_argument('--batch', type=int, default=8)
    parser.add_argument('--img', type=int, default=224, help='square image size (px)')
    parser.add_argument('--window-size', type=int, default=7)
    parser.add_argument('--mask-ratio', type=float, default=0.75)
    parser.add_argument('--iters', type=int, default=3, help='timed steps per contender')
    parser.add_argument('--warmup', type=int, default=1)
    parser.add_argument('--per-sample', action='store_true', help='per-sample masks')
    parser.add_argument('--threads', type=int, default=None)
    parser.add_argument('--only', nargs='+', default=['greenmim', 'simmim', 'dense'],
                        choices=['greenmim', 'simmim', 'dense'])
    parser.add_argument('--json', help='write results to this file')
    return parser.parse_args()


def unit_mask(batch, grid, ratio, per_sample, generator):
    """(B, g, g) bool mask with int(g*g*(1-ratio)) visible units per sample."""
    n = grid * grid
    keep = int(n * (1 - ratio))
    rows = torch.ones(1 if not per_sample else batch, n, dtype=torch.bool)
    for row in rows:
        row[torch.randperm(n, generator=generator)[:keep]] = False
    return rows.expand(batch, n).reshape(batch, grid, grid).clone()


def grouping_seconds(model, mask):
    """Time to build every stage's token sets and layouts (what one forward builds)."""
    shared = bool((mask == mask[:1]).all())
    layout_mask = mask[:1] if shared else mask
    start = time.perf_counter()
    n = len(model.stages)
    for i, stage in enumerate(model.stages):
        tokens = stage_tokens(layout_mask, 2**(n - 1 - i))
        keys = {model._window_and_shift(b, tokens.grid_hw) for b in stage.blocks}
        for ws, shift in keys:
            build_group_layout(tokens.coords, tokens.grid_hw, ws, shift, tokens.sample_ids)
    return time.perf_counter() - start


def main():
    args = parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    kw = dict(arch=args.arch, img_size=args.img, window_size=args.window_size,
              drop_path_rate=0., out_indices=(3, ))
    models = {}
    if 'greenmim' in args.only:
        models['greenmim'] = GreenMIMSwinTransformer(**kw)
    if 'simmim' in args.only:
        # SimMIM's backbone takes the window through stage_cfgs.
        simmim_kw = {k: v for k, v in kw.items() if k != 'window_size'}
        models['simmim'] = SimMIMSwinTransformer(
            stage_cfgs=dict(window_size=args.window_size), **simmim_kw)
    if 'dense' in args.only:
        models['dense'] = SwinTransformer(**kw)
    grid = args.img // 32
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(args.batch, 3, args.img, args.img)

    def step(name):
        model = models[name]
        mask = unit_mask(args.batch, grid, args.mask_ratio, args.per_sample, gen)
        start = time.perf_counter()
        if name == 'greenmim':
            out = model(x, mask)[0]
        elif name == 'simmim':
            token_mask = mask.repeat_interleave(8, 1).repeat_interleave(8, 2).float()
            out = model(x, token_mask)[0]
        else:
            out = model(x)[0]
        out.float().sum().backward()
        return time.perf_counter() - start

    times = {name: [] for name in models}
    for it in range(args.warmup + args.iters):
        for name in models:
            t = step(name)
            if it >= args.warmup:
                times[name].append(t)
    result = dict(args=vars(args), torch=torch.__version__, threads=torch.get_num_threads(),
                  step_seconds={k: min(v) for k, v in times.items()},
                  step_seconds_all=times)
    if 'greenmim' in models:
        mask = unit_mask(args.batch, grid, args.mask_ratio, args.per_sample, gen)
        g = min(grouping_seconds(models['greenmim'], mask) for _ in range(3))
        with torch.no_grad():
            fwd = []
            for _ in range(max(args.iters, 1)):
                start = time.perf_counter()
                models['greenmim'](x, mask)
                fwd.append(time.perf_counter() - start)
        result['greenmim_grouping_seconds'] = g
        result['greenmim_forward_seconds'] = min(fwd)
        result['grouping_share_of_forward'] = g / min(fwd)
        for base in ('simmim', 'dense'):
            if base in models:
                result[f'speedup_vs_{base}'] = (result['step_seconds'][base] /
                                                result['step_seconds']['greenmim'])
    result['peak_rss_gib'] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    for k, v in result['step_seconds'].items():
        print(f'{k:>9s}: {v:.3f} s / step (fwd+bwd, batch {args.batch}, {args.img}px)')
    for k in ('greenmim_grouping_seconds', 'greenmim_forward_seconds',
              'grouping_share_of_forward', 'speedup_vs_simmim', 'speedup_vs_dense'):
        if k in result:
            print(f'{k}: {result[k]:.4f}')
    if args.json:
        with open(args.json, 'w') as f:
            json.dump(result, f, indent=2)


if __name__ == '__main__':
    main()
