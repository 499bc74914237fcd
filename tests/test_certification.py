"""One route to a certificate: the library, the CLI and the pipeline agree on the same counts."""

from __future__ import annotations

import os

import numpy as np
import pandas as pd
import pytest
import torch
from conftest import holds_unless_planted
from kept_intensity import save_kept_intensity_model, varied_images
from statsmodels.stats.proportion import proportion_confint

from randablate import certificates, certification, cli, files
from randablate.certification import (
    SamplingScheme,
    certificate_table,
    certificates_job,
    certify_counts,
    legacy_scheme,
    read_scheme,
    scheme_record,
    votes_scheme,
)
from randablate.data import default_cache_dir
from randablate.devices import DeviceGrant
from randablate.seeding import vote_seed
from randablate.smoothing import count_votes, load_smoothed, stage_seeds
from randablate.votes import votes_job

N0, N, N_PREDICT, ALPHA, SEED, K = 20, 150, 20, 0.05, 5, 45
SCHEME = SamplingScheme({"select": N0, "bound": N, "predict": N_PREDICT}, "predict")


@pytest.fixture(scope="module")
def model_file(tmp_path_factory):
    return save_kept_intensity_model(tmp_path_factory.mktemp("model") / "model.pt", k=K)


@pytest.fixture(scope="module")
def images():
    return varied_images(6)


def pipeline_route(model_file, images, indices, tmp_path, scheme=SCHEME):
    """count_votes writes the votes and their scheme; the certificate job reads both back."""
    smoothed, _ = load_smoothed(model_file, K, batch_size=100, device="cpu")
    labels = torch.arange(len(images)) % 10
    votes = tmp_path / "votes.npz"
    count_votes(smoothed, images, labels, indices, scheme, SEED, votes)
    out = tmp_path / "certificates.csv"
    returned = certificates_job(votes, out, ALPHA, scheme.predict_from)
    return files.load_npz(votes), returned, pd.read_csv(out)


# faults planted in the pipeline's route only: the scheme it reads back is not the one counted
PLANTED = {
    "predicts from the bound stage": {"predict_from": "bound"},
    "chooses with the bound stage": {"select": "bound"},
}


@pytest.mark.parametrize("planted", [None, *PLANTED])
def test_library_and_pipeline_routes_give_identical_certificates(
    model_file, images, tmp_path, monkeypatch, planted
):
    if planted:
        read = certification.votes_scheme

        def misread(votes, predict_from=None):
            scheme = read(votes, predict_from)
            roles = {"predict_from": scheme.predict_from, "select": scheme.select}
            roles.update(PLANTED[planted])
            return SamplingScheme(scheme.stages, roles["predict_from"], roles["select"])

        monkeypatch.setattr(certification, "votes_scheme", misread)
    indices = np.arange(10, 10 + len(images))
    votes, table, written = pipeline_route(model_file, images, indices, tmp_path)
    pd.testing.assert_frame_equal(written, table, rtol=1e-9)  # written to 10 digits
    # the library, drawing each stage from the pipeline's streams of each image
    smoothed, _ = load_smoothed(model_file, K, batch_size=64, device="cpu")  # other batches
    seeds = {stage: stage_seeds(SEED, stage, indices) for stage in ("select", "bound")}
    cert = smoothed.certify(images, N0, N, ALPHA, seeds)
    prediction = smoothed.predict(images, N_PREDICT, ALPHA, stage_seeds(SEED, "predict", indices))
    assert np.array_equal(cert.counts_select, votes["counts_select"])
    assert np.array_equal(cert.counts_bound, votes["counts_bound"])
    # the test has power: the images differ in guess, radius and prediction
    assert len(set(cert.guess)) > 2 and (cert.radius >= 0).any() and (cert.radius < 0).any()
    assert (prediction == -1).any() and (prediction >= 0).any()
    # and the library's certificates are right: an independent Clopper-Pearson bound
    top = cert.counts_bound[np.arange(len(images)), cert.counts_select.argmax(1)]
    lower, _ = proportion_confint(top, N, alpha=2 * ALPHA, method="beta")
    assert cert.p_lower == pytest.approx(np.where(top == 0, 0.0, lower), abs=1e-12)

    def same_rows():
        assert table["guess"].tolist() == cert.guess.tolist()
        assert table["p_lower"].tolist() == cert.p_lower.tolist()  # bit for bit
        assert table["radius"].tolist() == cert.radius.tolist()
        assert table["prediction"].tolist() == prediction.tolist()

    holds_unless_planted(planted, same_rows)


def test_cli_rows_are_the_pipelines_certificate_of_the_clis_counts(model_file, images, tmp_path):
    out = tmp_path / "cli.csv"
    for name, array in (("images.pt", images), ("labels.pt", torch.arange(len(images)) % 10)):
        torch.save(array, tmp_path / name)
    argv = ["certify", "--model", str(model_file), "--images", str(tmp_path / "images.pt")]
    argv += ["--labels", str(tmp_path / "labels.pt"), "--out", str(out), "--device", "cpu"]
    argv += ["--n0", str(N0), "--n", str(N), "--seed", str(SEED)]
    assert cli.main(argv) == 0
    rows = pd.read_csv(out)
    # the CLI's counts (one stream per image: n0 choose, the next n bound), in a votes file
    smoothed, _ = load_smoothed(model_file, K, device="cpu")
    scheme = SamplingScheme({"select": N0, "bound": N})
    seeds = [cli.image_seed(SEED, i) for i in range(len(images))]
    counts = smoothed.count_stages(images, scheme.stages, seeds)
    votes = {
        "index": np.arange(len(images)),
        "label": rows["label"].to_numpy(),
        "k": np.int64(K),
        "d": np.int64(784),
        **{f"counts_{stage}": value for stage, value in counts.items()},
        **scheme_record(scheme),
    }
    table = certificate_table(votes, ALPHA)
    for column in ("index", "guess", "radius"):
        assert rows[column].tolist() == table[column].tolist(), column
    assert rows["p_lower"].to_numpy() == pytest.approx(table["p_lower"], rel=1e-9)  # 10 digits
    certified = (table["robustness"] >= 0) & (table["guess"] == table["label"])
    assert rows["certified_correct"].tolist() == certified.tolist()


def test_certify_counts_follows_the_schemes_roles():
    rng = np.random.default_rng(3)
    counts = {s: rng.multinomial(n, [0.6, 0.3, 0.1], 8) for s, n in (("a", 30), ("b", 400))}
    counts["c"] = rng.multinomial(50, [0.45, 0.45, 0.1], 8)
    scheme = SamplingScheme({"a": 30, "b": 400, "c": 50}, "c", select="a", bound="b")
    rows = certify_counts(counts, scheme, ALPHA, 784, 10)
    guess, p_lower, radius = certificates.certify_from_counts(
        counts["a"], counts["b"], ALPHA, 784, 10
    )
    assert rows["guess"].tolist() == guess.tolist() and rows["radius"].tolist() == radius.tolist()
    assert rows["p_lower"].tolist() == p_lower.tolist()
    predicted = certificates.predict_from_counts(counts["c"], ALPHA)
    assert rows["prediction"].tolist() == predicted.tolist()
    silent = SamplingScheme(scheme.stages, None, select="a", bound="b")
    assert "prediction" not in certify_counts(counts, silent, ALPHA, 784, 10)
    other = SamplingScheme({"a": 30, "b": 500}, select="a", bound="b")
    with pytest.raises(ValueError, match="sum to"):  # the counts are not the scheme's
        certify_counts(counts, other, ALPHA, 784, 10)


def test_the_scheme_travels_through_the_shards_and_their_merge(model_file, images, tmp_path):
    smoothed, _ = load_smoothed(model_file, K, batch_size=100, device="cpu")
    labels = torch.zeros(len(images), dtype=torch.int64)
    paths = []
    for part in (slice(0, 4), slice(4, 6)):
        paths.append(tmp_path / f"shard-{part.start}.npz")
        indices = np.arange(len(images))[part]
        count_votes(smoothed, images[part], labels[part], indices, SCHEME, SEED, paths[-1])
    files.merge_shards(paths, tmp_path / "votes.npz")
    merged = files.load_npz(tmp_path / "votes.npz")
    assert read_scheme(merged) == SCHEME
    with pytest.raises(ValueError, match="predicts from 'predict'"):  # counted for another scheme
        votes_scheme(merged, "bound")
    bad = {**merged, "n_bound": np.int64(N + 1)}
    with pytest.raises(ValueError, match="n_bound"):
        read_scheme(bad)


@pytest.mark.parametrize("predict_from", ["predict", "bound"])
def test_votes_without_a_record_are_read_as_before(model_file, images, tmp_path, predict_from):
    # A votes file of 0.2.0 (no scheme) gives, with the workflow's prediction stage, the very
    # table a file with the record gives.
    scheme = SamplingScheme(SCHEME.stages, predict_from)
    indices = np.arange(len(images))
    votes, table, _ = pipeline_route(model_file, images, indices, tmp_path, scheme)
    old = {key: value for key, value in votes.items() if key != "scheme"}
    files.save_npz(tmp_path / "old.npz", old, compressed=True)
    assert legacy_scheme(old, predict_from) == scheme
    again = certificates_job(tmp_path / "old.npz", tmp_path / "old.csv", ALPHA, predict_from)
    pd.testing.assert_frame_equal(again, table, check_exact=True)
    assert set(again["prediction_stage"]) == {predict_from}


def test_the_votes_job_counts_its_shard_as_count_votes_does(mnist, model_file, tmp_path):
    # the pipeline's glue: the shard's images, the seed of the model's identity and run, the
    # scheme of the settings; a checkpoint older than the model is discarded first
    data = {"dataset": "mnist", "dir": str(default_cache_dir())}
    settings = {"stages": dict(SCHEME.stages), "predict_from": "predict"}
    settings.update(batch_size=100, precision="fp32")
    stale = tmp_path / "shard.partial.npz"
    stale.write_bytes(b"not a checkpoint")
    os.utime(stale, (0, 0))
    identity = {"dataset": "mnist", "encoding": "multichannel", "arch": "cnn", "k": K}
    votes_job(
        tmp_path / "shard.npz",
        stale,
        model_path=model_file,
        data=data,
        positions=(3, 7),
        settings=settings,
        base_seed=SEED,
        run="lee",
        grant=DeviceGrant(tmp_path / "locks"),
        **identity,
    )
    assert not stale.exists()
    got = files.load_npz(tmp_path / "shard.npz")
    images, labels = mnist["test"]
    smoothed, _ = load_smoothed(model_file, K, batch_size=100, device="cpu")
    seed = vote_seed(SEED, "lee", "mnist", "multichannel", "cnn", K)
    count_votes(smoothed, images[3:7], labels[3:7], range(3, 7), SCHEME, seed, tmp_path / "v.npz")
    expected = files.load_npz(tmp_path / "v.npz")
    assert list(got) == list(expected)
    for name, value in expected.items():
        assert np.array_equal(got[name], value), name
    assert got["index"].tolist() == [3, 4, 5, 6] and read_scheme(got) == SCHEME
