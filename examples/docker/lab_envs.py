"""A lab's own environments, registered when a worker imports this module
(`gym-server --python-import lab_envs`; Dockerfile.lab puts it on PYTHONPATH).

Lab/GraphWalk-v0: walk from node 0 of a small connected graph (networkx, from requirements.txt)
to the node farthest from it. The observation is (where you are, where the goal is); action i
moves to the i-th neighbour (modulo the number of neighbours); -1 a step, +10 at the goal.
"""
import gymnasium as gym
import networkx as nx
import numpy as np

NODES = 16


class GraphWalk(gym.Env):
    metadata = {"render_modes": ["ansi"]}

    def __init__(self, render_mode=None, degree=4):
        self.render_mode = render_mode
        self.graph = nx.connected_watts_strogatz_graph(NODES, degree, 0.3, seed=7)
        self.goal = max(self.graph, key=nx.single_source_shortest_path_length(self.graph, 0).get)
        self.observation_space = gym.spaces.MultiDiscrete([NODES, NODES])
        self.action_space = gym.spaces.Discrete(max(d for _, d in self.graph.degree))
        self.node = 0

    def _obs(self):
        return np.array([self.node, self.goal], dtype=np.int64)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.node = int(self.np_random.choice([n for n in self.graph if n != self.goal]))
        return self._obs(), {"distance": nx.shortest_path_length(self.graph, self.node, self.goal)}

    def step(self, action):
        neighbours = sorted(self.graph[self.node])
        self.node = neighbours[int(action) % len(neighbours)]
        arrived = self.node == self.goal
        return self._obs(), 10.0 if arrived else -1.0, arrived, False, {}

    def render(self):
        return f"at {self.node}, goal {self.goal}, neighbours {sorted(self.graph[self.node])}\n"


gym.register(id="Lab/GraphWalk-v0", entry_point=GraphWalk, max_episode_steps=50)
