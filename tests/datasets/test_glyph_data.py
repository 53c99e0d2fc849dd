"""greenmim_mm.datasets.glyph_data: the glyph set's layout, determinism, disjoint splits,
glyph geometry and contrast, and the fonts it draws with."""
import glob
import hashlib
import json
import os.path as osp

import numpy as np
import pytest
from PIL import Image

from greenmim_mm.datasets import glyph_data
from tests.helpers import load_tool

CLASSES = 'AE4'


def digest(path: str) -> str:
    with open(path, 'rb') as f:
        return hashlib.sha1(f.read()).hexdigest()


@pytest.fixture(scope='module')
def glyphs(tmp_path_factory) -> str:
    out = str(tmp_path_factory.mktemp('glyphs'))
    load_tool('make_glyph_data').main([
        '--out', out, '--num-unlabeled', '30', '--train-per-class', '2', '--val-per-class', '1',
        '--test-per-class', '3', '--classes', CLASSES
    ])
    return out


def test_layout_and_counts(glyphs):
    assert len(glob.glob(osp.join(glyphs, 'unlabeled', '000', '*.png'))) == 30
    for split, n in (('train', 2), ('val', 1), ('test', 3)):
        assert sorted(osp.basename(d) for d in glob.glob(osp.join(glyphs, split, '*'))) == \
            sorted(CLASSES)
        for c in CLASSES:
            assert len(glob.glob(osp.join(glyphs, split, c, '*.png'))) == n
    with open(osp.join(glyphs, 'glyph_data.json')) as f:
        spec = json.load(f)
    assert spec['classes'] == list(CLASSES)
    assert spec['counts'] == dict(unlabeled=30, train=6, val=3, test=9)
    img = Image.open(osp.join(glyphs, 'test', 'A', '0000.png'))
    assert img.size == (32, 32) and img.mode == 'RGB'


def test_same_seed_same_bytes_and_test_never_in_the_pool(glyphs, tmp_path):
    again = str(tmp_path / 'again')
    glyph_data.generate(
        again,
        num_unlabeled=30,
        train_per_class=2,
        val_per_class=1,
        test_per_class=3,
        classes=CLASSES)
    files = sorted(glob.glob(osp.join(glyphs, '*', '**', '*.png'), recursive=True))
    assert len(files) == 30 + 6 + 3 + 9
    for path in files:
        assert digest(path) == digest(osp.join(again, osp.relpath(path, glyphs)))
    pool = {digest(p) for p in glob.glob(osp.join(glyphs, 'unlabeled', '**', '*.png'))}
    labeled = [
        digest(p) for s in ('train', 'val', 'test')
        for p in glob.glob(osp.join(glyphs, s, '*', '*.png'))
    ]
    assert len(set(labeled)) == len(labeled) and not pool & set(labeled)


def test_every_image_is_drawn_from_its_own_documented_stream(glyphs):
    """Unlabeled image i: stream (seed, 0, i), its first draw the character; image i of class
    k in train/val/test: stream (seed, 1|2|3, k, i). Pins the streams, not the renderer."""
    fonts = [
        f for f in glyph_data.usable_fonts(CLASSES) if osp.basename(f).startswith(glyph_data.FONTS)
    ]

    def pixels(*parts: str) -> np.ndarray:
        return np.asarray(Image.open(osp.join(glyphs, *parts)))

    for i in (0, 29):
        rng = np.random.default_rng([0, 0, i])
        char = CLASSES[int(rng.integers(len(CLASSES)))]
        expected = glyph_data.render_glyph(rng, char, fonts, 32, 'ink')
        assert np.array_equal(pixels('unlabeled', '000', f'{i:06d}.png'), expected)
    for split, stream, k, i in (('train', 1, 0, 1), ('val', 2, 1, 0), ('test', 3, 2, 2)):
        rng = np.random.default_rng([0, stream, k, i])
        expected = glyph_data.render_glyph(rng, CLASSES[k], fonts, 32, 'ink')
        assert np.array_equal(pixels(split, CLASSES[k], f'{i:04d}.png'), expected)


def test_glyph_height_and_position():
    fonts = glyph_data.usable_fonts(''.join(glyph_data.CLASSES))
    big = 128
    for i in range(60):
        rng = np.random.default_rng([7, i])
        alpha = glyph_data.glyph_alpha(rng, glyph_data.CLASSES[i % 10], fonts, big)
        rows = np.nonzero(alpha.max(axis=1) > 0)[0]
        cols = np.nonzero(alpha.max(axis=0) > 0)[0]
        height = (rows[-1] - rows[0] + 1) / big
        width = (cols[-1] - cols[0] + 1) / big
        assert width <= glyph_data.MAX_WIDTH + 0.02
        # 60-90 % of the height, unless the glyph is wide (then capped by its width)
        assert height <= 0.9 + 0.02 and (height >= 0.6 - 0.02 or width >= 0.93), (i, height)


@pytest.mark.parametrize('palette', glyph_data.PALETTES)
def test_colours_are_far_apart(palette):
    for i in range(200):
        fg, bg0, bg1 = glyph_data.sample_colours(np.random.default_rng(i), palette)
        lf = glyph_data.luminance(fg)
        for bg in (bg0, bg1):
            assert abs(lf - glyph_data.luminance(bg)) >= glyph_data.MIN_CONTRAST
            if palette == 'ink':  # grey, the glyph darker
                assert glyph_data.luminance(bg) > lf and np.ptp(bg) == 0 and np.ptp(fg) == 0


def test_fonts_can_be_chosen(tmp_path):
    with open(osp.join(glyph_data_json(tmp_path, ['DejaVuSansMono-Bold']))) as f:
        assert json.load(f)['fonts'] == [
            'DejaVuSansMono-Bold.ttf', 'DejaVuSansMono-BoldOblique.ttf'
        ]
    with pytest.raises(ValueError, match='no usable font starts with'):
        glyph_data.generate(str(tmp_path / 'x'), num_unlabeled=0, fonts=['cmex10'])


def glyph_data_json(tmp_path, fonts) -> str:
    out = str(tmp_path / 'g')
    glyph_data.generate(
        out,
        num_unlabeled=1,
        train_per_class=1,
        val_per_class=0,
        test_per_class=0,
        classes='A',
        fonts=fonts)
    return osp.join(out, 'glyph_data.json')


def test_fonts_draw_every_class_and_symbol_fonts_are_left_out():
    names = {osp.basename(f) for f in glyph_data.usable_fonts(''.join(glyph_data.CLASSES))}
    assert 'DejaVuSans.ttf' in names and len(names) >= 10
    assert not names & {'cmex10.ttf', 'cmsy10.ttf', 'STIXSizOneSymReg.ttf'}


def test_bad_classes_are_refused():
    with pytest.raises(SystemExit):
        glyph_data.parse_args(['--classes', 'AA'])
    with pytest.raises(SystemExit):
        glyph_data.parse_args(['--classes', 'A-'])
