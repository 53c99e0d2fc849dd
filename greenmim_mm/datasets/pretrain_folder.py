"""An unlabelled image folder for pre-training that says where it looked when it is empty."""
import os
import os.path as osp
import re
from typing import List, Optional, Sequence

from mmengine.fileio import list_from_file
from mmpretrain.datasets import CustomDataset
from mmpretrain.registry import DATASETS

IMG_EXTENSIONS = ('.jpg', '.jpeg', '.png', '.ppm', '.bmp', '.pgm', '.tif', '.tiff', '.webp')


@DATASETS.register_module()
class PretrainImageFolder(CustomDataset):
    """Every image under ``data_root/data_prefix`` (any depth of subfolders), no labels.

    mmpretrain's ``CustomDataset`` with ``with_label=False``, plus a check at build time:
    when the folder (or ``ann_file``) is missing or holds no image, it raises a
    ``FileNotFoundError`` that names the absolute path it looked in, the expected layout and
    ``layout_hint``. An ``ann_file`` may list ``path`` or ImageNet's ``path label`` lines,
    paths relative to the image folder; labels are ignored.

    Args:
        data_root (str): Root of the data. Defaults to ''.
        data_prefix (str | dict): Image folder relative to ``data_root``. Defaults to ''.
        ann_file (str): Optional list of images. Defaults to '' (scan the folder).
        extensions (Sequence[str]): Image file suffixes. Defaults to common image types.
        layout_hint (str, optional): One more sentence for the error, e.g. how to get the
            data. Defaults to None.
        **kwargs: Other ``CustomDataset``/``BaseDataset`` arguments (``pipeline``, ...).
    """

    def __init__(self,
                 data_root: str = '',
                 data_prefix='',
                 ann_file: str = '',
                 extensions: Sequence[str] = IMG_EXTENSIONS,
                 layout_hint: Optional[str] = None,
                 **kwargs) -> None:
        self.layout_hint = layout_hint
        self._given_prefix = data_prefix.get('img_path', '') if isinstance(data_prefix,
                                                                           dict) else data_prefix
        kwargs['with_label'] = False  # images only, whatever the config says
        super().__init__(
            data_root=data_root,
            data_prefix=data_prefix,
            ann_file=ann_file,
            extensions=extensions,
            **kwargs)

    def _missing(self, what: str) -> FileNotFoundError:
        folder = osp.abspath(self.img_prefix)
        lines = [
            f'{type(self).__name__}: {what}.',
            f'  Looked in: {folder}  (data_root={self.data_root!r}, '
            f'data_prefix={self._given_prefix!r}' +
            (f', ann_file={self.ann_file!r}' if self.ann_file else '') +
            f'; relative paths start from {os.getcwd()})',
            '  Expected: image files (' + ', '.join(sorted(self.extensions)) + ') anywhere under '
            'that folder, e.g. ImageFolder style <folder>/<class>/<name>.JPEG; labels and folder '
            'names are ignored.',
        ]
        if self.layout_hint:
            lines.append(f'  {self.layout_hint}')
        lines.append('  Point the config at your copy with --cfg-options '
                     'train_dataloader.dataset.data_root=<dir> (or a symlink).')
        return FileNotFoundError('\n'.join(lines))

    def load_data_list(self) -> List[dict]:
        """Scan the folder (or read ``ann_file``), raising a clear error when there is nothing."""
        if self.ann_file:
            if not osp.isfile(self.ann_file):
                raise self._missing(f'the image list {osp.abspath(self.ann_file)} does not exist')
            data_list = [{
                'img_path': osp.join(self.img_prefix, name)
            } for name in _list_images(self.ann_file)]
        elif not osp.isdir(self.img_prefix):
            raise self._missing('the image folder does not exist')
        else:
            try:
                data_list = super().load_data_list()
            except RuntimeError as err:  # CustomDataset: "Found 0 files in subfolders of ..."
                raise self._missing('found no image files') from err
        if not data_list:
            raise self._missing('the image list is empty')
        return data_list


def _strip_label(line: str) -> str:
    """``'n01440764/x.JPEG 0'`` -> ``'n01440764/x.JPEG'``; a bare path is returned as is."""
    match = re.fullmatch(r'(.+?)\s+-?\d+', line.strip())
    return match.group(1) if match else line.strip()


def _list_images(ann_file: str) -> List[str]:
    """Image paths of an image list; ImageNet's ``path label`` lines lose their label."""
    return [_strip_label(line) for line in list_from_file(ann_file) if line.strip()]
