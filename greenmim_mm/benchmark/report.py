"""The benchmark's record of the machine and its tables on stdout."""
import argparse
import os
import platform
import time

import torch

from .options import baseline_label

# How the profile table names the phases counted apart (greenmim_mm.benchmark.timing).
PHASE_NAMES = dict(optimizer='optimizer.step', sparse_plan='sparse_plan')


def machine_info(args: argparse.Namespace) -> dict:
    """Platform, versions, threads, CPU/GPU model, precision, load average at start, date."""
    info = dict(
        platform=platform.platform(),
        python=platform.python_version(),
        torch=torch.__version__,
        device=args.device,
        threads=torch.get_num_threads(),
        cpus=os.cpu_count(),
        amp=args.amp,
        precision=args.amp_dtype + ' autocast' if args.amp else 'float32',
        date=time.strftime('%Y-%m-%d', time.gmtime()))  # the docs' tables show it
    try:
        info['load_avg'] = os.getloadavg()  # other processes on the machine skew timings
    except OSError:
        pass
    try:
        with open('/proc/cpuinfo') as f:
            info['cpu'] = next(
                line.split(':', 1)[1].strip() for line in f if line.startswith('model name'))
    except (OSError, StopIteration):
        info['cpu'] = platform.processor()
    if args.device == 'cuda':
        info['gpu'] = torch.cuda.get_device_name()
    return info


def mib(nbytes: float) -> str:
    """``nbytes`` as whole MiB."""
    return f'{nbytes / 2**20:.0f} MiB'


def _timed(entry) -> bool:
    return isinstance(entry, dict) and 'step_s_median' in entry


def print_report(results: dict) -> None:
    """The tables: cases (time, memory, grouping), padding, sweep, errors, profiles."""
    m = results['machine']
    load = (', load average at start %.2f %.2f %.2f' %
            tuple(m['load_avg']) if 'load_avg' in m else '')
    compiled = results['args'].get('compile')
    print(f"\nmachine: {m['cpu']} ({m['cpus']} CPUs, torch {m['torch']}, {m['threads']} "
          f"threads, device {m['device']}{', ' + m['gpu'] if 'gpu' in m else ''}, "
          f"{m.get('precision', 'float32')}{load}"
          f"{', torch.compile (' + compiled + ')' if compiled else ''})")
    print('\n| size | batch | SimMIM step | GreenMIM step | speed-up | img/s (G / S) | '
          'step memory G / S | ratio | grouping share |')
    print('|---|---|---|---|---|---|---|---|---|')
    for case in results['cases']:
        mem = case.get('memory')
        mem_text = (f"{mib(mem['greenmim']['step_bytes'])} / {mib(mem['simmim']['step_bytes'])}"
                    f" | {mem['step_ratio']:.2f}x" if mem else '- | -')
        g, s = case.get('greenmim'), case.get('simmim')
        step = {
            n: (f"{e['step_s_median']:.2f} s" if _timed(e) else '-')
            for n, e in (('g', g), ('s', s))
        }
        ips = {
            n: (f"{e['images_per_s']:.2f}" if _timed(e) else '-')
            for n, e in (('g', g), ('s', s))
        }
        speedup = f"{case['speedup']:.2f}x" if 'speedup' in case else '-'
        share = (f"{100 * g['grouping_share']:.1f}%" if g and 'grouping_share' in g else '-')
        print(f"| {case['img']} | {case['batch']} | {step['s']} | {step['g']} | {speedup} | "
              f"{ips['g']} / {ips['s']} | {mem_text} | {share} |")
    for case in results['cases'] + results.get('sweep', []):
        for name in ('greenmim', 'simmim'):
            entry = case.get(name) or {}
            if 'error' in entry:
                print(f"\n{name} at {case['img']} px batch {case['batch']} failed: "
                      f"{entry['error']}")
    first = next((c['greenmim'] for c in results['cases'] if 'padding' in c.get('greenmim', {})),
                 None)
    if first is not None:
        print(f"\npadding (empty slots / visible tokens) at {results['cases'][0]['img']} px:")
        for p in first['padding']:
            print(f"  stage {p['stage']} window {p['window']} shift {p['shift']}: "
                  f"{p['tokens']} tokens in {p['groups']} x {p['group_size']} slots, "
                  f"padding {p['padding']:.3f}")
    if results.get('sweep'):
        print('\nsweep (batch {}):'.format(results['sweep'][0]['batch']))
        print('| size | mask ratio | GreenMIM step | SimMIM step | speed-up |')
        print('|---|---|---|---|---|')
        for case in results['sweep']:
            g, s = case.get('greenmim'), case.get('simmim')
            print(f"| {case['img']} | {case['mask_ratio']} | "
                  f"{(str(round(g['step_s_median'], 3)) + ' s') if _timed(g) else '-'} | "
                  f"{(str(round(s['step_s_median'], 3)) + ' s') if _timed(s) else '-'} | "
                  f"{(str(round(case['speedup'], 2)) + 'x') if 'speedup' in case else '-'} |")
    print_profiles(results)


def print_profiles(results: dict) -> None:
    """``--profile``: per case and contender the counts, then the top operations by time."""
    model = results['args'].get('model', 'swin')
    labels = dict(greenmim='GreenMIM', simmim=baseline_label(model))
    for case in results['cases']:
        profiles = {
            n: case[n]['profile']
            for n in ('greenmim', 'simmim') if 'profile' in case.get(n, {})
        }
        if not profiles:
            continue
        print(f"\nper training step at {case['img']} px batch {case['batch']} "
              f"({results['machine'].get('precision', 'float32')}, eager):")
        print('| contender | ATen ops | of them in | casts | bytes cast | cast kinds |')
        print('|---|---|---|---|---|---|')
        for name, prof in profiles.items():
            c = prof['counts']
            kinds = ', '.join(f"{k} {v['casts']} ({mib(v['bytes'])})"
                              for k, v in c['cast_kinds'].items())
            phases = ', '.join(f'{PHASE_NAMES.get(k, k)} {v:,}'
                               for k, v in c.get('phases', {}).items())
            print(f"| {labels[name]} | {c['aten_ops']:,} | {phases or '-'} | {c['casts']:,} | "
                  f"{c['cast_bytes'] / 2**20:.1f} MiB | {kinds or '-'} |")
        for name, prof in profiles.items():
            t = prof['time']
            cuda = t['sort_by'] == 'self_cuda'
            print(f"\n{labels[name]}: top operations by self {'CUDA' if cuda else 'CPU'} time "
                  f"(profiled step {t['step_s']:.3f} s):")
            print('| operation | calls | self CPU ms | CPU total ms |' +
                  (' self CUDA ms |' if cuda else ''))
            print('|---|---|---|---|' + ('---|' if cuda else ''))
            for row in t['top']:
                print(f"| {row['name']} | {row['calls']} | {row['self_cpu_ms']:.1f} | "
                      f"{row['cpu_total_ms']:.1f} |" +
                      (f" {row['self_cuda_ms']:.1f} |" if cuda else ''))
