"""Conv1D: a one-dimensional convolution (cross-correlation, as in PyTorch and ONNX) over (n, C, L) signals."""

from __future__ import annotations

from typing import Any

import numpy as np

from ._windows import check_signal, output_length
from .base import Layer
from .spec import INIT, PADDING, SIZE, Arg, Param
from .terms import Role, Term


class Conv1D(Layer):
    """One-dimensional convolution: every output channel slides a kernel over every input channel.

    Shapes:  X (n, C, L) ⊛ W (O, C, K) + b (O,) -> Z (n, O, L_out),
             L_out = ⌊(L + 2·padding − dilation·(K − 1) − 1) / stride⌋ + 1
    (in an Ensemble: X (M or 1, n, C, L), W (M, O, C, K), Z (M, n, O, L_out))

        Z[n, o, t] = b[o] + Σ_c Σ_k W[o, c, k] · x[n, c, t·stride + k·dilation − padding]

    where x is zero outside 0 ≤ index < L (the padding). Computed as im2col: one
    gather makes the windows the rows of a matrix X̂ (n·L_out, C·K), and Z = X̂·Wᵀ + b.

    Backward, given δ = dZ = ∂L/∂Z (n, O, L_out):

        dW[o, c, k] = Σₙ Σₜ δ[n, o, t] · x[n, c, t·stride + k·dilation − padding]    (dW = δᵀ·X̂: one product)
        db[o]       = Σₙ Σₜ δ[n, o, t]
        dX[n, c, i] = Σ_o Σ_(k, t : t·stride + k·dilation − padding = i) W[o, c, k] · δ[n, o, t]

    Weight sharing is why dW is a sum over every position t the kernel visited.
    dX is the transposed convolution: each input sample collects the gradient of
    every window that read it; it is computed as dX̂ = δ·W, then each of the K taps
    adds its column of dX̂ back at the positions that tap read.

    ``padding`` is an int (zeros on both ends) or "same" (stride 1 only: L_out = L,
    the extra zero on the right when dilation·(K − 1) is odd, as PyTorch does).
    ``init`` names the weight initialiser (fans C·K and O·K) or is a callable ``init(shape, rng, dtype, fan_in,
    fan_out)``; left as None, a Sequential picks the one the next activation suits. ``W``/``b`` give starting
    values (kept by any model the layer joins). Biases start at zero.
    """

    args = (
        Arg("in_channels", SIZE), Arg("out_channels", SIZE), Arg("kernel_size", SIZE), Arg("stride", SIZE, 1),
        Arg("padding", PADDING, 0), Arg("dilation", SIZE, 1), Arg("init", INIT, None, shown=False),
    )  # fmt: skip
    param_specs = (
        Param("W", lambda a: (a.out_channels, a.in_channels, a.kernel_size), "weights", penalized=True,
              fans=lambda a: (a.in_channels * a.kernel_size, a.out_channels * a.kernel_size)),
        Param("b", lambda a: (a.out_channels,), 0.0),
    )  # fmt: skip

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int,
        stride: int = 1,
        padding: int | str = 0,
        dilation: int = 1,
        init: str | Any = None,
        *,
        W: Any = None,
        b: Any = None,
    ) -> None:
        super().__init__(in_channels=in_channels, out_channels=out_channels, kernel_size=kernel_size, stride=stride,
                         padding=padding, dilation=dilation, init=init, W=W, b=b)  # fmt: skip
        self._taps_for: tuple[tuple[int, int, int], np.ndarray] | None = None  # the gather's indices, per input shape
        self._ones_row = np.ones(0)

    @classmethod
    def example(cls) -> tuple[Layer, tuple[int, ...]]:
        return cls(3, 2, 3, stride=2, padding=1, dilation=2), (3, 8)

    @classmethod
    def check_args(cls, a: Any) -> None:
        if a.padding == "same" and a.stride != 1:
            half = a.dilation * (a.kernel_size - 1) // 2
            raise ValueError(
                f'Conv1D padding="same" needs stride 1; received stride={a.stride}. '
                f"Give padding as a number of zeros instead, e.g. padding={half}."
            )

    # ----------------------------------------------------------------- shapes
    @property
    def span(self) -> int:
        """Input samples one window covers: dilation·(K − 1) + 1."""
        return self.dilation * (self.kernel_size - 1) + 1

    def pads(self) -> tuple[int, int]:
        """Zeros added before and after the signal."""
        if self.padding == "same":
            total = self.span - 1
            return total // 2, total - total // 2
        return self.padding, self.padding

    @property
    def input_shape(self) -> None:
        return None  # the channels are fixed, the length is not

    def output_shape(self, in_shape: tuple[int, ...]) -> tuple[int, ...]:
        if len(in_shape) != 2 or in_shape[0] != self.in_channels:
            hint = " (a single-channel signal of length L is (1, L))" if len(in_shape) == 1 else ""
            raise ValueError(
                f"{self!r} expects (channels={self.in_channels}, length) per sample but the layer before gives "
                f"{tuple(in_shape)}{hint}."
            )
        return self.out_channels, output_length(self, in_shape[1], self.span, self.stride, sum(self.pads()))

    # ------------------------------------------------------ forward, backward
    def forward(self, X: np.ndarray, training: bool = True, keep: bool = True) -> np.ndarray:
        check_signal(self, X, self.in_channels, self.n_models)
        L_out = self.output_shape(X.shape[-2:])[1]
        (left, right), n_out = self.pads(), self.out_channels
        *lead, C, L = X.shape
        Xp = X
        if left or right:  # the padded signal (…, n, C, Lp)
            Xp = np.zeros((*lead, C, left + L + right), dtype=X.dtype)
            Xp[..., left : left + L] = X
        taps = self._taps(C, Xp.shape[-1], L_out)
        cols = np.take(Xp.reshape(*lead, -1), taps, axis=-1)  # every window's C·K inputs, in one gather
        cols = cols.reshape(*lead[:-1], lead[-1] * L_out, C * self.kernel_size)  # X̂ (…, n·L_out, C·K)
        W = self.params["W"]
        Z = cols @ W.reshape(*W.shape[:-3], n_out, -1).mT  # X̂·Wᵀ (…, n·L_out, O)
        Z += self.params["b"][..., None, :]
        Z = np.ascontiguousarray(Z.reshape(*Z.shape[:-2], lead[-1], L_out, n_out).swapaxes(-1, -2))  # (…, n, O, L_out)
        if keep:
            self._cache, self._out_shape = (cols, X.shape), Z.shape
        return Z

    def _taps(self, C: int, Lp: int, L_out: int) -> np.ndarray:
        """Flat indices into a padded (C, Lp) sample: window t's input c at tap k is c·Lp + t·stride + k·dilation.

        Ordered (t, c, k), so that the gather gives X̂'s rows; made once per input shape.
        """
        if self._taps_for is None or self._taps_for[0] != (C, Lp, L_out):
            t = np.arange(L_out)[:, None, None] * self.stride
            k = np.arange(self.kernel_size)[None, None, :] * self.dilation
            self._taps_for = ((C, Lp, L_out), (t + k + Lp * np.arange(C)[None, :, None]).ravel())
        return self._taps_for[1]

    def backward(self, dZ: np.ndarray, need_input_grad: bool = True) -> np.ndarray | None:
        cols, in_shape = self._cached(dZ)
        *lead, n_out, L_out = dZ.shape
        dZT = dZ.swapaxes(-1, -2).reshape(*lead[:-1], lead[-1] * L_out, n_out)  # δ as (…, n·L_out, O)
        W = self.params["W"]
        self.grads["W"][...] = (dZT.mT @ cols).reshape(W.shape)  # dW = δᵀ·X̂
        np.matmul(self._ones(dZT), dZT, out=self.grads["b"])  # db = Σ over samples and positions, as 1ᵀ·δ
        if not need_input_grad:
            return None
        K, s, d, (left, _) = self.kernel_size, self.stride, self.dilation, self.pads()
        C, L = in_shape[-2:]
        dcols = dZT @ W.reshape(*W.shape[:-3], n_out, C * K)  # dX̂ = δ·W: (…, n·L_out, C·K)
        dcols = dcols.reshape(*dcols.shape[:-2], lead[-1], L_out, C, K)
        dXT = np.zeros((*dcols.shape[:-3], L + sum(self.pads()), C), dtype=dZ.dtype)  # padded, channels last
        for k in range(K):  # each tap adds back what it read: the scatter of the transposed convolution
            dXT[..., k * d : k * d + s * (L_out - 1) + 1 : s, :] += dcols[..., k]
        return np.ascontiguousarray(dXT[..., left : left + L, :].swapaxes(-1, -2))

    def _ones(self, dZT: np.ndarray) -> np.ndarray:
        """A row of ones as long as δ's rows (kept between calls)."""
        if self._ones_row.shape[0] != dZT.shape[-2] or self._ones_row.dtype != dZT.dtype:
            self._ones_row = np.ones(dZT.shape[-2], dtype=dZT.dtype)
        return self._ones_row

    # ------------------------------------------------ the sums, term by term
    def weight_gradient_terms(self, dZ: np.ndarray, o: int, c: int, k: int) -> list[tuple[int, int, int, float, float]]:
        """The terms of ∂L/∂w[o, c, k] = Σₙ Σₜ δ[n, o, t] · x[n, c, t·stride + k·dilation − padding] for the last
        kept forward, given δ = ``dZ``: one (n, t, i, δ, x) per sample n and output position t, where i is the
        input position the weight met there (outside 0 ≤ i < L it met the padding, x = 0). Their products sum
        to ``backward``'s dW[o, c, k]. One model only (no model axis)."""
        cols, _ = self._cached(dZ)
        n, L_out = dZ.shape[0], dZ.shape[-1]
        x = cols[:, c * self.kernel_size + k].reshape(n, L_out)  # the input each window put under w[o, c, k]
        start = k * self.dilation - self.pads()[0]
        return [
            (m, t, t * self.stride + start, float(dZ[m, o, t]), float(x[m, t])) for m in range(n) for t in range(L_out)
        ]

    def input_gradient_terms(self, dZ: np.ndarray, n: int, c: int, i: int) -> list[tuple[int, int, int, float, float]]:
        """The terms of ∂L/∂x[n, c, i] = Σ_o Σ_(k, t : t·stride + k·dilation − padding = i) w[o, c, k] · δ[n, o, t],
        the transposed convolution: one (o, k, t, w, δ) for every output position t whose window put input i
        under kernel tap k. Their products sum to ``backward``'s dX[n, c, i]. One model only (no model axis)."""
        self._cached(dZ)
        W, L_out, left = self.params["W"], dZ.shape[-1], self.pads()[0]
        terms = []
        for k in range(self.kernel_size):
            t, hit = divmod(i + left - k * self.dilation, self.stride)
            if hit == 0 and 0 <= t < L_out:
                terms += [(o, k, t, float(W[o, c, k]), float(dZ[n, o, t])) for o in range(self.out_channels)]
        return terms

    # ------------------------------------------------ the numbers, for explain
    def forward_terms(self) -> list[Term]:
        """The last kept forward: X̂ (one row per window), W as rows, b and Z = X̂·Wᵀ + b."""
        cols, b = self.kept()[0], self.params["b"]
        W2 = self.params["W"].reshape(*b.shape[:-1], self.out_channels, -1)
        return [
            Term(
                "X̂", "", cols, Role.INTERMEDIATE, "one row per sample and position t, the C·K inputs under the kernel"
            ),
            Term("W", "", W2, Role.WEIGHT, "one row per output channel, C·K weights", param="W"),
            Term("b", "", b, Role.BIAS, param="b"),
            Term("Z", "X̂·Wᵀ + b", cols @ W2.mT + b[..., None, :], Role.OUTPUT, "one row per sample and position t"),
        ]

    def backward_terms(self, dZ: np.ndarray) -> list[Term]:
        """δ, dW, db and dX for the last kept forward (filling the gradients as ``backward`` does).

        A layer of at most 64 weights in one model also writes each weight's gradient as its sum, term by term
        (role ``WEIGHT_GRADIENT_ENTRY``, one scalar each).
        """
        dX = self.backward(dZ)
        dW = self.grads["W"]
        terms = [
            Term("δ", "∂L/∂Z", dZ, Role.OUTPUT_GRADIENT),
            Term("dW", "Σₙ Σₜ δ·x", dW, Role.WEIGHT_GRADIENT, "O, C, K", param="W"),
            Term("db", "Σₙ Σₜ δ", self.grads["b"], Role.BIAS_GRADIENT, param="b"),
            Term(
                "dX",
                "",
                dX,
                Role.INPUT_GRADIENT,
                "each input collects w·δ from every window that read it: the transposed convolution",
            ),
        ]
        if self.n_models is None and dW.size <= 64:
            for o, c, k in np.ndindex(*dW.shape):
                parts = [f"{d:.4g}·{x:.4g}" for *_, d, x in self.weight_gradient_terms(dZ, o, c, k)]
                shown = " + ".join(parts if len(parts) <= 12 else [*parts[:6], f"… ({len(parts)} terms)"])
                offset = k * self.dilation - self.pads()[0]
                where = ("t" if self.stride == 1 else f"{self.stride}t") + (
                    f" + {offset}" if offset > 0 else f" − {-offset}" if offset < 0 else ""
                )
                formula = f"Σₙ Σₜ δ[n, {o}, t]·x[n, {c}, {where}] = {shown}"
                terms.append(Term(f"∂L/∂w[{o}, {c}, {k}]", formula, dW[o, c, k], Role.WEIGHT_GRADIENT_ENTRY, param="W"))
        return terms

    # ---------------------------------------------------------------- ONNX (see Layer.to_onnx, Layer.from_onnx)
    def to_onnx(self, g: Any, x: str, name: str) -> str:
        """One Conv node: W (O, C, K), b, and the layer's kernel, stride, pads and dilation."""
        W, b = g.const(f"{name}.W", self.params["W"]), g.const(f"{name}.b", self.params["b"])
        return g.node("Conv", [x, W, b], name, kernel_shape=[self.kernel_size], strides=[self.stride],
                      pads=list(self.pads()), dilations=[self.dilation], group=1)  # fmt: skip

    @classmethod
    def onnx_ops(cls) -> frozenset[str]:
        return frozenset({"Conv"})

    @classmethod
    def from_onnx(cls, node: Any, graph: Any) -> Any:
        """Conv with a constant (O, C, K) kernel, group 1, explicit pads or auto_pad; "same" where they are."""
        from ..onnx.signals import conv_padding

        x = node.computed_input(graph)
        W = graph.constants.get(node.inputs[1]) if len(node.inputs) > 1 else None
        if W is not None and W.ndim > 3:
            d = W.ndim - 2
            raise node.refuse(f"is a Conv with a {d}-D kernel (a Conv{d}d): chainrule has Conv1D only.")
        if W is None or W.ndim != 3:
            raise node.refuse("needs a constant weight of shape (O, C, K): chainrule reads one-dimensional Conv.")
        O, C, K = W.shape  # noqa: E741
        b = graph.constants.get(node.inputs[2]) if len(node.inputs) > 2 and node.inputs[2] else np.zeros(O, W.dtype)
        if b is None or b.shape != (O,):
            raise node.refuse(f"needs a constant bias of shape ({O},).")
        node.require(node.attrs.get("group", 1) == 1, f"group={node.attrs.get('group')}")
        node.require(node.one_int("kernel_shape", [K]) == K, "a kernel_shape unlike its weight's")
        stride, dilation = node.one_int("strides", [1]), node.one_int("dilations", [1])
        padding = conv_padding(node, graph, K, stride, dilation)
        return node.read(cls(C, O, K, stride=stride, padding=padding, dilation=dilation, W=W, b=b), x)
