"""A layer's numbers as records: what ``forward_terms()`` and ``backward_terms(dOut)`` return.

Each ``Term`` is one array a layer computed (or holds) in its last kept forward or in one backward,
with how it is written and the part it plays. Text, Markdown, the pages and anything else that
shows a layer read the ``role``; the ``label`` is for printing only, so renaming a symbol or
rewording a note changes what is printed and nothing else.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import Enum

import numpy as np


class Role(str, Enum):
    """The part a term plays in its layer's step (a ``str``: ``Role.WEIGHT == "weight"``)."""

    # forward
    INPUT = "input"  # what the layer received: x (an activation's z)
    OUTPUT = "output"  # what it passes on: z, a, y
    WEIGHT = "weight"  # a multiplying parameter: W, γ
    BIAS = "bias"  # an added parameter: b, β
    STATISTIC = "statistic"  # computed from the data: μ, σ²
    CONSTANT = "constant"  # a fixed number of the layer: Dropout's 1/(1 − p)
    MASK = "mask"  # which entries pass: Dropout's m
    WINNER = "per-window winner"  # which element of each window won (max-pooling's j*)
    INTERMEDIATE = "intermediate"  # a value on the way from input to output: x̂, the kernel's windows X̂
    INDEX = "index"  # positions a term points at: the table rows an Embedding's batch looked up
    # backward
    OUTPUT_GRADIENT = "output gradient"  # ∂L/∂output, what the layer above passed down
    INPUT_GRADIENT = "input gradient"  # ∂L/∂input, what the layer passes down
    WEIGHT_GRADIENT = "weight gradient"  # ∂L/∂W, ∂L/∂γ
    BIAS_GRADIENT = "bias gradient"  # ∂L/∂b, ∂L/∂β
    WEIGHT_GRADIENT_ENTRY = "weight gradient entry"  # part of ∂L/∂W on its own: a kernel weight's sum, a table row
    LOCAL_DERIVATIVE = "local derivative"  # f'(z), the factor the chain rule multiplies by
    INTERMEDIATE_GRADIENT = "intermediate gradient"  # ∂L/∂(an intermediate): dx̂, a window's share
    # either
    PATH = "path"  # one path of several whose sum is the result: a Residual's skip and inner paths
    OTHER = "other"  # a number whose part is not stated (a layer that gives plain labelled arrays)

    def __str__(self) -> str:
        return self.value

    def __format__(self, spec: str) -> str:
        return format(self.value, spec)


FORWARD_ROLES = frozenset({Role.INPUT, Role.OUTPUT, Role.WEIGHT, Role.BIAS, Role.STATISTIC, Role.CONSTANT,
                           Role.MASK, Role.WINNER, Role.INTERMEDIATE, Role.INDEX, Role.PATH})  # fmt: skip
BACKWARD_ROLES = frozenset({Role.OUTPUT_GRADIENT, Role.INPUT_GRADIENT, Role.WEIGHT_GRADIENT, Role.BIAS_GRADIENT,
                            Role.WEIGHT_GRADIENT_ENTRY, Role.LOCAL_DERIVATIVE, Role.INTERMEDIATE_GRADIENT,
                            Role.INDEX, Role.PATH})  # fmt: skip


@dataclass(frozen=True, eq=False)
class Term:
    """One of a layer's numbers: ``symbol`` = ``formula`` (``note``), its ``array`` and its ``role``.

    ``symbol`` is how the quantity is written ("x̂", "∂L/∂W"); ``formula`` how it is computed, or ""
    for a given value ("(x − μ)/√(σ² + ε)"); ``note`` a short remark ("through σ²"); ``param`` the
    name in ``layer.params`` of the parameter it is, or is the gradient of ("W", "gamma"), else "".
    """

    symbol: str
    formula: str
    array: np.ndarray
    role: Role
    note: str = ""
    param: str = ""

    def __post_init__(self) -> None:
        if not isinstance(self.role, Role):
            try:
                object.__setattr__(self, "role", Role(self.role))  # a role given by its name, "weight gradient"
            except ValueError:
                known = ", ".join(repr(r.value) for r in Role)
                raise ValueError(f"term {self.symbol!r} has role {self.role!r}; roles are {known}.") from None

    @property
    def label(self) -> str:
        """How the term is printed: "x̂ = (x − μ)/√(σ² + ε)", "m (1 kept, 0 dropped)"."""
        head = f"{self.symbol} = {self.formula}" if self.formula else self.symbol
        return f"{head} ({self.note})" if self.note else head


def with_role(terms: Iterable[Term], role: Role) -> list[Term]:
    """The terms that play ``role``, in order."""
    return [t for t in terms if t.role == role]


def the(terms: Iterable[Term], role: Role) -> Term:
    """The one term that plays ``role``; LookupError when there is none or more than one."""
    found = with_role(terms, role)
    if len(found) != 1:
        raise LookupError(f"expected one term with role {role.value!r}; found {len(found)}.")
    return found[0]


def as_terms(terms: Iterable[Term] | Mapping[str, np.ndarray]) -> list[Term]:
    """What a layer's ``forward_terms``/``backward_terms`` gave, as a list of terms.

    A plain mapping label -> array (a layer written before terms had roles) becomes terms of role ``OTHER``.
    """
    if isinstance(terms, Mapping):
        return [Term(label, "", np.asarray(a), Role.OTHER) for label, a in terms.items()]
    return list(terms)
