"""The command line of ``tools/misc/update_docs_tables.py``."""
import argparse
import os.path as osp
import sys
from typing import List, Optional

from .pages import differences, update
from .registry import TABLES


def main(argv: Optional[List[str]] = None, root: Optional[str] = None) -> int:
    """Rewrite the tables of a checkout's pages, or (``--check``) list what differs.

    Args:
        argv (list[str], optional): The flags; ``sys.argv[1:]`` when None.
        root (str, optional): The default of ``--root``, the repository. Defaults to None
            (then ``--root`` is required).

    Returns:
        int: The exit status: 1 when ``--check`` finds a difference or a page cannot be
        rendered, else 0.
    """
    parser = argparse.ArgumentParser(
        description='Regenerate the results tables of README.md and docs/en/*.md from the '
        'committed result files (greenmim_mm/docs_tables/registry.py)')
    parser.add_argument(
        '--check',
        action='store_true',
        help='change nothing; list what differs and exit 1 if anything does')
    parser.add_argument('--list', action='store_true', help='print the tables and their files')
    parser.add_argument('--root', default=root, required=root is None, help='the repository')
    args = parser.parse_args(argv)
    if not osp.exists(osp.join(args.root, 'README.md')):
        print(
            f'{args.root} is not a checkout of greenmim_mm (no README.md): pass --root with '
            'the repository whose pages to regenerate',
            file=sys.stderr)
        return 1
    if args.list:
        for name, table in TABLES.items():
            optional = f" (and, where it exists, {', '.join(table.optional)})" \
                if table.optional else ''
            print(f"{name}: {', '.join(table.sources)}{optional}"
                  f"{' (inline)' if table.inline else ''}")
        return 0
    if args.check:
        problems = differences(args.root)
        for problem in problems:
            print(problem)
        if problems:
            print('run python tools/misc/update_docs_tables.py', file=sys.stderr)
        return 1 if problems else 0
    try:
        changed = update(args.root)
    except (ValueError, FileNotFoundError) as err:
        print(err, file=sys.stderr)
        return 1
    for page in changed:
        print(f'updated {page}')
    return 0
