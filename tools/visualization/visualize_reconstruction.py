"""Draw GreenMIM reconstructions: original | masked | reconstruction | reconstruction + visible.

Example::

    python tools/visualization/visualize_reconstruction.py configs/demo/greenmim_demo_pretrain.py \\
        work_dirs/greenmim_demo_pretrain/iter_300.pth data/demo/pretrain/*.jpg --out vis/

Writes ``<out>/<image name>_reconstruction.png`` per image. Each image is resized (short side)
and centre-cropped to the backbone's ``img_size``, normalised by the model's data
pre-processor and masked with the model's ``mask_ratio`` (a mask drawn from ``--seed``, one per
image, or one for all with ``--same-mask``). With ``norm_pix`` the predicted units are
de-normalised with the mean and variance of the same units of the original image.
"""
import argparse
import os
import os.path as osp
from typing import List, Optional

import mmcv
import torch
from mmengine.config import Config, DictAction
from mmengine.dataset import Compose, default_collate
from mmengine.registry import init_default_scope
from mmengine.runner import load_checkpoint

import greenmim_mm  # noqa: F401  (registers the modules)
from greenmim_mm.compat import register_checkpoint_safe_globals
from greenmim_mm.engine.hooks.reconstruction_hook import (preprocessor_stats, reconstruct_batch,
                                                          reconstruction_panels)
from greenmim_mm.models.utils.masking import mask_generator


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    """Parse the command line.

    Args:
        argv (list, optional): Arguments without the program name. Defaults to None.

    Returns:
        argparse.Namespace: The parsed arguments.
    """
    parser = argparse.ArgumentParser(description='Visualise GreenMIM reconstructions')
    parser.add_argument('config', help='pre-training config file')
    parser.add_argument(
        'checkpoint',
        help='checkpoint file (a runner checkpoint or a '
        "state dict); 'none' draws with the randomly initialised model")
    parser.add_argument('images', nargs='+', help='image files')
    parser.add_argument('--out', required=True, help='output folder for the PNGs')
    parser.add_argument('--seed', type=int, default=0, help='seed of the masks')
    parser.add_argument(
        '--same-mask',
        action='store_true',
        help='use one mask for all images (the training default is one mask '
        'per batch); otherwise each image gets its own')
    parser.add_argument(
        '--img-size', type=int, default=None, help="crop size; defaults to the backbone's img_size")
    parser.add_argument('--device', default='cpu', help='device, e.g. cpu or cuda:0')
    parser.add_argument('--no-titles', action='store_true', help='omit the title strip')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override config settings, key=value pairs')
    return parser.parse_args(argv)


def build_model(cfg: Config, checkpoint: str, device: str) -> torch.nn.Module:
    """Build the config's model, load a checkpoint and put it in eval mode.

    Args:
        cfg (Config): The config.
        checkpoint (str): Checkpoint path, or 'none'.
        device (str): Target device.

    Returns:
        torch.nn.Module: The model.
    """
    from mmpretrain.registry import MODELS
    init_default_scope(cfg.get('default_scope', 'mmpretrain'))
    model = MODELS.build(cfg.model)
    model.init_weights()
    if checkpoint.lower() != 'none':
        register_checkpoint_safe_globals()
        load_checkpoint(model, checkpoint, map_location='cpu', strict=True)
    return model.to(device).eval()


def load_images(paths: List[str], img_size: int) -> dict:
    """Read, resize (short side) and centre-crop images into a collated batch.

    Args:
        paths (List[str]): Image files.
        img_size (int): Output size.

    Returns:
        dict: ``{'inputs': uint8 (B, 3, S, S) BGR, 'data_samples': [...]}``.
    """
    pipeline = Compose([
        dict(type='mmpretrain.LoadImageFromFile'),
        dict(
            type='mmpretrain.ResizeEdge',
            scale=img_size,
            edge='short',
            backend='pillow',
            interpolation='bicubic'),
        dict(type='mmpretrain.CenterCrop', crop_size=img_size),
        dict(type='mmpretrain.PackInputs'),
    ])
    return default_collate([pipeline(dict(img_path=p)) for p in paths])


def main(argv: Optional[List[str]] = None) -> List[str]:
    """Write one PNG per image and return their paths.

    Args:
        argv (list, optional): Arguments without the program name. Defaults to None.

    Returns:
        List[str]: Written files.
    """
    args = parse_args(argv)
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    model = build_model(cfg, args.checkpoint, args.device)
    img_size = args.img_size or cfg.model.backbone.get('img_size', 224)
    if not isinstance(img_size, int):
        img_size = int(img_size[0])

    os.makedirs(args.out, exist_ok=True)
    mean, std = preprocessor_stats(model)
    written = []
    for k, path in enumerate(args.images):
        data = model.data_preprocessor(load_images([path], img_size), False)
        inputs = data['inputs']  # (1, 3, S, S)
        generator = mask_generator(args.seed, 0 if args.same_mask else k)
        pred_imgs, mask = reconstruct_batch(model, inputs, generator)
        panel = reconstruction_panels(
            inputs, pred_imgs, mask, mean, std, titles=not args.no_titles)[0]
        name = osp.splitext(osp.basename(path))[0]
        out_file = osp.join(args.out, f'{name}_reconstruction.png')
        if out_file in written:  # same file name from another folder
            out_file = osp.join(args.out, f'{name}_{k}_reconstruction.png')
        rgb_input = getattr(model.data_preprocessor, '_channel_conversion', False)
        mmcv.imwrite(panel[..., ::-1] if rgb_input else panel, out_file)  # imwrite wants BGR
        written.append(out_file)
        print(f'{path} -> {out_file} ({int(mask.sum())} of {mask.numel()} units masked)')
    return written


if __name__ == '__main__':
    main()
