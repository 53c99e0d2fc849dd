"""Image labels from the generator's annotations, and the val/test cut of its val split."""
import json
import os.path as osp

import pytest

from greenmim_mm.experiments.largest_shape import largest_shape_labels, write_split_files


def write_coco(path: str, images: int, anns: list) -> None:
    categories = [dict(id=i + 1, name=n) for i, n in enumerate(('a', 'b', 'c', 'd'))]
    with open(path, 'w') as f:
        json.dump(
            dict(
                images=[dict(id=i + 1, file_name=f'{i + 1:06d}.jpg') for i in range(images)],
                annotations=[dict(image_id=i, category_id=c, area=a) for i, c, a in anns],
                categories=categories), f)


def test_largest_visible_shape_wins_and_ties_keep_the_first(tmp_path):
    path = str(tmp_path / 'instances.json')
    # image 1: a small circle (1) under a large triangle (3); image 2: a tie, rectangle first;
    # image 3: no shape.
    write_coco(path, 3, [(1, 1, 50), (1, 3, 400), (2, 2, 90), (2, 4, 90)])
    assert largest_shape_labels(path) == [('000001.jpg', 2), ('000002.jpg', 1)]


def test_split_files_cut_the_val_split_into_val_and_test(tmp_path):
    (tmp_path / 'annotations').mkdir()
    write_coco(str(tmp_path / 'annotations' / 'instances_train.json'), 2, [(1, 1, 10), (2, 4, 10)])
    write_coco(
        str(tmp_path / 'annotations' / 'instances_val.json'), 5,
        [(i, i % 4 + 1, 10) for i in range(1, 6)])
    assert write_split_files(str(tmp_path), num_val=2) == dict(train=2, val=2, test=3)
    lines = {
        s: open(osp.join(tmp_path, 'meta', f'{s}.txt')).read().split('\n')[:-1]
        for s in ('train', 'val', 'test')
    }
    assert lines['train'] == ['train/000001.jpg 0', 'train/000002.jpg 3']
    assert lines['val'] == ['val/000001.jpg 1', 'val/000002.jpg 2']
    assert lines['test'] == ['val/000003.jpg 3', 'val/000004.jpg 0', 'val/000005.jpg 1']
    with pytest.raises(ValueError, match='num_val=5 must leave images for both'):
        write_split_files(str(tmp_path), num_val=5)
