"""`srbench plot fig7`: adversarial output/input PSNR against alpha."""

FIGURES = ["fig7"]


def add_parser(sub):
    p = sub.add_parser("plot", help="draw the figures of the papers from runs")
    p.add_argument("figure", choices=FIGURES)
    p.add_argument("runs", nargs="*", help="run folders (default: every run under results/runs)")
    p.add_argument("--output", "-o", required=True, help="PNG file to write")
    return p


def main(args):
    from srbench.leaderboard import leaderboard
    from srbench.plots import fig7

    path = fig7(leaderboard(args.runs), args.output)
    print(f"wrote {path}")
    return 0
