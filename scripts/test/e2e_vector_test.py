#!/usr/bin/env python3
"""Vector instances and MessagePack answers of a gym-server binary, against Gymnasium, live.

  * For every env id and every autoreset mode: a vector instance of 4 sub-environments and
    gymnasium.make_vec(..., num_envs=4, vectorization_mode="sync") given the same fresh random
    seed and the same random actions for 150 steps answer the same observations, rewards, flags
    and infos (final_obs / final_info included) at every step. In the disabled mode the finished
    sub-environments are reset with reset_mask, as a user of that mode must. The fixtures of the
    Swift tests pin fixed seeds; these seeds are new on every run.
  * MessagePack: answers asked for with `Accept: application/msgpack`, read with the `msgpack`
    library from PyPI and numpy.frombuffer, equal the JSON answers of a twin instance.

    python scripts/test/e2e_vector_test.py --server .build/release/gym-server

Needs gymnasium==1.4.0, numpy, requests, msgpack (scripts/setup/make-venv.sh installs them).
"""

import argparse
import json
import os
import shutil
import sys
import tempfile

import gymnasium as gym
import msgpack
import numpy as np
import requests

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
# The generator of Tests/GymServerTests/Fixtures/vector: its environments and modes, run again here.
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fixtures"))
from e2e_support import Server, check, summary  # noqa: E402
from gen_vector_fixtures import ENVS, MODE_ENUM, to_json  # noqa: E402

NUM_ENVS = 4
STEPS = 150


def post(server, route, body, accept=None):
    headers = {"Content-Type": "application/json"}
    if accept:
        headers["Accept"] = accept
    response = requests.post(server.base + route, data=json.dumps(body), headers=headers, timeout=30)
    assert response.status_code == 200, (route, body, response.status_code, response.text[:500])
    return response


def sample(rng, space):
    """One batched action in the JSON form a client sends."""
    if isinstance(space, gym.spaces.Discrete):
        return [int(space.start + v) for v in rng.integers(0, space.n, size=NUM_ENVS)]
    low = np.broadcast_to(space.low, space.shape).astype(np.float64)
    high = np.broadcast_to(space.high, space.shape).astype(np.float64)
    return rng.uniform(low, high, size=(NUM_ENVS,) + space.shape).astype(space.dtype).tolist()


def compare_vector(server, env_id, gym_id, kwargs, mode, rng):
    seed = int(rng.integers(2**31))
    created = post(server, "/v1/envs/", {"env_id": env_id, "num_envs": NUM_ENVS, "autoreset_mode": mode,
                                         "kwargs": kwargs}).json()
    iid = created["instance_id"]
    envs = gym.make_vec(gym_id, num_envs=NUM_ENVS, vectorization_mode="sync",
                        vector_kwargs={"autoreset_mode": MODE_ENUM[mode]}, **kwargs)
    where = f"{env_id} {mode} seed {seed}"
    ours = post(server, f"/v1/envs/{iid}/reset/", {"seed": seed}).json()
    obs, info = envs.reset(seed=seed)
    assert ours["observation"] == to_json(obs), (where, "reset", ours["observation"], to_json(obs))
    assert ours["info"] == to_json(info), (where, "reset info", ours["info"], to_json(info))
    episodes = 0
    for t in range(STEPS):
        action = sample(rng, envs.single_action_space)
        ours = post(server, f"/v1/envs/{iid}/step/", {"action": action}).json()
        obs, reward, terminated, truncated, info = envs.step(np.array(action, dtype=envs.action_space.dtype))
        at = f"{where} step {t}"
        assert ours["observation"] == to_json(obs), (at, ours["observation"], to_json(obs))
        assert ours["reward"] == to_json(reward), (at, ours["reward"], reward)
        assert ours["terminated"] == to_json(terminated) and ours["truncated"] == to_json(truncated), (at, ours)
        assert ours["done"] == np.logical_or(terminated, truncated).tolist(), (at, ours["done"])
        assert ours["info"] == to_json(info), (at, ours["info"], to_json(info))
        done = np.logical_or(terminated, truncated)
        episodes += int(done.sum())
        if mode == "disabled" and done.any():
            mask = done.tolist()
            ours = post(server, f"/v1/envs/{iid}/reset/", {"options": {"reset_mask": mask}}).json()
            obs, info = envs.reset(options={"reset_mask": done})
            assert ours["observation"] == to_json(obs), (at, "masked reset", ours["observation"], to_json(obs))
            assert ours["info"] == to_json(info), (at, "masked reset info")
    envs.close()
    post(server, f"/v1/envs/{iid}/close/", None)
    return episodes


def vector_checks():
    checks = []
    for env_id, gym_id, kwargs, _ in ENVS:
        def run(server, env_id=env_id, gym_id=gym_id, kwargs=kwargs):
            rng = np.random.default_rng()
            finished = {mode: compare_vector(server, env_id, gym_id, kwargs, mode, rng) for mode in MODE_ENUM}
            print(f"    sub-episodes finished: {finished}")
        checks.append(check(f"the same as gymnasium.make_vec with unseen seeds, every autoreset mode: {env_id}")(run))
    return checks


def unpack(value):
    """A MessagePack answer as the JSON answer has it: packed arrays as nested lists."""
    if isinstance(value, dict):
        if set(value) == {"data", "dtype", "shape"}:
            return np.frombuffer(value["data"], dtype=np.dtype(value["dtype"])).reshape(value["shape"]).tolist()
        return {k: unpack(v) for k, v in value.items()}
    if isinstance(value, list):
        return [unpack(v) for v in value]
    return value


def same(a, b):
    """Equal, float32 observations compared as float32 (JSON prints them as the float64 tolist gives)."""
    if isinstance(a, float) or isinstance(b, float):
        return np.float32(a) == np.float32(b)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    return a == b


@check("MessagePack answers read with PyPI's msgpack + numpy equal the JSON answers (plain, vector, batch)")
def messagepack(server):
    rng = np.random.default_rng()
    for env_id, action, n in [("CartPole-v1", 1, None), ("CartPole-v1", 1, 1000), ("Pendulum-v1", [0.25], 8),
                              ("Blackjack-v1", 0, 5), ("Taxi-v3", 2, None)]:
        body = {"env_id": env_id, **({"num_envs": n} if n else {})}
        twins = [post(server, "/v1/envs/", body).json()["instance_id"] for _ in range(2)]
        seed = int(rng.integers(2**31))
        step = {"action": [action] * n if n else action}
        for route, call in [("reset", {"seed": seed})] + [("step", step)] * 20:
            plain = post(server, f"/v1/envs/{twins[0]}/{route}/", call).json()
            packed = post(server, f"/v1/envs/{twins[1]}/{route}/", call, accept="application/msgpack")
            assert packed.headers["Content-Type"] == "application/msgpack", packed.headers
            read = unpack(msgpack.unpackb(packed.content))
            assert same(read, plain), (env_id, n, route, read, plain)
        if n == 1000:
            size = len(packed.content)
            as_json = len(requests.post(f"{server.base}/v1/envs/{twins[0]}/step/", json=step).content)
            print(f"    a step of 1000 CartPoles: {size:,} bytes as MessagePack, {as_json:,} as JSON")
            observation = msgpack.unpackb(packed.content)["observation"]
            assert observation["dtype"] == "<f4" and observation["shape"] == [1000, 4], observation.keys()
        for iid in twins:
            post(server, f"/v1/envs/{iid}/close/", None)
    ids = [post(server, "/v1/envs/", {"env_id": "CartPole-v1"}).json()["instance_id"] for _ in range(3)]
    for iid in ids:
        post(server, f"/v1/envs/{iid}/reset/", {"seed": 1})
    items = [{"instance_id": iid, "action": 0} for iid in ids] + [{"instance_id": ids[0], "action": 3}]
    answers = unpack(msgpack.unpackb(post(server, "/v1/batch/step/", items, accept="application/msgpack").content))
    assert len(answers) == 4 and answers[0]["observation"] == answers[1]["observation"], answers
    assert answers[3]["status"] == 400 and "Action 3" in answers[3]["message"], answers[3]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--server", required=True)
    args = parser.parse_args()
    monitor = tempfile.mkdtemp(prefix="gym-server-e2e-vector-")
    server = Server(os.path.abspath(args.server), monitor)
    try:
        for test in vector_checks() + [messagepack]:
            test(server)
    finally:
        server.stop()
        shutil.rmtree(monitor, ignore_errors=True)
    sys.exit(summary())


if __name__ == "__main__":
    main()
