#!/usr/bin/env bash
# The CPU track, resumable: each command skips the cells already in results/real-cpu/run.
# Run from the repository root, beside ../shared (weights and the Set5/Set14/BSD100 copies).
# Two cores: run two shards at once, e.g.
#   for i in 0 1; do SHARD=$i/2 OMP_NUM_THREADS=1 nice -n 19 bash results/real-cpu/run.sh & done
# or one Ray driver that runs one image per task on every core (as since session 7):
#   EXECUTOR=ray OMP_NUM_THREADS=1 nice -n 19 bash results/real-cpu/run.sh
# Either way each finished image (batch) of an unfinished cell is kept under results/real-cpu/run/parts/:
# commit those files with the cells, so a stopped session loses only the images in flight, not whole
# cells (a CRAFT cell on Set14 takes over an hour on one core).
set -euo pipefail
S=../shared
W=(--weights imdn=$S/weights/IMDN_x4.pth --weights rlfn=$S/weights/rlfn_x4.pth
   --weights swiftsrgan=$S/weights/swift_srgan_4x.pth --weights ditn=$S/weights/DITN_Real_x4.pth
   --weights ditn-gan=$S/weights/DITN_Real_GAN_x4.pth --weights craft=$S/weights/craft_x4_ntire2024_team34.pth)
EXEC=()
[[ ${EXECUTOR:-local} == ray ]] && EXEC=(--executor ray --images-per-task 1)
RUN=(--data-root $S/data/sr-benchmarks --out results/real-cpu/run --device cpu --quiet "${W[@]}" ${SHARD:+--shard $SHARD}
     "${EXEC[@]}")
# Set5 for every model first, then Set14, then the first 10 images of BSD100 (the same for every model)
srbench run benchmarks/real-cpu.yaml --datasets set5 --save-images bird "${RUN[@]}"
# images kept for Set5's bird only (README: the repository must stay small enough for the GPU session)
srbench run benchmarks/real-cpu.yaml --datasets set14 --save-images 0 "${RUN[@]}"
srbench run benchmarks/real-cpu.yaml --datasets bsd100 --limit 10 --save-images 0 "${RUN[@]}"
