"""Result files: atomic writes, resumable .npz results, merged shards and CSV tables."""

from __future__ import annotations

import gzip
import os
import stat
import zipfile

import numpy as np
import pandas as pd
import pytest

from randablate import files

HEADER = {"index": np.arange(4, dtype=np.int64), "k": np.int64(45), "seed": np.int64(7)}


def test_atomic_path_leaves_nothing_behind_when_the_block_fails(tmp_path):
    target = tmp_path / "sub" / "out.txt"
    with pytest.raises(RuntimeError), files.atomic_path(target) as tmp:
        tmp.write_text("half")
        raise RuntimeError("killed")
    assert not target.exists() and list((tmp_path / "sub").iterdir()) == []
    with files.atomic_path(target) as tmp:
        tmp.write_text("whole")
    assert target.read_text() == "whole" and len(list((tmp_path / "sub").iterdir())) == 1


def test_atomic_writes_get_the_permissions_a_plain_open_gives(tmp_path):
    # mkstemp makes 0600 files; a result must be as readable as open() would make it (umask).
    old = os.umask(0o027)
    try:
        with files.atomic_path(tmp_path / "atomic.csv") as tmp:
            tmp.write_text("a\n")
        (tmp_path / "plain.csv").write_text("a\n")
    finally:
        os.umask(old)
    mode = stat.S_IMODE((tmp_path / "atomic.csv").stat().st_mode)
    assert mode == stat.S_IMODE((tmp_path / "plain.csv").stat().st_mode) == 0o640


def test_save_and_load_npz_keep_names_order_and_compression(tmp_path):
    arrays = {"b": np.arange(3), "a": np.float32(1.5), "c": np.array(["x", "yz"])}
    files.save_npz(tmp_path / "plain.npz", arrays)
    files.save_npz(tmp_path / "packed.npz", arrays, compressed=True)
    for name, method in (("plain.npz", zipfile.ZIP_STORED), ("packed.npz", zipfile.ZIP_DEFLATED)):
        loaded = files.load_npz(tmp_path / name)
        assert list(loaded) == ["b", "a", "c"]
        assert loaded["a"].dtype == np.float32 and loaded["c"].tolist() == ["x", "yz"]
        with zipfile.ZipFile(tmp_path / name) as archive:
            assert {info.compress_type for info in archive.infolist()} == {method}


def test_a_checkpoint_is_resumed_only_when_its_header_matches(tmp_path):
    np.savez(tmp_path / "c.npz", done=np.int64(2), **HEADER)
    assert files.load_checkpoint_npz(tmp_path / "c.npz", HEADER)["done"] == 2
    assert files.load_checkpoint_npz(tmp_path / "c.npz", {**HEADER, "k": np.int64(46)}) is None
    assert files.load_checkpoint_npz(tmp_path / "c.npz", {"other": np.int64(1)}) is None
    assert files.load_checkpoint_npz(tmp_path / "missing.npz", HEADER) is None


def recorded_failpoints(monkeypatch) -> list[tuple[str, int]]:
    calls: list[tuple[str, int]] = []
    monkeypatch.setattr(files, "failpoint", lambda name, count: calls.append((name, count)))
    return calls


def test_resumable_npz_checkpoints_then_writes_the_result(tmp_path, monkeypatch):
    calls = recorded_failpoints(monkeypatch)
    result = files.ResumableNpz(
        tmp_path / "out.npz",
        tmp_path / "out.partial.npz",
        HEADER,
        "job-step",
        checkpoint_header={"all_index": np.arange(10)},
    )
    assert result.resume() is None
    result.save({"value": np.array([1.0])}, done=np.int64(1))
    result.save({"value": np.array([1.0, 2.0])}, done=np.int64(2))
    assert calls == [("job-step", 1), ("job-step", 2)]
    partial = files.load_npz(tmp_path / "out.partial.npz")
    assert list(partial) == ["done", "all_index", "index", "k", "seed", "value"]
    assert partial["done"] == 2 and partial["value"].tolist() == [1.0, 2.0]
    assert result.resume()["value"].tolist() == [1.0, 2.0]

    result.finish({"value": np.array([1.0, 2.0, 3.0])})
    assert not (tmp_path / "out.partial.npz").exists()
    final = files.load_npz(tmp_path / "out.npz")
    assert list(final) == ["index", "k", "seed", "value"]
    assert final["value"].tolist() == [1.0, 2.0, 3.0]
    with zipfile.ZipFile(tmp_path / "out.npz") as archive:
        assert {info.compress_type for info in archive.infolist()} == {zipfile.ZIP_DEFLATED}


def test_resumable_npz_ignores_the_checkpoint_of_another_job(tmp_path, monkeypatch):
    recorded_failpoints(monkeypatch)
    checkpoint = tmp_path / "out.partial.npz"
    first = files.ResumableNpz(tmp_path / "out.npz", checkpoint, HEADER, "step")
    first.save({"value": np.array([1.0])})
    other_seed = {**HEADER, "seed": np.int64(8)}
    assert files.ResumableNpz(tmp_path / "out.npz", checkpoint, other_seed, "step").resume() is None
    other_images = {"all_index": np.arange(5)}
    other = files.ResumableNpz(tmp_path / "o.npz", checkpoint, HEADER, "step", other_images)
    assert other.resume() is None
    assert files.ResumableNpz(tmp_path / "out.npz", checkpoint, HEADER, "step").resume()


def test_resumable_npz_without_a_checkpoint_path_only_writes_the_result(tmp_path, monkeypatch):
    calls = recorded_failpoints(monkeypatch)
    result = files.ResumableNpz(tmp_path / "out.npz", None, HEADER, "step")
    assert result.resume() is None
    result.save({"value": np.array([1.0])})
    result.finish({"value": np.array([1.0])})
    assert calls == [] and [p.name for p in tmp_path.iterdir()] == ["out.npz"]


def shard(indices: list[int], seed: int = 7) -> dict[str, np.ndarray]:
    index = np.array(indices, dtype=np.int64)
    return {"index": index, "counts": np.stack([index, 2 * index], 1), "seed": np.int64(seed)}


def test_merge_shards_orders_images_by_index_and_keeps_the_settings_once(tmp_path):
    np.savez(tmp_path / "b.npz", **shard([5, 3]))
    np.savez(tmp_path / "a.npz", **shard([0, 4, 1]))
    count = files.merge_shards([tmp_path / "b.npz", tmp_path / "a.npz"], tmp_path / "all.npz")
    merged = files.load_npz(tmp_path / "all.npz")
    assert count == 5
    assert merged["index"].tolist() == [0, 1, 3, 4, 5]
    assert merged["counts"].tolist() == [[0, 0], [1, 2], [3, 6], [4, 8], [5, 10]]
    assert merged["seed"].ndim == 0 and merged["seed"] == 7


def test_merge_shards_refuses_overlaps_and_mismatched_shards(tmp_path):
    np.savez(tmp_path / "a.npz", **shard([0, 1]))
    np.savez(tmp_path / "b.npz", **shard([1, 2]))
    np.savez(tmp_path / "c.npz", **shard([3], seed=8))
    np.savez(tmp_path / "d.npz", index=np.array([4]))
    out = tmp_path / "all.npz"
    with pytest.raises(ValueError, match="overlap"):
        files.merge_shards([tmp_path / "a.npz", tmp_path / "b.npz"], out)
    with pytest.raises(ValueError, match="seed=8 differs from 7"):
        files.merge_shards([tmp_path / "a.npz", tmp_path / "c.npz"], out)
    with pytest.raises(ValueError, match="arrays"):
        files.merge_shards([tmp_path / "a.npz", tmp_path / "d.npz"], out)
    with pytest.raises(ValueError, match="no shards"):
        files.merge_shards([], out)
    assert not out.exists()


TABLE = pd.DataFrame(
    {"k": [5, 45], "p": [0.1234567890123, float("inf")], "r": [float("-inf"), None]}
)


def test_write_csv_writes_na_and_infinities(tmp_path):
    files.write_csv(TABLE, tmp_path / "t.csv")
    assert (tmp_path / "t.csv").read_text() == "k,p,r\n5,0.123456789,-inf\n45,inf,NA\n"


def test_gzipped_csvs_of_equal_tables_are_equal_files(tmp_path):
    for name in ("one", "two"):
        files.write_csv(TABLE, tmp_path / name / "t.csv.gz", gzip=True)
    packed = (tmp_path / "one" / "t.csv.gz").read_bytes()
    assert packed == (tmp_path / "two" / "t.csv.gz").read_bytes()
    # gzip header: magic, method, flags (a file name follows), time 0, extra flags, OS, name
    assert packed[3] == 0x08 and packed[4:8] == b"\x00\x00\x00\x00"
    assert packed[10:16] == b"t.csv\x00"  # the file's own name, not its temporary one
    files.write_csv(TABLE, tmp_path / "t.csv")
    assert gzip.decompress(packed) == (tmp_path / "t.csv").read_bytes()
