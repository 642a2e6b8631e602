"""A Celery worker task calling footml (the original service's scale-out: Celery + Redis).

    pip install celery redis
    CELERY_BROKER_URL=redis://localhost:6379/0 CELERY_RESULT_BACKEND=redis://localhost:6379/1 \\
        celery --workdir examples/python -A worker worker --concurrency 2

Each task runs one pipeline; footml releases the GIL, so thread pools work as well as
processes. With the Redis checkpoint store (`REDIS_URL=redis://host:6379/2` in the workers'
environment, or `redis_url` in the config) a task retried on another worker resumes where the
failed one stopped, and the store's per-run lock makes a second worker given the same
pipeline while it runs fail with `footml.CheckpointError`, which is retried with backoff
here (as is an unreachable Redis); `checkpoint_dir` on shared storage resumes too, without
the lock. Only errors that can go away are retried. footml's exceptions pickle, so callers
get the real class back.
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


@app.task(bind=True, autoretry_for=(footml.CheckpointError,), retry_backoff=True, max_retries=3)
def analyze_match(self: Task, config: dict[str, Any]) -> dict[str, Any]:
    """Analyses one match; publishes progress as task state when a result backend is set."""

    def progress(event: dict[str, Any]) -> None:
        if event["type"] == "stage_progress" and app.conf.result_backend and self.request.id:
            self.update_state(state="PROGRESS", meta=event)

    return footml.analyze(config, on_event=progress).to_dict()
