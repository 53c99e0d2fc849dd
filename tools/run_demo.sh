#!/usr/bin/env bash
# The end-to-end GreenMIM demo (`make demo`), sized for 2 CPU cores and well under 10 minutes
# after installation:
#
#   1. data/demo: generated COCO-style shapes (skipped when present)
#   2. GreenMIM pretraining of a small Swin on data/demo/pretrain, plus reconstruction pictures
#   3. conversion of the pretrained backbone for mmdet (tools/convert_checkpoint.py)
#   4. Mask R-CNN fine-tuning on data/demo from that backbone and, with the same budget and at
#      the same time (one core each), from random init: the honest baseline
#   5. tools/test.py on both: COCO bbox and segm AP on the val split, pictures of the predictions
#
# Full logs go to $DEMO_WORK_DIR/*.log; the terminal shows progress only.
#
# Environment:
#   PYTHON           interpreter (default: .venv/bin/python, installed by tools/install.sh)
#   DEMO_WORK_DIR    outputs (default: work_dirs/demo)
#   DEMO_BASELINE=0  skip the random-init baseline (the GreenMIM fine-tuning then uses both cores)
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

if [[ -z "${PYTHON:-}" ]]; then
    PYTHON=.venv/bin/python
    [[ -x "$PYTHON" ]] || bash tools/install.sh
fi
export PYTHONUNBUFFERED=1  # progress lines reach the terminal as they are logged
export PYTHONWARNINGS=ignore  # import-time deprecation noise of the OpenMMLab stack
WORK=${DEMO_WORK_DIR:-work_dirs/demo}
BASELINE=${DEMO_BASELINE:-1}
DATA=data/demo
PRETRAIN_CFG=configs/demo/greenmim_demo_pretrain.py
DET_CFG=configs/demo/mask-rcnn_greenmim_demo.py
BACKBONE=$WORK/greenmim_backbone.pth
STEP=0
SECONDS=0

say() { printf '[demo] %s\n' "$*"; }
step() {
    STEP=$((STEP + 1))
    printf '\n==> [%d/5] %s   (%dm%02ds elapsed)\n' "$STEP" "$*" $((SECONDS / 60)) \
        $((SECONDS % 60))
}

# progress LABEL: a sed script shortening mmengine's log lines to
# "LABEL Iter(train) [ 20/500]  eta: 0:03:10  loss: 1.23".
progress() {
    local iter='(Iter\((train|test)\) *\[ *[0-9]+\/[0-9]+\])'
    printf '%s\n' \
        "s/.*$iter.* (eta: [^ ]+).* (loss: [0-9.e+-]+).*/    $1\\1  \\3  \\4/p" t \
        "s/.*$iter +(eta: [^ ]+).*/    $1\\1  \\3/p"
}

fail() {  # fail LOG...: the end of each log, then exit
    local log
    for log in "$@"; do
        say "last lines of $log:"
        tail -n 30 "$log"
    done
    exit 1
}

# run LOG CMD...: the full output goes to LOG, progress lines to the terminal.
run() {
    local log=$1
    shift
    mkdir -p "$(dirname "$log")"
    if ! "$@" 2>&1 | tee "$log" | sed -nu -E "$(progress '')"; then
        say "failed: $*"
        fail "$log"
    fi
}

# metric LOG NAME: the value of coco/NAME in the final test line of LOG.
metric() {
    grep -o "coco/$2: [-0-9.]*" "$1" | tail -n 1 | cut -d' ' -f2
}

# finetune NAME INIT [SHOW_DIR]: train the demo detector into $WORK/NAME, then test it.
finetune() {
    local name=$1 init=$2 show=${3:-}
    "$PYTHON" tools/train.py "$DET_CFG" --work-dir "$WORK/$name" --no-validate \
        --cfg-options "$init" > "$WORK/$name.train.log" 2>&1 || return 1
    "$PYTHON" tools/test.py "$DET_CFG" "$(cat "$WORK/$name/last_checkpoint")" \
        --work-dir "$WORK/$name" ${show:+--show-dir "$show"} > "$WORK/$name.test.log" 2>&1
}

step "Demo data ($DATA)"
if [[ -f $DATA/annotations/instances_val.json && -d $DATA/pretrain ]]; then
    say "found $DATA ($(ls "$DATA"/val | wc -l) val images);" \
        "delete it (make clean-data) to regenerate"
else
    run "$WORK/make_demo_data.log" "$PYTHON" tools/make_demo_data.py --out "$DATA" --seed 0
    tail -n 3 "$WORK/make_demo_data.log"
fi

step "GreenMIM pretraining of the demo Swin ($PRETRAIN_CFG)"
run "$WORK/pretrain.log" "$PYTHON" tools/train.py "$PRETRAIN_CFG" --work-dir "$WORK/pretrain"
PRETRAINED=$(cat "$WORK/pretrain/last_checkpoint")
say "checkpoint: $PRETRAINED"
say "drawing reconstructions of 4 val images (never seen in pretraining)"
run "$WORK/reconstruction.log" "$PYTHON" tools/visualize_reconstruction.py "$PRETRAIN_CFG" \
    "$PRETRAINED" "$DATA"/val/00000{1,2,3,4}.jpg --out "$WORK/reconstruction"

step "Converting the pretrained backbone for mmdet"
if ! "$PYTHON" tools/convert_checkpoint.py "$PRETRAINED" "$BACKBONE" --config "$DET_CFG" 2>&1 \
        | tee "$WORK/convert.log"; then
    fail "$WORK/convert.log"
fi

jobs_=(det_greenmim)
if [[ $BASELINE == 1 ]]; then
    jobs_+=(det_scratch)
    step "Fine-tuning and testing Mask R-CNN ($DET_CFG), one core each:" \
        "from the GreenMIM backbone and, same budget, from random init"
    # Half the cores each: on 2 cores two single-threaded runs go as fast as one alone,
    # where 2 OpenMP threads on such small tensors gain little (and spin when contended).
    cores=$(nproc 2>/dev/null || echo 2)
    export OMP_NUM_THREADS=$((cores / 2 > 0 ? cores / 2 : 1))
else
    step "Fine-tuning and testing Mask R-CNN ($DET_CFG) from the GreenMIM backbone"
fi
rm -f "$WORK"/det_*.{train,test}.log
declare -A pids
finetune det_greenmim "model.backbone.init_cfg.checkpoint=$BACKBONE" vis &
pids[det_greenmim]=$!
if [[ $BASELINE == 1 ]]; then
    finetune det_scratch "model.backbone.init_cfg=None" &
    pids[det_scratch]=$!
fi
for name in "${jobs_[@]}"; do  # progress of each run, labelled, until it ends
    label="$(printf '%-13s' "${name#det_}")"
    for phase in train test; do
        tail -n +1 -F --pid="${pids[$name]}" "$WORK/$name.$phase.log" 2>/dev/null \
            | sed -nu -E "$(progress "$label")" &
    done
done
status=0
for name in "${jobs_[@]}"; do
    if ! wait "${pids[$name]}"; then
        say "$name failed"
        status=1
    fi
done
wait  # the progress pipelines end with their runs
if [[ $status != 0 ]]; then
    fail "$WORK"/det_*.log
fi

step "Results on $DATA/val (COCO AP at IoU 0.50:0.95; AP50 in brackets)"
row() {
    local log=$WORK/$2.test.log
    printf '  %-34s bbox mAP %s (%s)   segm mAP %s (%s)\n' "$1" \
        "$(metric "$log" bbox_mAP)" "$(metric "$log" bbox_mAP_50)" \
        "$(metric "$log" segm_mAP)" "$(metric "$log" segm_mAP_50)"
}
row 'Mask R-CNN, GreenMIM-pretrained' det_greenmim
if [[ $BASELINE == 1 ]]; then
    row 'Mask R-CNN, random init (baseline)' det_scratch
fi
vis_dir=$(ls -d "$WORK"/det_greenmim/*/vis 2>/dev/null | sort | tail -n 1)
printf '\nPictures:\n'
printf '  reconstructions (original | masked | reconstruction | + visible): %s/\n' \
    "$WORK/reconstruction"
printf '  detections (left: ground truth, right: prediction):  %s/\n' "${vis_dir:-<missing>}"
printf '  logs: %s/*.log\n' "$WORK"
printf '\nDemo finished in %dm%02ds.\n' $((SECONDS / 60)) $((SECONDS % 60))
