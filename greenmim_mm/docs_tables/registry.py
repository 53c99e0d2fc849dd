"""Every generated table: its name, the result files it reads and how it renders them.

A page shows a table between ``<!-- table:NAME -->`` and ``<!-- /table:NAME -->``
(:mod:`.markers`); ``tools/misc/update_docs_tables.py`` writes it, ``--check`` and
``tests/docs_tables/`` fail while a page differs from its files. To publish a new result
file, commit it (one JSON per run) and add one entry here: a name, the file and a function of
the loaded file(s) returning Markdown (see :mod:`.benchmark_tables` for examples); then put
the markers on a page and run the tool.
"""
from functools import partial
from typing import Callable, Dict, NamedTuple, Tuple

from . import (benchmark_tables as bench, compile_tables as compiled, demo_tables as demo,
               gain_tables as gain, profile_tables as profile, transcribed_tables as transcribed)

BENCH = 'docs/benchmark/'
GAIN = 'docs/pretraining_gain/'
DEMO = 'docs/demo/'
# `make demo` runs: the earlier ones (transcribed), and a run's own result once published
# (DEMO_PUBLISH=1 make demo), read when it exists.
DEMO_RUNS = (DEMO + 'demo_transcribed.json', )
DEMO_RESULT = (DEMO + 'demo_result.json', )
COMPILE_BF16 = (BENCH + 'benchmark_compile_bf16_eager.json', BENCH + 'benchmark_compile_bf16.json')
COMPILE_NOTES = (BENCH + 'compile_transcribed.json', )
# Figures typed into the pages before their raw outputs were kept, transcribed once.
EXACT = ('docs/exactness/exactness_transcribed.json', )
BENCH_NOTES = (BENCH + 'notes_transcribed.json', )
GAIN_PILOTS = (GAIN + 'pilots_transcribed.json', )


class Table(NamedTuple):
    """A generated table.

    Attributes:
        sources (tuple[str]): Result files, relative to the repository root, passed in this
            order to ``render`` as :class:`.formatting.Result`.
        render (Callable[..., str]): Loaded result files -> Markdown.
        inline (bool): The table is a clause inside a sentence (one line), not a block.
            Defaults to False.
        optional (tuple[str]): Result files read when they exist, passed after ``sources``
            (None where absent), e.g. the result of a run not yet published. Defaults to ().
    """
    sources: Tuple[str, ...]
    render: Callable[..., str]
    inline: bool = False
    optional: Tuple[str, ...] = ()


def _figure(files: Tuple[str, ...], key: str, template: str = '') -> Table:
    """A transcribed figure: a clause from ``template`` (inline), or its table."""
    if template:
        return Table(files, partial(transcribed.sentence, key=key, template=template), inline=True)
    return Table(files, partial(transcribed.figure_table, key=key))


TABLES: Dict[str, Table] = {
    # Swin-B against SimMIM, both on the same fused AdamW: the headline speed-ups.
    'bench_swin_cpu':
    Table((BENCH + 'benchmark_same_optimizer.json', ), bench.step_table),
    'bench_swin_cpu_headline':
    Table((BENCH + 'benchmark_same_optimizer.json', ), bench.headline, inline=True),
    # `make bench`: each model on its config's optimizer; the sweep, grouping, padding.
    'bench_swin_cpu_config_optimizers':
    Table((BENCH + 'benchmark.json', ), bench.speedups_sentence),
    'bench_swin_cpu_details':
    Table((BENCH + 'benchmark.json', ), partial(bench.details, memory=False)),
    'bench_twins_cpu':
    Table((BENCH + 'benchmark_twins.json', ), partial(bench.step_table, ranges=True)),
    'bench_twins_cpu_details':
    Table((BENCH + 'benchmark_twins.json', ), bench.details),
    # Step memory, float32 and bf16 autocast (memory-only runs).
    'bench_amp_memory':
    Table((BENCH + 'benchmark_fp32_memory.json', BENCH + 'benchmark_amp.json'), bench.memory_table),
    # Operations and casts per step (`--profile`).
    'profile_counts':
    Table((BENCH + 'benchmark_profile_fp32.json', BENCH + 'benchmark_profile_bf16.json'),
          profile.counts_table),
    'profile_outside_plan':
    Table((BENCH + 'benchmark_profile_fp32.json', BENCH + 'benchmark_profile_bf16.json'),
          profile.outside_plan,
          inline=True),
    # The same runs of the code before the work outside the GEMMs was cut (see the page).
    'profile_counts_before':
    Table((BENCH + 'benchmark_profile_fp32_before.json',
           BENCH + 'benchmark_profile_bf16_before.json'), profile.counts_table),
    'profile_time_split':
    Table((BENCH + 'benchmark_profile_fp32.json', BENCH + 'benchmark_profile_bf16.json'),
          profile.time_split_table),
    'profile_bf16_versus':
    Table((BENCH + 'benchmark_profile_bf16.json', ), profile.versus_summary, inline=True),
    'profile_bf16_summary':
    Table((BENCH + 'benchmark_profile_bf16.json', ), profile.step_summary, inline=True),
    # `make gpu-check`, once a run's gpu_check.json is committed here.
    'gpu_check':
    Table((BENCH + 'gpu_check.json', ), bench.gpu_check),
    # The one GPU run before the result files were kept (transcribed).
    'bench_swin_cuda_earlier':
    Table((BENCH + 'benchmark_cuda_h100.json', ), partial(bench.speedups_sentence, memory=True)),
    # A bf16 profile under heavier load, superseded by benchmark_profile_bf16.json.
    'profile_bf16_earlier':
    Table((BENCH + 'benchmark_profile_bf16_loaded.json', ),
          profile.earlier_run_sentence,
          inline=True),
    # torch.compile: eager against `--compile` runs; the ad-hoc measurements (transcribed).
    'compile_bf16':
    Table(COMPILE_BF16, compiled.eager_compiled_table),
    'compile_bf16_summary':
    Table(COMPILE_BF16, compiled.compile_summary, inline=True),
    'compile_demo_model':
    Table(COMPILE_NOTES, compiled.demo_model_table),
    'compile_plain_modules':
    Table(COMPILE_NOTES, compiled.plain_modules_sentence, inline=True),
    'compile_packing':
    Table(COMPILE_NOTES, compiled.packing_sentence, inline=True),
    # `make demo`: every run's detectors and losses, the latest run's time.
    'demo_detectors':
    Table(DEMO_RUNS, demo.detectors_table, optional=DEMO_RESULT),
    'demo_losses':
    Table(DEMO_RUNS, demo.losses_table, optional=DEMO_RESULT),
    'demo_phases':
    Table(DEMO_RUNS, demo.phases_table, optional=DEMO_RESULT),
    'demo_total':
    Table(DEMO_RUNS, demo.total_time, inline=True, optional=DEMO_RESULT),
    'demo_seeds':
    Table(DEMO_RUNS, demo.seeds_table),
    'demo_tried':
    Table(DEMO_RUNS, demo.tried_sentence, inline=True),
    # `make gain`: the probes at T and over time, the criteria; the README's summary.
    'gain_results':
    Table((GAIN + 'pretraining_gain.json', ), gain.results_table),
    'gain_summary':
    Table((GAIN + 'pretraining_gain.json', ), gain.summary_table),
    'gain_step_ratio':
    Table((GAIN + 'pretraining_gain.json', ), gain.step_ratio, inline=True),
    'gain_time_to_simmim':
    Table((GAIN + 'pretraining_gain.json', ), gain.time_to_simmim, inline=True),
    'gain_run_times':
    Table((GAIN + 'pretraining_gain.json', ), gain.run_times, inline=True),
    'gain_pilots':
    _figure(GAIN_PILOTS, 'pilots'),
    'gain_earlier_designs':
    _figure(GAIN_PILOTS, 'earlier_designs'),
    # Exactness: the largest differences seen when the tests ran (they assert tolerances).
    'exactness_swin_bf16':
    _figure(EXACT, 'swin_bf16'),
    'exactness_toy':
    _figure(
        EXACT, 'toy_backbone', '{outputs_f32} for outputs of magnitude up to '
        "{output_magnitude}, and {gradients_f32} for gradients relative to each parameter's "
        'largest gradient; in float64, {f64} for both'),
    'exactness_twins':
    _figure(
        EXACT, 'twins', 'outputs {outputs}, gradients {gradients} absolute (about '
        "{gradients_relative} of the largest gradient, ~{largest_gradient} with the tests' "
        'loss); in float64 {outputs_f64} / {gradients_f64}; with nothing masked, the sparse '
        "model and the oracle both equal mmpretrain's own forward to {unmasked}"),
    'exactness_official':
    _figure(
        EXACT, 'official_conversion', '{swin_b_w7} / {swin_b_w14} / {swin_l_w14} in float32 '
        '(Swin-B w7 / Swin-B w14 / Swin-L w14, predictions of magnitude up to ~{magnitude})'),
    'official_coordinates':
    _figure(
        EXACT, 'official_coordinates', '({masks} random masks) only {stage2_min}-{stage2_max}% '
        'of the stage-2 tokens (28x28; {stage2_mean}% on average) and {stage3_min}-'
        '{stage3_max}% of the stage-3 tokens (14x14; {stage3_mean}% on average)'),
    # Benchmark notes without a result file.
    'lean_vs_plain':
    _figure(BENCH_NOTES, 'lean_vs_plain'),
    'bench_run_to_run':
    _figure(BENCH_NOTES, 'run_to_run', "SimMIM's step varies by up to ~{simmim}%, ours by "
            '~{greenmim}%'),
    'bench_oversubscribed':
    _figure(BENCH_NOTES, 'oversubscribed', 'both models took ~{step_s} s a step'),
    # Step memory of the bf16 step with what backward keeps under CPU autocast.
    'lean_keep_memory':
    _figure((BENCH + 'lean_keep_memory.json', ), 'kept_memory',
            "keeping them as well took the bf16 step of Swin-B at 224 px batch 8 from "
            "{recomputed}x to {all_kept}x of SimMIM's step memory, against {lean_kept}x with "
            'the LayerNorm and GELU outputs alone'),
}
