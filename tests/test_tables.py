"""Certificate tables and Table 1 aggregation, on hand-made rows and independent computations."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from statsmodels.stats.proportion import proportion_confint

from randablate import figures, files, tables
from randablate.certification import SamplingScheme, scheme_record

INF = float("inf")
PAPER = pd.DataFrame(
    {
        "k": [5, 10, 45],
        "accuracy_pct": [32.32, 74.90, 96.72],
        "abstained_pct": [5.65, 5.08, 0.45],
        "median_certified_robustness_pixels": [np.nan, 0, 8],
    }
)


def certs(label, prediction, robustness, n0=10, n=100, n_predict=50, classes=3):
    """Hand-made certificate rows; the counts only fix the sample numbers of each stage."""
    rows = pd.DataFrame(
        {"label": label, "prediction": prediction, "robustness": np.asarray(robustness, float)}
    )
    for stage, total in (("select", n0), ("bound", n), ("predict", n_predict)):
        for c in range(classes):
            rows[f"{stage}_{c}"] = total if c == 0 else 0
    return rows


def test_summarize_counts_accuracy_abstentions_and_the_papers_median():
    # the paper's example: certificates {N/A, N/A, 1, 2, 3} have median 1, not 2
    rows = certs(
        label=[1, 2, 2, 0, 0], prediction=[1, 2, -1, 3, 0], robustness=[3, 1, -INF, -INF, 2]
    )
    s = tables.summarize(rows)
    assert s["accuracy_pct"] == pytest.approx(60.0)  # images 0, 1, 4
    assert s["abstained_pct"] == pytest.approx(20.0)  # image 2
    assert s["median_certified_robustness_pixels"] == 1
    assert s["images"] == 5


def test_median_of_an_even_count_is_where_certified_accuracy_is_still_half():
    rows = certs(label=[0] * 4, prediction=[0] * 4, robustness=[-INF, 1, 2, 3])
    assert tables.summarize(rows)["median_certified_robustness_pixels"] == 2


def test_median_is_none_when_half_or_more_are_not_applicable():
    rows = certs(label=[0] * 3, prediction=[0] * 3, robustness=[-INF, -INF, 0])
    assert tables.summarize(rows)["median_certified_robustness_pixels"] is None


@pytest.mark.parametrize("seed", range(5))
def test_median_matches_brute_force_definition(seed):
    rng = np.random.default_rng(seed)
    size = int(rng.integers(1, 40))
    r = rng.integers(-1, 12, size).astype(float)
    r[r < 0] = -INF
    rows = certs(label=[0] * size, prediction=[0] * size, robustness=r)
    reached = [rho for rho in range(0, 13) if np.mean(r >= rho) >= 0.5]
    expected = max(reached) if reached else None
    assert tables.summarize(rows)["median_certified_robustness_pixels"] == expected


def test_table1_puts_the_papers_values_beside_ours_and_writes_na(tmp_path):
    by_k = {
        10: certs([0, 0, 1, 1], [0, 0, 1, -1], [-INF, -INF, 0, -INF]),
        45: certs([0, 0, 1, 1], [0, 0, 1, 1], [5, 8, 9, -INF]),
    }
    table = tables.certificate_summary(by_k, PAPER, alpha=0.05, scale="paper")
    assert list(table["k"]) == [10, 45]
    assert list(table["accuracy_pct"]) == [75.0, 100.0]
    assert list(table["abstained_pct"]) == [25.0, 0.0]
    assert table["median_certified_robustness_pixels"].isna().tolist() == [True, False]
    assert table.loc[1, "median_certified_robustness_pixels"] == 8
    assert list(table[["n0", "n", "n_predict", "images"]].iloc[0]) == [10, 100, 50, 4]
    assert list(table["paper_accuracy_pct"]) == [74.90, 96.72]
    assert list(table["paper_abstained_pct"]) == [5.08, 0.45]
    assert list(table["paper_median_certified_robustness_pixels"]) == [0, 8]
    assert set(table["scale"]) == {"paper"}
    assert "training" not in table  # the caption says it once

    path = tmp_path / "table1.csv"
    files.write_csv(table, path)
    lines = path.read_text().splitlines()
    assert lines[0].split(",")[:7] == [  # each paper column right beside ours
        "k",
        "accuracy_pct",
        "paper_accuracy_pct",
        "abstained_pct",
        "paper_abstained_pct",
        "median_certified_robustness_pixels",
        "paper_median_certified_robustness_pixels",
    ]
    assert lines[1].startswith("10,75,74.9,25,5.08,NA,0,")
    assert lines[2].startswith("45,100,96.72,0,0.45,8,8,")


def test_cells_are_the_numbers_the_paper_prints():
    by_k = {
        10: certs([0, 0, 1, 1], [0, 0, 1, -1], [-INF, -INF, 0, -INF]),
        30: certs([0, 0], [0, 0], [1, 2]),  # the paper has no k = 30: no cells
        45: certs([0, 0, 1, 1], [0, 0, 1, 1], [5, 8, 9, -INF]),
    }
    table = tables.certificate_summary(by_k, PAPER, alpha=0.05, scale="paper")
    cells = tables.certificate_cells(table, "table1")
    quantities = ["accuracy_pct", "abstained_pct", "median_certified_robustness_pixels"]
    expected = pd.DataFrame(
        {
            "table": "table1",
            "row": ["k=10"] * 3 + ["k=45"] * 3,
            "quantity": quantities * 2,
            "kind": ["pct", "pct", "median"] * 2,
            "ours": [75.0, 25.0, np.nan, 100.0, 0.0, 8.0],  # k=10's median is N/A
            "paper": [74.90, 5.08, 0.0, 96.72, 0.45, 8.0],
            "n": [4.0] * 6,
        }
    )
    pd.testing.assert_frame_equal(cells, expected)
    # The paper's N/A (k = 5) is a cell of its own; a percentage it does not print is none.
    paper = PAPER.assign(abstained_pct=[5.65, np.nan, 0.45])
    table = tables.certificate_summary({5: by_k[10], 10: by_k[10]}, paper, 0.05, "paper")
    cells = tables.certificate_cells(table, "table3")
    assert cells["row"].tolist() == ["k=5"] * 3 + ["k=10"] * 2
    assert cells["quantity"].tolist() == [*quantities, quantities[0], quantities[2]]
    assert cells["paper"].isna().tolist() == [False, False, True, False, False]
    assert set(cells["table"]) == {"table3"}


def test_reduced_scale_is_said_in_every_row():
    table = tables.certificate_summary({45: certs([0], [0], [3])}, PAPER, 0.05, "reduced")
    assert table.loc[0, "scale"] == "reduced"


def test_unequal_sample_numbers_are_rejected():
    rows = pd.concat([certs([0], [0], [1], n=100), certs([0], [0], [1], n=99)])
    with pytest.raises(ValueError, match="bound samples"):
        tables.stage_samples(rows, "bound")


def votes_for(indices, d=784, k=45, seed=7, n0=20, n=200, n_predict=100, classes=10):
    """Synthetic vote counts: mostly the label, some spread over the other classes."""
    rng = np.random.default_rng(seed)
    indices = np.asarray(indices)
    labels = rng.integers(0, classes, len(indices))
    out = {"index": indices, "label": labels, "k": np.int64(k), "d": np.int64(d)}
    for stage, total in (("select", n0), ("bound", n), ("predict", n_predict)):
        probs = rng.dirichlet(np.ones(classes), len(indices))
        probs[np.arange(len(indices)), labels] += rng.uniform(0, 12, len(indices))
        probs /= probs.sum(axis=1, keepdims=True)
        out[f"counts_{stage}"] = np.stack([rng.multinomial(total, p) for p in probs])
        out[f"n_{stage}"] = np.int64(total)
    out["seed"] = np.int64(seed)
    # the scheme's record, as count_votes writes it: the predict stage predicts
    stages = {"select": n0, "bound": n, "predict": n_predict}
    out.update(scheme_record(SamplingScheme(stages, "predict")))
    return out


def scheme_of(votes, predict_from):
    """The scheme of synthetic votes with the stages they hold, predicting from `predict_from`."""
    stages = ("select", "bound", "predict")
    samples = {s: int(votes[f"counts_{s}"][0].sum()) for s in stages if f"counts_{s}" in votes}
    return SamplingScheme(samples, predict_from)


def test_certificate_table_matches_independent_computation():
    votes = votes_for(range(30), n=200)
    alpha, d, k = 0.05, 784, 45
    table = tables.certificate_table(votes, alpha)
    for i, row in table.iterrows():
        select, bound = votes["counts_select"][i], votes["counts_bound"][i]
        guess = int(np.argmax(select))
        lower, _ = proportion_confint(bound[guess], bound.sum(), alpha=2 * alpha, method="beta")
        lower = 0.0 if bound[guess] == 0 else lower
        radius = max(
            (
                rho
                for rho in range(d + 1)
                if lower - (1 - math.comb(d - rho, k) / math.comb(d, k)) > 0.5
            ),
            default=-1,
        )
        predict = votes["counts_predict"][i]
        top2 = np.sort(predict)[-2:]
        pvalue = stats.binomtest(int(top2[1]), int(top2.sum()), 0.5).pvalue
        prediction = int(np.argmax(predict)) if pvalue <= alpha else -1
        label = int(votes["label"][i])
        assert row["guess"] == guess
        assert row["p_lower"] == pytest.approx(lower, rel=1e-9)
        assert row["radius"] == radius
        expected = -INF if guess != label else max(radius, 0)
        assert row["robustness"] == expected
        assert row["prediction"] == prediction
        assert row["correct"] == (prediction == label)
        assert [row[f"bound_{c}"] for c in range(10)] == list(bound)
    assert (table["radius"] >= 1).any() and (table["robustness"] == -INF).any()


def test_certificate_csv_round_trip_keeps_minus_infinity(tmp_path):
    votes = votes_for(range(40))
    votes["label"][0] = (np.argmax(votes["counts_select"][0]) + 1) % 10  # a wrong guess: N/A
    table = tables.certificate_table(votes, 0.05)
    assert (table["robustness"] == -INF).any()
    path = tmp_path / "k45.csv"
    files.write_csv(table, path)
    assert ",-inf," in path.read_text()
    back = tables.read_certificates(path)
    assert back["robustness"].tolist() == table["robustness"].tolist()
    assert back["p_lower"].to_numpy() == pytest.approx(table["p_lower"].to_numpy(), rel=1e-9)
    assert tables.stage_samples(back, "select") == 20


def test_merge_votes_orders_by_index_and_rejects_overlap(tmp_path):
    whole = votes_for(range(10))
    paths = []
    for name, part in (("b", slice(5, 10)), ("a", slice(0, 5))):
        shard = {key: (value[part] if np.ndim(value) else value) for key, value in whole.items()}
        paths.append(tmp_path / f"{name}.npz")
        np.savez(paths[-1], **shard)
    assert files.merge_shards(paths, tmp_path / "votes.npz") == 10
    merged = files.load_npz(tmp_path / "votes.npz")
    for key, value in whole.items():
        np.testing.assert_array_equal(merged[key], value)
    with pytest.raises(ValueError, match="overlap"):
        files.merge_shards([paths[0], paths[0]], tmp_path / "bad.npz")


def test_certified_accuracy_curves_and_plot(tmp_path):
    r = {10: np.array([-INF, 0, 0, 1]), 45: np.array([2, 3, 3, -INF])}
    rhos, curves = figures.certified_accuracy_curves(r)
    assert rhos.tolist() == [0, 1, 2, 3, 4]
    assert curves[10].tolist() == [0.75, 0.25, 0.0, 0.0, 0.0]
    assert curves[45].tolist() == [0.75, 0.75, 0.75, 0.5, 0.0]
    path = tmp_path / "fig.png"
    figures.plot_certified_accuracy(r, path, "test")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    figures.plot_certified_accuracy(r, path, "test", paper_medians={10: 0, 45: float("nan")})
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # every line is visible on white: no colour lighter than 85% grey
    for colour in figures.line_colours(20):
        luminance = 0.2126 * colour[0] + 0.7152 * colour[1] + 0.0722 * colour[2]
        assert luminance < 0.85


def _certs(robustness, label=None, guess=None):
    """A certificate table with given robustness (−inf for N/A) and its prediction columns."""
    r = np.asarray(robustness, dtype=float)
    label = np.zeros(len(r), dtype=int) if label is None else np.asarray(label)
    guess = np.where(np.isneginf(r), 1, label) if guess is None else np.asarray(guess)
    return pd.DataFrame(
        {
            "label": label,
            "guess": guess,
            "robustness": r,
            "prediction": guess,
            "select_0": 10,
            "select_1": 0,
            "bound_0": 100,
            "bound_1": 0,
        }
    )


def test_imagenet_medians_count_only_correctly_certified_images():
    paper = pd.DataFrame(
        {
            "quantity": [
                "median certificate on correctly certified ImageNet images (k=1000)",
                "median certificate excluding N/A (ImageNet k=500)",
            ],
            "value": [33, 63],
        }
    )
    certs = {1000: _certs([-np.inf, -np.inf, 0, 3, 30, 40]), 500: _certs([-np.inf, 5])}
    table = tables.imagenet_medians(certs, paper)
    assert table["ours"].tolist() == [30, 5]  # at least half of [0, 3, 30, 40] reach 30
    assert table["paper"].tolist() == [33, 63]
    assert table["difference"].tolist() == [-3, -58]
    cells = tables.imagenet_medians_cells(table)  # counted among the Discussion's numbers
    assert set(cells["table"]) == {"discussion"} and set(cells["kind"]) == {"median"}
    assert cells["row"].tolist() == paper["quantity"].tolist()
    assert cells["ours"].tolist() == [30, 5] and cells["paper"].tolist() == [33, 63]
    assert cells["n"].isna().all()


def test_table7_and_table8_rows():
    lee = {"MNIST": _certs([1, 2, 3]), "ImageNet": _certs([-np.inf, -np.inf, 4])}
    standard = {"MNIST": _certs([2, 2, 2]), "ImageNet": _certs([0, 1, 1])}
    paper7 = pd.DataFrame(
        {
            "dataset": ["MNIST", "ImageNet"],
            "lee_et_al_2019_median_certified_pixels": [4, 1],
            "median_certified_robustness_pixels": [8, 16],
        }
    )
    t7 = tables.table7(lee, standard, {"MNIST": 45, "ImageNet": 1000}, paper7, "reduced")
    assert t7["median_certified_robustness_pixels"].tolist() == [2, pd.NA]
    assert t7["median_certified_robustness_pixels_standard_sampling"].tolist() == [2, 1]
    assert t7["lee_et_al_2019_median_certified_pixels"].tolist() == [4, 1]
    assert t7["paper_median_certified_robustness_pixels"].tolist() == [8, 16]
    assert (t7["n0"] == 10).all() and (t7["n"] == 100).all()
    cells7 = tables.table7_cells(t7)  # Lee et al.'s medians are quoted: no cell of ours
    assert cells7["row"].tolist() == ["MNIST", "ImageNet"]
    assert set(cells7["quantity"]) == {"median_certified_robustness_pixels"}
    assert set(cells7["kind"]) == {"median"}
    assert cells7["ours"].tolist()[0] == 2 and math.isnan(cells7["ours"].tolist()[1])
    assert cells7["paper"].tolist() == [8, 16] and cells7["n"].tolist() == [3, 3]
    paper8 = pd.DataFrame(
        {
            "dataset": ["MNIST"],
            "k": [45],
            "encoding": ["mean"],
            "accuracy_pct": [96.27],
            "abstained_pct": [0.43],
            "median_certified_robustness_pixels": [7],
        }
    )
    rows = {("MNIST", 45, "mean"): _certs([1, -np.inf, 3, 4], label=[0, 0, 0, 1])}
    t8 = tables.table8(rows, paper8, "paper")
    assert t8["accuracy_pct"].tolist() == [75.0]  # only image 1 (N/A: guess 1, label 0) wrong
    assert t8["paper_accuracy_pct"].tolist() == [96.27]
    assert t8["images"].tolist() == [4]
    cells8 = tables.table8_cells(t8)
    assert cells8["row"].tolist() == ["MNIST k=45 mean"] * 3
    assert cells8["ours"].tolist() == [75.0, 0.0, 3.0]
    assert cells8["paper"].tolist() == [96.27, 0.43, 7.0]


def test_base_accuracy_table_in_percent_beside_the_paper():
    paper = pd.DataFrame({"k": [25], "train_accuracy_pct": [83.16], "test_accuracy_pct": [57.72]})
    results = [
        {
            "k": 50,
            "train_accuracy": 0.9,
            "train_images": 100,
            "test_accuracy": 0.5,
            "images": 8,
            "samples": 1,
        },
        {
            "k": 25,
            "train_accuracy": 0.81234,
            "train_images": 100,
            "test_accuracy": 0.625,
            "images": 8,
            "samples": 1,
        },
    ]
    table = tables.base_accuracy_table(results, paper, "reduced")
    assert table["k"].tolist() == [25, 50]
    assert table["train_accuracy_pct"].tolist() == [81.23, 90.0]
    assert table["test_accuracy_pct"].tolist() == [62.5, 50.0]
    assert table["paper_train_accuracy_pct"].tolist()[0] == 83.16
    assert math.isnan(table["paper_train_accuracy_pct"].tolist()[1])
    cells = tables.base_accuracy_cells(table, "table4")  # k = 50 is not in the paper
    assert cells["row"].tolist() == ["k=25", "k=25"]
    assert cells["quantity"].tolist() == ["train_accuracy_pct", "test_accuracy_pct"]
    assert cells["n"].tolist() == [100, 8]  # train accuracy over the training images


def test_base_accuracy_of_an_authors_model_has_no_train_accuracy():
    # the authors' released checkpoints carry no training history: NA, not a number
    paper = pd.DataFrame({"k": [75], "train_accuracy_pct": [80.0], "test_accuracy_pct": [70.0]})
    result = {"k": 75, "train_accuracy": None, "train_images": None, "test_accuracy": 0.75}
    table = tables.base_accuracy_table([{**result, "images": 8, "samples": 1}], paper, "paper")
    assert pd.isna(table["train_accuracy_pct"][0])
    assert table["test_accuracy_pct"].tolist() == [75.0]
    train = tables.base_accuracy_cells(table, "table5").iloc[0]
    assert math.isnan(train["ours"]) and math.isnan(train["n"]) and train["paper"] == 80.0


def test_prediction_comes_from_the_configured_stage():
    votes = votes_for(range(40), n=200, n_predict=100)
    alpha = 0.05
    separate = tables.certificate_table(votes, alpha)  # the record: the predict stage predicts
    without_predict = {key: v for key, v in votes.items() if "predict" not in key}
    shared = tables.certificate_table(without_predict, alpha, scheme_of(without_predict, "bound"))
    # an independent binomial test of the top two counts of the chosen stage
    for stage, table in (("predict", separate), ("bound", shared)):
        for i, counts in enumerate(votes[f"counts_{stage}"]):
            top, second = np.sort(counts)[::-1][:2]
            tied = stats.binomtest(int(top), int(top + second), 0.5).pvalue > alpha
            assert table["prediction"][i] == (-1 if tied else int(np.argmax(counts)))
        assert set(table["prediction_stage"]) == {stage}  # the scheme travels with the rows
    assert not any(c.startswith("predict_") for c in shared.columns)
    lee = tables.certificate_table(votes, alpha, scheme_of(votes, None))
    assert "prediction" not in lee.columns and "prediction_stage" not in lee.columns
    with pytest.raises(ValueError, match="'predict' stage"):
        scheme_of(without_predict, "predict")


def test_shared_and_separate_predictions_have_the_same_table_distribution():
    # Images with known vote probabilities near the abstention threshold: prediction from the
    # n bound votes and from n fresh votes must give the same accuracy and abstention rates.
    rng = np.random.default_rng(11)
    images, n, alpha = 6000, 100, 0.05
    p_top = rng.uniform(0.45, 0.8, images)
    probs = np.stack([p_top, 1 - p_top - 0.1, np.full(images, 0.1)], axis=1)
    labels = np.zeros(images, dtype=np.int64)

    def draw():
        return np.stack([rng.multinomial(n, p) for p in probs])

    votes = {
        "index": np.arange(images),
        "label": labels,
        "k": np.int64(45),
        "d": np.int64(784),
        "counts_select": draw(),
        "counts_bound": draw(),
        "counts_predict": draw(),
    }
    separate = tables.certificate_table(votes, alpha, scheme_of(votes, "predict"))
    shared = tables.certificate_table(votes, alpha, scheme_of(votes, "bound"))
    for rate in (
        lambda t: (t["prediction"] == t["label"]).to_numpy(),
        lambda t: (t["prediction"] == -1).to_numpy(),
    ):
        a, b = rate(separate), rate(shared)
        assert 0.1 < a.mean() < 0.9  # the test has power: neither rate is degenerate
        table = [[a.sum(), images - a.sum()], [b.sum(), images - b.sum()]]
        assert stats.chi2_contingency(table).pvalue > 0.001
    # ...whereas predicting from the n0 = 20 selection votes would abstain far more often
    votes["counts_select"] = np.stack([rng.multinomial(20, p) for p in probs])
    few = tables.certificate_table(votes, alpha, scheme_of(votes, "select"))
    assert (few["prediction"] == -1).mean() > (separate["prediction"] == -1).mean() + 0.1


def test_table_records_shared_prediction_samples():
    shared = certs([0, 0], [0, 0], [1, 2], n=100).drop(columns=[f"predict_{c}" for c in range(3)])
    table = tables.certificate_summary({45: shared}, PAPER, 0.05, "paper")
    assert list(table[["n", "n_predict", "prediction_samples"]].iloc[0]) == [
        100,
        100,
        "shared with n",
    ]
    separate = tables.certificate_summary({45: certs([0], [0], [1])}, PAPER, 0.05, "paper")
    assert separate["prediction_samples"].iloc[0] == "separate"


def test_table_reads_the_prediction_stage_the_certificates_record():
    # The recorded stage decides, not which count columns exist: rows that keep a predict
    # stage's counts but predicted from the bound stage's are "shared with n".
    recorded = certs([0, 0], [0, 0], [1, 2], n=100, n_predict=50).assign(prediction_stage="bound")
    table = tables.certificate_summary({45: recorded}, PAPER, 0.05, "paper")
    assert list(table[["n", "n_predict", "prediction_samples"]].iloc[0]) == [
        100,
        100,
        "shared with n",
    ]
    table = tables.certificate_summary(
        {45: recorded.assign(prediction_stage="predict")}, PAPER, 0.05, "paper"
    )
    assert list(table[["n_predict", "prediction_samples"]].iloc[0]) == [50, "separate"]
    mixed = recorded.assign(prediction_stage=["bound", "predict"])
    with pytest.raises(ValueError, match="different stages"):
        tables.certificate_summary({45: mixed}, PAPER, 0.05, "paper")


def brute_force_median(robustness: list[float]) -> float:
    """The largest ρ that at least half of the images reach, trying every value (−inf: none)."""
    n = len(robustness)
    return max(r for r in set(robustness) if 2 * sum(v >= r for v in robustness) >= n)


def _upper_median(robustness: np.ndarray) -> float:
    """A planted fault: the median of the sorted values' upper half (one image short of half)."""
    r = np.sort(np.asarray(robustness, dtype=float))[::-1]
    return float(r[max(len(r) // 2 - 1, 0)])


@pytest.mark.parametrize("planted", [None, "one image short of half"])
def test_table7_medians_match_a_brute_force_median(planted, monkeypatch):
    from randablate import certificates

    if planted:
        monkeypatch.setattr(certificates, "median_certified_robustness", _upper_median)
    rng = np.random.default_rng(7)
    paper7 = pd.DataFrame(
        {
            "dataset": ["MNIST"],
            "lee_et_al_2019_median_certified_pixels": [4],
            "median_certified_robustness_pixels": [8],
        }
    )
    agree = []
    for size in (1, 2, 3, 4, 7, 10, 11):
        r = rng.integers(-1, 9, size).astype(float)
        r[r < 0] = -np.inf
        t7 = tables.table7({"MNIST": _certs(r)}, {"MNIST": _certs(r)}, {"MNIST": 45}, paper7, "x")
        ours, want = t7["median_certified_robustness_pixels"][0], brute_force_median(r.tolist())
        agree.append(bool(pd.isna(ours)) if want == -np.inf else ours == want)
    assert all(agree) is (planted is None), agree
