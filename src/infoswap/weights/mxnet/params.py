"""Reads an MXNet `.params` file (the NDArray list `mx.nd.save` writes) without MXNet.

Layout (mxnet/src/ndarray/ndarray.cc): uint64 magic 0x112, uint64 reserved, uint64 count, then each
array: uint32 magic (0xF993FAC9 for v2 with a storage type, 0xF993FAC8 for v1, else the old layout
whose first word is ndim), its shape, an int32 device pair, an int32 dtype and the raw values; then
uint64 count and the names, each a uint64 length and its bytes ("arg:" or "aux:" before the name).
"""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np

from infoswap.errors import InfoswapError

_LIST_MAGIC = 0x112
_V2, _V1 = 0xF993FAC9, 0xF993FAC8
_DTYPES = {0: np.float32, 1: np.float64, 2: np.float16, 3: np.uint8, 4: np.int32, 5: np.int8, 6: np.int64}


class _Reader:
    def __init__(self, data: bytes, source: str):
        self.data, self.offset, self.source = data, 0, source

    def take(self, fmt: str) -> tuple:
        try:
            values = struct.unpack_from("<" + fmt, self.data, self.offset)
        except struct.error:
            raise InfoswapError(f"{self.source}: MXNet params file ends early") from None
        self.offset += struct.calcsize("<" + fmt)
        return values

    def array(self) -> np.ndarray:
        magic, = self.take("I")
        if magic in (_V2, _V1):
            if magic == _V2:
                storage, = self.take("i")
                if storage != 0:
                    raise InfoswapError(f"{self.source}: sparse MXNet arrays are not supported")
            ndim, = self.take("I")
            shape = self.take(f"{ndim}q")
        else:
            shape = self.take(f"{magic}I")
        self.take("ii")  # device type and id
        code, = self.take("i")
        if code not in _DTYPES:
            raise InfoswapError(f"{self.source}: unknown MXNet dtype code {code}")
        dtype = np.dtype(_DTYPES[code])
        count = int(np.prod(shape)) if shape else 1
        end = self.offset + count * dtype.itemsize
        if end > len(self.data):
            raise InfoswapError(f"{self.source}: MXNet params file ends early")
        values = np.frombuffer(self.data, dtype, count, self.offset).reshape(shape).copy()
        self.offset = end
        return values

    def name(self) -> str:
        length, = self.take("Q")
        text = self.data[self.offset : self.offset + length].decode()
        self.offset += length
        return text


def read_params(path: Path) -> dict[str, np.ndarray]:
    """{name without its "arg:"/"aux:" prefix: values} of an MXNet params file."""
    reader = _Reader(path.read_bytes(), str(path))
    magic, _ = reader.take("QQ")
    if magic != _LIST_MAGIC:
        raise InfoswapError(f"{path}: not an MXNet params file (magic {magic:#x})")
    count, = reader.take("Q")
    arrays = [reader.array() for _ in range(count)]
    names = [reader.name() for _ in range(reader.take("Q")[0])]
    if len(names) != len(arrays):
        raise InfoswapError(f"{path}: {len(arrays)} arrays but {len(names)} names")
    return {name.split(":", 1)[-1]: array for name, array in zip(names, arrays)}
