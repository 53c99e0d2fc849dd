"""tools/analysis_tools/benchmark.py --model twins: GreenMIM vs the same Twins run densely (tiny configs)."""
import json
import os.path as osp

import pytest
import torch

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
DEMO = osp.join(REPO, 'configs', 'demo', 'greenmim_twins_demo_pretrain.py')


def test_twins_pair_runs(tool_module, tmp_path):
    dense = tmp_path / 'dense.py'
    dense.write_text(f'_base_ = [{DEMO!r}]\nmodel = dict(type="GreenMIMDenseBaseline")\n')
    bench = tool_module('benchmark')
    threads = torch.get_num_threads()
    try:
        bench.main(['--model', 'twins', '--greenmim-config', DEMO, '--simmim-config',
                    str(dense), '--cases', '224:1', '--iters', '1', '--warmup', '1',
                    '--no-sweep', '--no-memory', '--threads', '1',
                    '--json', str(tmp_path / 'bench.json')])
    finally:
        torch.set_num_threads(threads)
    with open(tmp_path / 'bench.json') as f:
        results = json.load(f)
    assert results['args']['model'] == 'twins'
    (case, ) = results['cases']
    assert case['speedup'] == pytest.approx(case['simmim']['step_s_median'] /
                                            case['greenmim']['step_s_median'])
    g = case['greenmim']
    assert 0 < g['grouping_share'] < 1
    # one unshifted window partition (7x7) per SVT stage
    assert [(p['stage'], p['window'], p['shift']) for p in g['padding']] == [
        (0, 7, 0), (1, 7, 0), (2, 7, 0), (3, 7, 0)]


def test_twins_defaults_are_the_svt_l_pair(tool_module):
    args = tool_module('benchmark').parse_args(['--model', 'twins'])
    assert args.greenmim_config.endswith('configs/greenmim_twins_svt_l_pretrain.py')
    assert args.simmim_config.endswith('configs/benchmark/dense_twins_svt_l_224.py')
    swin = tool_module('benchmark').parse_args([])
    assert swin.greenmim_config.endswith('configs/greenmim_swin_b_pretrain.py')
