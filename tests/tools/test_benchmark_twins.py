"""greenmim_mm.benchmark --model twins: GreenMIM vs the same Twins run densely (tiny configs)."""
import json
import os.path as osp

import torch

from greenmim_mm.benchmark import options, run
from tests.helpers import REPO_ROOT

DEMO = osp.join(REPO_ROOT, 'configs', 'demo', 'greenmim_twins_demo_pretrain.py')


def test_twins_pair_runs(tmp_path):
    dense = tmp_path / 'dense.py'
    dense.write_text(f'_base_ = [{DEMO!r}]\nmodel = dict(type="GreenMIMDenseBaseline")\n')
    threads = torch.get_num_threads()
    try:
        run.main([
            '--model', 'twins', '--greenmim-config', DEMO, '--simmim-config',
            str(dense), '--cases', '224:1', '--iters', '1', '--warmup', '1', '--no-sweep',
            '--no-memory', '--threads', '1', '--json',
            str(tmp_path / 'bench.json')
        ])
    finally:
        torch.set_num_threads(threads)
    with open(tmp_path / 'bench.json') as f:
        results = json.load(f)
    assert results['args']['model'] == 'twins'
    (case, ) = results['cases']
    assert case['speedup'] == case['simmim']['step_s_median'] / case['greenmim']['step_s_median']
    g = case['greenmim']
    assert 0 < g['grouping_share'] < 1
    # one unshifted window partition (7x7) per SVT stage
    assert [(p['stage'], p['window'], p['shift']) for p in g['padding']] == [(0, 7, 0), (1, 7, 0),
                                                                             (2, 7, 0), (3, 7, 0)]


def test_twins_defaults_are_the_svt_l_pair():
    args = options.parse_args(['--model', 'twins'])
    assert args.greenmim_config.endswith('configs/greenmim_twins_svt_l_pretrain.py')
    assert args.simmim_config.endswith('configs/benchmark/dense_twins_svt_l_224.py')
    swin = options.parse_args([])
    assert swin.greenmim_config.endswith('configs/greenmim_swin_b_pretrain.py')
