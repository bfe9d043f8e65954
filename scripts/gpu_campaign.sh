#!/usr/bin/env bash
# Every training run behind docs/results.md in one call on a lent GPU machine (device tool),
# as parallel processes with a hard deadline; each fold's result is written as soon as it ends.
#
#   bash scripts/prepare_carry.sh            # here: wfdb wheel + MIT-BIH tarball into .carry/
#   (device) bash scripts/gpu_campaign.sh    # there, with .carry carried; results in $OUT
#
# The same commands run on any machine with a GPU and MIT-BIH in --data-dir (README).
set -u
DEADLINE=${DEADLINE:-430}
WIDTH=${WIDTH:-16}
SMALL=${SMALL:-8}
EPOCHS=${EPOCHS:-8}
OUT=${OUT:-/tmp/out}
EXTRA=${EXTRA:-}  # e.g. "--samples-per-epoch 512 --device cpu" for a dry run of this script
W=/tmp/work
mkdir -p "$OUT" $W/logs $W/results $W/runs $W/model
export PYTHONPATH=$PWD OMP_NUM_THREADS=1 ECGVIEWER_CACHE_DIR=/tmp/cache
t0=$(date +%s)
python3 -m pip install -q --no-deps --no-index .carry/wheels/*.whl 2>&1 | tail -2
mkdir -p /tmp/mitdb && tar xJf .carry/mitdb.tar.xz -C /tmp/mitdb
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv > $W/logs/gpu.txt
python3 -c "import torch; print(torch.__version__, torch.cuda.get_device_name(0))" >> $W/logs/gpu.txt
python3 -m trainer dataset --data-dir /tmp/mitdb > $W/logs/dataset.txt 2>&1
echo "setup $(( $(date +%s) - t0 )) s" >> $W/logs/gpu.txt
R="--data-dir /tmp/mitdb --results $W/results --runs $W/runs --quiet --epochs $EPOCHS $EXTRA"
job() { local name=$1; shift; ( timeout "$DEADLINE" bash -c "$*" > "$W/logs/$name.log" 2>&1 ) & }
# throughput first, alone on the GPU
[ -n "${MINIMAL:-}" ] || python3 benchmarks/throughput.py --device cuda --seconds 3 --json $W/results/throughput-gpu.json.txt > $W/logs/bench.log 2>&1
echo "bench done $(( $(date +%s) - t0 )) s" >> $W/logs/gpu.txt
# the ablation rows: the CPU recipe, all five folds and the inter-patient split, folds in parallel
for m in beatgan si-beatgan si-beatgan-v2; do
  job "$m-a" "python3 -m trainer evaluate --model $m --width $WIDTH --folds 0 1 2 $R"
  job "$m-b" "python3 -m trainer evaluate --model $m --width $WIDTH --folds 3 4 $R; python3 -m trainer evaluate --model $m --width $WIDTH --split inter $R"
done
# the small student of each fold starts when that fold's V2 teacher has finished all its epochs
teacher_done() { local f="$W/runs/si-beatgan-v2-$1/fold$2/log.jsonl"; [ -f "$f" ] && [ "$(wc -l < "$f")" -ge "$EPOCHS" ]; }
export -f teacher_done; export W EPOCHS
job small "for k in 0 1 2 3 4; do until teacher_done intra \$k; do sleep 2; done; \
  python3 -m trainer evaluate --model si-beatgan-v2 --name si-beatgan-v2-small --width $SMALL --folds \$k --teacher $W/runs/si-beatgan-v2-intra/fold{fold}/ckpt.pt $R; done; \
  until teacher_done inter 0; do sleep 2; done; \
  python3 -m trainer evaluate --model si-beatgan-v2 --name si-beatgan-v2-small --width $SMALL --split inter --teacher $W/runs/si-beatgan-v2-inter/fold{fold}/ckpt.pt $R"
if [ -z "${MINIMAL:-}" ]; then
# V2 variants on fold 0 (placement, weight and temperature of the contrastive term; two leads),
# to be chosen by the held-out normal beats' reconstruction error only
job v2enc "python3 -m trainer evaluate --model si-beatgan-v2 --name v2-enc --con-place enc --width $WIDTH --folds 0 $R; \
  python3 -m trainer evaluate --model si-beatgan-v2 --name v2-w05-t02 --con-weight 0.5 --con-tau 0.2 --width $WIDTH --folds 0 $R"
job v2two "python3 -m trainer evaluate --model si-beatgan-v2 --name v2-2leads --n-leads 2 --width $WIDTH --folds 0 $R; \
  python3 -m trainer evaluate --model beatgan --name beatgan-2leads --n-leads 2 --width $WIDTH --folds 0 $R"
# full width (BeatGAN's 32) and the reference recipe (batch 64, lr 1e-4, constant; 20 of its 100 epochs)
job full-b "python3 -m trainer evaluate --model beatgan --name beatgan-w32 --width 32 $R"
job full-v "python3 -m trainer evaluate --model si-beatgan-v2 --name si-beatgan-v2-w32 --width 32 $R"
# how much the reference's label-chosen epoch is worth (scripts/selection_study.py), within the deadline
job study "python3 scripts/selection_study.py --data-dir /tmp/mitdb --minutes $(( (DEADLINE - 90) / 60 )) --results $W/results/selection-study --runs $W/runs/selection-study"
job ref "python3 -m trainer evaluate --model beatgan --name beatgan-reference --reference --width 32 --folds 0 --data-dir /tmp/mitdb --results $W/results --runs $W/runs --quiet --epochs 20"
fi
# the bundled model: V2 on every benchmark N beat. The GPU image has no `onnx` package: the weights and
# card are written, the ONNX copy is not (exit 2); back here run `python -m trainer onnx CARD`.
job export "python3 -m trainer export --model si-beatgan-v2 --width $WIDTH --epochs $EPOCHS --data-dir /tmp/mitdb --output $W/model/si-beatgan-v2 --results $W/results"
wait
echo "total $(( $(date +%s) - t0 )) s" >> $W/logs/gpu.txt
rm -f $W/runs/*/fold*/.*.tmp  # a write cut by the deadline (ecgviewer.core.atomic)
tar czf "$OUT/campaign.tar.gz" -C $W logs results $(cd $W && ls model/*.pt model/*.json model/.*-run/log.jsonl runs/*/fold*/log.jsonl 2>/dev/null)
ls -la "$OUT"
