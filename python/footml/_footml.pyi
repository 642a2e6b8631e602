"""Type stubs of the footml._footml extension module (checked by mypy.stubtest)."""

import os
from collections.abc import Callable, Iterator
from typing import Any, ClassVar, Protocol, final


import numpy as np
import numpy.typing as npt

__all__ = [
    "__version__",
    "analyze",
    "Report",
    "Pipeline",
    "PipelineBuilder",
    "EventIterator",
    "FootmlError",
    "ConfigError",
    "InputNotFoundError",
    "DetectionsError",
    "VideoError",
    "CheckpointError",
    "PipelineBusyError",
    "FileError",
    "StageError",
    "CancelledError",
    "ArrayError",
    "ReportError",
    "UsageError",
    "InvalidInputError",
    "LiveSession",
    "FrameResult",
]

__version__: str

_Config = dict[str, Any] | str
_StrPath = str | os.PathLike[str]

class FootmlError(Exception):
    """Base class of every error footml raises."""

class ConfigError(FootmlError, ValueError):
    """The configuration is invalid: not JSON, an unknown key, a bad value, no input."""

class InputNotFoundError(FootmlError, FileNotFoundError):
    """An input file (video, detections) does not exist."""

class DetectionsError(FootmlError, ValueError):
    """A detections or homography file could not be parsed."""

class VideoError(FootmlError):
    """A video could not be opened or decoded."""

class CheckpointError(FootmlError):
    """The checkpoint store failed."""

class PipelineBusyError(CheckpointError):
    """Another worker is running the same pipeline id now (it holds the Redis checkpoint store's lock). Transient: retry later, once that run ends or its lock expires. A CheckpointError, so handlers of store failures still catch it, but not a broken store."""

class FileError(FootmlError, OSError):
    """A file could not be read or written (an output directory, a report file)."""

class StageError(FootmlError):
    """A pipeline stage failed (or panicked)."""

class CancelledError(FootmlError):
    """The run was cancelled."""

class ArrayError(FootmlError, ValueError):
    """A NumPy argument has the wrong type, dtype, number of dimensions or shape."""

class ReportError(FootmlError, ValueError):
    """Text given to Report.from_json, or a file given to Report.read, is not a footml report (or a table file it names is not that table)."""

class UsageError(FootmlError, RuntimeError):
    """A call made in the wrong state (a pipeline run twice, events() after run(), a closed session)."""

class InvalidInputError(FootmlError, ValueError):
    """A pushed live frame has the wrong size, stride or timestamp."""

@final
class Report:
    """The report of a run (see DESIGN.md, MatchReport)."""

    TRACK_COLUMNS: ClassVar[list[str]]
    BALL_COLUMNS: ClassVar[list[str]]
    CALIBRATION_COLUMNS: ClassVar[list[str]]
    CALIBRATION_SOURCES: ClassVar[list[str]]
    @property
    def tracks(self) -> npt.NDArray[np.float64]: ...
    @property
    def ball(self) -> npt.NDArray[np.float64]: ...
    @property
    def calibration(self) -> npt.NDArray[np.float64]: ...
    @property
    def pipeline_id(self) -> str: ...
    @property
    def footml_version(self) -> str: ...
    @property
    def schema_version(self) -> int: ...
    @property
    def frames_lost(self) -> int: ...
    @property
    def events_dropped(self) -> int: ...
    @property
    def video(self) -> dict[str, Any]: ...
    @property
    def stages(self) -> list[dict[str, Any]]: ...
    @property
    def teams(self) -> list[dict[str, Any]]: ...
    @property
    def possession(self) -> list[int | None]: ...
    @property
    def ball_owner(self) -> list[int | None]: ...
    @property
    def possession_phases(self) -> list[dict[str, int]]: ...
    @property
    def events(self) -> list[dict[str, Any]]: ...
    @property
    def formations(self) -> list[dict[str, Any]]: ...
    @property
    def metrics(self) -> dict[str, Any]: ...
    @property
    def outputs(self) -> dict[str, str]: ...
    @property
    def extra(self) -> dict[str, Any]: ...
    @property
    def frame_extra(self) -> dict[str, list[dict[str, Any]]]: ...
    def to_dict(self) -> dict[str, Any]: ...
    def __getitem__(self, key: str, /) -> Any: ...
    def to_json(self, indent: int | None = None) -> str: ...
    @staticmethod
    def from_json(text: str) -> Report: ...
    @staticmethod
    def read(path: _StrPath) -> Report: ...
    def write(self, path: _StrPath, tables: str = "inline") -> None: ...
    def to_pandas(self, table: str = "tracks") -> Any: ...

@final
class EventIterator:
    """The events of one run, in order; ends when the run ends."""

    def __iter__(self) -> Iterator[dict[str, Any]]: ...
    def __next__(self) -> dict[str, Any]: ...

@final
class Pipeline:
    """A pipeline ready to run once."""

    @staticmethod
    def from_config(config: _Config) -> Pipeline: ...
    def events(self) -> EventIterator: ...
    def run(self) -> Report: ...
    def cancel(self) -> None: ...
    @property
    def cancelled(self) -> bool: ...

class _StreamStage(Protocol):
    name: str
    requires: list[str]
    provides: list[str]
    def process(self, records: list[dict[str, Any]]) -> list[dict[str, Any]] | None: ...

class _MatchStage(Protocol):
    name: str
    requires: list[str]
    provides: list[str]
    def run(self, match: dict[str, Any]) -> dict[str, Any] | None: ...

@final
class PipelineBuilder:
    """Puts a pipeline together step by step, mirroring Rust's PipelineBuilder."""

    def __new__(cls, config: _Config | None = None) -> PipelineBuilder: ...
    def video(self, path: _StrPath) -> PipelineBuilder: ...
    def detections(
        self, path: _StrPath, *, fps: float, frame_size: tuple[int, int], ball: _StrPath | None = None
    ) -> PipelineBuilder: ...
    def detections_array(
        self,
        players: npt.NDArray[np.floating[Any]],
        *,
        fps: float,
        frame_size: tuple[int, int],
        ball: npt.NDArray[np.floating[Any]] | None = None,
    ) -> PipelineBuilder: ...
    def stage(
        self, stage: str | _StreamStage | _MatchStage, config: _Config | None = None
    ) -> PipelineBuilder: ...
    def checkpoint_dir(self, path: _StrPath) -> PipelineBuilder: ...
    def output_dir(self, path: _StrPath) -> PipelineBuilder: ...
    def pipeline_id(self, pipeline_id: str) -> PipelineBuilder: ...
    def batch_size(self, frames: int) -> PipelineBuilder: ...
    def channel_capacity(self, batches: int) -> PipelineBuilder: ...
    def checkpoint_interval(self, frames: int) -> PipelineBuilder: ...
    def model_version(self, version: str) -> PipelineBuilder: ...
    def resume(self, resume: bool) -> PipelineBuilder: ...
    def keep_checkpoints(self, keep: bool) -> PipelineBuilder: ...
    def retry_policy(
        self,
        *,
        max_attempts: int | None = None,
        initial_backoff_ms: int | None = None,
        max_backoff_ms: int | None = None,
        multiplier: float | None = None,
        jitter: float | None = None,
    ) -> PipelineBuilder: ...
    def stage_retry_policy(
        self,
        stage: str,
        *,
        max_attempts: int | None = None,
        initial_backoff_ms: int | None = None,
        max_backoff_ms: int | None = None,
        multiplier: float | None = None,
        jitter: float | None = None,
    ) -> PipelineBuilder: ...
    def pace(self, speed: float) -> PipelineBuilder: ...
    def sink_grace(self, seconds: float) -> PipelineBuilder: ...
    def on_event(self, callback: Callable[[dict[str, Any]], object]) -> PipelineBuilder: ...
    def build(self) -> Pipeline: ...

@final
class FrameResult:
    """One pushed frame's results: tracks, their teams, ball and possession."""

    @property
    def index(self) -> int: ...
    @property
    def time_s(self) -> float: ...
    @property
    def tracks(self) -> npt.NDArray[np.float64]: ...
    @property
    def teams(self) -> list[int | None]: ...
    @property
    def roles(self) -> list[str | None]: ...
    def team_of(self, track_id: int) -> int | None: ...
    @property
    def ball(self) -> dict[str, Any] | None: ...
    @property
    def possession(self) -> dict[str, int | None] | None: ...

@final
class LiveSession:
    """A live feed: push(frame, timestamp) per frame, then finish() for the report."""

    COLUMNS: ClassVar[list[str]]
    DETECTION_COLUMNS: ClassVar[list[str]]
    def __new__(cls, config: _Config) -> LiveSession: ...
    def push(
        self, frame: npt.NDArray[np.uint8], timestamp: float, *, bgr: bool = False
    ) -> FrameResult: ...
    def push_yuv420(
        self, frame: npt.NDArray[np.uint8], timestamp: float, *, matrix: str = "bt709", full_range: bool = False
    ) -> FrameResult: ...
    def push_detections(
        self,
        players: npt.NDArray[np.floating[Any]],
        timestamp: float,
        *,
        ball: npt.NDArray[np.floating[Any]] | None = None,
    ) -> FrameResult: ...
    def finish(self) -> Report: ...

def analyze(
    source: _StrPath | _Config,
    config: _Config | None = None,
    on_event: Callable[[dict[str, Any]], object] | None = None,
) -> Report:
    """Analyses a match and returns its Report."""
