"""Defenses as model wrappers: ``MODEL+DEFENSE[:KEY=VALUE]...`` is a model of its own.

A defense turns any restorer into a new one (a :class:`DefendedRestorer`) with the same
interface, so attacks, the evaluator and the leaderboards need nothing new. Spec grammar
(parsed in the one model-spec parser, srbench/models/spec.py)::

    MODEL(+DEFENSE)*        DEFENSE = NAME[PRIMARY](:KEY=VALUE)*

``imdn+jpeg75`` (quality 75), ``esrgan+self-ensemble``, ``imdn+smooth8:sigma=4``,
``imdn+jpeg75:adaptive=false``. Defenses chain left to right: ``m+a+b`` is ``b`` wrapped
around ``a`` wrapped around ``m`` (``b`` sees the input first).

Each defense declares whether it is differentiable and whether it is random. By default
(``adaptive=true``) attacks adapt to it without knowing it exists:

- a non-differentiable one passes the gradient through as the identity (BPDA, Athalye et
  al. 2018): forward through the defense, backward as if it were not there;
- a random one draws its randomness in ``sample_z``, so it is part of z: the same z gives
  the same output, and the evaluator's seeds (the attack's ``n_eot``) average over it (EoT).

BPDA's backward pass may also be a differentiable approximation of the defense instead of the
identity (Athalye et al.'s general form): ``jpeg75:backward=surrogate`` differentiates a
torch version of JPEG's lossy steps (srbench/models/differentiable_jpeg.py) while the forward
pass stays PIL's JPEG.

``adaptive=false`` differentiates the defense as implemented, to show gradient masking:
bit-depth reduction (``round``) and JPEG (PIL, outside autograd) give a zero gradient, and
smoothing only the first of the evaluator's noise draws carries a gradient (no averaging).
The median filter counts as differentiable: autograd's sub-gradient (each output pixel's
gradient goes to the input pixel that was the median) attacked IMDN harder than BPDA did,
so both modes use it.
"""
from __future__ import annotations

import dataclasses
import functools
import io
import re
import typing
from typing import Any, Callable, ClassVar, Mapping, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from srbench.core.errors import UserError, shown
from srbench.core.pixels import to_uint8
from srbench.core.registry import Registry
from srbench.core.restorer import Restorer, Z, checkpointed
from srbench.models.differentiable_jpeg import jpeg_like

DEFENSES = Registry("defense")

_TOKEN = re.compile(r"^(?P<name>[A-Za-z][A-Za-z-]*)(?P<primary>\d[\d.]*)?(?P<options>:.*)?$")


@dataclasses.dataclass(frozen=True)
class Defense:
    """Base of all defenses: a dataclass of options plus how it restores through the wrapped model."""

    name: ClassVar[str] = "defense"
    primary: ClassVar[str | None] = None  # the option a number after the name sets (jpeg75: q = 75)
    differentiable: ClassVar[bool] = True
    random: ClassVar[bool] = False
    summary: ClassVar[str] = ""

    adaptive: bool = True  # BPDA / EoT for the attacks (False: the defense as implemented)

    def validate(self) -> None:
        """Raise UserError for options out of range."""

    def token(self) -> str:
        """The canonical spelling: primary option after the name, other non-default options as :key=value."""
        out = self.name + ("" if self.primary is None else _text(getattr(self, self.primary)))
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if f.name != self.primary and value != f.default:
                out += f":{f.name}={_text(value)}"
        return out

    def record(self) -> dict[str, Any]:
        """What a result row keeps about this defense (in ``model_options``)."""
        return {"defense": self.name, **dataclasses.asdict(self), "gradient": self.gradient(),
                "random": self.random}

    def gradient(self) -> str:
        """How attacks differentiate this defense: exact, bpda (identity backward) or as-implemented."""
        if self.differentiable:
            return "exact"
        return "bpda" if self.adaptive else "as-implemented"

    def check_inner(self, inner: Restorer) -> None:
        """Raise UserError when this defense cannot wrap ``inner``."""

    def restore(self, inner: Restorer, y: torch.Tensor, z: Z) -> torch.Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

    def sample_z(self, inner: Restorer, y: torch.Tensor, n: int, generator: torch.Generator | None) -> Z:
        return inner.sample_z(y, n, generator)


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return f"{value:g}" if isinstance(value, float) else str(value)


# ----------------------------------------------------------------------------- input transformations


@dataclasses.dataclass(frozen=True)
class InputTransform(Defense):
    """A defense that transforms the LR input, then runs the wrapped model on it."""

    differentiable: ClassVar[bool] = False

    def transform(self, y: torch.Tensor) -> torch.Tensor:  # pragma: no cover - abstract
        """The transformation as implemented (its own autograd, or none at all)."""
        raise NotImplementedError

    def surrogate(self) -> Callable[[torch.Tensor], torch.Tensor] | None:
        """The differentiable approximation BPDA's backward pass uses; None: the identity."""
        return None

    def gradient(self) -> str:
        plain = super().gradient()
        return "bpda-surrogate" if plain == "bpda" and self.surrogate() is not None else plain

    def apply(self, y: torch.Tensor) -> torch.Tensor:
        """The transformed input, with the gradient the attack should see (BPDA when adaptive)."""
        if self.adaptive and not self.differentiable:
            return bpda(self.transform, y, self.surrogate())
        t = self.transform(y)
        if y.requires_grad and not t.requires_grad:
            t = t + 0 * y  # no autograd path (JPEG): the gradient is zero, not missing
        return t

    def restore(self, inner, y, z):
        return inner.restore(self.apply(y), z)


def bpda(transform: Callable[[torch.Tensor], torch.Tensor], y: torch.Tensor,
         surrogate: Callable[[torch.Tensor], torch.Tensor] | None = None) -> torch.Tensor:
    """``transform(y)`` forward; backward, the gradient of ``surrogate`` (default: the identity), as in
    Athalye et al. 2018's BPDA."""
    with torch.no_grad():
        t = transform(y)
    g = y if surrogate is None else surrogate(y)
    return t + (g - g.detach())  # exactly t in value (g - g is 0), the surrogate's gradient in the backward pass


@dataclasses.dataclass(frozen=True)
class JPEG(InputTransform):
    name = "jpeg"
    primary = "q"
    summary = "JPEG of the LR input at quality q (PIL)"

    q: int = 75
    backward: str = "identity"  # BPDA's backward pass: identity, or surrogate (a differentiable JPEG)

    def validate(self):
        if not 1 <= self.q <= 100:
            raise UserError(f"defense jpeg: quality q must be in 1..100, got {self.q}")
        if self.backward not in ("identity", "surrogate"):
            raise UserError(f"defense jpeg: backward must be identity or surrogate, got {shown(self.backward)}")
        if self.backward == "surrogate" and not self.adaptive:
            raise UserError("defense jpeg: backward=surrogate is how an adaptive attack differentiates JPEG; "
                            "drop adaptive=false or backward=surrogate")

    def surrogate(self):
        return functools.partial(jpeg_like, quality=self.q) if self.backward == "surrogate" else None

    def transform(self, y):
        return torch.stack([self._one(img) for img in y]).to(y.device, y.dtype)

    def _one(self, img: torch.Tensor) -> torch.Tensor:
        if img.shape[0] not in (1, 3):
            raise UserError(f"defense jpeg takes 1- or 3-channel images, got {img.shape[0]} channels")
        arr = to_uint8(img)
        buf = io.BytesIO()
        Image.fromarray(arr[..., 0] if arr.shape[2] == 1 else arr).save(buf, "JPEG", quality=self.q)
        decoded = np.asarray(Image.open(buf), dtype=np.float32) / 255.0
        return torch.from_numpy(decoded.reshape(arr.shape).copy()).permute(2, 0, 1)


@dataclasses.dataclass(frozen=True)
class BitDepth(InputTransform):
    name = "bits"
    primary = "b"
    summary = "the LR input rounded to b bits"

    b: int = 5

    def validate(self):
        if not 1 <= self.b <= 8:
            raise UserError(f"defense bits: the bit depth b must be in 1..8, got {self.b}")

    def transform(self, y):
        levels = 2 ** self.b - 1
        return torch.round(y.clamp(0, 1) * levels) / levels


@dataclasses.dataclass(frozen=True)
class Median(InputTransform):
    name = "median"
    primary = "k"
    differentiable = True  # a.e., by autograd's sub-gradient (a stronger attack than BPDA on IMDN)
    summary = "k x k median filter of the LR input"

    k: int = 3

    def validate(self):
        if self.k < 3 or self.k % 2 == 0:
            raise UserError(f"defense median: the window k must be odd and >= 3, got {self.k}")

    def transform(self, y):
        b, c, h, w = y.shape
        r = self.k // 2
        if min(h, w) <= r:
            raise UserError(f"defense median{self.k}: the image ({h}x{w}) is smaller than the window")
        windows = F.unfold(F.pad(y, (r, r, r, r), mode="reflect"), self.k)  # B x C*k*k x h*w
        return windows.view(b, c, self.k * self.k, h, w).median(dim=2).values


# ----------------------------------------------------------------------------- ensembles


@dataclasses.dataclass(frozen=True)
class SelfEnsemble(Defense):
    name = "self-ensemble"
    summary = "mean of 8 flipped/rotated outputs"

    def check_inner(self, inner):
        if inner.stochastic:
            raise UserError(f"defense self-ensemble needs a deterministic model; {inner.name!r} is stochastic "
                            f"(its seeds are shaped for one orientation)")

    def restore(self, inner, y, z):
        """Under autograd each orientation's pass is checkpointed: only its output is kept and the pass
        reruns in the backward, so an attack holds one pass's activations, not eight (SwiftSRGAN's eight
        on a batch of four 128x128 LR images took over 21 GB; checkpointed, 6 GB), for one extra forward."""
        total = None
        for k in range(4):
            for flip in (False, True):
                t = torch.rot90(y.flip(-1) if flip else y, k, (-2, -1))
                one = checkpointed(inner.restore, t, z) if torch.is_grad_enabled() else inner.restore(t, z)
                out = torch.rot90(one, -k, (-2, -1))
                out = out.flip(-1) if flip else out
                total = out if total is None else total + out
        return total / 8


@dataclasses.dataclass(frozen=True)
class MedianSmoothing(Defense):
    name = "smooth"
    primary = "n"
    random = True
    summary = "median output of n noisy inputs (sigma)"

    n: int = 8
    sigma: float = 8.0  # noise std in units of 1/255, like alpha

    def validate(self):
        if self.n < 1:
            raise UserError(f"defense smooth: the number of copies n must be >= 1, got {self.n}")
        if not self.sigma >= 0:
            raise UserError(f"defense smooth: sigma must be >= 0 (in 1/255), got {self.sigma}")

    def sample_z(self, inner, y, n, generator):
        """n draws per image, seed-major: the noise of the n copies, which rows are the first draw, inner seeds."""
        b = y.shape[0]
        noise = torch.randn((n, b, self.n, *y.shape[1:]), generator=generator).view(n * b, self.n, *y.shape[1:])
        first = torch.zeros(n, b)
        first[0] = 1
        return {"noise": noise.to(y.device), "first_draw": first.view(n * b).to(y.device),
                "inner": inner.sample_z(y, n, generator) if inner.stochastic else None}

    def restore(self, inner, y, z):
        if not isinstance(z, Mapping) or "noise" not in z:
            raise UserError(f"defense smooth is random: restore needs the z its sample_z draws, got {shown(z)}")
        rows, copies = y.shape[0], self.n
        noisy = (y.unsqueeze(1) + (self.sigma / 255.0) * z["noise"].to(y)).clamp(0, 1).flatten(0, 1)
        out = inner.restore(noisy, repeat_rows(z["inner"], copies))
        med = out.view(rows, copies, *out.shape[1:]).median(dim=1).values
        if self.adaptive:
            return med
        first = z["first_draw"].to(y.device).view(rows, *([1] * (med.dim() - 1))) > 0
        return torch.where(first, med, med.detach())  # one draw carries the gradient: no averaging over draws


def repeat_rows(z: Z, copies: int) -> Z:
    """Each row of every tensor in z repeated ``copies`` times in place (row r -> rows r*copies ...)."""
    if z is None:
        return None
    if isinstance(z, torch.Tensor):
        return z.repeat_interleave(copies, dim=0)
    if isinstance(z, Mapping):
        return {k: repeat_rows(v, copies) for k, v in z.items()}
    if isinstance(z, Sequence):
        return type(z)(repeat_rows(v, copies) for v in z)
    raise TypeError(f"cannot repeat z of type {type(z).__name__}")


for _cls in (SelfEnsemble, JPEG, BitDepth, Median, MedianSmoothing):
    DEFENSES.register(_cls.name, _cls)


# ----------------------------------------------------------------------------- the wrapper


class DefendedRestorer(Restorer):
    """``inner`` behind ``defense``: same interface; the identity (scale, weights) of ``inner``."""

    def __init__(self, inner: Restorer, defense: Defense):
        super().__init__()
        defense.check_inner(inner)
        self.inner = inner
        self.defense = defense

    name = property(lambda self: f"{self.inner.name}+{self.defense.token()}")
    scale = property(lambda self: self.inner.scale)
    stochastic = property(lambda self: self.inner.stochastic or self.defense.random)
    weights_sha256 = property(lambda self: self.inner.weights_sha256)  # the underlying model's checkpoint

    @property
    def model_options(self) -> dict[str, Any]:
        inner = dict(self.inner.model_options)
        return {**inner, "defenses": [*inner.get("defenses", []), self.defense.record()]}

    def restore(self, y: torch.Tensor, z: Z = None) -> torch.Tensor:
        return self.defense.restore(self.inner, y, z)

    def sample_z(self, y: torch.Tensor, n: int = 1, generator: torch.Generator | None = None) -> Z:
        if not self.stochastic:
            return None
        return self.defense.sample_z(self.inner, y, n, generator)

    def load_weights(self, state_dict) -> None:
        self.inner.load_weights(state_dict)


# ----------------------------------------------------------------------------- parsing


def parse_defense(token: str) -> Defense:
    """``jpeg75``, ``smooth8:sigma=4``, ``median:k=5:adaptive=false`` -> a validated Defense (UserError if not)."""
    m = _TOKEN.match(token)
    if m is None:
        raise UserError(f"defense {shown(token)} must look like NAME[NUMBER](:KEY=VALUE)*, e.g. jpeg75 or "
                        f"smooth8:sigma=4")
    cls = DEFENSES.get(m["name"])  # unknown: did-you-mean UserError
    options: dict[str, Any] = {}
    if m["primary"]:
        if cls.primary is None:
            raise UserError(f"defense {cls.name} takes no number after its name, got {shown(token)}")
        options[cls.primary] = m["primary"]
    for item in (m["options"] or "")[1:].split(":") if m["options"] else []:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise UserError(f"defense {cls.name}: options are :KEY=VALUE, got {shown(item)} in {shown(token)}")
        if key in options:
            raise UserError(f"defense {cls.name}: option {key} is given twice in {shown(token)}")
        options[key] = value
    defense = cls(**_typed_options(cls, options))
    defense.validate()
    return defense


def _typed_options(cls: type[Defense], options: dict[str, str]) -> dict[str, Any]:
    hints = typing.get_type_hints(cls)
    fields = [f.name for f in dataclasses.fields(cls)]
    out = {}
    for key, value in options.items():
        if key not in fields:
            raise UserError(f"defense {cls.name} has no option {shown(key)}; it takes {', '.join(fields)}")
        out[key] = _convert(cls.name, key, value, hints[key])
    return out


def _convert(defense: str, key: str, value: str, kind: type) -> Any:
    if kind is str:  # the defense's validate() checks the choices
        return value
    if kind is bool:
        if value.lower() not in ("true", "false"):
            raise UserError(f"defense {defense}: option {key} must be true or false, got {shown(value)}")
        return value.lower() == "true"
    try:
        number = float(value)
        if kind is int and number != int(number):
            raise ValueError
        return int(number) if kind is int else number
    except ValueError:
        word = "an integer" if kind is int else "a number"
        raise UserError(f"defense {defense}: option {key} must be {word}, got {shown(value)}") from None


def split_defenses(text: str, base_is_name: bool) -> tuple[str, tuple[str, ...]]:
    """``imdn+jpeg75+self-ensemble`` -> (``imdn``, (``jpeg75``, ``self-ensemble``)).

    After a registered name every ``+`` starts a defense (an unknown one is an error later);
    after a ``file:``/``hf:`` path, whose file name may hold a ``+``, only trailing tokens that
    start with a defense's name are defenses.
    """
    parts = text.split("+")
    if base_is_name:
        return parts[0], tuple(parts[1:])
    k = len(parts)
    while k > 1 and _names_defense(parts[k - 1]):
        k -= 1
    return "+".join(parts[:k]), tuple(parts[k:])


def _names_defense(token: str) -> bool:
    m = _TOKEN.match(token)
    return m is not None and m["name"] in DEFENSES


def defense_problems(tokens: Sequence[str]) -> list[str]:
    """Why each malformed defense token cannot be used (empty when all parse)."""
    problems = []
    for token in tokens:
        try:
            parse_defense(token)
        except UserError as exc:
            problems.append(str(exc))
    return problems


def defend(restorer: Restorer, tokens: Sequence[str]) -> Restorer:
    """``restorer`` wrapped by each defense token in turn (left to right)."""
    for token in tokens:
        restorer = DefendedRestorer(restorer, parse_defense(token))
    return restorer


# Options that change only the gradient attacks see, not the defended model's outputs
GRADIENT_OPTIONS = ("adaptive", "backward")


@functools.lru_cache(maxsize=None)
def attacked_function(model: str) -> tuple[str, str]:
    """``imdn+jpeg75:backward=surrogate`` -> (``imdn+jpeg75``, ``jpeg75:backward=surrogate``): the model name
    without its defenses' gradient options, and those options ("" if none).

    Why: ``adaptive`` and ``backward`` change how an attack differentiates a defense, not the function it
    attacks, so the worst case over attacks (srbench/report/leaderboard.py) takes them as attack variants.
    A name whose trailing tokens are not defenses is returned whole.
    """
    base, tokens = split_defenses(model, base_is_name=False)
    stripped, options = [], []
    for token in tokens:
        try:
            defense = parse_defense(token)
        except UserError:
            return model, ""
        plain = dataclasses.replace(defense, **{f.name: f.default for f in dataclasses.fields(defense)
                                               if f.name in GRADIENT_OPTIONS})
        stripped.append(plain.token())
        if plain != defense:
            options.append(defense.token())
    return "+".join([base, *stripped]), ", ".join(options)


def defenses_table() -> str:
    """One line per defense (for ``srbench models``): name, primary option, what it declares, summary."""
    rows = []
    for name in DEFENSES.names():
        cls = DEFENSES.get(name)
        example = name + ("" if cls.primary is None else _text(_default(cls, cls.primary)))
        kinds = ", ".join(k for k, on in (("non-differentiable", not cls.differentiable), ("random", cls.random)) if on)
        rows.append(f"  {example:<14} {kinds or 'differentiable':<19} {cls.summary}")
    return "defenses: MODEL+DEFENSE[:KEY=VALUE], e.g. imdn+jpeg75 (docs/defenses.md)\n" + "\n".join(rows)


def _default(cls: type[Defense], option: str) -> Any:
    return next(f.default for f in dataclasses.fields(cls) if f.name == option)
