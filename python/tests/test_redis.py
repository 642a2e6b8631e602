"""The Redis checkpoint store from Python: a cancelled analysis resumes from Redis.

Starts its own `redis-server` (Debian package, installed by scripts/setup.sh) on a free
loopback port, like the Rust tests; never skipped.
"""

from __future__ import annotations

import pathlib
import random
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

import footml

FIXTURE = pathlib.Path(__file__).resolve().parents[2] / "tests" / "fixtures" / "skillcorner"


def _ping(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5) as s:
            s.settimeout(1.0)
            s.sendall(b"PING\r\n")
            return s.recv(16).startswith(b"+PONG")
    except OSError:
        return False


def _command(port: int, *args: str) -> bytes:
    """One command in RESP, the raw reply (enough for EXISTS/DBSIZE's integers)."""
    request = f"*{len(args)}\r\n".encode() + b"".join(f"${len(a)}\r\n{a}\r\n".encode() for a in args)
    with socket.create_connection(("127.0.0.1", port), timeout=2.0) as s:
        s.sendall(request)
        return s.recv(4096)


@pytest.fixture
def redis_port(tmp_path: pathlib.Path) -> Iterator[int]:
    """A redis-server of this test's own, killed at the end. Ports are drawn below the
    kernel's ephemeral range so that no outgoing connection holds one."""
    for _ in range(8):
        port = random.randrange(20_000, 32_000)
        server = subprocess.Popen(
            ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", str(tmp_path), "--logfile", str(tmp_path / "redis.log")],
            stdout=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while server.poll() is None and time.monotonic() < deadline and not _ping(port):
            time.sleep(0.02)
        if server.poll() is None and _ping(port):
            try:
                yield port
            finally:
                server.kill()
                server.wait()
            return
        server.kill()
        server.wait()
    raise RuntimeError(f"redis-server did not start: {(tmp_path / 'redis.log').read_text()}")


def _config(**extra: Any) -> dict[str, Any]:
    return {
        "detections_path": str(FIXTURE / "det.txt"),
        "ball_detections_path": str(FIXTURE / "ball_det.txt"),
        "homography_path": str(FIXTURE / "homography.json"),
        "fps": 25,
        "frame_size": [1920, 1080],
        "pipeline_id": "py-redis-resume",
        "checkpoint_interval_frames": 50,
        "stage_configs": {"ball_tracking": {"min_ball_radius": 0.5, "max_ball_radius": 10.0}},
        **extra,
    }


def _comparable(report: footml.Report) -> dict[str, Any]:
    d = report.to_dict()
    for stage in d["stages"]:
        stage["duration_s"] = 0
    return d


def test_a_cancelled_analysis_resumes_from_redis(redis_port: int) -> None:
    clean = footml.analyze(_config())
    config = _config(redis_url=f"redis://127.0.0.1:{redis_port}/0")

    # The first worker reads at 250 frames/s (4 s for the 1000 frames) and is cancelled at
    # its second saved chunk (0.4 s in), as a worker that dies mid-run.
    pipeline = footml.PipelineBuilder(config).pace(10.0).build()
    saved: list[dict[str, Any]] = []

    def cancel_after_two_chunks(event: dict[str, Any]) -> None:
        if event["type"] == "checkpoint_saved":
            saved.append(event)
            if len(saved) == 2:
                pipeline.cancel()

    events_in = pipeline.events()

    def drain() -> None:
        for event in events_in:
            cancel_after_two_chunks(event)

    with pytest.raises(footml.CancelledError):
        # Events are read by a thread while the run goes on in this one.
        t = threading.Thread(target=drain)
        t.start()
        try:
            pipeline.run()
        finally:
            t.join(10)
    assert len(saved) >= 2
    # The chunks are in Redis, and the cancelled run released its lock.
    assert _command(redis_port, "EXISTS", "footml:{py-redis-resume}:ckpt:stream:1") == b":1\r\n"
    assert _command(redis_port, "EXISTS", "footml:{py-redis-resume}:lock") == b":0\r\n"

    # Another worker (a fresh call: a new store object and connection) resumes.
    events: list[dict[str, Any]] = []
    resumed = footml.analyze(config, on_event=events.append)
    assert _comparable(resumed) == _comparable(clean)
    started = [e["from_frame"] for e in events if e["type"] == "stage_started" and e.get("stage") == "player_tracking"]
    assert len(started) == 1 and started[0] >= 100 and started[0] % 50 == 0, started
    # Done: the run's checkpoints, index and lock are gone from the server.
    assert _command(redis_port, "DBSIZE") == b":0\r\n"


def test_a_second_worker_on_a_running_pipeline_gets_pipeline_busy_error(redis_port: int) -> None:
    """While one worker runs a pipeline with the Redis store, a second worker given the same
    pipeline id is refused with PipelineBusyError (a transient CheckpointError naming the
    id), not a generic checkpoint failure; another id runs; once the first run ends, the
    id runs again."""
    config = _config(redis_url=f"redis://127.0.0.1:{redis_port}/0", pipeline_id="py-redis-busy")
    # 250 frames/s: the first worker holds the lock for ~4 s unless cancelled.
    first = footml.PipelineBuilder(config).pace(10.0).build()
    saved = threading.Event()
    events_in = first.events()

    def drain() -> None:
        for event in events_in:
            if event["type"] == "checkpoint_saved":
                saved.set()

    drainer = threading.Thread(target=drain)
    drainer.start()
    outcome: list[BaseException] = []

    def run_first() -> None:
        try:
            first.run()
        except BaseException as e:  # noqa: BLE001 - handed to the test thread
            outcome.append(e)

    runner = threading.Thread(target=run_first)
    runner.start()
    try:
        # A saved chunk: the first worker has taken the lock and is working.
        assert saved.wait(20), "the first worker saved no checkpoint"
        assert _command(redis_port, "EXISTS", "footml:{py-redis-busy}:lock") == b":1\r\n"
        with pytest.raises(footml.PipelineBusyError, match="py-redis-busy") as info:
            footml.analyze(config)
        assert isinstance(info.value, footml.CheckpointError) and isinstance(info.value, footml.FootmlError)
        # Another pipeline id is not blocked by it.
        other = footml.analyze(_config(redis_url=config["redis_url"], pipeline_id="py-redis-other"))
        assert other.pipeline_id == "py-redis-other" and len(other.tracks) > 0
    finally:
        first.cancel()
        runner.join(20)
        drainer.join(20)
    assert len(outcome) == 1 and isinstance(outcome[0], footml.CancelledError), outcome
    # The cancelled run released the lock: the id runs now.
    assert footml.analyze(config).pipeline_id == "py-redis-busy"


def test_a_bad_redis_url_is_a_config_error() -> None:
    with pytest.raises(footml.ConfigError, match="redis_url"):
        footml.analyze(_config(redis_url="http://127.0.0.1/"))
