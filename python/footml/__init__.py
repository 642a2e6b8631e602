"""footml: football match video analysis.

    import footml

    report = footml.analyze("match.mp4", {"stage_configs": {"player_detection": {"model_path": "yolov8n.onnx"}}})
    print(report.tracks.shape, report.TRACK_COLUMNS)

The engine is Rust (footml-core); this package is a thin binding over it.
"""

from footml._footml import (
    ArrayError,
    CancelledError,
    CheckpointError,
    ConfigError,
    DetectionsError,
    EventIterator,
    FileError,
    FootmlError,
    FrameResult,
    InputNotFoundError,
    InvalidInputError,
    LiveSession,
    Pipeline,
    PipelineBuilder,
    PipelineBusyError,
    Report,
    ReportError,
    StageError,
    UsageError,
    VideoError,
    __version__,
    analyze,
)

__all__ = [
    "ArrayError",
    "CancelledError",
    "CheckpointError",
    "ConfigError",
    "DetectionsError",
    "EventIterator",
    "FileError",
    "FootmlError",
    "FrameResult",
    "InputNotFoundError",
    "InvalidInputError",
    "LiveSession",
    "Pipeline",
    "PipelineBuilder",
    "PipelineBusyError",
    "Report",
    "ReportError",
    "StageError",
    "UsageError",
    "VideoError",
    "__version__",
    "analyze",
]
