"""`srbench leaderboard`: mean over images per model x dataset x scale x attack x alpha."""

from pathlib import Path

from srbench.core.errors import UserError
from srbench.files import atomic_write_text
from srbench.report.leaderboard import by_training, leaderboard, render
from srbench.report.website import render_site


def add_parser(sub):
    p = sub.add_parser("leaderboard", help="aggregate runs into a table (or a static HTML site)")
    p.add_argument("runs", nargs="*", help="run folders (default: every run under results/runs)")
    p.add_argument("--format", default="md", choices=["md", "csv", "json", "latex", "html"],
                   help="html writes a static, offline site into --out (default site/)")
    p.add_argument("--out", help="write here instead of stdout (html: the site folder, default site/)")
    p.add_argument("--group-by", choices=["model", "training"], default="model", dest="group_by",
                   help="training: one row per training kind (pixel, GAN, ...) x dataset x attack x alpha, "
                        "the mean over the models' means (not with --format html)")
    return p


def main(args):
    if args.format == "html":
        if args.group_by != "model":
            raise UserError("--group-by training makes a table; use --format md, csv, json or latex")

        index = render_site(args.runs, args.out or "site")
        print(f"wrote {index}  (open it in a browser; the folder works offline)")
        return 0
    table = leaderboard(args.runs)
    text = render(by_training(table) if args.group_by == "training" else table, args.format)
    if args.out:
        atomic_write_text(Path(args.out), text)
        print(f"wrote {args.out}")
    else:
        print(text)
    return 0
