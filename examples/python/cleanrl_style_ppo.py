#!/usr/bin/env python3
"""PPO on CartPole, CleanRL style, numpy only, on a vector instance of a gym-server.

The trainer is written for Gymnasium's vector API and nothing else: ``gymnasium.make_vec
("gym_server/CartPole-v1", num_envs=8, url=...)`` makes the 8 environments one server instance
(one request steps all of them), wrapped as CleanRL wraps its environments
(``RecordEpisodeStatistics``, ``NormalizeObservation``). The agent is PPO with clipped
surrogate, GAE and an entropy bonus; the actor and the critic are small tanh networks whose
gradients are written out in numpy (no torch needed). Each update prints the mean return of the
episodes that ended: from about 20 to the 500 cap, reached at about 40,000 steps (seed 0, the
default 100,000 steps, about 10 s). Open the printed live-view URL to watch the 8 copies learn.

    python examples/python/cleanrl_style_ppo.py --url http://127.0.0.1:5000
    python examples/python/cleanrl_style_ppo.py --seconds 10 --num-envs 16

Needs the client: pip install ./clients/python
"""

from __future__ import annotations

import argparse
import sys
import time

import gymnasium as gym
import numpy as np
from gymnasium.wrappers import vector as vector_wrappers

import gym_server_client  # registers gym_server/<id>
from gym_server_client import GymServerError


def parse_arguments(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", default="http://127.0.0.1:5000", help="the gym-server API (default %(default)s)")
    parser.add_argument("--env", default="CartPole-v1", help="a Discrete-action id (default %(default)s)")
    parser.add_argument("--num-envs", type=int, default=8, help="environments in the vector instance (default %(default)s)")
    parser.add_argument("--num-steps", type=int, default=128, help="steps per environment per update (default %(default)s)")
    parser.add_argument("--total-timesteps", type=int, default=100_000, help="stop after this many steps (default %(default)s)")
    parser.add_argument("--seconds", type=float, default=None, help="stop after this many seconds (default: no limit)")
    parser.add_argument("--learning-rate", type=float, default=2.5e-3, help="Adam's step size (default %(default)s)")
    parser.add_argument("--epochs", type=int, default=4, help="passes over each batch (default %(default)s)")
    parser.add_argument("--minibatches", type=int, default=4, help="minibatches per pass (default %(default)s)")
    parser.add_argument("--hidden", type=int, default=32, help="units of the hidden layers (default %(default)s)")
    parser.add_argument("--seed", type=int, default=0, help="seeds the environments and the agent (default %(default)s)")
    parser.add_argument("--api-key", default=None, help="sent as X-API-Key")
    args = parser.parse_args(argv)
    if min(args.num_envs, args.num_steps, args.total_timesteps, args.epochs, args.minibatches, args.hidden) < 1:
        parser.error("the counts must be positive")
    if args.seconds is not None and args.seconds <= 0:
        parser.error("--seconds must be positive")
    return args


# PPO's settings, as CleanRL's ppo.py has them.
GAMMA, GAE_LAMBDA, CLIP, ENTROPY, VALUE = 0.99, 0.95, 0.2, 0.01, 0.5


class Network:
    """input -> tanh(hidden) -> tanh(hidden) -> output, with its own Adam state."""

    def __init__(self, rng: np.random.Generator, sizes: list[int], output_scale: float) -> None:
        self.params = []
        for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
            scale = output_scale if i == len(sizes) - 2 else np.sqrt(2.0)
            weights, _ = np.linalg.qr(rng.normal(size=(max(a, b), max(a, b))))  # orthogonal init
            self.params += [weights[:a, :b] * scale, np.zeros(b)]
        self.moments = [np.zeros_like(p) for p in self.params]
        self.squares = [np.zeros_like(p) for p in self.params]
        self.t = 0

    def forward(self, x: np.ndarray) -> tuple[np.ndarray, list[np.ndarray]]:
        activations = [x]
        for i in range(0, len(self.params), 2):
            x = x @ self.params[i] + self.params[i + 1]
            if i + 2 < len(self.params):
                x = np.tanh(x)
            activations.append(x)
        return x, activations

    def backward(self, activations: list[np.ndarray], grad_output: np.ndarray) -> list[np.ndarray]:
        grads = [np.empty(0)] * len(self.params)
        g = grad_output
        for i in range(len(self.params) - 2, -1, -2):
            grads[i] = activations[i // 2].T @ g
            grads[i + 1] = g.sum(axis=0)
            if i > 0:
                g = (g @ self.params[i].T) * (1.0 - activations[i // 2] ** 2)
        return grads

    def adam(self, grads: list[np.ndarray], lr: float, max_norm: float = 0.5) -> None:
        norm = np.sqrt(sum(float((g**2).sum()) for g in grads))
        if norm > max_norm:  # CleanRL clips the gradient's norm at 0.5
            grads = [g * (max_norm / norm) for g in grads]
        self.t += 1
        for p, g, m, v in zip(self.params, grads, self.moments, self.squares):
            m *= 0.9
            m += 0.1 * g
            v *= 0.999
            v += 0.001 * g * g
            p -= lr * (m / (1 - 0.9**self.t)) / (np.sqrt(v / (1 - 0.999**self.t)) + 1e-5)


def log_softmax(logits: np.ndarray) -> np.ndarray:
    shifted = logits - logits.max(axis=1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))


def update(actor: Network, critic: Network, batch: dict[str, np.ndarray], args: argparse.Namespace, rng: np.random.Generator, lr: float) -> float:
    """PPO's epochs over one batch; returns the approximate KL of the last minibatch."""
    size = len(batch["obs"])
    minibatch = max(1, size // args.minibatches)
    approx_kl = 0.0
    for _ in range(args.epochs):
        order = rng.permutation(size)
        for start in range(0, size, minibatch):
            index = order[start : start + minibatch]
            obs, actions = batch["obs"][index], batch["actions"][index]
            advantages = batch["advantages"][index]
            advantages = (advantages - advantages.mean()) / (advantages.std() + 1e-8)
            n = len(index)

            logits, activations = actor.forward(obs)
            logp_all = log_softmax(logits)
            probs = np.exp(logp_all)
            logp = logp_all[np.arange(n), actions]
            ratio = np.exp(logp - batch["logp"][index])
            approx_kl = float(((ratio - 1) - np.log(ratio)).mean())
            # d(-min(r A, clip(r) A))/d logp: -r A where the unclipped term is the smaller.
            unclipped = ratio * advantages <= np.clip(ratio, 1 - CLIP, 1 + CLIP) * advantages
            grad_logp = np.where(unclipped, -ratio * advantages, 0.0) / n
            one_hot = np.zeros_like(probs)
            one_hot[np.arange(n), actions] = 1.0
            grad_logits = grad_logp[:, None] * (one_hot - probs)
            entropy = -(probs * logp_all).sum(axis=1)
            grad_logits += ENTROPY * probs * (logp_all + entropy[:, None]) / n  # d(-c H)/d logits
            actor.adam(actor.backward(activations, grad_logits), lr)

            values, activations = critic.forward(obs)
            grad_values = VALUE * 2 * (values[:, 0] - batch["returns"][index]) / n
            critic.adam(critic.backward(activations, grad_values[:, None]), lr)
    return approx_kl


def main(argv: list[str] | None = None) -> int:
    args = parse_arguments(argv)
    rng = np.random.default_rng(args.seed)
    deadline = None if args.seconds is None else time.monotonic() + args.seconds
    try:
        envs = gym.make_vec(f"gym_server/{args.env}", num_envs=args.num_envs, url=args.url, api_key=args.api_key)
    except GymServerError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    remote = envs.unwrapped
    envs = vector_wrappers.RecordEpisodeStatistics(envs)
    envs = vector_wrappers.NormalizeObservation(envs)
    n_obs = envs.single_observation_space.shape[0]
    n_actions = int(envs.single_action_space.n)
    actor = Network(rng, [n_obs, args.hidden, args.hidden, n_actions], 0.01)
    critic = Network(rng, [n_obs, args.hidden, args.hidden, 1], 1.0)

    steps = episodes = 0
    shape = (args.num_steps, args.num_envs)
    try:
        print(f"{args.env} x{args.num_envs} is instance {remote.instance_id} on {remote.url}; watch it at {remote.live_view_url}")
        obs, _ = envs.reset(seed=args.seed)
        autoreset = np.zeros(args.num_envs, dtype=bool)
        updates = max(1, args.total_timesteps // (args.num_steps * args.num_envs))
        for u in range(updates):
            lr = args.learning_rate * (1.0 - u / updates)  # annealed, as CleanRL does
            buffer = {k: np.zeros(shape + ((n_obs,) if k == "obs" else ()), dtype=np.int64 if k == "actions" else np.float64)
                      for k in ("obs", "actions", "logp", "rewards", "dones", "values", "next_values", "valid")}
            ended = []
            for t in range(args.num_steps):
                logits, _ = actor.forward(obs)
                logp_all = log_softmax(logits)
                actions = (rng.random(args.num_envs)[:, None] > np.exp(logp_all).cumsum(axis=1)).sum(axis=1)
                actions = np.minimum(actions, n_actions - 1)
                buffer["obs"][t], buffer["actions"][t] = obs, actions
                buffer["logp"][t] = logp_all[np.arange(args.num_envs), actions]
                buffer["values"][t] = critic.forward(obs)[0][:, 0]
                # Gymnasium's next-step autoreset: a step after an episode's end only resets that
                # environment (its action ignored, reward 0): no transition to learn from.
                buffer["valid"][t] = ~autoreset
                obs, rewards, terminations, truncations, info = envs.step(actions)
                steps += args.num_envs
                autoreset = terminations | truncations
                buffer["rewards"][t], buffer["dones"][t] = rewards, autoreset
                # The value after this step: 0 past a termination, else that of the observation
                # returned (at a truncation, the episode's last one: the reset comes next step).
                next_values = critic.forward(obs)[0][:, 0]
                next_values[terminations] = 0.0
                buffer["next_values"][t] = next_values
                if "episode" in info:
                    ended += info["episode"]["r"][info["_episode"]].tolist()
                    episodes += int(info["_episode"].sum())
                if deadline is not None and time.monotonic() > deadline:
                    print(f"time is up after {args.seconds} s, in update {u}")
                    return 0
            # GAE over the rollout, cut at every episode end.
            advantages = np.zeros(shape)
            last = np.zeros(args.num_envs)
            for t in reversed(range(args.num_steps)):
                delta = buffer["rewards"][t] + GAMMA * buffer["next_values"][t] - buffer["values"][t]
                last = delta + GAMMA * GAE_LAMBDA * (1.0 - buffer["dones"][t]) * last
                advantages[t] = last
            valid = buffer["valid"].reshape(-1).astype(bool)
            batch = {
                "obs": buffer["obs"].reshape(-1, n_obs)[valid],
                "actions": buffer["actions"].reshape(-1)[valid],
                "logp": buffer["logp"].reshape(-1)[valid],
                "advantages": advantages.reshape(-1)[valid],
                "returns": (advantages + buffer["values"]).reshape(-1)[valid],
            }
            kl = update(actor, critic, batch, args, rng, lr)
            mean = f"{np.mean(ended):6.1f}" if ended else "   -  "
            print(f"update {u:3d}: mean return {mean} over {len(ended):3d} episodes   (steps {steps}, approx kl {kl:.4f})", flush=True)
        return 0
    except GymServerError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    finally:
        try:
            envs.close()
        except GymServerError as e:
            print(f"error while closing: {e}", file=sys.stderr)
        print(f"summary: steps={steps} episodes={episodes}", flush=True)


if __name__ == "__main__":
    sys.exit(main())
