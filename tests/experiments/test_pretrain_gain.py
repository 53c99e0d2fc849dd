"""The pretraining-gain experiment: its summary criteria, its configs, and a tiny end-to-end
run of ``tools/analysis_tools/pretrain_gain.py --tiny`` whose JSON is checked."""
import json
import math
import os.path as osp

import pytest

from greenmim_mm.experiments.pretrain_gain import ARMS, GainSettings, measured_step_time, summarize
from tests.helpers import load_tool


def runs(values):
    return [dict(seed=i, test_top1=v, val_top1=v) for i, v in enumerate(values)]


def test_summary_criteria():
    summary = summarize(
        dict(
            random=runs([0.5, 0.52, 0.54]),
            greenmim=runs([0.6, 0.62, 0.64]),
            simmim=runs([0.55, 0.57, 0.59])))
    assert summary['arms']['greenmim']['mean'] == pytest.approx(0.62)
    assert summary['arms']['random']['std'] == pytest.approx(0.02)  # sample std (ddof 1)
    assert summary['pooled_std'] == pytest.approx(0.02)
    assert summary['gain'] == pytest.approx(0.10)
    assert summary['beats_random'] and summary['greenmim_ge_simmim'] and summary['separates']
    # a gain inside twice the pooled spread does not count
    noisy = summarize(
        dict(random=runs([0.4, 0.6]), greenmim=runs([0.5, 0.7]), simmim=runs([0.5, 0.5])))
    assert noisy['pooled_std'] == pytest.approx(math.sqrt(0.02))
    assert not noisy['beats_random'] and not noisy['separates']
    # SimMIM ahead: GreenMIM's gain over random init alone is not enough
    behind = summarize(
        dict(random=runs([0.5, 0.5]), greenmim=runs([0.7, 0.7]), simmim=runs([0.8, 0.8])))
    assert behind['beats_random'] and not behind['greenmim_ge_simmim']
    assert not behind['separates']


def test_step_time_skips_the_first_iterations():
    records = [
        dict(iter=1, time=9.0),
        dict(iter=2, time=1.0),
        dict(iter=3, time=3.0),
        dict(iter=4, time=2.0),
        dict(iter=4, **{'accuracy/top1': 1.0})
    ]
    assert measured_step_time(records, skip=1) == 2.0
    with pytest.raises(ValueError, match='no iteration times'):
        measured_step_time(records, skip=4)


def test_default_settings_hold_more_unlabeled_than_labeled_images():
    s = GainSettings()
    assert s.num_unlabeled > 5 * s.num_labeled and len(s.seeds) >= 3


@pytest.mark.slow
def test_tiny_run_writes_every_seed_to_the_json(tmp_path):
    tool = load_tool('pretrain_gain')
    out = tmp_path / 'gain.json'
    tool.main([
        '--tiny', '--work-dir',
        str(tmp_path / 'work'), '--data-root',
        str(tmp_path / 'data'), '--json',
        str(out), '--plot',
        str(tmp_path / 'g.png')
    ])
    results = json.loads(out.read_text())
    assert results['settings']['seeds'] == [0]
    assert results['data'] == dict(train=12, val=6, test=6, unlabeled=9)
    for arm in ('greenmim', 'simmim'):
        pre = results['pretrain'][arm]
        assert pre['step_s'] > 0 and pre['iters'] >= 2
        assert pre['wall_s'] > 0 and pre['run_step_s'] > 0
        assert math.isfinite(pre['last_loss']) and osp.exists(pre['checkpoint'])
    for arm in ARMS:
        (entry, ) = results['finetune'][arm]
        assert entry['seed'] == 0
        assert 0.0 <= entry['test_top1'] <= 1.0 and 0.0 <= entry['val_top1'] <= 1.0
        # accuracy over 6 images: a multiple of 1/6
        assert entry['test_top1'] * 6 == pytest.approx(round(entry['test_top1'] * 6))
        assert results['summary']['arms'][arm]['values'] == [entry['test_top1']]
    assert results['summary']['arms']['random']['std'] == 0.0
    assert results['total_s'] > 0 and osp.getsize(tmp_path / 'g.png') > 0
    # every run's config was written and inherits a repository config
    cfg = tmp_path / 'work' / 'configs' / 'finetune_greenmim_seed0.py'
    text = cfg.read_text()
    assert 'swin-nano_64px_largest-shape_ft.py' in text and 'Pretrained' in text
