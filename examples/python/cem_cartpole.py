#!/usr/bin/env python3
"""Cross-entropy method on CartPole, through a gym-server, while its monitor records the run.

A linear policy (push right when w . observation + b > 0) is searched for by the cross-entropy
method: each iteration samples a population of parameter vectors from a Gaussian, plays one
episode with each, and refits the Gaussian to the best fifth. The mean return of the population
rises from ~20 to the 500 cap within about ten iterations. numpy only; the environment runs in
the server, which records statistics and videos (episodes 0, 1, 8, 27, ...) under its monitor
directory and shows the agent live at the printed URL.

    python examples/python/cem_cartpole.py --url http://127.0.0.1:5000 --episodes 300
    python examples/python/cem_cartpole.py --seconds 10      # stop after 10 s

Needs the client: pip install ./clients/python
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np

from gym_server_client import GymServerError, RemoteEnv


def parse_arguments(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", default="http://127.0.0.1:5000", help="the gym-server API (default %(default)s)")
    parser.add_argument("--episodes", type=int, default=300, help="episodes to play at most (default %(default)s)")
    parser.add_argument("--seconds", type=float, default=None, help="stop after this many seconds (default: no limit)")
    parser.add_argument("--population", type=int, default=20, help="policies per iteration (default %(default)s)")
    parser.add_argument("--elite", type=float, default=0.2, help="fraction of them refitted to (default %(default)s)")
    parser.add_argument("--seed", type=int, default=0, help="seeds the environment and the search (default %(default)s)")
    parser.add_argument("--env", default="CartPole-v1", help="a CartPole id (default %(default)s)")
    parser.add_argument("--api-key", default=None, help="sent as X-API-Key")
    parser.add_argument("--monitor", action=argparse.BooleanOptionalAction, default=True,
                        help="record statistics and videos with the server's monitor (default: on)")
    args = parser.parse_args(argv)
    if args.episodes < 1 or args.population < 2 or not 0 < args.elite < 1:
        parser.error("--episodes must be >= 1, --population >= 2 and --elite between 0 and 1")
    if args.seconds is not None and args.seconds <= 0:
        parser.error("--seconds must be positive")
    return args


def play(env: RemoteEnv, theta: np.ndarray, deadline: float | None) -> tuple[float, int, bool]:
    """One episode with the linear policy theta = (w, b): its return, its steps, and whether it
    finished before the deadline."""
    observation, _ = env.reset()
    total, steps = 0.0, 0
    weights, bias = theta[:-1], theta[-1]
    while True:
        action = int(observation @ weights + bias > 0)
        observation, reward, terminated, truncated, _ = env.step(action)
        total += reward
        steps += 1
        if terminated or truncated:
            return total, steps, True
        if deadline is not None and time.monotonic() > deadline:
            return total, steps, False


def main(argv: list[str] | None = None) -> int:
    args = parse_arguments(argv)
    rng = np.random.default_rng(args.seed)
    deadline = None if args.seconds is None else time.monotonic() + args.seconds
    try:
        env = RemoteEnv(args.env, url=args.url, seed=args.seed, api_key=args.api_key)
    except GymServerError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1

    steps = episodes = 0
    try:
        print(f"{args.env} is instance {env.instance_id} on {env.url}; watch it at {env.live_view_url}")
        if args.monitor:
            env.start_monitor()
            print(f"the server records the run under <monitor-dir>/{env.instance_id}/simulation")
        dimension = env.observation_space.shape[0] + 1
        mean, std = np.zeros(dimension), np.ones(dimension)
        n_elite = max(1, int(round(args.population * args.elite)))
        iteration = 0
        while episodes < args.episodes:
            population = rng.normal(mean, std, size=(min(args.population, args.episodes - episodes), dimension))
            returns = []
            for theta in population:
                total, n, finished = play(env, theta, deadline)
                steps += n
                if not finished:
                    break
                returns.append(total)
                episodes += 1
            if len(returns) < len(population):
                print(f"time is up after {args.seconds} s, in the middle of iteration {iteration}")
                break
            returns = np.asarray(returns)
            elite = population[np.argsort(returns)[-n_elite:]]
            # Refit, with extra noise that fades, so the search does not collapse too early.
            mean = elite.mean(axis=0)
            std = elite.std(axis=0) + max(0.5 - 0.05 * iteration, 0.01)
            print(f"iteration {iteration:3d}: mean return {returns.mean():6.1f}   best {returns.max():6.1f}   "
                  f"(episodes {episodes}, steps {steps})", flush=True)
            iteration += 1
        return 0
    except GymServerError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    finally:
        try:
            env.close()  # also finishes the monitor's video and statistics
        except GymServerError as e:
            print(f"error while closing: {e}", file=sys.stderr)
        print(f"summary: steps={steps} episodes={episodes}", flush=True)


if __name__ == "__main__":
    sys.exit(main())
