"""Regenerate, or check, the marked tables of README.md and docs/en/*.md in a checkout."""
import glob
import json
import os.path as osp
from typing import Dict, List, Mapping, Optional

from .formatting import Result
from .markers import Block, find_blocks, replace_blocks
from .registry import TABLES, Table

PAGES = ('README.md', 'docs/en/*.md')
RESULTS = ('docs/**/*.json', )


def page_paths(root: str) -> List[str]:
    """The pages that may hold tables, relative to ``root``."""
    paths = []
    for pattern in PAGES:
        paths += sorted(glob.glob(osp.join(root, pattern)))
    return [osp.relpath(p, root) for p in paths]


def result_paths(root: str) -> List[str]:
    """The committed result files under ``docs/``, relative to ``root``."""
    paths = []
    for pattern in RESULTS:
        paths += sorted(glob.glob(osp.join(root, pattern), recursive=True))
    return [osp.relpath(p, root) for p in paths]


class Renderer:
    """Renders registered tables from the result files of one checkout, each file read once.

    Args:
        root (str): The repository root.
        tables (Mapping[str, Table], optional): The registry; :data:`.registry.TABLES` when
            None.
    """

    def __init__(self, root: str, tables: Optional[Mapping[str, Table]] = None):
        self.root = root
        self.tables = TABLES if tables is None else tables
        self._loaded: Dict[str, Result] = {}

    def load(self, path: str) -> Result:
        if path not in self._loaded:
            full = osp.join(self.root, path)
            if not osp.exists(full):
                raise FileNotFoundError(f'{path} does not exist: commit the result file or '
                                        'remove the table from the page')
            with open(full, encoding='utf-8') as f:
                self._loaded[path] = Result(path, json.load(f))
        return self._loaded[path]

    def load_optional(self, path: str) -> Optional[Result]:
        """The result file at ``path``, or None where it does not exist."""
        return self.load(path) if osp.exists(osp.join(self.root, path)) else None

    def render(self, block: Block) -> str:
        """The generated body of ``block``.

        Raises:
            ValueError: An unknown table, a block of the wrong kind (inline or not), or a
                result file the table cannot read (with the table's name and files).
        """
        table = self.tables.get(block.name)
        if table is None:
            raise ValueError(f'unknown table {block.name!r}; registered: '
                             f"{', '.join(sorted(self.tables))} (greenmim_mm/docs_tables/"
                             'registry.py)')
        if table.inline != block.inline:
            kind = 'inline (markers and text on one line)' if table.inline else \
                'a block (markers on lines of their own)'
            raise ValueError(f'table {block.name!r} is {kind}')
        try:
            return table.render(*(self.load(p) for p in table.sources),
                                *(self.load_optional(p) for p in table.optional))
        except (KeyError, IndexError, TypeError, ValueError, FileNotFoundError) as err:
            raise ValueError(f"table {block.name!r} from {', '.join(self.files(table))}: "
                             f'{type(err).__name__}: {err}') from err

    def files(self, table: Table) -> List[str]:
        """The result files ``table`` reads in this checkout: its sources and those of its
        optional files that exist."""
        return list(
            table.sources) + [p for p in table.optional if osp.exists(osp.join(self.root, p))]

    def page(self, path: str) -> str:
        """The page at ``path`` with every table regenerated."""
        with open(osp.join(self.root, path), encoding='utf-8') as f:
            text = f.read()
        try:
            return replace_blocks(text, self.render)
        except ValueError as err:
            raise ValueError(f'{path}: {err}') from err


def differences(root: str, tables: Optional[Mapping[str, Table]] = None) -> List[str]:
    """What does not match between the pages and the result files.

    Args:
        root (str): The repository root.
        tables (Mapping[str, Table], optional): The registry. Defaults to None (all).

    Returns:
        list[str]: One line per problem: a table that differs from its result files, a
        marker or table that cannot be rendered, a result file under ``docs/`` that no
        table reads, a registered table whose files exist but that no page shows. Empty when
        the pages are up to date.
    """
    renderer = Renderer(root, tables)
    problems, shown = [], set()
    for path in page_paths(root):
        with open(osp.join(root, path), encoding='utf-8') as f:
            old = f.read()
        try:
            new = renderer.page(path)
        except ValueError as err:
            problems.append(str(err))
            try:  # its other tables are shown there: one problem, not one per table
                shown.update(b.name for b in find_blocks(old))
            except ValueError:
                pass
            continue
        for block, fresh in zip(find_blocks(old), find_blocks(new)):
            shown.add(block.name)
            if block.body != fresh.body:
                problems.append(f'{path}: table {block.name!r} differs from '
                                f"{', '.join(renderer.files(renderer.tables[block.name]))}")
    read = {p for t in renderer.tables.values() for p in t.sources + t.optional}
    problems += [
        f'{p} is read by no table: add an entry to greenmim_mm/docs_tables/registry.py'
        for p in result_paths(root) if p not in read
    ]
    problems += [
        f'table {name!r} ({", ".join(t.sources)}) is shown on no page: add its markers '
        f'<!-- table:{name} --> ... <!-- /table:{name} --> to a page'
        for name, t in renderer.tables.items()
        if name not in shown and all(osp.exists(osp.join(root, p)) for p in t.sources)
    ]
    return problems


def update(root: str, tables: Optional[Mapping[str, Table]] = None) -> List[str]:
    """Regenerate every table of every page in place.

    Args:
        root (str): The repository root.
        tables (Mapping[str, Table], optional): The registry. Defaults to None (all).

    Returns:
        list[str]: The pages that changed.
    """
    renderer = Renderer(root, tables)
    changed = []
    for path in page_paths(root):
        new = renderer.page(path)
        full = osp.join(root, path)
        with open(full, encoding='utf-8') as f:
            if f.read() == new:
                continue
        with open(full, 'w', encoding='utf-8') as f:
            f.write(new)
        changed.append(path)
    return changed
