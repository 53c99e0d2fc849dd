"""Tables of ``make demo`` results (``docs/demo/``).

Two files feed them: ``demo_transcribed.json``, the earlier runs whose raw outputs were not kept
(``runs``, each in the form of a demo result, plus the one-process ``seed_runs`` and the
``tried`` variants), and ``demo_result.json``, a run's own result file
(:mod:`greenmim_mm.experiments.demo_result`) once one is published. The latest run is the
published one, else the last transcribed run with a measured time.
"""
from typing import List, Optional

from .formatting import Result, machine_line, source, table

LABELS = dict(
    greenmim='from the GreenMIM-pretrained backbone (`make demo`)',
    scratch='random init, same budget (`DEMO_BASELINE=1`)',
    untrained='untrained (random init, no fine-tuning)')
# Phases of tools/run_demo.sh (greenmim_mm.experiments.demo_result.PHASES) as the table names
# them; ``{iters}`` is the fine-tuning's iterations.
PHASE_LABELS = dict(
    data='demo data',
    pretraining='pretraining and its pictures',
    conversion='conversion',
    finetuning='fine-tuning ({iters} iterations) and test',
    baseline='the baseline: fine-tuning from random init and test')


def minutes(seconds: float) -> str:
    """``726`` -> ``12m06s``, as the demo prints its time."""
    seconds = int(round(seconds))
    return f'{seconds // 60}m{seconds % 60:02d}s'


def _runs(history: Result, latest: Optional[Result]) -> List[Result]:
    """Every run, oldest first, each as a :class:`Result` of its file (a transcribed run
    carries its file's ``transcribed_from``)."""
    note = history.data['transcribed_from']
    runs = [Result(history.path, dict(run, transcribed_from=note)) for run in history.data['runs']]
    return runs + ([latest] if latest is not None else [])


def latest_run(history: Result, latest: Optional[Result]) -> Result:
    """The published run, else the last transcribed run with a measured total time."""
    if latest is not None:
        return latest
    timed = [r for r in _runs(history, None) if r.data.get('total_s')]
    if not timed:
        raise ValueError(f'{history.path}: no run records total_s')
    return timed[-1]


def _where(result: Result) -> str:
    m = result.data['machine']
    return f"{m['cpus']}-core {m['cpu']}, torch {m['torch']}"


def _map(metrics: dict, name: str) -> str:
    return f"{metrics[name + '_mAP']:.3f} ({metrics[name + '_mAP_50']:.3f})"


def detectors_table(history: Result, latest: Optional[Result] = None) -> str:
    """Every run's detectors: mAP and AP50 of bbox and segm, the demo's time, the machine.

    Args:
        history (Result): ``docs/demo/demo_transcribed.json``.
        latest (Result, optional): ``docs/demo/demo_result.json`` where published.

    Returns:
        str: The caption and the table.
    """
    rows = []
    for run in _runs(history, latest):
        data = run.data
        mark = ' *' if data.get('transcribed_from') else ''
        for i, (name, metrics) in enumerate(data['detectors'].items()):
            label = data.get('label', LABELS[name]) if name == 'greenmim' else LABELS[name]
            time = minutes(data['total_s']) if i == 0 and data.get('total_s') else ''
            if time and data.get('time_note'):
                time += f" ({data['time_note']})"
            rows.append([
                label + mark, data['date'],
                _where(run), time,
                _map(metrics, 'bbox'),
                _map(metrics, 'segm')
            ])
    header = [
        'detector (150 val images)', 'date', 'machine', '`make demo` time', 'bbox mAP (AP50)',
        'segm mAP (AP50)'
    ]
    return _caption(history, latest) + '\n\n' + table(header, rows)


def _caption(history: Result, latest: Optional[Result]) -> str:
    """The files a table reads and what the ``*`` of its transcribed rows means."""
    files = source(history, *([latest] if latest is not None else []))
    return f"From {files}. * Transcribed from {history.data['transcribed_from'].rstrip('.')}."


def _losses(losses: dict, name: str) -> str:
    values = losses.get(name)
    if not values:
        return '-'
    return ' / '.join('-' if v is None else f'{v:.2f}' for v in values)


def losses_table(history: Result, latest: Optional[Result] = None) -> str:
    """The first and last logged training losses of the runs that recorded them: the
    pretraining loss, the detector's RoI classification and mask losses.

    Args:
        history (Result): ``docs/demo/demo_transcribed.json``.
        latest (Result, optional): ``docs/demo/demo_result.json`` where published.

    Returns:
        str: The caption and the table (``-``: not recorded).
    """
    rows = []
    for run in _runs(history, latest):
        data = run.data
        pretrain = data.get('pretraining', {}).get('losses', {})
        det = data['detectors'].get('greenmim', {}).get('losses', {})
        if not pretrain and not det:
            continue
        rows.append([
            data.get('label', LABELS['greenmim']) + (' *' if data.get('transcribed_from') else ''),
            data['date'],
            str(data['settings']['pretrain_iters']),
            _losses(pretrain, 'loss'),
            _losses(det, 'loss_cls'),
            _losses(det, 'loss_mask')
        ])
    header = [
        'run', 'date', 'pretraining iterations', 'pretraining loss, first / last logged',
        'fine-tuning `loss_cls`, first / last', '`loss_mask`, first / last'
    ]
    return _caption(history, latest) + '\n\n' + table(header, rows)


def phases_table(history: Result, latest: Optional[Result] = None) -> str:
    """The time of each phase of the latest run, with its file and machine.

    Args:
        history (Result): ``docs/demo/demo_transcribed.json``.
        latest (Result, optional): ``docs/demo/demo_result.json`` where published.

    Returns:
        str: The caption and the table.
    """
    run = latest_run(history, latest)
    data = run.data
    iters = data['settings']['finetune_iters']
    rows = [[PHASE_LABELS[p].format(iters=iters), minutes(s)] for p, s in data['phases_s'].items()]
    rows.append(['**total**', f"**{minutes(data['total_s'])}**"])
    caption = f'`make demo` of {data["date"]} ({source(run)}).\n{machine_line(run)}'
    return caption + '\n\n' + table(['step', 'time'], rows)


def total_time(history: Result, latest: Optional[Result] = None) -> str:
    """One clause for the README: the latest run's time, machine and date."""
    run = latest_run(history, latest)
    m = run.data['machine']
    transcribed = ', transcribed' if run.data.get('transcribed_from') else ''
    return (f"{minutes(run.data['total_s'])} ({m['cpu']}, {m['cpus']} cores, torch "
            f"{m['torch']}, {run.data['date']}{transcribed})")


def seeds_table(history: Result) -> str:
    """The one-process fine-tunings of two seeds, from the GreenMIM backbone and from
    random init (``seed_runs`` of the transcribed file).

    Args:
        history (Result): ``docs/demo/demo_transcribed.json``.

    Returns:
        str: The caption (settings, machine, date, the transcription) and the table.
    """
    seeds = history.data['seed_runs']
    s = seeds['settings']
    rows = []
    for run in seeds['runs']:
        g, r = run['detectors']['greenmim'], run['detectors']['scratch']
        rows.append([
            str(run['finetune_seed']), f"{_map(g, 'bbox')} / {_map(r, 'bbox')}",
            f"{_map(g, 'segm')} / {_map(r, 'segm')}"
        ])
    result = Result(history.path, dict(seeds, transcribed_from=history.data['transcribed_from']))
    caption = (f"The same fine-tuning on {s['processes']} process x batch "
               f"{s['finetune_batch_per_process']} ({s['finetune_iters']} iterations, half the "
               f'images of the recipe), from the GreenMIM backbone / from random init '
               f'({source(history)}).\n{machine_line(result)}')
    header = ['fine-tuning seed', 'bbox mAP (AP50)', 'segm mAP (AP50)']
    return caption + '\n\n' + table(header, rows)


def tried_sentence(history: Result) -> str:
    """One clause: the variants tried at the demo's budget and not kept, with their mAP."""
    items = []
    for t in history.data['tried']:
        text = t['change']
        if 'bbox_mAP_before' in t:
            text += f" (bbox mAP {t['bbox_mAP_before']:.3f} -> {t['bbox_mAP']:.3f})"
        elif 'bbox_mAP' in t:
            text += f" (bbox mAP {t['bbox_mAP']:.3f})"
        items.append(text)
    return ', '.join(items) + f" ({history.data['tried_date']}; transcribed, {source(history)})"
