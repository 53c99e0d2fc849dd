"""``tools/test.py``: mmdet's ``tools/test.py`` for mmdet- and mmpretrain-scope configs.

``--out`` appends a dump evaluator (mmdet's ``DumpDetResults``, which RLE-encodes masks, for
mmdet-scope configs; mmengine's ``DumpResults`` otherwise) and ``--show-dir`` turns on the
config's visualization hook; ``--cfg-options`` is merged last (as mmpretrain's tool does). The
evaluation metrics are logged at the end of the run. On top of upstream, ``--launcher`` without
CUDA runs on the gloo backend, and a config naming an unregistered type fails with what to add
(``custom_imports``). The checkpoint check (a checkpoint of another architecture stops the run
with the list of mismatched shapes instead of being loaded partially) comes from the config
(``default_hooks.checkpoint_check`` of our base runtime configs), as under mmdet's own tool.
"""
import argparse
import logging
from typing import TYPE_CHECKING, Optional

from mmengine.config import Config, ConfigDict
from mmengine.logging import print_log

from .common import (cuda_available, drop_persistent_workers_without_workers, managed_runner,
                     merge_launcher_and_work_dir, parse_with_run_arguments)

if TYPE_CHECKING:
    from mmengine.evaluator import DumpResults


def parse_args(argv: Optional[list] = None) -> argparse.Namespace:
    """Parse the command line (mmdet's ``tools/test.py`` flags).

    Args:
        argv (list, optional): Arguments without the program name. Defaults to None, which
            reads ``sys.argv``.

    Returns:
        argparse.Namespace: The parsed arguments.
    """
    parser = argparse.ArgumentParser(
        description='Test (and evaluate) a checkpoint (mmdet or mmpretrain config)')
    parser.add_argument('config', help='test config file path')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument(
        '--work-dir', help='the directory to save the file containing evaluation metrics')
    parser.add_argument(
        '--out', help='dump predictions to a pickle file (.pkl/.pickle) for offline evaluation')
    parser.add_argument(
        '--show-dir',
        help='directory where painted images are saved; for mmdet configs it is relative to '
        'work_dir/timestamp/ as in mmdet, for mmpretrain configs it is used as given')
    args = parse_with_run_arguments(parser, argv)
    if args.out is not None and not args.out.endswith(('.pkl', '.pickle')):
        parser.error('--out must be a .pkl or .pickle file')
    return args


def enable_visualization(cfg: Config, show_dir: str) -> bool:
    """Turn on the config's visualization hook to save painted predictions.

    mmdet scope: ``default_hooks.visualization`` gets ``draw=True`` and
    ``test_out_dir=show_dir`` (mmdet's ``trigger_visualization_hook``). mmpretrain scope:
    ``enable=True`` and ``out_dir=show_dir`` (mmpretrain's ``tools/test.py``). Configs without
    a visualization hook, or of another scope, are left unchanged with a warning.

    Args:
        cfg (Config): The config to modify in place.
        show_dir (str): Output directory of the painted images.

    Returns:
        bool: Whether visualization was enabled.
    """
    scope = cfg.get('default_scope')
    hooks = cfg.get('default_hooks') or {}
    if scope not in ('mmdet', 'mmpretrain') or 'visualization' not in hooks:
        print_log(
            f'--show-dir is ignored: the config (default_scope={scope!r}) has no '
            "mmdet/mmpretrain visualization hook in `default_hooks['visualization']`",
            logger='current',
            level=logging.WARNING)
        return False
    hook = hooks['visualization']
    if scope == 'mmdet':
        hook['draw'] = True
        hook['test_out_dir'] = show_dir
    else:
        hook['enable'] = True
        hook['out_dir'] = show_dir
    return True


def set_test_dataloader_defaults(cfg: Config) -> None:
    """Fill in mmpretrain's test dataloader defaults, adapted to the machine and the scope.

    ``pin_memory`` defaults to whether CUDA is available; mmpretrain-scope configs default to
    ``collate_fn=default_collate`` as mmpretrain's tool does (mmdet's keep
    ``pseudo_collate``). Values in the config win.

    Args:
        cfg (Config): The config to modify in place.
    """
    if cfg.get('test_dataloader') is None:
        return
    defaults = ConfigDict(pin_memory=cuda_available())
    if cfg.get('default_scope') == 'mmpretrain':
        defaults.collate_fn = dict(type='default_collate')
    defaults.update(cfg.test_dataloader)
    cfg.test_dataloader = defaults


def merge_args(cfg: Config, args: argparse.Namespace) -> Config:
    """Merge the command line into the config.

    Args:
        cfg (Config): The loaded config.
        args (argparse.Namespace): Parsed arguments.

    Returns:
        Config: The same config, modified.
    """
    merge_launcher_and_work_dir(cfg, args)
    cfg.load_from = args.checkpoint
    if args.show_dir:
        enable_visualization(cfg, args.show_dir)
    set_test_dataloader_defaults(cfg)
    if args.cfg_options is not None:
        cfg.merge_from_dict(args.cfg_options)
    drop_persistent_workers_without_workers(cfg)
    return cfg


def dump_metric(cfg: Config, out_file: str) -> 'DumpResults':
    """Build the evaluator that dumps predictions to ``out_file``.

    Args:
        cfg (Config): The merged config.
        out_file (str): The .pkl/.pickle output path.

    Returns:
        DumpResults: mmdet's ``DumpDetResults`` for mmdet-scope configs, else mmengine's
        ``DumpResults``.
    """
    if cfg.get('default_scope') == 'mmdet':
        from mmdet.evaluation import DumpDetResults
        return DumpDetResults(out_file_path=out_file)
    from mmengine.evaluator import DumpResults
    return DumpResults(out_file_path=out_file)


def main(argv: Optional[list] = None) -> dict:
    """Parse arguments, build the runner and test.

    Args:
        argv (list, optional): Arguments without the program name. Defaults to None.

    Returns:
        dict: The evaluation metrics.
    """
    args = parse_args(argv)
    cfg = merge_args(Config.fromfile(args.config), args)
    with managed_runner(cfg, args.config) as runner:
        if args.out is not None:
            runner.test_evaluator.metrics.append(dump_metric(cfg, args.out))
        return runner.test()
