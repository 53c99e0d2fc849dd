"""Generate rendered glyphs for pre-training and a few-label probe (``data/glyphs``).

The generator is :mod:`greenmim_mm.datasets.glyph_data`; ``--help`` lists the options.

Example::

    python tools/dataset_converters/make_glyph_data.py --out data/glyphs --seed 0
"""
from greenmim_mm.datasets.glyph_data import main

if __name__ == '__main__':
    main()
