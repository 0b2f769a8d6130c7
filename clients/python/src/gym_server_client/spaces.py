"""Spaces and values between gym-server's JSON and Gymnasium.

The server describes a space as ``{"name": "Box", "shape": [4], "low": [...], "high": [...],
"dtype": "float32"}`` (bounds flattened in row-major order, ±infinity written as ±1e100),
``{"name": "Discrete", "n": 2, "start"?: 0}``, ``{"name": "MultiBinary", "n": 5 | [2, 3]}``,
``{"name": "MultiDiscrete", "nvec": [...], "start"?: [...]}``, ``{"name": "Tuple", "spaces":
[...]}`` and ``{"name": "Dict", "spaces": {...}}``. Values are numpy's ``tolist()`` of the
Gymnasium value: nested lists by shape, tuples as lists, float32 elements as the float64 of
the float32 (so casting back to float32 is exact). In a MessagePack answer an array value is
packed instead: ``{"dtype": "<f4", "shape": [N, 4], "data": <bytes>}`` (little-endian, row-major),
Tuple and Dict values being a list or map of their parts.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Mapping
from typing import Any

import numpy as np
from gymnasium import spaces

from .errors import ProtocolError

# What the server writes for ±infinity in Box bounds (JSON has no infinity).
INFINITY_STAND_IN = 1e100

_BOX_DTYPES = {"float32", "float64", "float16", "int64", "int32", "int16", "int8", "uint8", "uint16", "uint32", "uint64", "bool"}


def space_from_info(info: Any) -> spaces.Space:
    """Builds the Gymnasium space the server describes. Raises ProtocolError on anything else."""
    if not isinstance(info, Mapping):
        raise ProtocolError(f"a space description must be a JSON object, got {info!r}")
    name = info.get("name")
    try:
        if name == "Discrete":
            return spaces.Discrete(_int(info["n"], "n"), start=_int(info.get("start", 0), "start"))
        if name == "Box":
            return _box_from_info(info)
        if name == "MultiBinary":
            n = info["n"]
            return spaces.MultiBinary(_int(n, "n") if not isinstance(n, list) else [_int(k, "n") for k in n])
        if name == "MultiDiscrete":
            nvec = np.asarray(info["nvec"], dtype=np.int64)
            start = np.asarray(info["start"], dtype=np.int64) if "start" in info else None
            return spaces.MultiDiscrete(nvec, start=start)
        if name == "Tuple":
            subspaces = info["spaces"]
            if not isinstance(subspaces, list):
                raise ProtocolError(f"Tuple 'spaces' must be a list, got {subspaces!r}")
            return spaces.Tuple([space_from_info(s) for s in subspaces])
        if name == "Dict":
            subspaces = info["spaces"]
            if not isinstance(subspaces, Mapping):
                raise ProtocolError(f"Dict 'spaces' must be an object, got {subspaces!r}")
            return spaces.Dict({key: space_from_info(s) for key, s in subspaces.items()})
    except KeyError as e:
        raise ProtocolError(f"the {name} space description {dict(info)!r} lacks {e.args[0]!r}") from None
    except (TypeError, ValueError) as e:
        if isinstance(e, ProtocolError):
            raise
        raise ProtocolError(f"cannot build a {name} space from {dict(info)!r}: {e}") from e
    raise ProtocolError(f"unsupported space {name!r} in {dict(info)!r}")


def _int(value: Any, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ProtocolError(f"space field {what!r} must be an integer, got {value!r}")
    return value


def _box_from_info(info: Mapping[str, Any]) -> spaces.Box:
    shape = tuple(_int(k, "shape") for k in info["shape"])
    # Servers older than the dtype field wrote float32 boxes only (openai's gym-http-api).
    dtype_name = info.get("dtype", "float32")
    if dtype_name not in _BOX_DTYPES:
        raise ProtocolError(f"unsupported Box dtype {dtype_name!r}")
    dtype = np.dtype(dtype_name)
    low = _bounds(info["low"], shape, dtype, "low")
    high = _bounds(info["high"], shape, dtype, "high")
    return spaces.Box(low=low, high=high, shape=shape, dtype=dtype)


def _bounds(values: Any, shape: tuple[int, ...], dtype: np.dtype, what: str) -> np.ndarray:
    array = np.asarray(values, dtype=np.float64)
    if array.size != int(np.prod(shape)):
        raise ProtocolError(f"Box {what} has {array.size} values for shape {shape}")
    if np.issubdtype(dtype, np.floating):
        # The stand-in and anything beyond it is infinity (the server never writes a larger
        # finite bound: float32 tops out at 3.4e38).
        array = np.where(array >= INFINITY_STAND_IN, np.inf, array)
        array = np.where(array <= -INFINITY_STAND_IN, -np.inf, array)
        return array.reshape(shape).astype(dtype)
    # Integer boxes: bounds are integers (large ones written exactly, so reread them as ints).
    return np.asarray(values, dtype=object).reshape(shape).astype(dtype)


def read_value(space: spaces.Space, value: Any, _part: bool = False) -> Any:
    """A value of ``space`` from an answer (JSON, or MessagePack with packed arrays) as
    Gymnasium gives it: numpy arrays of the space's dtype, ``np.int64`` for Discrete, tuples
    for Tuple, dicts for Dict, and a Discrete part of a Tuple or Dict as a Python ``int``, as
    Gymnasium's environments build them (Blackjack's ``(21, 9, 1)``: ``json.dumps`` takes it).
    Raises ProtocolError if the value is not of the space's form."""
    try:
        if isinstance(space, spaces.Discrete):
            if isinstance(value, bool) or not isinstance(value, int):
                raise ProtocolError(f"expected an integer for {space}, got {value!r}")
            return int(value) if _part else space.dtype.type(value)
        if isinstance(space, (spaces.Box, spaces.MultiBinary, spaces.MultiDiscrete)):
            if isinstance(value, Mapping):
                return unpack_array(value, space.dtype, space.shape, space)
            array = np.asarray(value, dtype=space.dtype)
            if array.shape != space.shape:
                if array.size != int(np.prod(space.shape)):
                    raise ProtocolError(f"expected a value of shape {space.shape} for {space}, got {value!r}")
                array = array.reshape(space.shape)
            return array
        if isinstance(space, spaces.Tuple):
            if not isinstance(value, list) or len(value) != len(space.spaces):
                raise ProtocolError(f"expected a list of {len(space.spaces)} values for {space}, got {value!r}")
            return tuple(read_value(s, v, True) for s, v in zip(space.spaces, value))
        if isinstance(space, spaces.Dict):
            if not isinstance(value, Mapping) or set(value) != set(space.spaces):
                raise ProtocolError(f"expected an object with keys {list(space.spaces)} for {space}, got {value!r}")
            return {key: read_value(s, value[key], True) for key, s in space.spaces.items()}
    except (TypeError, ValueError, OverflowError) as e:
        raise ProtocolError(f"cannot read {value!r} as a value of {space}: {e}") from e
    raise ProtocolError(f"unsupported space {space!r}")


def unpack_array(packed: Mapping[str, Any], dtype: np.dtype, shape: tuple[int, ...], what: Any) -> np.ndarray:
    """A packed array ``{"dtype", "shape", "data"}`` of a MessagePack answer as a writable,
    native-order array of ``dtype`` and ``shape`` (``what`` names it in errors)."""
    data = packed.get("data")
    if not isinstance(data, bytes) or not isinstance(packed.get("dtype"), str) or not isinstance(packed.get("shape"), list):
        raise ProtocolError(f"expected a packed array {{dtype, shape, data}} for {what}, got {str(packed)[:200]}")
    try:
        packed_dtype = np.dtype(packed["dtype"])
    except TypeError:
        raise ProtocolError(f"a packed array for {what} has the unknown dtype {packed['dtype']!r}") from None
    if packed_dtype.kind != dtype.kind or packed_dtype.itemsize != dtype.itemsize:
        raise ProtocolError(f"a packed array of {packed_dtype} cannot be a value of {what} ({dtype})")
    # math.prod, not np.prod: this runs for every array of every step, and np.prod costs ~5 us.
    if tuple(packed["shape"]) != shape or len(data) != packed_dtype.itemsize * math.prod(shape):
        raise ProtocolError(f"expected a packed array of shape {shape} for {what}, got {tuple(packed['shape'])} in {len(data)} bytes")
    # frombuffer reads the bytes in place (read-only); astype copies into a writable array.
    return np.frombuffer(data, dtype=packed_dtype).reshape(shape).astype(dtype)


def to_json(value: Any) -> Any:
    """A value (an action; numpy arrays, numpy scalars, tuples, dicts) as plain JSON data."""
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, Mapping):
        return {str(k): to_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_json(v) for v in value]
    if isinstance(value, (bool, int, float, str)) or value is None:
        return value
    raise TypeError(f"cannot send {value!r} (type {type(value).__name__}) to the server as JSON")


def packed_form(space: spaces.Space | None) -> tuple[Any, ...]:
    """How gym-server packs values of an array space (Box, MultiDiscrete, MultiBinary) in
    MessagePack: ``(dtype string, shape list, byte count, dtype, shape)``; empty for other
    spaces, and where numpy's native order is not little-endian."""
    if not isinstance(space, (spaces.Box, spaces.MultiBinary, spaces.MultiDiscrete)) or sys.byteorder != "little":
        return ()
    dtype = np.dtype(space.dtype)
    if dtype.byteorder not in "=<|" or dtype.kind not in "biuf":
        return ()
    shape = tuple(int(n) for n in space.shape)
    count = 1
    for n in shape:
        count *= n
    return (dtype.newbyteorder("<").str if dtype.itemsize > 1 else dtype.str, list(shape), count * dtype.itemsize, dtype, shape)
