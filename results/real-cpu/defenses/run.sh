#!/usr/bin/env bash
# The defenses study (benchmarks/defenses.yaml), resumable: each command skips the cells already in
# results/real-cpu/defenses/run. Run from the repository root, beside ../shared (weights, Set5/Set14):
#   OMP_NUM_THREADS=1 nice -n 19 nohup bash results/real-cpu/defenses/run.sh > /tmp/defenses.log 2>&1 &
# Order: cheapest cell first, so an interrupted run has the most cells: per dataset (Set5, then Set14),
# the undefended models and the 1x defenses under I-FGSM, then PGD (3 restarts, 3x I-FGSM); then the
# self-ensemble (8x), I-FGSM then PGD; then smoothing (16x), I-FGSM then PGD. The attack flags repeat the suite's
# attacks entries, so the cells are the suite's own (srbench run benchmarks/defenses.yaml ... runs all).
# Each command's start and end go to results/real-cpu/defenses/wall_times.tsv.
set -euo pipefail
S=../shared
HERE=results/real-cpu/defenses
# EXECUTOR=ray: one Ray task per image on every core, each finished image kept under run/parts/ (commit them
# with the cells), so a stop loses only the images in flight (as results/real-cpu/run.sh)
# BIG: smoothing keeps the graphs of its 4 noisy copies: SwiftSRGAN's smoothing on Set14's first 6 images, one
# a batch (barbara the largest of Set14), peaked at 7.9 GB (session 20, /usr/bin/time, one I-FGSM step), so its
# four 128x128 images in one batch would want about 20. Smoothing therefore runs one image a batch, 8 GiB
# reserved a task: two tasks at once in Ray's 16.1 GiB (until session 20 it reserved 12: one task at a time, on
# one core). Set5's images all differ in size, so there one image a batch is the default batching. (The
# self-ensemble before it checkpointed its 8 passes took 21 GB on that 4-image batch; it takes 6 GB there now.)
EXEC=() BIG=()
if [[ ${EXECUTOR:-local} == ray ]]; then
    EXEC=(--executor ray --images-per-task 1)
    BIG=(--memory-per-task 8)
fi
RUN=(--data-root $S/data/sr-benchmarks --out $HERE/run --device cpu --quiet "${EXEC[@]}")
IMDN_W=(--weights imdn=$S/weights/IMDN_x4.pth) SWIFT_W=(--weights swiftsrgan=$S/weights/swift_srgan_4x.pth)
IFGSM=(--attack ifgsm --steps 50 --n-eot 4 --z-chunk 1)
PGD=(--attack pgd --steps 50 --restarts 3 --n-eot 4 --z-chunk 1)
one_x() { echo "$1,$1+jpeg75,$1+jpeg75:adaptive=false,$1+jpeg75:backward=surrogate,$1+bits5,$1+bits5:adaptive=false,$1+median3"; }
CHEAP="$(one_x imdn),$(one_x swiftsrgan)"
ENSEMBLE=imdn+self-ensemble,swiftsrgan+self-ensemble
SMOOTH=imdn+smooth4,imdn+smooth4:adaptive=false,swiftsrgan+smooth4,swiftsrgan+smooth4:adaptive=false

cells() { ls $HERE/run/cells 2>/dev/null | wc -l; }
timed() {  # timed LABEL ARGS...: one srbench run, its wall time logged if it finished a cell (not on a resume with nothing left)
    local label=$1 t0 n0 models="" previous="" arg weights=(); shift
    # each command gets only its models' weights: srbench refuses weights for a model not in the run
    for arg in "$@"; do [[ $previous == --models ]] && models=$arg; previous=$arg; done
    [[ $models == *imdn* ]] && weights+=("${IMDN_W[@]}")
    [[ $models == *swiftsrgan* ]] && weights+=("${SWIFT_W[@]}")
    t0=$(date +%s) n0=$(cells)
    srbench run benchmarks/defenses.yaml "$@" "${RUN[@]}" "${weights[@]}"
    (( $(cells) > n0 )) || return 0
    printf '%s\t%s\t%s\n' "$label" "$(date -u -d @"$t0" +%FT%TZ)" "$(( $(date +%s) - t0 ))" >> $HERE/wall_times.tsv
}

for D in set5 set14; do
    timed "$D ifgsm 1x" --datasets $D --models "$CHEAP" "${IFGSM[@]}"
    timed "$D pgd 1x" --datasets $D --models "$CHEAP" "${PGD[@]}"
    timed "$D ifgsm self-ensemble" --datasets $D --models "$ENSEMBLE" "${IFGSM[@]}"
    if [[ $D == set14 ]]; then
        # Set14's four 128x128 images are one batch (8 a batch by default), one task: for SwiftSRGAN's
        # self-ensemble under PGD an estimated 3-5 hours on a core (2,648 s under I-FGSM times the PGD/I-FGSM
        # ratios seen: IMDN's 4.0-4.6 on that batch, SwiftSRGAN's 3.0-7.3 on its other images), more than a
        # session leaves it (session 17's stop lost it; session 18 stopped it for this). One image a batch
        # makes every image one task of at most about 2 hours. PGD draws its random starts per batch, so
        # one-image batches change those of the images that shared a batch (the 128x128 four, coastguard and
        # foreman); the others' batches are the same at either size. IMDN's cells ran with the default batches.
        timed "$D pgd self-ensemble" --datasets $D --models imdn+self-ensemble "${PGD[@]}"
        timed "$D pgd self-ensemble, one image a batch" --datasets $D --models swiftsrgan+self-ensemble \
            "${PGD[@]}" --batch-size 1
    else
        timed "$D pgd self-ensemble" --datasets $D --models "$ENSEMBLE" "${PGD[@]}"
    fi
    timed "$D ifgsm smoothing" --datasets $D --models "$SMOOTH" "${IFGSM[@]}" --batch-size 1 "${BIG[@]}"
    timed "$D pgd smoothing" --datasets $D --models "$SMOOTH" "${PGD[@]}" --batch-size 1 "${BIG[@]}"
done
