"""Reading an ONNX file without trusting it.

The file is read by chainrule (a regular file, at most ``MAX_FILE_BYTES``), parsed by protobuf from those
bytes alone (``onnx.load``'s external-data step never runs), and checked before anything is built: the IR
version and the opset, every node's domain and op, every attribute's type, and every tensor's type, dims
and byte count. A tensor becomes a NumPy array only once its dims × item size are within
``MAX_ELEMENTS`` and equal the bytes actually present; tensors kept outside the file (external data) are
refused, so nothing outside the file is ever opened.
"""

from __future__ import annotations

import math
import os
from typing import Any

import numpy as np

from .._archive import short as _short
from ..io import MAX_PARAMS
from ._errors import OnnxFileError

MAX_FILE_BYTES = 1 << 30  # 1 GiB; a float32 MLP this large has 250 M parameters
MAX_ELEMENTS = MAX_PARAMS  # per tensor
MAX_NODES = 10_000
MIN_OPSET = 9  # Erf, and the Gemm, Softmax and activation ops as they have been since
FLOAT, DOUBLE, INT64 = 1, 11, 7  # TensorProto.DataType
DTYPES = {FLOAT: np.dtype("<f4"), DOUBLE: np.dtype("<f8")}
DEFAULT_DOMAINS = ("", "ai.onnx")


class Reader:
    """One file, read and checked; ``fail`` makes the errors that name it."""

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = os.fspath(path)
        if not os.path.isfile(self.path):
            raise FileNotFoundError(f"No ONNX file at {self.path!r}.")

    def fail(self, what: str) -> OnnxFileError:
        return OnnxFileError(f"{self.path!r} is not an ONNX model chainrule can read: {what}")

    def parse(self, onnx: Any) -> Any:
        """The ModelProto in the file, its header checked."""
        with open(self.path, "rb") as fh:
            size = os.fstat(fh.fileno()).st_size
            if size > MAX_FILE_BYTES:
                raise self.fail(f"it has {size:,} bytes (limit {MAX_FILE_BYTES:,}).")
            data = fh.read(size + 1)  # read(n) reserves n bytes first: n is the size just checked
        if len(data) > size:
            raise self.fail("it grew while being read.")
        proto = onnx.ModelProto()
        try:
            proto.ParseFromString(data)
        except Exception as exc:  # protobuf's DecodeError and whatever its C parser raises on damaged bytes
            raise self.fail(f"it is not a valid ONNX protobuf (damaged or truncated: {type(exc).__name__}).") from None
        self._check_header(onnx, proto)
        return proto

    def _check_header(self, onnx: Any, proto: Any) -> None:
        if not 3 <= proto.ir_version <= onnx.IR_VERSION:
            raise self.fail(f"IR version {proto.ir_version} is not one of 3 to {onnx.IR_VERSION}.")
        default = [o.version for o in proto.opset_import if o.domain in DEFAULT_DOMAINS]
        newest = onnx.defs.onnx_opset_version()
        if len(default) != 1 or not MIN_OPSET <= default[0] <= newest:
            found = default[0] if len(default) == 1 else f"{len(default)} default-domain entries"
            raise self.fail(f"its opset is {found}; chainrule reads opsets {MIN_OPSET} to {newest}.")
        if len(proto.functions):
            raise self.fail(f"it defines {len(proto.functions)} local functions; chainrule reads plain graphs.")
        if not proto.HasField("graph"):
            raise self.fail("it holds no graph.")
        g = proto.graph
        if len(g.sparse_initializer):
            raise self.fail("it holds sparse initializers.")
        if len(g.node) > MAX_NODES or len(g.initializer) > MAX_NODES:
            counts = f"{len(g.node):,} nodes and {len(g.initializer):,} initializers"
            raise self.fail(f"it has {counts} (limit {MAX_NODES:,} each).")
        self.opset = default[0]

    # ------------------------------------------------------------ tensors and attributes
    def array(self, tensor: Any, what: str) -> np.ndarray:
        """A float tensor as a NumPy array, checked before a byte is converted."""
        if tensor.data_location == 1 or len(tensor.external_data):
            raise self.fail(
                f"{what} keeps its data in an external file; chainrule reads only self-contained files "
                "(save with onnx.save(model, path, save_as_external_data=False))."
            )
        if tensor.HasField("segment"):
            raise self.fail(f"{what} is a segment of a larger tensor.")
        if tensor.data_type == INT64 and len(tensor.dims) == 1 and 0 < tensor.dims[0] <= 8:
            return self._shape(tensor, what)
        dtype = DTYPES.get(tensor.data_type)
        if dtype is None:
            raise self.fail(f"{what} has data type {tensor.data_type}; chainrule reads float32 (1) and float64 (11).")
        dims = list(tensor.dims)
        if len(dims) > 3 or any(d < 0 or d > MAX_ELEMENTS for d in dims):
            raise self.fail(f"{what} has dims {_short(dims)}; chainrule reads up to three (a convolution's kernel).")
        n = math.prod(dims)
        if n > MAX_ELEMENTS:
            raise self.fail(f"{what} declares {n:,} elements (limit {MAX_ELEMENTS:,}).")
        typed = tensor.float_data if tensor.data_type == FLOAT else tensor.double_data
        raw = tensor.raw_data
        if len(raw) and len(typed):
            raise self.fail(f"{what} holds its values twice (raw and typed).")
        if len(raw):
            if len(raw) != n * dtype.itemsize:
                raise self.fail(f"{what} holds {len(raw):,} bytes; dims {dims} need {n * dtype.itemsize:,}.")
            arr = np.frombuffer(raw, dtype=dtype, count=n).astype(dtype.newbyteorder("="))
        else:
            if len(typed) != n:
                raise self.fail(f"{what} holds {len(typed):,} values; dims {dims} need {n:,}.")
            arr = np.array(typed, dtype=dtype.newbyteorder("="))
        if not np.isfinite(arr).all():
            raise self.fail(f"{what} contains NaN or infinity.")
        return arr.reshape(dims)

    def _shape(self, tensor: Any, what: str) -> np.ndarray:
        """A short int64 vector (a Reshape's target shape), checked as ``array`` checks floats."""
        n, raw, typed = tensor.dims[0], tensor.raw_data, tensor.int64_data
        if len(raw) and len(typed) or (len(raw) != 8 * n if len(raw) else len(typed) != n):
            raise self.fail(f"{what} does not hold the {n} int64 values its dims declare.")
        return np.frombuffer(raw, dtype="<i8").astype(np.int64) if len(raw) else np.array(typed, dtype=np.int64)

    def attributes(self, node: Any, where: str) -> dict[str, Any]:
        """A node's attributes as Python values: float, int, str, or a tensor (Constant's value)."""
        out: dict[str, Any] = {}
        for a in node.attribute:
            if a.name in out:
                raise self.fail(f"{where} has the attribute {_short(a.name)} twice.")
            if a.ref_attr_name:
                raise self.fail(f"{where} refers to a function attribute.")
            if a.type == 1:
                out[a.name] = float(a.f)
            elif a.type == 2:
                out[a.name] = int(a.i)
            elif a.type == 3:
                try:
                    out[a.name] = a.s.decode("ascii")
                except UnicodeDecodeError:
                    raise self.fail(f"{where} has a non-ASCII attribute {_short(a.name)}.") from None
            elif a.type == 4:
                out[a.name] = a.t
            elif a.type == 7 and len(a.ints) <= 16:  # INTS: a convolution's kernel_shape, strides, pads, …
                out[a.name] = [int(v) for v in a.ints]
            else:
                raise self.fail(f"{where} has the attribute {_short(a.name)} of type {a.type}, which is not read.")
        return out
