"""Tables and clauses of figures whose raw outputs were not kept (``*_transcribed.json``).

Such a file holds ``figures``: one entry per measurement, each with its ``date``, ``machine``
(``cpu``, ``cpus``, ``torch``), ``transcribed_from`` (the page and commit that held it) and
either ``values`` (numbers, put into a sentence by the registry's template) or ``header`` and
``rows`` (a table as it was typed). Every rendering names the file, the machine, the date and
that the figures are transcribed.
"""
from .formatting import Result, machine_line, source, table


def figure(result: Result, key: str) -> Result:
    """The entry ``key`` of ``result['figures']`` as a result of the same file."""
    try:
        return Result(result.path, result.data['figures'][key])
    except KeyError:
        raise KeyError(f"{result.path} has no figure {key!r}; it has "
                       f"{', '.join(result.data.get('figures', {}))}") from None


def provenance(result: Result, key: str) -> str:
    """``2-core x86 CPU, torch 2.14.1, 2026-12-06; transcribed from ..., `file```."""
    entry = figure(result, key).data
    m = entry['machine']
    return (f"{m['cpus']}-core {m['cpu']}, torch {m['torch']}, {entry['date']}; transcribed "
            f"from {entry['transcribed_from']}, {source(result)}")


def number(value) -> str:
    """A figure as the pages write it: ``3.8e-6``, ``1.1e-3``, ``3e2``, ``14.8``, ``20``."""
    if isinstance(value, float) and value and not 1e-2 <= abs(value) < 1e2:
        mantissa, exponent = f'{value:e}'.split('e')
        return f"{mantissa.rstrip('0').rstrip('.')}e{int(exponent)}"
    return str(value)


def sentence(result: Result, key: str, template: str) -> str:
    """A clause: ``template`` filled with the entry's ``values`` (each through
    :func:`number`), then its provenance.

    Args:
        result (Result): A transcribed file.
        key (str): The figure.
        template (str): A :meth:`str.format` template over the entry's ``values``, e.g.
            ``'outputs {outputs}'``.

    Returns:
        str: One line.
    """
    values = {k: number(v) for k, v in figure(result, key).data['values'].items()}
    return f'{template.format(**values)} ({provenance(result, key)})'


def figure_table(result: Result, key: str) -> str:
    """A transcribed table: its caption, the machine line, the table as typed.

    Args:
        result (Result): A transcribed file.
        key (str): The figure, with ``header`` and ``rows`` (and optionally ``caption``).

    Returns:
        str: Markdown.
    """
    entry = figure(result, key)
    data = dict(entry.data)
    caption = data.get('caption', '')
    line = machine_line(
        Result(
            result.path,
            dict(
                data,
                transcribed_from=data['transcribed_from'] + ': the raw outputs were not kept')))
    head = f'{caption} ({source(result)}).' if caption else f'From {source(result)}.'
    return f"{head}\n{line}\n\n{table(data['header'], data['rows'])}"
