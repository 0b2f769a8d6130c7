"""What in-process Gymnasium gives, in the forms the worker's answers take, for comparisons."""

import json
import struct

import numpy as np
from gymnasium import spaces


def to_plain(value):
    """Info values as PROTOCOL.md says the worker writes them (written independently of it)."""
    if isinstance(value, np.ndarray):
        return [to_plain(v) for v in value] if value.ndim else to_plain(value[()])
    if isinstance(value, np.generic):
        return to_plain(value.item())
    if value is None or isinstance(value, (str, bool, int, float)):
        return value
    if isinstance(value, dict):
        return {key_text(k): to_plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_plain(v) for v in value]
    return repr(value)


def key_text(key):
    if isinstance(key, str):
        return key
    if isinstance(key, np.generic):
        key = key.item()
    if key is None or isinstance(key, (bool, int, float)):
        return json.dumps(key)
    return repr(key)


def info_text(info):
    """JSON text to compare infos by (NaN compares equal this way)."""
    return json.dumps(to_plain(info), allow_nan=True)


def float_bits(x):
    return struct.pack("<d", float(x))


def assert_same_value(space, local, remote, where="observation"):
    """`remote` (decoded from the wire) is bit for bit `local` (from in-process Gymnasium)."""
    if isinstance(space, spaces.Tuple):
        assert isinstance(remote, tuple) and len(local) == len(remote) == len(space.spaces), where
        for i, (s, a, b) in enumerate(zip(space.spaces, local, remote)):
            assert_same_value(s, a, b, "%s[%d]" % (where, i))
    elif isinstance(space, spaces.Dict):
        assert list(remote) == list(space.spaces), where
        for key, s in space.spaces.items():
            assert_same_value(s, local[key], remote[key], "%s[%r]" % (where, key))
    elif isinstance(space, spaces.Discrete):
        assert isinstance(remote, int) and remote == int(local), (where, local, remote)
    else:
        local_array = np.asarray(local)
        assert local_array.dtype == space.dtype, (where, "in-process dtype", local_array.dtype)
        assert remote.dtype == space.dtype and remote.shape == space.shape, (where, remote.dtype, remote.shape)
        assert local_array.tobytes() == remote.tobytes(), (where, local_array, remote)
