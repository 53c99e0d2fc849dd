"""Check a user's data folder for the pretraining-gain experiment, with one clear error.

The layout is mmpretrain's ``CustomDataset`` (images of any size; every run resizes them to
the configured size)::

    DIR/unlabeled/**            images for pre-training, any subfolders, no labels
    DIR/train/<class>/*.png     the few labeled images the probe learns from
    DIR/val/<class>/*           for choosing the probe's settings
    DIR/test/<class>/*          reported

The three labeled splits must hold the same classes, each with at least one image.
"""
import os
import os.path as osp
from typing import Dict, List

from ..datasets.pretrain_folder import IMG_EXTENSIONS

LABELED_SPLITS = ('train', 'val', 'test')
LAYOUT = ('DIR/unlabeled/**        images for pre-training (any subfolders, no labels)\n'
          'DIR/train/<class>/*     the labeled images the probe learns from\n'
          'DIR/val/<class>/*       for choosing the probe settings\n'
          'DIR/test/<class>/*      reported\n'
          'with the same <class> folders in train, val and test, each holding at least one '
          'image (' + ', '.join(IMG_EXTENSIONS) + ')')


class DataLayoutError(ValueError):
    """A data folder does not have the layout the experiment reads."""


def is_image(name: str) -> bool:
    """Whether a file name has an image suffix that the loaders read."""
    return name.lower().endswith(IMG_EXTENSIONS)


def count_images(folder: str) -> int:
    """Images anywhere under ``folder`` (0 if it does not exist)."""
    return sum(sum(1 for name in files if is_image(name)) for _, _, files in os.walk(folder))


def class_counts(folder: str) -> Dict[str, int]:
    """Images directly in each subfolder of ``folder``, by subfolder name (sorted)."""
    counts = {}
    for name in sorted(os.listdir(folder)):
        path = osp.join(folder, name)
        if osp.isdir(path):
            counts[name] = sum(1 for f in os.listdir(path) if is_image(f))
    return counts


def check_data_layout(root: str, min_unlabeled: int = 1) -> Dict[str, object]:
    """Check ``root`` against the layout above; raise one error that names every problem.

    Args:
        root (str): The data folder.
        min_unlabeled (int): Fewest images under ``unlabeled/``. Defaults to 1.

    Returns:
        dict: ``classes`` (the class folder names, sorted), ``unlabeled`` (image count) and,
        per labeled split, its image count.

    Raises:
        DataLayoutError: With the list of what is missing, the expected layout and the fix.
    """
    root = osp.abspath(root)
    problems: List[str] = []
    if not osp.isdir(root):
        raise DataLayoutError(f'the data folder {root} does not exist.\nExpected layout:\n'
                              f'{LAYOUT}\nPass --data with a folder in that layout.')
    unlabeled = count_images(osp.join(root, 'unlabeled'))
    if not osp.isdir(osp.join(root, 'unlabeled')):
        problems.append('unlabeled/ is missing')
    elif unlabeled < min_unlabeled:
        problems.append(f'unlabeled/ holds {unlabeled} images, fewer than {min_unlabeled}')
    counts = {}
    for split in LABELED_SPLITS:
        folder = osp.join(root, split)
        if not osp.isdir(folder):
            problems.append(f'{split}/ is missing')
            continue
        counts[split] = class_counts(folder)
        if not counts[split]:
            problems.append(f'{split}/ has no class folders ({split}/<class>/<image>)')
        empty = [c for c, n in counts[split].items() if n == 0]
        if empty:
            problems.append(f'{split}/ has class folders without images: ' +
                            ', '.join(f'{split}/{c}/' for c in empty))
    classes = sorted(counts.get('train', {}))
    if 'train' in counts and 0 < len(classes) < 2:
        problems.append(f'train/ has {len(classes)} class folder; the probe needs at least 2')
    for split in ('val', 'test'):
        if split in counts and 'train' in counts:
            missing = sorted(set(classes) - set(counts[split]))
            extra = sorted(set(counts[split]) - set(classes))
            if missing:
                problems.append(f'{split}/ lacks the classes ' + ', '.join(missing))
            if extra:
                problems.append(f'{split}/ has classes that train/ lacks: ' + ', '.join(extra))
    if problems:
        raise DataLayoutError(f'the data folder {root} does not fit the layout:\n  - ' +
                              '\n  - '.join(problems) + f'\nExpected layout:\n{LAYOUT}\n'
                              'Fix the folders above (or generate an example with '
                              'tools/dataset_converters/make_glyph_data.py).')
    summary: Dict[str, object] = dict(classes=classes, unlabeled=unlabeled)
    summary.update({split: sum(counts[split].values()) for split in LABELED_SPLITS})
    return summary
