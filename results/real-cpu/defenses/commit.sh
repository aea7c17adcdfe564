#!/usr/bin/env bash
# Commit the study's finished cells, the images of cells in flight (run/parts, so another machine resumes
# from them) and the figure, tables and README table that figure.py makes of exactly those cells.
# Run from the repository root while run.sh goes on:  bash results/real-cpu/defenses/commit.sh ["message"]
# A cell can land while figure.py runs: it loops until the staged cells are the ones the tables were made of.
set -euo pipefail
HERE=results/real-cpu/defenses
PY=${PYTHON:-.venv/bin/python}
while true; do
    n=$(ls $HERE/run/cells | wc -l)
    $PY $HERE/figure.py > /dev/null  # every dataset with finished cells
    git add $HERE/run/cells $HERE/run/manifest.json $HERE/wall_times.tsv $HERE/README.md $HERE/defenses_set*.md \
        $HERE/defenses_set*.png
    git add -A $HERE/run/parts 2> /dev/null || true  # also stages the parts of cells finished since the last commit
    [[ $(git ls-files $HERE/run/cells | wc -l) == "$n" ]] && break
done
git commit -qm "${1:-results/real-cpu/defenses: $n of 160 cells}" && echo "committed $n cells"
