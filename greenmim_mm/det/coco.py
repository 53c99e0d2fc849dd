"""A ``CocoDataset`` that fails with the expected layout instead of a bare missing path."""
import json
import os.path as osp
from typing import List, Optional

from mmdet.datasets import CocoDataset
from mmdet.registry import DATASETS


@DATASETS.register_module()
class CheckedCocoDataset(CocoDataset):
    """mmdet's ``CocoDataset`` with a check of its files before loading them.

    A missing annotation file or image folder raises ``FileNotFoundError`` naming both expected
    paths, the data root and a hint (how to get the data), instead of failing inside
    pycocotools or at the first image. Paths on remote storage (a ``backend_args`` or a
    ``scheme://`` path) are not checked.

    Args:
        layout_hint (str, optional): One more line for the message, e.g. where to download the
            data or which script generates it. Defaults to None.
        **kwargs: ``CocoDataset`` arguments.
    """

    def __init__(self, *args, layout_hint: Optional[str] = None, **kwargs) -> None:
        self.layout_hint = layout_hint
        super().__init__(*args, **kwargs)

    def _is_local(self, path: str) -> bool:
        return self.backend_args is None and '://' not in path

    def check_layout(self) -> None:
        """Raise ``FileNotFoundError`` if the annotation file or the image folder is missing."""
        img_dir = self.data_prefix.get('img', '')
        missing = []
        if self._is_local(self.ann_file) and not osp.isfile(self.ann_file):
            missing.append(f'annotation file {self.ann_file}')
        if img_dir and self._is_local(img_dir) and not osp.isdir(img_dir):
            missing.append(f'image folder {img_dir}')
        if not missing:
            return
        lines = [
            f'{type(self).__name__}: missing {" and ".join(missing)}.',
            f'Expected a COCO-style layout under data_root={self.data_root!r}:',
            f'  {self.ann_file}    (COCO instances json)',
            f'  {osp.join(img_dir, "")}    (the images it names)',
        ]
        if self.layout_hint:
            lines.append(self.layout_hint)
        raise FileNotFoundError('\n'.join(lines))

    def load_data_list(self) -> List[dict]:
        self.check_layout()
        try:
            return super().load_data_list()
        except (json.JSONDecodeError, UnicodeDecodeError) as err:
            problem = f'is not valid JSON ({err})'
        except (AssertionError, KeyError, TypeError) as err:
            # pycocotools asserts on a non-dict json; a dict without 'images' and friends
            # fails with KeyError/TypeError deep inside mmdet.
            problem = f'is not a COCO instances file ({type(err).__name__}: {err})'
        lines = [
            f'{type(self).__name__}: the annotation file {self.ann_file} {problem}.',
            "Expected a COCO instances json: a dict with 'images', 'annotations' and "
            "'categories' (re-download or regenerate it).",
        ]
        if self.layout_hint:
            lines.append(self.layout_hint)
        raise ValueError('\n'.join(lines))
