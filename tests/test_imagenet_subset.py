"""The authors' 400 ImageNet validation images: the shipped list and the files it picks."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from synthetic import write_imagenet_listing
from torchvision.datasets import ImageFolder

from randablate.data import DataError, imagenet_eval_subset, read_imagenet_indices

AUTHORS_LIST = Path(__file__).resolve().parents[1] / "resources/paper/imagenet_val_indices.csv"


@pytest.fixture(scope="module")
def full_val(tmp_path_factory) -> Path:
    """A synthetic ImageNet of 1,000 classes and 50,000 empty validation files."""
    root = tmp_path_factory.mktemp("imagenet")
    write_imagenet_listing(root, classes=1000, val_per_class=50, seed=4)
    return root


def test_the_shipped_list_is_the_authors_400_images():
    indices = read_imagenet_indices(AUTHORS_LIST)
    assert len(indices) == 400 and len(set(indices.tolist())) == 400
    assert indices.min() >= 0 and indices.max() < 50_000
    # the first entries of imagenet_indices.pth in the authors' repository
    assert indices[:4].tolist() == [28141, 23962, 39090, 21606]


def test_the_authors_subset_picks_the_listed_imagefolder_positions(full_val):
    indices = read_imagenet_indices(AUTHORS_LIST)
    subset = imagenet_eval_subset(full_val, 400, indices=indices)
    assert subset["position"].tolist() == list(range(400))
    assert subset["val_index"].tolist() == indices.tolist()
    # torchvision's ImageFolder over val/, as the authors' imagenet_certify.py indexes it
    folder = ImageFolder(str(full_val / "val"))
    assert len(folder.samples) == 50_000
    expected = [Path(folder.samples[i][0]).relative_to(full_val / "val") for i in indices]
    assert subset["file"].tolist() == [p.as_posix() for p in expected]
    assert subset["label"].tolist() == [folder.samples[i][1] for i in indices]
    assert subset["wnid"].tolist() == [p.parent.name for p in expected]
    # file numbers run across classes, so a listed position is not the file numbered after it
    numbers = subset["file"].str.extract(r"_(\d{8})\.JPEG")[0].astype(int)
    assert (numbers != indices + 1).any()
    # a smaller num_images takes the list's first entries
    assert imagenet_eval_subset(full_val, 7, indices=indices).equals(subset.iloc[:7])


def test_the_authors_subset_needs_the_whole_validation_set(full_val, tmp_path):
    indices = read_imagenet_indices(AUTHORS_LIST)
    with pytest.raises(DataError, match="asked for 401 validation images but the index list"):
        imagenet_eval_subset(full_val, 401, indices=indices)
    partial = tmp_path / "partial"
    write_imagenet_listing(partial, classes=10, val_per_class=5)
    with pytest.raises(DataError, match=r"holds 50 images; the index list indexes the 50000"):
        imagenet_eval_subset(partial, 400, indices=indices)
    with pytest.raises(ValueError, match="exactly one of seed and indices"):
        imagenet_eval_subset(partial, 4, seed=1, indices=indices)
    with pytest.raises(ValueError, match="exactly one of seed and indices"):
        imagenet_eval_subset(partial, 4)


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("index\n1\n2\n", "has no val_index values"),
        ("val_index\n1\n1.5\n", "non-integer"),
        ("val_index\n3\n3\n", "out of range or repeated"),
        ("val_index\n50000\n", "out of range or repeated"),
        ("val_index\n-1\n", "out of range or repeated"),
    ],
)
def test_bad_index_lists_are_refused_naming_the_file(tmp_path, text, problem):
    path = tmp_path / "indices.csv"
    path.write_text(text)
    with pytest.raises(DataError, match=problem) as error:
        read_imagenet_indices(path)
    assert str(path) in str(error.value) and "expected a CSV with a val_index column" in str(
        error.value
    )


def test_a_missing_index_list_is_named(tmp_path):
    with pytest.raises(DataError, match=f"cannot read ImageNet index list {tmp_path / 'no.csv'}"):
        read_imagenet_indices(tmp_path / "no.csv")


def test_the_pipeline_writes_what_imagenet_eval_subset_returns(full_val, tmp_path):
    # the CSV the rule writes keeps every column, val_index included
    from randablate.files import write_csv

    subset = imagenet_eval_subset(full_val, 5, indices=np.array([0, 49_999, 3, 17, 2]))
    write_csv(subset, tmp_path / "val_subset.csv")
    again = pd.read_csv(tmp_path / "val_subset.csv")
    assert again.equals(subset)
