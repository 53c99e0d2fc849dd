"""greenmim_mm.benchmark (tools/analysis_tools/benchmark.py): a tiny run, well-formed output."""
import json
import os.path as osp
import re

import pytest
import torch
from PIL import Image

from greenmim_mm.benchmark import contenders, options, report, run


@pytest.fixture(scope='module')
def tiny_run(tmp_path_factory):
    out = tmp_path_factory.mktemp('bench')
    argv = [
        '--arch', options.SMOKE_ARCH, '--cases', '224:1', '--iters', '1', '--warmup', '1',
        '--mem-steps', '1', '--sweep-sizes', '224', '--sweep-ratios', '0.75', '0.9',
        '--sweep-batch', '1', '--threads', '1', '--json',
        str(out / 'bench.json'), '--plot',
        str(out / 'bench.png')
    ]
    threads = torch.get_num_threads()
    try:
        returned = run.main(argv)
    finally:
        torch.set_num_threads(threads)  # --threads changes the whole process
    return returned, out


@pytest.mark.slow
def test_json_is_complete_and_plotted(tiny_run):
    returned, out = tiny_run
    with open(out / 'bench.json') as f:
        results = json.load(f)
    assert results['machine']['device'] == 'cpu' and results['machine']['threads'] == 1
    assert re.fullmatch(r'\d{4}-\d{2}-\d{2}', results['machine']['date'])  # the docs show it
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
        case['memory']['greenmim']['step_bytes'] / max(case['memory']['simmim']['step_bytes'], 1))
    g = case['greenmim']
    assert 0 < g['grouping_share'] < 1 and g['grouping_s'] > 0
    # stages 0-2 have regular and shifted windows, the 7x7 last stage one window (no shift)
    assert [(p['stage'], p['shift']) for p in g['padding']] == [(0, 0), (0, 3), (1, 0), (1, 3),
                                                                (2, 0), (2, 3), (3, 0)]
    for p in g['padding']:
        assert p['groups'] * p['group_size'] >= p['tokens'] > 0
        assert p['padding'] == pytest.approx(
            (p['groups'] * p['group_size'] - p['tokens']) / p['tokens'])
    assert [(c['img'], c['mask_ratio'], 'simmim' in c)
            for c in results['sweep']] == [(224, 0.75, True), (224, 0.9, False)]
    assert returned['cases'][0]['speedup'] == case['speedup']
    with Image.open(osp.join(out, 'bench.png')) as img:  # and the plot
        assert img.format == 'PNG' and img.size[0] > 500


def test_bad_case_is_a_clear_error():
    with pytest.raises(SystemExit, match='multiple of 32'):
        run.main(['--cases', '200:2', '--no-memory', '--no-sweep'])


def test_arch_is_a_name_or_a_json_arch(capsys):
    from mmpretrain.models import SwinTransformer
    assert options.arch_spec('tiny') == SwinTransformer.arch_zoo['tiny']
    assert options.arch_spec(None) == SwinTransformer.arch_zoo['base']
    assert options.arch_spec(options.SMOKE_ARCH) == dict(
        embed_dims=32, depths=[2, 2, 2, 2], num_heads=[1, 2, 4, 8])
    assert options.arch_label(options.SMOKE_ARCH) == 'Swin (embed 32, depths 2-2-2-2)'
    assert options.arch_label('tiny') == 'Swin-tiny' and options.arch_label(None) == 'Swin-base'
    cfg = contenders.load_config(
        options.parse_args(['--arch', options.SMOKE_ARCH]), 'simmim', 224, 0.75)
    assert cfg.model.backbone.arch == options.arch_spec(options.SMOKE_ARCH)
    assert cfg.model.neck.in_channels == 32 * 8
    for bad in ('tinny', '{"embed_dims": 32, "depths": [2, 2, 2, 2]}', '{"embed_dims": 3',
                '{"embed_dims": 32, "depths": [2, 2, 2, 2], "num_heads": [1, 2, 4, "8"]}'):
        with pytest.raises(SystemExit):
            options.parse_args(['--arch', bad])
        assert 'neither a Swin arch name' in capsys.readouterr().err


def test_batch_and_img_options_make_the_cases():
    assert options.parse_args([]).cases == ['224:8', '224:2', '448:2']
    assert options.parse_args(['--batch', '4']).cases == ['224:4']
    assert options.parse_args(['--img', '224', '320', '--batch', '1']).cases == ['224:1', '320:1']


def test_amp_dtype_options():
    args = options.parse_args(['--amp', '--device', 'cpu'])
    assert args.amp_dtype == 'bfloat16' and options.amp_dtype(args) == 'bfloat16'
    assert options.amp_dtype(options.parse_args(['--device', 'cpu'])) is None
    with pytest.raises(SystemExit):
        options.parse_args(['--amp-dtype', 'bfloat16'])  # needs --amp
    with pytest.raises(SystemExit):
        options.parse_args(['--amp', '--amp-dtype', 'float16', '--device', 'cpu'])


def test_amp_contenders_share_the_non_finite_skip_wrapper():
    from mmengine.registry import DefaultScope

    args = options.parse_args(['--amp', '--device', 'cpu', '--arch', 'tiny'])
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        for name in ('greenmim', 'simmim'):
            cfg = contenders.load_config(args, name, 224, 0.75)
            _, wrapper = contenders.build_contender(name, cfg, 'cpu', options.amp_dtype(args))
            assert type(wrapper).__name__ == 'NonFiniteSkipCpuAmpOptimWrapper'
            assert wrapper.cast_dtype == torch.bfloat16


@pytest.mark.slow
def test_no_time_measures_memory_only(tmp_path):
    threads = torch.get_num_threads()
    try:
        results = run.main([
            '--arch', options.SMOKE_ARCH, '--cases', '224:1', '--no-time', '--warmup', '1',
            '--mem-steps', '1', '--threads', '1', '--plot',
            str(tmp_path / 'mem.png')
        ])
    finally:
        torch.set_num_threads(threads)
    (case, ) = results['cases']
    assert 'greenmim' not in case and 'speedup' not in case and results['sweep'] == []
    assert set(case['memory']) >= {'greenmim', 'simmim', 'step_ratio'}
    with Image.open(tmp_path / 'mem.png') as img:
        assert img.format == 'PNG'
    with pytest.raises(SystemExit):
        options.parse_args(['--no-time', '--no-memory'])


def _tiny_profile(tmp_path, *extra):
    threads = torch.get_num_threads()
    try:
        return run.main([
            '--arch', options.SMOKE_ARCH, '--cases', '224:1', '--iters', '1', '--warmup', '1',
            '--no-memory', '--no-sweep', '--threads', '1', '--profile', '--profile-top', '5',
            '--profile-steps', '2', '--json',
            str(tmp_path / 'p.json'), *extra
        ])
    finally:
        torch.set_num_threads(threads)


@pytest.fixture(scope='module')
def tiny_profiles(tmp_path_factory):
    """--profile in float32 and under bf16 autocast (the smoke Swin, 224 px, batch 1)."""
    return {
        precision: _tiny_profile(tmp_path_factory.mktemp(precision), *extra)
        for precision, extra in (('fp32', ()), ('bf16', ('--amp', )))
    }


@pytest.mark.slow
def test_profile_counts_are_sane_and_printed(tiny_profiles, capsys):
    for precision, results in tiny_profiles.items():
        (case, ) = results['cases']
        for name in ('greenmim', 'simmim'):
            counts, timing = (case[name]['profile'][k] for k in ('counts', 'time'))
            assert counts['aten_ops'] + counts['other_ops'] == sum(counts['ops'].values())
            assert counts['aten_ops'] > 500
            # AdamW's update (ours: the fused kernel, once per parameter group) is a part of
            # the step
            optimizer = counts['phases']['optimizer']
            assert 0 < optimizer < counts['aten_ops'] // 2
            fused = counts['ops'].get('aten::_fused_adamw_', 0)
            assert optimizer >= fused and (fused > 0) == (name == 'greenmim')
            # GreenMIM's grouping runs ATen operations too (on CPU tensors); SimMIM has none
            assert ('sparse_plan' in counts['phases']) == (name == 'greenmim')
            if name == 'greenmim':
                assert 0 < counts['phases']['sparse_plan'] < counts['aten_ops'] - optimizer
            assert counts['ops']['aten::mm'] > 0 and counts['casts'] >= 1
            # the input images are cast from uint8 once, in the data preprocessor
            assert counts['cast_kinds']['uint8->float32'] == dict(casts=1, bytes=4 * 3 * 224**2)
            assert counts['cast_bytes'] == sum(k['bytes'] for k in counts['cast_kinds'].values())
            assert counts['casts'] == sum(k['casts'] for k in counts['cast_kinds'].values())
            assert timing['sort_by'] == 'self_cpu' and len(timing['top']) == 5
            assert [r['self_cpu_ms'] for r in timing['top']] == sorted(
                (r['self_cpu_ms'] for r in timing['top']), reverse=True)
            assert timing['profiled_aten_calls'] >= counts['aten_ops']
            # the time split: GEMMs (mm, addmm, bmm, the patch convolution) and the rest
            entry = case[name]
            assert 0 < timing['gemm_ms'] < timing['aten_self_ms'] < timing['step_s'] * 1e3 * 1.01
            assert set(timing['gemm_ops']) >= {'aten::mm', 'aten::addmm', 'aten::bmm'}
            assert not {r['name'] for r in timing['top_non_gemm']} & set(timing['gemm_ops'])
            assert len(case[name]['profile']['rounds']) == 2  # --profile-steps 2
            assert entry['outside_gemm_s'] > 0 and 0 < entry['gemm_share'] < 1
            assert entry['outside_gemm_cpu_s'] == pytest.approx(entry['step_cpu_s_median'] *
                                                                (1 - entry['gemm_share']))
    from mmpretrain.models import SwinTransformer
    backbone = SwinTransformer(arch=options.arch_spec(options.SMOKE_ARCH), img_size=224)
    weights = sum(p.numel() for p in backbone.parameters() if p.dim() > 1)
    for name in ('greenmim', 'simmim'):
        fp32, bf16 = (
            tiny_profiles[p]['cases'][0][name]['profile']['counts'] for p in ('fp32', 'bf16'))
        assert 'float32->bfloat16' not in fp32['cast_kinds']
        # bf16 autocast casts every weight at least once: at least a bf16 copy of the
        # backbone's weight matrices
        assert bf16['cast_kinds']['float32->bfloat16']['bytes'] >= 2 * weights
        assert bf16['cast_bytes'] > fp32['cast_bytes'] and bf16['casts'] > fp32['casts'] + 100
    # and the report prints them per contender
    report.print_report(tiny_profiles['bf16'])
    out = capsys.readouterr().out
    (case, ) = tiny_profiles['bf16']['cases']
    for label, name in (('GreenMIM', 'greenmim'), ('SimMIM', 'simmim')):
        counts = case[name]['profile']['counts']
        phases = f"optimizer.step {counts['phases']['optimizer']:,}" + (
            f", sparse_plan {counts['phases']['sparse_plan']:,}" if name == 'greenmim' else '')
        assert f"| {label} | {counts['aten_ops']:,} | {phases} | {counts['casts']:,} |" in out
        assert f'{label}: top operations by self CPU time' in out
        assert f"| {case[name]['profile']['time']['top'][0]['name']} |" in out
        assert f"| {label} | {case[name]['step_s_median'] * 1e3:.0f} ms |" in out
    assert 'bfloat16 autocast, eager' in out
    assert '| contender | step (median) | step CPU time | profiled step | GEMMs |' in out


def _compiled_run(monkeypatch, tmp_path, compile_fn):
    monkeypatch.setattr(torch, 'compile', compile_fn)
    threads = torch.get_num_threads()
    try:
        return run.main([
            '--arch', options.SMOKE_ARCH, '--cases', '224:1', '--iters', '1', '--warmup', '1',
            '--no-memory', '--no-sweep', '--threads', '1', '--compile', '--json',
            str(tmp_path / 'c.json')
        ])
    finally:
        torch.set_num_threads(threads)


def test_compile_wraps_train_step_and_times_the_first_step(monkeypatch, tmp_path):
    wrapped = []

    def fake_compile(fn, **kwargs):  # torch.compile's contract: a callable like fn
        wrapped.append(fn.__qualname__)
        return fn

    (case, ) = _compiled_run(monkeypatch, tmp_path, fake_compile)['cases']
    # SimMIM's is mmengine's; GreenMIM's keeps the parameter update out of compilation
    assert sorted(wrapped) == ['BaseModel.train_step', 'GreenMIM.train_step']
    for name in ('greenmim', 'simmim'):
        assert case[name]['compile'] == 'train_step' and case[name]['first_step_s'] > 0
        assert len(case[name]['steps_s']) == 1
    assert 'grouping_share' not in case['greenmim']  # patching a compiled model recompiles


def test_a_failing_compilation_is_recorded_not_raised(monkeypatch, tmp_path, capsys):

    def failing_compile(fn, **kwargs):
        if 'GreenMIM' not in type(fn.__self__).__name__:
            return fn

        def compiled(*args, **kw):
            raise RuntimeError('Dynamo failed to trace the sparse plan')

        return compiled

    results = _compiled_run(monkeypatch, tmp_path, failing_compile)
    (case, ) = results['cases']
    assert case['greenmim']['error'].startswith(
        'RuntimeError: Dynamo failed to trace the sparse plan')
    assert 'step_s_median' not in case['greenmim'] and 'speedup' not in case
    assert case['simmim']['step_s_median'] > 0  # the other contender is still measured
    with open(tmp_path / 'c.json') as f:
        assert json.load(f)['cases'][0]['greenmim']['error'] == case['greenmim']['error']
    assert 'greenmim at 224 px batch 1 failed: RuntimeError' in capsys.readouterr().out


def test_authors_code_options_and_bad_path(tmp_path):
    with pytest.raises(SystemExit):
        options.parse_args(['--authors-code', str(tmp_path), '--model', 'twins'])
    with pytest.raises(SystemExit):
        options.parse_args(['--authors-code', str(tmp_path), '--no-time'])
    args = options.parse_args(['--authors-code', str(tmp_path), '--profile-steps', '2'])
    assert args.authors_code == str(tmp_path) and args.profile_steps == 2
    from greenmim_mm.benchmark.authors import import_authors_modeling
    with pytest.raises(SystemExit, match='no modeling/green_swin_models.py'):
        import_authors_modeling(str(tmp_path))


def test_authors_param_groups_follow_their_weight_decay_split():
    from greenmim_mm.benchmark.authors import authors_param_groups

    class Tiny(torch.nn.Module):

        def __init__(self):
            super().__init__()
            self.fc = torch.nn.Linear(3, 4)
            self.norm = torch.nn.LayerNorm(4)
            self.relative_position_bias_table = torch.nn.Parameter(torch.zeros(9, 2))
            self.mask_token = torch.nn.Parameter(torch.zeros(1, 1, 4))
            self.frozen = torch.nn.Parameter(torch.zeros(2, 2), requires_grad=False)

    model = Tiny()
    no_decay, decay = authors_param_groups(model, 0.05)
    assert decay['weight_decay'] == 0.05 and no_decay['weight_decay'] == 0.
    assert [id(p) for p in decay['params']] == [id(model.fc.weight)]
    assert {id(p)
            for p in no_decay['params']} == {
                id(model.fc.bias),
                id(model.norm.weight),
                id(model.norm.bias),
                id(model.relative_position_bias_table),
                id(model.mask_token)
            }
