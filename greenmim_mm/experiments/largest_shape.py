"""Image-level labels from the demo generator's COCO annotations: the largest shape's category.

``tools/dataset_converters/make_demo_data.py`` annotates every visible shape of an image;
the category of the one with the largest visible area is a 4-way image classification target
that mmpretrain's ``CustomDataset`` reads from "path label" lines.
"""
import json
import os
import os.path as osp
from typing import Dict, List, Sequence, Tuple


def largest_shape_labels(ann_file: str) -> List[Tuple[str, int]]:
    """The category index of each image's largest visible shape.

    Args:
        ann_file (str): A COCO instances JSON written by ``make_demo_data.py``.

    Returns:
        list[tuple[str, int]]: ``(file_name, label)`` per image in image-id order; the label
        is the 0-based index of the COCO category (id 1 -> 0). Ties keep the first
        annotation. Images without annotations are left out.
    """
    with open(ann_file) as f:
        coco = json.load(f)
    category_ids = sorted(c['id'] for c in coco['categories'])
    best: Dict[int, dict] = {}
    for ann in coco['annotations']:
        kept = best.get(ann['image_id'])
        if kept is None or ann['area'] > kept['area']:
            best[ann['image_id']] = ann
    labels = []
    for image in sorted(coco['images'], key=lambda im: im['id']):
        ann = best.get(image['id'])
        if ann is not None:
            labels.append((image['file_name'], category_ids.index(ann['category_id'])))
    return labels


def write_split_files(data_root: str, num_val: int) -> Dict[str, int]:
    """Write ``meta/{train,val,test}.txt`` for mmpretrain's ``CustomDataset``.

    ``train`` is the generator's train split; its val split is cut in two by image id: the
    first ``num_val`` images are ``val`` (for choosing settings), the rest ``test``.

    Args:
        data_root (str): The generator's ``--out`` directory.
        num_val (int): Images of the generator's val split that go to ``val``.

    Returns:
        dict[str, int]: Number of images per split.

    Raises:
        ValueError: If the val split has no image left for ``test``.
    """
    train = largest_shape_labels(osp.join(data_root, 'annotations', 'instances_train.json'))
    held_out = largest_shape_labels(osp.join(data_root, 'annotations', 'instances_val.json'))
    if not 0 < num_val < len(held_out):
        raise ValueError(f'num_val={num_val} must leave images for both val and test; the '
                         f'generated val split has {len(held_out)} labeled images')
    splits = {
        'train': [(f'train/{name}', label) for name, label in train],
        'val': [(f'val/{name}', label) for name, label in held_out[:num_val]],
        'test': [(f'val/{name}', label) for name, label in held_out[num_val:]],
    }
    os.makedirs(osp.join(data_root, 'meta'), exist_ok=True)
    for split, rows in splits.items():
        write_lines(osp.join(data_root, 'meta', f'{split}.txt'), rows)
    return {split: len(rows) for split, rows in splits.items()}


def write_lines(path: str, rows: Sequence[Tuple[str, int]]) -> None:
    """Write "path label" lines."""
    with open(path, 'w') as f:
        f.writelines(f'{name} {label}\n' for name, label in rows)
