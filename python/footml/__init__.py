"""footml: football match video analysis.

    import footml

    report = footml.analyze({"detections_path": "det.txt", "fps": 25, "frame_size": [1920, 1080]})
    print(len(report["tracks"]), "tracks")

The engine is Rust (footml-core); this package is a thin binding over it.
"""

from footml._footml import (
    CancelledError,
    CheckpointError,
    ConfigError,
    DetectionsError,
    FootmlError,
    InputNotFoundError,
    StageError,
    VideoError,
    __version__,
    analyze,
)

__all__ = [
    "CancelledError",
    "CheckpointError",
    "ConfigError",
    "DetectionsError",
    "FootmlError",
    "InputNotFoundError",
    "StageError",
    "VideoError",
    "__version__",
    "analyze",
]
