"""Workaround: upgrade v1 (mmcls 0.x) Swin checkpoints in subclasses of ``SwinTransformer``.

Upstream behaviour (mmpretrain <= 1.2.0): ``SwinTransformer._load_from_state_dict`` renames the
keys of old checkpoints -- state dict version < 2: the output norm ``norm.*`` becomes
``norm{last stage}.*``; version < 3: the stored ``attn_mask`` buffers are dropped -- but only
when ``self.__class__ is SwinTransformer``. A subclass such as ``GreenMIMSwinTransformer`` then
fails on such a checkpoint (``unexpected key norm.weight``, ``missing norm3.weight``).

:func:`upgrade_v1_swin_keys` does the same renames for a subclass; the backbone calls it where
the behaviour exists (:data:`NEEDED`). ``tests/compat/test_swin_v1_keys.py`` fails once
mmpretrain upgrades the keys for subclasses too.
"""
from typing import Dict, Optional

import mmpretrain
from mmengine.utils import digit_version

#: mmpretrain releases whose upgrade skips subclasses (up to the latest one tested).
NEEDED = digit_version(mmpretrain.__version__) <= digit_version('1.2.0')


def upgrade_v1_swin_keys(state_dict: Dict, prefix: str, version: Optional[int],
                         num_stages: int) -> None:
    """Rename, in place, the keys of an old Swin state dict as mmpretrain's upgrade does.

    Args:
        state_dict (dict): The state dict being loaded (full keys, ``prefix`` included).
        prefix (str): The module's prefix in ``state_dict``, e.g. ``'backbone.'``.
        version (int, optional): ``local_metadata['version']`` of the checkpoint; None for a
            checkpoint without metadata (mmpretrain treats it as the oldest).
        num_stages (int): Number of stages; the last one's output norm is ``norm{n-1}``.
    """
    if version is None or version < 2:
        old = prefix + 'norm.'
        for key in [k for k in state_dict if k.startswith(old)]:
            state_dict[f'{prefix}norm{num_stages - 1}.{key[len(old):]}'] = state_dict.pop(key)
    if version is None or version < 3:
        for key in [k for k in state_dict if k.startswith(prefix) and 'attn_mask' in k]:
            del state_dict[key]
