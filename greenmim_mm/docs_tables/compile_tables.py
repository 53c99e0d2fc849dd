"""Tables of ``docs/en/torch_compile.md``: compiled against eager steps.

- :func:`eager_compiled_table`, :func:`compile_summary`: two runs of
  ``tools/analysis_tools/benchmark.py`` on the same cases, one eager and one with
  ``--compile`` (``docs/benchmark/benchmark_compile_*.json``);
- :func:`demo_model_table`, :func:`plain_modules_sentence`, :func:`packing_sentence`: the
  measurements of ``docs/benchmark/compile_transcribed.json``, made with ad-hoc scripts whose
  raw outputs were not kept.
"""
from .benchmark_tables import model_name, optimizers, precision
from .formatting import Result, machine_line, plural, run_date, source, table, times

CONTENDERS = dict(greenmim='GreenMIM', simmim='SimMIM')


def _steps(eager: Result, compiled: Result):
    """The first case's entries of each contender in both runs, checked to be the same case."""
    e, c = eager.data['cases'][0], compiled.data['cases'][0]
    if (e['img'], e['batch']) != (c['img'], c['batch']):
        raise ValueError(f'{eager.path} and {compiled.path} time different cases')
    if not compiled.data['args'].get('compile') or eager.data['args'].get('compile'):
        raise ValueError(f'{compiled.path} must be the --compile run, {eager.path} the eager one')
    return e, c


def eager_compiled_table(eager: Result, compiled: Result) -> str:
    """Per contender: the eager and the compiled step, their ratio, the first compiled step.

    Args:
        eager (Result): A benchmark run without ``--compile``.
        compiled (Result): The same case with ``--compile``.

    Returns:
        str: The caption (case, settings, both files, machine) and the table.
    """
    e, c = _steps(eager, compiled)
    args = eager.data['args']
    rows = []
    for name, label in CONTENDERS.items():
        te, tc = e[name]['step_s_median'], c[name]['step_s_median']
        rows.append([
            label, f'{te:.2f} s', f'{tc:.2f} s', f'{tc / te:.2f}',
            f"{c[name]['first_step_s']:.0f} s"
        ])
    caption = (
        f"{model_name(eager)}, {e['img']} px, batch {e['batch']}, mask ratio "
        f"{e['mask_ratio']}, {precision(eager)}, {optimizers(eager)}; medians of "
        f"{plural(args['iters'], 'step')} after {plural(args['warmup'], 'warm-up step')}, "
        f"in two runs of the benchmark, eager and `--compile {compiled.data['args']['compile']}`"
        f'; the first compiled step with an empty inductor cache ({source(eager, compiled)}).'
        f'\n{machine_line(compiled)}')
    header = ['contender', 'eager step', 'compiled step', 'compiled / eager', 'first compiled step']
    return caption + '\n\n' + table(header, rows)


def compile_summary(eager: Result, compiled: Result) -> str:
    """One clause: how much faster compiling makes SimMIM, and how it still compares with
    GreenMIM eager."""
    e, c = _steps(eager, compiled)
    simmim = e['simmim']['step_s_median'] / c['simmim']['step_s_median']
    ours = e['greenmim']['step_s_median'] / c['greenmim']['step_s_median']
    still = c['simmim']['step_s_median'] / e['greenmim']['step_s_median']
    transcribed = ', transcribed' if compiled.data.get('transcribed_from') else ''
    return (f"SimMIM's compiled step is {times(simmim)} as fast as its eager one and ours "
            f"{times(ours)}; SimMIM compiled still takes {times(still)} the time of GreenMIM eager "
            f'({run_date(compiled)}{transcribed}, {source(eager, compiled)})')


def demo_model_table(result: Result) -> str:
    """The demo model's first compiled step (empty and warm inductor cache), its eager step and
    the compiled / eager ratio (``demo_model`` of the transcribed file)."""
    run = result.data['demo_model']
    s = run['settings']
    rows = [[
        f"{run['first_compiled_step_s']['empty_cache']:.0f} s",
        f"{run['first_compiled_step_s']['warm_cache']:.1f} s",
        '-'.join(f'{v:.2f}' for v in run['eager_step_s']) + ' s',
        '-'.join(f'{v:.2f}' for v in run['compiled_over_eager'])
    ]]
    caption = (f"`{s['config']}`, {s['img']} px, batch {s['batch']}, mask {s['mask_ratio']}, "
               f"{s['precision']}, the config's AdamW; the compiled and the eager step alternate "
               f"in one process, each on a new mask, and the ratio is the median compiled step "
               f"over the median eager step of {s['pairs']} pairs, in two runs (an empty and a "
               f'warm inductor cache; the ranges cover both) ({source(result)}).\n'
               f"{machine_line(Result(result.path, dict(run, **_note(result))))}")
    header = [
        'first compiled step, empty inductor cache', 'first compiled step, warm cache',
        'eager step', 'compiled / eager step'
    ]
    return caption + '\n\n' + table(header, rows)


def _note(result: Result) -> dict:
    return dict(transcribed_from=result.data['transcribed_from'])


def plain_modules_sentence(result: Result) -> str:
    """One clause: the step CPU time with inductor given the plain modules, against the lean
    functions compiled and eager (``plain_modules`` of the transcribed file)."""
    run = result.data['plain_modules']
    t = run['step_cpu_s']
    return (f"{t['compiled_plain']:.3f} s against {t['compiled_lean']:.3f} s compiled with the "
            f"lean functions and {t['eager_lean']:.3f} s eager, step CPU time, alternating in one "
            f"process, {run['date']}; transcribed, {source(result)}")


def packing_sentence(result: Result) -> str:
    """One clause: by how many groups the packings of random masks exceeded the lower bound
    (``packing`` of the transcribed file)."""
    run = result.data['packing']
    return (f"at mask ratio {run['mask_ratio']} and {run['img']} px (window {run['window']}), "
            f"the packings of {run['masks']} random masks exceeded `L` by at most "
            f"{plural(run['max_excess_groups'], 'group')} (`L = {run['stage0_lower_bound']}` at "
            f"stage 0; {run['date']}, transcribed, {source(result)})")
