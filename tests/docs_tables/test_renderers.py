"""The renderers turn result files into the expected Markdown (small hand-made results)."""
import pytest

from greenmim_mm.docs_tables.benchmark_tables import (details, headline, memory_table,
                                                      speedups_sentence, step_table)
from greenmim_mm.docs_tables.formatting import Result, machine_line
from greenmim_mm.docs_tables.gain_tables import results_table, summary_table
from greenmim_mm.docs_tables.profile_tables import counts_table, step_summary
from tests.helpers import fake_gain_results

MACHINE = dict(cpu='Xeon', cpus=2, threads=2, torch='2.14.1', device='cpu', date='2026-12-06')
ARGS = dict(
    model='swin',
    arch=None,
    mask_ratio=0.75,
    iters=5,
    warmup=2,
    mem_steps=3,
    baseline_fused_adamw=True,
    amp=False)


def _timed(step: float) -> dict:
    return dict(step_s_median=step, step_s_min=step - 0.1, step_s_max=step + 0.2)


def _memory(g_mib: float, s_mib: float) -> dict:
    return dict(
        greenmim=dict(step_bytes=g_mib * 2**20, total_peak_bytes=2 * 2**30),
        simmim=dict(step_bytes=s_mib * 2**20, total_peak_bytes=3 * 2**30),
        step_ratio=g_mib / s_mib)


def _run(**args) -> Result:
    cases = [
        dict(
            img=224,
            batch=8,
            mask_ratio=0.75,
            greenmim=_timed(1.0),
            simmim=_timed(4.4),
            speedup=4.4,
            memory=_memory(300, 2000)),
        dict(
            img=448,
            batch=2,
            mask_ratio=0.75,
            greenmim=_timed(1.2),
            simmim=_timed(3.72),
            speedup=3.1,
            memory=_memory(250, 1000))
    ]
    return Result('docs/benchmark/run.json',
                  dict(args=dict(ARGS, **args), machine=MACHINE, cases=cases, sweep=[]))


def test_step_table():
    assert step_table(_run()).splitlines() == [
        'Swin-B on CPU, mask ratio 0.75, float32, both on the same fused AdamW '
        '(`--baseline-fused-adamw`); medians of 5 timed steps after 2 warm-up steps '
        '(`docs/benchmark/run.json`).',
        'Machine: Xeon (2 CPUs), 2 torch threads, torch 2.14.1; 2026-12-06.', '',
        '| input | batch | SimMIM step | GreenMIM step | speed-up | step memory GreenMIM / '
        'SimMIM | ratio |', '|---|---|---|---|---|---|---|',
        '| 224 | 8 | 4.40 s | 1.00 s | **4.40x** | 300 / 2000 MiB | **0.15x** |',
        '| 448 | 2 | 3.72 s | 1.20 s | **3.10x** | 250 / 1000 MiB | **0.25x** |'
    ]
    twins = step_table(_run(model='twins'), ranges=True)
    assert '| 224 | 8 | 4.40 s (4.3-4.6) | 1.00 s (0.9-1.2) | **4.40x** |' in twins
    assert 'dense SVT-L step' in twins and 'Twins SVT-L on CPU' in twins


def test_headline_and_config_optimizer_sentence():
    assert headline(_run()) == ("3.1-4.4x faster than SimMIM's on the same optimizer and needs "
                                '0.15-0.25x of its step memory (float32, Xeon, 2026-12-06)')
    assert speedups_sentence(_run(baseline_fused_adamw=False)).startswith(
        "Speed-ups, each on its config's AdamW (ours fused, SimMIM mmpretrain's unfused), in "
        '`docs/benchmark/run.json`: 4.40x at 224 px batch 8, 3.10x at 448 px batch 2.')


def test_details_lists_the_total_peak_only_when_asked():
    assert details(_run()).splitlines() == [
        '- The whole process peaks at 2.00 / 3.00 GiB (GreenMIM / SimMIM, 224 px batch 8: '
        'model, gradients, optimizer state and the step).',
        '- The whole process peaks at 2.00 / 3.00 GiB (GreenMIM / SimMIM, 448 px batch 2: '
        'model, gradients, optimizer state and the step).'
    ]
    assert details(_run(), memory=False) == ''


def test_memory_table_names_both_machines_when_they_differ():
    fp32 = _run()
    amp = _run(amp=True, amp_dtype='bfloat16')
    amp = Result('docs/benchmark/amp.json', dict(amp.data, machine=dict(MACHINE, cpu='EPYC')))
    text = memory_table(fp32, amp)
    assert '| 224 | 8 | 300 / 2000 MiB | 0.15x | 300 / 2000 MiB | **0.15x** |' in text
    assert ('`docs/benchmark/run.json`: Machine: Xeon (2 CPUs), 2 torch threads, torch 2.14.1; '
            '2026-12-06. `docs/benchmark/amp.json`: Machine: EPYC (2 CPUs)') in text
    same_machine = memory_table(fp32, _run(amp=True, amp_dtype='bfloat16'))
    assert same_machine.splitlines()[1] == ('Machine: Xeon (2 CPUs), 2 torch threads, torch '
                                            '2.14.1; 2026-12-06.')


def test_machine_line_of_a_gpu_and_a_missing_date():
    gpu = Result(
        'x.json',
        dict(
            machine=dict(gpu='NVIDIA H100', cpu='EPYC', torch='2.11', date='2026-11-25 10:00 UTC')))
    assert machine_line(gpu) == 'Machine: NVIDIA H100 (CPU EPYC), torch 2.11; 2026-11-25.'
    with pytest.raises(ValueError, match=r'x.json records no date'):
        machine_line(Result('x.json', dict(machine=dict(cpu='EPYC', torch='2.11'))))


def _profiled(precision: str, ops: int) -> Result:
    counts = dict(
        aten_ops=ops,
        phases=dict(optimizer=6, sparse_plan=500),
        casts=400,
        cast_bytes=650e6,
        cast_kinds={'float32->bfloat16': dict(casts=285, bytes=240e6)})
    base = dict(
        aten_ops=2 * ops, phases=dict(optimizer=3000), casts=491, cast_bytes=987e6, cast_kinds={})
    case = dict(
        img=224,
        batch=8,
        mask_ratio=0.75,
        greenmim=dict(profile=dict(counts=counts)),
        simmim=dict(profile=dict(counts=base)))
    return Result(f'docs/benchmark/{precision}.json',
                  dict(args=ARGS, machine=dict(MACHINE, precision=precision), cases=[case]))


def test_counts_table_and_summary():
    fp32, bf16 = _profiled('float32', 5000), _profiled('bfloat16 autocast', 6000)
    lines = counts_table(fp32, bf16).splitlines()
    assert lines[2:] == [
        '| per step | GreenMIM | of which the CPU plan | SimMIM |', '|---|---|---|---|',
        '| ATen operations, float32 | 5,000 | 500 | 10,000 |',
        '| of them in `optimizer.step`, float32 | 6 |  | 3,000 |',
        '| ATen operations, bfloat16 | 6,000 | 500 | 12,000 |',
        '| of them in `optimizer.step`, bfloat16 | 6 |  | 3,000 |',
        '| casts, bfloat16 | 400 |  | 491 |', '| bytes cast, bfloat16 | 650 MB |  | 987 MB |',
        '| of them float32 -> bfloat16 | 285 casts, 240 MB |  | 0 |',
        '| of them bfloat16 -> float32 | 0 |  | 0 |'
    ]
    assert step_summary(bf16) == ('a Swin-B bfloat16 step (224 px, batch 8) runs 6,000 ATen '
                                  'operations (SimMIM 12,000) and casts 650 MB (SimMIM 987 MB)')
    with pytest.raises(
            ValueError, match='no profile of .greenmim.*run benchmark.py with '
            '--profile'):
        counts_table(_run(), bf16)


def test_gain_tables_state_every_seed_and_the_criteria():
    result = Result('docs/pretraining_gain/pretraining_gain.json', fake_gain_results())
    text = results_table(result)
    assert '| random init | none | 0.410 ± 0.010 | 0.400, 0.410, 0.420 |' in text
    assert '| GreenMIM | 800 it (0.125 s/it), 100 s | 0.550 ± 0.010 |' in text
    assert '| 0.5 | 400 (50) | 0.510 ± 0.010 | 0.510 ± 0.010 | 200 (50) |' in text
    assert "SimMIM's accuracy at T after 0.40 T (within 0.6 T: yes)" in text
    assert text.endswith('All three criteria: yes.')
    summary = summary_table(result).splitlines()
    assert summary[3:] == [
        '| GreenMIM | 0.550 ± 0.010 | 0.550 ± 0.010 | 0.40 T |',
        '| SimMIM | 0.490 ± 0.010 | 0.490 ± 0.010 | T |'
    ]


def test_gpu_check_tables_carry_the_machine():
    from greenmim_mm.docs_tables.benchmark_tables import gpu_check
    case = dict(
        img=224,
        batch=64,
        greenmim=dict(_timed(0.1), images_per_s=640.0),
        simmim=_timed(0.3),
        speedup=3.0)
    result = Result(
        'docs/benchmark/gpu_check.json',
        dict(
            machine=dict(
                device='cuda', torch='2.14.1', date='2026-12-06', gpu='NVIDIA H100', cpu='EPYC'),
            cuda_tests=dict(status='skipped: --no-tests'),
            runs=[dict(precision='fp32', kind='eager', mode='eager', cases=[case])]))
    lines = gpu_check(result).splitlines()
    assert lines[:2] == [
        '`make gpu-check` (`docs/benchmark/gpu_check.json`).',
        'Machine: NVIDIA H100 (CPU EPYC), torch 2.14.1; 2026-12-06.'
    ]
    assert '| fp32 | eager | 64 | 100 ms | 300 ms | 3.00x | 640.0 | - | - | - |' in lines
    assert not any(line.startswith('#') for line in lines)


def test_counts_table_adds_the_authors_code_where_profiled():
    fp32, bf16 = _profiled('float32', 5000), _profiled('bfloat16 autocast', 6000)
    for run in (fp32, bf16):
        run.data['cases'][0]['authors'] = dict(
            profile=dict(
                counts=dict(
                    aten_ops=4900,
                    phases=dict(optimizer=4),
                    casts=563,
                    cast_bytes=636e6,
                    cast_kinds={})))
    lines = counts_table(fp32, bf16).splitlines()
    assert lines[
        2] == "| per step | GreenMIM | of which the CPU plan | SimMIM | the authors' code |"
    assert lines[4] == '| ATen operations, float32 | 5,000 | 500 | 10,000 | 4,900 |'


def test_time_split_table_compares_the_time_outside_the_gemms():
    from greenmim_mm.docs_tables.profile_tables import time_split_table

    def timed(step_cpu, outside_cpu, gemm=0.5):
        return dict(
            step_s_median=2 * step_cpu,
            step_cpu_s_median=step_cpu,
            gemm_s=gemm,
            outside_gemm_s=2 * outside_cpu,
            outside_gemm_cpu_s=outside_cpu)

    def run(precision):
        case = dict(
            img=224,
            batch=8,
            mask_ratio=0.75,
            greenmim=timed(1.0, 0.4),
            simmim=timed(3.0, 1.6),
            authors=timed(1.2, 0.5))
        return Result(
            f'docs/benchmark/{precision}.json',
            dict(
                args=dict(ARGS, iters=5, profile_steps=3),
                machine=dict(MACHINE, precision=precision),
                cases=[case]))

    lines = time_split_table(run('float32'), run('bfloat16 autocast')).splitlines()
    assert 'median of 5 alternating steps' in lines[0] and '3 alternating profiled' in lines[0]
    assert lines[4] == ('| float32 | GreenMIM | 2,000 ms | 1,000 ms | 500 ms | 800 ms | 400 ms |'
                        '  |  |')
    assert lines[5] == ('| float32 | SimMIM | 6,000 ms | 3,000 ms | 500 ms | 3,200 ms | '
                        '1,600 ms | 3.00x | 0.25x |')
    assert lines[6].startswith("| float32 | the authors' code |") and lines[6].endswith(
        '| 1.20x | 0.80x |')
    assert len(lines) == 4 + 6 and lines[7].startswith('| bfloat16 | GreenMIM |')


def test_versus_summary_names_both_contenders():
    from greenmim_mm.docs_tables.profile_tables import versus_summary
    case = dict(
        img=224,
        batch=8,
        mask_ratio=0.75,
        greenmim=dict(step_cpu_s_median=1.0, outside_gemm_cpu_s=0.5),
        simmim=dict(step_cpu_s_median=3.0, outside_gemm_cpu_s=2.0),
        authors=dict(step_cpu_s_median=1.25, outside_gemm_cpu_s=0.625))
    text = versus_summary(
        Result('docs/benchmark/b.json',
               dict(args=ARGS, machine=dict(MACHINE, threads=1), cases=[case])))
    assert text == ('on Xeon with native bf16 (1 thread), that step is 3.00x as fast as SimMIM '
                    '(its time outside the matrix multiplies 0.25x theirs) and 1.25x as fast as '
                    "the authors' code (its time outside the matrix multiplies 0.80x theirs)")
