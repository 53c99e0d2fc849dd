#!/usr/bin/env bash
# The end-to-end GreenMIM demo (`make demo`), sized for 2 CPU cores (the measured times are
# in docs/en/get_started.md):
#
#   1. data/demo: generated COCO-style shapes (skipped when present)
#   2. GreenMIM pretraining of a small Swin on data/demo/pretrain, plus reconstruction pictures
#   3. conversion of the pretrained backbone for mmdet (tools/model_converters/convert_checkpoint.py)
#   4. Mask R-CNN fine-tuning on data/demo from that backbone, data-parallel over 2 processes,
#      then tools/test.py: COCO bbox and segm AP on the val split, pictures of the predictions
#   5. the results, written to $DEMO_WORK_DIR/demo_result.json (tools/misc/demo_result.py:
#      mAP, AP50 and losses of each detector, the time of each phase, settings, machine, date)
#   With DEMO_BASELINE=1, the same fine-tuning and test from random init before the results
#   (the honest baseline; as long again as step 4)
#
# Full logs go to $DEMO_WORK_DIR/*.log; the terminal shows progress only.
#
# Environment:
#   PYTHON           interpreter (default: .venv/bin/python, installed by tools/install.sh)
#   DEMO_WORK_DIR    outputs (default: work_dirs/demo)
#   DEMO_BASELINE=1  also fine-tune and test from random init, same budget (the baseline)
#   DEMO_PROCS       fine-tuning processes, batch 2 each (default 2; the recipe is 2 x 2)
#   DEMO_PUBLISH=1   also copy demo_result.json to docs/demo/ and regenerate the docs' tables
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
BASELINE=${DEMO_BASELINE:-0}
PROCS=${DEMO_PROCS:-2}
PUBLISH=${DEMO_PUBLISH:-0}
DATA_SEED=0
DATA=data/demo
PRETRAIN_CFG=configs/demo/greenmim_demo_pretrain.py
DET_CFG=configs/demo/mask-rcnn_greenmim_demo.py
BACKBONE=$WORK/greenmim_backbone.pth
STEP=0
SECONDS=0
PHASES=()       # --phase NAME=SECONDS of tools/misc/demo_result.py, one per finished phase
PHASE_START=0

say() { printf '[demo] %s\n' "$*"; }
# phase_done NAME: the wall time since the previous phase ended belongs to NAME.
phase_done() {
    PHASES+=(--phase "$1=$((SECONDS - PHASE_START))")
    PHASE_START=$SECONDS
}
step() {
    STEP=$((STEP + 1))
    printf '\n==> [%d/%d] %s   (%dm%02ds elapsed)\n' "$STEP" $((5 + BASELINE)) "$*" \
        $((SECONDS / 60)) $((SECONDS % 60))
}

# PROGRESS: a sed script shortening mmengine's log lines to
# "Iter(train) [ 20/500]  eta: 0:03:10  loss: 1.23".
iter_='(Iter\((train|test)\) *\[ *[0-9]+\/[0-9]+\])'
PROGRESS=$(printf '%s\n' \
    "s/.*$iter_.* (eta: [^ ]+).* (loss: [0-9.e+-]+).*/    \\1  \\3  \\4/p" t \
    "s/.*$iter_ +(eta: [^ ]+).*/    \\1  \\3/p")

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
    if ! "$@" 2>&1 | tee "$log" | sed -nu -E "$PROGRESS"; then
        say "failed: $*"
        fail "$log"
    fi
}

# metric LOG NAME: the value of coco/NAME in the final test line of LOG.
metric() {
    grep -o "coco/$2: [-0-9.]*" "$1" | tail -n 1 | cut -d' ' -f2
}

# free_port: a TCP port for torchrun's rendezvous that was free a moment ago.
free_port() {
    "$PYTHON" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# finetune NAME INIT [SHOW_DIR]: train the demo detector into $WORK/NAME on $PROCS processes
# (tools/dist_train.sh: DDP, gloo on CPU), then test it the same way.
finetune() {
    local name=$1 init=$2 show=${3:-}
    run "$WORK/$name.train.log" env PORT="$(free_port)" PYTHON="$PYTHON" \
        tools/dist_train.sh "$DET_CFG" "$PROCS" --work-dir "$WORK/$name" --no-validate \
        --cfg-options "$init"
    run "$WORK/$name.test.log" env PORT="$(free_port)" PYTHON="$PYTHON" \
        tools/dist_test.sh "$DET_CFG" "$(cat "$WORK/$name/last_checkpoint")" "$PROCS" \
        --work-dir "$WORK/$name" ${show:+--show-dir "$show"}
}

step "Demo data ($DATA)"
if [[ -f $DATA/annotations/instances_val.json && -d $DATA/pretrain ]]; then
    say "found $DATA ($(ls "$DATA"/val | wc -l) val images);" \
        "delete it (make clean-data) to regenerate"
else
    run "$WORK/make_demo_data.log" "$PYTHON" tools/dataset_converters/make_demo_data.py --out "$DATA" --seed "$DATA_SEED"
    tail -n 3 "$WORK/make_demo_data.log"
fi
phase_done data

step "GreenMIM pretraining of the demo Swin ($PRETRAIN_CFG)"
run "$WORK/pretrain.log" "$PYTHON" tools/train.py "$PRETRAIN_CFG" --work-dir "$WORK/pretrain"
PRETRAINED=$(cat "$WORK/pretrain/last_checkpoint")
say "checkpoint: $PRETRAINED"
say "drawing reconstructions of 4 val images (never seen in pretraining)"
run "$WORK/reconstruction.log" "$PYTHON" tools/visualization/visualize_reconstruction.py "$PRETRAIN_CFG" \
    "$PRETRAINED" "$DATA"/val/00000{1,2,3,4}.jpg --out "$WORK/reconstruction"
phase_done pretraining

step "Converting the pretrained backbone for mmdet"
if ! "$PYTHON" tools/model_converters/convert_checkpoint.py "$PRETRAINED" "$BACKBONE" --config "$DET_CFG" 2>&1 \
        | tee "$WORK/convert.log"; then
    fail "$WORK/convert.log"
fi
phase_done conversion

# One single-threaded process per core and batch 2 each: on 2 cores this doubles the images
# seen in the same time (DDP's gradient all-reduce costs ~5%), where 2 OpenMP threads in one
# process gain little on these small tensors.
export OMP_NUM_THREADS=1
step "Fine-tuning and testing Mask R-CNN ($DET_CFG) from the GreenMIM backbone," \
    "$PROCS processes x batch 2"
finetune det_greenmim "model.backbone.init_cfg.checkpoint=$BACKBONE" vis
phase_done finetuning
if [[ $BASELINE == 1 ]]; then
    step "The baseline: the same fine-tuning and test from random init"
    finetune det_scratch "model.backbone.init_cfg=None"
    phase_done baseline
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

# The result file: the metrics json of each test, the phases' times, settings, machine.
result_args=(--work-dir "$WORK" --total-s "$SECONDS" "${PHASES[@]}" --procs "$PROCS"
    --data-seed "$DATA_SEED" --pretrain-config "$PRETRAIN_CFG" --det-config "$DET_CFG")
[[ $BASELINE == 1 ]] && result_args+=(--baseline)
[[ $PUBLISH == 1 ]] && result_args+=(--publish)
if ! "$PYTHON" tools/misc/demo_result.py "${result_args[@]}" > "$WORK/demo_result.log" 2>&1; then
    fail "$WORK/demo_result.log"
fi
printf '  result file: %s\n' "$(grep -m 1 '^wrote ' "$WORK/demo_result.log" | sed 's/^wrote //')"
if [[ $PUBLISH == 1 ]]; then
    grep -E '^(published|updated) ' "$WORK/demo_result.log" | sed 's/^/  /' || true
fi
printf '\nDemo finished in %dm%02ds.\n' $((SECONDS / 60)) $((SECONDS % 60))
