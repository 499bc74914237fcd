"""Attack paths the other attack tests do not take: Foolbox 3's start and its filter query, the
settings' validation, the error paths, and the deletion of stale checkpoints.

The base classifier here needs no training: it votes class 1 when the first ten pixels of the
image hold more than 2.5 in all, else class 0. At k = d every ablation is the whole image, so the
smoothed classifier is this rule itself and the smallest attack on a black image is known: three
of those ten pixels set to white (Pointwise resets any further pixel).
"""

from __future__ import annotations

import os
import re

import numpy as np
import pytest
import torch
from conftest import holds_unless_planted
from torch import nn

from randablate import attack as attack_module
from randablate import files
from randablate.attack import (
    AttackSettings,
    SmoothedOracle,
    attack_images,
    attack_start,
    l0_pixels,
)
from randablate.encoding import get_encoding
from randablate.smoothing import Smoothed

ENCODING = get_encoding("multichannel", 1)
D = 28 * 28
WATCHED = 10  # the pixels the classifier reads


class FirstPixels(nn.Module):
    """Class 1 when the first WATCHED pixels (channel 0 of the code) sum to more than 2.5."""

    def forward(self, coded: torch.Tensor) -> torch.Tensor:
        lit = coded[:, 0].flatten(1)[:, :WATCHED].sum(1) > 2.5
        return nn.functional.one_hot(lit.long(), 10).to(coded.dtype)


def rule(image: torch.Tensor) -> int:
    """The classifier's class for one image (1, 1, H, W), from the pixels themselves."""
    return int(float(image.flatten()[:WATCHED].sum()) > 2.5)


def whole_image_model(k: int = D) -> Smoothed:
    return Smoothed(FirstPixels(), k, ENCODING, 10, batch_size=256, device="cpu")


BLACK = torch.zeros(1, 1, 28, 28)
FOOLBOX3 = AttackSettings(
    n_query=20, starts=1, init="foolbox3", init_steps=50, init_tries=2, l2_binary_search=False
)


# ---------------------------------------------------------------------------- Foolbox 3's start


class NoStart:
    """A planted fault: Foolbox 3's salt-and-pepper start that returns the clean image."""

    def __init__(self, steps: int) -> None:
        self.steps = steps

    def run(self, model, inputs, criterion, **kwargs):
        return inputs


def check_foolbox3_attack(result, x: torch.Tensor) -> None:
    assert result.found and not result.budget_spent
    assert rule(result.image) == 1 and rule(x) == 0  # adversarial for label 0
    changed = int((result.image != x).flatten().sum())  # one channel: pixels are values
    assert result.l0 == changed == 3  # the smallest attack: three white pixels among the ten
    assert bool((result.image.flatten()[WATCHED:] == 0).all())
    assert result.queries > 3 and result.samples == result.queries  # k = d: one vote a query


@pytest.mark.parametrize("planted", [None, "no start"])
def test_foolbox3_start_leads_to_the_smallest_attack(planted, monkeypatch):
    if planted:
        monkeypatch.setattr(attack_module, "SaltAndPepperNoiseAttack", NoStart)
    result = attack_start(whole_image_model(), BLACK, 0, FOOLBOX3, seed=5)
    holds_unless_planted(planted, check_foolbox3_attack, result, BLACK)


def test_foolbox3_start_is_reproducible_and_seed_dependent():
    model = whole_image_model()
    first = attack_start(model, BLACK, 0, FOOLBOX3, seed=5)
    again = attack_start(model, BLACK, 0, FOOLBOX3, seed=5)
    assert torch.equal(first.image, again.image) and first.queries == again.queries
    others = [attack_start(model, BLACK, 0, FOOLBOX3, seed=s).image for s in range(6, 10)]
    assert any(not torch.equal(first.image, other) for other in others)


class FixedStart:
    """Foolbox 3's start replaced by a fixed point; counts its runs."""

    point: torch.Tensor
    runs = 0

    def __init__(self, steps: int) -> None:
        pass

    def run(self, model, inputs, criterion, **kwargs):
        type(self).runs += 1
        return self.point.clone()


def one_white_pixel() -> torch.Tensor:
    point = BLACK.clone()
    point[0, 0, 0, 0] = 1.0  # changed, but still class 0: not adversarial
    return point


def check_filter_rejects(result, settings: AttackSettings) -> None:
    assert not result.found and result.l0 == float("inf")
    assert torch.equal(result.image, BLACK)
    # each try: one filter query, which says "not adversarial", and no Pointwise run after it
    assert result.queries == settings.init_tries
    assert FixedStart.runs == settings.init_tries


@pytest.mark.parametrize("planted", [None, "every query says adversarial"])
def test_foolbox3_filter_query_rejects_a_start_that_is_not_adversarial(planted, monkeypatch):
    FixedStart.point, FixedStart.runs = one_white_pixel(), 0
    monkeypatch.setattr(attack_module, "SaltAndPepperNoiseAttack", FixedStart)
    if planted:  # a broken oracle: the filter would let the start through
        monkeypatch.setattr(SmoothedOracle, "decide", lambda self, x: (True, np.zeros(10)))
    settings = AttackSettings(
        n_query=20, starts=1, init="foolbox3", init_tries=3, l2_binary_search=False
    )
    result = attack_start(whole_image_model(), BLACK, 0, settings, seed=1)
    holds_unless_planted(planted, check_filter_rejects, result, settings)


def test_foolbox3_filter_makes_no_query_for_an_unchanged_start(monkeypatch):
    FixedStart.point, FixedStart.runs = BLACK.clone(), 0
    monkeypatch.setattr(attack_module, "SaltAndPepperNoiseAttack", FixedStart)
    settings = AttackSettings(n_query=20, starts=1, init="foolbox3", init_tries=2)
    result = attack_start(whole_image_model(), BLACK, 0, settings, seed=1)
    assert not result.found and result.queries == 0 and FixedStart.runs == 2


def test_foolbox3_start_on_a_randomized_classifier():
    # k < d: the filter and Pointwise's entry check draw fresh ablations; at k = 780 of 784 the
    # ten pixels are all kept 95% of the time, so the smallest attack is still three pixels
    model = whole_image_model(780)
    result = attack_start(model, BLACK, 0, FOOLBOX3, seed=3)
    assert result.found and rule(result.image) == 1
    assert result.l0 == float(l0_pixels(BLACK, result.image)) >= 3
    assert result.samples > result.queries  # votes drawn, not one whole-image vote a query


# ---------------------------------------------------------------------------- settings


BAD_SETTINGS = [
    ({"n_query": 0}, "counts of samples, starts, steps and tries must be >= 1"),
    ({"starts": 0}, "counts of samples, starts, steps and tries must be >= 1"),
    ({"init_steps": 0}, "counts of samples, starts, steps and tries must be >= 1"),
    ({"init_tries": 0}, "counts of samples, starts, steps and tries must be >= 1"),
    ({"init_epsilons": 0}, "counts of samples, starts, steps and tries must be >= 1"),
    ({"init_repetitions": 0}, "counts of samples, starts, steps and tries must be >= 1"),
    ({"alpha": 0.0}, "alpha must lie in (0, 1), got 0.0"),
    ({"alpha": 1.0}, "alpha must lie in (0, 1), got 1.0"),
    ({"max_queries": 0}, "max_queries must be >= 1 or None, got 0"),
    ({"init": "foolbox9"}, "init must be one of ('foolbox2', 'foolbox3'), got 'foolbox9'"),
    ({"decision": "early"}, "decision must be one of ('sequential', 'full'), got 'early'"),
    ({"delta": 0.0}, "delta must lie in (0, 1), got 0.0"),
    ({"delta": 1.5}, "delta must lie in (0, 1), got 1.5"),
]


def check_settings_refused() -> None:
    for change, message in BAD_SETTINGS:
        with pytest.raises(ValueError, match=re.escape(message)):
            AttackSettings(**{"n_query": 10, "starts": 1, **change})
    # the edges that are allowed
    AttackSettings(n_query=1, starts=1, max_queries=None, alpha=1e-9, delta=0.999)


@pytest.mark.parametrize("planted", [None, "unknown init accepted"])
def test_attack_settings_refuse_each_bad_value(planted, monkeypatch):
    if planted:
        monkeypatch.setattr(attack_module, "INITS", ("foolbox2", "foolbox3", "foolbox9"))
        with pytest.raises(pytest.fail.Exception, match="DID NOT RAISE"):
            check_settings_refused()
    else:
        check_settings_refused()


# ---------------------------------------------------------------------------- error paths


def test_attack_start_takes_exactly_one_image():
    model = whole_image_model()
    for x in (torch.zeros(2, 1, 28, 28), torch.zeros(1, 28, 28)):
        with pytest.raises(ValueError, match=r"takes one image \(1, C, H, W\), got \("):
            attack_start(model, x, 0, FOOLBOX3, seed=0)


def test_oracle_needs_the_label_and_keeps_its_budget():
    oracle = SmoothedOracle(whole_image_model(780), 10)
    with pytest.raises(ValueError, match="needs the label"):
        oracle.decide(BLACK)
    assert oracle.vote_counts(BLACK).tolist() == [[10] + [0] * 9]  # counting needs no label
    oracle = SmoothedOracle(whole_image_model(), 10, max_queries=3, label=0)
    answers = oracle(torch.zeros(4, 1, 28, 28))  # a batch larger than what is left: refused
    assert answers.abs().sum().item() == 0 and (oracle.queries, oracle.refused) == (0, 4)
    lit = torch.zeros(3, 1, 28, 28)
    lit[:, 0, 0, :3] = 1.0
    answers = oracle(lit)  # exactly the budget: answered, all adversarial
    assert answers[:, -1].tolist() == [1.0] * 3 and answers[:, 1].tolist() == [10.0] * 3
    assert (oracle.queries, oracle.refused) == (3, 4)


def test_attack_images_refuses_mismatched_or_empty_inputs(tmp_path):
    model = whole_image_model()
    images = torch.zeros(2, 1, 28, 28)
    bad = [
        (images, torch.zeros(3, dtype=torch.long), [0, 1]),
        (images, torch.zeros(2, dtype=torch.long), [0]),
        (images[:0], torch.zeros(0, dtype=torch.long), []),
    ]
    for x, labels, indices in bad:
        with pytest.raises(ValueError, match="need as many images, labels and indices"):
            attack_images(model, x, labels, indices, FOOLBOX3, 0, tmp_path / "a.npz")
    assert not (tmp_path / "a.npz").exists()


# ---------------------------------------------------------------------------- stale checkpoints


def _discards_newer(path, reference) -> bool:
    """A planted fault: the comparison the wrong way round."""
    if os.path.exists(path) and os.stat(path).st_mtime > os.stat(reference).st_mtime:
        os.unlink(path)
        return True
    return False


def check_discard_if_older(discard, tmp_path) -> None:
    model = tmp_path / "model.pt"
    model.write_bytes(b"model")
    os.utime(model, (2_000_000, 2_000_000))
    older, newer, same = (tmp_path / name for name in ("older.npz", "newer.npz", "same.npz"))
    for path, when in ((older, 1_000_000), (newer, 3_000_000), (same, 2_000_000)):
        path.write_bytes(b"partial")
        os.utime(path, (when, when))
    assert discard(older, model) is True and not older.exists()
    assert discard(newer, model) is False and newer.read_bytes() == b"partial"
    assert discard(same, model) is False and same.exists()  # not older: kept
    assert discard(tmp_path / "missing.npz", model) is False
    assert model.read_bytes() == b"model"


@pytest.mark.parametrize("planted", [None, "newer discarded"])
def test_discard_if_older_deletes_only_checkpoints_older_than_the_model(tmp_path, planted):
    discard = _discards_newer if planted else files.discard_if_older
    holds_unless_planted(planted, check_discard_if_older, discard, tmp_path)
