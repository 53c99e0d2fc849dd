"""What every generated table shares: its result file, the machine line, number formats."""
import re
from typing import NamedTuple, Optional, Sequence


class Result(NamedTuple):
    """A committed result file, loaded.

    Attributes:
        path (str): Its path relative to the repository root, e.g.
            ``'docs/benchmark/benchmark.json'``.
        data (dict): Its JSON content.
    """
    path: str
    data: dict


def source(*results: Result) -> str:
    """The result files as the pages name them: ```a.json```, ```b.json```."""
    return ', '.join(f'`{r.path}`' for r in results)


def run_date(result: Result) -> str:
    """The day the run was made: ``machine.date`` (the benchmark, the GPU check) or ``date``
    (the pretraining gain), as ``YYYY-MM-DD``.

    Raises:
        ValueError: The file records no date.
    """
    date = result.data.get('machine', {}).get('date') or result.data.get('date')
    if not date:
        raise ValueError(f'{result.path} records no date (machine.date): the tools that write '
                         'it add one; for an older file add "date": "YYYY-MM-DD" to "machine"')
    return str(date)[:10]


def machines_line(*results: Result) -> str:
    """:func:`machine_line` of each run, once where the runs share machine and day (their
    load averages aside).

    Args:
        *results (Result): Runs whose figures one table shows together.

    Returns:
        str: One ``Machine: ...`` sentence, or one per run, each after its file.
    """
    if len({machine_line(r, load=False) for r in results}) == 1:
        return machine_line(results[0], load=False)
    return ' '.join(f'`{r.path}`: {machine_line(r)}' for r in results)


def machine_line(result: Result, load: bool = True) -> str:
    """``Machine: <CPU or GPU> (<n> CPUs), <n> torch threads, torch <version>; <date>.``

    Reads the ``machine`` record of the benchmark (``cpu``, ``cpus``, ``threads``,
    ``device``, ``gpu``, ``load_avg``) and the GPU check (or ``platform``, ``cpu_count``,
    ``torch_threads``).

    Args:
        result (Result): A result file with a ``machine`` record and a date.
        load (bool): Add the load average at the start of the run, where recorded.
            Defaults to True.

    Returns:
        str: One sentence naming the machine, the torch version and the date.
    """
    m = result.data['machine']
    if m.get('gpu'):
        where = m['gpu'] + (f" (CPU {m['cpu']})" if m.get('cpu') else '')
    else:
        where = m.get('cpu') or m.get('processor') or _platform_name(m.get('platform', ''))
        cpus = m.get('cpus') or m.get('cpu_count')
        where += f' ({cpus} CPUs)' if cpus else ''
    threads = m.get('threads') or m.get('torch_threads')
    parts = [where]
    if threads and not m.get('gpu'):
        parts.append(f"{threads} torch thread{'s' if threads != 1 else ''}")
    parts.append(f"torch {m['torch']}")
    if load and m.get('load_avg'):
        parts.append(f"load average {m['load_avg'][0]:.1f} at start")
    return f"Machine: {', '.join(parts)}; {run_date(result)}.{transcription_note(result)}"


def transcription_note(result: Result) -> str:
    """A sentence saying where a transcribed result file's figures come from, or ``''``.

    A run whose raw output was not kept is committed once, transcribed from the notes or
    pages that held its figures, with a ``transcribed_from`` field saying so; every table
    that shows it says so too.

    Args:
        result (Result): A result file.

    Returns:
        str: ``' Transcribed from <transcribed_from>.'``, or ``''`` for a tool's own output.
    """
    source = result.data.get('transcribed_from')
    return f' Transcribed from {source.rstrip(".")}.' if source else ''


def _platform_name(platform: str) -> str:
    """``'Linux-6.1-x86_64-with-glibc2.36'`` -> ``'Linux x86_64'``."""
    arch = re.search(r'(x86_64|aarch64|arm64|ppc64le)', platform)
    return platform.split('-')[0] + (f' {arch.group(1)}' if arch else '') or 'unknown machine'


def plural(n: int, noun: str) -> str:
    """``1 step``, ``5 steps``."""
    return f"{n} {noun}{'' if n == 1 else 's'}"


def times(value: float) -> str:
    """A ratio, ``4.41x``."""
    return f'{value:.2f}x'


def mib(nbytes: float) -> str:
    """Bytes as whole MiB, ``374 MiB``."""
    return f'{nbytes / 2**20:.0f} MiB'


def megabytes(nbytes: float) -> str:
    """Bytes as whole MB (10^6 bytes), ``650 MB``."""
    return f'{nbytes / 1e6:.0f} MB'


def count(value: Optional[int]) -> str:
    """An integer with thousands separators, ``5,881``; blank for None."""
    return '' if value is None else f'{value:,}'


def table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A Markdown table.

    Args:
        header (Sequence[str]): Column titles.
        rows (Sequence[Sequence[str]]): Cells, one sequence per row.

    Returns:
        str: The table's lines.
    """
    lines = ['| ' + ' | '.join(header) + ' |', '|' + '---|' * len(header)]
    lines += ['| ' + ' | '.join(row) + ' |' for row in rows]
    return '\n'.join(lines)
