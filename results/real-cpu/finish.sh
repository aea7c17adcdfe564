#!/usr/bin/env bash
# The CPU track's tables and figures, from the committed cells of results/real-cpu/run (run.sh makes them).
# Run from the repository root once run.sh has finished (or any time: it draws what the cells hold).
set -euo pipefail
HERE=results/real-cpu
RUN=$HERE/run
srbench leaderboard $RUN --format md > $HERE/leaderboard.md
srbench leaderboard $RUN --format csv > $HERE/leaderboard.csv
srbench leaderboard $RUN --group-by training --format md > $HERE/leaderboard_by_training.md
srbench plot fig7 $RUN --output $HERE/fig7.png
for dataset in set5 set14 bsd100; do
    srbench plot perception $RUN --dataset $dataset --y both -o $HERE/perception_$dataset.png
done
srbench leaderboard $RUN --format html --out $HERE/site
