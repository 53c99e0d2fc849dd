"""A frozen-feature probe: pooled features of every stage, standardized, read by scikit-learn.

The cheapest honest read of what a pre-training put into a backbone (MAE reports a linear
probe beside fine-tuning): the backbone is not trained further, so random init is a floor
without optimization trouble and the few labeled images cannot be memorized by the backbone.

:func:`probe_checkpoint` builds the model of a probe config
(``configs/pretrain_gain/swin-nano_32px_probe.py``), loads a pre-training checkpoint's
``backbone.`` weights into it (strictly, but for the output norms of stages the pre-training
did not output: they stay the identity) or keeps its seeded initialization, extracts the
features of the labeled splits and fits

- a multinomial :class:`~sklearn.linear_model.LogisticRegression` for every C of
  ``probe.C``, keeping the one with the best val accuracy (ties: the smallest C);
- a :class:`~sklearn.neighbors.KNeighborsClassifier` with ``k = probe.knn_k``.

scikit-learn is needed here only: ``pip install scikit-learn`` (or
``pip install -e .[experiments]``).
"""
import copy
import logging
import os.path as osp
import re
from typing import Dict, Optional, Sequence, Tuple

import numpy as np
import torch

SPLITS = ('train', 'val', 'test')


def require_sklearn():
    """Import scikit-learn, or fail with the command that installs it."""
    try:
        import sklearn  # noqa: F401
    except ImportError as err:
        raise ImportError('the frozen-feature probe needs scikit-learn: pip install '
                          'scikit-learn (or pip install -e ".[experiments]")') from err


def build_probe_model(cfg, checkpoint: Optional[str], seed: int = 0) -> torch.nn.Module:
    """The probe config's model with a checkpoint's backbone, or its seeded initialization.

    Args:
        cfg (mmengine.Config): The probe config.
        checkpoint (str, optional): A pre-training checkpoint whose ``state_dict`` holds the
            backbone under ``backbone.`` (GreenMIM's and SimMIM's do; SimMIM's
            ``mask_token`` is left out). None: random init.
        seed (int): Seed of the initialization (random init only). Defaults to 0.

    Returns:
        torch.nn.Module: The model in eval mode.

    Raises:
        RuntimeError: If the checkpoint's backbone keys do not match the model's (only the
            output norms of stages the pre-training did not output may be missing: they keep
            their identity initialization, weight 1 and bias 0).
    """
    from mmengine.logging import MMLogger
    from mmengine.registry import DefaultScope
    from mmengine.runner import CheckpointLoader
    from mmpretrain.registry import MODELS
    logger = MMLogger.get_current_instance()
    level = logger.level
    logger.setLevel(logging.WARNING)  # not a line per parameter and checkpoint
    try:
        with DefaultScope.overwrite_default_scope('mmpretrain'):
            torch.manual_seed(seed)
            model = MODELS.build(copy.deepcopy(cfg.model))
            model.init_weights()
        if checkpoint is not None:
            state = CheckpointLoader.load_checkpoint(checkpoint, map_location='cpu')
    finally:
        logger.setLevel(level)
    if checkpoint is not None:
        state = state.get('state_dict', state)
        backbone = {
            k[len('backbone.'):]: v
            for k, v in state.items() if k.startswith('backbone.') and k != 'backbone.mask_token'
        }
        if not backbone:
            raise RuntimeError(f'{checkpoint} holds no backbone.* weights')
        result = model.backbone.load_state_dict(backbone, strict=False)
        # Output norms of stages the pre-training did not output keep their identity init.
        missing = [k for k in result.missing_keys if not re.fullmatch(r'norm\d+\.(weight|bias)', k)]
        if missing or result.unexpected_keys:
            raise RuntimeError(f'{checkpoint} does not fit the probe backbone: missing '
                               f'{missing}, unexpected {result.unexpected_keys}')
    model.eval()
    return model


def split_loader(cfg, data_root: str, split: str):
    """The probe config's dataloader on ``data_root/split`` (``CustomDataset`` layout)."""
    from mmengine.registry import DefaultScope
    from mmengine.runner import Runner
    loader = copy.deepcopy(cfg.probe_dataloader)
    loader.dataset.data_root = data_root
    loader.dataset.data_prefix = split
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        return Runner.build_dataloader(loader)


@torch.no_grad()
def extract_features(model: torch.nn.Module, loader) -> Tuple[np.ndarray, np.ndarray]:
    """Pooled features of every stage of the frozen backbone, concatenated.

    Args:
        model (torch.nn.Module): An ``ImageClassifier`` whose neck pools each stage.
        loader (DataLoader): Labeled images.

    Returns:
        tuple[np.ndarray, np.ndarray]: ``(N, sum of stage channels)`` float features and
        ``(N, )`` int labels.
    """
    feats, labels = [], []
    for batch in loader:
        data = model.data_preprocessor(batch, False)
        pooled = model.extract_feat(data['inputs'], stage='neck')  # per stage (B, C_s)
        feats.append(torch.cat(list(pooled), dim=1).float().numpy())  # (B, sum C_s)
        labels.extend(int(s.gt_label) for s in data['data_samples'])
    return np.concatenate(feats), np.asarray(labels)


def fit_probes(features: Dict[str, Tuple[np.ndarray, np.ndarray]],
               C_grid: Sequence[float],
               knn_k: int,
               max_iter: int = 2000,
               splits: Sequence[str] = ('val', 'test')) -> dict:
    """Logistic regression (C chosen on val) and kNN on standardized features.

    Args:
        features (dict): Per split, ``(X, y)``; ``train`` and ``val`` are needed.
        C_grid (Sequence[float]): Inverse regularization strengths to try.
        knn_k (int): Neighbours of the kNN (at most the number of training images).
        max_iter (int): Most L-BFGS iterations per fit. Defaults to 2000.
        splits (Sequence[str]): Splits to report (test only where it is evaluated).
            Defaults to ``('val', 'test')``.

    Returns:
        dict: ``lr``: ``C`` and the accuracy on each of ``splits``; ``knn``: ``k`` and the
        accuracies; ``val_by_C``: the val accuracy of every C.
    """
    require_sklearn()
    import warnings

    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression
    from sklearn.neighbors import KNeighborsClassifier
    from sklearn.preprocessing import StandardScaler
    x_train, y_train = features['train']
    scaler = StandardScaler().fit(x_train)
    scaled = {s: (scaler.transform(x), y) for s, (x, y) in features.items()}
    best, val_by_C = None, {}
    for C in sorted(C_grid):
        with warnings.catch_warnings():
            warnings.simplefilter('ignore', ConvergenceWarning)
            clf = LogisticRegression(C=C, max_iter=max_iter).fit(scaled['train'][0], y_train)
        val = float(clf.score(*scaled['val']))
        val_by_C[str(C)] = val
        if best is None or val > best[0]:
            best = (val, C, clf)
    _, C, clf = best
    k = min(knn_k, len(y_train))
    knn = KNeighborsClassifier(n_neighbors=k).fit(scaled['train'][0], y_train)
    return dict(
        lr=dict(C=C, **{s: float(clf.score(*scaled[s]))
                        for s in splits}),
        knn=dict(k=k, **{s: float(knn.score(*scaled[s]))
                         for s in splits}),
        val_by_C=val_by_C)


def probe_checkpoint(cfg,
                     data_root: str,
                     checkpoint: Optional[str],
                     seed: int = 0,
                     evaluate_test: bool = True) -> dict:
    """Probe one backbone: features of train, val (and test), then :func:`fit_probes`.

    Args:
        cfg (mmengine.Config): The probe config (``probe`` holds ``C``, ``knn_k``,
            ``max_iter``).
        data_root (str): A folder with ``train/``, ``val/`` and ``test/`` in
            ``CustomDataset`` layout.
        checkpoint (str, optional): Pre-training checkpoint; None for random init.
        seed (int): Seed of the random initialization. Defaults to 0.
        evaluate_test (bool): Also extract and score test (False in a pilot, which reads
            val only). Defaults to True.

    Returns:
        dict: :func:`fit_probes`' result.
    """
    model = build_probe_model(cfg, checkpoint, seed)
    splits = SPLITS if evaluate_test else SPLITS[:2]
    features = {s: extract_features(model, split_loader(cfg, data_root, s)) for s in splits}
    return fit_probes(
        features, cfg.probe.C, cfg.probe.knn_k, cfg.probe.get('max_iter', 2000), splits=splits[1:])


def load_probe_config(path: str, data_root: Optional[str] = None):
    """Read a probe config (``data_root`` overrides its loaders' root)."""
    from mmengine.config import Config
    cfg = Config.fromfile(path)
    if data_root is not None:
        cfg.probe_dataloader.dataset.data_root = osp.abspath(data_root)
    return cfg
