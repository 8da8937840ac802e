"""Reading an ONNX file without trusting it.

The file is read by chainrule (a regular file, at most ``MAX_FILE_BYTES``), parsed by protobuf from those
bytes alone (``onnx.load``'s external-data step never runs), and checked before anything is built: the IR
version and the opset, every node's domain and op, every attribute's type, and every tensor's type, dims
and byte count. A tensor becomes a NumPy array only once its dims × item size are within
``MAX_ELEMENTS`` and equal the bytes actually present. Tensors kept outside the file (external data) are
read by ``_external`` from plain files in the model's own folder only, and nowhere else.
"""

from __future__ import annotations

import math
import os
from typing import Any

import numpy as np

from .._archive import short as _short
from ..io import MAX_PARAMS
from ._errors import OnnxFileError
from ._external import ExternalData

MAX_FILE_BYTES = 1 << 30  # 1 GiB; a float32 MLP this large has 250 M parameters
MAX_ELEMENTS = MAX_PARAMS  # per tensor
MAX_NODES = 10_000
MAX_DIMS = 5  # a layer reads at most three; more are read only to name the layer they came from (a Conv2d)
MIN_OPSET = 9  # Erf, and the Gemm, Softmax and activation ops as they have been since
FLOAT, INT32, INT64, STRING, DOUBLE = 1, 6, 7, 8, 11  # TensorProto.DataType
DTYPES = {FLOAT: np.dtype("<f4"), DOUBLE: np.dtype("<f8")}  # what a model computes in
CONSTANT_DTYPES = {**DTYPES, INT32: np.dtype("<i4"), INT64: np.dtype("<i8")}  # also shapes and class labels
MAX_LABEL_BYTES = 1 << 16  # one string constant's value (a class name)
DEFAULT_DOMAINS = ("", "ai.onnx")


class Reader:
    """One file, read and checked; ``fail`` makes the errors that name it."""

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = os.fspath(path)
        if not os.path.isfile(self.path):
            raise FileNotFoundError(f"No ONNX file at {self.path!r}.")
        self.external = ExternalData(self.path, self.fail)

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
        """A float, int64 or string tensor as a NumPy array, checked before a byte is converted."""
        if tensor.HasField("segment"):
            raise self.fail(f"{what} is a segment of a larger tensor.")
        dims = list(tensor.dims)
        if len(dims) > MAX_DIMS or any(d < 0 or d > MAX_ELEMENTS for d in dims):
            raise self.fail(
                f"{what} has dims {_short(dims)}; chainrule reads up to {MAX_DIMS} (a 3-D convolution's kernel)."
            )
        n = math.prod(dims)
        if n > MAX_ELEMENTS:
            raise self.fail(f"{what} declares {n:,} elements (limit {MAX_ELEMENTS:,}).")
        if tensor.data_type == STRING:
            return self._strings(tensor, dims, n, what)
        dtype = CONSTANT_DTYPES.get(tensor.data_type)
        if dtype is None:
            raise self.fail(
                f"{what} has data type {tensor.data_type}; chainrule reads float32 (1) and float64 (11) weights, "
                "and int32 (6), int64 (7) or string (8) shapes and labels."
            )
        external = tensor.data_location == 1
        if len(tensor.external_data) and not external:
            raise self.fail(f"{what} lists external data but says its data is in the file.")
        fields = {FLOAT: "float_data", DOUBLE: "double_data", INT32: "int32_data", INT64: "int64_data"}
        typed = getattr(tensor, fields[tensor.data_type])
        raw = self.external.read(tensor, n * dtype.itemsize, what) if external else tensor.raw_data
        if (len(raw) or external) and len(typed):
            raise self.fail(f"{what} holds its values twice (raw and typed).")
        if len(raw) or external:
            if len(raw) != n * dtype.itemsize:
                raise self.fail(f"{what} holds {len(raw):,} bytes; dims {dims} need {n * dtype.itemsize:,}.")
            arr = np.frombuffer(raw, dtype=dtype, count=n)  # a view of the bytes read: no second copy
            if not dtype.isnative:
                arr = arr.astype(dtype.newbyteorder("="))
        else:
            if len(typed) != n:
                raise self.fail(f"{what} holds {len(typed):,} values; dims {dims} need {n:,}.")
            arr = np.array(typed, dtype=dtype.newbyteorder("="))
        if arr.dtype.kind == "f" and not np.isfinite(arr).all():
            raise self.fail(f"{what} contains NaN or infinity.")
        return arr.reshape(dims)

    def _strings(self, tensor: Any, dims: list[int], n: int, what: str) -> np.ndarray:
        if tensor.data_location == 1 or len(tensor.raw_data) or len(tensor.string_data) != n:
            raise self.fail(f"{what} holds {len(tensor.string_data):,} strings in the file; dims {dims} need {n:,}.")
        if any(len(b) > MAX_LABEL_BYTES for b in tensor.string_data):
            raise self.fail(f"{what} holds a string longer than {MAX_LABEL_BYTES:,} bytes.")
        try:
            values = [b.decode("utf-8") for b in tensor.string_data]
        except UnicodeDecodeError:
            raise self.fail(f"{what} holds a string that is not UTF-8.") from None
        return np.array(values, dtype=object).reshape(dims)

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
            elif a.type == 6:  # FLOATS (ai.onnx.ml.Scaler's offset and scale)
                out[a.name] = tuple(float(f) for f in a.floats)
            elif a.type == 7:  # INTS
                out[a.name] = tuple(int(i) for i in a.ints)
            elif a.type == 8:  # STRINGS (ZipMap's class labels)
                try:
                    out[a.name] = tuple(s.decode("utf-8") for s in a.strings)
                except UnicodeDecodeError:
                    raise self.fail(f"{where} has a non-UTF-8 attribute {_short(a.name)}.") from None
            else:
                raise self.fail(f"{where} has the attribute {_short(a.name)} of type {a.type}, which is not read.")
        return out
