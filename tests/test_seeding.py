"""Independent random streams: no vote-counting run replays a prefix of another run's draws."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch
from conftest import paper_config

from randablate.seeding import VOTE_RUNS, derive_seed, vote_seed
from randablate.smoothing import count_votes
from randablate.streams import as_streams, splitmix64

FIRST_DRAWS = 16


class RecordingSmoothed:
    """Stands in for Smoothed: records the first draws of every stream count_votes hands it."""

    k = 45
    num_classes = 10
    batch_size = 1000

    def __init__(self) -> None:
        self.draws: list[tuple[int, tuple[int, ...]]] = []

    def counts(self, x: torch.Tensor, n: int, seeds: list[int]) -> torch.Tensor:
        """Record (n, first draws) of each image's stream; return all votes for class 0."""
        streams = as_streams(seeds, len(x))
        for seed, start in zip(streams.seeds, streams.starts, strict=True):
            first = splitmix64(seed, start * 45 + torch.arange(FIRST_DRAWS))
            self.draws.append((n, tuple(first.tolist())))
        counts = torch.zeros(len(x), self.num_classes, dtype=torch.int64)
        counts[:, 0] = n
        return counts


def paper_runs() -> dict[str, dict[str, int]]:
    """The sampling stages of the standard run (Table 1) and the Lee et al. run (Table 7)."""
    config = paper_config()
    t1, t7 = config["table1"], config["table7"]
    return {
        "standard": {"select": t1["n0"], "bound": t1["n"], "predict": t1["n_predict"]},
        "lee": {"select": t7["n0"], "bound": t7["n"]},
    }


def recorded_streams(
    tmp_path, seed: int, run: str, stages: dict[str, int], indices: np.ndarray
) -> list[tuple[int, ...]]:
    """Count votes with `seed` as the pipeline does; return each (stage, image) stream's start."""
    smoothed = RecordingSmoothed()
    images = torch.zeros(len(indices), 1, 28, 28)
    labels = torch.zeros(len(indices), dtype=torch.int64)
    count_votes(smoothed, images, labels, indices, stages, seed, tmp_path / f"{run}.npz")
    assert len(smoothed.draws) == len(stages) * len(indices)
    return [draws for _, draws in smoothed.draws]


def test_no_stream_of_one_vote_run_is_a_prefix_of_another(tmp_path):
    indices = np.arange(6, dtype=np.int64)
    streams = []
    for run, stages in paper_runs().items():
        assert stages["select"] < stages["bound"]  # a shared stream would make a prefix
        seed = vote_seed(0, run, "mnist", "multichannel", "cnn", 45)
        streams += recorded_streams(tmp_path, seed, run, stages, indices)
    # 3 standard stages and 2 Lee stages for 6 images: 30 streams, pairwise different at the start
    assert len(streams) == 5 * len(indices)
    for a, b in itertools.combinations(streams, 2):
        assert a != b


def test_the_lee_run_would_replay_the_standard_streams_under_one_seed(tmp_path):
    # the failure the test above guards against: same seed, so Lee's streams are prefixes
    indices = np.arange(3, dtype=np.int64)
    seed = vote_seed(0, "standard", "mnist", "multichannel", "cnn", 45)
    recorded = {
        run: set(recorded_streams(tmp_path, seed, run, stages, indices))
        for run, stages in paper_runs().items()
    }
    assert recorded["lee"] <= recorded["standard"]


def test_vote_seeds_differ_by_run_and_keep_the_standard_runs_seed():
    args = ("mnist", "multichannel", "cnn", 45)
    seeds = {run: vote_seed(7, run, *args) for run in VOTE_RUNS}
    assert len(set(seeds.values())) == len(VOTE_RUNS)
    # the standard run's seed is the one the pipeline always used: its votes stay valid
    assert seeds["standard"] == derive_seed(7, "votes", *args)
    with pytest.raises(ValueError, match="unknown vote-counting run 'cohen'; expected one of"):
        vote_seed(7, "cohen", *args)
