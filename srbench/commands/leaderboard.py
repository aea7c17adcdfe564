"""`srbench leaderboard`: mean over images per model x dataset x scale x attack x alpha."""


def add_parser(sub):
    p = sub.add_parser("leaderboard", help="aggregate runs into a table")
    p.add_argument("runs", nargs="*", help="run folders (default: every run under results/runs)")
    p.add_argument("--format", default="md", choices=["md", "csv", "json", "latex"])
    return p


def main(args):
    from srbench.leaderboard import leaderboard, render

    print(render(leaderboard(args.runs), args.format))
    return 0
