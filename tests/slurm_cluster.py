"""A real single-node SLURM cluster on this machine, for tests: munged, slurmctld and slurmd.

Needs root and Debian's packages munge, slurmctld, slurmd and slurm-client (`.ci/run` installs
them). Only the daemons this harness starts are stopped again, by the PIDs it recorded.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

# Slurm's clients inside a job (the plugin's nested srun drops SLURM_CONF) read this path.
SYSTEM_CONF = Path("/etc/slurm/slurm.conf")
BINARIES = ("munged", "slurmctld", "slurmd", "sbatch", "squeue", "sinfo")


def unavailable_reason() -> str | None:
    """Why a SLURM cluster cannot be started here, or None when it can."""
    missing = [
        b for b in BINARIES if shutil.which(b) is None and not Path(f"/usr/sbin/{b}").exists()
    ]
    if missing:
        return (
            f"SLURM is not installed (missing {', '.join(missing)}); "
            "apt-get install munge slurmctld slurmd slurm-client"
        )
    if os.geteuid() != 0:
        return "starting munged, slurmctld and slurmd needs root"
    if SYSTEM_CONF.exists():
        return f"{SYSTEM_CONF} exists already; this harness does not overwrite a site's config"
    if not Path("/etc/munge/munge.key").exists():
        return "/etc/munge/munge.key is missing (the munge package creates it)"
    return None


def _binary(name: str) -> str:
    return shutil.which(name) or f"/usr/sbin/{name}"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def slurm_conf(state: Path, host: str, cpus: int, memory_mb: int) -> str:
    """The slurm.conf of a one-node cluster whose node is this machine."""
    ctld_port, d_port = _free_port(), _free_port()
    return f"""\
ClusterName=randablate-test
SlurmctldHost={host}(127.0.0.1)
SlurmctldPort={ctld_port}
SlurmdPort={d_port}
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
StateSaveLocation={state}/ctld
SlurmdSpoolDir={state}/d
SlurmctldPidFile={state}/slurmctld.pid
SlurmdPidFile={state}/slurmd.pid
SlurmctldLogFile={state}/slurmctld.log
SlurmdLogFile={state}/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
DefMemPerCPU={memory_mb // cpus}
MinJobAge=300
ReturnToService=2
MpiDefault=none
NodeName={host} NodeAddr=127.0.0.1 CPUs={cpus} RealMemory={memory_mb} State=UNKNOWN
PartitionName=main Nodes={host} Default=YES MaxTime=INFINITE State=UP
"""


def _pid_in(path: Path) -> int | None:
    """The process id a daemon wrote to `path`; None until the file exists and holds one."""
    try:
        text = path.read_text().strip()
    except FileNotFoundError:
        return None
    return int(text) if text.isdigit() else None


def _wait_for(check, timeout: float, what: str, logs: list[Path]) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.5)
    tails = "\n".join(f"--- {p}\n{p.read_text()[-2000:]}" for p in logs if p.exists())
    raise RuntimeError(f"SLURM test cluster: {what} within {timeout:.0f} s\n{tails}")


@contextlib.contextmanager
def slurm_cluster(state: Path, memory_mb: int = 8000) -> Iterator[dict[str, str]]:
    """Start munged, slurmctld and slurmd (config in /etc/slurm); yield the clients' environment."""
    state.mkdir(parents=True, exist_ok=True)
    for sub in ("ctld", "d"):
        (state / sub).mkdir(exist_ok=True)
    # munged runs as the munge user, which cannot enter root's private temporary directories.
    munge = Path(tempfile.mkdtemp(prefix="randablate-munge-", dir="/run"))
    munge.chmod(0o755)
    shutil.chown(munge, "munge", "munge")
    host = socket.gethostname().split(".")[0]
    cpus = os.cpu_count() or 1
    conf = SYSTEM_CONF
    conf.parent.mkdir(parents=True, exist_ok=True)
    conf.write_text(slurm_conf(state, host, cpus, memory_mb))
    env = dict(os.environ)
    socket_path = munge / "munge.socket.2"
    pids: list[int] = []
    try:
        subprocess.run(
            [
                "runuser", "-u", "munge", "--", _binary("munged"),
                f"--socket={socket_path}",
                f"--pid-file={munge / 'munged.pid'}",
                f"--log-file={munge / 'munged.log'}",
                f"--seed-file={munge / 'munged.seed'}",
            ],
            check=True,
            capture_output=True,
        )  # fmt: skip
        _wait_for(
            lambda: _pid_in(munge / "munged.pid") is not None,
            20,
            "munged did not start",
            [munge / "munged.log"],
        )
        pids.append(_pid_in(munge / "munged.pid"))
        # Slurm's munge plugin finds the daemon's socket through this option of slurm.conf.
        with conf.open("a") as f:
            f.write(f"AuthInfo=socket={socket_path}\n")
        for daemon in ("slurmctld", "slurmd"):
            subprocess.run([_binary(daemon), "-f", str(conf)], env=env, check=True)
            pid_file = state / f"{daemon}.pid"
            _wait_for(
                lambda pid_file=pid_file: _pid_in(pid_file) is not None,
                20,
                f"{daemon} did not start",
                [state / f"{daemon}.log"],
            )
            pids.append(_pid_in(pid_file))

        def node_idle() -> bool:
            out = subprocess.run(
                ["sinfo", "-h", "-o", "%t"], env=env, capture_output=True, text=True, check=False
            ).stdout
            return out.strip() in ("idle", "mix")

        _wait_for(
            node_idle,
            60,
            "the node did not become idle",
            [state / "slurmctld.log", state / "slurmd.log"],
        )
        yield env
    finally:
        for pid in reversed(pids):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
        for pid in pids:
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline:
                try:
                    os.kill(pid, 0)
                except ProcessLookupError:
                    break
                time.sleep(0.2)
        shutil.rmtree(munge, ignore_errors=True)
        conf.unlink(missing_ok=True)
