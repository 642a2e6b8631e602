//! Pictures of a match report: heatmaps, a radar (top-down pitch) view, formation diagrams
//! and an annotated copy of the video (`footml render-report`).
//!
//! Everything is drawn from a [`MatchReport`](crate::MatchReport) (and, for the annotated video, the analysed
//! video), so the pictures can be made again at any time without re-running the analysis:
//!
//! * `heatmaps/player_<id>.png` — where each player was, from the metrics heatmap grid, over a
//!   top-down pitch; `heatmaps/team_<t>.png` — the same summed over a team's players (only when
//!   teams are known: a team is never guessed).
//! * `radar.png` — the top-down positions of every player (team colour, id) and the ball in the
//!   best-covered frame; `radar.mp4` — the same for every frame (needs the `sim` feature's
//!   encoder).
//! * `formations/team<t>_<from>-<to>.png` — per formation window, each player's mean position
//!   in the window with the formation string, its confidence and the way the team attacked
//!   (the formation reads from its own goal forward).
//! * `annotated.mp4` — the video with boxes in team colours and track ids, the ball with a
//!   short trail and a possession banner (needs the video). The banner (also on the radar)
//!   names the team of the possession phase, the team possession the report's possession %
//!   counts, and the player on the ball when one of that team has it.
//!
//! Text is drawn with a public-domain 8×8 bitmap font, so no font files are needed.

pub mod canvas;
pub mod pictures;
#[cfg(feature = "sim")]
mod video;

use std::path::PathBuf;

pub use pictures::{RenderOptions, Rendered, render_report};

/// Why a picture could not be made.
#[derive(Debug, thiserror::Error)]
pub enum VizError {
    /// A picture size of zero or too large.
    #[error("cannot make a {width}×{height} picture")]
    Size {
        /// Width asked for.
        width: u32,
        /// Height asked for.
        height: u32,
    },
    /// PNG encoding failed.
    #[error("cannot encode {path} as PNG: {message}")]
    Png {
        /// File.
        path: PathBuf,
        /// Encoder message.
        message: String,
    },
    /// A file could not be written.
    #[error("cannot write {path}: {message}")]
    Write {
        /// File.
        path: PathBuf,
        /// Why.
        message: String,
    },
    /// The report cannot be drawn (e.g. nothing in it has pitch coordinates).
    #[error("{0}")]
    Report(String),
    /// The video for the annotated copy could not be read or written.
    #[error("{0}")]
    Video(String),
}
