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

from . import benchmark_tables as bench, gain_tables as gain, profile_tables as profile

BENCH = 'docs/benchmark/'
GAIN = 'docs/pretraining_gain/'


class Table(NamedTuple):
    """A generated table.

    Attributes:
        sources (tuple[str]): Result files, relative to the repository root, passed in this
            order to ``render`` as :class:`.formatting.Result`.
        render (Callable[..., str]): Loaded result files -> Markdown.
        inline (bool): The table is a clause inside a sentence (one line), not a block.
            Defaults to False.
    """
    sources: Tuple[str, ...]
    render: Callable[..., str]
    inline: bool = False


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
    # `make gain`: the probes at T and over time, the criteria; the README's summary.
    'gain_results':
    Table((GAIN + 'pretraining_gain.json', ), gain.results_table),
    'gain_summary':
    Table((GAIN + 'pretraining_gain.json', ), gain.summary_table),
}
