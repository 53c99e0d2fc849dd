"""Image loading that fails clearly on a bad file, or skips it with a warning.

mmcv's ``LoadImageFromFile`` ends a run on a missing file with a bare ``FileNotFoundError``,
on an undecodable one with ``AssertionError: failed to load image`` (gone under ``python -O``),
and, with an OpenCV that decodes what it can, may train on the grey remainder of a truncated
JPEG without a word. Its ``ignore_empty=True`` drops such files silently.
"""
import logging
from typing import Optional

import mmcv
import numpy as np
from mmcv.transforms import LoadImageFromFile
from mmengine import fileio
from mmengine.logging import print_log
from mmpretrain.registry import TRANSFORMS

ON_ERROR = ('raise', 'skip')

# JPEG markers that carry no length field: TEM, RST0-7, SOI, EOI (and 0x00 = a stuffed 0xFF).
_STANDALONE_MARKERS = {0x00, 0x01, *range(0xD0, 0xD9)}


class ImageLoadError(OSError):
    """An image file named by a dataset is missing, empty, truncated or not decodable."""


def jpeg_is_truncated(data: bytes) -> bool:
    """Whether a JPEG byte stream ends before its end-of-image (EOI) marker.

    Walks the marker segments by their lengths and, inside entropy-coded scans, jumps from
    one 0xFF byte to the next (stuffed ``FF 00`` and restart markers are scan data), until EOI.
    Data after EOI (camera trailers, appended files) is never looked at.

    Args:
        data (bytes): The file content, starting with the SOI marker ``FF D8``.

    Returns:
        bool: True if the stream ends before EOI (a truncated download or copy).
    """
    pos, size = 2, len(data)
    while True:
        pos = data.find(b'\xff', pos)
        if pos < 0 or pos + 1 >= size:
            return True
        marker = data[pos + 1]
        if marker == 0xD9:  # EOI
            return False
        if marker == 0xFF:  # fill byte before a marker
            pos += 1
        elif marker in _STANDALONE_MARKERS:
            pos += 2
        else:  # a segment: 2-byte big-endian length including itself
            if pos + 4 > size:
                return True
            pos += 2 + int.from_bytes(data[pos + 2:pos + 4], 'big')


def image_problem(data: bytes, img: Optional[np.ndarray]) -> Optional[str]:
    """What is wrong with a read image file, or None if nothing is.

    Args:
        data (bytes): The file content.
        img (np.ndarray, optional): The decoded image, None if decoding failed.

    Returns:
        str | None: A description such as ``'is truncated (...)'``.
    """
    if not data:
        return 'is empty (0 bytes)'
    if data[:2] == b'\xff\xd8' and jpeg_is_truncated(data):
        return f'is truncated: a {len(data)}-byte JPEG that ends before its end-of-image marker'
    if img is None:
        return f'could not be decoded ({len(data)} bytes; corrupt, or not an image)'
    return None


@TRANSFORMS.register_module()
class SafeLoadImageFromFile(LoadImageFromFile):
    """mmcv's ``LoadImageFromFile`` with one clear error, or a logged skip, per bad image.

    A file that is missing, unreadable, empty, a truncated JPEG, or not decodable either
    raises :class:`ImageLoadError` naming the file and the fix (``on_error='raise'``), or logs
    a warning naming the file and returns None (``on_error='skip'``), whereupon mmengine's
    ``BaseDataset`` draws another sample (training only: at test time a None sample is an
    error, and after ``max_refetch`` (1000) bad draws in a row it stops with an error, so a
    folder of bad files cannot loop forever). Good images load exactly as with
    ``LoadImageFromFile``.

    Use it in place of ``LoadImageFromFile`` (in mmdet configs as
    ``type='mmpretrain.SafeLoadImageFromFile'``)::

        dict(type='SafeLoadImageFromFile', on_error='skip')

    Args:
        on_error (str): 'raise' or 'skip'. Defaults to 'raise'.
        **kwargs: ``LoadImageFromFile`` arguments (``to_float32``, ``color_type``,
            ``imdecode_backend``, ``backend_args``); ``ignore_empty`` is replaced by
            ``on_error='skip'``.
    """

    def __init__(self, on_error: str = 'raise', **kwargs) -> None:
        if on_error not in ON_ERROR:
            raise ValueError(f"on_error must be 'raise' or 'skip', got {on_error!r}")
        if kwargs.pop('ignore_empty', False):
            raise ValueError("SafeLoadImageFromFile: use on_error='skip' instead of "
                             'ignore_empty=True (which drops bad images without a word)')
        super().__init__(**kwargs)
        self.on_error = on_error
        self.num_skipped = 0

    def _read(self, filename: str) -> bytes:
        if self.file_client_args is not None:
            client = fileio.FileClient.infer_client(self.file_client_args, filename)
            return client.get(filename)
        return fileio.get(filename, backend_args=self.backend_args)

    def _fail(self, filename: str, problem: str, missing: bool = False) -> None:
        """Raise or log the problem of ``filename`` (returns only when skipping)."""
        if self.on_error == 'skip':
            self.num_skipped += 1
            print_log(
                f'SafeLoadImageFromFile: skipping {filename}: it {problem} '
                f'({self.num_skipped} skipped so far by this process).',
                logger='current',
                level=logging.WARNING)
            return
        if missing:
            fix = ('Check data_root / data_prefix (and the paths in the annotation file or '
                   'image list), or remove the entry')
        else:
            fix = 'Replace or delete the file (and its entry in the annotation file or list)'
        raise ImageLoadError(
            f'Image {filename} {problem}. {fix}; or set on_error=\'skip\' in the training '
            "pipeline's SafeLoadImageFromFile to skip bad images with a warning.")

    def transform(self, results: dict) -> Optional[dict]:
        """Load the image of ``results['img_path']``.

        Args:
            results (dict): With ``img_path``.

        Returns:
            dict | None: ``results`` with ``img``, ``img_shape`` and ``ori_shape``; None when
            a bad image is skipped.
        """
        filename = results['img_path']
        try:
            data = self._read(filename)
        except FileNotFoundError:
            return self._fail(filename, 'does not exist', missing=True)
        except OSError as err:
            return self._fail(filename, f'could not be read ({err})')
        try:
            img = mmcv.imfrombytes(data, flag=self.color_type, backend=self.imdecode_backend)
        except Exception:  # decoders raise for empty or unidentifiable data
            img = None
        problem = image_problem(data, img)
        if problem is not None:
            return self._fail(filename, problem)
        if self.to_float32:
            img = img.astype(np.float32)
        results['img'] = img
        results['img_shape'] = img.shape[:2]
        results['ori_shape'] = img.shape[:2]
        return results

    def __repr__(self) -> str:
        return super().__repr__().replace(f'{type(self).__name__}(',
                                          f"{type(self).__name__}(on_error='{self.on_error}', ", 1)
