"""Space descriptions and values, offline: the JSON forms gym-server writes (GymCore's
Space+JSON.swift) read back into the Gymnasium spaces they describe."""

from __future__ import annotations

import numpy as np
import pytest
from gymnasium import spaces

from gym_server_client import ProtocolError
from gym_server_client.spaces import space_from_info, to_json, read_value

CASES = [
    ({"name": "Discrete", "n": 2}, spaces.Discrete(2)),
    ({"name": "Discrete", "n": 5, "start": -2}, spaces.Discrete(5, start=-2)),
    (
        {"name": "Box", "shape": [4], "dtype": "float32",
         "low": [-4.800000190734863, -1e100, -0.41887903213500977, -1e100],
         "high": [4.800000190734863, 1e100, 0.41887903213500977, 1e100]},
        spaces.Box(np.array([-4.8, -np.inf, 0.41887903 * -1, -np.inf], dtype=np.float32),
                   np.array([4.8, np.inf, 0.41887903, np.inf], dtype=np.float32), dtype=np.float32),
    ),
    (
        {"name": "Box", "shape": [2, 3], "dtype": "float64", "low": [0, 1, 2, 3, 4, 5], "high": [1e100] * 6},
        spaces.Box(np.arange(6, dtype=np.float64).reshape(2, 3), np.full((2, 3), np.inf), dtype=np.float64),
    ),
    (
        {"name": "Box", "shape": [3, 2, 2], "dtype": "uint8", "low": [0] * 12, "high": [255] * 12},
        spaces.Box(0, 255, (3, 2, 2), dtype=np.uint8),
    ),
    ({"name": "Box", "shape": [1], "low": [-2.0], "high": [2.0]}, spaces.Box(-2.0, 2.0, (1,), dtype=np.float32)),
    ({"name": "MultiBinary", "n": 5, "shape": [5]}, spaces.MultiBinary(5)),
    ({"name": "MultiBinary", "n": [2, 3], "shape": [2, 3]}, spaces.MultiBinary([2, 3])),
    ({"name": "MultiDiscrete", "nvec": [3, 4, 2], "shape": [3]}, spaces.MultiDiscrete([3, 4, 2])),
    ({"name": "MultiDiscrete", "nvec": [3, 4], "shape": [2], "start": [1, -1]}, spaces.MultiDiscrete([3, 4], start=[1, -1])),
    (
        {"name": "Tuple", "spaces": [{"n": 32, "name": "Discrete"}, {"n": 11, "name": "Discrete"}, {"n": 2, "name": "Discrete"}]},
        spaces.Tuple((spaces.Discrete(32), spaces.Discrete(11), spaces.Discrete(2))),
    ),
    (
        {"name": "Dict", "spaces": {
            "position": {"name": "Box", "shape": [2], "dtype": "float32", "low": [-1.0, -1.0], "high": [1.0, 1.0]},
            "mode": {"name": "Discrete", "n": 3},
            "nested": {"name": "Tuple", "spaces": [{"name": "MultiBinary", "n": 2, "shape": [2]}]},
        }},
        spaces.Dict({
            "position": spaces.Box(-1.0, 1.0, (2,), dtype=np.float32),
            "mode": spaces.Discrete(3),
            "nested": spaces.Tuple((spaces.MultiBinary(2),)),
        }),
    ),
]


@pytest.mark.parametrize("info, expected", CASES, ids=[c[1].__class__.__name__ + str(i) for i, c in enumerate(CASES)])
def test_space_from_info(info, expected):
    space = space_from_info(info)
    assert space == expected
    if isinstance(space, spaces.Box):
        assert space.dtype == expected.dtype
        assert np.array_equal(space.low, expected.low) and np.array_equal(space.high, expected.high)
    # Values the space samples, written as the server writes them (tolist), read back exactly.
    space.seed(0)
    for _ in range(5):
        sample = space.sample()
        value = read_value(space, to_json(sample))
        assert space.contains(value)
        assert_equal_structure(value, sample)


def assert_equal_structure(value, sample, part=False):
    """`value` is `sample` read back, but for the Discrete parts of a Tuple or Dict: Python ints,
    as Gymnasium's environments build their observations (a space's sample has np.int64)."""
    if isinstance(sample, tuple):
        assert isinstance(value, tuple) and len(value) == len(sample)
        for v, s in zip(value, sample):
            assert_equal_structure(v, s, part=True)
    elif isinstance(sample, dict):
        assert list(value) == list(sample)
        for key in sample:
            assert_equal_structure(value[key], sample[key], part=True)
    elif part and isinstance(sample, np.integer):
        assert type(value) is int and value == sample
    else:
        assert type(value) is type(sample) or isinstance(value, np.ndarray)
        assert np.asarray(value).dtype == np.asarray(sample).dtype
        assert np.array_equal(value, sample)


def test_discrete_is_int64_and_box_keeps_float32_bits():
    assert type(read_value(spaces.Discrete(4), 3)) is np.int64
    box = spaces.Box(-1.0, 1.0, (3,), dtype=np.float32)
    x = np.array([0.1, -0.7, 1 / 3], dtype=np.float32)
    back = read_value(box, x.tolist())  # tolist: the float64 of each float32
    assert back.dtype == np.float32 and back.tobytes() == x.tobytes()
    flat = read_value(spaces.Box(0, 1, (2, 2), dtype=np.float32), [0.0, 0.5, 1.0, 0.25])
    assert flat.shape == (2, 2)


@pytest.mark.parametrize(
    "info, message",
    [
        ({"name": "Graph"}, "unsupported space 'Graph'"),
        ({"name": "Discrete"}, "lacks 'n'"),
        ({"name": "Discrete", "n": 2.5}, "must be an integer"),
        ({"name": "Box", "shape": [2], "low": [0.0], "high": [1.0, 1.0]}, "has 1 values for shape"),
        ({"name": "Box", "shape": [1], "low": [0], "high": [1], "dtype": "complex128"}, "unsupported Box dtype"),
        ({"name": "Tuple", "spaces": {"a": 1}}, "must be a list"),
        ([1, 2], "must be a JSON object"),
    ],
)
def test_bad_descriptions(info, message):
    with pytest.raises(ProtocolError, match=message):
        space_from_info(info)


@pytest.mark.parametrize(
    "space, value",
    [
        (spaces.Discrete(3), 1.5),
        (spaces.Discrete(3), True),
        (spaces.Box(0, 1, (2,)), [0.5]),
        (spaces.Box(0, 1, (2,)), "x"),
        (spaces.Tuple((spaces.Discrete(2), spaces.Discrete(2))), [1]),
        (spaces.Dict({"a": spaces.Discrete(2)}), {"b": 1}),
    ],
)
def test_bad_values(space, value):
    with pytest.raises(ProtocolError):
        read_value(space, value)


def test_to_json():
    assert to_json(np.int64(3)) == 3 and type(to_json(np.int64(3))) is int
    assert to_json(np.array([[1, 2]], dtype=np.int8)) == [[1, 2]]
    assert to_json((np.float32(0.5), {"k": np.array([True])})) == [0.5, {"k": [True]}]
    with pytest.raises(TypeError, match="cannot send"):
        to_json(object())


def packed(array: np.ndarray) -> dict:
    """An array as a MessagePack answer packs it (GymCore's MessagePack.swift)."""
    little = array.astype(array.dtype.newbyteorder("<"))
    return {"dtype": little.dtype.str, "shape": list(array.shape), "data": little.tobytes()}


@pytest.mark.parametrize(
    "space",
    [spaces.Box(-1.0, 1.0, (3, 4), dtype=np.float32), spaces.Box(0, 255, (2, 2), dtype=np.uint8),
     spaces.MultiDiscrete([3, 3, 3]), spaces.MultiBinary([2, 3]),
     spaces.Tuple((spaces.MultiDiscrete([32, 32]), spaces.MultiDiscrete([2, 2]))),
     spaces.Dict({"a": spaces.Box(0.0, 1.0, (2,), dtype=np.float64), "b": spaces.MultiDiscrete([4])})],
    ids=lambda space: type(space).__name__,
)
def test_packed_arrays_read_as_json_values_do(space):
    space.seed(3)
    for _ in range(3):
        sample = space.sample()
        if isinstance(sample, tuple):
            value = [packed(part) for part in sample]
        elif isinstance(sample, dict):
            value = {key: packed(part) for key, part in sample.items()}
        else:
            value = packed(sample)
        read = read_value(space, value)
        assert_equal_structure(read, sample)
        assert_equal_structure(read, read_value(space, to_json(sample)))
        for array in (read.values() if isinstance(read, dict) else read if isinstance(read, tuple) else [read]):
            assert array.flags.writeable


@pytest.mark.parametrize(
    "value, message",
    [
        ({"dtype": "<f8", "shape": [2], "data": bytes(16)}, "cannot be a value of"),
        ({"dtype": "<f4", "shape": [3], "data": bytes(12)}, "shape"),
        ({"dtype": "<f4", "shape": [2], "data": bytes(7)}, "in 7 bytes"),
        ({"dtype": "<x9", "shape": [2], "data": bytes(8)}, "unknown dtype"),
        ({"dtype": "<f4", "shape": [2], "data": [0.0, 1.0]}, "packed array"),
    ],
)
def test_bad_packed_arrays(value, message):
    with pytest.raises(ProtocolError, match=message):
        read_value(spaces.Box(0.0, 1.0, (2,), dtype=np.float32), value)


@pytest.mark.parametrize(
    "space",
    [spaces.Box(-1.0, 1.0, (3, 4), dtype=np.float32), spaces.Box(0, 255, (2, 5, 3), dtype=np.uint8),
     spaces.MultiDiscrete([4, 4, 4]), spaces.MultiBinary([3, 2]), spaces.Box(-1.0, 1.0, (3,), dtype=np.float64)],
    ids=lambda space: f"{type(space).__name__}{space.shape}{space.dtype}",
)
def test_a_shards_fast_reading_of_a_step_equals_read_value(space):
    """Shard reads a step's packed observations, rewards and flags in place when they are in the
    server's own form: the same arrays as read_value's, writable; any other form goes to
    read_value, whose errors stay what they were."""
    from gym_server_client.shards import Shard

    shard = Shard(0, 1, 0, 3, api=None, websocket=None)
    shard.observation_space = space
    space.seed(5)
    for _ in range(3):
        sample = space.sample()
        read = shard._observations(packed(sample))
        assert read.dtype == space.dtype and read.shape == space.shape and read.flags.writeable
        assert np.array_equal(read, read_value(space, packed(sample)))
        assert np.array_equal(read, sample)
    rewards = np.array([1.5, -2.0, 0.25])
    flags = np.array([True, False, True])
    for values, dtype in ((rewards, np.float64), (flags, np.bool_)):
        column = shard._column(packed(values), dtype, "reward")
        assert column.dtype == dtype and column.flags.writeable and np.array_equal(column, values)
    with pytest.raises(ProtocolError, match="expected a packed array of shape"):
        shard._column({"dtype": "<f8", "shape": [2], "data": bytes(16)}, np.float64, "reward")
    wrong = packed(space.sample())
    wrong["shape"] = [1] + wrong["shape"]
    with pytest.raises(ProtocolError, match="shape"):
        shard._observations(wrong)
