"""The Pointwise attack on the smoothed classifier, its tables, figures and pipeline rules."""

from __future__ import annotations

import itertools
import logging

import numpy as np
import pandas as pd
import pytest
import torch
from conftest import REPO, dry_run, paper_config, snakemake, write_config
from torch import nn

from randablate import attack as attack_module
from randablate import attack_report, attack_starting_point, certificates, figures
from randablate.attack import (
    AttackSettings,
    SmoothedMisclassification,
    SmoothedOracle,
    StartResult,
    attack_image,
    attack_images,
    attack_start,
    foolbox2_salt_and_pepper,
    is_adversarial_counts,
    l0_pixels,
    max_adversarial_margin,
    sequential_decision,
    sequential_schedule,
)
from randablate.encoding import get_encoding
from randablate.files import load_npz
from randablate.seeding import derive_seed
from randablate.smoothing import Smoothed
from randablate.streams import Stream, Streams

ENCODING = get_encoding("multichannel", 1)


class PixelZeroVoter(nn.Module):
    """Votes 0 when the top-left pixel is kept and 1 when it is ablated (multichannel code)."""

    def forward(self, coded: torch.Tensor) -> torch.Tensor:
        kept = coded[:, 0, 0, 0] + coded[:, 1, 0, 0]  # x + (1 - x) = 1 if kept, 0 if NULL
        logits = torch.zeros(len(coded), 10, dtype=coded.dtype, device=coded.device)
        logits[:, 0] = kept
        logits[:, 1] = 1 - kept
        return logits


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """Queries here are tiny: one torch thread avoids oversubscribing a shared machine."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def linear_model(mnist) -> nn.Module:
    """A linear classifier on whole (multichannel-coded) images: small, fast, about 85% right."""
    images, labels = mnist["train"]
    torch.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(2 * 28 * 28, 10))
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    for start in range(0, 12000, 200):
        x, y = images[start : start + 200], labels[start : start + 200]
        loss = nn.functional.cross_entropy(model(ENCODING.code(x)), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return model.eval()


def smoothed(model: nn.Module, k: int) -> Smoothed:
    return Smoothed(model, k, ENCODING, 10, batch_size=4000, device="cpu")


SETTINGS = AttackSettings(n_query=30, starts=3, max_queries=5000)


def first_correct(smoothed_model: Smoothed, mnist, skip: int = 0) -> tuple[torch.Tensor, int, int]:
    """Return (image, label, index) of a test image the smoothed classifier gets right."""
    images, labels = mnist["test"]
    for index in range(skip, 200):
        counts = smoothed_model.counts(images[index : index + 1], 30, [1])
        if counts[0].argmax().item() == labels[index].item() and counts[0].max() == 30:
            return images[index : index + 1], int(labels[index]), index
    raise AssertionError("no correctly classified image")


def test_abstention_counts_as_adversarial():
    label = np.array([3, 3, 3, 3, 3])
    counts = np.zeros((5, 10), dtype=np.int64)
    counts[0, 3] = 100  # unanimous for the label: not adversarial
    counts[1, 5] = 100  # unanimous for another class: misclassified
    counts[2, [3, 5]] = [52, 48]  # label on top but not separated: abstains
    counts[3, [3, 5]] = [48, 52]  # another class on top, not separated: abstains
    # row 4: no votes at all (a query refused after the budget): not adversarial
    assert is_adversarial_counts(counts, label, 0.05).tolist() == [False, True, True, True, False]


def test_criterion_on_the_smoothed_classifier_treats_abstention_as_success():
    x = torch.full((1, 1, 28, 28), 0.5)
    criterion = SmoothedMisclassification()
    # k = d/2: the top-left pixel is kept half of the time, so the votes split about 50/50
    # between classes 0 and 1 and the smoothed classifier abstains: adversarial for label 0.
    split = SmoothedOracle(smoothed(PixelZeroVoter(), 392), 200, 0, label=0)
    out = split(x)
    counts = out[0, :-1].numpy().astype(np.int64)
    assert counts.sum() == 200 and counts[0] + counts[1] == 200
    assert 60 < counts[0] < 140
    assert criterion(x, out).tolist() == [True]
    assert is_adversarial_counts(counts[None], [0], 0.05).tolist() == [True]
    # k = 780: the pixel is kept 99.5% of the time: class 0 wins clearly, not adversarial.
    kept = SmoothedOracle(smoothed(PixelZeroVoter(), 780), 200, 0, label=0)
    assert criterion(x, kept(x)).tolist() == [False]


def test_oracle_budget_refuses_queries_without_votes():
    oracle = SmoothedOracle(smoothed(PixelZeroVoter(), 780), 50, max_queries=2, label=1)
    x = torch.zeros(1, 1, 28, 28)
    answers = [oracle(x) for _ in range(3)]
    assert [a[0, :-1].sum().item() for a in answers] == [50, 50, 0]
    # Label 1: class 0 wins, so the first two are adversarial; the refused one is not.
    assert [a[0, -1].item() for a in answers] == [1.0, 1.0, 0.0]
    assert (oracle.queries, oracle.refused) == (2, 1)


def draw_from(stream: np.ndarray, classes: int = 10):
    """A `draw(m)` over a fixed stream of votes: the next m votes' counts."""
    position = [0]

    def draw(m: int) -> np.ndarray:
        votes = stream[position[0] : position[0] + m]
        position[0] += m
        return np.bincount(votes, minlength=classes)

    return draw, position


def full_test(stream: np.ndarray, label: int, alpha: float = 0.05) -> bool:
    return bool(is_adversarial_counts(np.bincount(stream, minlength=10)[None], [label], alpha)[0])


def test_margin_is_the_largest_unseparated_lead():
    # Brute force over every vote pair (a, b) with a + b <= n.
    for n, alpha in ((120, 0.05), (300, 0.01)):
        a, b = np.meshgrid(np.arange(n + 1), np.arange(n + 1), indexing="ij")
        pairs = np.stack([a.ravel(), b.ravel()], axis=1)
        pairs = pairs[(pairs.sum(axis=1) <= n) & (pairs.sum(axis=1) > 0)]
        unseparated = certificates.predict_from_counts(pairs, alpha) != 0
        best = int((pairs[unseparated, 0] - pairs[unseparated, 1]).max())
        assert max_adversarial_margin(n, alpha) == best
    assert sequential_schedule(10_000) == [64, 128, 256, 512, 1024, 2048, 4096, 8192]
    assert sequential_schedule(50) == []


@pytest.mark.parametrize(
    "probabilities",
    [[0.99, 0.01], [0.6, 0.4], [0.53, 0.47], [0.5, 0.5], [0.45, 0.55], [0.2, 0.4, 0.4]],
)
def test_sequential_decisions_agree_with_the_full_test(probabilities):
    """Known vote probabilities: early answers differ from the full test at most at rate delta."""
    rng = np.random.default_rng(len(probabilities) * 1000 + int(100 * probabilities[0]))
    p = np.zeros(10)
    p[: len(probabilities)] = probabilities
    n, delta, trials = 2000, 0.05, 300
    differ = early = used = 0
    for _ in range(trials):
        stream = rng.choice(10, size=n, p=p)
        draw, position = draw_from(stream)
        adversarial, counts, stopped = sequential_decision(draw, 0, n, 0.05, delta, 10)
        assert counts.sum() == position[0]
        differ += adversarial != full_test(stream, 0)
        early += stopped
        used += position[0]
        if not stopped:  # the fallback is the full test on all n votes
            assert position[0] == n and adversarial == full_test(stream, 0)
    # Allowed: delta per query; 3 binomial standard deviations of slack.
    assert differ <= trials * delta + 3 * np.sqrt(trials * delta)
    if abs(probabilities[0] - max(probabilities[1:])) >= 0.2:
        assert early == trials and used / trials < n / 4  # far from the boundary: early


def test_early_answer_is_rare_against_the_worst_full_counts():
    """Given full counts just inside "adversarial" (lead M) or just outside (lead 1), the first
    m votes are a draw without replacement: an early contrary answer stays below delta."""
    rng = np.random.default_rng(3)
    n, delta, alpha = 2000, 0.2, 0.05
    margin = max_adversarial_margin(n, alpha)
    a = (n + margin) // 2
    worst_adversarial = np.repeat([0, 1], [a, n - a])
    assert full_test(worst_adversarial, 0) and a - (n - a) in (margin, margin - 1)
    # The smallest lead that the full test separates at alpha = 0.9 (about 6 votes).
    a = next(a for a in range(n // 2, n) if not full_test(np.repeat([0, 1], [a, n - a]), 0, 0.9))
    assert 2 * a - n <= 10
    worst_clean = np.repeat([0, 1], [a, n - a])
    for votes, expected, level in ((worst_adversarial, True, alpha), (worst_clean, False, 0.9)):
        wrong = 0
        for _ in range(2000):
            draw, _ = draw_from(rng.permutation(votes))
            adversarial, _, stopped = sequential_decision(draw, 0, n, level, delta, 10)
            wrong += stopped and adversarial != expected
        assert wrong <= 2000 * delta


def test_successive_queries_read_fresh_samples_of_the_oracle_stream():
    """No two queries (full, early-decision batches, several images at once) reuse a segment of
    the oracle's stream, and the samples they read are the stream's, in order."""
    model = smoothed(PixelZeroVoter(), 392)
    segments: list[tuple[int, int, int]] = []
    original = model.counts

    def recording(x, n, seeds):
        for seed, start in zip(seeds.seeds.tolist(), seeds.starts.tolist(), strict=True):
            segments.append((seed, start, start + n))
        return original(x, n, seeds)

    model.counts = recording
    x = torch.full((2, 1, 28, 28), 0.5)
    full = SmoothedOracle(model, 100, 17, label=0)
    first = full.vote_counts(x)
    full.vote_counts(x[:1])
    full(x)
    early = SmoothedOracle(model, 2000, Stream(17), label=0, delta=1e-3)
    early.decide(x[:1])
    assert {seed for seed, _, _ in segments} == {17}
    full_segments = [(a, b) for _, a, b in segments[:5]]
    assert full_segments == [(0, 100), (100, 200), (200, 300), (300, 400), (400, 500)]
    early_segments = sorted((a, b) for _, a, b in segments[5:])
    assert early_segments[0][0] == 0 and len(early_segments) >= 2
    for (_, end), (start, _) in itertools.pairwise(early_segments):
        assert end == start  # back to back: each batch of the early decision is fresh
    # the votes are those of the stream's samples: image 1 of the first query read 100..199
    assert np.array_equal(first[1], original(x[1:], 100, Streams([17], [100])).numpy()[0])


def test_oracle_decides_early_on_a_classifier_with_known_votes():
    x = torch.full((1, 1, 28, 28), 0.5)

    def oracle(k: int) -> SmoothedOracle:
        """Votes for class 0 with probability k/784 (pixel 0 kept), label 0, delta 1e-4."""
        return SmoothedOracle(smoothed(PixelZeroVoter(), k), 10_000, 0, label=0, delta=1e-4)

    # k = 780: class 0 with probability 780/784: "not adversarial" from the first 64 votes.
    kept = oracle(780)
    answers = [kept(x)[0, -1].item() for _ in range(5)]
    assert answers == [0.0] * 5 and kept.samples == 5 * 64 and kept.early == 5
    # k = 200: class 0 with probability 200/784: "adversarial" early, well before 10,000 votes.
    lost = oracle(200)
    assert [lost(x)[0, -1].item() for _ in range(5)] == [1.0] * 5
    assert lost.early == 5 and lost.samples <= 5 * 512
    # k = 396: class 0 with probability 0.505: undecided early, so the full 10,000-vote test.
    close = oracle(396)
    close(x)
    assert close.samples == 10_000 and close.early == 0


def test_oracle_at_k_equal_d_is_the_plain_classifier(linear_model, mnist):
    images, _ = mnist["test"]
    x = images[:5]
    oracle = SmoothedOracle(smoothed(linear_model, 784), 40)
    expected = torch.zeros(5, 10, dtype=torch.long)
    expected[torch.arange(5), linear_model(ENCODING.code(x)).argmax(1)] = 40
    assert torch.equal(torch.from_numpy(oracle.vote_counts(x)), expected)
    assert torch.equal(smoothed(linear_model, 784).counts(x, 40), expected)


def test_l0_counts_pixels_not_channels():
    x = torch.zeros(2, 3, 4, 4)
    y = x.clone()
    y[0, :, 1, 1] = 1.0  # one pixel, all three channels
    y[0, 2, 3, 0] = 0.5  # one pixel, one channel
    assert l0_pixels(x, y).tolist() == [2, 0]


def test_reported_l0_is_the_true_count_of_changed_pixels(linear_model, mnist):
    model = smoothed(linear_model, 784)
    x, label, index = first_correct(model, mnist)
    result = attack_image(model, x, label, index, SETTINGS, seed=0)
    assert result.status == "broken"
    changed = int((result.adv_image != x[0]).any(dim=0).sum())
    assert result.l0 == changed
    assert 0 < changed < 784
    # It is adversarial: the plain classifier's label changed (k = d: deterministic).
    assert result.adv_prediction not in (label, -1)
    assert result.adv_counts.sum() == SETTINGS.n_query


def test_result_is_the_minimum_over_starts(linear_model, mnist):
    model = smoothed(linear_model, 784)
    x, label, index = first_correct(model, mnist, skip=5)
    result = attack_image(model, x, label, index, SETTINGS, seed=4)
    found = np.isfinite(result.start_l0)
    assert found.sum() >= 2
    assert result.l0 == result.start_l0[found].min()
    assert result.best_start == int(np.argmin(np.where(found, result.start_l0, np.inf)))
    # Each start is the same as running it alone with its own seed.
    for start in range(SETTINGS.starts):
        alone = attack_start(
            model, x, label, SETTINGS, derive_seed(4, "attack", index, start), start
        )
        assert alone.l0 == result.start_l0[start]
    best = attack_start(
        model, x, label, SETTINGS, derive_seed(4, "attack", index, result.best_start)
    )
    assert torch.equal(best.image[0], result.adv_image)


def test_fixed_seed_gives_the_same_adversarial_image_twice(linear_model, mnist):
    model = smoothed(linear_model, 760)  # randomized: 24 of the 784 pixels ablated per sample
    x, label, index = first_correct(model, mnist, skip=10)
    settings = AttackSettings(n_query=20, starts=2, init_steps=10, max_queries=300)
    torch_state, numpy_state = torch.random.get_rng_state(), np.random.get_state()[1].copy()
    first = attack_image(model, x, label, index, settings, seed=7)
    # The global RNGs Foolbox draws from are restored after each start.
    assert torch.equal(torch.random.get_rng_state(), torch_state)
    assert np.array_equal(np.random.get_state()[1], numpy_state)
    second = attack_image(model, x, label, index, settings, seed=7)
    assert first.status == second.status
    assert torch.equal(first.adv_image, second.adv_image)
    assert np.array_equal(first.start_l0, second.start_l0)
    assert np.array_equal(first.adv_counts, second.adv_counts)
    other = attack_image(model, x, label, index, settings, seed=8)
    assert not torch.equal(first.adv_image, other.adv_image)


def test_an_image_already_misclassified_has_magnitude_zero(linear_model, mnist):
    images, labels = mnist["test"]
    model = smoothed(linear_model, 784)
    wrong_label = (int(labels[0]) + 1) % 10
    result = attack_image(model, images[:1], wrong_label, 0, SETTINGS, seed=0)
    assert (result.status, result.l0, result.queries) == ("clean", 0.0, 1)
    assert np.isnan(result.start_l0).all()


def test_shard_resumes_without_redoing_finished_images(linear_model, mnist, tmp_path, monkeypatch):
    images, labels = mnist["test"]
    model = smoothed(linear_model, 784)
    settings = AttackSettings(n_query=10, starts=1, init_steps=5, max_queries=200)
    out, checkpoint = tmp_path / "shard.npz", tmp_path / "shard.partial.npz"
    real = attack_module.attack_image
    calls: list[int] = []

    def killed_at_third(smoothed_model, x, label, index, *args, **kwargs):
        if index == 2:
            raise KeyboardInterrupt("killed")
        calls.append(index)
        return real(smoothed_model, x, label, index, *args, **kwargs)

    monkeypatch.setattr(attack_module, "attack_image", killed_at_third)
    with pytest.raises(KeyboardInterrupt):
        attack_images(model, images[:4], labels[:4], np.arange(4), settings, 0, out, checkpoint)
    assert calls == [0, 1] and checkpoint.exists() and not out.exists()

    def counting(smoothed_model, x, label, index, *args, **kwargs):
        calls.append(index)
        return real(smoothed_model, x, label, index, *args, **kwargs)

    monkeypatch.setattr(attack_module, "attack_image", counting)
    log = logging.getLogger("test-resume")
    attack_images(model, images[:4], labels[:4], np.arange(4), settings, 0, out, checkpoint, log)
    assert calls == [0, 1, 2, 3]
    assert out.exists() and not checkpoint.exists()
    result = load_npz(out)
    assert result["index"].tolist() == [0, 1, 2, 3]
    assert result["adv_image"].shape == (4, 1, 28, 28)
    # The same as an uninterrupted run.
    monkeypatch.setattr(attack_module, "attack_image", real)
    attack_images(model, images[:4], labels[:4], np.arange(4), settings, 0, tmp_path / "b.npz")
    again = load_npz(tmp_path / "b.npz")
    assert np.array_equal(again["adv_image"], result["adv_image"])
    assert np.array_equal(again["l0"], result["l0"])


def test_shard_resumes_mid_image_without_redoing_finished_starts(
    linear_model, mnist, tmp_path, monkeypatch
):
    # A kill during image 1's second start: the rerun redoes neither image 0 nor image 1's
    # first start, and ends with what an uninterrupted run writes.
    images, labels = mnist["test"]
    model = smoothed(linear_model, 760)  # randomized: every start draws its own ablations
    settings = AttackSettings(n_query=30, starts=3, init_steps=5, max_queries=300)
    out, checkpoint = tmp_path / "shard.npz", tmp_path / "shard.partial.npz"
    seeds = {
        derive_seed(0, "attack", index, start): (index, start)
        for index in range(3)
        for start in range(3)
    }
    real = attack_module.attack_start
    calls: list[tuple[int, int]] = []

    def killed_at(kill):
        def attack(smoothed_model, x, label, settings, seed, start=0):
            if seeds[seed] == kill:
                raise KeyboardInterrupt("killed")
            calls.append(seeds[seed])
            return real(smoothed_model, x, label, settings, seed, start)

        return attack

    monkeypatch.setattr(attack_module, "attack_start", killed_at((1, 1)))
    with pytest.raises(KeyboardInterrupt):
        attack_images(model, images[:3], labels[:3], np.arange(3), settings, 0, out, checkpoint)
    assert calls == [(0, 0), (0, 1), (0, 2), (1, 0)] and not out.exists()
    saved = load_npz(checkpoint)
    assert saved["index"].tolist() == [0] and int(saved["current_index"]) == 1
    assert saved["current_start_seed"].tolist() == [derive_seed(0, "attack", 1, 0)]
    calls.clear()
    monkeypatch.setattr(attack_module, "attack_start", killed_at(None))
    attack_images(model, images[:3], labels[:3], np.arange(3), settings, 0, out, checkpoint)
    assert calls == [(1, 1), (1, 2), (2, 0), (2, 1), (2, 2)] and not checkpoint.exists()
    monkeypatch.setattr(attack_module, "attack_start", real)
    attack_images(model, images[:3], labels[:3], np.arange(3), settings, 0, tmp_path / "b.npz")
    resumed, again = load_npz(out), load_npz(tmp_path / "b.npz")
    assert set(resumed) == set(again)
    for name in set(again) - {"seconds"}:
        assert np.array_equal(resumed[name], again[name]), name
    # the starts ran: each image's queries are its starts' plus the clean and verifying queries
    assert (again["start_queries"] > 0).all()


def fake_attack(l0: list[float], status: list[str], adv_prediction: list[int]) -> dict:
    n = len(l0)
    return {
        "index": np.arange(n),
        "label": np.full(n, 3),
        "status": np.array(status),
        "l0": np.array(l0, dtype=float),
        "best_start": np.zeros(n, dtype=int),
        "clean_prediction": np.array([5 if s == "clean" else 3 for s in status]),
        "adv_prediction": np.array(adv_prediction),
        "queries": np.ones(n, dtype=int),
        "seconds": np.ones(n),
        "k": np.int64(45),
        "n_query": np.int64(100),
        "start_l0": np.array(l0, dtype=float)[:, None],
        "clean_counts": np.zeros((n, 10), dtype=int),
        "adv_counts": np.zeros((n, 10), dtype=int),
    }


def test_table2_reports_the_verified_median_and_labels_quoted_rows():
    status = ["clean", "broken", "broken", "broken", "unbroken"]
    attack = fake_attack([0, 10, 20, 30, np.inf], status, [5, 4, 3, -1, 3])
    attack["budget_bound"] = np.array([False, False, True, False, True])
    table = attack_report.attack_table(attack)
    # Image 2's adversarial example predicts its label on a fresh query: query_fooled, inf.
    assert table["verified"].tolist() == [True, True, False, True, False]
    assert table["status"].tolist() == ["clean", "broken", "query_fooled", "broken", "unbroken"]
    assert table["attack_l0"].tolist() == [0, 10, np.inf, 30, np.inf]
    assert table["query_l0"].tolist() == [0, 10, 20, 30, np.inf]
    paper = pd.read_csv(REPO / "resources/paper/table2_mnist_pointwise.csv")
    settings = {"alpha": 0.05, "init": "foolbox2", "l2_binary_search": True, "delta": 1e-4}
    out = attack_report.table2(paper, {"ours": table}, settings, "reduced")
    assert out["kind"].tolist() == ["quoted"] * 7 + ["measured"]
    quoted = out["paper_median_attack_magnitude_pixels"].tolist()[:7]
    assert quoted == paper["median_attack_magnitude_pixels"].tolist()
    assert out["median_attack_magnitude_pixels"][:7].isna().all()  # not measured here
    assert out["source"].iloc[0].startswith("Schott et al. 2019, as quoted")
    ours = out.iloc[-1]
    # Verified magnitudes 0, 10, inf, 30, inf: median 30 (the query path's would be 20).
    assert ours["median_attack_magnitude_pixels"] == 30.0 and ours["median_query_l0_pixels"] == 20.0
    assert (ours["images"], ours["unbroken"], ours["clean_adversarial"]) == (5, 1, 1)
    assert (ours["broken"], ours["query_fooled"], ours["budget_bound"]) == (2, 1, 2)
    assert ours["accuracy_pct"] == 80.0 and ours["accuracy_images"] == 5
    assert ours["init"] == "foolbox2" and bool(ours["l2_binary_search"]) is True
    two_unbroken = attack_report.attack_table(
        fake_attack(
            [0, 10, np.inf, np.inf], ["clean", "broken", "unbroken", "unbroken"], [5, 4, 3, 3]
        )
    )
    assert attack_report.summarize_attack(two_unbroken)["median_attack_magnitude_pixels"] == np.inf


def test_table2_accuracy_is_table1s_over_the_certified_images():
    """The paper's 96.7% is Table 1's accuracy (whole test set): ours is over Table 1's images."""
    table = attack_report.attack_table(fake_attack([0, 10], ["clean", "broken"], [5, 4]))
    certs = pd.DataFrame({"index": np.arange(40), "label": np.full(40, 3)})
    certs["prediction"] = np.where(np.arange(40) < 37, 3, -1)  # 37 of 40 right: 92.5%
    paper = pd.read_csv(REPO / "resources/paper/table2_mnist_pointwise.csv")
    out = attack_report.table2(paper, {"ours": table}, {}, "reduced", {"ours": certs})
    ours = out.iloc[-1]
    assert (ours["accuracy_pct"], ours["accuracy_images"]) == (92.5, 40)
    assert ours["attacked_accuracy_pct"] == 50.0
    assert "Table 1's 40 certified test images" in ours["accuracy_over"]


def test_soundness_flags_misclassification_within_the_certified_radius():
    status = ["broken"] * 5
    attack = fake_attack([5, 5, 5, 9, 5], status, [4, -1, 3, 4, 4])
    certs = pd.DataFrame(
        {
            "index": [4, 3, 2, 1, 0],
            "guess": [3, 3, 3, 3, 3],
            "p_lower": [0.6, 0.9, 0.9, 0.9, 0.9],
            "radius": [-1, 8, 8, 8, 8],
            "robustness": [0.0, 8.0, 8.0, 8.0, 8.0],
        }
    )
    table = attack_report.attack_table(attack, certs)
    assert table["radius"].tolist() == [8, 8, 8, 8, -1]
    sound = attack_report.soundness_table(table)
    # 0: L0 5 <= 8 and predicts 4: flagged. 1: abstains: not a contradiction. 2: a fresh query
    # predicts the label: query_fooled, magnitude inf. 3: L0 9 > 8. 4: no certificate.
    assert sound["flag"].tolist() == [True, False, False, False, False]
    assert sound["within_radius"].tolist() == [True, True, False, False, False]
    assert sound["status"].tolist()[2] == "query_fooled" and sound["query_l0"].tolist()[2] == 5
    with pytest.raises(ValueError, match="no certificate for attacked image"):
        attack_report.attack_table(fake_attack([1] * 6, ["broken"] * 6, [1] * 6), certs, "c.csv")


def test_figure_of_adversarial_examples(tmp_path):
    status = ["broken", "broken", "unbroken", "broken", "query_fooled"]
    attack = fake_attack([3, 4, np.inf, 5, np.inf], status, [-1, 7, 3, 3, 3])
    attack["query_l0"] = np.array([3, 4, np.inf, 5, 6.0])
    attack["clean_image"] = np.random.default_rng(0).random((5, 1, 28, 28))
    attack["adv_image"] = attack["clean_image"].copy()
    # Image 3 (an older file's "broken") and image 4 do not hold up on a fresh query: not shown.
    positions = attack_report.pick_examples(attack, 0, 4)
    assert positions.tolist() == [0, 1]
    assert attack_report.pick_examples(attack, 2, 4).tolist() == []
    assert attack_report.run_summary(attack).startswith(
        "of 5 attacked images: 2 broken (adversarial on a fresh full query), 2 not adversarial"
    )
    figures.plot_adversarial_examples(attack, positions, tmp_path / "f.png", "title")
    assert (tmp_path / "f.png").stat().st_size > 5000
    figures.plot_adversarial_examples(attack, positions[:0], tmp_path / "e.png", "none")
    assert (tmp_path / "e.png").exists()


def test_dry_run_of_table2_at_the_papers_config(tmp_path):
    write_config(tmp_path, paper_config())
    counts, output = dry_run(tmp_path, "results/tables/table2.csv")
    # 275 images in 11 shards, for k = 45 and for the unprotected CNN (k = 784).
    assert counts["attack_shard"] == 22 and counts["attack_gather"] == 2
    assert counts["train"] == 2 and counts["table2"] == 1
    # The k = 45 certificates give the radii; the k = 784 CNN needs none.
    assert counts["certificates"] == 1
    assert "k784/shard-10-of-11.npz" in output and "k45/model.pt" in output


def test_dry_run_of_table2_without_the_smoothed_attack(tmp_path):
    # attack.smoothed off: only the unprotected CNN is trained and attacked, nothing certified.
    config = paper_config()
    config["attack"]["smoothed"] = False
    write_config(tmp_path, config)
    counts, output = dry_run(tmp_path, "results/tables/table2.csv")
    assert counts["attack_shard"] == 11 and counts["attack_gather"] == 1
    assert counts["train"] == 1 and "certificates" not in counts
    assert "k784/shard-10-of-11.npz" in output and "k45/" not in output


def test_dry_run_of_table2_with_the_smoothed_attack_on_a_subset(tmp_path):
    # attack.smoothed_images: the smoothed classifier on the first 50, the CNN on all 275.
    config = paper_config()
    config["attack"]["smoothed_images"] = 50
    write_config(tmp_path, config)
    counts, output = dry_run(tmp_path, "results/tables/table2.csv")
    assert counts["attack_shard"] == 22 and counts["certificates"] == 1
    assert "k45/shard-10-of-11.npz" in output and "k784/shard-10-of-11.npz" in output


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (lambda a: a.update(k=900), "attack.k = 900; expected at most d = 784"),
        (lambda a: a.update(decision="fast"), "'fast' is not one of ['sequential', 'full']"),
        (lambda a: a.update(delta=0), "0 is less than or equal to the minimum of 0"),
        (lambda a: a.update(num_images=20000), "attack.num_images = 20000; expected at most"),
        (lambda a: a.update(n_query=5), "attack.n_query = 5; expected at least 6"),
        (lambda a: a.update(shards=300), "attack.shards = 300; expected at most"),
        (lambda a: a.update(smoothed_images=5), "attack.shards = 11; expected at most the"),
        (lambda a: a.update(smoothed_images=0), "0 is less than the minimum of 1"),
        (lambda a: a.update(starts=0), "0 is less than the minimum of 1"),
    ],
)
def test_bad_attack_config_fails_naming_the_key(tmp_path, change, expected):
    config = paper_config()
    change(config["attack"])
    write_config(tmp_path, config)
    run = snakemake(tmp_path, "-n", "--cores", "1")
    assert run.returncode != 0
    assert expected in run.stdout + run.stderr, (run.stdout + run.stderr)[-3000:]


def test_tiny_pipeline_builds_table2_soundness_and_figures(tiny_run):
    table = pd.read_csv(tiny_run / "results/tables/table2.csv")
    measured = table[table["kind"] == "measured"]
    assert measured["k"].tolist() == [784, 30]
    assert (measured["images"] == 2).all() and (measured["n_query"] == 30).all()
    assert (measured["scale"] == "reduced").all()
    assert (table[table["kind"] == "quoted"]["source"].str.contains("Levine & Feizi")).all()
    # the paper's row of randomized ablation at k = 30 does not exist: no paper values beside it
    assert table["model"].tolist()[-2:] == [
        "CNN, unprotected (k=784, no pixel ablated)",
        "Randomized ablation (k=30)",
    ]
    assert table["paper_accuracy_pct"][-2:].isna().all()
    attack = load_npz(tiny_run / "results/attack/mnist/multichannel/cnn/k30/attack.npz")
    per_image = pd.read_csv(tiny_run / "results/attack/mnist/multichannel/cnn/k30/attack.csv")
    assert per_image["index"].tolist() == [0, 1]
    changed = (attack["adv_image"] != attack["clean_image"]).any(axis=1).sum(axis=(1, 2))
    finite = np.isfinite(attack["l0"])
    assert np.array_equal(changed[finite], attack["l0"][finite])
    certs = pd.read_csv(tiny_run / "results/certificates/mnist/multichannel/cnn/k30/standard.csv")
    assert per_image["radius"].tolist() == certs["radius"].tolist()[:2]
    sound = pd.read_csv(tiny_run / "results/tables/attack_soundness.csv")
    assert sound["index"].tolist() == [0, 1] and sound["flag"].dtype == bool
    for figure in ("figure3", "figure5"):
        assert (tiny_run / f"results/figures/{figure}.png").stat().st_size > 3000
    log = (tiny_run / "logs/results/attack/mnist/multichannel/cnn/k30/shard-0-of-1.log").read_text()
    assert "attacked 2/2 images" in log and "device: cpu" in log


def test_reference_export_of_table2_holds_both_attacked_models(tiny_run):
    # reference_table2 on the tiny run (attack.smoothed on): both rows with intervals, and the
    # smoothed classifier's per-image attack copied beside the CNN's.
    out = tiny_run / "reference/mnist-k45"
    run = snakemake(tiny_run, "reference/mnist-k45/summary_table2.csv", "--cores", "1")
    assert run.returncode == 0, run.stderr[-3000:]
    summary = pd.read_csv(out / "summary_table2.csv")
    assert summary["row"].unique().tolist() == [
        "CNN, unprotected (k=784, no pixel ablated)",
        "Randomized ablation (k=30)",
    ]
    cnn = summary[summary["row"].str.startswith("CNN")].set_index("quantity")
    assert cnn.loc["median_attack_magnitude_pixels", "paper"] == 9.0
    assert (cnn["paper_row"] == "CNN (Schott et al. 2019)").all()
    smoothed = summary[summary["row"] == "Randomized ablation (k=30)"].set_index("quantity")
    assert smoothed["paper"].isna().all() and (smoothed["images"] == 2).all()  # no k = 30 row
    attack_csv = tiny_run / "results/attack/mnist/multichannel/cnn/k30/attack.csv"
    per_image = pd.read_csv(attack_csv)
    ours = attack_report.median_magnitude(per_image["attack_l0"].to_numpy(np.float64))
    assert smoothed.loc["median_attack_magnitude_pixels", "ours"] == ours
    assert (out / "attack_smoothed_k30.csv").read_bytes() == attack_csv.read_bytes()
    assert (out / "training_unprotected_cnn.csv").exists()


def test_foolbox2_starting_point_keeps_the_fewest_changed_pixels():
    """Foolbox 2's salt and pepper: a candidate is queried only if it changes fewer pixels than
    the best so far; each sweep stops at its first adversarial one; the fewest pixels win."""
    x = torch.full((1, 1, 28, 28), 0.5)
    queried: list[int] = []

    def needs_60_pixels(z: torch.Tensor) -> bool:
        queried.append(int(l0_pixels(x, z)))
        return queried[-1] >= 60

    start = foolbox2_salt_and_pepper(needs_60_pixels, x, 100, 10, np.random.default_rng(0))
    best = int(l0_pixels(x, start))
    adversarial = [q for q in queried if q >= 60]
    assert best == min(adversarial) >= 60
    # Every query after the first find changes fewer pixels than the best before it.
    firsts = [i for i, q in enumerate(queried) if q >= 60]
    for i in range(firsts[0] + 1, len(queried)):
        assert queried[i] < min(q for q in queried[:i] if q >= 60)
    assert len(adversarial) <= 10 and len(queried) <= 1000
    # Salt and pepper: changed pixels are 0 or 1, the same in every channel.
    assert set(start[start != x].tolist()) <= {0.0, 1.0}
    # The first sweep raises p by 1/100 per query until about 60 of 784 pixels change.
    assert 4 <= firsts[0] + 1 <= 15
    assert foolbox2_salt_and_pepper(lambda z: False, x, 5, 2, np.random.default_rng(0)) is None


def test_second_phase_only_lowers_l0(linear_model, mnist):
    """k = d: the first phase is the same with the second phase on or off (same seeds); the
    second then only resets pixels or moves values, so L0 never grows and costs queries."""
    model = smoothed(linear_model, 784)
    x, label, index = first_correct(model, mnist, skip=20)
    off = AttackSettings(n_query=30, starts=3, l2_binary_search=False, max_queries=None)
    on = AttackSettings(n_query=30, starts=3, l2_binary_search=True, max_queries=None)
    first = attack_image(model, x, label, index, off, seed=2)
    second = attack_image(model, x, label, index, on, seed=2)
    assert first.status == second.status == "broken"
    assert np.all(second.start_l0 <= first.start_l0)
    assert np.all(second.start_queries > first.start_queries)
    assert not second.budget_bound and not first.budget_bound


def test_an_attack_a_fresh_query_rejects_is_query_fooled(linear_model, mnist, monkeypatch):
    model = smoothed(linear_model, 784)
    x, label, index = first_correct(model, mnist)
    changed = x.clone()
    changed[0, 0, 0, :3] = 1.0  # three corner pixels: the CNN still says the label

    def fooled_start(smoothed_model, image, lab, settings, seed, start=0):
        return StartResult(start, seed, True, 3.0, changed, 7, start == 1, 70)

    monkeypatch.setattr(attack_module, "attack_start", fooled_start)
    result = attack_image(model, x, label, index, SETTINGS, seed=0)
    assert result.adv_prediction == label
    assert (result.status, result.l0, result.query_l0) == ("query_fooled", np.inf, 3.0)
    assert result.budget_bound and result.queries == 3 * 7 + 2
    assert result.samples == 3 * 70 + 2  # k = d: the clean and verifying queries are 1 pass


def test_a_binding_query_budget_is_recorded(linear_model, mnist):
    model = smoothed(linear_model, 784)
    x, label, index = first_correct(model, mnist)
    tight = AttackSettings(n_query=30, starts=2, max_queries=5)
    result = attack_image(model, x, label, index, tight, seed=0)
    assert result.budget_bound
    assert result.start_queries.tolist() == [5, 5]
    loose = AttackSettings(n_query=30, starts=2, max_queries=None)
    assert not attack_image(model, x, label, index, loose, seed=0).budget_bound


@pytest.mark.parametrize("decision", ["sequential", "full"])
def test_fixed_seed_gives_the_same_attack_twice_either_decision(linear_model, mnist, decision):
    model = smoothed(linear_model, 700)
    x, label, index = first_correct(model, mnist, skip=30)
    settings = AttackSettings(n_query=200, starts=1, max_queries=150, decision=decision)
    first = attack_image(model, x, label, index, settings, seed=3)
    second = attack_image(model, x, label, index, settings, seed=3)
    assert torch.equal(first.adv_image, second.adv_image)
    assert (first.status, first.queries, first.samples) == (
        second.status,
        second.queries,
        second.samples,
    )
    per_query = (first.samples - 2 * settings.n_query) / max(first.queries - 2, 1)
    if decision == "full":
        assert first.samples == first.queries * settings.n_query
    else:
        assert per_query < settings.n_query


def tiny_cnn(in_channels: int) -> nn.Module:
    """A small CNN with fixed random weights: enough to classify and attack, no training."""
    with torch.random.fork_rng():
        torch.manual_seed(0)
        return nn.Sequential(
            nn.Conv2d(in_channels, 8, kernel_size=4, stride=2, padding=1),
            nn.ReLU(),
            nn.Flatten(),
            nn.Linear(8 * 14 * 14, 10),
        ).eval()


def smooth_images(count: int, channels: int = 1, seed: int = 0) -> torch.Tensor:
    """Images in [0, 1] with a blob of ink and some noise, like digits to a random CNN."""
    gen = torch.Generator().manual_seed(seed)
    grid = torch.linspace(-1, 1, 28)
    blob = torch.exp(-(grid[:, None] ** 2 + grid[None, :] ** 2) * 4)
    noise = torch.rand(count, channels, 28, 28, generator=gen)
    return (0.7 * blob + 0.3 * noise).clamp(0, 1)


@pytest.mark.parametrize("precision", ["fp32", "bf16"])
@pytest.mark.parametrize("encoding", ["multichannel", "mean"])
def test_whole_image_votes_are_the_k_equal_d_counts(precision, encoding):
    """At k = d, classify_whole feeds the base model the very tensors counts(x, 1) feeds it
    (values, dtype and layout, in the same batches), so the oracle's votes are unchanged."""
    code = ENCODING if encoding == "multichannel" else get_encoding("mean", 1, mean=[0.13])
    model = Smoothed(tiny_cnn(code.out_channels), 784, code, 10, 3, precision, "cpu")
    seen: list[tuple[torch.Tensor, torch.Tensor]] = []
    model.model.register_forward_hook(lambda _, args, out: seen.append((args[0], out)))
    x = smooth_images(7)
    x[0] = 0.0
    x[1] = 1.0
    counts = model.counts(x, 1, range(7))
    general, seen[:] = list(seen), []
    classes = model.classify_whole(x)
    assert [len(inputs) for inputs, _ in seen] == [len(i) for i, _ in general] == [3, 3, 1]
    for (fast_in, fast_out), (in_, out) in zip(seen, general, strict=True):
        assert fast_in.dtype == in_.dtype == model.dtype
        assert fast_in.stride() == in_.stride() and torch.equal(fast_in, in_)
        assert torch.equal(fast_out, out)  # the same logits, bit for bit
    assert counts.sum(dim=1).tolist() == [1] * 7
    assert torch.equal(counts.argmax(dim=1), classes)
    oracle = SmoothedOracle(model, 50, 2)
    assert np.array_equal(oracle.vote_counts(x), counts.numpy() * 50)


class GeneralOracle(SmoothedOracle):
    """The oracle without the k = d fast path: one vote through the ablation machinery."""

    def vote_counts(self, x: torch.Tensor) -> np.ndarray:
        if self._deterministic(x):
            return self.smoothed.counts(x, 1, self.stream.take(len(x), 1)).numpy() * self.n
        return super().vote_counts(x)

    def decide(self, x: torch.Tensor) -> tuple[bool, np.ndarray]:
        if not self._deterministic(x):
            return super().decide(x)
        counts = self.vote_counts(x)[0]
        self.samples += 1
        return bool(is_adversarial_counts(counts[None], [self.label], self.alpha)[0]), counts


@pytest.mark.parametrize("precision", ["fp32", "bf16"])
@pytest.mark.parametrize("phase2", [True, False])
def test_k_equal_d_fast_path_gives_the_same_attack(monkeypatch, precision, phase2):
    model = Smoothed(tiny_cnn(2), 784, ENCODING, 10, 100, precision, "cpu")
    x = smooth_images(1, seed=3)
    label = int(model.classify_whole(x)[0])
    settings = AttackSettings(
        n_query=30,
        starts=2,
        init_epsilons=40,
        init_repetitions=4,
        l2_binary_search=phase2,
        max_queries=3000,
    )
    fast = attack_image(model, x, label, 0, settings, seed=5)
    monkeypatch.setattr(attack_module, "SmoothedOracle", GeneralOracle)
    general = attack_image(model, x, label, 0, settings, seed=5)
    assert fast.status == general.status == "broken"
    for name in ("l0", "query_l0", "best_start", "queries", "samples", "budget_bound"):
        assert getattr(fast, name) == getattr(general, name), name
    for name in ("clean_counts", "adv_counts", "start_l0", "start_queries"):
        assert np.array_equal(getattr(fast, name), getattr(general, name)), name
    assert torch.equal(fast.adv_image, general.adv_image)
    for one, other in zip(fast.starts, general.starts, strict=True):
        assert torch.equal(one.image, other.image) and one.queries == other.queries
    assert fast.queries > 50 and fast.samples == fast.queries  # k = d: one pass a query


def one_candidate_at_a_time(is_adversarial, x, epsilons, repetitions, rng):
    """Foolbox 2's salt and pepper as written first: one draw and one candidate at a time."""
    _, channels, h, w = x.shape
    best, best_l0, max_p = None, np.inf, 1.0
    for _ in range(repetitions):
        for p in np.linspace(0.0, max_p, num=min(epsilons, h * w) + 1)[1:]:
            u = torch.from_numpy(rng.uniform(size=(1, 1, h, w))).expand(1, channels, h, w)
            candidate = torch.where(u >= 1 - p / 2, 1.0, torch.where(u < p / 2, 0.0, x))
            candidate = candidate.to(x.dtype)
            l0 = int(l0_pixels(x, candidate).item())
            if l0 >= best_l0:
                continue
            if is_adversarial(candidate):
                best, best_l0, max_p = candidate, l0, min(1.0, p * 1.2)
                break
    return best


@pytest.mark.parametrize(("block", "channels"), [(1, 1), (7, 1), (100, 1), (None, 1), (5, 3)])
def test_foolbox2_candidates_in_blocks_are_the_ones_drawn_one_at_a_time(
    monkeypatch, block, channels
):
    """Blocks of candidates from one draw query the same candidates in the same order, return
    the same starting point and leave the generator where one draw per candidate leaves it."""
    if block is not None:  # None: the default, a whole sweep in one block
        monkeypatch.setattr(attack_starting_point, "NOISE_BLOCK_ELEMENTS", block * channels * 784)
    x = smooth_images(1, channels, seed=4)

    def criterion(queried: list[torch.Tensor]):
        def is_adversarial(z: torch.Tensor) -> bool:
            queried.append(z.clone())
            # Mostly "enough pixels changed", with a pseudo-random veto that moves the sweeps.
            return int(l0_pixels(x, z)) >= 60 and int(z.sum() * 1000) % 3 != 0

        return is_adversarial

    expected_queries: list[torch.Tensor] = []
    queries: list[torch.Tensor] = []
    expected_rng, rng = np.random.default_rng(11), np.random.default_rng(11)
    expected = one_candidate_at_a_time(criterion(expected_queries), x, 100, 10, expected_rng)
    start = foolbox2_salt_and_pepper(criterion(queries), x, 100, 10, rng)
    assert start is not None and torch.equal(start, expected)
    assert start.shape == (1, channels, 28, 28) and start.is_contiguous()
    assert len(queries) == len(expected_queries) > 20
    assert all(torch.equal(a, b) for a, b in zip(queries, expected_queries, strict=True))
    assert rng.bit_generator.state == expected_rng.bit_generator.state
    # None found: every sweep draws all its candidates, as one at a time.
    expected_rng, rng = np.random.default_rng(12), np.random.default_rng(12)
    assert one_candidate_at_a_time(lambda z: False, x, 30, 2, expected_rng) is None
    assert foolbox2_salt_and_pepper(lambda z: False, x, 30, 2, rng) is None
    assert rng.bit_generator.state == expected_rng.bit_generator.state
