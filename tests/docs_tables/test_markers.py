"""The marked blocks of a page: found, replaced, refused when broken."""
import pytest

from greenmim_mm.docs_tables import find_blocks, replace_blocks
from greenmim_mm.docs_tables.markers import block_text

PAGE = ('# Title\n\nA step is <!-- table:speed -->3x<!-- /table:speed --> faster.\n\n'
        '<!-- table:grid -->\n| a |\n|---|\n| 1 |\n<!-- /table:grid -->\n\nEnd.\n')


def test_find_blocks_tells_inline_from_block():
    blocks = find_blocks(PAGE)
    assert [(b.name, b.inline, b.body)
            for b in blocks] == [('speed', True, '3x'), ('grid', False, '\n| a |\n|---|\n| 1 |\n')]
    assert PAGE[blocks[0].start:blocks[0].end] == '<!-- table:speed -->3x<!-- /table:speed -->'


def test_replace_blocks_changes_only_the_bodies():
    new = replace_blocks(PAGE, lambda b: '4x' if b.inline else '\n\n| b |\n|---|\n| 2 |\n\n')
    assert new == ('# Title\n\nA step is <!-- table:speed -->4x<!-- /table:speed --> faster.\n\n'
                   '<!-- table:grid -->\n| b |\n|---|\n| 2 |\n<!-- /table:grid -->\n\nEnd.\n')
    assert replace_blocks(new, lambda b: b.body.strip('\n')) == new  # a fixed point


def test_markers_in_code_spans_are_text():
    page = PAGE + 'Write `<!-- table:x -->` and `<!-- /table:x -->` around a table.\n'
    assert [b.name for b in find_blocks(page)] == ['speed', 'grid']


def test_an_unpaired_marker_is_an_error():
    with pytest.raises(ValueError, match="an opening marker of table 'grid' has no partner"):
        find_blocks(PAGE.replace('<!-- /table:grid -->', ''))
    with pytest.raises(ValueError, match="a closing marker of table 'speed' has no partner"):
        find_blocks(PAGE.replace('<!-- table:speed -->', ''))


def test_an_inline_table_renders_one_line():
    with pytest.raises(ValueError, match="inline table 'speed' must render one line"):
        block_text('speed', 'a\nb', inline=True)
