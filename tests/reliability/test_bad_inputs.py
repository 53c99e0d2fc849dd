"""Every bad input gets one clear error that names the problem and what to do.

One table, each row run through a user-facing entry point: ``tools/train.py`` /
``tools/test.py`` (in-process, tiny demo configs) or the dataset classes with their pipeline.
Rows tested elsewhere (the encoder's own checks among them) are listed here, not repeated:

* mask of the wrong shape / dtype / visible count, input not a multiple of 32 for the encoder,
  a stage smaller than the window: tests/models/backbones/test_greenmim_swin.py
  (test_bad_input_size, test_bad_mask, test_bad_mask_counts,
  test_small_stage_without_pad_small_map_is_a_clear_error).
* mask_ratio 0, 1, > 1, < 0, not a number, no visible unit at the backbone's img_size,
  mask_unit / patch_size / out_indices that do not fit: tests/models/algorithms/
  test_greenmim.py::test_invalid_settings_fail_at_build, tests/models/utils/test_masking.py.
* missing pre-training data root or empty folder (also through tools/train.py):
  tests/configs/test_pretrain_configs.py::test_missing_data_says_where_it_looked,
  ::test_train_tool_reports_missing_data.
* missing COCO annotation file or image folder: tests/configs/test_det_configs.py::
  test_missing_coco_names_the_layout.
* numerics -- no NaN/Inf from fully masked rows (fp16/bf16 included), windows without visible
  tokens, gradcheck of the group attention: tests/models/utils/test_group_attention.py,
  tests/models/backbones/test_greenmim_swin.py::test_exact_with_empty_windows,
  tests/models/algorithms/test_greenmim.py::test_bf16_autocast.
"""
import json
import os.path as osp
import re
import time
from typing import Callable, List, NamedTuple, Tuple, Type

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.registry import DefaultScope

import greenmim_mm  # noqa: F401  (registers the modules)
import greenmim_mm.datasets.transforms as transforms
from greenmim_mm.cli.config_errors import UnregisteredTypeError
from greenmim_mm.datasets.transforms import ImageLoadError, SafeLoadImageFromFile
from greenmim_mm.engine.hooks.checkpoint_check import CheckpointMismatchError
from tests.helpers import load_tool
from tests.helpers.reliability import DEMO_DET, DEMO_PRETRAIN, write_tiny_pretrain_config


def resize_pipeline(size: int, load: str = "dict(type='SafeLoadImageFromFile')") -> str:
    return f"[{load}, dict(type='Resize', scale=({size}, {size})), dict(type='PackInputs')]"


class Ctx(NamedTuple):
    """What a table row may use."""
    tmp_path: object
    demo_data: str
    name: str

    def train(self, *argv: str, pipeline: str = None, data_root: str = None) -> None:
        """tools/train.py on the tiny demo pre-training config (1 iteration)."""
        kwargs = {} if pipeline is None else dict(pipeline=pipeline)
        config = write_tiny_pretrain_config(
            str(self.tmp_path / 'tiny.py'), data_root or self.demo_data, max_iters=1, **kwargs)
        options = [a for a in argv if '=' in a and not a.startswith('--')]
        flags = [a for a in argv if a not in options]
        load_tool('train').main([
            config, '--work-dir',
            str(self.tmp_path / 'work'), *flags, '--cfg-options', f'experiment_name={self.name}',
            *options
        ])

    def image_folder(self, files: dict, on_error: str = 'raise'):
        """A PretrainImageFolder of ``files`` (name -> bytes) loading with SafeLoadImageFromFile."""
        from mmpretrain.registry import DATASETS
        folder = self.tmp_path / 'images'
        folder.mkdir(exist_ok=True)
        for name, data in files.items():
            (folder / name).write_bytes(data)
        with DefaultScope.overwrite_default_scope('mmpretrain'):
            return DATASETS.build(
                dict(
                    type='PretrainImageFolder',
                    data_root=str(self.tmp_path),
                    data_prefix='images',
                    pipeline=[dict(type='SafeLoadImageFromFile', on_error=on_error)]))

    def coco(self, ann_text: str, pipeline=()):
        """A CheckedCocoDataset on ``ann_text`` as its annotation file (images in imgs/)."""
        from mmdet.registry import DATASETS

        import greenmim_mm.det  # noqa: F401
        (self.tmp_path / 'annotations').mkdir(exist_ok=True)
        (self.tmp_path / 'imgs').mkdir(exist_ok=True)
        (self.tmp_path / 'annotations' / 'instances.json').write_text(ann_text)
        with DefaultScope.overwrite_default_scope('mmdet'):
            return DATASETS.build(
                dict(
                    type='CheckedCocoDataset',
                    data_root=str(self.tmp_path),
                    ann_file='annotations/instances.json',
                    data_prefix=dict(img='imgs/'),
                    metainfo=dict(classes=('circle', )),
                    pipeline=list(pipeline)))


def demo_jpeg(ctx: Ctx) -> bytes:
    with open(osp.join(ctx.demo_data, 'pretrain', '000001.jpg'), 'rb') as f:
        return f.read()


COCO_ONE_IMAGE = json.dumps(
    dict(
        images=[dict(id=1, file_name='a.jpg', height=64, width=64)],
        annotations=[
            dict(
                id=1,
                image_id=1,
                category_id=1,
                bbox=[1, 1, 10, 10],
                area=100,
                iscrowd=0,
                segmentation=[[1, 1, 11, 1, 11, 11, 1, 11]])
        ],
        categories=[dict(id=1, name='circle')]))


def other_arch_pretrain_checkpoint(ctx: Ctx) -> str:
    """A GreenMIM checkpoint of a narrower Swin (embed 32) than the demo's (embed 48)."""
    from mmpretrain.registry import MODELS
    cfg = Config.fromfile(DEMO_PRETRAIN)
    cfg.model.backbone.arch = dict(embed_dims=32, depths=[2, 2, 2, 2], num_heads=[1, 2, 4, 8])
    cfg.model.neck.embed_dim = 256
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        model = MODELS.build(cfg.model)
    path = str(ctx.tmp_path / 'other_arch.pth')
    torch.save(dict(meta=dict(epoch=0, iter=3), state_dict=model.state_dict()), path)
    return path


def backbone_only_checkpoint(ctx: Ctx) -> str:
    """The demo backbone's weights without the 'backbone.' prefix: nothing fits a GreenMIM."""
    from mmpretrain.registry import MODELS
    cfg = Config.fromfile(DEMO_PRETRAIN)
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        backbone = MODELS.build(cfg.model.backbone)
    path = str(ctx.tmp_path / 'backbone_only.pth')
    torch.save(dict(state_dict=backbone.state_dict()), path)
    return path


def run_test_tool_on_demo_mask_rcnn(ctx: Ctx, checkpoint: str, *options: str) -> None:
    """tools/test.py on the demo Mask R-CNN config and the tiny demo COCO data."""
    root = ctx.demo_data + '/'
    load_tool('test').main([
        DEMO_DET, checkpoint, '--work-dir',
        str(ctx.tmp_path / 'work'), '--cfg-options', f'experiment_name={ctx.name}',
        'model.backbone.init_cfg=None', f'test_dataloader.dataset.data_root={root}',
        'test_dataloader.num_workers=0', 'test_dataloader.persistent_workers=False',
        f'test_evaluator.ann_file={root}annotations/instances_val.json', *options
    ])


def other_num_classes_detector_checkpoint(ctx: Ctx) -> str:
    """The demo Mask R-CNN's weights with 80-class heads (as a COCO-trained checkpoint)."""
    from mmdet.registry import MODELS

    import greenmim_mm.det  # noqa: F401
    cfg = Config.fromfile(DEMO_DET)
    cfg.model.backbone.init_cfg = None
    cfg.model.roi_head.bbox_head.num_classes = 80
    cfg.model.roi_head.mask_head.num_classes = 80
    with DefaultScope.overwrite_default_scope('mmdet'):
        model = MODELS.build(cfg.model)
    path = str(ctx.tmp_path / 'coco80.pth')
    torch.save(dict(meta=dict(), state_dict=model.state_dict()), path)
    return path


class Row(NamedTuple):
    id: str
    run: Callable[[Ctx], object]
    error: Type[BaseException]
    says: Tuple[str, ...]  # regexes the message must match: the problem and the fix


ROWS: List[Row] = [
    # --- image size (through tools/train.py: the data pipeline makes the size)
    Row('image size not a multiple of 32', lambda c: c.train(pipeline=resize_pipeline(80)),
        ValueError, ('got 80x80', r'multiples of the mask unit \(32 px\)')),
    Row('image smaller than one mask unit', lambda c: c.train(pipeline=resize_pipeline(16)),
        ValueError, ('got 16x16', r'multiples of the mask unit \(32 px\)')),
    # --- mask ratio
    Row('mask ratio outside (0, 1)', lambda c: c.train('model.mask_ratio=1.0'), ValueError,
        (r'mask_ratio must be a number in the open interval \(0, 1\)', 'got 1.0')),
    Row('mask ratio leaves no visible unit', lambda c: c.train(pipeline=resize_pipeline(32)),
        ValueError, ('mask_ratio=0.75 leaves no visible unit on a grid of 1 mask units',
                     'lower mask_ratio or use larger images')),
    # --- data root / layout (pre-training folder)
    Row('data root with the wrong layout',
        lambda c: c.train(data_root=osp.join(c.demo_data, 'train')), FileNotFoundError,
        ('the image folder does not exist', r'Looked in: .*demo/train/pretrain', 'Expected',
         'data_root=<dir>')),
    # --- COCO annotations
    Row('COCO annotation file refers to a missing image',
        lambda c: c.coco(COCO_ONE_IMAGE, [dict(type='mmpretrain.SafeLoadImageFromFile')])[0],
        ImageLoadError,
        (r'imgs/a\.jpg does not exist', 'data_root / data_prefix', "on_error='skip'")),
    # --- image files (the dataset with SafeLoadImageFromFile, on_error='raise')
    Row('corrupt image file', lambda c: c.image_folder({'bad.jpg': b'\x00garbage' * 50})[0],
        ImageLoadError,
        (r'images/bad\.jpg could not be decoded', 'Replace or delete', "on_error='skip'")),
    Row('truncated JPEG', lambda c: c.image_folder({'cut.jpg': demo_jpeg(c)[:-500]})[0],
        ImageLoadError,
        (r'images/cut\.jpg is truncated', 'end-of-image marker', 'Replace or delete')),
    Row('empty image file', lambda c: c.image_folder({'empty.png': b''})[0], ImageLoadError,
        (r'images/empty\.png is empty', 'Replace or delete')),
    # --- checkpoints of another architecture
    Row('--resume from another architecture',
        lambda c: c.train('--resume', other_arch_pretrain_checkpoint(c)), CheckpointMismatchError,
        (r'other_arch\.pth does not fit the model',
         r'backbone\.patch_embed\.projection\.weight: \(32, 3, 4, 4\) vs \(48, 3, 4, 4\)',
         'different architecture', 'resume with that config')),
    Row('load_from a checkpoint none of whose weights fit',
        lambda c: c.train(f'load_from={backbone_only_checkpoint(c)}'), CheckpointMismatchError,
        (r'backbone_only\.pth does not fit', r'missing from the checkpoint',
         r'in the checkpoint, not in the model', "lack the model's prefix 'backbone.'",
         r"init_cfg=dict\(type='Pretrained'")),
    Row('tools/test.py with a checkpoint of other heads',
        lambda c: run_test_tool_on_demo_mask_rcnn(c, other_num_classes_detector_checkpoint(c)),
        CheckpointMismatchError,
        (r'coco80\.pth does not fit', r'fc_cls\.weight: \(81, 256\) vs \(5, 256\)',
         'Test with the config the checkpoint was trained with')),
    # --- unregistered types
    Row('tools/train.py: a type nobody registers',
        lambda c: c.train('model.backbone.type=GreenMIMSwinTransformr'), UnregisteredTypeError,
        ('GreenMIMSwinTransformr is not in the mmpretrain::model registry', 'custom_imports',
         r"imports=\['greenmim_mm'\]", 'similar name: GreenMIMSwinTransformer')),
    Row('tools/test.py: a type nobody registers',
        lambda c: run_test_tool_on_demo_mask_rcnn(c, 'unused.pth', 'model.rpn_head.type=RPNHaed'),
        UnregisteredTypeError,
        ('RPNHaed is not in the mmdet::model registry', 'custom_imports', 'RPNHead')),
    # --- COCO annotation files
    Row('COCO annotation file that is not JSON', lambda c: c.coco('this is not json'), ValueError,
        (r'annotations/instances\.json', 'not valid JSON', 'COCO')),
    Row('COCO annotation file that is JSON but not COCO', lambda c: c.coco('["a.jpg 0"]'),
        ValueError, (r'annotations/instances\.json', 'COCO')),
]


@pytest.mark.parametrize('row', ROWS, ids=[r.id for r in ROWS])
def test_bad_input_gets_one_clear_error(row, demo_data, tmp_path, unique_name):
    with pytest.raises(row.error) as info:
        row.run(Ctx(tmp_path, demo_data, unique_name))
    message = str(info.value)
    for pattern in row.says:
        assert re.search(pattern, message), f'{pattern!r} not in:\n{message}'


# --------------------------------------------------------------------- skip, never hang


def test_skip_logs_the_file_and_serves_another_sample(demo_data, tmp_path, unique_name,
                                                      monkeypatch):
    ctx = Ctx(tmp_path, demo_data, unique_name)
    logged = []
    monkeypatch.setattr(transforms, 'print_log', lambda msg, **kw: logged.append(msg))
    dataset = ctx.image_folder({
        'a_bad.jpg': b'not an image',
        'b_good.jpg': demo_jpeg(ctx)
    },
                               on_error='skip')
    assert osp.basename(dataset.get_data_info(0)['img_path']) == 'a_bad.jpg'
    sample = dataset[0]  # BaseDataset refetches a random other index
    assert osp.basename(sample['img_path']) == 'b_good.jpg' and sample['img'].shape == (64, 64, 3)
    assert any('a_bad.jpg' in m and 'skipping' in m and 'could not be decoded' in m
               for m in logged), logged


def test_skip_with_only_bad_files_stops_instead_of_looping(tmp_path, demo_data, unique_name,
                                                           monkeypatch):
    monkeypatch.setattr(transforms, 'print_log', lambda msg, **kw: None)
    dataset = Ctx(tmp_path, demo_data, unique_name).image_folder({
        'x.jpg': b'',
        'y.jpg': b'junk'
    },
                                                                 on_error='skip')
    start = time.time()
    with pytest.raises(Exception, match='Cannot find valid image after 1000'):
        dataset[0]  # mmengine's BaseDataset gives up after max_refetch draws
    assert time.time() - start < 30


def test_train_skips_a_corrupt_image_and_says_which(demo_data, tmp_path, unique_name, monkeypatch):
    """tools/train.py with on_error='skip': the run finishes, the bad file is named."""
    import shutil
    data = tmp_path / 'data'
    shutil.copytree(osp.join(demo_data, 'pretrain'), data / 'pretrain')
    (data / 'pretrain' / 'broken.jpg').write_bytes(b'\xff\xd8 truncated download')
    logged = []
    monkeypatch.setattr(transforms, 'print_log', lambda msg, **kw: logged.append(msg))
    skip = "dict(type='SafeLoadImageFromFile', on_error='skip')"
    Ctx(tmp_path, demo_data, unique_name).train(
        'train_cfg.max_iters=7',
        'train_dataloader.batch_size=2',  # 14 draws of 13 files
        pipeline=resize_pipeline(224, load=skip),
        data_root=str(data))
    assert (tmp_path / 'work' / 'iter_7.pth').exists()
    assert any('broken.jpg' in m and 'is truncated' in m for m in logged), logged


def test_raise_crosses_the_worker_boundary(demo_data, tmp_path, unique_name):
    """With a data worker, the error still reaches tools/train.py, naming the file."""
    import shutil
    data = tmp_path / 'data'
    (data / 'pretrain').mkdir(parents=True)
    shutil.copy(osp.join(demo_data, 'pretrain', '000001.jpg'), data / 'pretrain' / 'ok.jpg')
    (data / 'pretrain' / 'zero.jpg').write_bytes(b'')
    with pytest.raises(ImageLoadError, match=r'zero\.jpg is empty'):
        Ctx(tmp_path, demo_data, unique_name).train(
            'train_dataloader.num_workers=1',
            'train_dataloader.persistent_workers=False',
            pipeline=resize_pipeline(224),
            data_root=str(data))


# --------------------------------------------------------------------- the transform itself


def test_good_images_load_as_with_mmcv(demo_data):
    from mmcv.transforms import LoadImageFromFile
    path = osp.join(demo_data, 'pretrain', '000001.jpg')
    ours = SafeLoadImageFromFile(to_float32=True)(dict(img_path=path))
    theirs = LoadImageFromFile(to_float32=True)(dict(img_path=path))
    assert np.array_equal(ours['img'], theirs['img']) and ours['img_shape'] == (64, 64)
    assert "on_error='raise'" in repr(SafeLoadImageFromFile())


def test_truncation_check_reads_the_jpeg_structure(demo_data):
    data = demo_jpeg(Ctx(None, demo_data, ''))
    assert not transforms.jpeg_is_truncated(data)
    assert not transforms.jpeg_is_truncated(data + b'\x00trailer \xff\xda after EOI')
    assert all(transforms.jpeg_is_truncated(data[:n]) for n in range(2, len(data) - 1, 97))


@pytest.mark.parametrize('kwargs', [dict(on_error='ignore'), dict(ignore_empty=True)])
def test_rejects_silent_settings(kwargs):
    with pytest.raises(ValueError, match="on_error"):
        SafeLoadImageFromFile(**kwargs)


# --------------------------------------------------------------------- the checks themselves


def test_registry_hints_leave_other_key_errors_alone():
    from greenmim_mm.cli.config_errors import registry_hints
    with pytest.raises(KeyError) as info:
        with registry_hints('config.py'):
            raise KeyError('img_path')
    assert type(info.value) is KeyError


def test_checkpoint_check_allows_extra_weights_and_names_prefixes():
    from greenmim_mm.engine.hooks.checkpoint_check import check_checkpoint_fits
    model = {'backbone.w': torch.zeros(2, 3), 'head.b': torch.zeros(2)}
    fits = {'module.backbone.w': torch.ones(2, 3), 'head.b': torch.ones(2), 'ema.x': torch.ones(1)}
    diff = check_checkpoint_fits(model, dict(state_dict=fits))  # DDP prefix, an extra weight
    assert diff.matched == 2 and diff.unexpected == ['ema.x'] and not diff.missing
    wrapped = {'model.backbone.w': torch.ones(2, 3), 'model.head.b': torch.ones(2)}
    with pytest.raises(CheckpointMismatchError, match=r"prefix='model\.'"):
        check_checkpoint_fits(model, wrapped, mode='any')
    with pytest.raises(CheckpointMismatchError, match=r'head\.b: \(3,\) vs \(2,\)'):
        check_checkpoint_fits(model, {'backbone.w': torch.ones(2, 3), 'head.b': torch.ones(3)})
