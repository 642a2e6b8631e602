"""Type stubs of the footml._footml extension module (checked by mypy.stubtest)."""

from collections.abc import Callable
from typing import Any

__all__ = [
    "__version__",
    "analyze",
    "FootmlError",
    "ConfigError",
    "InputNotFoundError",
    "DetectionsError",
    "VideoError",
    "CheckpointError",
    "StageError",
    "CancelledError",
]

__version__: str

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

class StageError(FootmlError):
    """A pipeline stage failed (or panicked)."""

class CancelledError(FootmlError):
    """The run was cancelled."""

def analyze(
    config: dict[str, Any] | str,
    *,
    on_event: Callable[[dict[str, Any]], object] | None = None,
) -> dict[str, Any]:
    """Analyses a match and returns the report (see DESIGN.md, MatchReport) as a dict."""
