"""tools/dataset_converters/make_demo_data.py: a valid, deterministic COCO instance-segmentation
set."""
import glob
import itertools
import os.path as osp

import cv2
import numpy as np
import pycocotools.mask as mask_utils
import pytest
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

NUM_TRAIN, NUM_VAL, NUM_PRETRAIN = 12, 6, 3
SPLITS = ('train', 'val')


def generate(module, out_dir: str, *extra: str) -> str:
    """Run the generator's ``main`` with a small set; return the output root."""
    module.main([
        '--out', out_dir, '--num-train',
        str(NUM_TRAIN), '--num-val',
        str(NUM_VAL), '--num-pretrain',
        str(NUM_PRETRAIN), *extra
    ])
    return out_dir


def ann_file(root: str, split: str) -> str:
    """Path of a split's COCO json."""
    return osp.join(root, 'annotations', f'instances_{split}.json')


def read_bytes(path: str) -> bytes:
    """Content of a file."""
    with open(path, 'rb') as f:
        return f.read()


@pytest.fixture(scope='module')
def demo_root(make_demo_data, tmp_path_factory) -> str:
    """A small square set with the default size and seed."""
    return generate(make_demo_data, str(tmp_path_factory.mktemp('demo')))


@pytest.fixture(scope='module')
def wide_root(make_demo_data, tmp_path_factory) -> str:
    """A small non-square set (96 high, 128 wide)."""
    return generate(make_demo_data, str(tmp_path_factory.mktemp('wide')), '--size', '96', '--width',
                    '128')


@pytest.mark.parametrize('split', SPLITS)
@pytest.mark.parametrize('iou_type', ['bbox', 'segm'])
def test_ground_truth_scores_perfect_ap(demo_root, split, iou_type):
    coco = COCO(ann_file(demo_root, split))
    results = []
    for ann in coco.loadAnns(coco.getAnnIds()):
        result = dict(image_id=ann['image_id'], category_id=ann['category_id'], score=1.0)
        if iou_type == 'bbox':
            result['bbox'] = ann['bbox']
        else:
            result['segmentation'] = coco.annToRLE(ann)
        results.append(result)
    evaluator = COCOeval(coco, coco.loadRes(results), iou_type)
    evaluator.evaluate()
    evaluator.accumulate()
    evaluator.summarize()
    assert evaluator.stats[0] == pytest.approx(1.0)  # AP @ IoU 0.50:0.95
    assert evaluator.stats[1] == pytest.approx(1.0)  # AP @ IoU 0.50


@pytest.mark.parametrize('root_fixture, size', [('demo_root', (192, 192)),
                                                ('wide_root', (96, 128))])
def test_images_match_annotations(request, root_fixture, size):
    root = request.getfixturevalue(root_fixture)
    for split, count in zip(SPLITS, (NUM_TRAIN, NUM_VAL)):
        coco = COCO(ann_file(root, split))
        assert len(coco.getImgIds()) == count
        for info in coco.loadImgs(coco.getImgIds()):
            assert (info['height'], info['width']) == size
            assert info['height'] % 32 == 0 and info['width'] % 32 == 0
            image = cv2.imread(osp.join(root, split, info['file_name']))
            assert image.shape == (*size, 3)


def test_instances(demo_root, make_demo_data):
    coco = COCO(ann_file(demo_root, 'train'))
    assert [c['name'] for c in coco.loadCats(coco.getCatIds())] == \
        ['circle', 'rectangle', 'triangle', 'ellipse']
    used = {ann['category_id'] for ann in coco.dataset['annotations']}
    assert used == set(coco.getCatIds())
    counts = [len(coco.getAnnIds(imgIds=i)) for i in coco.getImgIds()]
    assert min(counts) >= 1 and max(counts) <= 5
    assert max(counts) >= 3
    overlapping_boxes = 0
    for image_id in coco.getImgIds():
        anns = coco.loadAnns(coco.getAnnIds(imgIds=image_id))
        masks = [coco.annToMask(ann).astype(bool) for ann in anns]
        for ann, mask in zip(anns, masks):
            assert ann['iscrowd'] == 0
            assert ann['area'] == mask.sum() >= 64
            np.testing.assert_array_equal(ann['bbox'], mask_utils.toBbox(coco.annToRLE(ann)))
        for a, b in itertools.combinations(range(len(anns)), 2):
            assert not (masks[a] & masks[b]).any()  # visible parts never overlap
            overlapping_boxes += boxes_overlap(anns[a]['bbox'], anns[b]['bbox'])
    assert overlapping_boxes > 0  # occlusions happen


def boxes_overlap(a: list, b: list) -> bool:
    """Whether two [x, y, w, h] boxes intersect."""
    return (a[0] < b[0] + b[2] and b[0] < a[0] + a[2] and a[1] < b[1] + b[3] and b[1] < a[1] + a[3])


def test_pretrain_folder_reads_as_unlabeled_custom_dataset(demo_root):
    from mmpretrain.datasets import CustomDataset
    dataset = CustomDataset(
        data_root=demo_root, data_prefix='pretrain', with_label=False, pipeline=[])
    assert len(dataset) == NUM_TRAIN + NUM_PRETRAIN
    assert len(glob.glob(osp.join(demo_root, 'pretrain', 'extra_*.jpg'))) == NUM_PRETRAIN


def test_same_seed_same_bytes(make_demo_data, demo_root, tmp_path):
    again = generate(make_demo_data, str(tmp_path / 'again'))
    for split in SPLITS:
        assert read_bytes(ann_file(again, split)) == read_bytes(ann_file(demo_root, split))
    for path in sorted(glob.glob(osp.join(demo_root, '*', '*.jpg'))):
        relative = osp.relpath(path, demo_root)
        assert read_bytes(osp.join(again, relative)) == read_bytes(path), relative


def test_other_seed_other_data(make_demo_data, demo_root, tmp_path):
    other = generate(make_demo_data, str(tmp_path / 'other'), '--seed', '1')
    assert read_bytes(ann_file(other, 'train')) != read_bytes(ann_file(demo_root, 'train'))


def test_annotations_do_not_depend_on_photographs(make_demo_data, demo_root, tmp_path):
    empty = tmp_path / 'no_photos'
    empty.mkdir()
    plain = generate(make_demo_data, str(tmp_path / 'plain'), '--photo-dir', str(empty))
    for split in SPLITS:
        assert read_bytes(ann_file(plain, split)) == read_bytes(ann_file(demo_root, split))


def test_rerun_replaces_old_images(make_demo_data, tmp_path):
    root = str(tmp_path / 'rerun')
    make_demo_data.main([
        '--out', root, '--num-train', '4', '--num-val', '2', '--num-pretrain', '2', '--size', '64'
    ])
    make_demo_data.main([
        '--out', root, '--num-train', '2', '--num-val', '1', '--num-pretrain', '0', '--size', '64'
    ])
    assert len(glob.glob(osp.join(root, 'train', '*.jpg'))) == 2
    assert len(glob.glob(osp.join(root, 'pretrain', '*.jpg'))) == 2


def test_prints_what_was_written(make_demo_data, tmp_path, capsys):
    root = str(tmp_path / 'printed')
    make_demo_data.main([
        '--out', root, '--num-train', '2', '--num-val', '1', '--num-pretrain', '1', '--size', '64'
    ])
    out = capsys.readouterr().out
    assert ann_file(root, 'train') in out and ann_file(root, 'val') in out
    assert 'train: 2 images' in out and 'pretrain: 3 unlabeled images' in out


@pytest.mark.parametrize('argv', [['--size', '100'], ['--width', '200'], ['--size', '0']])
def test_rejects_sizes_not_multiple_of_32(make_demo_data, argv):
    with pytest.raises(SystemExit):
        make_demo_data.parse_args(argv)
