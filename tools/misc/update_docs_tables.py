"""Regenerate the results tables of README.md and docs/en/*.md from the committed result files.

Every table sits between ``<!-- table:NAME -->`` and ``<!-- /table:NAME -->``; the registry
(``greenmim_mm/docs_tables/registry.py``) says which result files each reads. Examples::

    python tools/misc/update_docs_tables.py           # rewrite the tables in place
    python tools/misc/update_docs_tables.py --check   # list what differs, exit 1 if anything
    python tools/misc/update_docs_tables.py --list    # the tables and their result files
"""
import os.path as osp
import sys

from greenmim_mm.docs_tables.cli import main

if __name__ == '__main__':
    sys.exit(main(root=osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))))
