"""tools/analysis_tools/benchmark.py: a tiny run produces well-formed output (no timing assertions)."""
import json
import os.path as osp

import pytest
import torch
from PIL import Image


@pytest.fixture(scope='module')
def tiny_run(tool_module, tmp_path_factory):
    out = tmp_path_factory.mktemp('bench')
    bench = tool_module('benchmark')
    argv = ['--arch', 'tiny', '--cases', '224:1', '--iters', '1', '--warmup', '1',
            '--mem-steps', '1', '--sweep-sizes', '224', '--sweep-ratios', '0.75', '0.9',
            '--sweep-batch', '1', '--threads', '1',
            '--json', str(out / 'bench.json'), '--plot', str(out / 'bench.png')]
    threads = torch.get_num_threads()
    try:
        returned = bench.main(argv)
    finally:
        torch.set_num_threads(threads)  # --threads changes the whole process
    return returned, out


def test_json_is_complete(tiny_run):
    returned, out = tiny_run
    with open(out / 'bench.json') as f:
        results = json.load(f)
    assert results['machine']['device'] == 'cpu' and results['machine']['threads'] == 1
    (case, ) = results['cases']
    assert (case['img'], case['batch'], case['mask_ratio']) == (224, 1, 0.75)
    for name in ('greenmim', 'simmim'):
        timing = case[name]
        assert len(timing['steps_s']) == 1
        assert 0 < timing['step_s_min'] <= timing['step_s_median'] <= timing['step_s_max']
        assert timing['images_per_s'] == pytest.approx(1 / timing['step_s_median'])
        mem = case['memory'][name]
        assert mem['step_bytes'] >= 0 and mem['total_peak_bytes'] > mem['step_bytes']
        assert 'RSS' in mem['method']
        # the workers fix glibc's mmap threshold (heap fragmentation would inflate the peak)
        assert 'MALLOC_MMAP_THRESHOLD_=' in mem['method']
    assert case['speedup'] == pytest.approx(case['simmim']['step_s_median'] /
                                            case['greenmim']['step_s_median'])
    assert case['memory']['step_ratio'] == pytest.approx(
        case['memory']['greenmim']['step_bytes'] /
        max(case['memory']['simmim']['step_bytes'], 1))
    g = case['greenmim']
    assert 0 < g['grouping_share'] < 1 and g['grouping_s'] > 0
    # stages 0-2 have regular and shifted windows, the 7x7 last stage one window (no shift)
    assert [(p['stage'], p['shift']) for p in g['padding']] == [(0, 0), (0, 3), (1, 0), (1, 3),
                                                                 (2, 0), (2, 3), (3, 0)]
    for p in g['padding']:
        assert p['groups'] * p['group_size'] >= p['tokens'] > 0
        assert p['padding'] == pytest.approx((p['groups'] * p['group_size'] - p['tokens']) /
                                             p['tokens'])
    assert [(c['img'], c['mask_ratio'], 'simmim' in c) for c in results['sweep']] == [
        (224, 0.75, True), (224, 0.9, False)]
    assert returned['cases'][0]['speedup'] == case['speedup']


def test_plot_is_a_png(tiny_run):
    _, out = tiny_run
    with Image.open(osp.join(out, 'bench.png')) as img:
        assert img.format == 'PNG' and img.size[0] > 500


def test_bad_case_is_a_clear_error(tool_module):
    bench = tool_module('benchmark')
    with pytest.raises(SystemExit, match='multiple of 32'):
        bench.main(['--cases', '200:2', '--no-memory', '--no-sweep'])


def test_batch_and_img_options_make_the_cases(tool_module):
    bench = tool_module('benchmark')
    assert bench.parse_args([]).cases == ['224:8', '224:2', '448:2']
    assert bench.parse_args(['--batch', '4']).cases == ['224:4']
    assert bench.parse_args(['--img', '224', '320', '--batch', '1']).cases == ['224:1', '320:1']


def test_amp_dtype_options(tool_module):
    bench = tool_module('benchmark')
    args = bench.parse_args(['--amp', '--device', 'cpu'])
    assert args.amp_dtype == 'bfloat16' and bench.amp_dtype(args) == 'bfloat16'
    assert bench.amp_dtype(bench.parse_args(['--device', 'cpu'])) is None
    with pytest.raises(SystemExit):
        bench.parse_args(['--amp-dtype', 'bfloat16'])  # needs --amp
    with pytest.raises(SystemExit):
        bench.parse_args(['--amp', '--amp-dtype', 'float16', '--device', 'cpu'])


def test_amp_contenders_share_the_non_finite_skip_wrapper(tool_module, mmpretrain_scope):
    import greenmim_mm  # noqa: F401
    bench = tool_module('benchmark')
    args = bench.parse_args(['--amp', '--device', 'cpu', '--arch', 'tiny'])
    for name in ('greenmim', 'simmim'):
        cfg = bench.load_config(args, name, 224, 0.75)
        _, wrapper = bench.build_contender(name, cfg, 'cpu', bench.amp_dtype(args))
        assert type(wrapper).__name__ == 'NonFiniteSkipCpuAmpOptimWrapper'
        assert wrapper.cast_dtype == torch.bfloat16


def test_no_time_measures_memory_only(tool_module, tmp_path):
    bench = tool_module('benchmark')
    threads = torch.get_num_threads()
    try:
        results = bench.main(['--arch', 'tiny', '--cases', '224:1', '--no-time', '--warmup', '1',
                              '--mem-steps', '1', '--threads', '1',
                              '--plot', str(tmp_path / 'mem.png')])
    finally:
        torch.set_num_threads(threads)
    (case, ) = results['cases']
    assert 'greenmim' not in case and 'speedup' not in case and results['sweep'] == []
    assert set(case['memory']) >= {'greenmim', 'simmim', 'step_ratio'}
    with Image.open(tmp_path / 'mem.png') as img:
        assert img.format == 'PNG'
    with pytest.raises(SystemExit):
        bench.parse_args(['--no-time', '--no-memory'])
