#!/usr/bin/env bash
# The GPU runs behind docs/results.md, in one call on a lent GPU machine (device tool): the
# reference recipe (batch 64, lr 1e-4 constant, width 32, fp32) for BeatGAN and SI-BeatGAN V2 on
# all five intra-patient folds at once, as far as the deadline lets it go, through
# experiments/selection_study.py (a row per checkpoint, written as it is measured, so a cut run keeps
# what it did). It answers what 2 CPU cores cannot: do later epochs of the full recipe, chosen by
# held-out normal beats only, reach the bars; and what the reference's labelled choice adds.
#
#   bash experiments/prepare_carry.sh        # here: wfdb wheel + MIT-BIH tarball into .carry/
#   (device) bash experiments/gpu_campaign.sh # there, with .carry carried; results in $OUT
#
# Run both from the checkout's root. The session-1 campaign (R1 rows, width 16) is this file at
# commit 1c7a527, then scripts/gpu_campaign.sh.
# Dry run on a CPU: DRY=1 DATA=DIR MINUTES=0.3 EXTRA="--device cpu --every 0.01 --max-epochs 0.02" TRAIN_EXTRA="--device cpu" bash experiments/gpu_campaign.sh
set -u
MINUTES=${MINUTES:-7}      # wall time of each study; checked before each checkpoint
DEADLINE=${DEADLINE:-470}  # hard stop of each study, seconds
EVERY=${EVERY:-0.5}        # checkpoint every this fraction of an epoch
MODELS=${MODELS:-"beatgan si-beatgan-v2"}
EXTRA=${EXTRA:-}
OUT=${OUT:-/tmp/out}
DATA=${DATA:-/tmp/mitdb}
W=/tmp/work
mkdir -p "$OUT" $W/logs $W/results $W/runs
export PYTHONPATH=$PWD OMP_NUM_THREADS=1 ECGVIEWER_CACHE_DIR=/tmp/cache PYTHONUNBUFFERED=1
t0=$(date +%s)
if [ -z "${DRY:-}" ]; then
  python3 -m pip install -q --no-deps --no-index .carry/wheels/*.whl 2>&1 | tail -2
  mkdir -p "$DATA" && tar xJf .carry/mitdb.tar.xz -C "$DATA" && cp resources/samples/*.hea resources/samples/*.dat resources/samples/*.atr "$DATA"/
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv > $W/logs/gpu.txt
  python3 -c "import torch; print(torch.__version__, torch.cuda.get_device_name(0))" >> $W/logs/gpu.txt
fi
python3 -m trainer dataset --data-dir "$DATA" > $W/logs/dataset.txt 2>&1 || { cat $W/logs/dataset.txt; exit 1; }
echo "setup $(( $(date +%s) - t0 )) s" >> $W/logs/gpu.txt
# `trainer train` with bf16 autocast on CUDA (its default there): a short check beside the studies.
# (DistributedDataParallel over NCCL needs two GPUs: one GPU cannot check it.)
( timeout 120 python3 -m trainer train --model si-beatgan-v2 --data-dir "$DATA" --samples-per-epoch 8192 \
    --epochs 2 --out $W/runs/amp ${TRAIN_EXTRA:-} > $W/logs/amp.log 2>&1; echo "exit $?" >> $W/logs/amp.log ) &
for m in $MODELS; do
  for k in 0 1 2 3 4; do
    ( timeout "$DEADLINE" python3 -m experiments.selection_study --data-dir "$DATA" --model "$m" --fold $k \
        --every "$EVERY" --minutes "$MINUTES" --name "$m-reference-gpu" --results $W/results \
        --runs $W/runs $EXTRA > "$W/logs/$m-fold$k.log" 2>&1 ) &
  done
done
wait
echo "total $(( $(date +%s) - t0 )) s" >> $W/logs/gpu.txt
tar czf "$OUT/campaign.tar.gz" -C $W logs results $(cd $W && ls runs/amp/log.jsonl 2>/dev/null)
ls -la "$OUT"
