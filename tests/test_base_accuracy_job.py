"""The base_accuracy job and the record it writes, which Tables 4 and 5 read."""

from __future__ import annotations

import json

import pytest
from kept_intensity import kept_intensity_cnn

from randablate import tables
from randablate.base_accuracy_job import base_accuracy_and_save, base_accuracy_record
from randablate.data import default_cache_dir, load_eval_images
from randablate.devices import DeviceGrant
from randablate.encoding import get_encoding
from randablate.models import save_model
from randablate.seeding import derive_seed
from randablate.smoothing import GrantedSmoothed, base_accuracy, load_smoothed

K = 10  # the job test's k
RECORD = {
    "k": 45,
    "train_accuracy": 0.9125,
    "train_epoch": 3,
    "train_images": 1500,
    "test_accuracy": 0.625,
    "images": 8,
    "samples": 16,
}


def test_the_record_is_written_as_json_in_key_order_and_read_back(tmp_path):
    path = tmp_path / "k45.json"
    tables.write_base_accuracy(path, dict(reversed(RECORD.items())))
    # the bytes the base_accuracy job has always written: indent 1, the keys in this order
    assert path.read_text() == json.dumps(RECORD, indent=1)
    assert list(tables.read_base_accuracy(path).items()) == list(RECORD.items())


def test_a_record_with_other_keys_is_refused_naming_them(tmp_path):
    with pytest.raises(ValueError, match=r"has the keys k, train_accuracy.*not k, images$"):
        tables.write_base_accuracy(tmp_path / "a.json", {"k": 45, "images": 8})
    assert not (tmp_path / "a.json").exists()
    (tmp_path / "b.json").write_text(json.dumps({"k": 45, "test_accuracy": 0.5}))
    with pytest.raises(ValueError, match=r"b\.json: a base accuracy record lacks train_accuracy"):
        tables.read_base_accuracy(tmp_path / "b.json")


def test_the_record_takes_the_final_epoch_or_none_for_an_authors_model():
    history = [{"epoch": 1, "accuracy": 0.5}, {"epoch": 2, "accuracy": 0.75}]
    trained = base_accuracy_record(45, {"history": history, "train_images": 60}, 0.5, 8, 16)
    assert trained == {
        "k": 45,
        "train_accuracy": 0.75,
        "train_epoch": 2,
        "train_images": 60,
        "test_accuracy": 0.5,
        "images": 8,
        "samples": 16,
    }
    authors = base_accuracy_record(45, {"history": [], "train_images": None}, 0.5, 8, 16)
    assert (authors["train_accuracy"], authors["train_epoch"], authors["train_images"]) == (
        None,
        None,
        None,
    )


def test_the_job_measures_the_first_images_with_the_model_s_own_seed(mnist, tmp_path):
    meta = {"arch": "cnn", "in_channels": 2, "num_classes": 10, "k": K, "train_images": 60}
    meta.update(get_encoding("multichannel", 1).describe())
    meta["history"] = [{"epoch": 1, "accuracy": 0.25}, {"epoch": 2, "accuracy": 0.5}]
    # votes for 2 + I/2 (I: the kept pixels' sum), which at k = 10 move with the ablations
    save_model(tmp_path / "model.pt", kept_intensity_cnn(K), meta)
    data = {"dataset": "mnist", "dir": default_cache_dir(), "subset": None}
    out = tmp_path / "accuracy" / "k10.json"
    record = base_accuracy_and_save(
        out,
        GrantedSmoothed(tmp_path / "model.pt", K, 60, "fp32", DeviceGrant(tmp_path / "locks")),
        data=data,
        encoding="multichannel",
        arch="cnn",
        num_images=10,
        samples=50,
        seed=7,
    )
    assert tables.read_base_accuracy(out) == record
    images, labels, _ = load_eval_images(data, 0, 10)
    smoothed, _ = load_smoothed(tmp_path / "model.pt", K, batch_size=60)
    seed = derive_seed(7, "base-accuracy", "mnist", "multichannel", "cnn", K)
    expected = base_accuracy(smoothed, images, labels, 50, seed)
    assert record == {
        "k": K,
        "train_accuracy": 0.5,
        "train_epoch": 2,
        "train_images": 60,
        "test_accuracy": expected,
        "images": 10,
        "samples": 50,
    }
    other = base_accuracy(smoothed, images, labels, 50, derive_seed(7, "base-accuracy", "x"))
    assert 0.0 < expected < 1.0 and other != expected  # the seed matters: the check can fail
