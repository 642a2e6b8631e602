"""A FastAPI service around footml: POST /analyze returns the report; the /ws/analyze
WebSocket takes a config and streams the pipeline's events, then the report.

    pip install fastapi uvicorn
    uvicorn service:app --app-dir examples/python

The run happens on a worker thread (footml releases the GIL), so the event loop stays free
to forward progress while Rust works.
"""

from __future__ import annotations

import asyncio
import threading
from typing import Any

from fastapi import FastAPI, HTTPException, WebSocket

import footml

app = FastAPI(title="footml")


def error_body(e: footml.FootmlError) -> dict[str, Any]:
    return {"type": "error", "error_type": type(e).__name__, "message": str(e)}


@app.post("/analyze")
async def analyze(config: dict[str, Any]) -> dict[str, Any]:
    """Runs the config's pipeline and returns report.json's content."""
    try:
        report = await asyncio.get_running_loop().run_in_executor(None, footml.analyze, config)
    except (footml.ConfigError, footml.InputNotFoundError, footml.DetectionsError) as e:
        raise HTTPException(status_code=422, detail=error_body(e)) from e
    return report.to_dict()


@app.websocket("/ws/analyze")
async def analyze_ws(ws: WebSocket) -> None:
    """Receives a config (JSON), sends each pipeline event, then `{"type": "report", ...}`
    or `{"type": "error", ...}`, and closes."""
    await ws.accept()
    config = await ws.receive_json()
    loop = asyncio.get_running_loop()
    try:
        pipeline = footml.Pipeline.from_config(config)
    except footml.FootmlError as e:
        await ws.send_json(error_body(e))
        await ws.close()
        return
    queue: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue()
    events = pipeline.events()

    def forward() -> None:
        for event in events:  # ends when the run ends
            loop.call_soon_threadsafe(queue.put_nowait, event)
        loop.call_soon_threadsafe(queue.put_nowait, None)

    threading.Thread(target=forward, daemon=True).start()
    run = loop.run_in_executor(None, pipeline.run)
    while (event := await queue.get()) is not None:
        await ws.send_json(event)
    try:
        report = await run
        await ws.send_json({"type": "report", "report": report.to_dict()})
    except footml.FootmlError as e:
        await ws.send_json(error_body(e))
    await ws.close()
