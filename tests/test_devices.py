"""GPU choice for pipeline jobs, with fake device counts (no GPU needed)."""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import subprocess
import sys
import textwrap

import pytest

from randablate.devices import acquire_device, visible_ids


def fake(count):
    return lambda: count


def test_no_cuda_gives_cpu(tmp_path, caplog):
    caplog.set_level(logging.INFO)
    log = logging.getLogger("test-devices")
    with acquire_device(tmp_path / "locks", log=log, device_count=fake(0), env={}) as device:
        assert device == "cpu"
    assert "device: cpu" in caplog.text
    assert not (tmp_path / "locks").exists()


def test_scheduler_given_single_device_is_used_as_is(tmp_path):
    env = {"CUDA_VISIBLE_DEVICES": "3"}
    with acquire_device(tmp_path, device_count=fake(1), env=env) as device:
        assert device == "cuda:0"
    assert list(tmp_path.iterdir()) == []  # no lock taken: the scheduler owns the choice


def test_concurrent_jobs_get_distinct_devices_and_release_them(tmp_path):
    with contextlib.ExitStack() as stack:
        got = [
            stack.enter_context(acquire_device(tmp_path, device_count=fake(3), env={}))
            for _ in range(3)
        ]
        assert got == ["cuda:0", "cuda:1", "cuda:2"]
        assert sorted(p.name for p in tmp_path.iterdir()) == [
            "gpu-0.lock",
            "gpu-1.lock",
            "gpu-2.lock",
        ]
    # all released: the first device is free again
    with acquire_device(tmp_path, device_count=fake(3), env={}) as device:
        assert device == "cuda:0"


def test_release_happens_when_the_job_fails(tmp_path):
    with pytest.raises(RuntimeError), acquire_device(tmp_path, device_count=fake(2), env={}):
        raise RuntimeError("job failed")
    with acquire_device(tmp_path, device_count=fake(2), env={}) as device:
        assert device == "cuda:0"


def test_lock_held_by_another_process_is_skipped(tmp_path):
    fd = os.open(tmp_path / "gpu-0.lock", os.O_RDWR | os.O_CREAT)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        with acquire_device(tmp_path, device_count=fake(2), env={}) as device:
            assert device == "cuda:1"
    finally:
        os.close(fd)


def test_waits_then_times_out_when_all_devices_are_taken(tmp_path):
    with (
        acquire_device(tmp_path, device_count=fake(1), env={}) as first,
        pytest.raises(TimeoutError, match="no free GPU"),
        acquire_device(tmp_path, device_count=fake(1), env={}, timeout_s=0.2, poll_s=0.05),
    ):
        pass
    assert first == "cuda:0"


def test_multi_device_visible_list_locks_physical_ids(tmp_path):
    env = {"CUDA_VISIBLE_DEVICES": "2,5"}
    assert visible_ids(env, 2) == ["2", "5"]
    with (
        acquire_device(tmp_path, device_count=fake(2), env=env) as a,
        acquire_device(tmp_path, device_count=fake(2), env=env) as b,
    ):
        assert (a, b) == ("cuda:0", "cuda:1")
        assert sorted(p.name for p in tmp_path.iterdir()) == ["gpu-2.lock", "gpu-5.lock"]


def test_two_processes_never_share_a_device(tmp_path):
    """Two processes each hold a device at the same time: they get different ones."""
    script = textwrap.dedent(
        f"""
        import sys, time
        from randablate.devices import acquire_device
        with acquire_device({str(tmp_path)!r}, device_count=lambda: 2, env={{}}) as device:
            print(device, flush=True)
            sys.stdin.readline()
        """
    )
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", script],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    try:
        devices = sorted(p.stdout.readline().strip() for p in procs)
    finally:
        for p in procs:
            p.communicate("\n", timeout=30)
    assert devices == ["cuda:0", "cuda:1"]


def test_jobs_per_gpu_share_each_device_through_slots(tmp_path):
    # 2 devices x 3 jobs each: the first slot of every device before the second of any
    with contextlib.ExitStack() as stack:
        got = [
            stack.enter_context(
                acquire_device(tmp_path, device_count=fake(2), env={}, jobs_per_gpu=3)
            )
            for _ in range(6)
        ]
        assert got == ["cuda:0", "cuda:1"] * 3
        assert sorted(p.name for p in tmp_path.iterdir()) == [
            "gpu-0.1.lock",
            "gpu-0.2.lock",
            "gpu-0.lock",
            "gpu-1.1.lock",
            "gpu-1.2.lock",
            "gpu-1.lock",
        ]
        # a seventh job finds every slot taken and waits, here until its timeout
        with (
            pytest.raises(TimeoutError, match="x 3"),
            acquire_device(
                tmp_path, device_count=fake(2), env={}, jobs_per_gpu=3, timeout_s=0, poll_s=0
            ),
        ):
            pass
    with acquire_device(tmp_path, device_count=fake(2), env={}, jobs_per_gpu=3) as device:
        assert device == "cuda:0"


def test_one_job_per_gpu_keeps_the_lock_files_of_before(tmp_path):
    with contextlib.ExitStack() as stack:
        for _ in range(2):
            stack.enter_context(acquire_device(tmp_path, device_count=fake(2), env={}))
        with (
            pytest.raises(TimeoutError),
            acquire_device(tmp_path, device_count=fake(2), env={}, timeout_s=0, poll_s=0),
        ):
            pass
    assert sorted(p.name for p in tmp_path.iterdir()) == ["gpu-0.lock", "gpu-1.lock"]
    with (
        pytest.raises(ValueError, match="jobs_per_gpu"),
        acquire_device(tmp_path, device_count=fake(1), env={}, jobs_per_gpu=0),
    ):
        pass
