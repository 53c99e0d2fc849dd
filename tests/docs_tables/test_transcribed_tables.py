"""Renderers of compiled-step runs, transcribed figures, an earlier profile and the gain's
clauses (small hand-made results)."""
import pytest

from greenmim_mm.docs_tables.compile_tables import (compile_summary, demo_model_table,
                                                    eager_compiled_table, packing_sentence,
                                                    plain_modules_sentence)
from greenmim_mm.docs_tables.formatting import Result, machine_line
from greenmim_mm.docs_tables.gain_tables import run_times, step_ratio, time_to_simmim
from greenmim_mm.docs_tables.profile_tables import earlier_run_sentence
from greenmim_mm.docs_tables.transcribed_tables import figure_table, number, sentence
from tests.helpers import fake_gain_results

MACHINE = dict(cpu='Xeon', cpus=2, threads=1, torch='2.14.1', device='cpu', date='2026-12-06')
ARGS = dict(
    model='swin',
    arch='tiny',
    mask_ratio=0.75,
    iters=5,
    warmup=2,
    amp=True,
    amp_dtype='bfloat16',
    baseline_fused_adamw=False,
    compile=None)


def _bench(path: str, greenmim: dict, simmim: dict, **args) -> Result:
    case = dict(img=224, batch=8, mask_ratio=0.75, greenmim=greenmim, simmim=simmim)
    return Result(path, dict(args=dict(ARGS, **args), machine=MACHINE, cases=[case]))


def test_eager_against_compiled():
    eager = _bench('e.json', dict(step_s_median=0.5), dict(step_s_median=2.0))
    compiled = _bench(
        'c.json',
        dict(step_s_median=0.55, first_step_s=120.4),
        dict(step_s_median=1.6, first_step_s=29),
        compile='train_step')
    lines = eager_compiled_table(eager, compiled).splitlines()
    assert lines[0].startswith('Swin-T, 224 px, batch 8, mask ratio 0.75, bfloat16 autocast, '
                               "each on its config's AdamW")
    assert '`--compile train_step`' in lines[0] and '(`e.json`, `c.json`)' in lines[0]
    assert lines[1] == 'Machine: Xeon (2 CPUs), 1 torch thread, torch 2.14.1; 2026-12-06.'
    assert lines[5:] == [
        '| GreenMIM | 0.50 s | 0.55 s | 1.10 | 120 s |',
        '| SimMIM | 2.00 s | 1.60 s | 0.80 | 29 s |'
    ]
    assert compile_summary(eager, compiled) == (
        "SimMIM's compiled step is 1.25x as fast as its eager one and ours 0.91x; SimMIM "
        'compiled still takes 3.20x the time of GreenMIM eager (2026-12-06, `e.json`, `c.json`)')
    with pytest.raises(ValueError, match='e.json must be the --compile run, c.json the eager one'):
        compile_summary(compiled, eager)


def _notes() -> Result:
    machine = dict(cpu='x86 CPU', cpus=2, torch='2.14.1')
    return Result(
        'docs/x_transcribed.json',
        dict(
            transcribed_from='pages of old',
            demo_model=dict(
                machine=dict(machine, threads=1, date='2026-12-05'),
                settings=dict(
                    config='c.py', img=224, batch=16, mask_ratio=0.75, precision='float32',
                    pairs=8),
                first_compiled_step_s=dict(empty_cache=231, warm_cache=12.7),
                eager_step_s=[0.53, 0.73],
                compiled_over_eager=[0.91, 0.95]),
            plain_modules=dict(
                date='2026-12-06',
                step_cpu_s=dict(compiled_plain=0.625, compiled_lean=0.579, eager_lean=0.524)),
            packing=dict(
                date='2026-12-05',
                img=224,
                window=7,
                mask_ratio=0.75,
                masks=200,
                max_excess_groups=3,
                stage0_lower_bound=16),
            figures=dict(
                errors=dict(
                    date='2026-12-02',
                    machine=machine,
                    transcribed_from='a page, commit abc',
                    values=dict(outputs=3.8e-6, big=300.0, mean=14.8, count=20)),
                grid=dict(
                    date='2026-12-06',
                    machine=machine,
                    transcribed_from='a page, commit def',
                    caption='A grid',
                    header=['a', 'b'],
                    rows=[['1', '2']]))))


def test_compile_notes_say_they_are_transcribed():
    lines = demo_model_table(_notes()).splitlines()
    assert lines[1] == ('Machine: x86 CPU (2 CPUs), 1 torch thread, torch 2.14.1; 2026-12-05. '
                        'Transcribed from pages of old.')
    assert lines[-1] == '| 231 s | 12.7 s | 0.53-0.73 s | 0.91-0.95 |'
    assert plain_modules_sentence(_notes()) == (
        '0.625 s against 0.579 s compiled with the lean functions and 0.524 s eager, step CPU '
        'time, alternating in one process, 2026-12-06; transcribed, `docs/x_transcribed.json`')
    assert packing_sentence(_notes()).startswith(
        'at mask ratio 0.75 and 224 px (window 7), the packings of 200 random masks exceeded '
        '`L` by at most 3 groups (`L = 16` at stage 0; 2026-12-05, transcribed')


def test_transcribed_figures():
    assert [number(v) for v in (3.8e-6, 1.1e-3, 3e2, 2e-15, 14.8, 15.0, 20, 0.5)
            ] == ['3.8e-6', '1.1e-3', '3e2', '2e-15', '14.8', '15.0', '20', '0.5']
    assert sentence(_notes(), 'errors', 'outputs {outputs}, ~{big}, {mean}% of {count}') == (
        'outputs 3.8e-6, ~3e2, 14.8% of 20 (2-core x86 CPU, torch 2.14.1, 2026-12-02; '
        'transcribed from a page, commit abc, `docs/x_transcribed.json`)')
    assert figure_table(_notes(), 'grid').splitlines() == [
        'A grid (`docs/x_transcribed.json`).',
        'Machine: x86 CPU (2 CPUs), torch 2.14.1; 2026-12-06. Transcribed from a page, commit '
        'def: the raw outputs were not kept.', '', '| a | b |', '|---|---|', '| 1 | 2 |'
    ]
    with pytest.raises(KeyError, match='has no figure .nope.; it has errors, grid'):
        figure_table(_notes(), 'nope')


def test_machine_line_of_a_tool_output_names_no_transcription():
    assert 'ranscribed' not in machine_line(Result('x.json', dict(machine=MACHINE)))


def test_earlier_profile_sentence():
    timed = dict(step_cpu_s_median=1.346)
    case = dict(
        img=224,
        batch=8,
        greenmim=timed,
        simmim=dict(step_cpu_s_median=3.794),
        authors=dict(step_cpu_s_median=1.414),
        outside_gemm_vs_authors=0.8249,
        outside_gemm_cpu_vs_authors=1.0206)
    machine = dict(MACHINE, precision='bfloat16 autocast', load_avg=[2.47, 3.0, 3.5])
    result = Result('docs/benchmark/p.json', dict(args=ARGS, machine=machine, cases=[case]))
    assert earlier_run_sentence(result) == (
        'an earlier bfloat16 run (`docs/benchmark/p.json`, load average 2.5 at start, '
        "2026-12-06) gave 1,346 ms of step CPU time for ours against the authors' 1,414 ms and "
        "SimMIM's 3,794 ms, and 0.82x the authors' profiled time outside the GEMMs, 1.02x in "
        'CPU time')


def test_gain_clauses():
    data = fake_gain_results()
    data['pretrain'] = {
        arm: [dict(checkpoints=[dict(elapsed_s=t)]) for t in times]
        for arm, times in (('greenmim', (91.2, 99.6)), ('simmim', (95.0, 104.4)))
    }
    data['machine']['load_average'] = [4.08, 3.2, 3.8]
    data['load_average_end'] = [2.3, 2.6, 3.0]
    result = Result('docs/pretraining_gain/g.json', data)
    assert step_ratio(result) == '2.0'
    assert time_to_simmim(result) == ('0.40 T by interpolation; about 40 s of measured training '
                                      "against SimMIM's 100 s")
    assert run_times(result) == (
        'the GreenMIM runs took 91-100 s and the SimMIM runs took 95-104 s of measured training '
        '(load average 4.1 at the start of the experiment, 2.3 at its end)')
