"""The reproduction scorecard on the cells of hand-made tables, against independent computations."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from conftest import REPO
from scipy import stats
from statsmodels.stats.proportion import proportion_confint

from randablate import attack_report, discussion, files, tables
from randablate import scorecard as sc

NA = np.nan

MEDIAN = "median_certified_robustness_pixels"


def cp(count: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """Clopper–Pearson interval in percent, from statsmodels."""
    low, high = proportion_confint(count, n, alpha=1 - confidence, method="beta")
    return 100 * low, 100 * high


def certificates_table(**overrides) -> pd.DataFrame:
    """A Table 1/3/6-shaped table: two k, ours beside the paper's values."""
    table = pd.DataFrame(
        {
            "k": [20, 45],
            "accuracy_pct": [74.33, 94.67],
            "abstained_pct": [13.33, 3.0],
            "median_certified_robustness_pixels": pd.array([0, 7], dtype="Int64"),
            "images": [300, 300],
            "scale": ["paper", "paper"],
            "paper_accuracy_pct": [90.29, 96.72],
            "paper_abstained_pct": [1.81, 0.45],
            "paper_median_certified_robustness_pixels": pd.array([3, 8], dtype="Int64"),
        }
    )
    for column, values in overrides.items():
        table[column] = values
    return table


def card_of(table: pd.DataFrame, tolerance: sc.Tolerance | None = None) -> pd.DataFrame:
    """The scorecard of a Table 1-shaped table, through its cells."""
    return sc.scorecard(tables.certificate_cells(table, "table1"), tolerance or sc.Tolerance())


def cell(card: pd.DataFrame, table: str, row: str, quantity: str) -> pd.Series:
    """The one scorecard row of a cell."""
    match = card[(card["table"] == table) & (card["row"] == row) & (card["quantity"] == quantity)]
    assert len(match) == 1, match
    return match.iloc[0]


@pytest.mark.parametrize(
    ("pct", "n", "confidence", "count"),
    [
        (94.67, 300, 0.95, 284),
        (74.33, 300, 0.95, 223),
        (96.72, 10000, 0.95, 9672),
        (52.75, 400, 0.99, 211),
        (0.0, 50, 0.95, 0),
        (100.0, 6, 0.95, 6),
        (99.95, 50000, 0.9, 49975),
    ],
)
def test_proportion_interval_is_clopper_pearson(pct, n, confidence, count):
    """Equals statsmodels' beta interval and the scipy beta quantiles for the rounded count."""
    low, high = sc.proportion_interval(pct, n, confidence)
    expected_low, expected_high = cp(count, n, confidence)
    assert low == pytest.approx(expected_low, abs=1e-9)
    assert high == pytest.approx(expected_high, abs=1e-9)
    tail = (1 - confidence) / 2
    beta_low = stats.beta.ppf(tail, count, n - count + 1) if count > 0 else 0.0
    beta_high = stats.beta.ppf(1 - tail, count + 1, n - count) if count < n else 1.0
    assert low == pytest.approx(100 * beta_low, abs=1e-9)
    assert high == pytest.approx(100 * beta_high, abs=1e-9)
    assert low <= pct <= high


def test_proportion_interval_known_values():
    """All of 6 images: [100 * 0.025^(1/6), 100]; none of 6: [0, 100 * (1 - 0.025^(1/6))]."""
    assert sc.proportion_interval(100.0, 6, 0.95) == pytest.approx((100 * 0.025 ** (1 / 6), 100))
    assert sc.proportion_interval(0.0, 6, 0.95) == pytest.approx((0, 100 * (1 - 0.025 ** (1 / 6))))
    assert sc.proportion_interval(100.0, 6, 0.95)[0] == pytest.approx(54.0741873, abs=1e-6)


@pytest.mark.parametrize(
    ("pct", "n", "confidence"),
    [(50.0, 0, 0.95), (50.0, 2.5, 0.95), (101.0, 100, 0.95), (-1.0, 100, 0.95), (50, 10, 1.0)],
)
def test_proportion_interval_rejects_bad_input(pct, n, confidence):
    """n must be a positive integer, the count within 0..n and the level in (0, 1)."""
    with pytest.raises(ValueError):
        sc.proportion_interval(pct, n, confidence)


def test_tolerance_validates():
    """Negative slacks and levels outside (0, 1) are refused; defaults are the brief's."""
    assert sc.Tolerance() == sc.Tolerance(2.0, 1, 0.95, 0.005)
    for bad in ({"pct_points": -1}, {"median_pixels": -1}, {"confidence": 0}, {"confidence": 1}):
        with pytest.raises(ValueError):
            sc.Tolerance(**bad)
    with pytest.raises(ValueError):
        sc.Tolerance(relative_constant=-0.1)


def test_table1_cells_values():
    """Every printed cell appears once with paper, ours, difference and the CP interval."""
    card = card_of(certificates_table())
    assert list(card.columns) == list(sc.COLUMNS)
    assert len(card) == 6
    assert list(card["row"]) == ["k=20"] * 3 + ["k=45"] * 3
    assert (
        list(card["quantity"])
        == [
            "accuracy_pct",
            "abstained_pct",
            "median_certified_robustness_pixels",
        ]
        * 2
    )
    acc = cell(card, "table1", "k=45", "accuracy_pct")
    low, high = cp(284, 300)
    assert (acc["paper"], acc["ours"]) == (96.72, 94.67)
    assert acc["difference"] == pytest.approx(94.67 - 96.72)
    assert (acc["ours_low"], acc["ours_high"]) == pytest.approx((low, high))
    assert low - 2 <= 96.72 <= high + 2 and bool(acc["within"]) is True
    assert acc["tolerance"] == (
        f"paper inside our 95% CP interval [{low:.2f}, {high:.2f}] ± 2 points"
    )
    acc20 = cell(card, "table1", "k=20", "accuracy_pct")
    assert cp(223, 300)[1] + 2 < 90.29 and bool(acc20["within"]) is False
    median = cell(card, "table1", "k=45", MEDIAN)
    assert (median["paper"], median["ours"], median["difference"]) == (8, 7, -1)
    assert math.isnan(median["ours_low"]) and math.isnan(median["ours_high"])  # no fake interval
    assert bool(median["within"]) is True
    assert median["tolerance"] == "|difference| <= 1 pixel; N/A matches only N/A"
    assert bool(cell(card, "table1", "k=20", MEDIAN)["within"]) is False
    assert set(card["scale"]) == {"paper"}


def test_percentage_just_inside_and_just_outside():
    """The paper value 0.001 points inside / outside the widened interval flips the verdict."""
    low, high = cp(284, 300)
    for paper, expected in (
        (high + 2 - 1e-3, True),
        (high + 2 + 1e-3, False),
        (low - 2 + 1e-3, True),
        (low - 2 - 1e-3, False),
    ):
        card = card_of(certificates_table(paper_accuracy_pct=[NA, paper]))
        assert bool(cell(card, "table1", "k=45", "accuracy_pct")["within"]) is expected, paper


def test_percentage_tolerance_follows_confidence_and_points():
    """A 99% interval is wider than the 95% one; zero slack leaves the bare CP interval."""
    high95 = cp(284, 300, 0.95)[1]
    low99, high99 = cp(284, 300, 0.99)
    paper = (high95 + high99) / 2  # outside the 95% interval, inside the 99% one
    table = certificates_table(paper_accuracy_pct=[NA, paper])
    card = card_of(table, sc.Tolerance(pct_points=0.0))
    assert bool(cell(card, "table1", "k=45", "accuracy_pct")["within"]) is False
    card = card_of(table, sc.Tolerance(pct_points=0.0, confidence=0.99))
    row = cell(card, "table1", "k=45", "accuracy_pct")
    assert (row["ours_low"], row["ours_high"]) == pytest.approx((low99, high99))
    assert bool(row["within"]) is True
    assert row["tolerance"].startswith("paper inside our 99% CP interval")


def test_median_just_inside_and_just_outside():
    """|difference| equal to median_pixels is inside; one pixel more is outside."""
    table = certificates_table(**{f"paper_{MEDIAN}": pd.array([1, 9], dtype="Int64")})
    card = card_of(table)
    assert bool(cell(card, "table1", "k=20", MEDIAN)["within"]) is True
    assert bool(cell(card, "table1", "k=45", MEDIAN)["within"]) is False
    card = card_of(table, sc.Tolerance(median_pixels=2))
    assert bool(cell(card, "table1", "k=45", MEDIAN)["within"]) is True


def test_median_na_handling():
    """The paper's N/A matches our NA or −inf; NA against a number is outside either way."""
    table = pd.DataFrame(
        {
            "k": [5, 10, 15, 20],
            "accuracy_pct": [30.0, 75.0, 86.0, 90.0],
            "abstained_pct": [5.0, 5.0, 3.0, 2.0],
            "median_certified_robustness_pixels": [-math.inf, NA, 0.0, NA],
            "images": [100, 100, 100, 100],
            "paper_accuracy_pct": [32.32, 74.90, 86.09, 90.29],
            "paper_abstained_pct": [5.65, 5.08, 2.82, 1.81],
            "paper_median_certified_robustness_pixels": [NA, NA, NA, 3.0],
        }
    )
    card = card_of(table)
    medians = card[card["quantity"] == "median_certified_robustness_pixels"].set_index("row")
    assert list(medians["within"]) == [True, True, False, False]
    assert medians["ours"].isna().tolist() == [True, True, False, True]
    assert medians["paper"].isna().tolist() == [True, True, True, False]
    assert medians["difference"].isna().all()
    assert medians.loc["k=15", "ours"] == 0


def test_na_median_written_as_na(tmp_path):
    """Written with files.write_csv, NA medians read back as NA, verdicts as booleans."""
    table = certificates_table(
        median_certified_robustness_pixels=[-math.inf, 7.0],
        paper_median_certified_robustness_pixels=[NA, 8.0],
    )
    path = tmp_path / "reproduction.csv"
    files.write_csv(card_of(table), path)
    text = path.read_text()
    assert "-inf" not in text
    back = pd.read_csv(path)
    row = back[(back["row"] == "k=20") & (back["quantity"] == "median_certified_robustness_pixels")]
    assert row["ours"].isna().all() and row["paper"].isna().all()
    assert row["within"].tolist() == [True]


def test_cells_files_read_back_to_the_same_card(tmp_path):
    """Cells written with files.write_csv and read with read_cells score as in memory."""
    table = certificates_table(median_certified_robustness_pixels=[-math.inf, 7.0])
    cells = tables.certificate_cells(table, "table1")
    files.write_csv(cells, tmp_path / "table1.cells.csv")
    files.write_csv(cells.iloc[:0], tmp_path / "table2.cells.csv")  # no printed number
    back = sc.read_cells([tmp_path / "table2.cells.csv", tmp_path / "table1.cells.csv"])
    pd.testing.assert_frame_equal(sc.scorecard(back), sc.scorecard(cells))
    assert list(sc.read_cells([tmp_path / "table2.cells.csv"]).columns) == list(sc.CELL_COLUMNS)
    assert len(sc.scorecard(sc.read_cells([]))) == 0


def test_missing_ours_is_not_within():
    """A percentage we lack is outside and has no interval; a row the paper lacks is left out."""
    table = certificates_table(accuracy_pct=[NA, 94.67])
    extra = pd.DataFrame(
        {"k": [30], "accuracy_pct": [93.0], "abstained_pct": [1.0], "images": [300]}
    )
    card = card_of(pd.concat([table, extra], ignore_index=True))
    row = cell(card, "table1", "k=20", "accuracy_pct")
    assert bool(row["within"]) is False
    assert math.isnan(row["ours_low"]) and math.isnan(row["ours_high"])
    assert math.isnan(row["difference"])
    assert "k=30" not in set(card["row"])


def test_paper_na_percentage_is_skipped():
    """A percentage the paper does not print is no cell, while the row's other cells remain."""
    card = card_of(certificates_table(paper_abstained_pct=[NA, 0.45]))
    assert list(card[card["row"] == "k=20"]["quantity"]) == [
        "accuracy_pct",
        "median_certified_robustness_pixels",
    ]


def table2_frame() -> pd.DataFrame:
    """A Table 2 as attack_report.table2 lays it out: a row per model, the paper's beside ours."""
    return pd.DataFrame(
        {
            "model": ["CNN", "Randomized ablation (k=45)", "CNN, unprotected (k=784)"],
            "kind": ["quoted", "measured", "measured"],
            "accuracy_pct": [NA, 96.0, 99.0],
            "paper_accuracy_pct": [99.1, 96.7, NA],
            "median_attack_magnitude_pixels": [NA, 32.0, 8.0],
            "paper_median_attack_magnitude_pixels": [9.0, 31.0, NA],
            "accuracy_images": [NA, 275, 275],
            "images": [NA, 275, 275],
        }
    )


def test_table2_only_measured_rows():
    """Quoted rows (Schott et al., the paper's own) are no cells; ours meets the paper's row."""
    card = sc.scorecard(attack_report.table2_cells(table2_frame()))
    assert list(card["row"]) == ["Randomized ablation (k=45)"] * 2
    acc = cell(card, "table2", "Randomized ablation (k=45)", "accuracy_pct")
    low, high = cp(264, 275)  # 96.0% of 275 images
    assert (acc["paper"], acc["ours"]) == (96.7, 96.0)
    assert (acc["ours_low"], acc["ours_high"]) == pytest.approx((low, high))
    assert bool(acc["within"]) is True
    attack = cell(card, "table2", "Randomized ablation (k=45)", "median_attack_magnitude_pixels")
    assert (attack["paper"], attack["ours"], attack["difference"]) == (31, 32, 1)
    assert bool(attack["within"]) is True


def test_table2_cells_of_the_builders_table():
    """On attack_report.table2 with the paper's rows: our unprotected CNN is not Schott's CNN."""
    paper = pd.read_csv(REPO / "resources/paper/table2_mnist_pointwise.csv")
    l0 = [28.0, 30.0, 33.0]
    attacked = pd.DataFrame(
        {
            "label": [1, 1, 1],
            "clean_prediction": [1, 1, 1],
            "status": ["broken"] * 3,
            "attack_l0": l0,
            "query_l0": l0,
            "budget_bound": [False] * 3,
            "queries": [5] * 3,
            "samples": [100] * 3,
            "k": 45,
            "n_query": 100,
            "start_l0_0": l0,
        }
    )
    cnn = attacked.assign(k=784, attack_l0=[5.0, 6.0, 9.0])
    measured = {"CNN, unprotected (k=784)": cnn, "Randomized ablation (k=45)": attacked}
    table = attack_report.table2(paper, measured, {}, "reduced")
    last = ["Randomized ablation (k=45)", "CNN, unprotected (k=784)"]
    assert table["model"].tolist()[-2:] == last
    assert table["kind"].tolist() == ["quoted"] * 6 + ["measured"] * 2
    assert list(table.columns[:6]) == [
        "model",
        "kind",
        "accuracy_pct",
        "paper_accuracy_pct",
        "median_attack_magnitude_pixels",
        "paper_median_attack_magnitude_pixels",
    ]
    cells = attack_report.table2_cells(table)
    assert list(cells.columns) == list(sc.CELL_COLUMNS)
    assert cells["row"].tolist() == ["Randomized ablation (k=45)"] * 2
    assert cells["quantity"].tolist() == ["accuracy_pct", "median_attack_magnitude_pixels"]
    assert cells["kind"].tolist() == ["pct", "median"]
    assert cells["ours"].tolist() == [100.0, 30.0]
    assert cells["paper"].tolist() == [96.7, 31.0]
    assert cells["n"].tolist() == [3, 3]


def test_table2_infinite_attack_median_is_outside():
    """An infinite median attack magnitude (most images unbroken) is far from the paper's 31."""
    table = table2_frame()
    table.loc[1, "median_attack_magnitude_pixels"] = math.inf
    card = sc.scorecard(attack_report.table2_cells(table))
    attack = cell(card, "table2", "Randomized ablation (k=45)", "median_attack_magnitude_pixels")
    assert attack["ours"] == math.inf and bool(attack["within"]) is False


def test_train_accuracy_uses_training_images():
    """Table 4/5: train accuracy is over train_images, test accuracy over images."""
    table = pd.DataFrame(
        {
            "k": [25],
            "train_accuracy_pct": [84.0],
            "train_images": [1000],
            "test_accuracy_pct": [57.0],
            "images": [200],
            "paper_train_accuracy_pct": [83.16],
            "paper_test_accuracy_pct": [57.72],
        }
    )
    cells = [tables.base_accuracy_cells(table, name) for name in ("table5", "table4")]
    card = sc.scorecard(pd.concat(cells, ignore_index=True))
    train = cell(card, "table4", "k=25", "train_accuracy_pct")
    test = cell(card, "table5", "k=25", "test_accuracy_pct")
    assert (train["ours_low"], train["ours_high"]) == pytest.approx(cp(840, 1000))
    assert (test["ours_low"], test["ours_high"]) == pytest.approx(cp(114, 200))
    assert list(card["table"]) == ["table4", "table4", "table5", "table5"]


def test_table7_compares_only_our_median_and_table8_labels():
    """Table 7 compares only our median (Lee et al.'s is quoted); Table 8 rows read
    "MNIST k=45 mean"."""
    table7 = pd.DataFrame(
        {
            "dataset": ["MNIST", "ImageNet"],
            "k": [45, 1000],
            "median_certified_robustness_pixels": [8, 14],
            "median_certified_robustness_pixels_standard_sampling": [8, 15],
            "images": [1000, 400],
            "lee_et_al_2019_median_certified_pixels": [4, 1],
            "paper_median_certified_robustness_pixels": [8, 16],
        }
    )
    table8 = pd.DataFrame(
        {
            "dataset": ["MNIST"],
            "k": [45],
            "encoding": ["mean"],
            "accuracy_pct": [96.0],
            "abstained_pct": [0.5],
            "median_certified_robustness_pixels": [7],
            "images": [1000],
            "paper_accuracy_pct": [96.27],
            "paper_abstained_pct": [0.43],
            "paper_median_certified_robustness_pixels": [7],
        }
    )
    cells = pd.concat([tables.table8_cells(table8), tables.table7_cells(table7)])
    card = sc.scorecard(cells)
    seven = card[card["table"] == "table7"]
    assert list(seven["row"]) == ["MNIST", "ImageNet"]
    assert set(seven["quantity"]) == {"median_certified_robustness_pixels"}
    assert list(seven["within"]) == [True, False]
    assert list(seven["difference"]) == [0, -2]
    assert set(card[card["table"] == "table8"]["row"]) == {"MNIST k=45 mean"}
    assert list(dict.fromkeys(card["table"])) == ["table7", "table8"]


def test_discussion_relative_tolerance():
    """Constants agree within 0.5% of the paper's value; NA paper values are no cell."""
    table = pd.DataFrame(
        {
            "quantity": ["a", "b", "c", "d"],
            "ours": [14450.0, 116168.0, 50590.4 * 1.006, 3.0],
            "paper": [14521.0, 116168.0, 50590.4, NA],
        }
    )
    cells = discussion.discussion_cells(table)
    card = sc.scorecard(cells)
    assert list(card["row"]) == ["a", "b", "c"]
    assert set(card["quantity"]) == {"value"}
    assert list(card["within"]) == [True, True, False]  # 71 is 0.49% of 14521
    assert card["difference"].tolist() == pytest.approx([-71.0, 0.0, 50590.4 * 0.006])
    assert card["tolerance"].iloc[0] == "|difference| <= 0.5% of the paper's value"
    tight = sc.scorecard(cells, sc.Tolerance(relative_constant=0.001))
    assert list(tight["within"]) == [False, True, False]


def test_order_and_summary():
    """Tables come in the paper's order whatever the order of their cells."""
    constant = pd.DataFrame({"quantity": ["x"], "ours": [1.0], "paper": [1.0]})
    given = [
        discussion.discussion_cells(constant),
        tables.certificate_cells(certificates_table(), "table3"),
        tables.certificate_cells(certificates_table(), "table1"),
        attack_report.table2_cells(table2_frame()),
    ]
    card = sc.scorecard(pd.concat(given, ignore_index=True))
    assert list(dict.fromkeys(card["table"])) == ["table1", "table2", "table3", "discussion"]
    assert list(card[card["table"] == "table3"]["row"]) == ["k=20"] * 3 + ["k=45"] * 3
    assert sc.summary(card) == {
        "table1": {"cells": 6, "within": 3},
        "table2": {"cells": 2, "within": 2},
        "table3": {"cells": 6, "within": 3},
        "discussion": {"cells": 1, "within": 1},
        "total": {"cells": 15, "within": 9},
    }


def test_empty_unknown_and_malformed_cells():
    """No cells give an empty card; an unknown table or kind, or a missing column, is refused."""
    empty = pd.DataFrame(columns=list(sc.CELL_COLUMNS))
    card = sc.scorecard(empty)
    assert list(card.columns) == list(sc.COLUMNS) and len(card) == 0
    assert sc.summary(card) == {"total": {"cells": 0, "within": 0}}
    cells = tables.certificate_cells(certificates_table(), "table1")
    with pytest.raises(ValueError, match="unknown tables"):
        sc.scorecard(cells.assign(table="table9"))
    with pytest.raises(ValueError, match="unknown kinds"):
        sc.scorecard(cells.assign(kind="ratio"))
    with pytest.raises(ValueError, match=r"\['n'\]"):
        sc.scorecard(cells.drop(columns="n"))
    with pytest.raises(ValueError, match="no paper value"):
        sc.scorecard(cells.assign(paper=NA))


def test_scale_recorded():
    """Every row carries the scorecard's scale."""
    cells = tables.certificate_cells(certificates_table(), "table1")
    assert set(sc.scorecard(cells)["scale"]) == {"paper"}
    assert set(sc.scorecard(cells, scale="reduced")["scale"]) == {"reduced"}


def test_discussion_medians_are_judged_in_pixels():
    """The Results section's ImageNet medians, listed with the discussion, allow 1 pixel."""
    table = pd.DataFrame(
        {
            "quantity": [
                "median certificate on correctly certified ImageNet images (k=1000)",
                "median certificate excluding N/A (ImageNet k=500)",
            ],
            "ours": [32.0, 60.0],
            "paper": [33.0, 63.0],
        }
    )
    card = sc.scorecard(tables.imagenet_medians_cells(table))
    assert set(card["table"]) == {"discussion"}
    assert list(card["within"]) == [True, False]
    assert list(card["tolerance"]) == [card["tolerance"].iloc[0]] * 2
    assert "1 pixel" in card["tolerance"].iloc[0]


def test_rows_on_too_few_images_are_not_scored():
    """min_images: a Table 2 row on 6 attacked images is refused, and says why; the accuracy
    cell over Table 1's 10,000 certified images (accuracy_images) is still scored."""
    table = table2_frame()
    table["images"] = [NA, 6, 275]
    table["accuracy_images"] = [NA, 10000, 275]
    cells = attack_report.table2_cells(table)
    card = sc.scorecard(cells, sc.Tolerance(min_images=50))
    attack = cell(card, "table2", "Randomized ablation (k=45)", "median_attack_magnitude_pixels")
    assert (attack["ours"], attack["paper"]) == (32, 31)
    assert bool(attack["within"]) is False
    assert attack["tolerance"].startswith("not scored: 6 images, fewer than min_images = 50")
    accuracy = cell(card, "table2", "Randomized ablation (k=45)", "accuracy_pct")
    low, high = cp(9600, 10000)
    assert (accuracy["ours_low"], accuracy["ours_high"]) == pytest.approx((low, high))
    assert bool(accuracy["within"]) is (low - 2 <= 96.7 <= high + 2)
    assert not accuracy["tolerance"].startswith("not scored")
    # The library's default scores every row; the config's default is 50.
    assert bool(cell(sc.scorecard(cells), "table2", attack["row"], attack["quantity"])["within"])
    with pytest.raises(ValueError, match="min_images"):
        sc.Tolerance(min_images=0)


def test_summary_text_counts_cells_within_tolerance():
    card = pd.DataFrame({"table": ["table1", "table1", "table2"], "within": [True, False, True]})
    text = sc.summary_text(card)
    assert text.splitlines() == [
        "Reproduction scorecard: 2 of 3 cells within tolerance",
        "  table1: 1 of 2",
        "  table2: 1 of 1",
    ]


def test_a_run_ends_with_the_scorecards_summary_where_it_was_built(tmp_path):
    card = tmp_path / "reproduction.csv"
    report = "Report: rerun the same command with --report report.html (the results in out)."
    assert sc.run_summary(card, "out") == report  # no scorecard among this run's targets
    pd.DataFrame({"table": ["table1", "table2"], "within": [True, False]}).to_csv(card)
    assert sc.run_summary(card, "out").splitlines() == [
        "Reproduction scorecard: 1 of 2 cells within tolerance",
        "  table1: 1 of 1",
        f"  table2: 0 of 1 ({card})",
        report,
    ]
