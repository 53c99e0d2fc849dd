"""tools/visualization/visualize_reconstruction.py and the training hook write valid pictures."""
import os.path as osp
import uuid

import cv2
import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.registry import DefaultScope
from mmengine.runner import Runner, save_checkpoint
from mmpretrain.registry import MODELS

import greenmim_mm  # noqa: F401  (registers the modules)
from greenmim_mm.engine.hooks import reconstruction_panels
from tests.helpers import REPO_ROOT, load_tool

DEMO = osp.join(REPO_ROOT, 'configs', 'demo', 'greenmim_demo_pretrain.py')


def load_visualize_tool():
    return load_tool('visualize_reconstruction')


def write_image(path: str, size=(150, 200), seed: int = 0) -> None:
    rng = np.random.default_rng(seed)
    img = rng.integers(0, 256, (*size, 3), dtype=np.uint8)
    cv2.circle(img, (size[1] // 2, size[0] // 2), min(size) // 4, (0, 0, 255), -1)
    cv2.imwrite(path, img)


@pytest.fixture(scope='module')
def demo_checkpoint(tmp_path_factory) -> str:
    """A runner-style checkpoint (with meta and message hub) of the demo model."""
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        model = MODELS.build(Config.fromfile(DEMO).model)
    model.init_weights()
    path = str(tmp_path_factory.mktemp('ckpt') / 'demo.pth')
    save_checkpoint(
        {
            'state_dict': model.state_dict(),
            'meta': {
                'iter': 1
            },
            'message_hub': {
                'log_scalars': {}
            }
        }, path)
    return path


def test_panels_layout_and_pasting():
    inputs = torch.randn(2, 3, 64, 64)
    pred = torch.randn(2, 3, 64, 64)
    mask = torch.tensor([[[True, False], [False, True]]] * 2)
    panels = reconstruction_panels(inputs, pred, mask, titles=False)
    assert len(panels) == 2 and panels[0].shape == (64, 256, 3) and panels[0].dtype == np.uint8
    ref = lambda x: x.clamp(0, 255).round().to(torch.uint8).permute(1, 2, 0).numpy()  # noqa
    p = panels[0]
    assert np.array_equal(p[:, :64], ref(inputs[0]))  # original
    assert np.array_equal(p[:, 128:192], ref(pred[0]))  # reconstruction
    assert (p[:32, 64:96] == 0).all()  # masked unit filled with 0 (the mean colour)
    assert np.array_equal(p[:32, 96:128], ref(inputs[0])[:32, 32:64])  # visible unit kept
    assert np.array_equal(p[:32, 192:224], ref(pred[0])[:32, :32])  # pasted: masked -> pred
    assert np.array_equal(p[:32, 224:256], ref(inputs[0])[:32, 32:64])  # visible -> original
    with_titles = reconstruction_panels(inputs, pred, mask)[0]
    assert with_titles.shape[0] > 64


def test_tool_writes_valid_pngs(tmp_path, demo_checkpoint):
    imgs = []
    for k, size in enumerate([(150, 200), (300, 240)]):
        imgs.append(str(tmp_path / f'img{k}.jpg'))
        write_image(imgs[-1], size, seed=k)
    out = tmp_path / 'vis'
    tool = load_visualize_tool()
    written = tool.main([DEMO, demo_checkpoint, *imgs, '--out', str(out)])
    assert [osp.basename(w)
            for w in written] == ['img0_reconstruction.png', 'img1_reconstruction.png']
    for path in written:
        with open(path, 'rb') as f:
            assert f.read(8) == b'\x89PNG\r\n\x1a\n'
        panel = cv2.imread(path)
        assert panel is not None and panel.shape[1] == 4 * 224 and panel.shape[0] >= 224
    # the same seed gives the same picture
    again = tool.main([DEMO, demo_checkpoint, imgs[0], '--out', str(tmp_path / 'vis2')])
    assert np.array_equal(cv2.imread(written[0]), cv2.imread(again[0]))


def test_tool_original_panel_is_the_cropped_image(tmp_path, demo_checkpoint):
    """The first panel reproduces the (resized, cropped) input: de-normalisation is right."""
    img = np.zeros((224, 224, 3), np.uint8)
    img[:, :, 2] = 200  # red in BGR
    img[:112, :, 0] = 50
    path = str(tmp_path / 'flat.png')
    cv2.imwrite(path, img)
    tool = load_visualize_tool()
    written = tool.main([DEMO, demo_checkpoint, path, '--out', str(tmp_path / 'o'), '--no-titles'])
    panel = cv2.imread(written[0])
    assert panel.shape == (224, 4 * 224, 3)
    assert np.abs(panel[:, :224].astype(int) - img.astype(int)).max() <= 1


def test_hook_saves_pictures_and_does_not_change_training(tmp_path, restore_determinism):
    """The hook writes PNGs through the visualizer; weights equal a run without it."""
    pretrain = tmp_path / 'demo' / 'pretrain'
    pretrain.mkdir(parents=True)
    for k in range(6):
        write_image(str(pretrain / f'{k}.jpg'), (192, 192), seed=k)

    def run(with_hook: bool, work: str):
        cfg = Config.fromfile(DEMO)
        cfg.work_dir = work
        cfg.experiment_name = f'test_hook_{uuid.uuid4().hex}'
        cfg.log_level = 'WARNING'
        cfg.train_dataloader.dataset.data_root = str(tmp_path / 'demo')
        cfg.train_dataloader.update(dict(batch_size=2, num_workers=0, persistent_workers=False))
        cfg.train_cfg.max_iters = 2
        cfg.default_hooks.checkpoint.interval = 100
        cfg.default_hooks.checkpoint.save_last = False
        cfg.custom_hooks = [dict(type='ReconstructionVisHook', interval=1, num_images=1)
                            ] if with_hook else []
        runner = Runner.from_cfg(cfg)
        runner.train()
        return runner

    with_hook = run(True, str(tmp_path / 'a'))
    without = run(False, str(tmp_path / 'b'))
    pngs = sorted(p for p in (tmp_path / 'a').rglob('*.png'))
    assert [p.name for p in pngs] == ['reconstruction_0_1.png', 'reconstruction_0_2.png']
    assert cv2.imread(str(pngs[0])).shape[1] == 4 * 224
    a, b = with_hook.model.state_dict(), without.model.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_hook_rejects_bad_arguments():
    from greenmim_mm.engine.hooks import ReconstructionVisHook
    with pytest.raises(ValueError, match='interval'):
        ReconstructionVisHook(interval=0)
