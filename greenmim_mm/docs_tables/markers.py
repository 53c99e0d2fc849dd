"""The marked blocks of a Markdown page that hold generated figures.

A block is the text between ``<!-- table:NAME -->`` and ``<!-- /table:NAME -->``. A *block*
table puts each marker on a line of its own (the generated Markdown goes between them, on
lines of its own); an *inline* one keeps both markers and the generated text on one line,
inside a sentence. HTML comments do not render, so a page reads the same with its markers.
"""
import re
from typing import Callable, List, NamedTuple

OPEN = '<!-- table:{} -->'
CLOSE = '<!-- /table:{} -->'
# A marker inside a code span (`<!-- table:x -->`, as pages that explain them write it) is
# text, not a marker.
_BLOCK = re.compile(
    r'(?<!`)<!-- table:(?P<name>[\w-]+) -->(?P<body>.*?)<!-- /table:(?P=name) -->(?!`)', re.S)
_OPENING = re.compile(r'(?<!`)<!-- table:([\w-]+) -->')
_CLOSING = re.compile(r'<!-- /table:([\w-]+) -->(?!`)')


class Block(NamedTuple):
    """One marked block of a page.

    Attributes:
        name (str): The table's name in the registry.
        inline (bool): Whether the block sits inside a line (its body has no line break).
        body (str): The text between the markers, as the page holds it.
        start (int): Offset of the opening marker in the page.
        end (int): Offset just after the closing marker.
    """
    name: str
    inline: bool
    body: str
    start: int
    end: int


def find_blocks(text: str) -> List[Block]:
    """The marked blocks of ``text``, in order.

    Args:
        text (str): A Markdown page.

    Returns:
        list[Block]: Every ``<!-- table:NAME -->`` ... ``<!-- /table:NAME -->`` pair.

    Raises:
        ValueError: A marker without its partner (named in the message).
    """
    blocks = [
        Block(m['name'], '\n' not in m['body'], m['body'], m.start(), m.end())
        for m in _BLOCK.finditer(text)
    ]
    for pattern, kind in ((_OPENING, 'an opening'), (_CLOSING, 'a closing')):
        found = [m.group(1) for m in pattern.finditer(text)]
        paired = [b.name for b in blocks]
        for name in set(found):
            if found.count(name) != paired.count(name):
                raise ValueError(f'{kind} marker of table {name!r} has no partner: write '
                                 f'{OPEN.format(name)} ... {CLOSE.format(name)}')
    return blocks


def block_text(name: str, body: str, inline: bool) -> str:
    """A block with its markers: ``body`` on lines of its own, or inline.

    Args:
        name (str): The table's name.
        body (str): Generated Markdown (one line when ``inline``).
        inline (bool): Whether the block sits inside a line.

    Returns:
        str: The markers around ``body``.
    """
    if inline:
        if '\n' in body:
            raise ValueError(f'inline table {name!r} must render one line, got {body!r}')
        return OPEN.format(name) + body + CLOSE.format(name)
    return f"{OPEN.format(name)}\n{body.strip(chr(10))}\n{CLOSE.format(name)}"


def replace_blocks(text: str, render: Callable[[Block], str]) -> str:
    """``text`` with the body of every block replaced by ``render(block)``.

    Args:
        text (str): A Markdown page.
        render (Callable[[Block], str]): The new body of a block (without markers).

    Returns:
        str: The page with every block regenerated; the rest is unchanged.
    """
    out, last = [], 0
    for block in find_blocks(text):
        out += [text[last:block.start], block_text(block.name, render(block), block.inline)]
        last = block.end
    return ''.join(out) + text[last:]
