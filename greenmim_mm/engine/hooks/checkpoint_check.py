"""Refuse a checkpoint whose weights do not fit the model, naming the mismatched shapes.

mmengine loads checkpoints with ``strict=False``: weights of another shape are skipped with a
log warning, so ``tools/test.py`` would evaluate a partly random model and ``--resume`` would
fail later in the optimizer with a bare traceback. :class:`CheckpointCompatibilityHook` looks at
the checkpoint when it is loaded (``after_load_checkpoint``, before any weight is copied) and
raises :class:`CheckpointMismatchError` listing what differs.
"""
import logging
import re
from typing import Dict, List, NamedTuple, Optional, Tuple

import torch
from mmengine.hooks import Hook
from mmengine.logging import print_log
from mmengine.model import is_model_wrapper
from mmengine.registry import HOOKS
from mmengine.runner import BaseLoop

MODES = ('strict', 'any')
_SHOWN = 10  # names listed per kind of mismatch

_HINTS = {
    'resume': 'To resume, the config must build the same model as the run that saved the '
    'checkpoint; resume with that config (it is also saved in the work directory).',
    'test': 'Test with the config the checkpoint was trained with.',
    'load': 'Check that `load_from` names a checkpoint of this model.',
}


class CheckpointMismatchError(RuntimeError):
    """A checkpoint's weights do not fit the model built from the config."""


class StateDictDiff(NamedTuple):
    """How a checkpoint's state dict differs from a model's.

    Attributes:
        shape_mismatches (list): ``(name, checkpoint shape, model shape)`` per tensor present
            in both with different shapes.
        missing (list[str]): Model tensors absent from the checkpoint.
        unexpected (list[str]): Checkpoint tensors the model does not have.
        matched (int): Tensors present in both with the same shape.
    """
    shape_mismatches: List[Tuple[str, tuple, tuple]]
    missing: List[str]
    unexpected: List[str]
    matched: int


def checkpoint_state_dict(checkpoint: dict) -> Dict[str, torch.Tensor]:
    """The weights of a loaded checkpoint, as mmengine reads them.

    Args:
        checkpoint (dict): A loaded checkpoint: ``{'state_dict': ...}`` or a flat state dict.

    Returns:
        dict: Name -> tensor, with a DDP ``module.`` prefix stripped (mmengine's default
        ``revise_keys``).
    """
    state_dict = checkpoint.get('state_dict', checkpoint)
    return {re.sub(r'^module\.', '', k): v for k, v in state_dict.items()}


def diff_state_dicts(model_state: Dict[str, torch.Tensor],
                     ckpt_state: Dict[str, torch.Tensor]) -> StateDictDiff:
    """Compare names and shapes of a model's and a checkpoint's state dicts.

    Args:
        model_state (dict): ``model.state_dict()``.
        ckpt_state (dict): The checkpoint's state dict (see :func:`checkpoint_state_dict`).

    Returns:
        StateDictDiff: The differences, in the model's (then the checkpoint's) key order.
    """
    mismatches, missing, matched = [], [], 0
    for name, value in model_state.items():
        if name not in ckpt_state:
            missing.append(name)
            continue
        ckpt_shape = tuple(getattr(ckpt_state[name], 'shape', ()))
        if ckpt_shape != tuple(value.shape):
            mismatches.append((name, ckpt_shape, tuple(value.shape)))
        else:
            matched += 1
    unexpected = [name for name in ckpt_state if name not in model_state]
    return StateDictDiff(mismatches, missing, unexpected, matched)


def prefix_hint(model_keys: List[str], ckpt_keys: List[str]) -> Optional[str]:
    """Explain checkpoint names that differ from the model's by a leading prefix, if they do.

    Args:
        model_keys (list[str]): The model's state dict names.
        ckpt_keys (list[str]): The checkpoint's state dict names.

    Returns:
        str | None: A sentence, when most unmatched checkpoint names match model names after
        adding or removing one first component such as ``'backbone.'``.
    """
    model_set = set(model_keys)
    unmatched = [k for k in ckpt_keys if k not in model_set]
    if not unmatched:
        return None
    prefixes = sorted({k.split('.', 1)[0] + '.' for k in list(model_set) + unmatched if '.' in k})
    for prefix in prefixes:
        if 2 * sum(prefix + k in model_set for k in unmatched) >= len(unmatched):
            return (f'Its names lack the model\'s prefix {prefix!r} (e.g. {unmatched[0]!r}): it '
                    f'holds the weights of the {prefix[:-1]!r} part alone; load them into that '
                    f"part with its init_cfg=dict(type='Pretrained', checkpoint=...).")
        if 2 * sum(k.startswith(prefix) and k[len(prefix):] in model_set
                   for k in unmatched) >= len(unmatched):
            return (f'Its names carry a prefix {prefix!r} the model\'s lack (e.g. '
                    f"{unmatched[0]!r}): load it with init_cfg=dict(type='Pretrained', "
                    f"checkpoint=..., prefix={prefix!r}).")
    return None


def _listing(title: str, items: List[str]) -> List[str]:
    if not items:
        return []
    more = f' (first {_SHOWN} of {len(items)})' if len(items) > _SHOWN else ''
    return [f'  {title}{more}:'] + [f'    {item}' for item in items[:_SHOWN]]


def describe_diff(diff: StateDictDiff,
                  source: str,
                  purpose: str = 'load',
                  hint: Optional[str] = None) -> str:
    """A readable report of a :class:`StateDictDiff`.

    Args:
        diff (StateDictDiff): The differences.
        source (str): What was loaded, e.g. the checkpoint path.
        purpose (str): 'resume', 'test' or 'load'; picks the closing hint. Defaults to 'load'.
        hint (str, optional): One more sentence, e.g. from :func:`prefix_hint`.
            Defaults to None.

    Returns:
        str: The message.
    """
    total = diff.matched + len(diff.shape_mismatches) + len(diff.missing)
    lines = [
        f'The checkpoint {source} does not fit the model built from the config: of its '
        f'{total} weights, {len(diff.shape_mismatches)} have another shape in the checkpoint, '
        f'{len(diff.missing)} are missing from it, and it has {len(diff.unexpected)} the model '
        'does not use. It was most likely saved from a different architecture (another arch, '
        'embed_dims, depths, window_size, number of classes, ...).'
    ]
    lines += _listing('shape in the checkpoint vs in the model',
                      [f'{n}: {tuple(c)} vs {tuple(m)}' for n, c, m in diff.shape_mismatches])
    lines += _listing('missing from the checkpoint', diff.missing)
    lines += _listing('in the checkpoint, not in the model', diff.unexpected)
    if hint:
        lines.append(hint)
    lines.append(
        _HINTS.get(purpose, _HINTS['load']) + ' A GreenMIM pre-training checkpoint '
        'goes into a detector through tools/model_converters/convert_checkpoint.py.')
    return '\n'.join(lines)


def check_checkpoint_fits(model_state: Dict[str, torch.Tensor],
                          checkpoint: dict,
                          mode: str = 'strict',
                          source: str = 'being loaded',
                          purpose: str = 'load') -> StateDictDiff:
    """Raise :class:`CheckpointMismatchError` if a checkpoint does not fit a model.

    Args:
        model_state (dict): ``model.state_dict()``.
        checkpoint (dict): The loaded checkpoint.
        mode (str): ``'strict'``: any shape mismatch or missing weight is an error (extra
            checkpoint weights are only logged); ``'any'``: an error only when no weight fits
            (mmengine's partial loading, e.g. of another head, stays allowed).
            Defaults to 'strict'.
        source (str): What was loaded, for the message. Defaults to 'being loaded'.
        purpose (str): 'resume', 'test' or 'load', for the message. Defaults to 'load'.

    Returns:
        StateDictDiff: The differences (when no error was raised).
    """
    if mode not in MODES:
        raise ValueError(f'mode must be one of {MODES}, got {mode!r}')
    ckpt_state = checkpoint_state_dict(checkpoint)
    diff = diff_state_dicts(model_state, ckpt_state)
    if mode == 'strict':
        failed = bool(diff.shape_mismatches or diff.missing)
    else:
        failed = diff.matched == 0 and bool(model_state)
    if failed:
        hint = prefix_hint(list(model_state), list(ckpt_state))
        raise CheckpointMismatchError(describe_diff(diff, source, purpose, hint))
    if mode == 'strict' and diff.unexpected:
        print_log(
            f'The checkpoint {source} has {len(diff.unexpected)} weights the model does not '
            f'use (ignored), e.g. {diff.unexpected[:3]}',
            logger='current',
            level=logging.WARNING)
    return diff


@HOOKS.register_module()
class CheckpointCompatibilityHook(Hook):
    """Check every checkpoint the runner loads against its model before the weights are copied.

    Our base runtime configs declare it (``default_hooks.checkpoint_check``), so mmengine's,
    mmdet's and mmpretrain's tools all run it. Without arguments it picks what fits the run:
    ``'strict'`` when training resumes (``resume=True``) or when a checkpoint is tested or
    validated, ``'any'`` for ``load_from`` in training (fine-tuning from a checkpoint of other
    heads stays allowed).

    Args:
        mode (str, optional): See :func:`check_checkpoint_fits`. Defaults to None (automatic).
        purpose (str, optional): 'resume', 'test' or 'load', for the message. Defaults to None
            (automatic).
    """

    priority = 'VERY_HIGH'

    def __init__(self, mode: Optional[str] = None, purpose: Optional[str] = None) -> None:
        if mode is not None and mode not in MODES:
            raise ValueError(f'mode must be one of {MODES}, got {mode!r}')
        self.mode = mode
        self.purpose = purpose
        self._run_purpose = 'load'

    def before_run(self, runner) -> None:
        """Tell what the run loads for: mmengine calls this right before ``load_or_resume``."""
        # Runner.train() builds its train loop before `before_run`; test() and val() do not.
        training = isinstance(getattr(runner, '_train_loop', None), BaseLoop)
        if not training:
            self._run_purpose = 'test'
        elif getattr(runner, '_resume', False):
            self._run_purpose = 'resume'
        else:
            self._run_purpose = 'load'

    @staticmethod
    def _source(runner) -> str:
        """The path being loaded, as far as the runner tells."""
        path: Optional[str] = getattr(runner, '_load_from', None)
        if path is None and getattr(runner, '_resume', False):
            from mmengine.runner import find_latest_checkpoint
            path = find_latest_checkpoint(runner.work_dir)
        return str(path) if path else '(unknown path)'

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        """Raise :class:`CheckpointMismatchError` if ``checkpoint`` does not fit the model."""
        purpose = self.purpose or self._run_purpose
        mode = self.mode or ('any' if purpose == 'load' else 'strict')
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        check_checkpoint_fits(model.state_dict(), checkpoint, mode, self._source(runner), purpose)
