"""Generate the demo's small COCO-format instance-segmentation set of shapes.

Four categories (circle, rectangle, triangle, ellipse), 1 to ``--max-instances`` instances per
image at varied scales, rotations and colours, over textured backgrounds (smooth noise,
gradients, stripes, checkerboards and crops of the photographs matplotlib ships in its
``sample_data``, when present). Later shapes occlude earlier ones: each instance's mask is
its visible part, and a shape that would leave itself or an earlier one with a tiny visible
area is re-drawn (or, after a few tries, left out), so every painted shape is annotated.

Written under ``--out`` (default ``data/demo``)::

    annotations/instances_train.json   annotations/instances_val.json
    train/000001.jpg ...               val/000001.jpg ...
    pretrain/*.jpg                     (train images plus --num-pretrain unlabeled ones)

Masks are stored as compressed RLE (``{'size': [h, w], 'counts': str}``, ``iscrowd=0``): exact
for visible parts with holes, which polygons cannot express. mmdet reads them with its default
``LoadAnnotations(with_mask=True, poly2mask=True)``; ``poly2mask=False`` would ignore them.
``bbox`` and ``area`` come from the masks. ``pretrain/`` suits mmpretrain's
``CustomDataset(data_root='data/demo', data_prefix='pretrain', with_label=False)``.

Determinism: every image has its own random streams, seeded by ``(seed, split, index)``; the
shapes (hence the JSON files) use one stream and the paint (colours, backgrounds) another, so
the JSON files depend only on the seed, sizes and counts, not on which photographs exist.

The command line is ``tools/dataset_converters/make_demo_data.py`` (:func:`main`)::

    python tools/dataset_converters/make_demo_data.py --out data/demo --seed 0

Not imported by ``import greenmim_mm``: generating data is not part of training.
"""
import argparse
import glob
import json
import os
import os.path as osp
import re
import shutil
import time
from typing import Dict, List, Optional, Sequence, Tuple

import cv2
import numpy as np
import pycocotools.mask as mask_utils

CATEGORIES = ('circle', 'rectangle', 'triangle', 'ellipse')
SPLIT_STREAMS = {'train': 0, 'val': 1, 'pretrain': 2}
IMAGE_NAME = re.compile(r'^(extra_)?\d{6}\.jpg$')
JPEG_QUALITY = 95
MAX_TRIES = 20  # placement attempts per shape
MIN_VISIBLE_FRACTION = 0.3  # of a shape's own (in-image) area that must stay visible
BACKGROUNDS = ('noise', 'gradient', 'stripes', 'checker')


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    """Parse the command line.

    Args:
        argv (Sequence[str], optional): Arguments without the program name. Defaults to None,
            which reads ``sys.argv``.

    Returns:
        argparse.Namespace: The parsed arguments.
    """
    parser = argparse.ArgumentParser(
        description='Generate a small COCO-format instance segmentation set of shapes.')
    parser.add_argument('--out', default='data/demo', help='output root directory')
    parser.add_argument('--seed', type=int, default=0, help='random seed')
    parser.add_argument('--num-train', type=int, default=400, help='training images')
    parser.add_argument(
        '--num-val',
        type=int,
        default=150,
        help='validation images (150 rather than 50: less noise in the COCO AP)')
    parser.add_argument(
        '--num-pretrain',
        type=int,
        default=400,
        help='extra unlabeled images in pretrain/, besides copies of the training images')
    parser.add_argument(
        '--size', type=int, default=192, help='image height (and width), a multiple of 32')
    parser.add_argument(
        '--width', type=int, default=None, help='image width, a multiple of 32 (default: --size)')
    parser.add_argument('--max-instances', type=int, default=5, help='most instances per image')
    parser.add_argument(
        '--min-area', type=int, default=64, help='smallest visible instance area in pixels')
    parser.add_argument(
        '--photo-dir',
        default=None,
        help="directory of background photographs (default: matplotlib's sample_data)")
    args = parser.parse_args(argv)
    args.width = args.size if args.width is None else args.width
    for name in ('size', 'width'):
        value = getattr(args, name)
        if value <= 0 or value % 32:
            parser.error(f'--{name} must be a positive multiple of 32, got {value}')
    if args.max_instances < 1:
        parser.error('--max-instances must be at least 1')
    return args


# ----------------------------------------------------------------------------- shapes


def ellipse_outline(center: np.ndarray,
                    axes: Tuple[float, float],
                    angle: float,
                    num_points: int = 64) -> np.ndarray:
    """Vertices of a rotated ellipse.

    Args:
        center (np.ndarray): (x, y) centre.
        axes (tuple[float, float]): Semi-axes along the rotated x and y.
        angle (float): Rotation in radians.
        num_points (int): Number of vertices. Defaults to 64.

    Returns:
        np.ndarray: (num_points, 2) vertices (x, y).
    """
    t = np.linspace(0, 2 * np.pi, num_points, endpoint=False)
    local = np.stack([axes[0] * np.cos(t), axes[1] * np.sin(t)], axis=1)  # (N, 2)
    return rotate(local, angle) + center


def rotate(points: np.ndarray, angle: float) -> np.ndarray:
    """Rotate points about the origin.

    Args:
        points (np.ndarray): (N, 2) points (x, y).
        angle (float): Rotation in radians.

    Returns:
        np.ndarray: (N, 2) rotated points.
    """
    c, s = np.cos(angle), np.sin(angle)
    return points @ np.array([[c, s], [-s, c]])


def sample_outline(rng: np.random.Generator, category: str, height: int, width: int) -> np.ndarray:
    """Draw the outline of one shape at a random position, scale and rotation.

    The scale (a circumradius-like size) is log-uniform in [0.06, 0.3] of the shorter image
    side; ellipses are clearly elongated (axis ratio <= 0.65) to stay apart from circles.

    Args:
        rng (np.random.Generator): The shape stream.
        category (str): One of :data:`CATEGORIES`.
        height (int): Image height.
        width (int): Image width.

    Returns:
        np.ndarray: (N, 2) vertices (x, y) in pixels; they may leave the image.
    """
    size = min(height, width) * np.exp(rng.uniform(np.log(0.06), np.log(0.3)))
    center = rng.uniform([0.05 * width, 0.05 * height], [0.95 * width, 0.95 * height])
    angle = rng.uniform(0, np.pi)
    if category == 'circle':
        return ellipse_outline(center, (size, size), 0.0)
    if category == 'ellipse':
        return ellipse_outline(center, (size, size * rng.uniform(0.3, 0.65)), angle)
    if category == 'rectangle':
        half_w = size * rng.uniform(0.6, 1.0)
        half_h = half_w * rng.uniform(0.35, 1.0)
        corners = np.array([[-half_w, -half_h], [half_w, -half_h], [half_w, half_h],
                            [-half_w, half_h]])
        return rotate(corners, angle) + center
    if category == 'triangle':
        # Jittered equilateral: vertex angles 120 deg apart +- 20 deg, radii 0.8-1.2.
        angles = angle + np.arange(3) * 2 * np.pi / 3 + rng.uniform(-0.35, 0.35, 3)
        radii = size * rng.uniform(0.8, 1.2, 3)
        return np.stack([radii * np.cos(angles), radii * np.sin(angles)], axis=1) + center
    raise ValueError(f'unknown category {category!r}')


def rasterize(outline: np.ndarray, height: int, width: int) -> np.ndarray:
    """Fill a polygon into a boolean mask (1/16-pixel vertex precision).

    Args:
        outline (np.ndarray): (N, 2) vertices (x, y).
        height (int): Mask height.
        width (int): Mask width.

    Returns:
        np.ndarray: (height, width) bool mask.
    """
    mask = np.zeros((height, width), np.uint8)
    fixed = np.round(outline * 16).astype(np.int32)  # 4 fractional bits
    cv2.fillPoly(mask, [fixed], 1, lineType=cv2.LINE_8, shift=4)
    return mask.astype(bool)


def try_place(labels: np.ndarray, mask: np.ndarray, full_areas: List[int],
              min_area: int) -> Optional[np.ndarray]:
    """Paint a new top-most shape into a label map, if every shape stays visible enough.

    Args:
        labels (np.ndarray): (H, W) int label map, -1 for background, k for the k-th shape.
        mask (np.ndarray): (H, W) bool mask of the new shape.
        full_areas (list[int]): In-image areas of the shapes already placed.
        min_area (int): Smallest visible area in pixels.

    Returns:
        np.ndarray | None: The new label map, or None if the new shape is too small or leaves
        an earlier shape with less than ``max(min_area, MIN_VISIBLE_FRACTION * area)`` visible.
    """
    if mask.sum() < min_area:
        return None
    new_id = len(full_areas)
    new_labels = np.where(mask, new_id, labels)
    visible = np.bincount(new_labels[new_labels >= 0], minlength=new_id + 1)  # (K + 1,)
    for k, area in enumerate(full_areas):
        if visible[k] < max(min_area, MIN_VISIBLE_FRACTION * area):
            return None
    return new_labels


def place_shapes(rng: np.random.Generator, height: int, width: int, max_instances: int,
                 min_area: int) -> Tuple[np.ndarray, List[int]]:
    """Place 1..max_instances shapes, later ones on top.

    Args:
        rng (np.random.Generator): The shape stream.
        height (int): Image height.
        width (int): Image width.
        max_instances (int): Most shapes per image.
        min_area (int): Smallest visible area in pixels.

    Returns:
        tuple[np.ndarray, list[int]]: The (H, W) label map (-1 background, k the k-th shape)
        and the category index of each shape.
    """
    labels = np.full((height, width), -1, np.int32)
    categories: List[int] = []
    full_areas: List[int] = []
    for slot in range(int(rng.integers(1, max_instances + 1))):
        category = int(rng.integers(len(CATEGORIES)))
        # The first shape gets more tries so that no image is left empty.
        for _ in range(MAX_TRIES * (5 if slot == 0 else 1)):
            mask = rasterize(
                sample_outline(rng, CATEGORIES[category], height, width), height, width)
            new_labels = try_place(labels, mask, full_areas, min_area)
            if new_labels is not None:
                labels = new_labels
                categories.append(category)
                full_areas.append(int(mask.sum()))
                break
    return labels, categories


# ----------------------------------------------------------------------------- paint


def random_colour(rng: np.random.Generator) -> np.ndarray:
    """Draw a colour: random hue, saturation and value via OpenCV's HSV conversion.

    Args:
        rng (np.random.Generator): The paint stream.

    Returns:
        np.ndarray: (3,) float32 BGR in [0, 255].
    """
    hsv = np.array(
        [[[rng.uniform(0, 180), rng.uniform(40, 255),
           rng.uniform(50, 255)]]], np.float32)
    hsv = np.round(hsv).astype(np.uint8)
    return cv2.cvtColor(hsv, cv2.COLOR_HSV2BGR)[0, 0].astype(np.float32)


def plane_coordinate(height: int, width: int, angle: float) -> np.ndarray:
    """Pixel coordinate along a direction, for gradients and stripes.

    Args:
        height (int): Image height.
        width (int): Image width.
        angle (float): Direction in radians.

    Returns:
        np.ndarray: (H, W) float32 coordinate ``x cos(angle) + y sin(angle)``.
    """
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    return xs * np.cos(angle) + ys * np.sin(angle)


def two_tone(rng: np.random.Generator, weight: np.ndarray) -> np.ndarray:
    """Blend two random colours with a per-pixel weight.

    Args:
        rng (np.random.Generator): The paint stream.
        weight (np.ndarray): (H, W) weight of the second colour, in [0, 1].

    Returns:
        np.ndarray: (H, W, 3) float32 image.
    """
    c0, c1 = random_colour(rng), random_colour(rng)
    return c0 * (1 - weight[..., None]) + c1 * weight[..., None]


def smooth_noise(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    """Coloured value noise: random low-resolution colours upsampled bicubically.

    Args:
        rng (np.random.Generator): The paint stream.
        height (int): Image height.
        width (int): Image width.

    Returns:
        np.ndarray: (H, W, 3) float32 image.
    """
    cell = int(rng.choice([4, 8, 16, 32]))
    low = rng.uniform(0, 1, (height // cell + 2, width // cell + 2, 3)).astype(np.float32)
    up = cv2.resize(
        low, ((width // cell + 2) * cell, (height // cell + 2) * cell),
        interpolation=cv2.INTER_CUBIC)[:height, :width]
    base, amplitude = random_colour(rng), rng.uniform(40, 160)
    return base + amplitude * (up - 0.5)


def procedural_background(rng: np.random.Generator, kind: str, height: int,
                          width: int) -> np.ndarray:
    """One procedural texture.

    Args:
        rng (np.random.Generator): The paint stream.
        kind (str): One of :data:`BACKGROUNDS`.
        height (int): Image height.
        width (int): Image width.

    Returns:
        np.ndarray: (H, W, 3) float32 image.
    """
    if kind == 'noise':
        return smooth_noise(rng, height, width)
    angle = rng.uniform(0, 2 * np.pi)
    if kind == 'gradient':
        t = plane_coordinate(height, width, angle)
        return two_tone(rng, (t - t.min()) / max(float(np.ptp(t)), 1e-6))
    if kind == 'stripes':
        period = rng.uniform(6, 40)
        wave = np.sin(2 * np.pi * plane_coordinate(height, width, angle) / period)
        weight = (wave > 0).astype(np.float32) if rng.uniform() < 0.5 else (wave + 1) / 2
        return two_tone(rng, weight)
    if kind == 'checker':
        cell = rng.uniform(8, 48)
        u = plane_coordinate(height, width, angle)
        v = plane_coordinate(height, width, angle + np.pi / 2)
        weight = ((np.floor(u / cell) + np.floor(v / cell)) % 2).astype(np.float32)
        return two_tone(rng, weight)
    raise ValueError(f'unknown background {kind!r}')


def photo_background(rng: np.random.Generator, photo: np.ndarray, height: int,
                     width: int) -> np.ndarray:
    """A random crop of a photograph, resized, flipped and colour-shuffled at random.

    Args:
        rng (np.random.Generator): The paint stream.
        photo (np.ndarray): (h, w, 3) uint8 BGR photograph.
        height (int): Image height.
        width (int): Image width.

    Returns:
        np.ndarray: (H, W, 3) float32 image.
    """
    ph, pw = photo.shape[:2]
    scale = rng.uniform(0.3, 1.0) * min(ph / height, pw / width)
    ch, cw = max(int(height * scale), 8), max(int(width * scale), 8)
    y0, x0 = int(rng.integers(0, ph - ch + 1)), int(rng.integers(0, pw - cw + 1))
    crop = cv2.resize(
        photo[y0:y0 + ch, x0:x0 + cw], (width, height),
        interpolation=cv2.INTER_AREA).astype(np.float32)
    if rng.uniform() < 0.5:
        crop = crop[:, ::-1]
    crop = crop[..., rng.permutation(3)]
    return crop * rng.uniform(0.6, 1.2) + rng.uniform(-30, 30)


def make_background(rng: np.random.Generator, height: int, width: int,
                    photos: Sequence[np.ndarray]) -> np.ndarray:
    """A textured background, sometimes a blend of two textures.

    Args:
        rng (np.random.Generator): The paint stream.
        height (int): Image height.
        width (int): Image width.
        photos (Sequence[np.ndarray]): BGR photographs to crop from (may be empty).

    Returns:
        np.ndarray: (H, W, 3) float32 image.
    """

    def one() -> np.ndarray:
        choices = BACKGROUNDS + (('photo', ) if photos else ())
        kind = choices[int(rng.integers(len(choices)))]
        if kind == 'photo':
            return photo_background(rng, photos[int(rng.integers(len(photos)))], height, width)
        return procedural_background(rng, kind, height, width)

    image = one()
    if rng.uniform() < 0.4:
        alpha = rng.uniform(0.3, 0.7)
        image = alpha * image + (1 - alpha) * one()
    return image


def shape_texture(rng: np.random.Generator, background_mean: np.ndarray, height: int,
                  width: int) -> np.ndarray:
    """A shape's fill: a colour that stands out from the background, shaded and noisy.

    Args:
        rng (np.random.Generator): The paint stream.
        background_mean (np.ndarray): (3,) mean background colour under the shape.
        height (int): Image height.
        width (int): Image width.

    Returns:
        np.ndarray: (H, W, 3) float32 fill (used inside the shape's visible mask only).
    """
    colour = random_colour(rng)
    for _ in range(10):  # prefer a colour at least 80 away (L2, BGR) from the background
        if np.linalg.norm(colour - background_mean) >= 80:
            break
        colour = random_colour(rng)
    shading = plane_coordinate(height, width, rng.uniform(0, 2 * np.pi))
    shading = (shading - shading.mean()) / max(height, width) * rng.uniform(0, 60)
    noise = rng.normal(0, rng.uniform(0, 8), (height, width, 1)).astype(np.float32)
    return colour + shading[..., None] + noise


def paint(rng: np.random.Generator, labels: np.ndarray, num_shapes: int,
          photos: Sequence[np.ndarray]) -> np.ndarray:
    """Render the image of a label map.

    Args:
        rng (np.random.Generator): The paint stream.
        labels (np.ndarray): (H, W) label map from :func:`place_shapes`.
        num_shapes (int): Number of shapes in the label map.
        photos (Sequence[np.ndarray]): BGR photographs for backgrounds (may be empty).

    Returns:
        np.ndarray: (H, W, 3) uint8 BGR image.
    """
    height, width = labels.shape
    image = make_background(rng, height, width, photos)
    for k in range(num_shapes):
        visible = labels == k
        if not visible.any():
            continue
        fill = shape_texture(rng, image[visible].mean(axis=0), height, width)
        image[visible] = fill[visible]
    image += rng.normal(0, 3, image.shape).astype(np.float32)  # sensor noise
    return np.clip(np.round(image), 0, 255).astype(np.uint8)


# ----------------------------------------------------------------------------- COCO


def mask_to_annotation(mask: np.ndarray, category_id: int, image_id: int, ann_id: int) -> dict:
    """A COCO annotation for one visible mask.

    Args:
        mask (np.ndarray): (H, W) bool mask.
        category_id (int): COCO category id.
        image_id (int): COCO image id.
        ann_id (int): COCO annotation id.

    Returns:
        dict: ``id, image_id, category_id, segmentation`` (compressed RLE, counts as str),
        ``area`` (mask pixels), ``bbox`` ``[x, y, w, h]`` (mask extent) and ``iscrowd=0``.
    """
    rle = mask_utils.encode(np.asfortranarray(mask.astype(np.uint8)))
    ys, xs = np.nonzero(mask)
    x0, y0 = int(xs.min()), int(ys.min())
    bbox = [x0, y0, int(xs.max()) - x0 + 1, int(ys.max()) - y0 + 1]
    return dict(
        id=ann_id,
        image_id=image_id,
        category_id=category_id,
        segmentation=dict(size=[int(s) for s in rle['size']], counts=rle['counts'].decode('ascii')),
        area=int(mask.sum()),
        bbox=bbox,
        iscrowd=0)


def coco_categories() -> List[dict]:
    """COCO ``categories`` entries, ids starting at 1.

    Returns:
        list[dict]: ``{'id', 'name', 'supercategory'}`` per category.
    """
    return [dict(id=i + 1, name=name, supercategory='shape') for i, name in enumerate(CATEGORIES)]


def render_sample(seed: int, split: str, index: int, height: int, width: int, max_instances: int,
                  min_area: int,
                  photos: Sequence[np.ndarray]) -> Tuple[np.ndarray, List[Tuple[int, np.ndarray]]]:
    """Render one image and its visible instance masks.

    Args:
        seed (int): Global seed.
        split (str): A key of :data:`SPLIT_STREAMS`.
        index (int): Image index within the split.
        height (int): Image height.
        width (int): Image width.
        max_instances (int): Most shapes per image.
        min_area (int): Smallest visible area in pixels.
        photos (Sequence[np.ndarray]): BGR photographs for backgrounds (may be empty).

    Returns:
        tuple: The (H, W, 3) uint8 BGR image and a list of (category index, (H, W) bool
        visible mask), bottom-most shape first.
    """
    stream = [seed, SPLIT_STREAMS[split], index]
    shape_rng = np.random.default_rng(stream + [0])
    paint_rng = np.random.default_rng(stream + [1])
    labels, categories = place_shapes(shape_rng, height, width, max_instances, min_area)
    image = paint(paint_rng, labels, len(categories), photos)
    return image, [(c, labels == k) for k, c in enumerate(categories)]


def clear_generated_images(folder: str) -> None:
    """Delete images a previous run wrote (``NNNNNN.jpg``/``extra_NNNNNN.jpg``) in a folder.

    Args:
        folder (str): The folder; other files are kept.
    """
    for path in glob.glob(osp.join(folder, '*.jpg')):
        if IMAGE_NAME.match(osp.basename(path)):
            os.remove(path)


def write_image(path: str, image: np.ndarray) -> None:
    """Write a JPEG (quality :data:`JPEG_QUALITY`).

    Args:
        path (str): Output path.
        image (np.ndarray): (H, W, 3) uint8 BGR image.
    """
    if not cv2.imwrite(path, image, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY]):
        raise OSError(f'could not write {path}')


def generate_split(args: argparse.Namespace, split: str, num_images: int,
                   photos: Sequence[np.ndarray]) -> dict:
    """Write one annotated split's images and return its COCO dict.

    Args:
        args (argparse.Namespace): Parsed arguments (``out, seed, size, width,
            max_instances, min_area``).
        split (str): 'train' or 'val'.
        num_images (int): Number of images.
        photos (Sequence[np.ndarray]): BGR photographs for backgrounds (may be empty).

    Returns:
        dict: The COCO dataset (``info, licenses, images, annotations, categories``).
    """
    folder = osp.join(args.out, split)
    os.makedirs(folder, exist_ok=True)
    clear_generated_images(folder)
    images, annotations = [], []
    for index in range(num_images):
        image_id = index + 1
        image, instances = render_sample(args.seed, split, index, args.size, args.width,
                                         args.max_instances, args.min_area, photos)
        file_name = f'{image_id:06d}.jpg'
        write_image(osp.join(folder, file_name), image)
        images.append(dict(id=image_id, file_name=file_name, height=args.size, width=args.width))
        for category, mask in instances:
            annotations.append(
                mask_to_annotation(mask, category + 1, image_id,
                                   len(annotations) + 1))
    info = dict(description=f'greenmim_mm demo shapes ({split})', version='1.0', seed=args.seed)
    return dict(
        info=info,
        licenses=[],
        images=images,
        annotations=annotations,
        categories=coco_categories())


def write_pretrain(args: argparse.Namespace, photos: Sequence[np.ndarray]) -> int:
    """Fill ``pretrain/`` with the training images and ``--num-pretrain`` unlabeled ones.

    Args:
        args (argparse.Namespace): Parsed arguments.
        photos (Sequence[np.ndarray]): BGR photographs for backgrounds (may be empty).

    Returns:
        int: Number of images in ``pretrain/``.
    """
    folder = osp.join(args.out, 'pretrain')
    os.makedirs(folder, exist_ok=True)
    clear_generated_images(folder)
    train_images = sorted(glob.glob(osp.join(args.out, 'train', '[0-9]*.jpg')))
    for path in train_images:
        shutil.copyfile(path, osp.join(folder, osp.basename(path)))
    for index in range(args.num_pretrain):
        image, _ = render_sample(args.seed, 'pretrain', index, args.size, args.width,
                                 args.max_instances, args.min_area, photos)
        write_image(osp.join(folder, f'extra_{index + 1:06d}.jpg'), image)
    return len(train_images) + args.num_pretrain


def find_photos(photo_dir: Optional[str]) -> List[str]:
    """Photographs to crop backgrounds from.

    Args:
        photo_dir (str, optional): A directory of .jpg/.jpeg/.png files. Defaults to None,
            which looks for the JPEG photographs in matplotlib's ``sample_data``.

    Returns:
        list[str]: Sorted paths (empty when none are found).
    """
    if photo_dir is None:
        try:
            import matplotlib
        except ImportError:
            return []
        photo_dir = osp.join(matplotlib.get_data_path(), 'sample_data')
        patterns = ('*.jpg', '*.jpeg')
    else:
        patterns = ('*.jpg', '*.jpeg', '*.png')
    return sorted(p for pattern in patterns for p in glob.glob(osp.join(photo_dir, pattern)))


def load_photos(paths: Sequence[str], min_side: int = 64) -> List[np.ndarray]:
    """Read colour photographs, skipping unreadable or tiny ones.

    Args:
        paths (Sequence[str]): Image paths.
        min_side (int): Smallest accepted side in pixels. Defaults to 64.

    Returns:
        list[np.ndarray]: (h, w, 3) uint8 BGR images.
    """
    photos = []
    for path in paths:
        image = cv2.imread(path, cv2.IMREAD_COLOR)
        if image is not None and min(image.shape[:2]) >= min_side:
            photos.append(image)
    return photos


def write_json(path: str, data: dict) -> None:
    """Write JSON deterministically (fixed key order, compact separators).

    Args:
        path (str): Output path.
        data (dict): JSON-serialisable data.
    """
    os.makedirs(osp.dirname(path), exist_ok=True)
    with open(path, 'w') as f:
        json.dump(data, f, separators=(',', ':'))


def summarize(split: str, coco: dict) -> str:
    """One line describing a split: images, instances, per-category counts.

    Args:
        split (str): Split name.
        coco (dict): Its COCO dict.

    Returns:
        str: The summary.
    """
    counts: Dict[str, int] = {name: 0 for name in CATEGORIES}
    for ann in coco['annotations']:
        counts[CATEGORIES[ann['category_id'] - 1]] += 1
    per_category = ', '.join(f'{name} {n}' for name, n in counts.items())
    return (f'{split}: {len(coco["images"])} images, {len(coco["annotations"])} instances '
            f'({per_category})')


def main(argv: Optional[Sequence[str]] = None) -> None:
    """Generate the data set and print what was written.

    Args:
        argv (Sequence[str], optional): Arguments without the program name. Defaults to None.
    """
    args = parse_args(argv)
    start = time.time()
    photo_paths = find_photos(args.photo_dir)
    photos = load_photos(photo_paths)
    print(f'backgrounds: procedural textures + {len(photos)} photograph(s)' +
          (f' from {osp.dirname(photo_paths[0])}' if photos else ''))
    for split, num_images in (('train', args.num_train), ('val', args.num_val)):
        coco = generate_split(args, split, num_images, photos)
        ann_file = osp.join(args.out, 'annotations', f'instances_{split}.json')
        write_json(ann_file, coco)
        print(f'{summarize(split, coco)}\n  images: {osp.join(args.out, split)}/'
              f'\n  annotations: {ann_file}')
    num_pretrain = write_pretrain(args, photos)
    print(f'pretrain: {num_pretrain} unlabeled images in {osp.join(args.out, "pretrain")}/ '
          f'({args.num_train} train copies + {args.num_pretrain} extra)')
    print(f'image size {args.size}x{args.width} (HxW), seed {args.seed}, '
          f'{time.time() - start:.1f} s')
