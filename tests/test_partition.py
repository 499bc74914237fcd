"""Feature partition aggregation: the partition, the fixed-mask submodels and the certificate."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import torch
from torch import nn

from randablate.encoding import get_encoding
from randablate.models import build_model
from randablate.partition import (
    FixedKeep,
    assign_groups,
    certified_radius,
    certify,
    cosine_lr_schedule,
    group_masks,
    load_ensemble,
    plurality,
    save_ensemble,
    submodel_predictions,
    submodel_seed,
    submodel_settings,
    train_submodels,
    vote_counts,
)


@pytest.mark.parametrize(
    ("counts", "top", "radius"),
    [
        ([5, 3, 2], 0, 1),  # (5 - 3) / 2
        ([3, 5, 0], 1, 0),  # class 0 < 1 wins a tie: (5 - 3 - 1) / 2 = 0.5
        ([4, 4, 2], 0, 0),  # a tie goes to the smaller label, certified at 0 only
        ([2, 4, 4], 1, 0),  # tie between 1 and 2: 1 wins, and one change makes 2 win
        ([10, 0, 0], 0, 5),  # unanimous, top = 0: 5 changes leave a 5-5 tie that 0 wins
        ([0, 0, 10], 2, 4),  # unanimous, top = 2: 5 changes give 0 a 5-5 tie that 0 wins
        ([1, 6, 3], 1, 1),  # (6 - 3) / 2 against class 2; (6 - 1 - 1) / 2 = 2 against 0
        ([6, 0, 5], 0, 0),
        ([0, 11], 1, 5),  # (11 - 0 - 1) / 2
        ([11, 0], 0, 5),
        ([6, 5], 0, 0),
    ],
)
def test_radius_on_hand_made_votes(counts, top, radius) -> None:
    counts = np.array([counts])
    assert plurality(counts).tolist() == [top]
    assert certified_radius(counts).tolist() == [radius]
    guess, label_radius = certify(counts, np.array([top]))
    assert guess.tolist() == [top] and label_radius.tolist() == [radius]
    assert certify(counts, np.array([(top + 1) % counts.shape[1]]))[1].tolist() == [-1]


def _plurality_of(votes: tuple[int, ...], classes: int) -> int:
    counts = [votes.count(c) for c in range(classes)]
    return counts.index(max(counts))


def _brute_force_radius(votes: tuple[int, ...], classes: int) -> int:
    """Largest ρ such that no reassignment of any ρ of the votes changes the plurality."""
    top = _plurality_of(votes, classes)
    for rho in range(1, len(votes) + 1):
        for changed in itertools.combinations(range(len(votes)), rho):
            for new in itertools.product(range(classes), repeat=rho):
                moved = list(votes)
                for position, value in zip(changed, new, strict=True):
                    moved[position] = value
                if _plurality_of(tuple(moved), classes) != top:
                    return rho - 1
    return len(votes)


def test_radius_equals_a_brute_force_over_every_change_of_votes() -> None:
    classes = 3
    for total in range(1, 7):
        for votes in itertools.combinations_with_replacement(range(classes), total):
            counts = vote_counts(np.array([votes]), classes)
            assert certified_radius(counts)[0] == _brute_force_radius(votes, classes), votes


@pytest.mark.parametrize(("height", "width", "groups"), [(28, 28, 25), (28, 28, 60), (3, 5, 4)])
@pytest.mark.parametrize("order", ["row", "column"])
def test_the_partition_covers_every_pixel_exactly_once(height, width, groups, order) -> None:
    masks = group_masks(height, width, groups, order)
    d = height * width
    assert masks.shape == (groups, d)
    assert (masks.sum(0) == 1).all()
    sizes = masks.sum(1)
    assert sizes.max() - sizes.min() <= 1 and int(sizes.sum()) == d
    group = assign_groups(height, width, groups, order).view(height, width)
    r, c = 1, 2
    number = r * width + c if order == "row" else c * height + r
    assert int(group[r, c]) == number % groups
    if order == "row":  # the walking split: pixel i of the flattened image goes to i mod T
        assert assign_groups(height, width, groups).tolist() == [i % groups for i in range(d)]


def test_bad_partitions_are_refused() -> None:
    with pytest.raises(ValueError, match="groups"):
        group_masks(2, 2, 5)
    with pytest.raises(ValueError, match="order"):
        group_masks(2, 2, 2, "diagonal")


class ToyModel(nn.Module):
    """A random linear classifier of coded images, biased towards one class."""

    def __init__(self, in_features: int, classes: int, seed: int) -> None:
        super().__init__()
        gen = torch.Generator().manual_seed(seed)
        self.weight = torch.randn(classes, in_features, generator=gen)
        self.bias = torch.zeros(classes)
        self.bias[seed % classes] = 0.5

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.flatten(1) @ self.weight.t() + self.bias


@pytest.mark.parametrize("groups", [2, 3, 5, 8])
@pytest.mark.parametrize("encoding_name", ["multichannel", "mean"])
def test_no_change_of_rho_pixels_up_to_the_radius_changes_the_prediction(
    groups, encoding_name
) -> None:
    height, width, classes = 2, 4, 3
    d = height * width
    encoding = get_encoding(encoding_name, 1, mean=[0.4] if encoding_name == "mean" else None)
    models = [ToyModel(encoding.out_channels * d, classes, seed) for seed in range(groups)]
    masks = group_masks(height, width, groups)
    # every binary image of 8 pixels
    bits = torch.tensor(list(itertools.product([0.0, 1.0], repeat=d)))
    images = bits.view(-1, 1, height, width)
    predictions = submodel_predictions(models, encoding, masks, images, batch_size=100)
    guess, radius = certify(vote_counts(predictions, classes))
    distance = (bits[:, None, :] != bits[None, :, :]).sum(-1).numpy()
    within = distance <= radius[:, None]
    assert (guess[None, :] == guess[:, None])[within].all()
    # the radius is not vacuous: some images are certified beyond 0 when there are many groups
    if groups >= 5:
        assert radius.max() >= 1
    # each submodel's vote depends only on its own group's pixels
    for t in range(groups):
        outside = ~masks[t]
        same = (bits[:, None, masks[t]] == bits[None, :, masks[t]]).all(-1).numpy()
        assert (predictions[:, t][None, :] == predictions[:, t][:, None])[same].all()
        assert outside.any() or groups == 1


def test_fixed_keep_equals_ablating_with_the_encoding() -> None:
    encoding = get_encoding("multichannel", 1)
    torch.manual_seed(0)
    base = build_model("cnn", encoding.out_channels, 10).eval()
    x = torch.rand(3, 1, 28, 28)
    mask = group_masks(28, 28, 7)[3]
    everything = torch.ones(3, 784, dtype=torch.bool)
    wrapped = FixedKeep(base, mask, encoding).eval()
    with torch.no_grad():
        torch.testing.assert_close(
            wrapped(encoding(x, everything)), base(encoding(x, mask.expand(3, 784)))
        )
    mean = get_encoding("mean", 1, mean=[0.13])
    coded = FixedKeep(nn.Identity(), mask, mean)(mean(x, everything))
    assert torch.allclose(coded.view(3, -1)[:, ~mask], torch.tensor(0.13))
    assert torch.equal(coded.view(3, -1)[:, mask], x.view(3, -1)[:, mask])


def test_cosine_schedule_and_settings() -> None:
    rates = cosine_lr_schedule(1.0, 4)
    assert [e for e, _ in rates] == [1, 2, 3, 4]
    want = [(1 + math.cos(math.pi * (e - 0.5) / 4)) / 2 for e in range(1, 5)]
    np.testing.assert_allclose([r for _, r in rates], want)
    training = {"epochs": 4, "optimizer": "adamw", "lr": 0.5, "lr_schedule": "cosine"}
    settings = submodel_settings(training, seed=7)
    assert settings.seed == 7 and not settings.restart_optimizer
    assert settings.lr_at(1) == pytest.approx(0.5 * want[0])
    constant = submodel_settings({**training, "lr_schedule": "constant"}, seed=7)
    assert constant.lr_schedule == [[1, 0.5]]
    with pytest.raises(ValueError, match="lr_schedule"):
        submodel_settings({**training, "lr_schedule": "step"}, seed=7)


def test_train_submodels_resumes_and_round_trips(tmp_path) -> None:
    encoding = get_encoding("multichannel", 1)
    gen = torch.Generator().manual_seed(0)
    images = torch.rand(48, 1, 28, 28, generator=gen)
    labels = torch.randint(0, 10, (48,), generator=gen)
    masks = group_masks(28, 28, 2)
    training = {
        "epochs": 1,
        "batch_size": 16,
        "optimizer": "adamw",
        "lr": 1e-3,
        "lr_schedule": "cosine",
        "weight_decay": 1e-3,
    }
    settings = [submodel_settings(training, seed) for seed in (1, 2)]
    paths = [tmp_path / "g0.pt", tmp_path / "g1.pt"]
    torch.manual_seed(0)
    models = [build_model("cnn", encoding.out_channels, 10) for _ in range(2)]
    before = [p.detach().clone() for p in models[0].parameters()]
    results = train_submodels(models, encoding, masks, images, labels, settings, paths, "cpu")
    assert [len(r["history"]) for r in results] == [1, 1]
    assert any(not torch.equal(a, b) for a, b in zip(before, models[0].parameters(), strict=True))
    # a rerun resumes from the finished checkpoints and trains nothing more
    again = [build_model("cnn", encoding.out_channels, 10) for _ in range(2)]
    train_submodels(again, encoding, masks, images, labels, settings, paths, "cpu")
    for a, b in zip(models[1].state_dict().values(), again[1].state_dict().values(), strict=True):
        assert torch.equal(a, b)
    meta = {
        "arch": "cnn",
        "in_channels": 2,
        "num_classes": 10,
        **encoding.describe(),
        "groups": 2,
        "order": "row",
        "height": 28,
        "width": 28,
    }
    save_ensemble(tmp_path / "ensemble.pt", models, meta)
    loaded, enc, loaded_masks, loaded_meta = load_ensemble(tmp_path / "ensemble.pt")
    assert loaded_meta["groups"] == 2 and torch.equal(loaded_masks, masks)
    want = submodel_predictions(models, encoding, masks, images)
    assert np.array_equal(submodel_predictions(loaded, enc, loaded_masks, images), want)
    # a submodel never sees the pixels outside its group
    changed = images.clone().view(48, -1)
    changed[:, masks[1]] = 1 - changed[:, masks[1]]
    other = submodel_predictions(models, encoding, masks, changed.view(48, 1, 28, 28))
    assert np.array_equal(other[:, 0], want[:, 0])
    with pytest.raises(ValueError, match="one mask"):
        train_submodels(models, encoding, masks[:1], images, labels, settings, paths, "cpu")


def test_each_submodel_and_split_has_its_own_seed() -> None:
    seeds = {
        submodel_seed(0, "mnist", "multichannel", "cnn", groups, order, t)
        for groups in (5, 10)
        for order in ("row", "column")
        for t in range(5)
    }
    assert len(seeds) == 20  # so a checkpoint of another split fails the settings check
    assert submodel_seed(0, "mnist", "multichannel", "cnn", 5, "row", 0) == submodel_seed(
        0, "mnist", "multichannel", "cnn", 5, "row", 0
    )
