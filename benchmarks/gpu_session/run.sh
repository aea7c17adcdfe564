#!/usr/bin/env bash
# The ONE command of a GPU session (docs/performance.md, "GPU session"). Runs on the device machine,
# from the repository root, over the folder .gpu that benchmarks/gpu_session/prepare.sh filled here
# and the call carries:
#   set -o pipefail; BUDGET=540 bash benchmarks/gpu_session/run.sh 2>&1 | tee $OUT/log.txt
# Installs the carried wheels, then runs the items of $ITEMS in order, each under its own timeout
# (its cap below, or less when less of BUDGET is left):
#   real      issue 14: the real-model track (benchmarks/real-cpu.yaml: Set5, Set14, BSD100's first 10)
#   ldm       issue 16: one attack step of the real-size ldm-sr-x4-t20 (random weights made here), Set5 baby
#   perf      results/perf/README.md's perf.py, EDSR and ESRGAN (overhead, naive loop, speed options)
#   srflow    the same for SRFlow (official architecture, 10 seeds; overhead, naive loop, seed batching)
#   defenses  benchmarks/defenses.yaml, Set5+Set14 (as far as the time left allows)
# Each item's results go into $OUT/<item>.tar.gz as soon as it ends (what is under $OUT comes back even
# if the call is stopped), and a line (item, exit code, seconds, timeout) into $OUT/times.tsv; the
# call's tee writes $OUT/log.txt: 7 files at most, each far below the 16 MiB a file may have.
# Environment: OUT (required), BUDGET (seconds for everything, default 540), ITEMS (default
# "real ldm perf srflow defenses"), DEVICE (default cuda), QUICK=1 (a rehearsal of the plumbing at tiny
# sizes, on a CPU: benchmarks/gpu_session/dry_run.sh), PY (python3), CARRY (.gpu), WORK (scratch,
# /tmp/gpu_session), GPU_TAG (h200: the results' file names). `bash run.sh item NAME` runs one item.
set -euo pipefail
SELF=$(cd "$(dirname "$0")" && pwd)/$(basename "$0")
cd "$(dirname "$SELF")/../.."
export CARRY=${CARRY:-.gpu} WORK=${WORK:-/tmp/gpu_session} DEVICE=${DEVICE:-cuda} QUICK=${QUICK:-0}
export PY=${PY:-python3} GPU_TAG=${GPU_TAG:-h200}
: "${OUT:?OUT must name the folder whose files come back}"
C=$CARRY W=$WORK

srbench() { "$PY" -m srbench.cli "$@"; }
count_cells() { local f=("$1"/cells/*.json); [[ -e ${f[0]} ]] && echo ${#f[@]} || echo 0; }

weights_for() {  # weights_for MODELS: the --weights flags of the models (defended ones by their base model)
    local -A file=([imdn]=IMDN_x4.pth [rlfn]=rlfn_x4.pth [swiftsrgan]=swift_srgan_4x.pth
                   [ditn]=DITN_Real_x4.pth [ditn-gan]=DITN_Real_GAN_x4.pth [craft]=craft_x4_ntire2024_team34.pth)
    local m base seen=,
    for m in ${1//,/ }; do
        base=${m%%+*}
        if [[ -n ${file[$base]:-} && $seen != *,$base,* ]]; then
            echo "--weights $base=$C/weights/${file[$base]}"
            seen+=$base,
        fi
    done
}

# --------------------------------------------------------------------------- the items

real_group() {  # real_group LABEL MODELS DATASETS [FLAGS...]: one process, the datasets in turn as results/real-cpu/run.sh
    local label=$1 models=$2 sets=$3 d limit
    shift 3
    for d in ${sets//,/ }; do
        limit=()
        [[ $d == bsd100 ]] && limit=(--limit 10)  # the first 10 images of BSD100, as on the CPU
        echo "== $(date -u +%T) $label: $d"
        # shellcheck disable=SC2046
        srbench run benchmarks/real-cpu.yaml --models "$models" --datasets "$d" "${limit[@]}" \
            --data-root "$C/data" --out "$W/real/run" --device "$DEVICE" --quiet --save-images 0 \
            $(weights_for "$models") "$@" || echo "!! $label $d: exit code $?"
    done
    echo "== $(date -u +%T) $label: done"
}

item_real() {
    # The suite's own cells (same ids as the CPU's: no --tf32, same flags), all models at once, one process
    # per model as on the CPU (clean outputs and NIQE once per image), CRAFT (~10x the others' kernel
    # launches) split into 5 (its 6 alphas in 2 shards on Set5 and Set14): 10 processes sharing the GPU,
    # one CPU thread each. No images are kept (--save-images 0): the cells are what is compared.
    mkdir -p "$W/real/logs"
    export OMP_NUM_THREADS=1
    local groups g
    if [[ $QUICK == 1 ]]; then  # bicubic__set5__x4__ifgsm_1 is also a committed CPU cell
        groups=("bicubic bicubic set5 --alpha 1" "swiftsrgan swiftsrgan set5 --alpha 1 --limit 1 --steps 2")
    else
        groups=("bicubic-imdn bicubic,imdn set5,set14,bsd100" "rlfn rlfn set5,set14,bsd100"
                "swiftsrgan swiftsrgan set5,set14,bsd100" "ditn ditn set5,set14,bsd100"
                "ditn-gan ditn-gan set5,set14,bsd100" "craft-set5-0 craft set5 --shard 0/2"
                "craft-set5-1 craft set5 --shard 1/2" "craft-set14-0 craft set14 --shard 0/2"
                "craft-set14-1 craft set14 --shard 1/2" "craft-bsd100 craft bsd100")
    fi
    for g in "${groups[@]}"; do
        # shellcheck disable=SC2086
        real_group $g > "$W/real/logs/${g%% *}.log" 2>&1 &
    done
    wait
    tail -n 2 "$W"/real/logs/*.log
    echo "cells written: $(count_cells "$W/real/run")"
}

item_ldm() {
    # Issue 16: the real architecture with random weights (~680 MB) is written here, not carried.
    local size=real args=()
    [[ $QUICK == 1 ]] && size=tiny args=(--image butterfly --seeds 1,2 --repeats 1)
    mkdir -p "$W/ldm"
    {
        "$PY" -m model_zoo.ldm_sr.random_weights "$W/ldm-$size" --size $size
        du -sh "$W/ldm-$size"
        "$PY" benchmarks/gpu_session/ldm_step.py --weights "$W/ldm-$size" --data-root "$C/data" \
            --device "$DEVICE" --out "$W/ldm/ldm_step_$GPU_TAG" "${args[@]}"
    } 2>&1 | tee "$W/ldm/ldm.log"
}

perf_py() {  # perf_py ITEM NAME ARGS...: benchmarks/perf.py, results/perf/README.md's GPU flags, 2 repeats, no compile
    local item=$1 name=$2
    shift 2
    local args=(--device "$DEVICE" --lr 64 --batch 8 --steps 10 --srflow full --repeats 2 --skip-compile)
    [[ $QUICK == 1 ]] && args=(--device "$DEVICE" --lr 8 --batch 1 --steps 1 --repeats 1 --srflow tiny --skip-compile)
    mkdir -p "$W/$item"
    "$PY" benchmarks/perf.py "${args[@]}" "$@" --out "$W/$item/$name" 2>&1 | tee "$W/$item/$item.log"
}
item_perf() { perf_py perf "$GPU_TAG" --models edsr,esrgan --option-models edsr,esrgan; }
item_srflow() { perf_py srflow "${GPU_TAG}_srflow" --models srflow --repeats 1; }  # ~3 min at 1 repeat

item_defenses() {
    # The whole suite (both attacks, Set5+Set14) in 8 shards at once; whatever finishes in time is kept.
    local n=8 i models=imdn,swiftsrgan args=()
    if [[ $QUICK == 1 ]]; then
        n=2 models=imdn,imdn+jpeg75
        args=(--models $models --datasets set5 --limit 1 --attack ifgsm --steps 2 --alpha 2)
    fi
    mkdir -p "$W/defenses/logs"
    export OMP_NUM_THREADS=2
    for ((i = 0; i < n; i++)); do
        # shellcheck disable=SC2046
        srbench run benchmarks/defenses.yaml --shard $i/$n --data-root "$C/data" --out "$W/defenses/run" \
            --device "$DEVICE" --quiet $(weights_for $models) "${args[@]}" > "$W/defenses/logs/shard$i.log" 2>&1 &
    done
    wait
    tail -n 2 "$W"/defenses/logs/*.log
    echo "cells written: $(count_cells "$W/defenses/run")"
}

if [[ ${1:-} == item ]]; then
    "item_$2"
    exit
fi

# --------------------------------------------------------------------------- the session

T0=$(date +%s)
BUDGET=${BUDGET:-540} RESERVE=${RESERVE:-15} ITEMS=${ITEMS:-real ldm perf srflow defenses}
# caps in seconds; the estimates of docs/performance.md ("GPU session") are below them
declare -A CAP=([real]=250 [ldm]=120 [perf]=80 [srflow]=200 [defenses]=600)
[[ $QUICK == 1 ]] && CAP=([real]=600 [ldm]=400 [perf]=300 [srflow]=300 [defenses]=300)
mkdir -p "$OUT"
rm -rf "$W" && mkdir -p "$W"
echo "== $(date -u +%FT%TZ) GPU session: budget ${BUDGET}s, items: $ITEMS; device $DEVICE, QUICK=$QUICK," \
     "commit $(git rev-parse --short HEAD 2>/dev/null || echo '?')"

# The carried wheels (device README), and srbench itself from this tree: its entry points (the model,
# attack and dataset registries) from a dist-info written from pyproject.toml, no build needed.
"$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target "$W/site" "$C"/whl/*.whl
"$PY" - "$W/site" <<'EOF'
import pathlib, sys, tomllib
meta = tomllib.load(open("pyproject.toml", "rb"))["project"]
d = pathlib.Path(sys.argv[1]) / f"srbench-{meta['version']}.dist-info"
d.mkdir(parents=True, exist_ok=True)
(d / "METADATA").write_text(f"Metadata-Version: 2.1\nName: srbench\nVersion: {meta['version']}\n")
(d / "entry_points.txt").write_text("".join(f"[{group}]\n" + "".join(f"{k} = {v}\n" for k, v in eps.items()) + "\n"
                                            for group, eps in meta["entry-points"].items()))
EOF
export PYTHONPATH="$PWD:$W/site${PYTHONPATH:+:$PYTHONPATH}" HF_HUB_OFFLINE=1 PYTHONUNBUFFERED=1
if ! "$PY" -c "import distutils.version" 2>/dev/null; then  # basicsr imports distutils (gone in Python 3.12)
    echo "no distutils: a shim over setuptools' copy"
    mkdir -p "$W/site/distutils" && touch "$W/site/distutils/__init__.py"
    printf '%s\n' "try:" "    from setuptools._distutils.version import LooseVersion, StrictVersion" "except ImportError:" \
        "    from packaging.version import Version as LooseVersion" > "$W/site/distutils/version.py"
fi

{
    date -u +%FT%TZ; uname -a; echo "cores: $(nproc)"; free -g | head -2
    nvidia-smi || echo "nvidia-smi: not available"
    nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.sm,clocks.mem,temperature.gpu,power.draw \
        --format=csv 2>/dev/null || true
    "$PY" - <<'EOF'
import importlib.metadata as md, platform, torch
print("python", platform.python_version(), "torch", torch.__version__, "cuda", torch.version.cuda,
      "cudnn", torch.backends.cudnn.version(), "gpu", torch.cuda.get_device_name(0) if torch.cuda.is_available() else None)
for p in ("numpy", "torchvision", "basicsr", "spandrel", "diffusers", "huggingface-hub", "scikit-image", "opencv-python-headless"):
    try:
        print(p, md.version(p))
    except md.PackageNotFoundError:
        print(p, "-")
from srbench.core.compat import basicsr_niqe, basicsr_psnr_ssim
basicsr_niqe(), basicsr_psnr_ssim()
import spandrel, diffusers  # noqa: F401  (the wheels import)
from srbench.models import MODELS
print("models registered:", len(MODELS.names()))
EOF
} 2>&1 || echo "!! preflight failed: the items below will show where"

printf 'item\texit_code\tseconds\ttimeout_s\n' > "$OUT/times.tsv"
run_item() {  # run_item NAME: the item under timeout min(its cap, time left - RESERVE), then its archive
    local name=$1 cap=${CAP[$1]} t s rc=0
    t=$((T0 + BUDGET - RESERVE - $(date +%s)))
    ((t > cap)) && t=$cap
    if ((t < 20)); then
        echo "== SKIP $name: ${t}s left"
        printf '%s\tskipped\t0\t%s\n' "$name" "$t" >> "$OUT/times.tsv"
        return 0
    fi
    echo "== $(date -u +%T) $name (timeout ${t}s)"
    s=$(date +%s)
    timeout -k 10 "$t" bash "$SELF" item "$name" || rc=$?
    printf '%s\t%s\t%s\t%s\n' "$name" "$rc" "$(($(date +%s) - s))" "$t" | tee -a "$OUT/times.tsv"
    [[ -d $W/$name ]] && tar -czf "$OUT/$name.tar.gz" -C "$W" "$name" && ls -l "$OUT/$name.tar.gz"
    return 0
}
for item in $ITEMS; do
    run_item "$item"
done
echo "== $(date -u +%T) session done in $(($(date +%s) - T0))s"
cat "$OUT/times.tsv"
ls -l "$OUT"
