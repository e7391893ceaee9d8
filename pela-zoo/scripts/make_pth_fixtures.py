#!/usr/bin/env python3
"""PyTorch checkpoint files with what `torch.save` writes but simple loaders get wrong, for
pela-zoo's checkpoint tests, written by CPython's own pickler in `torch.save`'s zip format
(so neither torch nor pela-zoo's reader made them):

- `pth_strided.pth`: `{'model': {'weight': w.t(), 'bias': b[1:]}}` for a `Linear(2, 3)`, where
  `w = arange(6).reshape(2, 3)` (the stored weight is a transposed view: stride (1, 3)) and
  `b = [10, 11, 12, 13]` (the stored bias starts at offset 1 of its storage). Loaded right,
  Burn's weight `[2, 3]` is `[[0, 1, 2], [3, 4, 5]]` and the bias `[11, 12, 13]`.
- `pth_int_weight.pth`: the same `Linear`'s weight stored as int64 (`torch.LongStorage`).
- `pth_collision.pth`: `{'model': {'weight': …, 'bias': …}, 'bias': …}`: two `bias` once the
  `model.` prefix is removed.

The layout is `torch.serialization._save`'s: `<name>/data.pkl` (protocol 2, storages as
persistent ids `('storage', torch.FloatStorage, key, 'cpu', numel)`, tensors rebuilt by
`torch._utils._rebuild_tensor_v2(storage, offset, size, stride, requires_grad,
OrderedDict())`), `<name>/data/<key>` (the raw little-endian storage), `<name>/byteorder`,
`<name>/version`, stored without compression.

Run it with any Python 3 (no package needed):

    python3 pela-zoo/scripts/make_pth_fixtures.py
"""
import collections
import io
import pickle
import struct
import zipfile
from pathlib import Path

OUT = Path(__file__).resolve().parent.parent / "tests" / "fixtures"


class Global:
    """A class or function pickled by name (`GLOBAL module name`), never defined here."""

    def __init__(self, module, name):
        self.module, self.name = module, name

    def __call__(self, *args):  # pickle's `save_reduce` asks for a callable
        raise TypeError("a name, not a function")


class Storage:
    def __init__(self, kind, key, values, fmt):
        self.kind, self.key, self.values, self.fmt = kind, key, values, fmt

    def bytes(self):
        return struct.pack(f"<{len(self.values)}{self.fmt}", *self.values)


class Tensor:
    def __init__(self, storage, offset, size, stride):
        self.args = (storage, offset, tuple(size), tuple(stride), False, collections.OrderedDict())

    def __reduce__(self):
        return (Global("torch._utils", "_rebuild_tensor_v2"), self.args)


def write(name, state, storages):
    buffer = io.BytesIO()
    pickler = pickle._Pickler(buffer, protocol=2)  # the pure-Python pickler, to hook `save`
    original = pickler.save

    def save(obj, save_persistent_id=True):
        if isinstance(obj, Global):
            pickler.write(b"c" + obj.module.encode() + b"\n" + obj.name.encode() + b"\n")
            return
        original(obj, save_persistent_id)

    pickler.save = save
    pickler.persistent_id = lambda obj: (
        ("storage", Global("torch", obj.kind), obj.key, "cpu", len(obj.values))
        if isinstance(obj, Storage)
        else None
    )
    pickler.dump(state)
    archive = name.removesuffix(".pth")
    with zipfile.ZipFile(OUT / name, "w", compression=zipfile.ZIP_STORED) as z:
        z.writestr(f"{archive}/data.pkl", buffer.getvalue())
        z.writestr(f"{archive}/byteorder", "little")
        for storage in storages:
            z.writestr(f"{archive}/data/{storage.key}", storage.bytes())
        z.writestr(f"{archive}/version", "3\n")
    print("wrote", OUT / name)


def main():
    w = Storage("FloatStorage", "0", [0.0, 1.0, 2.0, 3.0, 4.0, 5.0], "f")
    b = Storage("FloatStorage", "1", [10.0, 11.0, 12.0, 13.0], "f")
    weight = Tensor(w, 0, (3, 2), (1, 3))  # arange(6).reshape(2, 3).t()
    bias = Tensor(b, 1, (3,), (1,))  # tensor([10, 11, 12, 13])[1:]
    write("pth_strided.pth", {"model": {"weight": weight, "bias": bias}}, [w, b])

    ints = Storage("LongStorage", "0", [0, 1, 2, 3, 4, 5], "q")
    write(
        "pth_int_weight.pth",
        {"model": {"weight": Tensor(ints, 0, (3, 2), (2, 1)), "bias": bias}},
        [ints, b],
    )
    write(
        "pth_collision.pth",
        {"model": {"weight": weight, "bias": bias}, "bias": Tensor(b, 0, (3,), (1,))},
        [w, b],
    )


if __name__ == "__main__":
    main()
