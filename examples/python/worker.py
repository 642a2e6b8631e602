"""A Celery worker task calling footml (the original service's scale-out: Celery + Redis).

    pip install celery redis
    CELERY_BROKER_URL=redis://localhost:6379/0 CELERY_RESULT_BACKEND=redis://localhost:6379/1 \\
        celery --workdir examples/python -A worker worker --concurrency 2

Each task runs one pipeline; footml releases the GIL, so thread pools work as well as
processes. With the Redis checkpoint store (`REDIS_URL=redis://host:6379/2` in the workers'
environment, or `redis_url` in the config) a task retried on another worker resumes where the
failed one stopped, and the store's per-run lock makes a second worker given the same
pipeline while it runs fail with `footml.PipelineBusyError`: someone else has it, so the task
waits and tries again (for up to about as long as a match takes), after which it finds the
finished run's work or resumes a crashed one's. An unreachable Redis (another
`footml.CheckpointError`) is retried a few times with backoff. `checkpoint_dir` on shared
storage resumes too, without the lock. Only errors that can go away are retried. footml's
exceptions pickle, so callers get the real class back.
"""

from __future__ import annotations

import os
from typing import Any

from celery import Celery, Task

import footml

app = Celery(
    "footml",
    broker=os.environ.get("CELERY_BROKER_URL", "memory://"),
    backend=os.environ.get("CELERY_RESULT_BACKEND") or None,
)


# Seconds between tries while another worker runs the same pipeline, and how many tries: a
# 90-minute match analysed at a few times real time is well inside 60 x 60 s.
BUSY_RETRY_S = 60
BUSY_MAX_RETRIES = 60


@app.task(bind=True, autoretry_for=(footml.CheckpointError,), retry_backoff=True, max_retries=3)
def analyze_match(self: Task, config: dict[str, Any]) -> dict[str, Any]:
    """Analyses one match; publishes progress as task state when a result backend is set."""

    def progress(event: dict[str, Any]) -> None:
        if event["type"] == "stage_progress" and app.conf.result_backend and self.request.id:
            self.update_state(state="PROGRESS", meta=event)

    try:
        return footml.analyze(config, on_event=progress).to_dict()
    except footml.PipelineBusyError as busy:
        # Not a failure: the pipeline is running elsewhere. Wait a fixed while (not the short
        # backoff of a flaky store) and come back; `retry` raises, so this task ends here.
        raise self.retry(exc=busy, countdown=BUSY_RETRY_S, max_retries=BUSY_MAX_RETRIES) from busy
