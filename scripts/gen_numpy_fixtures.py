#!/usr/bin/env python3
"""Write the numpy random-stream fixtures that Tests/GymCoreTests/RandomTests.swift replays.

Needs numpy only (the fixtures were made with numpy 2.4.x):

    python3 -m venv /tmp/venv-rng && /tmp/venv-rng/bin/pip install 'numpy==2.4.*'
    /tmp/venv-rng/bin/python scripts/gen_numpy_fixtures.py

writes Tests/GymCoreTests/Fixtures/numpy_streams.json. Every number in it is a string, so that
integers above 2**53 survive JSON and doubles are read back bit for bit: integers in decimal,
doubles as Python's repr (shortest round-trip form).

Layout:
  "seeds":   per seed, numpy's SeedSequence entropy words, generate_state(4, uint64) and
             generate_state(8, uint32), PCG64's initial state and increment, and raw next_uint64
             draws (bit_generator.random_raw).
  "streams": per stream, a seed and a list of operations run in order on one Generator, each
             with its arguments and the values numpy returned. Interleaving scalar and array
             calls checks numpy's buffering (PCG64 keeps half a 64-bit draw for the next 32-bit
             draw across calls; 8-bit draws share a 32-bit word only within one call).
  "*_checksum" operations draw many values and keep a position-weighted sum of their bit
             patterns, to reach the samplers' rare branches without a large file.

A second mode regenerates the ziggurat tables (Sources/GymCore/Random/ZigguratTables.swift)
from numpy's source file numpy/random/src/distributions/ziggurat_constants.h (in numpy's sdist,
`pip download --no-deps --no-binary :all: numpy==2.4.6`, or its git tag v2.4.6):

    python3 scripts/gen_numpy_fixtures.py --ziggurat-header path/to/ziggurat_constants.h
"""

import argparse
import json
import math
import pathlib
import random
import re
import struct

import numpy as np

ROOT = pathlib.Path(__file__).resolve().parent.parent
FIXTURE = ROOT / "Tests" / "GymCoreTests" / "Fixtures" / "numpy_streams.json"
TABLES = ROOT / "Sources" / "GymCore" / "Random" / "ZigguratTables.swift"

U64 = 2**64


def s(value):
    """A number as a JSON string: ints in decimal, floats as repr."""
    if isinstance(value, (bool, np.bool_)):
        raise TypeError("bool")
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        return repr(float(value))
    raise TypeError(type(value))


def strs(values):
    return [s(v) for v in np.asarray(values).ravel().tolist()]


def make_rng(seed):
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence(seed)))


def weighted_bit_sum(values, dtype):
    """sum(bits[i] * (2*i + 1)) mod 2**64 over the values' bit patterns (as uint64)."""
    bits = np.asarray(values, dtype=dtype).view(np.uint64 if dtype == np.float64 else dtype)
    bits = bits.astype(np.uint64)
    weights = (2 * np.arange(len(bits), dtype=np.uint64) + np.uint64(1))
    with np.errstate(over="ignore"):
        return int(np.sum(bits * weights, dtype=np.uint64))


# --- operations -------------------------------------------------------------------------------
# Each returns (json_op, result_strings) after running on rng.

def op_raw(rng, count):
    return {"op": "raw", "count": count}, strs(rng.bit_generator.random_raw(count))


def op_random(rng, count=None):
    op = {"op": "random"}
    if count is None:
        return op, [s(rng.random())]
    op["count"] = count
    return op, strs(rng.random(count))


def op_uniform(rng, low, high, count=None):
    op = {"op": "uniform", "low": s(float(low)), "high": s(float(high))}
    if count is None:
        return op, [s(rng.uniform(low, high))]
    op["count"] = count
    return op, strs(rng.uniform(low, high, size=count))


def op_uniform_arrays(rng, lows, highs):
    lows = np.asarray(lows, dtype=np.float64)
    highs = np.asarray(highs, dtype=np.float64)
    op = {"op": "uniform_arrays", "lows": strs(lows), "highs": strs(highs)}
    return op, strs(rng.uniform(low=lows, high=highs))


def op_integers(rng, low, high, count=None, dtype="int64", endpoint=False):
    op = {"op": "integers", "low": s(low), "high": s(high), "dtype": dtype, "endpoint": endpoint}
    if count is None:
        value = rng.integers(low, high, dtype=np.dtype(dtype), endpoint=endpoint)
        return op, [s(value)]
    op["count"] = count
    return op, strs(rng.integers(low, high, size=count, dtype=np.dtype(dtype), endpoint=endpoint))


def op_integers_high_only(rng, high, count=None):
    """integers(high): Gymnasium's Discrete.sample and Tuple/Dict seeding."""
    op = {"op": "integers", "low": "0", "high": s(high), "dtype": "int64", "endpoint": False}
    if count is None:
        return op, [s(rng.integers(high))]
    op["count"] = count
    return op, strs(rng.integers(high, size=count))


def op_choice(rng, population):
    """choice(list) with replace=True and no p; the chosen element."""
    op = {"op": "choice", "population": strs(population)}
    return op, [s(np.asarray(rng.choice(population)).item())]


def op_choice_p(rng, probabilities, count=None):
    p = np.asarray(probabilities, dtype=np.float64)
    op = {"op": "choice_p", "probabilities": strs(p)}
    if count is None:
        return op, [s(int(rng.choice(len(p), p=p)))]
    op["count"] = count
    return op, strs(rng.choice(len(p), size=count, p=p))


def op_normal(rng, loc, scale, count=None):
    op = {"op": "normal", "loc": s(float(loc)), "scale": s(float(scale))}
    if count is None:
        return op, [s(rng.normal(loc, scale))]
    op["count"] = count
    return op, strs(rng.normal(loc, scale, size=count))


def op_standard_normal(rng, count=None):
    op = {"op": "standard_normal"}
    if count is None:
        return op, [s(rng.standard_normal())]
    op["count"] = count
    return op, strs(rng.standard_normal(count))


def op_exponential(rng, scale, count=None):
    op = {"op": "exponential", "scale": s(float(scale))}
    if count is None:
        return op, [s(rng.exponential(scale))]
    op["count"] = count
    return op, strs(rng.exponential(scale, size=count))


def op_standard_exponential(rng, count=None):
    op = {"op": "standard_exponential"}
    if count is None:
        return op, [s(rng.standard_exponential())]
    op["count"] = count
    return op, strs(rng.standard_exponential(count))


def op_checksum(rng, kind, count, **kwargs):
    op = {"op": kind + "_checksum", "count": count}
    if kind == "normal":
        values = rng.standard_normal(count)
        total = weighted_bit_sum(values, np.float64)
    elif kind == "exponential":
        values = rng.standard_exponential(count)
        total = weighted_bit_sum(values, np.float64)
    elif kind == "integers":
        op.update({"low": s(kwargs["low"]), "high": s(kwargs["high"]), "dtype": kwargs["dtype"]})
        values = rng.integers(kwargs["low"], kwargs["high"], size=count, dtype=np.dtype(kwargs["dtype"]))
        total = weighted_bit_sum(values.astype(np.int64), np.int64)
    else:
        raise ValueError(kind)
    return op, [s(total), s(values[-1])]


def stream(name, seed, steps):
    rng = make_rng(seed)
    ops = []
    for fn, args, kwargs in steps:
        op, result = fn(rng, *args, **kwargs)
        op["result"] = result
        ops.append(op)
    state = rng.bit_generator.state
    return {
        "name": name,
        "seed": s(seed),
        "ops": ops,
        "final_state": {
            "state": s(state["state"]["state"]),
            "inc": s(state["state"]["inc"]),
            "has_uint32": s(state["has_uint32"]),
            "uinteger": s(state["uinteger"]),
        },
    }


def step(fn, *args, **kwargs):
    return (fn, args, kwargs)


# --- the fixture --------------------------------------------------------------------------------

DECK = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 10, 10, 10]
INTEGER_HIGHS = [2, 3, 4, 6, 13, 500, 2**31, 2**31 - 1, 2**32 - 1, 2**32, 2**32 + 1, 2**33, 2**62,
                 2**63 - 1]


def seed_list():
    meta = random.Random(20240611)
    seeds = [0, 1, 42, 123456789, 2**32 + 5, 2**63 - 1, 2**64 - 1]
    seeds += [meta.getrandbits(32), meta.getrandbits(63), meta.getrandbits(64)]
    seeds += [2**100 + 7, 2**128 - 1, 3**200]  # more than four words of entropy
    return seeds


def seed_entry(seed):
    seq = np.random.SeedSequence(seed)
    bitgen = np.random.PCG64(np.random.SeedSequence(seed))
    state = bitgen.state
    words = np.random.bit_generator._coerce_to_uint32_array(seed)
    return {
        "seed": s(seed),
        "entropy_words": strs(words),
        "pool": strs(seq.pool),
        "state64": strs(seq.generate_state(4, np.uint64)),
        "state32": strs(seq.generate_state(8, np.uint32)),
        "pcg_state": s(state["state"]["state"]),
        "pcg_inc": s(state["state"]["inc"]),
        "raw": strs(bitgen.random_raw(8)),
    }


def streams():
    out = []
    seeds = seed_list()

    # Plain draws of every kind, for every seed.
    for seed in seeds:
        steps = [
            step(op_random, 5),
            step(op_random),
            step(op_uniform, -0.05, 0.05, 4),
            step(op_uniform, -0.6, -0.4),
            step(op_integers_high_only, 6),
            step(op_integers_high_only, 2**33),
            step(op_random),
        ]
        out.append(stream(f"basic seed {seed}", seed, steps))

    # integers(high) for each high, scalar and arrays, interleaved with random() so the
    # PCG64 32-bit buffer is sometimes full at the start of a call.
    for seed in [0, 42, 2**64 - 1]:
        steps = []
        for high in INTEGER_HIGHS:
            steps.append(step(op_integers_high_only, high))
            steps.append(step(op_integers_high_only, high, 5))
            steps.append(step(op_integers_high_only, high))
            steps.append(step(op_random))
            steps.append(step(op_integers_high_only, high))
        out.append(stream(f"integers(high) seed {seed}", seed, steps))

    # integers(low, high) with mixed signs, dtypes, endpoints; ranges of one value.
    for seed in [1, 123456789]:
        steps = [
            step(op_integers, -5, 5),
            step(op_integers, -5, 5, 7),
            step(op_integers, 10, 11),
            step(op_integers, 10, 11, 3),
            step(op_integers, -(2**63), 2**63 - 1),
            step(op_integers, -(2**63), 2**63 - 1, endpoint=True),
            step(op_integers, -(2**63), 2**63 - 1, 3, endpoint=True),
            step(op_integers, 0, 2**64 - 1, 3, dtype="uint64", endpoint=True),
            step(op_integers, 0, 2**32 - 1, 3, dtype="uint32", endpoint=True),
            step(op_integers, 0, 2**32 - 1, dtype="uint32", endpoint=True),
            step(op_integers, -3, 1000, 4, dtype="int32"),
            step(op_integers, -(2**31), 2**31 - 1, 3, dtype="int32", endpoint=True),
            step(op_integers, 7, 9, 5, dtype="int16"),
            step(op_integers, 0, 65535, 5, dtype="uint16", endpoint=True),
            step(op_integers, -100, 100, 5, dtype="int8"),
            step(op_integers, 0, 255, 6, dtype="uint8", endpoint=True),
            step(op_integers, 3, 4, dtype="int8"),
            step(op_random),
            step(op_integers, -2, 3, dtype="int8"),
            step(op_integers, 0, 6, 2, dtype="uint8"),
        ]
        out.append(stream(f"integers(low, high) seed {seed}", seed, steps))

    # MultiBinary.sample: integers(0, 2, size=n, dtype=int8), calls of several sizes, with
    # scalar int64 draws between them.
    for seed in [0, 7]:
        steps = []
        for n in [1, 3, 4, 5, 8, 9, 16, 33]:
            steps.append(step(op_integers, 0, 2, n, dtype="int8"))
            steps.append(step(op_integers_high_only, 4))
        steps.append(step(op_integers, 0, 2, 100, dtype="int8"))
        out.append(stream(f"multibinary seed {seed}", seed, steps))

    # Blackjack's reset and steps: choice(deck), choice(suits), choice(["J", "Q", "K"]).
    for seed in [0, 3, 42]:
        steps = []
        for _ in range(12):
            for _ in range(4):
                steps.append(step(op_choice, DECK))
            steps.append(step(op_choice, [0, 1, 2, 3]))  # suits, as indices
            steps.append(step(op_choice, [0, 1, 2]))  # J, Q, K as indices
        out.append(stream(f"blackjack seed {seed}", seed, steps))

    # Toy-text categorical_sample and Taxi: random() against a cumulative sum, choice(list).
    for seed in [5]:
        steps = [
            step(op_random),
            step(op_choice, [0, 1, 3]),
            step(op_choice_p, [0.1, 0.2, 0.3, 0.4]),
            step(op_choice_p, [1 / 3, 1 / 3, 1 / 3], 10),
            step(op_choice_p, [0.0, 0.5, 0.0, 0.5], 6),
            step(op_choice_p, [0.25, 0.25, 0.25, 0.25]),
        ]
        out.append(stream(f"choice with p seed {seed}", seed, steps))

    # CartPole / Acrobot / Pendulum / MountainCar resets and Acrobot's torque noise.
    for seed in [0, 1, 2, 2**40 + 9]:
        steps = [
            step(op_uniform, -0.05, 0.05, 4),
            step(op_uniform, -0.1, 0.1, 4),
            step(op_uniform_arrays, [-np.pi, -1.0], [np.pi, 1.0]),
            step(op_uniform, -0.6, -0.4),
            step(op_uniform, -1.0, 1.0),
            step(op_uniform, 0.0, 0.0),
            step(op_uniform, 1e-300, 1e300),
        ]
        out.append(stream(f"classic control seed {seed}", seed, steps))

    # Box.sample: normal for unbounded, exponential for half-bounded, uniform(arrays) for
    # bounded dimensions (float32 bounds widened to float64), and integer boxes.
    for seed in [0, 11, 2**63 - 1]:
        f32 = np.float32
        lows = np.array([-1.2, -0.07, -4.8], dtype=f32).astype(np.float64)
        highs = np.array([0.6, 0.07, 4.8], dtype=f32).astype(np.float64)
        steps = [
            step(op_normal, 0.0, 1.0, 3),
            step(op_exponential, 1.0, 2),
            step(op_exponential, 1.0, 1),
            step(op_uniform_arrays, lows, highs),
            step(op_uniform_arrays, [0.0, -3.0], [256.0, 4.0]),
            step(op_standard_normal),
            step(op_standard_normal, 5),
            step(op_normal, 2.5, 0.5),
            step(op_normal, -1.0, 3.0, 4),
            step(op_standard_exponential),
            step(op_standard_exponential, 5),
            step(op_exponential, 2.0),
            step(op_exponential, 0.25, 3),
        ]
        out.append(stream(f"box seed {seed}", seed, steps))

    # Tuple/Dict seeding: integers(np.iinfo(np.int32).max, size=len(spaces)).
    for seed in [0, 42]:
        steps = [step(op_integers_high_only, 2**31 - 1, 3), step(op_integers_high_only, 2**31 - 1, 2)]
        out.append(stream(f"composite space seeding seed {seed}", seed, steps))

    # Long runs reaching the samplers' rare branches (ziggurat tails, Lemire rejections).
    for seed in [0, 99]:
        steps = [
            step(op_checksum, "normal", 200_000),
            step(op_checksum, "exponential", 200_000),
            step(op_checksum, "integers", 100_000, low=0, high=3 * 2**30, dtype="int64"),
            step(op_checksum, "integers", 100_000, low=0, high=3 * 2**62, dtype="uint64"),
            step(op_checksum, "integers", 100_000, low=-100, high=100, dtype="int8"),
            step(op_checksum, "integers", 100_000, low=0, high=40_000, dtype="uint16"),
        ]
        out.append(stream(f"checksums seed {seed}", seed, steps))

    return out


def write_fixture():
    fixture = {
        "numpy_version": np.__version__,
        "generator": "scripts/gen_numpy_fixtures.py",
        "seeds": [seed_entry(seed) for seed in seed_list()],
        "streams": streams(),
    }
    FIXTURE.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(fixture, separators=(",", ":"))
    FIXTURE.write_text(text + "\n")
    print(f"wrote {FIXTURE} ({len(text) // 1024} KB) with numpy {np.__version__}")


# --- ziggurat tables ----------------------------------------------------------------------------

def parse_table(source, name):
    match = re.search(r"static const \w+ %s\[\] = \{(.*?)\};" % re.escape(name), source, re.S)
    if match is None:
        raise SystemExit(f"table {name} not found")
    items = [item.strip() for item in match.group(1).split(",") if item.strip()]
    values = []
    for item in items:
        item = re.sub(r"[ULFulf]+$", "", item) if not item.startswith("0x") else item.rstrip("ULul")
        values.append(int(item, 16) if item.lower().startswith("0x") else float(item))
    if len(values) != 256:
        raise SystemExit(f"table {name} has {len(values)} entries")
    return values


def parse_constant(source, name):
    match = re.search(r"static const double %s\s*=\s*([0-9.eE+-]+)" % re.escape(name), source)
    if match is None:
        raise SystemExit(f"constant {name} not found")
    return float(match.group(1))


def bits(value):
    return struct.unpack("<Q", struct.pack("<d", value))[0]


def swift_array(name, values, comment):
    lines = [f"    /// {comment}", f"    static let {name}: [UInt64] = ["]
    for start in range(0, len(values), 4):
        chunk = ", ".join(f"0x{v:016x}" for v in values[start:start + 4])
        lines.append(f"        {chunk},")
    lines.append("    ]")
    return "\n".join(lines)


def write_tables(header_path):
    source = pathlib.Path(header_path).read_text()
    ki = parse_table(source, "ki_double")
    wi = [bits(v) for v in parse_table(source, "wi_double")]
    fi = [bits(v) for v in parse_table(source, "fi_double")]
    ke = parse_table(source, "ke_double")
    we = [bits(v) for v in parse_table(source, "we_double")]
    fe = [bits(v) for v in parse_table(source, "fe_double")]
    nor_r = parse_constant(source, "ziggurat_nor_r")
    nor_inv_r = parse_constant(source, "ziggurat_nor_inv_r")
    exp_r = parse_constant(source, "ziggurat_exp_r")
    assert math.isclose(nor_inv_r, 1 / nor_r)
    tables = "\n\n".join([
        swift_array("normalK", ki, "`ki_double`"),
        swift_array("normalWBits", wi, "`wi_double`, as bit patterns."),
        swift_array("normalFBits", fi, "`fi_double`, as bit patterns."),
        swift_array("exponentialK", ke, "`ke_double`"),
        swift_array("exponentialWBits", we, "`we_double`, as bit patterns."),
        swift_array("exponentialFBits", fe, "`fe_double`, as bit patterns."),
    ])
    text = f"""// Generated by scripts/gen_numpy_fixtures.py --ziggurat-header from numpy's
// numpy/random/src/distributions/ziggurat_constants.h (taken from numpy's git tag v2.4.6; the file
// is unchanged since 2019). Do not edit: regenerate.
//
// 256-layer ziggurat tables for the standard normal (k: 52-bit acceptance bounds, w: layer
// widths scaled by 2^-52, f: densities at the layer edges) and the standard exponential
// (53-bit bounds, widths scaled by 2^-53). Doubles are stored as their bit patterns.

enum ZigguratTables {{
    /// `ziggurat_nor_r`: where the normal's tail layer starts.
    static let normalR = Double(bitPattern: 0x{bits(nor_r):016x})  // {nor_r!r}
    /// `ziggurat_nor_inv_r`: numpy's rounded constant for 1 / r.
    static let normalInverseR = Double(bitPattern: 0x{bits(nor_inv_r):016x})  // {nor_inv_r!r}
    /// `ziggurat_exp_r`: where the exponential's tail layer starts.
    static let exponentialR = Double(bitPattern: 0x{bits(exp_r):016x})  // {exp_r!r}

    @inline(__always) static func normalW(_ layer: Int) -> Double {{ Double(bitPattern: normalWBits[layer]) }}
    @inline(__always) static func normalF(_ layer: Int) -> Double {{ Double(bitPattern: normalFBits[layer]) }}
    @inline(__always) static func exponentialW(_ layer: Int) -> Double {{ Double(bitPattern: exponentialWBits[layer]) }}
    @inline(__always) static func exponentialF(_ layer: Int) -> Double {{ Double(bitPattern: exponentialFBits[layer]) }}

{tables}
}}
"""
    TABLES.write_text(text)
    print(f"wrote {TABLES}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--ziggurat-header", metavar="PATH",
                        help="regenerate ZigguratTables.swift from numpy's ziggurat_constants.h "
                             "instead of writing the fixtures")
    args = parser.parse_args()
    if args.ziggurat_header:
        write_tables(args.ziggurat_header)
    else:
        write_fixture()


if __name__ == "__main__":
    main()
