"""greenmim_mm.benchmark.gpu_check (make gpu-check) in its tiny CPU mode, as make test runs it."""
import json
import time

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
    assert [(r['precision'], r['kind'], r['batches'])
            for r in results['runs']] == [(p, 'eager', [1]) for p in expected]
    for run in results['runs']:
        assert run['status'] == 'ok', (out / f"bench_{run['precision']}_eager.log").read_text()
        (case, ) = run['cases']
        assert (case['img'], case['batch']) == (224, 1)
        assert case['speedup'] == pytest.approx(case['simmim']['step_s_median'] /
                                                case['greenmim']['step_s_median'])
        for name in ('greenmim', 'simmim'):
            assert len(case[name]['steps_s']) == 1
            assert case[name]['profile']['counts']['aten_ops'] > 500
            assert len(case[name]['profile']['rounds']) == 1  # --tiny: one profiled step
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
    cells = gpu_check.grid(args)
    assert [(c['precision'], c['kind'], c['batches'])
            for c in cells] == [('fp32', 'eager', [32, 64, 128]), ('fp16', 'eager', [32, 64, 128]),
                                ('bf16', 'eager', [32, 64, 128]), ('fp32', 'memory', [128]),
                                ('fp16', 'memory', [128]),
                                ('bf16', 'memory', [128])] + [(p, 'compiled', [b])
                                                              for p in ('fp32', 'fp16', 'bf16')
                                                              for b in (32, 64, 128)]
    eager = gpu_check.benchmark_command(args, cells[0], 'x.json')
    assert eager[eager.index('--cases') + 1:eager.index('--cases') +
                 4] == ['224:32', '224:64', '224:128']
    assert '--profile' in eager and '--amp' not in eager and '--compile' not in eager
    compiled = gpu_check.benchmark_command(args, cells[-1], 'x.json')
    assert compiled[compiled.index('--cases') + 1:compiled.index('--cases') +
                    3] == ['224:128', '--amp']
    assert '--compile' in compiled and '--profile' not in compiled
    assert compiled[compiled.index('--amp-dtype') + 1] == 'bfloat16'
    memory = gpu_check.benchmark_command(args, cells[4], 'x.json')
    assert memory[memory.index('--amp-dtype') + 1] == 'float16' and '--no-time' in memory


def test_no_gpu_without_tiny_is_a_clear_error(monkeypatch, capsys):
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: False)
    with pytest.raises(SystemExit):
        gpu_check.parse_args([])
    assert '--tiny' in capsys.readouterr().err


def test_a_spent_budget_records_runs_as_not_run(tmp_path):
    budget = gpu_check.Budget(0.)
    assert gpu_check._run(['true'], budget,
                          str(tmp_path / 'log')) == dict(status='not run: time budget spent')
    pid_file = tmp_path / 'pid'
    stopped = gpu_check._run(['sh', '-c', f'sleep 30 & echo $! > {pid_file}; wait'],
                             gpu_check.Budget(6.), str(tmp_path / 'log'))
    assert stopped['status'].startswith('stopped: time budget spent') and stopped['seconds'] < 20
    # the grandchild (as a memory worker would be) is ended with it: gone, or a zombie
    # (SIGKILL is delivered asynchronously: give a loaded machine a few seconds)
    stat = f'/proc/{int(pid_file.read_text())}/stat'
    for _ in range(50):
        try:
            with open(stat) as f:
                state = f.read().rsplit(')', 1)[1].split()[0]
        except FileNotFoundError:
            state = 'gone'
        if state in ('Z', 'X', 'gone'):
            break
        time.sleep(0.1)
    assert state in ('Z', 'X', 'gone')


def test_table_of_compiled_memory_and_failed_runs():
    timed = dict(step_s_median=0.1, images_per_s=320., compile='train_step', first_step_s=61.)
    results = dict(
        machine=dict(device='cuda', gpu='Some GPU', cpu='Some CPU', torch='2.x', date='2026-12-05'),
        cuda_tests=dict(
            status='ok', tests=21, failures=0, errors=0, skipped=1, passed=20, seconds=42.),
        runs=[
            dict(
                precision='bf16',
                kind='compiled',
                mode='compiled',
                batches=[32],
                status='ok',
                cases=[
                    dict(
                        img=224,
                        batch=32,
                        greenmim=timed,
                        simmim=dict(error='RuntimeError: no kernel'))
                ]),
            dict(
                precision='fp16',
                kind='compiled',
                mode='compiled',
                batches=[64],
                status='not run: time budget spent'),
            dict(
                precision='fp32',
                kind='memory',
                mode='eager',
                batches=[128],
                status='ok',
                cases=[
                    dict(
                        img=224,
                        batch=128,
                        memory=dict(
                            greenmim=dict(step_bytes=2**30),
                            simmim=dict(step_bytes=5 * 2**30),
                            step_ratio=0.2))
                ])
        ])
    table = gpu_check.markdown(results)
    assert '# GPU check: Some GPU (CPU Some CPU, torch 2.x, 2026-12-05)' in table
    assert 'CUDA tests: 20 passed, 0 failed, 0 errors, 1 skipped (42 s)' in table
    assert '| bf16 | compiled | 32 | 100 ms | error | - | 320.0 | 61 s / - | - | - |' in table
    assert '| fp16 | compiled | - | not run: time budget spent |' in table
    assert '| fp32 | 128 | 1024 MiB | 5120 MiB | 0.20x |' in table
    assert '- bf16 compiled simmim: RuntimeError: no kernel' in table


@pytest.mark.parametrize('tool, flags', [('benchmark', ['--profile', '--compile']),
                                         ('gpu_check', ['--tiny', '--budget-s'])])
def test_the_scripts_are_thin_clis_over_the_package(tool, flags, monkeypatch, capsys):
    import runpy

    from tests.helpers import tool_path
    monkeypatch.setattr('sys.argv', [tool_path(tool), '--help'])
    with pytest.raises(SystemExit) as exit_info:
        runpy.run_path(tool_path(tool), run_name='__main__')
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    assert all(flag in out for flag in flags)
