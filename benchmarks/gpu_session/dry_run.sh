#!/usr/bin/env bash
# Local rehearsal of a GPU session on this machine's CPU (no device call): run.sh with QUICK=1
# (one or two models, Set5, alpha 1, a few attack steps, the tiny LDM-SR, tiny perf.py sizes) over
# the folder .gpu that prepare.sh filled, then collect.py into a scratch copy of results/.
# Imports are limited to the device image's packages (KINDS.md's list) plus the carried wheels
# (devsim/sitecustomize.py), so a missing dependency shows here. About 5 minutes of a busy 2-core CPU.
#   bash benchmarks/gpu_session/prepare.sh && bash benchmarks/gpu_session/dry_run.sh
set -euo pipefail
cd "$(git rev-parse --show-toplevel)"
DRY=${DRY:-/tmp/gpu_session_dry}
KINDS=${KINDS:-/work/.library/device/KINDS.md}
rm -rf "$DRY" && mkdir -p "$DRY/out"
export OUT=$DRY/out WORK=$DRY/work QUICK=1 DEVICE=cpu BUDGET=${BUDGET:-1500} PY=$PWD/.venv/bin/python GPU_TAG=dry
if [[ -f $KINDS ]]; then  # the device image's Python packages, one a line
    sed -n 's/^nvidia-h200: .*Packages: //p' "$KINDS" | sed 's/\.$//' | tr -d ' ' | tr ',' '\n' > "$DRY/device-packages.txt"
    echo "devsim: $(wc -l < "$DRY/device-packages.txt") packages on the device image"
    export DEVSIM_PACKAGES=$DRY/device-packages.txt DEVSIM_SITE=$WORK/site PYTHONPATH=$PWD/benchmarks/gpu_session/devsim
else
    echo "devsim: $KINDS not found; imports are this venv's"
fi
set -o pipefail
nice -n 10 bash benchmarks/gpu_session/run.sh 2>&1 | tee "$OUT/log.txt"
# srbench's entry points as the device sees them: the dist-info run.sh wrote, against this venv's
"$PY" - "$WORK/site" <<'EOF'
import importlib.metadata as md, pathlib, sys
mine = next(pathlib.Path(sys.argv[1]).glob("srbench-*.dist-info"))
ours = {(e.group, e.name, e.value) for e in md.PathDistribution(mine).entry_points}
venv = {(e.group, e.name, e.value) for e in md.distribution("srbench").entry_points if e.group.startswith("srbench")}
print(f"entry points: {len(ours)} in {mine.name}, {len(venv)} in this venv's srbench;",
      "same" if ours == venv else f"DIFFERENT: {sorted(ours ^ venv)}")
sys.exit(ours != venv)
EOF
ls -l "$OUT"
.venv/bin/python benchmarks/gpu_session/collect.py "$OUT" --dest "$DRY/collected" --tag dry
find "$DRY/collected" -type f | sort | sed -n 1,40p  # not head: under pipefail, a SIGPIPE'd sort fails the script
