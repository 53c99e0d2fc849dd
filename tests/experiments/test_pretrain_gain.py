"""The pretraining-gain experiment: schedule arithmetic, time-to-accuracy, the summary
criteria, and tiny end-to-end runs of ``tools/analysis_tools/pretrain_gain.py`` on a folder
the test builds (``--data``) and on rendered glyphs (``--pilot``)."""
import json
import math
import os.path as osp

import pytest

from greenmim_mm.experiments.data_layout import DataLayoutError
from greenmim_mm.experiments.pretrain_gain import (checkpoint_iters, elapsed_at, log_interval_for,
                                                   measured_step_time, schedule_unit, summarize,
                                                   time_to_accuracy)
from tests.helpers import (REPO_ROOT, fake_gain_probes, fake_gain_results, load_tool,
                           write_labeled_folder)

PUBLISHED_JSON = osp.join(REPO_ROOT, 'docs', 'pretraining_gain', 'pretraining_gain.json')


def test_schedule_arithmetic():
    fractions = [0.125, 0.25, 0.5, 1.0]
    assert schedule_unit(fractions) == 8 and schedule_unit([0.5, 1.0]) == 2
    assert checkpoint_iters(1200, fractions) == [150, 300, 600, 1200]
    assert log_interval_for(150) == 50 and log_interval_for(149) == 1
    assert log_interval_for(3) == 3


def test_elapsed_time_adds_the_logged_windows():
    # logged every 2 iterations, each time the mean of the last 2
    records = [
        dict(iter=2, time=1.0),
        dict(iter=4, time=2.0),
        dict(iter=4, loss=0.1),
        dict(iter=6, time=0.5)
    ]
    assert elapsed_at(records, [2, 4, 6]) == [2.0, 6.0, 7.0]


def test_step_time_skips_the_first_iterations():
    records = [
        dict(iter=1, time=9.0),
        dict(iter=2, time=1.0),
        dict(iter=3, time=3.0),
        dict(iter=4, time=2.0)
    ]
    assert measured_step_time(records, skip=1) == 2.0
    with pytest.raises(ValueError, match='no iteration times'):
        measured_step_time(records, skip=4)


def test_time_to_accuracy_interpolates_linearly():
    xs, ys = [0.0, 0.25, 0.5, 1.0], [0.40, 0.50, 0.55, 0.60]
    assert time_to_accuracy(xs, ys, 0.45) == pytest.approx(0.125)
    assert time_to_accuracy(xs, ys, 0.58) == pytest.approx(0.8)
    assert time_to_accuracy(xs, ys, 0.30) == 0.0
    assert time_to_accuracy(xs, ys, 0.61) is None
    # a dip does not count as reaching: the first crossing
    assert time_to_accuracy([0, 1, 2, 3], [0.1, 0.5, 0.2, 0.6], 0.4) == pytest.approx(0.75)


def test_summary_criteria():
    s = fake_gain_results()['summary']['lr']  # summarize() of the accuracies it names
    assert s['arms']['greenmim']['mean'] == pytest.approx(0.55)
    assert s['arms']['random']['std'] == pytest.approx(0.01)  # sample std (ddof 1)
    assert s['gain'] == pytest.approx(0.14) and s['beats_random']
    assert s['greenmim_ge_simmim']
    # from random init (0.41 at 0) to 0.51 at 0.5 T: SimMIM's 0.49 is reached at 0.4 T
    assert s['time_to_simmim'] == pytest.approx(0.4) and s['reaches_within']
    # GreenMIM at SimMIM's 400 iterations is its 0.5 T checkpoint
    assert s['greenmim_at_simmim_iters'] == pytest.approx(0.51)
    assert s['resolved']
    assert [c['iters'] for c in s['curves']['simmim']] == [200, 400]
    assert s['curves']['greenmim'][0]['seconds'] == pytest.approx(50)


def test_summary_criteria_that_fail():
    # GreenMIM ahead of random init but within twice the pooled std, behind SimMIM
    probes, pretrain, settings = fake_gain_probes(
        random=[0.40, 0.50],
        green={
            0.5: [0.41, 0.49],
            1.0: [0.45, 0.55]
        },
        sim={
            0.5: [0.5, 0.5],
            1.0: [0.6, 0.6]
        })
    s = summarize(probes, pretrain, settings)
    assert s['pooled_std'] == pytest.approx(math.sqrt(0.005))
    assert not s['beats_random'] and not s['greenmim_ge_simmim']
    assert s['time_to_simmim'] is None and not s['reaches_within'] and not s['resolved']


def test_a_wrong_layout_fails_before_any_training(tmp_path):
    root = write_labeled_folder(str(tmp_path / 'data'), per_split=dict(test=('cat', )))
    with pytest.raises(DataLayoutError, match='test/ lacks the classes dog'):
        load_tool('pretrain_gain').main(
            ['--tiny', '--data', root, '--work-dir',
             str(tmp_path / 'work')])
    assert not osp.exists(tmp_path / 'work' / 'configs')


def test_publish_only_for_the_full_run():
    tool = load_tool('pretrain_gain')
    for extra in (['--tiny'], ['--pilot'], ['--data', 'x'], ['--json', 'x.json']):
        with pytest.raises(SystemExit):
            tool.parse_args(['--publish', *extra])


def read(path: str) -> bytes:
    with open(path, 'rb') as f:
        return f.read()


@pytest.mark.slow
def test_tiny_run_on_a_user_folder(tmp_path):
    root = write_labeled_folder(str(tmp_path / 'data'), classes=('cat', 'dog', 'eel'))
    published = read(PUBLISHED_JSON)
    work = tmp_path / 'work'
    load_tool('pretrain_gain').main(['--tiny', '--data', root, '--work-dir', str(work)])
    assert read(PUBLISHED_JSON) == published  # a trial run never publishes
    results = json.loads((work / 'pretraining_gain.json').read_text())
    assert osp.getsize(work / 'pretraining_gain.png') > 0
    assert results['data'] == dict(
        classes=['cat', 'dog', 'eel'], unlabeled=3, train=6, val=6, test=6, source=root)
    fractions = results['settings']['fractions']
    for arm in ('greenmim', 'simmim'):
        assert results['calibration'][arm]['step_s'] > 0
        (run, ) = results['pretrain'][arm]
        assert run['iters'] == results['calibration'][arm]['iters'] and run['iters'] % 8 == 0
        assert math.isfinite(run['last_loss'])
        assert [c['iter'] for c in run['checkpoints']] == \
            [int(f * run['iters']) for f in fractions]
        for c in run['checkpoints']:
            assert osp.exists(c['path']) and c['elapsed_s'] > 0
        assert len(results['probe'][arm]) == len(fractions)
    (rand, ) = results['probe']['random']
    for entry in [rand] + results['probe']['greenmim']:
        for probe in ('lr', 'knn'):
            # accuracy over 6 images: a multiple of 1/6
            acc = entry[probe]['test']
            assert 0 <= acc <= 1 and acc * 6 == pytest.approx(round(acc * 6))
    lr = results['summary']['lr']
    assert lr['split'] == 'test' and lr['arms']['random']['values'] == [rand['lr']['test']]
    assert 'time_to_simmim' in lr and 'resolved' in lr
    # every run's config was written and inherits a repository config
    text = (work / 'configs' / 'pretrain_simmim_seed0.py').read_text()
    assert 'simmim_swin-nano_32px_pretrain.py' in text and 'randomness = dict(seed=0)' in text


@pytest.mark.slow
def test_tiny_pilot_on_rendered_glyphs(tmp_path):
    work = tmp_path / 'work'
    load_tool('pretrain_gain').main(
        ['--tiny', '--pilot', '--data-root',
         str(tmp_path / 'glyphs'), '--work-dir',
         str(work)])
    results = json.loads((work / 'pretraining_gain.json').read_text())
    assert set(results['probe']) == {'random', 'greenmim'} and 'simmim' not in results['pretrain']
    assert results['data']['classes'] == list('34AEHKMRTY')
    assert results['data']['train'] == 20 and results['data']['unlabeled'] == 16
    for entry in results['probe']['random'] + results['probe']['greenmim']:
        assert set(entry['lr']) == {'C', 'val'}  # test is not read in a pilot
    assert results['summary']['lr']['split'] == 'val'
    assert 'time_to_simmim' not in results['summary']['lr']
