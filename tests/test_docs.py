"""The README is a front page and the documentation's links and paths lead somewhere.

Checks README.md and docs/en/*.md: the README's length and sections, every relative link
(files and ``#anchors`` of Markdown headings), every repository path they name
(``configs/...``, ``tools/...``, ``greenmim_mm/...``, ...), every file they name without its
folder, and every ``make`` target the README names.
"""
import glob
import os
import os.path as osp
import re
from typing import List, Set, Tuple

import pytest

from tests.helpers import REPO_ROOT

README = osp.join(REPO_ROOT, 'README.md')
DOCS = sorted(glob.glob(osp.join(REPO_ROOT, 'docs', 'en', '*.md')))
MAX_README_LINES = 200

# Pages that other branches add; links to them are accepted until they land, then checked.
PENDING_PAGES = {
    osp.join('docs', 'en', name)
    for name in ('torch_compile.md', 'benchmark_profiling.md', 'pretraining_gain.md')
}

LINK = re.compile(r'!?\[[^\]]*\]\(([^)\s]+)\)')
# A path into this repository's folders: not part of a longer path or word.
REPO_PATH = re.compile(
    r'(?<![\w./<>-])((?:configs|tools|greenmim_mm|tests|docs|requirements)/[^\s`\'"()\[\],;]*)')
# A file named without its folder, e.g. `lean_ops.py` or `greenmim_swin_b_in1k_ft.py`.
BARE_FILE = re.compile(r'`([\w.-]+\.(?:py|sh|json|png))`')
# Files of other repositories that the pages name (the authors' GreenMIM code).
OTHER_PROJECTS_FILES = {'models_swin.py'}
MAKE_TARGET = re.compile(r'\bmake ([a-z][\w-]*)')


def read(path: str) -> str:
    with open(path, encoding='utf-8') as f:
        return f.read()


def strip_code(text: str) -> str:
    """Markdown without fenced code blocks (links inside them are not links)."""
    return re.sub(r'^```.*?^```', '', text, flags=re.M | re.S)


def github_anchors(text: str) -> Set[str]:
    """The ``#anchor`` ids GitHub gives the headings of a Markdown text."""
    anchors = set()
    for line in strip_code(text).splitlines():
        match = re.match(r'#{1,6}\s+(.*)', line)
        if match:
            slug = re.sub(r'[^\w\- ]', '', match.group(1).strip().lower())
            anchors.add(slug.replace(' ', '-'))
    return anchors


def relative_links(path: str) -> List[Tuple[str, str]]:
    """(link, resolved file relative to the repository) of every relative link in a page."""
    links = []
    for target in LINK.findall(strip_code(read(path))):
        if re.match(r'[a-z]+:', target):
            continue
        file_part = target.split('#', 1)[0] or osp.basename(path)  # '#x': this page
        resolved = osp.relpath(osp.normpath(osp.join(osp.dirname(path), file_part)), REPO_ROOT)
        links.append((target, resolved))
    return links


def repo_paths(text: str) -> Set[str]:
    """Repository paths (configs/, tools/, ...) named in a text; patterns (``*``, ``<x>``)
    are skipped."""
    paths = set()
    for path in REPO_PATH.findall(text):
        path = path.split('#', 1)[0].rstrip('.:')
        if not any(c in path for c in '*<>{}') and '...' not in path:
            paths.add(path)
    return paths


def repo_file_names() -> Set[str]:
    """Base names of the files in this checkout (outside .git, .venv, data and outputs)."""
    names = set()
    for root, dirs, files in os.walk(REPO_ROOT):
        dirs[:] = [d for d in dirs if d not in ('.git', '.venv', 'data', 'work_dirs', 'outputs')]
        names.update(files)
    return names


PAGES = [README] + DOCS
PAGE_IDS = [osp.relpath(p, REPO_ROOT) for p in PAGES]


def test_readme_is_a_front_page():
    lines = read(README).count('\n')
    assert lines <= MAX_README_LINES, (
        f'README.md has {lines} lines (at most {MAX_README_LINES}); move details to docs/en/')
    text = read(README)
    for section in ('## Installation', '## Citation', '## License', 'docs/en/index.md'):
        assert section in text, f'README.md lacks {section!r}'
    assert '2205.13515' in text and 'NeurIPS' in text


def test_docs_index_lists_every_page():
    index = osp.join(REPO_ROOT, 'docs', 'en', 'index.md')
    listed = {resolved for _, resolved in relative_links(index)}
    unlisted = [p for p in DOCS if p != index and osp.relpath(p, REPO_ROOT) not in listed]
    assert not unlisted, f'docs/en/index.md does not link {unlisted}'
    assert PENDING_PAGES <= listed


@pytest.mark.parametrize('page', PAGES, ids=PAGE_IDS)
def test_relative_links_resolve(page):
    broken = []
    for target, resolved in relative_links(page):
        if resolved in PENDING_PAGES and not osp.exists(osp.join(REPO_ROOT, resolved)):
            continue
        full = osp.join(REPO_ROOT, resolved)
        if not osp.exists(full):
            broken.append(f'{target} (no file {resolved})')
        elif '#' in target and full.endswith('.md'):  # GitHub's heading ids
            anchor = target.split('#', 1)[1]
            if anchor not in github_anchors(read(full)):
                broken.append(f'{target} (no heading #{anchor} in {resolved})')
    assert not broken, f'{osp.relpath(page, REPO_ROOT)}: broken links: {broken}'


@pytest.mark.parametrize('page', PAGES, ids=PAGE_IDS)
def test_named_configs_and_tools_exist(page):
    paths = repo_paths(read(page))
    if page == README:
        assert paths, 'README.md names no configs/ or tools/ path'
    missing = sorted(p for p in paths - PENDING_PAGES if not osp.exists(osp.join(REPO_ROOT, p)))
    assert not missing, f'{osp.relpath(page, REPO_ROOT)} names missing paths: {missing}'


@pytest.mark.parametrize('page', PAGES, ids=PAGE_IDS)
def test_named_files_exist(page):
    """Files named without their folder (`lean_ops.py`) exist somewhere in the checkout."""
    names = repo_file_names()
    missing = sorted(set(BARE_FILE.findall(read(page))) - names - OTHER_PROJECTS_FILES)
    assert not missing, f'{osp.relpath(page, REPO_ROOT)} names files that do not exist: {missing}'


def test_readme_make_targets_exist():
    makefile = read(osp.join(REPO_ROOT, 'Makefile'))
    targets = set(re.findall(r'^([a-z][\w-]*):', makefile, flags=re.M))
    named = set(MAKE_TARGET.findall(read(README)))
    assert {'demo', 'test'} <= named
    assert named <= targets, f'README names make targets the Makefile lacks: {named - targets}'


def test_checks_catch_broken_references(tmp_path):
    """The helpers above find what they are meant to find (a check that cannot fail is none)."""
    page = tmp_path / 'page.md'
    page.write_text('# A title, here\n[x](missing.md) [y](https://example.org) [z](#a-title-here)\n'
                    '```\n[not a link](nowhere.md)\n```\n'
                    'run `configs/nothing.py` or `tools/dist_*.sh`, see <package>/.mim/tools/x\n')
    assert [t for t, _ in relative_links(str(page))] == ['missing.md', '#a-title-here']
    assert repo_paths(page.read_text()) == {'configs/nothing.py'}
    assert github_anchors(page.read_text()) == {'a-title-here'}
