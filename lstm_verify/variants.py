"""The compact spelling of a :class:`~lstm_verify.reference.Variant` that ``--variant`` reads
(``peepholes,clip=3:cell``), read and written in this one place."""

from __future__ import annotations

from lstm_verify.reference import ACTIVATIONS, PLAIN, Activation, Variant

VARIANT_SPELLING = ("peepholes, clip=C[:READING] (a reading of spec, gates, cell), input-forget, "
                    "f=, g=, h=ACTIVATION[:ALPHA[:BETA]] (Sigmoid, Tanh, HardSigmoid ...), comma-separated")
"""What :func:`parse_variant` reads, in one line (``--variant``'s help)."""


def _number(text: str, what: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise ValueError(f"{what} must be a number, got {text!r}") from None


def _activation(text: str, gate: str) -> Activation:
    name, *numbers = text.split(":")
    known = {k.lower(): k for k in ACTIVATIONS}
    if name.lower() not in known or len(numbers) > 2:
        raise ValueError(f"{gate}= takes ACTIVATION[:ALPHA[:BETA]] of {', '.join(ACTIVATIONS)}; got {text!r}")
    activation = Activation(known[name.lower()], *(_number(n, f"{gate}='s alpha and beta") for n in numbers))
    activation.args()  # ScaledTanh without both: the error now, in one line
    return activation


def parse_variant(text: str) -> Variant:
    """The :class:`Variant` a compact spelling says (:data:`VARIANT_SPELLING`):
    ``peepholes,clip=3:cell`` is ``Variant(peepholes=True, clip=3.0, clip_reading="cell")``; an empty
    text is the plain LSTM. A ValueError, in one line, for anything else."""
    fields: dict[str, object] = {}
    for token in (t.strip() for t in text.split(",") if t.strip()):
        key, sep, value = (part.strip() for part in token.partition("="))
        key = key.lower().replace("_", "-")
        if key in ("peepholes", "input-forget") and not sep:
            fields[key.replace("-", "_")] = True
        elif key == "clip" and sep:
            clip, _, reading = value.partition(":")
            fields["clip"] = _number(clip, "clip")
            if not fields["clip"] > 0:
                raise ValueError(f"clip must be positive, got {clip}")
            fields["clip_reading"] = reading or "spec"
        elif key in ("f", "g", "h") and sep:
            fields[key] = _activation(value, key)
        elif key == "forget-bias":
            raise ValueError("the forget gate's offset is the layout's: --layout tf1 adds 1, tf1-fb0 nothing")
        else:
            raise ValueError(f"unknown variant {token!r}; the variant is {VARIANT_SPELLING}")
    return Variant(**fields)


def spell_variant(variant: Variant) -> str:
    """The spelling :func:`parse_variant` reads back as ``variant``, or as one computing the same
    ('' for the plain LSTM)."""
    def activation(a: Activation) -> str:
        given = (a.alpha, a.beta) if a.beta is not None else (a.alpha,) if a.alpha is not None else ()
        return ":".join([a.name, *(f"{v:g}" for v in a.args()[:len(given)])])
    parts = ["peepholes"] * variant.peepholes
    if variant.clip is not None:
        parts.append(f"clip={variant.clip:g}:{variant.clip_reading}")
    parts += ["input-forget"] * variant.input_forget
    parts += [f"{k}={activation(getattr(variant, k))}" for k in "fgh" if getattr(variant, k) != getattr(PLAIN, k)]
    return ",".join(parts)
