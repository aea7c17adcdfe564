"""`srbench plot fig7|tradeoff`: the papers' figures from runs (fig7) or a tradeoff folder (tradeoff)."""

FIGURES = ["fig7", "tradeoff"]


def add_parser(sub):
    p = sub.add_parser("plot", help="draw the figures of the papers from runs")
    p.add_argument("figure", choices=FIGURES)
    p.add_argument("runs", nargs="*", help="fig7: run folders (default: every run under results/runs); "
                                           "tradeoff: a folder made by `python -m srbench.tradeoff` or its summary.csv "
                                           "(default results/tradeoff)")
    p.add_argument("--output", "-o", required=True, help="PNG file to write")
    p.add_argument("--y", choices=["both", "robustness", "logk"], default="both",
                   help="tradeoff: y axis, Eq. 9 robustness and/or log10 K (default both)")
    return p


def main(args):
    if args.figure == "tradeoff":
        import pandas as pd

        from srbench.plots import tradeoff
        from srbench.tradeoff import load_summary

        table = pd.concat([load_summary(p) for p in (args.runs or ["results/tradeoff"])], ignore_index=True)
        path = tradeoff(table, args.output, y=args.y)
    else:
        from srbench.leaderboard import leaderboard
        from srbench.plots import fig7

        path = fig7(leaderboard(args.runs), args.output)
    print(f"wrote {path}")
    return 0
