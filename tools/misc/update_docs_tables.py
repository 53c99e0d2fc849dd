"""Regenerate the results tables of README.md and docs/en/*.md from the committed result files.

Every table sits between ``<!-- table:NAME -->`` and ``<!-- /table:NAME -->``; the registry
(``greenmim_mm/docs_tables/registry.py``) says which result files each reads. Examples::

    python tools/misc/update_docs_tables.py           # rewrite the tables in place
    python tools/misc/update_docs_tables.py --check   # list what differs, exit 1 if anything
    python tools/misc/update_docs_tables.py --list    # the tables and their result files
"""
import argparse
import os.path as osp
import sys

from greenmim_mm.docs_tables import TABLES, differences, update

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument(
        '--check',
        action='store_true',
        help='change nothing; exit 1 if a table '
        'differs from its result files')
    parser.add_argument('--list', action='store_true', help='print the tables and their files')
    parser.add_argument('--root', default=ROOT, help='the repository (default: this checkout)')
    args = parser.parse_args()
    if args.list:
        for name, table in TABLES.items():
            print(f"{name}: {', '.join(table.sources)}{' (inline)' if table.inline else ''}")
        return 0
    if args.check:
        problems = differences(args.root)
        for problem in problems:
            print(problem)
        if problems:
            print('run python tools/misc/update_docs_tables.py', file=sys.stderr)
        return 1 if problems else 0
    for page in update(args.root):
        print(f'updated {page}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
