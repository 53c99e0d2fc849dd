"""greenmim_mm.benchmark.gpu_check (make gpu-check) in its tiny CPU mode, as make test runs it."""
import json

import pytest
import torch

from greenmim_mm.benchmark import gpu_check


@pytest.fixture(scope='module')
def tiny_check(tmp_path_factory):
    out = tmp_path_factory.mktemp('gpu_check')
    return gpu_check.main(['--tiny', '--out-dir', str(out)]), out


@pytest.mark.slow  # two benchmark processes: ~30 s of CPU, more on a loaded machine
def test_tiny_check_runs_the_grid_and_writes_json_and_table(tiny_check):
    results, out = tiny_check
    with open(out / 'gpu_check.json') as f:
        assert json.load(f) == json.loads(json.dumps(results))
    cuda = torch.cuda.is_available()
    if not cuda:
        assert results['cuda_tests'] == dict(status='skipped: no CUDA device')
    expected = ['fp32', 'bf16'] + (['fp16'] if cuda else [])
    assert [(r['precision'], r['kind']) for r in results['runs']] == [
        (p, 'eager') for p in expected]
    for run in results['runs']:
        assert run['status'] == 'ok', (out / f"bench_{run['precision']}_eager.log").read_text()
        (case, ) = run['cases']
        assert (case['img'], case['batch']) == (224, 1)
        assert case['speedup'] == pytest.approx(case['simmim']['step_s_median'] /
                                                case['greenmim']['step_s_median'])
        for name in ('greenmim', 'simmim'):
            assert len(case[name]['steps_s']) == 1
            assert case[name]['profile']['counts']['aten_ops'] > 500
    table = (out / 'gpu_check.md').read_text()
    fp32 = results['runs'][0]['cases'][0]
    row = (f"| fp32 | eager | 1 | {fp32['greenmim']['step_s_median'] * 1e3:.0f} ms | "
           f"{fp32['simmim']['step_s_median'] * 1e3:.0f} ms | {fp32['speedup']:.2f}x |")
    assert row in table
    assert f"{fp32['greenmim']['profile']['counts']['aten_ops']:,} / " in table
    assert ('CUDA tests: skipped: no CUDA device' in table) != cuda


def test_the_full_grid_orders_eager_memory_compiled(monkeypatch):
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: True)
    args = gpu_check.parse_args([])
    assert (args.batches, args.budget_s, args.device) == ([32, 64, 128], 480., 'cuda')
    assert gpu_check.grid(args) == [
        ('fp32', 'eager', False), ('fp16', 'eager', False), ('bf16', 'eager', False),
        ('fp32', 'eager', True), ('fp16', 'eager', True), ('bf16', 'eager', True),
        ('fp32', 'compiled', False), ('fp16', 'compiled', False), ('bf16', 'compiled', False)]
    compiled = gpu_check.benchmark_command(args, 'bf16', 'compiled', 'x.json')
    assert compiled[compiled.index('--cases') + 1:compiled.index('--cases') + 4] == [
        '224:32', '224:64', '224:128']
    assert '--compile' in compiled and '--profile' not in compiled
    assert compiled[compiled.index('--amp-dtype') + 1] == 'bfloat16'
    memory = gpu_check.benchmark_command(args, 'fp32', 'eager', 'x.json', memory=True)
    assert memory[memory.index('--cases') + 1] == '224:128' and '--no-time' in memory
    assert '--amp' not in memory


def test_no_gpu_without_tiny_is_a_clear_error(monkeypatch, capsys):
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: False)
    with pytest.raises(SystemExit):
        gpu_check.parse_args([])
    assert '--tiny' in capsys.readouterr().err


def test_a_spent_budget_records_runs_as_not_run(tmp_path):
    budget = gpu_check.Budget(0.)
    assert gpu_check._run(['true'], budget, str(tmp_path / 'log')) == dict(
        status='not run: time budget spent')
    stopped = gpu_check._run(['sleep', '30'], gpu_check.Budget(6.), str(tmp_path / 'log'))
    assert stopped['status'].startswith('stopped: time budget spent') and stopped['seconds'] < 20
