#!/usr/bin/env bash
# Retrain the learned toy estimators of seeds 0-5 and fill their robustness_sqrtR_x2 cells
# (results/toy/README.md, "The x2 column"). Each seed: train with the seed's own command (the
# checkpoints land in the git-ignored results/runs/), then `srbench toy --fill-x2`, which writes
# nothing unless every existing cell of the table reproduces exactly. Re-running skips seeds whose
# learned rows are already filled and resumes unfinished checkpoints.
# Usage (2 processes, one torch thread each):  nohup bash results/toy/retrain.sh > /tmp/toy-retrain.log 2>&1 &
set -euo pipefail
SEEDS=${SEEDS:-"0 1 2 3 4 5"}
for s in $SEEDS; do
  if [ "$s" = 0 ]; then table=results/toy; ckpt=results/runs/toy-ckpt-per-eps2; else table=results/toy/seed$s; fi
  case $s in
    1|2) ckpt=results/runs/toy-ckpt-per-eps2-seed$s; est=erratic-det,robust-det,erratic-stoch,robust-stoch ;;
    3|4|5) ckpt=results/runs/toy-ckpt-stoch-seed$s; est=erratic-stoch,robust-stoch ;;
    0) est=erratic-det,robust-det,erratic-stoch,robust-stoch ;;
  esac
  if python - "$table/run.json" <<'PY'
import json, sys
filled = json.load(open(sys.argv[1])).get("added_columns", {}).get("robustness_sqrtR_x2", {})
sys.exit(0 if filled and not filled.get("left_blank") else 1)
PY
  then echo "seed $s: x2 column complete, skipped"; continue; fi
  echo "seed $s: training $est ($(date -u +%H:%M))"
  srbench toy --seed "$s" --estimators "$est" --jobs 2 --threads 1 --resume \
    --ckpt-dir "$ckpt" --out "results/runs/toy-retrain-seed$s"
  echo "seed $s: filling $table ($(date -u +%H:%M))"
  srbench toy --fill-x2 "$table" --ckpt-dir "$ckpt"
done
