"""Foolbox's view of the smoothed classifier: each query asks afresh "still the label?".

For k = d (no pixel ablated) every ablation is the whole image, so all n votes are the base
classifier's single vote: `SmoothedOracle` evaluates the image once and reports n votes for that
class, which is identical to counting n ablations and 1/n of the cost. Attacking that "smoothed"
classifier is attacking the plain CNN.
"""

from __future__ import annotations

import functools
import os
from typing import Any

import numpy as np
import torch

from .attack_decision import is_adversarial_counts, sequential_decision
from .smoothing import Smoothed
from .streams import Stream

# Foolbox imports GitPython (for its model zoo), which fails at import without a git executable
# unless told to stay quiet; the attack never uses git.
os.environ.setdefault("GIT_PYTHON_REFRESH", "quiet")

import eagerpy as ep
from foolbox.criteria import Criterion
from foolbox.models import Model
from foolbox.types import Bounds


@functools.lru_cache(maxsize=1024)
def _unanimous_adversarial(vote: int, label: int, n: int, num_classes: int, alpha: float) -> bool:
    """`is_adversarial_counts` of n votes all for `vote`, kept: a k = d query answers by it."""
    counts = np.zeros((1, num_classes), dtype=np.int64)
    counts[0, vote] = n
    return bool(is_adversarial_counts(counts, [label], alpha)[0])


class SmoothedOracle(Model):
    """Foolbox model of the smoothed classifier: each call answers "adversarial?" afresh.

    A call returns, per image, the vote counts it drew and, in an extra last column, 1.0 where the
    image is adversarial for `label` (misclassified or abstained on at `alpha`) and 0.0 where not.
    With `delta` the answer is decided early (`sequential_decision`), else from all n votes.
    """

    data_format = "channels_first"

    def __init__(
        self,
        smoothed: Smoothed,
        n: int,
        stream: Stream | int | None = None,
        max_queries: int | None = None,
        label: int | None = None,
        alpha: float = 0.05,
        delta: float | None = None,
    ) -> None:
        self.smoothed = smoothed
        self.n = int(n)
        # Every query reads samples of this one stream that no earlier query read.
        self.stream = stream if isinstance(stream, Stream) else Stream(stream)
        self.max_queries = max_queries
        self.label = label
        self.alpha = float(alpha)
        self.delta = delta
        self.queries = 0
        self.refused = 0
        self.samples = 0
        self.early = 0

    @property
    def bounds(self) -> Bounds:
        """Pixel values lie in [0, 1]."""
        return Bounds(0.0, 1.0)

    def _deterministic(self, x: torch.Tensor) -> bool:
        """Whether every ablation keeps every pixel (k = d): one vote stands for all n."""
        return self.smoothed.k == x.shape[-2] * x.shape[-1]

    def _unanimous(self, classes: np.ndarray) -> np.ndarray:
        """Counts (N, classes) of n votes per image, all for its class in `classes` (N,)."""
        counts = np.zeros((len(classes), self.smoothed.num_classes), dtype=np.int64)
        counts[np.arange(len(classes)), classes] = self.n
        return counts

    def vote_counts(self, x: torch.Tensor) -> np.ndarray:
        """Count n fresh votes per image of x (N, C, H, W); k = d counts the one vote n times."""
        if self._deterministic(x):
            return self._unanimous(self.smoothed.classify_whole(x).numpy())
        return self.smoothed.counts(x, self.n, self.stream.take(len(x), self.n)).numpy()

    def decide(self, x: torch.Tensor) -> tuple[bool, np.ndarray]:
        """Answer one image (1, C, H, W): (adversarial, the votes drawn); counts samples."""
        if self.label is None:
            raise ValueError("SmoothedOracle needs the label to answer queries")
        if self._deterministic(x):
            vote = int(self.smoothed.classify_whole(x)[0])
            self.samples += 1
            counts = self._unanimous(np.array([vote]))[0]
            args = (vote, self.label, self.n, self.smoothed.num_classes, self.alpha)
            return _unanimous_adversarial(*args), counts
        if self.delta is None:
            counts = self.vote_counts(x)[0]
            self.samples += self.n
            return bool(is_adversarial_counts(counts[None], [self.label], self.alpha)[0]), counts

        def draw(m: int) -> np.ndarray:
            self.samples += m
            return self.smoothed.counts(x, m, self.stream.take(1, m)).numpy()[0]

        adversarial, counts, early = sequential_decision(
            draw, self.label, self.n, self.alpha, self.delta, self.smoothed.num_classes
        )
        self.early += int(early)
        return adversarial, counts

    def __call__(self, inputs: Any) -> Any:
        """Return (N, classes + 1): votes drawn and the adversarial flag; none once over budget."""
        x, restore_type = ep.astensor_(inputs)
        raw = x.raw.detach()
        batch = raw.shape[0]
        out = np.zeros((batch, self.smoothed.num_classes + 1), dtype=np.float32)
        if self.max_queries is not None and self.queries + batch > self.max_queries:
            self.refused += batch
        else:
            self.queries += batch
            for row in range(batch):
                adversarial, counts = self.decide(raw[row : row + 1])
                out[row, :-1] = counts
                out[row, -1] = float(adversarial)
        return restore_type(ep.astensor(torch.from_numpy(out).to(raw.device)))


class SmoothedMisclassification(Criterion):
    """Foolbox criterion: the adversarial flag the `SmoothedOracle` put in its last column."""

    def __repr__(self) -> str:
        return "SmoothedMisclassification()"

    def __call__(self, perturbed: Any, outputs: Any) -> Any:
        """Boolean tensor (N,): which perturbed inputs the oracle called adversarial."""
        outputs_, restore_type = ep.astensor_(outputs)
        return restore_type(outputs_[:, -1] > 0.5)
