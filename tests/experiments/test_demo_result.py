"""greenmim_mm.experiments.demo_result: the result file of ``make demo``, from a fake work
directory laid out as mmengine leaves it (no demo is run)."""
import json
import os.path as osp
import shutil

import pytest

from greenmim_mm.docs_tables import differences, page_paths, result_paths
from greenmim_mm.experiments.demo_result import (PUBLISHED, demo_result, first_last_losses, main,
                                                 read_test_metrics)
from tests.helpers import REPO_ROOT

PRETRAIN_CFG = osp.join(REPO_ROOT, 'configs/demo/greenmim_demo_pretrain.py')
DET_CFG = osp.join(REPO_ROOT, 'configs/demo/mask-rcnn_greenmim_demo.py')
MACHINE = dict(cpu='Test CPU', cpus=2, torch='2.14.1', date='2026-12-07')


def _write(path, text):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def _metrics(bbox: float, segm: float) -> dict:
    """The tags mmengine's LoggerHook dumps after a test (CocoMetric's, plus times)."""
    return {
        'coco/bbox_mAP': bbox,
        'coco/bbox_mAP_50': 2 * bbox,
        'coco/bbox_mAP_75': 0.5 * bbox,
        'coco/segm_mAP': segm,
        'coco/segm_mAP_50': 2 * segm,
        'data_time': 0.01,
        'time': 0.2
    }


def _scalars(**losses) -> str:
    """``vis_data/scalars.json``: one line per logged iteration, each loss from first to last."""
    n = len(next(iter(losses.values())))
    return ''.join(
        json.dumps(dict({
            k: v[i]
            for k, v in losses.items()
        }, iter=10 * (i + 1), lr=1e-3)) + '\n' for i in range(n))


def fake_demo_dir(root, baseline: bool = False):
    """A demo work directory: pretraining and fine-tuning logs, each test's metrics file (an
    older test first, which must not be read)."""
    _write(root / 'pretrain/20261207_100000/vis_data/scalars.json', _scalars(loss=[0.9, 0.7, 0.66]))
    for name, bbox in (('greenmim', 0.09), ('scratch', 0.08))[:2 if baseline else 1]:
        det = root / f'det_{name}'
        _write(det / '20261207_100500/vis_data/scalars.json',
               _scalars(loss_cls=[0.7, 0.5], loss_mask=[0.65, 0.2]))
        _write(det / '20261207_090000/20261207_090000.json', json.dumps(_metrics(0.5, 0.5)))
        _write(det / '20261207_101500/20261207_101500.json', json.dumps(_metrics(bbox, 0.12)))
        _write(det / '20261207_101500/vis_data/scalars.json', '')  # the test's own vis_data
    return root


def test_metrics_and_losses_are_read_from_the_latest_runs(tmp_path):
    work = fake_demo_dir(tmp_path)
    assert read_test_metrics(str(work / 'det_greenmim')) == dict(
        bbox_mAP=0.09, bbox_mAP_50=0.18, segm_mAP=0.12, segm_mAP_50=0.24)
    assert first_last_losses(str(work / 'det_greenmim'), ('loss_cls', 'loss_mask', 'x')) == dict(
        loss_cls=[0.7, 0.5], loss_mask=[0.65, 0.2])
    assert first_last_losses(str(work / 'pretrain'), ('loss', )) == dict(loss=[0.9, 0.66])
    with pytest.raises(FileNotFoundError, match='no test metrics'):
        read_test_metrics(str(work / 'pretrain'))
    with pytest.raises(FileNotFoundError, match='run the demo first'):
        read_test_metrics(str(work / 'det_scratch'))


def test_the_result_records_metrics_times_settings_and_machine(tmp_path):
    work = fake_demo_dir(tmp_path, baseline=True)
    result = demo_result(
        str(work),
        dict(data=17.2, pretraining=142, finetuning=560, baseline=400),
        1130,
        PRETRAIN_CFG,
        DET_CFG,
        procs=2,
        data_seed=0,
        baseline=True,
        machine=MACHINE)
    assert result['date'] == '2026-12-07' and result['machine'] == MACHINE
    assert result['detectors']['greenmim']['bbox_mAP'] == 0.09
    assert result['detectors']['scratch']['bbox_mAP'] == 0.08
    assert result['detectors']['greenmim']['losses']['loss_mask'] == [0.65, 0.2]
    assert result['pretraining']['losses'] == dict(loss=[0.9, 0.66])
    assert result['phases_s'] == dict(data=17.2, pretraining=142, finetuning=560, baseline=400)
    assert result['total_s'] == 1130
    s = result['settings']
    assert (s['pretrain_iters'], s['pretrain_seed'], s['finetune_iters'],
            s['finetune_batch_per_process'], s['finetune_seed'], s['processes'],
            s['data_seed']) == (300, 0, 900, 2, 0, 2, 0)
    without = demo_result(str(work), {}, 1, PRETRAIN_CFG, DET_CFG, 2, 0, machine=MACHINE)
    assert list(without['detectors']) == ['greenmim']  # a stale det_scratch is not read
    with pytest.raises(ValueError, match="unknown demo phases \\['testing'\\]"):
        demo_result(str(work), dict(testing=1), 1, PRETRAIN_CFG, DET_CFG, 2, 0, machine=MACHINE)


@pytest.fixture
def checkout(tmp_path):
    """A copy of the pages and result files."""
    root = tmp_path / 'checkout'
    for path in page_paths(REPO_ROOT) + result_paths(REPO_ROOT):
        dst = root / path
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(osp.join(REPO_ROOT, path), dst)
    (root / PUBLISHED).unlink(missing_ok=True)
    return root


def test_publish_puts_the_run_into_the_pages(tmp_path, checkout, capsys):
    work = fake_demo_dir(tmp_path / 'work')
    argv = [
        '--work-dir',
        str(work), '--total-s', '726', '--phase', 'data=17', '--phase', 'pretraining=142',
        '--phase', 'finetuning=560', '--pretrain-config', PRETRAIN_CFG, '--det-config', DET_CFG
    ]
    main(argv, root=str(checkout))
    assert (work / 'demo_result.json').exists()
    assert not (checkout / PUBLISHED).exists()  # only --publish writes into docs/

    main(argv + ['--publish'], root=str(checkout))
    out = capsys.readouterr().out
    assert f'published {PUBLISHED}' in out and 'updated README.md' in out
    assert differences(str(checkout)) == []
    published = json.loads((checkout / PUBLISHED).read_text())
    readme = (checkout / 'README.md').read_text()
    assert f"12m06s ({published['machine']['cpu']}, " in readme
    assert 'transcribed' not in readme.split('<!-- table:demo_total -->')[1].split('<!--')[0]
    detection = (checkout / 'docs/en/detection.md').read_text()
    assert f"| {published['date']} | " in detection and '| 0.090 (0.180) | 0.120 (0.240) |' \
        in detection
    phases = (checkout / 'docs/en/get_started.md').read_text()
    assert '| demo data | 0m17s |' in phases and '| **total** | **12m06s** |' in phases

    (checkout / PUBLISHED).unlink()  # without the run, the pages differ again
    assert any("table 'demo_total' differs" in p for p in differences(str(checkout)))
