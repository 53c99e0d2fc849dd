"""The results tables of README.md and docs/en/*.md, generated from the committed result
files (one JSON per run under ``docs/``), as OpenMMLab builds its model-zoo pages from the
metafiles.

- :mod:`.registry`: every table, the files it reads and the function that renders it;
- :mod:`.markers`: the ``<!-- table:NAME -->`` blocks of a page;
- :mod:`.pages`: regenerate the pages (:func:`update`) or list what differs
  (:func:`differences`); :mod:`.cli` is ``tools/misc/update_docs_tables.py``;
- :mod:`.benchmark_tables`, :mod:`.profile_tables`, :mod:`.compile_tables`,
  :mod:`.gain_tables`, :mod:`.demo_tables`: the renderers of the tools' result files;
  :mod:`.transcribed_tables`: of figures whose raw outputs were not kept, transcribed once
  into a file with a ``transcribed_from`` field (every table of such a file says so).
"""
from .formatting import Result
from .markers import Block, find_blocks, replace_blocks
from .pages import differences, page_paths, result_paths, update
from .registry import TABLES, Table

__all__ = [
    'Result', 'Block', 'find_blocks', 'replace_blocks', 'differences', 'page_paths', 'result_paths',
    'update', 'TABLES', 'Table'
]
