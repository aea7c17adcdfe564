"""`srbench models`: a compact table of the registered models, or one model's whole card."""
from __future__ import annotations

import dataclasses
from typing import Any, Mapping

from srbench.core.errors import UserError
from srbench.models import get_card, list_models
from srbench.models.card import weights_status
from srbench.models.defenses import defenses_table
from srbench.models.weights import env_var_for

GLOB_CHARS = "*?["
LICENSE_WIDTH = 16  # keeps the table within 80 columns


def add_parser(sub):
    p = sub.add_parser("models", help="list the registered models, or show one model's card",
                       description="Without NAME: one line per model (scale, stochastic, training, license, "
                                   "and where its weights come from on this machine). With a model NAME: its "
                                   "whole card. A shell pattern such as '*esr*' filters the table.")
    p.add_argument("name", nargs="?", metavar="NAME", help="a model name, or a shell pattern like '*esr*'")
    return p


def main(args):
    if args.name and not any(c in args.name for c in GLOB_CHARS):
        print(card_text(get_card(args.name)))  # an unknown name is a did-you-mean UserError
        return 0
    names = list_models(args.name)
    if not names:
        raise UserError(f"no model matches {args.name!r}; `srbench models` lists them all")
    print(models_table([get_card(n) for n in names]))
    print("\n" + defenses_table())  # any model behind defenses is a model too (srbench/models/defenses.py)
    return 0


def _cut(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "~"


def models_table(cards) -> str:
    """One line per card, narrow enough for an 80-column terminal (the weights column says where the
    file would come from here; nothing is downloaded or hashed)."""
    header = ("name", "scale", "stoch", "training", "license", "weights")
    rows = [(c.name, f"x{c.scale}", "yes" if c.stochastic else "no", c.training,
             _cut(c.short_license, LICENSE_WIDTH), weights_status(c)) for c in cards]
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(r, widths)).rstrip()
             for r in [header, tuple("-" * w for w in widths), *rows]]
    return "\n".join(lines) + "\n\n`srbench models NAME` shows a model's whole card."


def _value(value: Any, one_per_line: bool = False) -> str:
    if callable(value):
        return f"{getattr(value, '__module__', '?')}:{getattr(value, '__qualname__', repr(value))}"
    if isinstance(value, Mapping):
        return ", ".join(f"{k}={v!r}" for k, v in value.items()) or "-"
    if isinstance(value, (tuple, list)):  # a tuple inside: alternatives (the first that exists is used)
        items = [" or ".join(map(str, v)) if isinstance(v, (tuple, list)) else str(v) for v in value]
        return ("\n" if one_per_line else ", ").join(items) or "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value) if value not in (None, "") else "-"


def _lines(label: str, value: Any, width: int) -> list[str]:
    first, *rest = _value(value, one_per_line=label.endswith("sources")).split("\n")
    return [f"  {label:<{width}}  {first}"] + [f"  {'':<{width}}  {line}" for line in rest]


def card_text(card) -> str:
    """Every field of the card and of its weights, and how the weights are found or supplied here."""
    fields = [(f.name, getattr(card, f.name)) for f in dataclasses.fields(card) if f.name not in ("name", "weights")]
    w = card.weights
    if w is None:
        fields.append(("weights", "none (the model has no weights)"))
    else:
        fields += [(f"weights.{f.name}", getattr(w, f.name)) for f in dataclasses.fields(w)]
        fields += [("weights status", weights_status(card)), ("cache path", card.cache_location()),
                   ("supply with", f"--weights {card.name}=PATH, or {env_var_for(card.name)}=PATH")]
    width = max(len(label) for label, _ in fields)
    out = [card.name]
    for label, value in fields:
        out += _lines(label, value, width)
    return "\n".join(out)
