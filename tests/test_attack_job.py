"""The attack_shard job: a shard's images attacked from the model file, on a granted device."""

from __future__ import annotations

import logging
import os

import numpy as np
from kept_intensity import save_kept_intensity_model

from randablate.attack_job import attack_shard_and_save
from randablate.data import default_cache_dir, load_eval_images
from randablate.devices import DeviceGrant
from randablate.files import load_npz
from randablate.smoothing import GrantedSmoothed

# The model votes 0 on every MNIST image: images 1 and 2 (labels 2 and 1) need no attack.
SETTINGS = {
    "n_query": 10,
    "starts": 1,
    "init_epsilons": 5,
    "init_repetitions": 1,
    "max_queries": 50,
}


def test_the_job_attacks_its_shard_and_discards_a_checkpoint_older_than_the_model(
    mnist, tmp_path, caplog
):
    model = save_kept_intensity_model(tmp_path / "model.pt", k=784)
    stale = tmp_path / "shard.partial.npz"
    stale.write_bytes(b"a checkpoint of an older model")
    os.utime(stale, (0, 0))
    data = {"dataset": "mnist", "dir": default_cache_dir(), "subset": None}
    out = tmp_path / "shard.npz"
    with caplog.at_level(logging.INFO):
        attack_shard_and_save(
            out,
            stale,
            GrantedSmoothed(model, 784, 100, "fp32", DeviceGrant(tmp_path / "locks")),
            data=data,
            positions=(1, 3),
            settings=SETTINGS,
            seed=11,
        )
    assert f"removed {stale}: it predates the model" in caplog.text
    assert "k=784 images 1..2" in caplog.text
    assert not stale.exists()
    shard = load_npz(out)
    images, labels, indices = load_eval_images(data, 1, 3)
    assert shard["index"].tolist() == indices.tolist() == [1, 2]
    assert shard["label"].tolist() == labels.tolist()
    assert np.array_equal(shard["clean_image"], images.numpy())
    assert (int(shard["k"]), int(shard["seed"]), str(shard["precision"])) == (784, 11, "fp32")
    assert (int(shard["n_query"]), int(shard["starts"])) == (10, 1)
    assert shard["status"].tolist() == ["clean", "clean"]
