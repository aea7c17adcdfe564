"""`srbench leaderboard`: mean over images per model x dataset x scale x attack x alpha."""


def add_parser(sub):
    p = sub.add_parser("leaderboard", help="aggregate runs into a table (or a static HTML site)")
    p.add_argument("runs", nargs="*", help="run folders (default: every run under results/runs)")
    p.add_argument("--format", default="md", choices=["md", "csv", "json", "latex", "html"],
                   help="html writes a static, offline site into --out (default site/)")
    p.add_argument("--out", help="write here instead of stdout (html: the site folder, default site/)")
    return p


def main(args):
    from pathlib import Path

    from srbench.leaderboard import leaderboard, render
    from srbench.store import atomic_write_text

    if args.format == "html":
        from srbench.site import render_site

        index = render_site(args.runs, args.out or "site")
        print(f"wrote {index}  (open it in a browser; the folder works offline)")
        return 0
    text = render(leaderboard(args.runs), args.format)
    if args.out:
        atomic_write_text(Path(args.out), text)
        print(f"wrote {args.out}")
    else:
        print(text)
    return 0
