"""Generate rendered glyphs: an unlabeled pre-training pool and small labeled splits.

Each image is one character (a digit or an upper-case letter) drawn with PIL from the
TrueType fonts matplotlib ships (``matplotlib.get_data_path()/fonts/ttf``; no extra
dependency): a random font, a rotation of up to +-15 degrees, a height of 60-90 % of the
image, a random position, on a flat or linear-gradient background whose luminance is far
from the glyph's (at least :data:`MIN_CONTRAST` of 255 from both ends of the background).
Glyphs are drawn at :data:`SUPERSAMPLE` times the size and reduced with a box filter, so
edges are anti-aliased; images are saved as PNG (no compression noise).

By default (``--palette ink --fonts DejaVuSans``) the glyph is a dark grey on a lighter
grey, in one of the eight DejaVu Sans and Sans Mono fonts (regular, bold, oblique, bold
oblique). ``--palette colour`` draws any colours, either lighter; ``--fonts all`` uses all
22 text fonts (DejaVu, STIX, Computer Modern). Both make the few-label task much harder
(see ``docs/en/pretraining_gain.md``, pilots).

The default classes, ``3 4 A E H K M R T Y``, are ten characters that no font draws alike:
each confusable group contributes at most one member (0/O/D/Q none, 1/I/7/L/J none, 2/Z
none, 5/S none, 6/G/9/b none, 8/B none, E/F: E, M/W: M, P/R: R, U/V/Y: Y), and the
rotation (+-15 degrees) is too small to turn one into another.

Written under ``--out`` in mmpretrain's ``CustomDataset`` layout::

    unlabeled/000/000000.png ...     --num-unlabeled images, 1,000 per subfolder, no labels
    train/<class>/0000.png ...       --train-per-class images per class
    val/<class>/0000.png ...         --val-per-class (for choosing settings)
    test/<class>/0000.png ...        --test-per-class (reported)
    glyph_data.json                  the options, classes and fonts that made the set

Determinism: image ``i`` of a split draws from its own stream, seeded by ``(seed, split, i)``
(labeled splits: ``(seed, split, class, i)``); the four splits use disjoint streams, so no
labeled image -- in particular no test image -- is in the unlabeled pool. The unlabeled pool
draws its characters uniformly from the classes.

The command line is ``tools/dataset_converters/make_glyph_data.py`` (:func:`main`)::

    python tools/dataset_converters/make_glyph_data.py --out data/glyphs --seed 0

Not imported by ``import greenmim_mm``: generating data is not part of training.
"""
import argparse
import json
import os
import os.path as osp
from functools import lru_cache
from typing import Dict, Iterator, List, Optional, Sequence, Tuple

import numpy as np
from PIL import Image, ImageDraw, ImageFont

CLASSES = ('3', '4', 'A', 'E', 'H', 'K', 'M', 'R', 'T', 'Y')
SPLIT_STREAMS = {'unlabeled': 0, 'train': 1, 'val': 2, 'test': 3}
# generate()'s image counts per split (also the command line's options)
COUNT_ARGS = ('num_unlabeled', 'train_per_class', 'val_per_class', 'test_per_class')
SUPERSAMPLE = 4  # glyphs are drawn at 4x the size, then box-filtered down
MIN_CONTRAST = 90  # least luminance difference (of 255) between glyph and background
HEIGHT_RANGE = (0.6, 0.9)  # glyph height / image height
MAX_WIDTH = 0.95  # glyph width / image width, at most
MAX_ROTATION = 15.0  # degrees
FONT_PX = 160  # size at which a glyph is first rendered (then scaled to its height)
PER_FOLDER = 1000  # unlabeled images per subfolder
PALETTES = ('ink', 'colour')
FONTS = ('DejaVuSans', )  # DejaVu Sans and Sans Mono: regular, bold, oblique, bold oblique
# Fonts whose character maps name letters and digits but draw other things: TeX's math
# extension and symbol fonts, the STIX size variants and unicode fallback boxes.
NOT_TEXT_FONTS = ('cmex10', 'cmsy10', 'LastResort', 'STIXSiz', 'STIXNonUni')


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    """Parse the command line.

    Args:
        argv (Sequence[str], optional): Arguments without the program name. Defaults to None,
            which reads ``sys.argv``.

    Returns:
        argparse.Namespace: The parsed arguments.
    """
    parser = argparse.ArgumentParser(
        description='Generate rendered glyphs: an unlabeled pool and labeled '
        'train/val/test splits in mmpretrain CustomDataset layout.')
    parser.add_argument('--out', default='data/glyphs', help='output root directory')
    parser.add_argument('--seed', type=int, default=0, help='random seed')
    parser.add_argument('--size', type=int, default=32, help='image side in pixels')
    parser.add_argument('--num-unlabeled', type=int, default=20000, help='unlabeled images')
    parser.add_argument('--train-per-class', type=int, default=10, help='labeled training images')
    parser.add_argument('--val-per-class', type=int, default=50, help='validation images')
    parser.add_argument('--test-per-class', type=int, default=100, help='test images')
    parser.add_argument(
        '--classes',
        default=''.join(CLASSES),
        help='the characters, one per class (default: %(default)s)')
    parser.add_argument(
        '--palette',
        choices=PALETTES,
        default='ink',
        help='ink: a dark grey glyph on a lighter grey background; colour: any colours')
    parser.add_argument(
        '--fonts',
        nargs='+',
        default=list(FONTS),
        help="font file name prefixes to keep, 'all' for every text font (default: %(default)s)")
    args = parser.parse_args(argv)
    if args.size < 8:
        parser.error(f'--size must be at least 8, got {args.size}')
    for name in COUNT_ARGS:
        if getattr(args, name) < 0:
            parser.error(f'--{name.replace("_", "-")} must not be negative')
    if len(set(args.classes)) != len(args.classes) or not args.classes.isalnum():
        parser.error(f'--classes must be distinct letters or digits, got {args.classes!r}')
    return args


# ----------------------------------------------------------------------------- fonts


def font_dir() -> str:
    """The folder of the TrueType fonts matplotlib ships."""
    import matplotlib
    return osp.join(matplotlib.get_data_path(), 'fonts', 'ttf')


@lru_cache(maxsize=None)
def usable_fonts(chars: str) -> Tuple[str, ...]:
    """matplotlib's text fonts that draw every character of ``chars``.

    A font qualifies when it is not one of :data:`NOT_TEXT_FONTS` (symbol fonts and the
    fallback font, which map letters to other drawings), its character map has every
    character (fontTools, which matplotlib depends on, reads it) and PIL draws each with ink.

    Args:
        chars (str): The characters.

    Returns:
        tuple[str]: Font file paths, sorted by name.

    Raises:
        RuntimeError: If no font qualifies.
    """
    from fontTools.ttLib import TTFont
    folder = font_dir()
    fonts = []
    for name in sorted(os.listdir(folder)):
        if not name.lower().endswith('.ttf') or name.startswith(NOT_TEXT_FONTS):
            continue
        path = osp.join(folder, name)
        cmap = TTFont(path, lazy=True).getBestCmap() or {}
        if not all(ord(c) in cmap for c in chars):
            continue
        font = ImageFont.truetype(path, 64)
        if all(font.getbbox(c)[2] > font.getbbox(c)[0] for c in chars):
            fonts.append(path)
    if not fonts:
        raise RuntimeError(f'no font under {folder} draws all of {chars!r}; reinstall '
                           'matplotlib (its fonts/ttf folder ships the DejaVu and STIX fonts)')
    return tuple(fonts)


@lru_cache(maxsize=None)
def glyph_mask(font_path: str, char: str) -> Image.Image:
    """The ink of one character at :data:`FONT_PX`, cropped to its bounding box ('L' mode)."""
    font = ImageFont.truetype(font_path, FONT_PX)
    left, top, right, bottom = font.getbbox(char)
    canvas = Image.new('L', (right - left + 4, bottom - top + 4), 0)
    ImageDraw.Draw(canvas).text((2 - left, 2 - top), char, fill=255, font=font)
    return canvas.crop(canvas.getbbox())


# ----------------------------------------------------------------------------- images


def luminance(rgb: np.ndarray) -> float:
    """Rec. 601 luma of an RGB colour (0-255)."""
    return float(np.dot(rgb, [0.299, 0.587, 0.114]))


def sample_colours(rng: np.random.Generator,
                   palette: str = 'colour') -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A glyph colour and the two ends of the background, at least :data:`MIN_CONTRAST` apart
    in luminance from the glyph.

    Half of the backgrounds are flat (both ends equal), half a gradient between two colours
    on the same side of the glyph's luminance.

    Args:
        rng (np.random.Generator): The image's stream.
        palette (str): ``'colour'``: any RGB colours, either lighter; ``'ink'``: grey levels,
            the glyph darker than the background (ink on paper). Defaults to ``'colour'``.

    Returns:
        tuple[np.ndarray]: ``fg``, ``bg0``, ``bg1``, each (3, ) float RGB in [0, 255].
    """
    if palette not in PALETTES:
        raise ValueError(f'palette must be one of {PALETTES}, got {palette!r}')
    channels = 3 if palette == 'colour' else 1
    while True:
        fg, bg0 = rng.uniform(0, 255, channels), rng.uniform(0, 255, channels)
        bg1 = bg0 if rng.random() < 0.5 else rng.uniform(0, 255, channels)
        fg, bg0, bg1 = (np.broadcast_to(c, (3, )).astype(float) for c in (fg, bg0, bg1))
        lf, l0, l1 = luminance(fg), luminance(bg0), luminance(bg1)
        if palette == 'ink' and not (l0 > lf and l1 > lf):
            continue
        if min(abs(lf - l0), abs(lf - l1)) >= MIN_CONTRAST and (l0 - lf) * (l1 - lf) > 0:
            return fg, bg0, bg1


def background(rng: np.random.Generator, size: int, bg0: np.ndarray, bg1: np.ndarray) -> np.ndarray:
    """A linear gradient from ``bg0`` to ``bg1`` in a random direction: (size, size, 3)."""
    angle = rng.uniform(0, 2 * np.pi)
    yy, xx = np.mgrid[0:size, 0:size] / max(size - 1, 1) - 0.5
    t = xx * np.cos(angle) + yy * np.sin(angle)  # (size, size), in [-0.71, 0.71]
    t = (t - t.min()) / max(t.max() - t.min(), 1e-9)
    return bg0 * (1 - t[..., None]) + bg1 * t[..., None]  # (size, size, 3)


def glyph_alpha(rng: np.random.Generator, char: str, fonts: Sequence[str], big: int) -> np.ndarray:
    """The coverage of one glyph on a ``big`` x ``big`` canvas: random font, rotation,
    height (:data:`HEIGHT_RANGE` of the canvas, at most :data:`MAX_WIDTH` wide) and position
    (the whole glyph inside).

    Args:
        rng (np.random.Generator): The image's stream.
        char (str): The character.
        fonts (Sequence[str]): Font files to choose from.
        big (int): Canvas side in pixels.

    Returns:
        np.ndarray: (big, big) float32 coverage in [0, 1].
    """
    font = fonts[int(rng.integers(len(fonts)))]
    angle = rng.uniform(-MAX_ROTATION, MAX_ROTATION)
    ink = glyph_mask(font, char).rotate(angle, resample=Image.BILINEAR, expand=True)
    ink = ink.crop(ink.getbbox())
    w, h = ink.size
    scale = min(rng.uniform(*HEIGHT_RANGE) * big / h, MAX_WIDTH * big / w)
    w, h = max(1, round(w * scale)), max(1, round(h * scale))
    ink = ink.resize((w, h), Image.BILINEAR)
    x = int(rng.integers(0, big - w + 1))
    y = int(rng.integers(0, big - h + 1))
    alpha = np.zeros((big, big), np.float32)
    alpha[y:y + h, x:x + w] = np.asarray(ink, np.float32) / 255.0  # (h, w)
    return alpha


def render_glyph(rng: np.random.Generator,
                 char: str,
                 fonts: Sequence[str],
                 size: int,
                 palette: str = 'colour') -> np.ndarray:
    """One image of ``char``: :func:`glyph_alpha` at :data:`SUPERSAMPLE` times the size,
    box-filtered down (anti-aliased edges), painted in :func:`sample_colours` over
    :func:`background`.

    Args:
        rng (np.random.Generator): The image's stream.
        char (str): The character.
        fonts (Sequence[str]): Font files to choose from.
        size (int): Image side in pixels.
        palette (str): See :func:`sample_colours`. Defaults to ``'colour'``.

    Returns:
        np.ndarray: (size, size, 3) uint8 RGB.
    """
    alpha = glyph_alpha(rng, char, fonts, size * SUPERSAMPLE)
    alpha = alpha.reshape(size, SUPERSAMPLE, size, SUPERSAMPLE).mean(axis=(1, 3))  # box filter
    fg, bg0, bg1 = sample_colours(rng, palette)
    a = alpha[..., None]  # (size, size, 1)
    img = background(rng, size, bg0, bg1) * (1 - a) + fg * a  # (size, size, 3)
    return np.clip(np.round(img), 0, 255).astype(np.uint8)


def save_png(img: np.ndarray, path: str) -> None:
    """Write an RGB array as a PNG, creating its folder."""
    os.makedirs(osp.dirname(path), exist_ok=True)
    Image.fromarray(img).save(path, format='PNG')


# ----------------------------------------------------------------------------- splits


def split_images(split: str, count: int, classes: Sequence[str],
                 seed: int) -> Iterator[Tuple[str, str, np.random.Generator]]:
    """Every image of a split: its path, its character and its own random stream.

    The unlabeled pool has ``count`` images, image ``i`` seeded by ``(seed, split, i)``, its
    character the stream's first draw (uniform over ``classes``). A labeled split has
    ``count`` images of every class, image ``i`` of class ``k`` seeded by
    ``(seed, split, k, i)``.

    Args:
        split (str): A key of :data:`SPLIT_STREAMS`.
        count (int): Images (unlabeled) or images per class (labeled splits).
        classes (Sequence[str]): One character per class.
        seed (int): Random seed.

    Yields:
        tuple[str, str, np.random.Generator]: The path relative to the output root, the
        character, and the stream that draws the rest of the image.
    """
    stream = SPLIT_STREAMS[split]
    if split == 'unlabeled':
        for i in range(count):
            rng = np.random.default_rng([seed, stream, i])
            char = classes[int(rng.integers(len(classes)))]
            yield osp.join(split, f'{i // PER_FOLDER:03d}', f'{i:06d}.png'), char, rng
        return
    for k, char in enumerate(classes):
        for i in range(count):
            rng = np.random.default_rng([seed, stream, k, i])
            yield osp.join(split, char, f'{i:04d}.png'), char, rng


def write_split(out: str,
                split: str,
                count: int,
                classes: Sequence[str],
                fonts: Sequence[str],
                seed: int,
                size: int,
                palette: str = 'colour') -> List[str]:
    """Render and write the images of :func:`split_images` under ``out``.

    Args:
        out (str): Output root.
        split (str): A key of :data:`SPLIT_STREAMS`.
        count (int): Images (unlabeled) or images per class (labeled splits).
        classes (Sequence[str]): One character per class.
        fonts (Sequence[str]): Font files to choose from.
        seed (int): Random seed.
        size (int): Image side in pixels.
        palette (str): See :func:`sample_colours`. Defaults to ``'colour'``.

    Returns:
        list[str]: The paths written, relative to ``out``.
    """
    names = []
    for name, char, rng in split_images(split, count, classes, seed):
        save_png(render_glyph(rng, char, fonts, size, palette), osp.join(out, name))
        names.append(name)
    return names


def generate(out: str,
             seed: int = 0,
             size: int = 32,
             num_unlabeled: int = 20000,
             train_per_class: int = 10,
             val_per_class: int = 50,
             test_per_class: int = 100,
             classes: Sequence[str] = CLASSES,
             palette: str = 'ink',
             fonts: Optional[Sequence[str]] = FONTS) -> Dict[str, int]:
    """Write the whole set under ``out`` (see the module docstring); returns image counts.

    Args:
        out (str): Output root.
        seed (int): Random seed. Defaults to 0.
        size (int): Image side in pixels. Defaults to 32.
        num_unlabeled (int): Unlabeled images. Defaults to 20000.
        train_per_class (int): Training images per class. Defaults to 10.
        val_per_class (int): Validation images per class. Defaults to 50.
        test_per_class (int): Test images per class. Defaults to 100.
        classes (Sequence[str]): One character per class. Defaults to :data:`CLASSES`.
        palette (str): ``'ink'`` or ``'colour'`` (:func:`sample_colours`). Defaults to
            ``'ink'``.
        fonts (Sequence[str], optional): Font file name prefixes to keep; None keeps every
            usable font. Defaults to :data:`FONTS`.

    Returns:
        dict[str, int]: Images per split.

    Raises:
        ValueError: If no usable font matches ``fonts``.
    """
    chars = ''.join(classes)
    font_files = usable_fonts(chars)
    if fonts:
        font_files = tuple(f for f in font_files if osp.basename(f).startswith(tuple(fonts)))
        if not font_files:
            raise ValueError(f'no usable font starts with {list(fonts)}; the usable ones: '
                             f'{[osp.basename(f) for f in usable_fonts(chars)]}')
    sizes = dict(
        unlabeled=num_unlabeled, train=train_per_class, val=val_per_class, test=test_per_class)
    counts = {
        split: len(write_split(out, split, sizes[split], chars, font_files, seed, size, palette))
        for split in SPLIT_STREAMS
    }
    spec = dict(
        seed=seed,
        size=size,
        palette=palette,
        classes=list(chars),
        counts=counts,
        fonts=[osp.basename(f) for f in font_files])
    with open(osp.join(out, 'glyph_data.json'), 'w') as f:
        json.dump(spec, f, indent=1)
    return counts


def main(argv: Optional[Sequence[str]] = None) -> Dict[str, int]:
    """Command line entry point (``tools/dataset_converters/make_glyph_data.py``)."""
    args = parse_args(argv)
    counts = generate(
        args.out,
        seed=args.seed,
        size=args.size,
        **{name: getattr(args, name)
           for name in COUNT_ARGS},
        classes=args.classes,
        palette=args.palette,
        fonts=None if args.fonts == ['all'] else args.fonts)
    print(f'wrote {counts} glyph images under {args.out}')
    return counts


if __name__ == '__main__':
    main()
