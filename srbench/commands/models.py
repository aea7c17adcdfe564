"""`srbench models`: the registered models with their cards."""


def add_parser(sub):
    p = sub.add_parser("models", help="list registered models")
    p.add_argument("pattern", nargs="?", help="shell pattern, e.g. '*esr*'")
    return p


def main(args):
    from rich.console import Console
    from rich.table import Table

    from srbench.models import get_card, list_models

    table = Table("name", "scale", "stochastic", "source", "license", "weights")
    for name in list_models(args.pattern):
        card = get_card(name)
        table.add_row(name, f"x{card.scale}", "yes" if card.stochastic else "no", card.source, card.license,
                      card.weights.file if card.weights else "-")
    Console().print(table)
    return 0
