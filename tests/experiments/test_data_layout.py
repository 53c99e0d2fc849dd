"""greenmim_mm.experiments.data_layout: a user's folder is accepted, or refused with one error
that names everything missing."""
import os
import os.path as osp

import pytest

from greenmim_mm.experiments.data_layout import DataLayoutError, check_data_layout
from tests.helpers import write_labeled_folder


def test_a_good_folder_is_summarized(tmp_path):
    summary = check_data_layout(write_labeled_folder(str(tmp_path)))
    assert summary == dict(classes=['cat', 'dog'], unlabeled=3, train=4, val=4, test=4)


def test_every_problem_in_one_error(tmp_path):
    root = write_labeled_folder(
        str(tmp_path), per_split=dict(val=('cat', ), test=('cat', 'dog', 'eel')))
    os.makedirs(osp.join(root, 'train', 'fox'))  # a class without images
    with pytest.raises(DataLayoutError) as err:
        check_data_layout(root, min_unlabeled=5)
    msg = str(err.value)
    assert 'unlabeled/ holds 3 images, fewer than 5' in msg
    assert 'train/ has class folders without images: train/fox/' in msg
    assert 'val/ lacks the classes dog, fox' in msg
    assert 'test/ has classes that train/ lacks: eel' in msg
    assert 'Expected layout' in msg and 'DIR/unlabeled/**' in msg


def test_missing_folders(tmp_path):
    os.makedirs(tmp_path / 'train' / 'cat')
    with pytest.raises(DataLayoutError) as err:
        check_data_layout(str(tmp_path))
    msg = str(err.value)
    for missing in ('unlabeled/ is missing', 'val/ is missing', 'test/ is missing'):
        assert missing in msg
    with pytest.raises(DataLayoutError, match='does not exist'):
        check_data_layout(str(tmp_path / 'nowhere'))
