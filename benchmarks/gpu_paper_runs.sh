#!/usr/bin/env bash
# Paper-size FNN trainings side by side on one CUDA GPU (issues 2 and 3).
#
#   bash benchmarks/gpu_paper_runs.sh start    # smoke test, Chern data, then the four runs (detached)
#   bash benchmarks/gpu_paper_runs.sh resume   # smoke test, Chern data, then the runs still open
#   bash benchmarks/gpu_paper_runs.sh fk       # the paper-size Falicov-Kimball runs (in-situ DMFT)
#   bash benchmarks/gpu_paper_runs.sh wait S   # watch them for S seconds, then pack the run folders
#
# `resume` runs the list `open_runs`: a run whose folder was carried (device `carry`, e.g.
# runs/gpu-chern-cond-e121; a CPU folder is copied to runs/gpu-<name> first) goes on from its
# last checkpoint, a run with no folder starts from epoch 1. Always carry .devdata (MNIST).
#
# The runs are the CLI's own (`python -m qnets.cli run ... --set device=cuda`), each in runs/gpu-*,
# checkpointed every epoch: a machine lost in between resumes with `start` on the unpacked
# folders (every run is started with --resume). MNIST is read from $QNETS_DATA (default
# .devdata, a copy of the idx.gz files); the packed folders go to $OUT (default runs/).
set -u -o pipefail
cd "$(dirname "$0")/.."
export PYTHONPATH=$PWD/src PYTHONUNBUFFERED=1
export QNETS_DATA=${QNETS_DATA:-$PWD/.devdata}
OUT=${OUT:-$PWD/runs}
mkdir -p runs "$OUT"

runs=(
  "gpu-fc-ham-e121|fnn-mnist --config fc-hamiltonian"
  "gpu-local-nnn-e121|fnn-mnist --config local-nnn"
  "gpu-chern-ldos-e80|fnn-chern-ldos --set epochs=80"
  "gpu-chern-cond-e121|fnn-chern-conductance"
)

# still open after session 10: FOLDER|experiment and options. The conductance net's 121 epochs
# (issue 3, >= 99.5 %): 5.4-8 s per epoch on a GPU, ~106 s on two CPU threads. Seed 0 ran on the
# CPU over sessions 13-15 (99.30 % best, 99.24 % final; docs/results.md), so these give the GPU's
# rounding of seed 0 and a second seed; each one's result is reported, not only the better one.
# The third adds weight decay 1e-3 (the paper's LDOS setting, not its conductance one): 45 CPU
# epochs with it gave the lowest test loss and 99.46 % best (session 16); seed 1 of the same
# 45-epoch recipe reached 99.52 % best, 99.46 % final (session 17). These runs test the
# paper's 121-epoch schedule.
open_runs=(
  "gpu-chern-cond-e121|fnn-chern-conductance"
  "gpu-chern-cond-e121-s1|fnn-chern-conductance --set seed=1"
  "gpu-chern-cond-e121-wd|fnn-chern-conductance --set weight_decay=1e-3"
)

# the paper-size Falicov-Kimball runs (issue 3): 12x12, 40 Matsubara frequencies, 10,000 / 1,000
# samples, DMFT re-solved with the network attached in every step. Never run yet. On one CPU
# core the data alone take ~9 h (stripe, linear mixing) or ~4.6 h with Anderson acceleration
# (benchmarks/dmft_fk.py); here the data's DMFT runs on the GPU in chunks of 100, with Anderson
# (depth 6: 6x fewer iterations on 12x12 stripe samples, 2.8x on metal ones, same fixed points).
fk_runs=(
  "gpu-fk-metal|fnn-fk-metal --set chunk=100 --set dmft_anderson=6"
  "gpu-fk-stripe|fnn-fk-stripe --set chunk=100 --set dmft_anderson=6"
)

progress() {  # every runs/gpu-* folder, the four above and any started by hand
  for dir in runs/gpu-*/; do
    name=$(basename "$dir")
    if [ -f "runs/$name/metrics.jsonl" ]; then
      python3 - "runs/$name" <<'EOF'
import json, os, sys
rows = [json.loads(l) for l in open(sys.argv[1] + "/metrics.jsonl")]
r = rows[-1]
best = max(x["test_accuracy"] for x in rows)
print(f"{sys.argv[1]}: epoch {r['epoch']}, test {r['test_accuracy']:.4f} (best {best:.4f}), "
      f"{r['epoch_seconds']:.1f} s/epoch, final.json: {os.path.isfile(sys.argv[1] + '/final.json')}")
EOF
    else
      echo "runs/$name: no epoch yet"
    fi
  done
}

launch() {  # launch ENTRY [EXTRA --set ...]: one run of $runs, detached, resumable
  local name=${1%%|*} args=${1#*|}; shift
  setsid nohup python3 -m qnets.cli run $args --set device=cuda --set threads=2 "$@" \
    --out "runs/$name" --resume --no-progress > "runs/$name.log" 2>&1 < /dev/null &
}

smoke() {  # the GPU, torch, and the CI-sized MNIST net for one epoch on it
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
  python3 -c "import torch; print('torch', torch.__version__, 'cuda', torch.cuda.is_available())"
  python3 -m qnets.cli run fnn-mnist --config ci-small --set epochs=1 --set device=cuda \
    --out runs/gpu-smoke --no-progress 2>&1 | tail -3
}

chern_data() {  # the paper-size Chern data once (the Chern runs share its cache)
  python3 -c "
from qnets.experiments.fnn_chern import FnnChernConfig, chern_data
import time; t = time.time(); c = FnnChernConfig(workers=12)
chern_data(c, 'train'); chern_data(c, 'test'); print(f'Chern data: {time.time() - t:.0f} s')"
}

case "${1:-}" in
start)
  smoke || exit 1
  for entry in "${runs[@]:0:2}"; do launch "$entry"; done
  chern_data
  for entry in "${runs[@]:2:2}"; do launch "$entry" --set workers=4; done
  sleep 20; progress
  ;;
resume)
  smoke || exit 1
  for entry in "${open_runs[@]}"; do
    name=${entry%%|*}
    case "$name" in gpu-*) ;; *) [ -d "runs/gpu-$name" ] || cp -r "runs/$name" "runs/gpu-$name"
                               entry="gpu-$entry" ;; esac
    [ -f "runs/${entry%%|*}/checkpoint.pt" ] || echo "runs/${entry%%|*}: no checkpoint, starting at epoch 1"
    case "$entry" in *chern*) [ -n "${have_chern:-}" ] || { chern_data; have_chern=1; }
                              launch "$entry" --set workers=4 ;;
                     *) launch "$entry" ;; esac
  done
  sleep 20; progress
  ;;
fk)
  for entry in "${fk_runs[@]}"; do launch "$entry"; done
  sleep 20; progress
  ;;
wait)
  end=$(( $(date +%s) + ${2:-300} ))
  while [ "$(date +%s)" -lt "$end" ]; do
    sleep 30
    if ! pgrep -f "qnets.cli run" > /dev/null; then echo "all runs ended"; break; fi
  done
  progress; nvidia-smi --query-gpu=utilization.gpu,memory.used --format=csv,noheader
  tail -n 3 runs/gpu-*.log
  tar czf "$OUT/gpu-runs.tgz" --exclude=checkpoint.prev.pt runs/gpu-*
  ls -la "$OUT"
  ;;
*)
  echo "usage: $0 start | resume | fk | wait SECONDS" >&2; exit 2
  ;;
esac
