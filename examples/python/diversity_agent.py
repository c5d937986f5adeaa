"""A Python agent for AMRS-Sim: a diversity re-ranker of the world's catalogue scores (docs/python.md).

Each step it scores every song by predicted utility (the reward of eq. 3 under each listener's
weights, from batch.score_catalogue()), then lowers each song's score by `penalty` times its
highest cosine similarity (catalogue embeddings) to the songs already recommended in this
episode, and never repeats a song (maximal marginal relevance). Greedy with penalty 0 and
repeats allowed; unlike the built-in guarded(...) wrapper it works on content similarity.
"""
import numpy as np

from amrs.agents import top_k, utility_scores


class DiversityReranker:
    def __init__(self, penalty=0.1):
        self.penalty = penalty
        self._batch, self._scores, self._unit = None, None, None

    def reset(self, seed):
        pass  # deterministic: no randomness of its own

    def _episode_songs(self, obs, row):
        # The env appends one song token per step: the episode's songs are the last `step` tokens.
        n, steps = obs["length"][row], obs["step"][row]
        songs = obs["song"][row, n - steps:n]
        return songs[songs >= 0]

    def scores(self, batch):
        if batch is self._batch:  # act and rank of one step share the scores
            return self._scores
        if self._unit is None or self._unit.shape[0] != batch.num_songs:
            e = np.asarray(batch.embedding, dtype=np.float32)
            self._unit = e / np.maximum(np.linalg.norm(e, axis=1, keepdims=True), 1e-8)
        u = utility_scores(batch.score_catalogue(), batch.utility)
        obs = batch.obs
        for row in range(batch.size):
            played = self._episode_songs(obs, row)
            if played.size:
                similarity = (self._unit[played] @ self._unit.T).max(axis=0)
                u[row] -= self.penalty * np.maximum(similarity, 0.0)
                u[row, played] = -np.inf
        u[np.asarray(batch.banned)] = -np.inf  # the run's no-replay rule (docs/run.md)
        self._batch, self._scores = batch, u
        return u

    def act(self, batch):
        return top_k(self.scores(batch), 1)[:, 0]

    def rank(self, batch, k):
        return top_k(self.scores(batch), k)


if __name__ == "__main__":  # a quick run on a dataset with an oracle: python3 diversity_agent.py data.h5
    import sys

    import amrs

    r = amrs.rollout(sys.argv[1], "oracle", {"diverse": DiversityReranker(), "greedy": "greedy"}, seeds=2)
    for agent, means in r["summary"]["test"].items():
        print(f"{agent:10s} reward {means['reward']:.4f} valence {means['valence']:.4f} arousal {means['arousal']:.4f}")
