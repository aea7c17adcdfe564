"""`srbench plot fig7|perception|tradeoff`: the papers' figures from runs (fig7, perception) or a tradeoff folder."""

import sys

from srbench.core.errors import UserError, shown
from srbench.experiments.tradeoff import load_summary
from srbench.report.leaderboard import leaderboard
from srbench.report.plots import fig7, perception, tradeoff

FIGURES = ["fig7", "perception", "tradeoff"]


def add_parser(sub):
    p = sub.add_parser("plot", help="draw the figures of the papers from runs")
    p.add_argument("figure", choices=FIGURES)
    p.add_argument("runs", nargs="*", help="fig7, perception: run folders (default: every run under results/runs); "
                                           "tradeoff: a folder made by `srbench tradeoff` or its summary.csv "
                                           "(default results/tradeoff)")
    p.add_argument("--output", "-o", required=True, help="PNG file to write")
    p.add_argument("--y", choices=["both", "robustness", "logk"],
                   help="tradeoff, perception: y axis, Eq. 9 robustness (adversarial output PSNR) and/or the local "
                        "Lipschitz estimate K (default: both for tradeoff, robustness for perception)")
    p.add_argument("--dataset", help="perception: the dataset to draw (default: the first in the runs)")
    p.add_argument("--alphas", help="perception: comma-separated alphas, one panel each "
                                    "(default: 4 and 8 where the runs hold them, else every alpha)")
    return p


def main(args):
    if args.figure == "tradeoff":
        import pandas as pd

        table = pd.concat([load_summary(p) for p in (args.runs or ["results/tradeoff"])], ignore_index=True)
        path = tradeoff(table, args.output, y=args.y or "both")
    elif args.figure == "perception":
        return _perception(args)
    else:
        path = fig7(leaderboard(args.runs), args.output)
    print(f"wrote {path}")
    return 0


def _perception(args):
    points, left_out = perception(leaderboard(args.runs), args.output, dataset=args.dataset,
                                  alphas=_alphas(args.alphas), y=args.y or "robustness")
    if left_out:
        print(f"srbench: left out (no NIQE in their rows; re-run them with --niqe): {', '.join(left_out)}",
              file=sys.stderr)
    print(f"wrote {args.output}  ({points['model'].nunique()} models on {points['dataset'].iloc[0]})")
    return 0


def _alphas(text):
    """--alphas 4,8 as numbers (None when not given)."""
    if text is None:
        return None
    try:
        alphas = [float(a) for a in text.split(",") if a.strip()]
    except ValueError:
        alphas = []
    if not alphas:
        raise UserError(f"--alphas takes numbers separated by commas, e.g. 4,8; got {shown(text)}")
    return alphas
