#!/usr/bin/env python3
"""Check a monitor directory with old gym's own reader.

Usage: monitor_conformance.py <monitor-directory> <expected.json>

Runs gym 0.21's `gym.wrappers.monitor.load_results(directory)` (the function old gym's
scoreboard upload used) on a directory written by gym-server and compares what it read with
<expected.json>, an object with any of these keys:

    episode_lengths, episode_rewards, episode_types, timestamps,
    initial_reset_timestamp, env_info, videos ([[video, metadata], ...] basenames),
    manifests (number of manifest files)

It also checks that every video the manifests list exists (unless its metadata says
"empty": true) and that every metadata file holds episode_id and content_type.

Exit status: 0 when everything matches, 1 on a mismatch (each one is printed), 2 when the
arguments, the expected file or gym itself cannot be used. Needs a Python with gym==0.21.0
(`pip install "setuptools<66" "wheel<0.40" && pip install --no-build-isolation gym==0.21.0`).
"""

import json
import math
import os
import sys
import warnings


def load_gym_reader():
    warnings.filterwarnings("ignore")
    try:
        import gym
        from gym.wrappers.monitor import load_results  # gym 0.9.6 ... 0.21
    except ImportError as error:
        try:
            from gym.monitoring import load_results  # gym < 0.9.6
            import gym
        except ImportError:
            print("cannot import gym's load_results: {}".format(error), file=sys.stderr)
            sys.exit(2)
    return gym.__version__, load_results


def same_number(a, b):
    if isinstance(a, float) or isinstance(b, float):
        if a is None or b is None:
            return a is b
        a, b = float(a), float(b)
        if math.isnan(a) or math.isnan(b):
            return math.isnan(a) and math.isnan(b)
        return a == b or abs(a - b) <= 1e-12 * max(abs(a), abs(b))
    return a == b


def same_list(a, b):
    if a is None or b is None:
        return a is b
    return len(a) == len(b) and all(same_number(x, y) for x, y in zip(a, b))


def main(argv):
    if len(argv) != 3:
        print(__doc__.strip().splitlines()[2], file=sys.stderr)
        return 2
    directory, expected_path = argv[1], argv[2]
    try:
        with open(expected_path) as f:
            expected = json.load(f)
    except (OSError, ValueError) as error:
        print("cannot read {}: {}".format(expected_path, error), file=sys.stderr)
        return 2
    if not isinstance(expected, dict):
        print("{} must hold a JSON object".format(expected_path), file=sys.stderr)
        return 2

    gym_version, load_results = load_gym_reader()
    try:
        results = load_results(directory)
    except Exception as error:  # old gym raises its own errors for commingled runs
        print("gym {} load_results({!r}) raised {}: {}".format(gym_version, directory, type(error).__name__, error))
        return 1
    if results is None:
        print("gym {} load_results({!r}) found no monitor files".format(gym_version, directory))
        return 1

    mismatches = []

    def compare(key, actual, equal):
        if key in expected and not equal(actual, expected[key]):
            mismatches.append("{}: gym read {!r}, expected {!r}".format(key, actual, expected[key]))

    compare("episode_lengths", results["episode_lengths"], lambda a, b: list(a) == list(b))
    compare("episode_rewards", results["episode_rewards"], same_list)
    compare("episode_types", results["episode_types"], lambda a, b: a == b)
    compare("timestamps", results["timestamps"], same_list)
    compare("initial_reset_timestamp", results["initial_reset_timestamp"], same_number)
    compare("env_info", results["env_info"], lambda a, b: a == b)
    compare("manifests", len(results["manifests"]), lambda a, b: a == b)
    videos = [[os.path.basename(v), os.path.basename(m)] for v, m in results["videos"]]
    compare("videos", videos, lambda a, b: sorted(a) == sorted(b))

    for video_path, metadata_path in results["videos"]:
        try:
            with open(metadata_path) as f:
                metadata = json.load(f)
        except (OSError, ValueError) as error:
            mismatches.append("metadata {}: {}".format(os.path.basename(metadata_path), error))
            continue
        for key in ("episode_id", "content_type"):
            if key not in metadata:
                mismatches.append("metadata {} lacks {}".format(os.path.basename(metadata_path), key))
        if not metadata.get("empty") and not os.path.isfile(video_path):
            mismatches.append("listed video {} does not exist".format(os.path.basename(video_path)))

    for line in mismatches:
        print(line)
    if mismatches:
        return 1
    print(
        "gym {} read {} episodes, {} videos from {} manifest(s): as expected".format(
            gym_version, len(results["episode_lengths"]), len(results["videos"]), len(results["manifests"])
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
