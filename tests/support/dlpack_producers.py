"""Hostile DLPack producers, built with ctypes: capsules (versioned and legacy) and objects
with ``__dlpack__`` whose DLTensor fields are whatever the test asks for.

Used by the C++ tests (tests/cpp/test_dlpack_malformed.cpp) and the DLPack fuzzer
(tests/fuzz/dlpack_fuzzer.cpp): pybridge must refuse every malformed descriptor with an
error naming the field, and run the producer's deleter exactly once.

Each producer keeps its own memory (shape, strides, data) alive in Python; ``deleted``
counts deleter calls per producer id, so a test can check "exactly once".
"""
import ctypes

DLPACK_MAJOR, DLPACK_MINOR = 1, 3


class DLDevice(ctypes.Structure):
    _fields_ = [("device_type", ctypes.c_int32), ("device_id", ctypes.c_int32)]


class DLDataType(ctypes.Structure):
    _fields_ = [("code", ctypes.c_uint8), ("bits", ctypes.c_uint8), ("lanes", ctypes.c_uint16)]


class DLTensor(ctypes.Structure):
    _fields_ = [("data", ctypes.c_void_p), ("device", DLDevice), ("ndim", ctypes.c_int32),
                ("dtype", DLDataType), ("shape", ctypes.POINTER(ctypes.c_int64)),
                ("strides", ctypes.POINTER(ctypes.c_int64)), ("byte_offset", ctypes.c_uint64)]


class DLPackVersion(ctypes.Structure):
    _fields_ = [("major", ctypes.c_uint32), ("minor", ctypes.c_uint32)]


DELETER_V = ctypes.CFUNCTYPE(None, ctypes.c_void_p)


class DLManagedTensorVersioned(ctypes.Structure):
    _fields_ = [("version", DLPackVersion), ("manager_ctx", ctypes.c_void_p), ("deleter", DELETER_V),
                ("flags", ctypes.c_uint64), ("dl_tensor", DLTensor)]


class DLManagedTensor(ctypes.Structure):
    _fields_ = [("dl_tensor", DLTensor), ("manager_ctx", ctypes.c_void_p), ("deleter", DELETER_V)]


_capsule_new = ctypes.pythonapi.PyCapsule_New
_capsule_new.restype = ctypes.py_object
_capsule_new.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_void_p]

deleted = {}  # producer id -> deleter calls
_alive = {}   # producer id -> what its descriptor points into
_names = {b"dltensor_versioned": ctypes.c_char_p(b"dltensor_versioned"), b"dltensor": ctypes.c_char_p(b"dltensor")}


def _on_delete(address):
    key = _address_to_id.pop(address, None)
    if key is not None:
        deleted[key] = deleted.get(key, 0) + 1
        _alive.pop(key, None)  # the consumer is done with the memory
    else:  # a second call for the same descriptor: counted against the last id it had
        deleted[("unknown", address)] = deleted.get(("unknown", address), 0) + 1


_deleter = DELETER_V(_on_delete)
_address_to_id = {}
_next_id = [0]


def _array(values):
    return (ctypes.c_int64 * max(1, len(values)))(*values) if values is not None else None


def make(ndim=1, shape=(4,), strides=None, code=2, bits=32, lanes=1, device_type=1, device_id=0,
         data="buffer", byte_offset=0, major=DLPACK_MAJOR, minor=DLPACK_MINOR, versioned=True,
         null_shape=False, null_strides=True, nbytes=64):
    """A capsule over a DLTensor with the given fields. Returns (id, capsule).

    `data`: "buffer" (nbytes of zeros owned here), None (a NULL pointer) or an int address.
    `null_shape`: a NULL shape pointer whatever ndim says. `strides` given: an explicit array.
    """
    key = _next_id[0]
    _next_id[0] += 1
    keep = []
    buf = None
    if data == "buffer":
        buf = (ctypes.c_uint8 * max(1, nbytes))()
        keep.append(buf)
        address = ctypes.addressof(buf)
    else:
        address = data
    shape_arr = None if null_shape else _array(list(shape))
    strides_arr = _array(list(strides)) if strides is not None else None
    keep += [a for a in (shape_arr, strides_arr) if a is not None]
    t = DLTensor()
    t.data = address
    t.device = DLDevice(device_type, device_id)
    t.ndim = ndim
    t.dtype = DLDataType(code, bits, lanes)
    t.shape = ctypes.cast(shape_arr, ctypes.POINTER(ctypes.c_int64)) if shape_arr is not None else None
    t.strides = ctypes.cast(strides_arr, ctypes.POINTER(ctypes.c_int64)) if strides_arr is not None else None
    t.byte_offset = byte_offset
    if versioned:
        m = DLManagedTensorVersioned()
        m.version = DLPackVersion(major, minor)
        m.flags = 0
        m.dl_tensor = t
        name = b"dltensor_versioned"
    else:
        m = DLManagedTensor()
        m.dl_tensor = t
        name = b"dltensor"
    m.deleter = _deleter
    keep.append(m)
    _alive[key] = keep
    _address_to_id[ctypes.addressof(m)] = key
    deleted[key] = 0
    return key, _capsule_new(ctypes.addressof(m), _names[name], None)


class Producer:
    """An object with __dlpack__/__dlpack_device__ returning one capsule made by make()."""

    def __init__(self, **fields):
        self.fields = fields
        self.ids = []

    def __dlpack__(self, stream=None, max_version=None, dl_device=None, copy=None):
        fields = dict(self.fields)
        if max_version is None or max_version[0] < 1:
            fields["versioned"] = False
        key, capsule = make(**fields)
        self.ids.append(key)
        return capsule

    def __dlpack_device__(self):
        return (self.fields.get("device_type", 1), self.fields.get("device_id", 0))


def deleter_calls(key):
    return deleted.get(key, 0)


def unknown_deleter_calls():
    return sum(v for k, v in deleted.items() if isinstance(k, tuple))


# --- For the fuzzer: fields drawn from bytes, biased towards the edges ----------------

_EDGE_I64 = [0, 1, 2, 3, -1, -2, 2**31 - 1, 2**32, 2**62, 2**63 - 1, -(2**63)]


class _Bytes:
    def __init__(self, data):
        self.data, self.at = data, 0

    def byte(self):
        if self.at >= len(self.data):
            return 0
        self.at += 1
        return self.data[self.at - 1]

    def i64(self):
        b = self.byte()
        if b < 160:
            return b % 6  # mostly small extents
        if b < 224:
            return _EDGE_I64[b % len(_EDGE_I64)]
        v = int.from_bytes(bytes(self.byte() for _ in range(8)), "little", signed=True)
        return v


def fuzz_fields(data):
    """make()'s keyword arguments from fuzzer bytes; every field a producer controls varies."""
    r = _Bytes(data)
    b = r.byte()
    ndim = [0, 1, 2, 3, 4, -1, 65, 64, -(2**31), 2**31 - 1][b % 10] if b >= 64 else b % 5
    listed = max(0, min(ndim, 8)) if 0 <= ndim <= 64 else r.byte() % 4
    fields = {
        "ndim": ndim,
        "shape": tuple(r.i64() for _ in range(listed)) + (1,) * max(0, (ndim if 0 <= ndim <= 64 else 0) - listed),
        "code": [2, 0, 1, 4, 5, 6, 10, 3, 17, 18, 255][r.byte() % 11],
        "bits": [32, 8, 16, 64, 128, 0, 1, 12, 255][r.byte() % 9],
        "lanes": [1, 1, 1, 1, 0, 2, 4, 65535][r.byte() % 8],
        "device_type": [1, 1, 1, 1, 2, 0, 5, 99, -1][r.byte() % 9],
        "device_id": [0, 0, 0, 1, -1][r.byte() % 5],
        "byte_offset": [0, 0, 0, 4, 8, 2**63, 2**64 - 1][r.byte() % 7],
        "versioned": r.byte() % 3 != 0,
        "major": [1, 1, 1, 1, 0, 2][r.byte() % 6],
        "null_shape": r.byte() % 11 == 0,
        "nbytes": 64,
    }
    if fields["device_type"] < 0:
        fields["device_type"] = 2**31 - 1
    s = r.byte()
    if s % 4 == 1:  # explicit strides
        fields["strides"] = tuple(r.i64() for _ in range(len(fields["shape"])))
    d = r.byte() % 6
    if d == 0:
        fields["data"] = None
    return fields


def extent_bytes(fields):
    """The bytes the descriptor addresses from data (byte_offset included), or None if it
    cannot be computed (the consumer should have refused it anyway)."""
    shape = fields.get("shape", ())
    ndim = fields.get("ndim", 1)
    if ndim < 0 or any(e < 0 for e in shape):
        return None
    if 0 in shape[:ndim]:
        return 0
    item = (fields.get("bits", 32) + 7) // 8
    strides = fields.get("strides")
    if strides is None:
        n = 1
        for e in shape[:ndim]:
            n *= e
        last = n - 1
    else:
        last = sum((e - 1) * abs(s) for e, s in zip(shape[:ndim], strides[:ndim]))
    return (last + 1) * item + fields.get("byte_offset", 0)
