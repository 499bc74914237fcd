"""The pipeline end to end on synthetic CIFAR-10 and ImageNet written in their real on-disk formats.

Tables 3 to 8, the ImageNet medians, certified accuracy for both data sets and the scorecard,
at toy size on the CPU. torchvision checks CIFAR-10's md5 sums in every job; a sitecustomize
module on PYTHONPATH makes it accept the synthetic files in the jobs' own processes.
"""

from __future__ import annotations

import json
import math
import os
import runpy
from fractions import Fraction
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
import yaml
from conftest import CONFIG, REPO, snakemake, tiny_config, tiny_workdir, write_config
from matplotlib import pyplot as plt
from scipy.special import comb
from statsmodels.stats.proportion import proportion_confint
from synthetic import write_cifar10, write_imagenet
from test_figures import check_certified_accuracy
from test_tables import brute_force_median

from randablate import figures, tables
from randablate.config import num_images
from randablate.datasets import DATASETS
from randablate.models import load_model

pytestmark = pytest.mark.slow  # runs the pipeline end to end

SITECUSTOMIZE = """
import json, os
if os.environ.get("RANDABLATE_TEST_CIFAR10_MD5S"):
    from torchvision.datasets import CIFAR10
    md5s = json.loads(open(os.environ["RANDABLATE_TEST_CIFAR10_MD5S"]).read())
    CIFAR10.train_list = [[f"data_batch_{i}", md5s[f"data_batch_{i}"]] for i in range(1, 6)]
    CIFAR10.test_list = [["test_batch", md5s["test_batch"]]]
    CIFAR10.meta = {**CIFAR10.meta, "md5": md5s["batches.meta"]}
"""

TARGETS = [f"results/tables/table{n}.csv" for n in range(3, 9)] + [
    "results/tables/discussion_imagenet.csv",
    "results/figures/certified_accuracy_cifar10.png",
    "results/figures/certified_accuracy_imagenet.png",
    "results/tables/reproduction.csv",
]
TRAINING = dict(optimizer="adam", lr_schedule=[[1, 0.001]], precision="bf16", checkpoint_every=1)


def colour_config(workdir: Path) -> dict:
    """The tiny MNIST config plus toy CIFAR-10 and ImageNet settings."""
    config = tiny_config(workdir / "data")
    config["cifar10"]["dir"] = str(workdir / "cifar10")
    config["imagenet"].update(dir=str(workdir / "imagenet"), num_images=4, subset="seeded")
    sampling = dict(shards=2, n0=10, n=60, n_predict=30, batch_size=120, precision="bf16")
    config["table3"].update(k=[75, 150], num_images=8, subset="first", **sampling)
    config["table6"].update(k=[500], **{**sampling, "n": 12, "n0": 4, "n_predict": 6})
    config["base_accuracy"].update(
        k=[75], num_images=8, samples=3, batch_size=120, precision="bf16"
    )
    config["table7"].update(mnist_k=30, imagenet_k=500, n0=4, n=20, shards=1)
    config["table8"].update(mnist_k=30, cifar10_k=75)
    config["training"]["cifar10"].update(epochs=1, batch_size=32, max_train_images=96, **TRAINING)
    config["training"]["imagenet"].update(epochs=1, batch_size=6, workers=0, **TRAINING)
    return config


@pytest.fixture(scope="module")
def colour_run(mnist, tmp_path_factory) -> Path:
    workdir = tiny_workdir(tmp_path_factory.mktemp("colour"))
    md5s = write_cifar10(workdir / "cifar10", n_train=96, n_test=16, seed=1)
    write_imagenet(workdir / "imagenet", classes=3, train_per_class=4, val_per_class=2, seed=2)
    write_config(workdir, colour_config(workdir))
    patch = workdir / "sitepatch"
    patch.mkdir()
    (patch / "sitecustomize.py").write_text(SITECUSTOMIZE)
    (workdir / "md5s.json").write_text(json.dumps(md5s))
    env = {
        "PYTHONPATH": os.pathsep.join([str(patch), os.environ.get("PYTHONPATH", "")]),
        "RANDABLATE_TEST_CIFAR10_MD5S": str(workdir / "md5s.json"),
    }
    old = {key: os.environ.get(key) for key in env}
    os.environ.update(env)
    try:
        run = snakemake(workdir, *TARGETS, "--cores", "2", "--resources", "gpu=1", timeout=1800)
    finally:
        for key, value in old.items():
            if value is None:
                os.environ.pop(key)
            else:
                os.environ[key] = value
    assert run.returncode == 0, run.stderr[-5000:]
    return workdir


def test_table3_certifies_cifar10_beside_the_papers_values(colour_run):
    table = pd.read_csv(colour_run / "results/tables/table3.csv")
    paper = pd.read_csv(REPO / "resources/paper/table3_cifar10_certificates.csv").set_index("k")
    assert table["k"].tolist() == [75, 150]
    assert (table["images"] == 8).all() and (table["n"] == 60).all()
    for _, row in table.iterrows():
        assert row["paper_accuracy_pct"] == paper.loc[row["k"], "accuracy_pct"]
    assert "training" not in table and (table["scale"] == "reduced").all()  # caption: training


def test_cifar10_certificates_use_d_1024_and_their_counts(colour_run):
    certs = pd.read_csv(
        colour_run / "results/certificates/cifar10/multichannel/resnet18/k150/standard.csv"
    )
    assert len(certs) == 8 and certs["index"].tolist() == list(range(8))
    bound = certs[[f"bound_{c}" for c in range(10)]].to_numpy()
    assert (bound.sum(axis=1) == 60).all()
    for _, row in certs.iterrows():
        count = row[f"bound_{int(row['guess'])}"]
        expected = proportion_confint(count, 60, alpha=0.1, method="beta")[0] if count else 0.0
        assert row["p_lower"] == pytest.approx(expected, abs=1e-9)
        # the radius: the largest rho with p_lower - (1 - C(1024-rho,150)/C(1024,150)) > 0.5
        rho = -1
        while row["p_lower"] - (1 - comb(1024 - (rho + 1), 150) / comb(1024, 150)) > 0.5:
            rho += 1
        assert row["radius"] == rho


def test_cifar10_models_have_the_encodings_input_channels(colour_run):
    models = colour_run / "results/models/cifar10"
    _, multichannel = load_model(models / "multichannel/resnet18/k75/model.pt")
    _, mean = load_model(models / "mean/resnet18/k75/model.pt")
    _, resnet50 = load_model(models / "multichannel/resnet50/k75/model.pt")
    assert multichannel["in_channels"] == resnet50["in_channels"] == 6
    assert mean["in_channels"] == 3 and len(mean["mean"]) == 3
    assert multichannel["training"]["augmentation"] == "crop-flip"
    assert multichannel["train_images"] == 96
    # what made the model: the commit, package versions and the device it trained on
    assert multichannel["provenance"]["packages"]["torch"] == torch.__version__.split("+")[0]
    assert multichannel["provenance"]["device"] == "cpu"
    assert multichannel["provenance"]["git_commit"]


def test_tables_4_and_5_measure_the_base_classifiers(colour_run):
    for number, arch in ((4, "resnet18"), (5, "resnet50")):
        table = pd.read_csv(colour_run / f"results/tables/table{number}.csv")
        assert table["k"].tolist() == [75]
        assert table["train_images"][0] == 96 and table["images"][0] == 8
        _, meta = load_model(
            colour_run / f"results/models/cifar10/multichannel/{arch}/k75/model.pt"
        )
        train = 100 * meta["history"][-1]["accuracy"]
        assert table["train_accuracy_pct"][0] == pytest.approx(train, abs=0.0051)
        # 3 ablations of 8 images: the accuracy is a multiple of 1/24
        assert round(table["test_accuracy_pct"][0] * 24 / 100, 2) % 1 == 0
        assert not np.isnan(table["paper_train_accuracy_pct"][0])


def test_imagenet_subset_lists_seeded_validation_files(colour_run):
    subset = pd.read_csv(colour_run / "results/data/imagenet/val_subset.csv")
    assert len(subset) == 4 and subset["position"].tolist() == [0, 1, 2, 3]
    classes = sorted(p.name for p in (colour_run / "imagenet/train").iterdir())
    for _, row in subset.iterrows():
        assert (colour_run / "imagenet/val" / row["file"]).is_file()
        assert classes[row["label"]] == row["wnid"] == row["file"].split("/")[0]


def test_table6_and_the_imagenet_medians(colour_run):
    table = pd.read_csv(colour_run / "results/tables/table6.csv")
    assert table["k"].tolist() == [500] and table["images"][0] == 4
    assert table["paper_accuracy_pct"][0] == 52.75
    certs = pd.read_csv(
        colour_run
        / "results/certificates/imagenet/multichannel/imagenet_resnet50/k500/standard.csv"
    )
    assert len(certs) == 4 and "bound_999" in certs.columns  # 1000 classes
    medians = pd.read_csv(colour_run / "results/tables/discussion_imagenet.csv")
    assert medians["quantity"].tolist() == ["median certificate excluding N/A (ImageNet k=500)"]
    assert medians["paper"][0] == 63
    _, meta = load_model(
        colour_run / "results/models/imagenet/multichannel/imagenet_resnet50/k500/model.pt"
    )
    assert meta["normalize"] is not None and meta["num_classes"] == 1000


def exact_radius(p_lower: float, d: int, k: int) -> int:
    """Largest ρ with p_lower − Δ(ρ) > 1/2, Δ from exact integer binomials; −1 if none."""
    p, best = Fraction(p_lower), -1
    for rho in range(d + 1):
        delta = 1 - Fraction(math.comb(d - rho, k), math.comb(d, k))
        if not p - delta > Fraction(1, 2):
            break
        best = rho
    return best


def lee_agrees(lee: pd.DataFrame, median, d: int, k: int, n: int, alpha: float) -> bool:
    """Recompute lee.csv's guess, p_lower, radius, robustness and the median from the counts."""
    select = lee[[f"select_{c}" for c in range(10)]].to_numpy()
    bound = lee[[f"bound_{c}" for c in range(10)]].to_numpy()
    guess = select.argmax(axis=1)
    hits = bound[np.arange(len(lee)), guess]
    p_lower = [
        proportion_confint(c, n, alpha=2 * alpha, method="beta")[0] if c else 0.0 for c in hits
    ]
    radius = [exact_radius(p, d, k) for p in p_lower]
    robustness = [
        max(r, 0) if g == y else -math.inf
        for g, y, r in zip(guess, lee["label"], radius, strict=True)
    ]
    want_median = brute_force_median(robustness)
    return bool(
        (lee["guess"].to_numpy() == guess).all()
        and np.allclose(lee["p_lower"], p_lower, atol=1e-9)
        and lee["radius"].tolist() == radius
        and lee["robustness"].tolist() == robustness
        and (pd.isna(median) if want_median == -math.inf else median == want_median)
    )


def test_table7_recounts_with_lee_et_al_sampling(colour_run):
    table = pd.read_csv(colour_run / "results/tables/table7.csv")
    assert table["dataset"].tolist() == ["MNIST", "ImageNet"]
    assert table["lee_et_al_2019_median_certified_pixels"].tolist() == [4, 1]  # quoted
    assert (table["n0"] == 4).all() and (table["n"] == 20).all()
    lee = pd.read_csv(colour_run / "results/certificates/mnist/multichannel/cnn/k30/lee.csv")
    assert "prediction" not in lee.columns and len(lee) == 12
    median = table["median_certified_robustness_pixels"][0]
    assert lee_agrees(lee, median, d=784, k=30, n=20, alpha=0.001)
    # planted faults the recomputation must catch: certificates one pixel too large, and a
    # median one pixel off (this toy run's median is N/A: 0 stands in for it)
    assert (lee["radius"] >= 0).any()
    off_by_one = lee.assign(radius=np.where(lee["radius"] >= 0, lee["radius"] + 1, -1))
    assert not lee_agrees(off_by_one, median, d=784, k=30, n=20, alpha=0.001)
    assert not lee_agrees(lee, (0 if pd.isna(median) else median + 1), 784, 30, 20, 0.001)


def test_table8_compares_the_null_encodings(colour_run):
    table = pd.read_csv(colour_run / "results/tables/table8.csv")
    assert list(zip(table["dataset"], table["k"], table["encoding"], strict=True)) == [
        ("MNIST", 30, "multichannel"),
        ("MNIST", 30, "mean"),
        ("CIFAR-10", 75, "multichannel"),
        ("CIFAR-10", 75, "mean"),
    ]
    assert table["images"].tolist() == [12, 12, 8, 8]


def test_scorecard_covers_every_table(colour_run):
    card = pd.read_csv(colour_run / "results/tables/reproduction.csv")
    assert {"table1", "table3", "table4", "table5", "table6", "table7", "table8"} <= set(
        card["table"]
    )
    assert set(card["scale"]) == {"reduced"}
    # Table 8's scored rows are CIFAR-10 k = 75 (the paper's); MNIST k = 30 is not in the paper
    assert set(card[card["table"] == "table8"]["row"]) == {
        "CIFAR-10 k=75 multichannel",
        "CIFAR-10 k=75 mean",
    }
    row = card[(card["table"] == "table3") & (card["quantity"] == "accuracy_pct")].iloc[0]
    assert row["difference"] == pytest.approx(row["ours"] - row["paper"])


class FakeJob:
    """What a Snakemake script reads of its job: input, output, params, log and rule."""

    def __init__(self, **parts) -> None:
        for name, value in parts.items():
            setattr(self, name, value)


def draw_as_the_rule_does(workdir: Path, dataset: str, out: Path, monkeypatch) -> object:
    """Run the rule's script in this process on the run's certificates; return its figure."""
    config = yaml.safe_load((workdir / CONFIG).read_text())
    info = DATASETS[dataset]
    settings = config[info.section]
    arch = settings["arch"]
    certificates = [
        str(workdir / f"results/certificates/{dataset}/multichannel/{arch}/k{k}/standard.csv")
        for k in settings["k"]
    ]
    paper = {"cifar10": "table3_cifar10_certificates", "imagenet": "table6_imagenet_certificates"}
    job = FakeJob(
        input=FakeJob(
            certificates=certificates, paper=str(REPO / f"resources/paper/{paper[dataset]}.csv")
        ),
        output=FakeJob(figure=str(out)),
        params=FakeJob(
            name=info.title,
            k=settings["k"],
            scale=config["scale"],
            images=num_images(config, dataset),
            n=settings["n"],
        ),
        log=[str(out.with_suffix(".log"))],
        rule="figure_certified_accuracy",
    )
    drawn = []
    real = figures.save_figure
    monkeypatch.setattr(
        figures, "save_figure", lambda fig, path: (drawn.append(fig), real(fig, path))
    )
    script = REPO / "workflow/scripts/figure_certified_accuracy.py"
    runpy.run_path(str(script), init_globals={"snakemake": job})
    (fig,) = drawn
    return fig, {k: pd.read_csv(path) for k, path in zip(settings["k"], certificates, strict=True)}


def wrong_column(by_k):
    """A planted fault: the curves drawn from the radius column, misclassified images included."""
    return {int(k): certs["radius"].to_numpy(float) for k, certs in by_k.items()}


@pytest.mark.parametrize("planted", [None, "radius column for robustness"])
def test_colour_figures_plot_the_certified_accuracy_of_each_k(
    colour_run, tmp_path, monkeypatch, planted
):
    if planted:
        monkeypatch.setattr(tables, "robustness_by_k", wrong_column)
    caught = []
    for dataset in ("cifar10", "imagenet"):
        path = colour_run / f"results/figures/certified_accuracy_{dataset}.png"
        again = tmp_path / f"{dataset}.png"
        fig, certs_by_k = draw_as_the_rule_does(colour_run, dataset, again, monkeypatch)
        assert fig.axes[0].get_title().startswith(f"{DATASETS[dataset].title}, ")
        if planted:
            # where the planted curves differ from the right ones, the check must see it
            if any(differs(certs) for certs in certs_by_k.values()):
                caught.append(dataset)
                with pytest.raises(AssertionError):
                    check_certified_accuracy(fig, certs_by_k)
            continue
        check_certified_accuracy(fig, certs_by_k)
        # the pipeline's image is this very figure, pixel for pixel
        assert np.array_equal(plt.imread(path), plt.imread(again))
    assert bool(caught) is bool(planted)  # the toy run has images where the columns differ


def differs(certs: pd.DataFrame) -> bool:
    """Whether the radius column gives another curve than the certified accuracy (at ρ = 0)."""
    right = (certs["guess"] == certs["label"]).mean()
    return bool((certs["radius"] >= 0).mean() != right)
