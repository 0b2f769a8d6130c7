"""The JSON form the fixture generators write Gymnasium's values in.

float32 scalars (and float32 array elements) become "f:<shortest float32 digits>" so the Swift
tests can compare them exactly as Float; other floats are written as Python floats.
"""

import numpy as np


def to_json(x):
    if isinstance(x, np.ndarray):
        if x.dtype == np.float32:
            return [to_json(np.float32(v)) for v in x.reshape(-1)]
        return [to_json(v) for v in x.reshape(-1).tolist()]
    if isinstance(x, np.float32):
        return "f:" + np.format_float_positional(x, unique=True, trim="-") if np.isfinite(x) else "f:" + str(x)
    if isinstance(x, (np.floating, float)):
        return float(x)
    if isinstance(x, (np.bool_, bool)):
        return bool(x)
    if isinstance(x, (np.integer, int)):
        return int(x)
    if isinstance(x, (tuple, list)):
        return [to_json(v) for v in x]
    if isinstance(x, dict):
        return {k: to_json(v) for k, v in x.items()}
    raise TypeError(f"cannot encode {type(x)}: {x!r}")
