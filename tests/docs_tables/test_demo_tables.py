"""The demo's tables from a transcribed history and, when published, a run's own result."""
import pytest

from greenmim_mm.docs_tables.demo_tables import (detectors_table, latest_run, losses_table, minutes,
                                                 phases_table, seeds_table, total_time,
                                                 tried_sentence)
from greenmim_mm.docs_tables.formatting import Result

SETTINGS = dict(pretrain_iters=300, finetune_iters=900, finetune_batch_per_process=2, processes=2)
XEON = dict(cpu='Intel Xeon', cpus=2, torch='2.14.1')


def _metrics(b: float, s: float) -> dict:
    return dict(bbox_mAP=b, bbox_mAP_50=2 * b, segm_mAP=s, segm_mAP_50=2 * s)


def history() -> Result:
    run = dict(
        date='2026-11-25',
        machine=dict(XEON, cpu='x86 CPU', date='2026-11-25'),
        settings=SETTINGS,
        pretraining=dict(losses=dict(loss=[None, 0.67])),
        detectors=dict(
            greenmim=dict(_metrics(0.094, 0.124), losses=dict(loss_mask=[0.65, 0.21])),
            scratch=_metrics(0.086, 0.117)),
        phases_s=dict(data=10, pretraining=104, finetuning=399),
        total_s=518,
        time_note='a fresh clone')
    longer = dict(
        date='2026-11-26',
        machine=dict(XEON, date='2026-11-26'),
        label='from a longer pretraining',
        settings=dict(SETTINGS, pretrain_iters=1500),
        detectors=dict(greenmim=_metrics(0.103, 0.132)))
    seeds = dict(
        date='2026-11-25',
        machine=dict(XEON, date='2026-11-25'),
        settings=dict(SETTINGS, processes=1),
        runs=[
            dict(
                finetune_seed=0,
                detectors=dict(greenmim=_metrics(0.065, 0.091), scratch=_metrics(0.043, 0.065)))
        ])
    return Result(
        'docs/demo/h.json',
        dict(
            transcribed_from='old notes; raw outputs not kept',
            runs=[run, longer],
            seed_runs=seeds,
            tried_date='2026-11-25',
            tried=[
                dict(change='lr 2e-3', bbox_mAP=0.083),
                dict(change='NMS', bbox_mAP_before=0.065, bbox_mAP=0.042),
                dict(change='decay')
            ]))


def published() -> Result:
    return Result(
        'docs/demo/r.json',
        dict(
            date='2026-12-07',
            machine=dict(XEON, date='2026-12-07'),
            settings=SETTINGS,
            pretraining=dict(losses=dict(loss=[0.9, 0.66])),
            detectors=dict(
                greenmim=dict(
                    _metrics(0.09, 0.12), losses=dict(loss_cls=[0.7, 0.5], loss_mask=[0.6, 0.2]))),
            phases_s=dict(data=17, pretraining=142, conversion=5, finetuning=560),
            total_s=726))


def test_minutes():
    assert minutes(726) == '12m06s' and minutes(59.6) == '1m00s' and minutes(0) == '0m00s'


def test_detectors_table_marks_the_transcribed_rows():
    lines = detectors_table(history()).splitlines()
    assert lines[0] == ('From `docs/demo/h.json`. * Transcribed from old notes; raw outputs not '
                        'kept.')
    assert lines[4] == ('| from the GreenMIM-pretrained backbone (`make demo`) * | 2026-11-25 | '
                        '2-core x86 CPU, torch 2.14.1 | 8m38s (a fresh clone) | 0.094 (0.188) | '
                        '0.124 (0.248) |')
    assert lines[5].startswith('| random init, same budget (`DEMO_BASELINE=1`) * | 2026-11-25 |')
    assert lines[6].startswith('| from a longer pretraining * | 2026-11-26 | 2-core Intel Xeon')
    assert len(lines) == 7
    with_run = detectors_table(history(), published()).splitlines()
    assert with_run[0].startswith('From `docs/demo/h.json`, `docs/demo/r.json`.')
    assert with_run[7] == ('| from the GreenMIM-pretrained backbone (`make demo`) | 2026-12-07 | '
                           '2-core Intel Xeon, torch 2.14.1 | 12m06s | 0.090 (0.180) | '
                           '0.120 (0.240) |')


def test_the_latest_run_is_the_published_one():
    assert latest_run(history(), None).data['total_s'] == 518
    assert latest_run(history(), published()).path == 'docs/demo/r.json'
    assert total_time(
        history()) == '8m38s (x86 CPU, 2 cores, torch 2.14.1, 2026-11-25, transcribed)'
    assert total_time(history(),
                      published()) == '12m06s (Intel Xeon, 2 cores, torch 2.14.1, 2026-12-07)'
    untimed = Result('h.json', dict(history().data, runs=history().data['runs'][1:]))
    with pytest.raises(ValueError, match='no run records total_s'):
        latest_run(untimed, None)


def test_phases_table_of_the_latest_run():
    lines = phases_table(history(), published()).splitlines()
    assert lines[:2] == [
        '`make demo` of 2026-12-07 (`docs/demo/r.json`).',
        'Machine: Intel Xeon (2 CPUs), torch 2.14.1; 2026-12-07.'
    ]
    assert lines[5:] == [
        '| demo data | 0m17s |', '| pretraining and its pictures | 2m22s |',
        '| conversion | 0m05s |', '| fine-tuning (900 iterations) and test | 9m20s |',
        '| **total** | **12m06s** |'
    ]
    transcribed = phases_table(history()).splitlines()
    assert transcribed[1].endswith('2026-11-25. Transcribed from old notes; raw outputs not kept.')


def test_losses_seeds_and_tried():
    assert losses_table(history(), published()).splitlines()[4:] == [
        '| from the GreenMIM-pretrained backbone (`make demo`) * | 2026-11-25 | 300 | - / 0.67 | '
        '- | 0.65 / 0.21 |',
        '| from the GreenMIM-pretrained backbone (`make demo`) | 2026-12-07 | 300 | 0.90 / 0.66 | '
        '0.70 / 0.50 | 0.60 / 0.20 |'
    ]
    seeds = seeds_table(history()).splitlines()
    assert seeds[0].startswith('The same fine-tuning on 1 process x batch 2 (900 iterations')
    assert seeds[1].endswith('Transcribed from old notes; raw outputs not kept.')
    assert seeds[5] == '| 0 | 0.065 (0.130) / 0.043 (0.086) | 0.091 (0.182) / 0.065 (0.130) |'
    assert tried_sentence(history()) == (
        'lr 2e-3 (bbox mAP 0.083), NMS (bbox mAP 0.065 -> 0.042), decay (2026-11-25; '
        'transcribed, `docs/demo/h.json`)')
