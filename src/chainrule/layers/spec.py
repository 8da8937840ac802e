"""What a layer kind declares once, on its class: its arguments, its parameters and its state.

    class Dense(Layer):
        args = (Arg("n_in", SIZE), Arg("n_out", SIZE), Arg("init", INIT, None, shown=False))
        param_specs = (Param("W", lambda a: (a.n_in, a.n_out), "weights", fans=lambda a: (a.n_in, a.n_out)),
                       Param("b", lambda a: (a.n_out,), 0.0))

``Layer`` (in ``base``) derives from these the argument checks and their messages, ``get_config`` and
``from_config``, ``param_shapes``/``state_shapes`` (also from a config, without building anything),
initialisation, ``repr`` and which parameter values a user set. A shape or fan function receives the
layer's checked arguments as attributes (``a.n_in``).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

REQUIRED = object()  # an Arg without a default


@dataclass(frozen=True)
class Check:
    """A test for one argument: ``ok(value)`` says whether it is usable, ``need`` says what is (for the message).

    ``convert`` turns an accepted value into the one kept (an int, a float); ``load`` reads a model
    file's value leniently where a file may hold what the constructor would not take (an initialiser
    saved as "custom" loads as None).
    """

    need: str
    ok: Callable[[Any], bool]
    convert: Callable[[Any], Any] = lambda v: v
    load: Callable[[Any], Any] | None = None


def _integer(v: Any) -> bool:
    return isinstance(v, (int, np.integer)) and not isinstance(v, bool)


def _number(v: Any) -> bool:
    return isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool) and math.isfinite(v)


def _initializer(v: Any) -> bool:
    """True for None, a callable or a known name; an unknown name raises the lookup's "Did you mean …" error."""
    from .initializers import get_initializer

    return v is None or callable(v) or (isinstance(v, str) and get_initializer(v) is not None)


def _known_initializer(v: Any) -> Any:
    from .initializers import INITIALIZERS

    return v if isinstance(v, str) and v in INITIALIZERS else None


SIZE = Check("a positive integer", lambda v: _integer(v) and v >= 1, int)
COUNT = Check("a non-negative integer", lambda v: _integer(v) and v >= 0, int)
POSITIVE = Check("a positive finite number", lambda v: _number(v) and v > 0, float)
NON_NEGATIVE = Check("a non-negative finite number", lambda v: _number(v) and v >= 0, float)
UNIT = Check("a number in [0, 1]", lambda v: _number(v) and 0 <= v <= 1, float)
RATE = Check("a number in [0, 1)", lambda v: _number(v) and 0 <= v < 1, float)
INIT = Check("the name of an initialiser or a callable init(shape, rng, dtype, fan_in, fan_out)", _initializer,
             load=_known_initializer)  # fmt: skip
PADDING = Check('a non-negative integer or "same"', lambda v: v == "same" or (_integer(v) and v >= 0),
                lambda v: v if v == "same" else int(v))  # fmt: skip
OPTIONAL_SIZE = Check("a positive integer or None", lambda v: v is None or (_integer(v) and v >= 1),
                      lambda v: v if v is None else int(v))  # fmt: skip


@dataclass(frozen=True)
class Arg:
    """A constructor argument: its name, its check, its default (``REQUIRED`` if none).

    ``shown`` says whether ``repr`` writes it when it differs from the default (required arguments are
    always written, positionally).
    """

    name: str
    check: Check
    default: Any = REQUIRED
    shown: bool = True


@dataclass(frozen=True)
class Param:
    """A trained parameter: its name, its shape from the arguments, and how it starts.

    ``start`` is a number (every entry starts there), "weights" (drawn from the layer's ``init``, or the
    initialiser the model picks, with ``fans`` from the arguments), or the name of an initialiser.
    ``penalized``: the objective's L1/L2 terms cover it (weights yes, biases and scales no).
    """

    name: str
    shape: Callable[[Any], tuple[int, ...]]
    start: float | str = 0.0
    fans: Callable[[Any], tuple[int, int]] | None = None
    penalized: bool = False


@dataclass(frozen=True)
class State:
    """Untrained state kept with the model (a running statistic): its name, shape and starting value."""

    name: str
    shape: Callable[[Any], tuple[int, ...]]
    start: float = 0.0


def checked(layer: str, arg: Arg, value: Any) -> Any:
    """``value`` for ``arg`` as the layer keeps it; ValueError naming the layer, the argument and the value."""
    if not arg.check.ok(value):
        raise ValueError(f"{layer} {arg.name} must be {arg.check.need}; received {arg.name}={value!r}.")
    return arg.check.convert(value)
