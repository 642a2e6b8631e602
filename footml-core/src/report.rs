//! The match report (`report.json`), its per-frame tables, and the MOTChallenge tracks file.
//!
//! A report is written either whole into `report.json` ([`ReportTables::Inline`]) or with its
//! per-frame rows (track boxes, ball, possession, calibration, user per-frame artifacts) in
//! Parquet files beside it ([`ReportTables::Parquet`], the `parquet` feature), which
//! `report.json` names in `tables`; the file layout is in the `tables` module's docs and in
//! the README. [`MatchReport::read_json`] reads both into the same report.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::analysis::{FormationWindow, MatchEvent, PossessionPhase, Role, Team};
pub use crate::config::ReportTables;
use crate::types::{BallState, Calibration, MatchData, VideoInfo};
use crate::{Error, Result};

#[cfg(feature = "parquet")]
mod columnar;
#[cfg(feature = "parquet")]
#[cfg_attr(docsrs, doc(cfg(feature = "parquet")))]
pub mod tables;

/// Version of the report layout; bumped on changes. 2 added `tables` (per-frame rows in
/// files beside `report.json`); a version-1 report reads as a version-2 one without tables.
pub const SCHEMA_VERSION: u32 = 2;

/// Why a report's tables could not be written or read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReportError {
    /// A table file `report.json` names does not exist.
    #[error("report table {} does not exist", path.display())]
    TableNotFound {
        /// The missing file.
        path: PathBuf,
    },
    /// A table file is no Parquet file, has other columns than its table, or has rows that
    /// contradict `report.json` (a track it does not list).
    #[error("report table {}: {message}", path.display())]
    BadTable {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        message: String,
    },
    /// `report.json`'s `tables` section is invalid: an unknown table, or a table whose rows
    /// are also inline.
    #[error("{}: {message}", path.display())]
    BadReport {
        /// The `report.json`.
        path: PathBuf,
        /// What is wrong with it.
        message: String,
    },
    /// The report cannot be written as tables (e.g. `possession` and `ball_owner` of
    /// different lengths).
    #[error("cannot write the report tables: {0}")]
    Unwritable(String),
    /// Tables in Parquet files need the `parquet` cargo feature, which this build lacks.
    #[error("report tables in Parquet files need footml built with the `parquet` feature")]
    ParquetUnavailable,
}

/// Everything footml found out about a match. See DESIGN.md for the contract.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MatchReport {
    /// Report layout version ([`SCHEMA_VERSION`]).
    pub schema_version: u32,
    /// footml version that wrote it.
    pub footml_version: String,
    /// The run.
    pub pipeline_id: String,
    /// Model version label from the config, if any.
    pub model_version: Option<String>,
    /// The input.
    pub video: VideoInfo,
    /// Frames the input should have had but that could not be decoded.
    pub frames_lost: u64,
    /// Each stage's outcome.
    pub stages: Vec<StageReport>,
    /// Player tracks.
    pub tracks: Vec<TrackReport>,
    /// Ball position per frame where the ball tracker has one (tracked, occluded or
    /// interpolated; frames where the ball is lost or was never found are absent).
    pub ball: Vec<BallFrame>,
    /// Teams (filled by team classification).
    pub teams: Vec<Team>,
    /// Team in possession per frame, from frame 0: the ball owner's team, kept while its ball
    /// is loose for up to `max_loose_s` (filled by event detection; empty when event
    /// detection did not run). `possession_phases` is the team possession as providers count
    /// it.
    pub possession: Vec<Option<u32>>,
    /// Player track controlling the ball per frame, parallel to `possession` (`None` while
    /// the ball is loose, in flight or out; empty when event detection did not run).
    #[serde(default)]
    pub ball_owner: Vec<Option<u64>>,
    /// Team possession phases (filled by event detection): the team keeps possession through
    /// loose balls and brief contests, as data providers count it.
    #[serde(default)]
    pub possession_phases: Vec<PossessionPhase>,
    /// The image → pitch homography of every calibrated frame, in frame order, with where it
    /// came from (filled by pitch calibration; frames it could not calibrate are absent).
    /// Absent from reports written before it was added, which read as no calibration.
    #[serde(default)]
    pub calibration: Vec<CalibrationFrame>,
    /// Events (filled by event detection).
    pub events: Vec<MatchEvent>,
    /// Formations (filled by formation analysis).
    pub formations: Vec<FormationWindow>,
    /// Physical metrics (filled by the metrics stage).
    pub metrics: Metrics,
    /// Files written beside the report (e.g. extracted audio), by kind.
    pub outputs: BTreeMap<String, String>,
    /// Match-level artifacts of user stages.
    pub extra: BTreeMap<String, serde_json::Value>,
    /// Per-frame artifacts of user streaming stages (each frame's `FrameRecord.extra`), by
    /// artifact name: one row per frame that has the artifact, in frame order. Absent when no
    /// stage wrote any (and from reports written before it was added).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub frame_extra: BTreeMap<String, Vec<FrameExtra>>,
    /// Pipeline events that could not be delivered to a sink.
    pub events_dropped: u64,
    /// The files beside `report.json` that hold its per-frame tables, by table (`tracks`,
    /// `ball`, `possession`, `calibration`, `frame_extra`), relative to `report.json`'s
    /// directory. Written by [`MatchReport::write`] with [`ReportTables::Parquet`]; empty in
    /// memory, because [`MatchReport::read_json`] loads the tables into the sections above
    /// (it is non-empty only in a `report.json` parsed with serde directly).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub tables: BTreeMap<String, String>,
}

/// Metrics section of the report (written by [`crate::stages::metrics::PhysicalMetrics`]).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Metrics {
    /// Per player track.
    pub players: Vec<PlayerMetrics>,
    /// Per team; empty while tracks carry no team (teams are never guessed).
    pub teams: Vec<TeamMetrics>,
}

/// Physical metrics of one player track, from its smoothed pitch positions.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlayerMetrics {
    /// The track.
    pub track_id: u64,
    /// Distance covered in metres.
    pub distance_m: f64,
    /// Time on the pitch in seconds (spans of the track's path segments).
    pub time_s: f64,
    /// `distance_m / time_s`, km/h (0 when `time_s` is 0).
    pub avg_speed_kmh: f64,
    /// Highest speed averaged over the configured window (0.5 s by default), km/h.
    pub max_speed_kmh: f64,
    /// Runs above the sprint speed lasting at least the sprint duration (counted at onset).
    pub sprints: u32,
    /// Steps faster than physically possible (tracking glitches), left out of the distance.
    pub glitch_steps: u32,
    /// Where the player was.
    pub heatmap: Heatmap,
}

/// Occupancy grid over the pitch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Heatmap {
    /// Cells along the pitch length (x).
    pub cols: u32,
    /// Cells along the pitch width (y).
    pub rows: u32,
    /// Cell size `[along x, along y]` in metres.
    pub cell_m: [f64; 2],
    /// Frames spent in each cell (divide by the report's `video.fps` for seconds),
    /// row-major: index `row * cols + col`; column 0 at x = −length/2, row 0 at y = −width/2.
    /// Positions beyond the pitch count in the nearest edge cell, so the counts sum to the
    /// frames on the pitch.
    pub counts: Vec<u32>,
}

/// Metrics of one team.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TeamMetrics {
    /// Team id.
    pub team: u32,
    /// Share of the frames in a team's possession phase that are this team's, in percent
    /// (needs event detection).
    pub possession_pct: Option<f64>,
    /// Sum of the team's player distances, metres.
    pub distance_m: f64,
}

/// How one stage went.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StageReport {
    /// Stage name.
    pub name: String,
    /// `"completed"`.
    pub status: String,
    /// Seconds the stage ran in the run that finished the report (0 when everything came
    /// from checkpoints).
    pub duration_s: f64,
    /// Frames the stage has processed for this report, checkpointed ones included.
    pub frames: u64,
    /// Most attempts any unit of the stage's work needed (1 = no retry).
    pub attempts: u32,
}

/// One player track.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrackReport {
    /// Stable id, from 1.
    pub track_id: u64,
    /// Team id, when known.
    pub team: Option<u32>,
    /// Role (`player`, `goalkeeper`, `referee`), when known.
    pub role: Option<Role>,
    /// The frames the track was seen in.
    pub frames: Vec<TrackFrame>,
}

/// A track in one frame.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrackFrame {
    /// Frame index from 0.
    pub frame: u64,
    /// `[x, y, w, h]` in pixels.
    pub bbox: [f32; 4],
    /// Detection score.
    pub score: f32,
    /// Feet position on the pitch in metres, when the frame is calibrated.
    pub pitch: Option<[f64; 2]>,
}

/// One frame's value of a user stage's per-frame artifact.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FrameExtra {
    /// Frame index from 0.
    pub frame: u64,
    /// What the stage wrote for the frame.
    pub value: serde_json::Value,
}

/// The ball in one frame.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BallFrame {
    /// Frame index from 0.
    pub frame: u64,
    /// Centre, pixels.
    pub x: f32,
    /// Centre, pixels.
    pub y: f32,
    /// The centre mapped onto the pitch in metres, when the frame is calibrated. This is the
    /// ball's ground position only while the ball is on (or near) the ground: the homography
    /// maps the image onto the pitch plane.
    pub pitch: Option<[f64; 2]>,
    /// `tracked` or `occluded`.
    pub state: BallState,
    /// Filled in across a gap by ball smoothing.
    pub interpolated: bool,
}

/// The calibration of one frame: its homography and how it was obtained.
///
/// In JSON the source is flattened into the row: `{"frame": 3, "image_to_pitch": [[…], […],
/// […]], "source": "keypoints", "keypoints": 12, "inliers": 11, "rms_error_m": 0.4}`, or
/// `"source": "given"`, or `"source": "reused", "from_frame": 1`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "CalibrationRow")]
pub struct CalibrationFrame {
    /// Frame index from 0.
    pub frame: u64,
    /// Image → pitch homography, row-major: pixel `(u, v, 1)` to pitch metres `(x, y, 1)`,
    /// origin at the centre spot (the homography file's layout).
    pub image_to_pitch: [[f64; 3]; 3],
    /// Where it came from; `None` when a user stage set the homography without saying.
    #[serde(flatten)]
    pub calibration: Option<Calibration>,
}

/// How a [`CalibrationFrame`] is read: serde's `flatten` of an `Option` reads a source it
/// does not know as `None`, which would drop a misspelt source silently; here the keys
/// beside `frame` and `image_to_pitch` are a source, or nothing.
#[derive(Deserialize)]
struct CalibrationRow {
    frame: u64,
    image_to_pitch: [[f64; 3]; 3],
    #[serde(flatten)]
    source: serde_json::Map<String, serde_json::Value>,
}

impl TryFrom<CalibrationRow> for CalibrationFrame {
    type Error = serde_json::Error;

    fn try_from(row: CalibrationRow) -> std::result::Result<Self, Self::Error> {
        let calibration = if row.source.is_empty() {
            None
        } else {
            Some(serde_json::from_value(serde_json::Value::Object(row.source))?)
        };
        Ok(CalibrationFrame { frame: row.frame, image_to_pitch: row.image_to_pitch, calibration })
    }
}

/// Maps pixel (u, v) through a row-major homography; `None` at the horizon line.
pub fn apply_homography(h: &[[f64; 3]; 3], u: f64, v: f64) -> Option<[f64; 2]> {
    let w = h[2][0] * u + h[2][1] * v + h[2][2];
    if w.abs() < 1e-12 {
        return None;
    }
    Some([(h[0][0] * u + h[0][1] * v + h[0][2]) / w, (h[1][0] * u + h[1][1] * v + h[1][2]) / w])
}

impl MatchReport {
    /// Assembles the report from the match data.
    pub(crate) fn from_match(
        data: &MatchData,
        pipeline_id: &str,
        model_version: Option<String>,
        stages: Vec<StageReport>,
        frames_lost: u64,
        outputs: BTreeMap<String, String>,
    ) -> Self {
        let mut tracks: BTreeMap<u64, TrackReport> = BTreeMap::new();
        for rec in &data.frames {
            for t in rec.tracks.iter().flatten() {
                let (fu, fv) = t.bbox.foot();
                let pitch = rec.homography.as_ref().and_then(|h| apply_homography(h, fu as f64, fv as f64));
                tracks
                    .entry(t.track_id)
                    .or_insert_with(|| {
                        let entry = data.teams.as_ref().and_then(|a| a.track(t.track_id));
                        TrackReport {
                            track_id: t.track_id,
                            team: entry.and_then(|e| e.team),
                            role: entry.map(|e| e.role),
                            frames: vec![],
                        }
                    })
                    .frames
                    .push(TrackFrame {
                        frame: rec.index,
                        bbox: [t.bbox.x, t.bbox.y, t.bbox.w, t.bbox.h],
                        score: t.score,
                        pitch,
                    });
            }
        }
        let ball = data
            .frames
            .iter()
            .filter_map(|rec| {
                let b = rec.ball.filter(|b| b.has_position())?;
                let pitch = rec.homography.as_ref().and_then(|h| apply_homography(h, b.x as f64, b.y as f64));
                Some(BallFrame {
                    frame: rec.index,
                    x: b.x,
                    y: b.y,
                    pitch,
                    state: b.state,
                    interpolated: b.interpolated,
                })
            })
            .collect();
        let calibration = data
            .frames
            .iter()
            .filter_map(|rec| {
                Some(CalibrationFrame {
                    frame: rec.index,
                    image_to_pitch: rec.homography?,
                    calibration: rec.calibration,
                })
            })
            .collect();
        let mut frame_extra: BTreeMap<String, Vec<FrameExtra>> = BTreeMap::new();
        for rec in &data.frames {
            for (name, value) in &rec.extra {
                frame_extra
                    .entry(name.clone())
                    .or_default()
                    .push(FrameExtra { frame: rec.index, value: value.clone() });
            }
        }
        MatchReport {
            schema_version: SCHEMA_VERSION,
            footml_version: crate::VERSION.to_string(),
            pipeline_id: pipeline_id.to_string(),
            model_version,
            video: data.video.clone(),
            frames_lost,
            stages,
            tracks: tracks.into_values().collect(),
            ball,
            teams: data.teams.as_ref().map(|a| a.teams.clone()).unwrap_or_default(),
            possession: data.possession.iter().map(|p| p.team).collect(),
            ball_owner: data.possession.iter().map(|p| p.track_id).collect(),
            possession_phases: data.possession_phases.clone(),
            calibration,
            events: data.events.clone(),
            formations: data.formations.clone(),
            metrics: data
                .extra
                .get(crate::stages::metrics::PhysicalMetrics::ARTIFACT)
                .and_then(|v| serde_json::from_value(v.clone()).ok())
                .unwrap_or_default(),
            outputs,
            extra: data
                .extra
                .iter()
                .filter(|(k, _)| k.as_str() != crate::stages::metrics::PhysicalMetrics::ARTIFACT)
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
            frame_extra,
            events_dropped: 0,
            tables: BTreeMap::new(),
        }
    }

    /// This report without its per-frame rows, naming `tables` instead: what `report.json`
    /// holds when the rows are in files beside it.
    #[cfg(feature = "parquet")]
    fn head(&self, tables: BTreeMap<String, String>) -> MatchReport {
        MatchReport {
            schema_version: self.schema_version,
            footml_version: self.footml_version.clone(),
            pipeline_id: self.pipeline_id.clone(),
            model_version: self.model_version.clone(),
            video: self.video.clone(),
            frames_lost: self.frames_lost,
            stages: self.stages.clone(),
            tracks: self
                .tracks
                .iter()
                .map(|t| TrackReport { track_id: t.track_id, team: t.team, role: t.role, frames: vec![] })
                .collect(),
            ball: vec![],
            teams: self.teams.clone(),
            possession: vec![],
            ball_owner: vec![],
            possession_phases: self.possession_phases.clone(),
            calibration: vec![],
            events: self.events.clone(),
            formations: self.formations.clone(),
            metrics: self.metrics.clone(),
            outputs: self.outputs.clone(),
            extra: self.extra.clone(),
            frame_extra: BTreeMap::new(),
            events_dropped: self.events_dropped,
            tables,
        }
    }

    /// Writes the report to `path` (`report.json`): whole with [`ReportTables::Inline`]
    /// (like [`MatchReport::write_json`]); with [`ReportTables::Parquet`], its per-frame rows
    /// go into Parquet files beside it (written first, each atomically, so a `report.json`
    /// never names a missing table) and `report.json` names them in `tables`.
    ///
    /// # Errors
    ///
    /// [`Error::Io`] when a file cannot be written; [`ReportError::ParquetUnavailable`]
    /// without the `parquet` feature; [`ReportError::Unwritable`] when the rows do not fit
    /// the tables.
    pub fn write(&self, path: &Path, tables: ReportTables) -> Result<()> {
        match tables {
            ReportTables::Inline => self.write_json(path),
            #[cfg(feature = "parquet")]
            ReportTables::Parquet => {
                let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
                let named = tables::write(self, dir)?;
                self.head(named).write_json(path)
            }
            #[cfg(not(feature = "parquet"))]
            ReportTables::Parquet => Err(ReportError::ParquetUnavailable.into()),
        }
    }

    /// Reads a report written by [`MatchReport::write_json`] or [`MatchReport::write`]: when
    /// `report.json` names tables, their rows are loaded from the files beside it, giving the
    /// report that was written.
    ///
    /// # Errors
    ///
    /// [`Error::Io`] when the file cannot be read; a permanent error naming the file and
    /// the first bad field when it is not a footml report of this schema;
    /// [`ReportError::TableNotFound`] / [`ReportError::BadTable`] naming a table file that is
    /// missing or is not that table; [`ReportError::BadReport`] for an invalid `tables`.
    pub fn read_json(path: &Path) -> Result<Self> {
        let text = std::fs::read(path).map_err(|e| Error::io(path, e))?;
        let de = &mut serde_json::Deserializer::from_slice(&text);
        #[allow(unused_mut)] // Only the `parquet` feature loads tables into it.
        let mut report: MatchReport = serde_path_to_error::deserialize(de).map_err(|e| {
            Error::permanent(format!("{} is not a footml report: at `{}`: {}", path.display(), e.path(), e.inner()))
        })?;
        if !report.tables.is_empty() {
            #[cfg(feature = "parquet")]
            {
                let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
                tables::load(&mut report, path, dir)?;
            }
            #[cfg(not(feature = "parquet"))]
            return Err(ReportError::ParquetUnavailable.into());
        }
        Ok(report)
    }

    /// Writes the report as pretty JSON, atomically (temp file + rename).
    pub fn write_json(&self, path: &Path) -> Result<()> {
        // Streamed into the file: an inline report of a whole match is hundreds of MB of JSON,
        // which as one buffer would double the peak memory of a run (benches/README.md, "Memory").
        let mut failed = None;
        let written = write_atomic_with(path, |w| {
            serde_json::to_writer_pretty(w, self).map_err(|e| {
                if e.is_io() {
                    std::io::Error::from(e)
                } else {
                    failed = Some(e.to_string());
                    std::io::Error::other("not serialisable")
                }
            })
        });
        match failed {
            Some(e) => Err(Error::permanent(format!("report to JSON: {e}"))),
            None => written,
        }
    }

    /// Writes the tracks in MOTChallenge format: `frame,id,x,y,w,h,score,-1,-1,-1`, frames
    /// numbered from 1, sorted by frame then id.
    pub fn write_mot_tracks(&self, path: &Path) -> Result<()> {
        // Sized up front: collected, it could grow to twice the rows.
        let mut rows: Vec<(u64, u64, &TrackFrame)> =
            Vec::with_capacity(self.tracks.iter().map(|t| t.frames.len()).sum());
        rows.extend(self.tracks.iter().flat_map(|t| t.frames.iter().map(move |f| (f.frame, t.track_id, f))));
        rows.sort_by_key(|r| (r.0, r.1));
        // Streamed, not built as one text (~50 bytes a row, millions of rows in a match).
        write_atomic_with(path, |out| {
            for &(frame, id, f) in &rows {
                let [x, y, w, h] = f.bbox;
                writeln!(out, "{},{},{:.2},{:.2},{:.2},{:.2},{:.3},-1,-1,-1", frame + 1, id, x, y, w, h, f.score)?;
            }
            Ok(())
        })
    }
}

/// Writes a file so that readers see the old or the new content, never a partial one.
// Only the Parquet tables and the pictures write whole buffers; the report itself streams.
#[cfg(any(feature = "parquet", feature = "viz"))]
pub(crate) fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    write_atomic_with(path, |w| w.write_all(bytes))
}

/// Like [`write_atomic`], with the content written by `write` through a buffered writer, so
/// that a large file never has to be one buffer in memory.
pub(crate) fn write_atomic_with(
    path: &Path,
    write: impl FnOnce(&mut std::io::BufWriter<std::fs::File>) -> std::io::Result<()>,
) -> Result<()> {
    let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let tmp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    let result = (|| {
        let mut f = std::io::BufWriter::with_capacity(1 << 16, std::fs::File::create(&tmp)?);
        write(&mut f)?;
        let f = f.into_inner().map_err(std::io::IntoInnerError::into_error)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    result.map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        Error::io(path, e)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn homography_maps_points() {
        // Scale by 0.1 and shift by (-50, -30): pixel (500, 300) is the origin.
        let h = [[0.1, 0.0, -50.0], [0.0, 0.1, -30.0], [0.0, 0.0, 1.0]];
        assert_eq!(apply_homography(&h, 500.0, 300.0), Some([0.0, 0.0]));
        assert_eq!(apply_homography(&h, 600.0, 100.0), Some([10.0, -20.0]));
        let degenerate = [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 0.0]];
        assert_eq!(apply_homography(&degenerate, 1.0, 1.0), None);
    }

    /// Each calibrated frame's homography and source reach the report's `calibration` table,
    /// flat in JSON, and survive `write_json` → `read_json` exactly.
    #[test]
    fn calibration_of_each_frame_is_reported_and_round_trips() {
        let h = [[0.1, 0.0, -50.0], [0.0, 0.1, -30.0], [0.0, 0.0, 1.0]];
        // A fit with an rms error that is no short decimal (the round trip must be exact).
        let fitted = Calibration::Keypoints { keypoints: 12, inliers: 11, rms_error_m: 1.0 / 3.0 };
        let calibrations = [
            Some(Calibration::Given),
            Some(fitted),
            Some(Calibration::Reused { from_frame: 1 }),
            None, // no homography: not in the table
            None, // a homography without a source (a user stage)
        ];
        let frames = calibrations
            .iter()
            .enumerate()
            .map(|(i, &calibration)| crate::FrameRecord {
                index: i as u64,
                homography: (i != 3).then_some(h),
                calibration,
                ..Default::default()
            })
            .collect();
        let data = MatchData { frames, ..Default::default() };
        let report = MatchReport::from_match(&data, "p", None, vec![], 0, BTreeMap::new());
        let rows: Vec<(u64, Option<Calibration>)> =
            report.calibration.iter().map(|c| (c.frame, c.calibration)).collect();
        assert_eq!(
            rows,
            vec![
                (0, Some(Calibration::Given)),
                (1, Some(fitted)),
                (2, Some(Calibration::Reused { from_frame: 1 })),
                (4, None)
            ]
        );
        assert!(report.calibration.iter().all(|c| c.image_to_pitch == h));

        let json = serde_json::to_value(&report).unwrap();
        assert_eq!(
            json["calibration"][1],
            serde_json::json!({"frame": 1, "image_to_pitch": h, "source": "keypoints", "keypoints": 12,
                               "inliers": 11, "rms_error_m": 1.0 / 3.0})
        );
        assert_eq!(json["calibration"][2]["source"], "reused");
        assert_eq!(json["calibration"][2]["from_frame"], 1);
        assert_eq!(json["calibration"][3], serde_json::json!({"frame": 4, "image_to_pitch": h}));

        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("report.json");
        report.write_json(&path).unwrap();
        assert_eq!(MatchReport::read_json(&path).unwrap(), report);

        // A report written before the table existed reads as one without calibration.
        let mut old = json.clone();
        old.as_object_mut().unwrap().remove("calibration");
        let old: MatchReport = serde_json::from_value(old).unwrap();
        assert!(old.calibration.is_empty());
        // A row with an unknown source is an error naming it, not a silently dropped source.
        let mut bad = json;
        bad["calibration"][0]["source"] = "guessed".into();
        std::fs::write(&path, serde_json::to_vec(&bad).unwrap()).unwrap();
        let e = MatchReport::read_json(&path).unwrap_err().to_string();
        assert!(e.contains("calibration") && e.contains("guessed"), "{e}");
    }

    /// Writing a match's report streams it: neither report.json nor tracks.txt is ever one
    /// buffer in memory (as one, a 90-minute match's 640 MB of JSON doubled the run's peak;
    /// benches/README.md, "Memory"). The largest allocation while writing is checked against
    /// the file sizes, and the files against the one-buffer serialisations.
    #[test]
    fn report_files_are_streamed_not_buffered() {
        use crate::test_support::{H, largest_allocation_during, person_at};
        let frames = (0..3000u64)
            .map(|i| crate::FrameRecord {
                index: i,
                time_s: i as f64 / 25.0,
                tracks: Some((1..=10u64).map(|id| person_at(id, [id as f64 - 5.0 + i as f64 / 1000.0, 3.0])).collect()),
                homography: Some(H),
                ..Default::default()
            })
            .collect();
        let data = MatchData { frames, ..Default::default() };
        let report = MatchReport::from_match(&data, "p", None, vec![], 0, BTreeMap::new());
        let dir = tempfile::tempdir().unwrap();
        let (json, tracks) = (dir.path().join("report.json"), dir.path().join("tracks.txt"));
        let (written, largest) = largest_allocation_during(|| report.write_json(&json));
        written.unwrap();
        let text = std::fs::read(&json).unwrap();
        assert_eq!(text, serde_json::to_vec_pretty(&report).unwrap());
        assert!(text.len() > 4_000_000, "a report worth streaming: {} bytes", text.len());
        assert!(largest <= 1 << 16, "largest allocation writing report.json: {largest} bytes");
        let (written, largest) = largest_allocation_during(|| report.write_mot_tracks(&tracks));
        written.unwrap();
        let rows = std::fs::read_to_string(&tracks).unwrap();
        assert_eq!(rows.lines().count(), 30_000);
        assert_eq!(rows.lines().next(), Some("1,1,555.00,410.00,10.00,20.00,0.900,-1,-1,-1"));
        // The sorted row list (24 bytes a row) is the one buffer that grows with the match.
        assert_eq!(largest, 30_000 * 24, "largest allocation writing tracks.txt");
        assert!(largest * 3 < rows.len() * 2, "{largest} bytes for {} bytes of rows", rows.len());
    }

    /// A report with every per-frame table filled, with values that are no short decimals
    /// (thirds, a NaN-free mix of calibrated and uncalibrated frames), nulls in every nullable
    /// column, every calibration source and two user per-frame artifacts.
    #[cfg(feature = "parquet")]
    fn rich_report() -> MatchReport {
        use crate::analysis::Possession;
        use crate::types::{BBox, BallObservation, TrackedBox};
        let h = [[0.1, 1.0 / 3.0, -50.0], [0.0, 0.1, -30.0], [1e-5, 2e-5, 1.0]];
        let sources = [
            Some(Calibration::Given),
            Some(Calibration::Keypoints { keypoints: 12, inliers: 11, rms_error_m: 1.0 / 3.0 }),
            Some(Calibration::Reused { from_frame: 1 }),
            None,
        ];
        let frames = (0..12u64)
            .map(|i| {
                let f = i as f32;
                let tracks = (1..=3u64)
                    .filter(|id| i % (*id + 1) != 0 || *id == 1)
                    .map(|id| TrackedBox {
                        track_id: id,
                        bbox: BBox::new(100.0 * id as f32 + f / 3.0, 200.0 + f * 1.7, 30.5, 80.25),
                        score: 0.5 + f / 100.0,
                    })
                    .collect();
                let mut ball = BallObservation::tracked(500.0 + f / 7.0, 300.0 - f, 0.9);
                if i % 3 == 1 {
                    ball.state = BallState::Occluded;
                    ball.interpolated = true;
                }
                let mut extra = BTreeMap::new();
                extra.insert("jersey".to_string(), serde_json::json!({"n": i, "conf": 1.0 / (i + 1) as f64}));
                if i % 2 == 0 {
                    extra.insert("audio".to_string(), serde_json::json!([i, "whistle", null]));
                }
                crate::FrameRecord {
                    index: i,
                    time_s: i as f64 / 25.0,
                    tracks: Some(tracks),
                    // Frames 5 and 9: no ball position (lost); frames 0 and 4: not calibrated.
                    ball: Some(if i == 5 || i == 9 { BallObservation::lost() } else { ball }),
                    homography: (i % 4 != 0).then_some(h),
                    calibration: sources[(i % 4) as usize],
                    extra,
                    ..Default::default()
                }
            })
            .collect();
        let possession = (0..12u64)
            .map(|i| Possession {
                team: (i % 5 != 0).then_some((i % 2) as u32),
                track_id: (i % 3 == 0).then_some(i % 3 + 1),
            })
            .collect();
        let data = MatchData { frames, possession, ..Default::default() };
        let mut report = MatchReport::from_match(&data, "p", Some("v1".into()), vec![], 0, BTreeMap::new());
        // A team and a role, which stay in report.json.
        report.tracks[0].team = Some(1);
        report.tracks[0].role = Some(Role::Goalkeeper);
        report
    }

    /// The same report written inline and with Parquet tables reads back equal to itself
    /// both ways, and serialises to identical JSON; the tables' report.json holds no rows.
    #[cfg(feature = "parquet")]
    #[test]
    fn parquet_tables_round_trip_to_the_inline_report() {
        let report = rich_report();
        assert_eq!(report.tracks.iter().map(|t| t.frames.len()).sum::<usize>(), 12 + 8 + 9);
        assert!(report.ball.iter().any(|b| b.pitch.is_none()) && report.ball.iter().any(|b| b.pitch.is_some()));
        assert_eq!(report.calibration.len(), 9);
        let dir = tempfile::tempdir().unwrap();
        let (inline, parquet) = (dir.path().join("inline/report.json"), dir.path().join("parquet/report.json"));
        report.write(&inline, ReportTables::Inline).unwrap();
        report.write(&parquet, ReportTables::Parquet).unwrap();
        let from_inline = MatchReport::read_json(&inline).unwrap();
        let from_parquet = MatchReport::read_json(&parquet).unwrap();
        assert_eq!(from_inline, report);
        assert_eq!(from_parquet, report);
        assert_eq!(serde_json::to_string(&from_parquet).unwrap(), serde_json::to_string(&from_inline).unwrap());

        let head: serde_json::Value = serde_json::from_slice(&std::fs::read(&parquet).unwrap()).unwrap();
        assert_eq!(head["schema_version"], 2);
        assert_eq!(
            head["tables"],
            serde_json::json!({"tracks": "tracks.parquet", "ball": "ball.parquet", "possession": "possession.parquet",
                               "calibration": "calibration.parquet", "frame_extra": "frame_extra.parquet"})
        );
        assert_eq!(
            head["tracks"][0],
            serde_json::json!({"track_id": 1, "team": 1, "role": "goalkeeper", "frames": []})
        );
        for key in ["ball", "possession", "ball_owner", "calibration"] {
            assert_eq!(head[key], serde_json::json!([]), "{key}");
        }
        assert!(head.get("frame_extra").is_none());
        // The inline form names no tables.
        let inline_json: serde_json::Value = serde_json::from_slice(&std::fs::read(&inline).unwrap()).unwrap();
        assert!(inline_json.get("tables").is_none());
    }

    /// A missing or corrupt table, a table of another layout, an unknown table name and rows
    /// both inline and in a table are typed errors naming the file.
    #[cfg(feature = "parquet")]
    #[test]
    fn bad_tables_are_errors_naming_the_file() {
        let report = rich_report();
        let dir = tempfile::tempdir().unwrap();
        let json = dir.path().join("report.json");
        report.write(&json, ReportTables::Parquet).unwrap();
        let good = std::fs::read(&json).unwrap();
        let read = || MatchReport::read_json(&json).unwrap_err();

        let ball = dir.path().join("ball.parquet");
        let ball_bytes = std::fs::read(&ball).unwrap();
        std::fs::remove_file(&ball).unwrap();
        let e = read();
        assert_eq!(e.kind(), crate::ErrorKind::NotFound);
        assert!(matches!(&e, Error::Report(ReportError::TableNotFound { path }) if *path == ball), "{e}");

        // Not Parquet at all, and a truncated file.
        std::fs::write(&ball, b"not parquet").unwrap();
        let e = read();
        assert!(matches!(&e, Error::Report(ReportError::BadTable { path, .. }) if *path == ball), "{e}");
        assert!(e.to_string().contains("ball.parquet"), "{e}");
        std::fs::write(&ball, &ball_bytes[..ball_bytes.len() / 2]).unwrap();
        assert!(matches!(read(), Error::Report(ReportError::BadTable { .. })));
        // A single-byte corruption anywhere in the file is an error or (where Parquet has no
        // checksum to notice it) some report, never a panic: the reader contains the parquet
        // crate's panics.
        for at in (4..ball_bytes.len() - 8).step_by(7) {
            let mut bytes = ball_bytes.clone();
            bytes[at] ^= 0x5a;
            std::fs::write(&ball, &bytes).unwrap();
            let _ = MatchReport::read_json(&json);
        }
        // Another table's columns in the file.
        std::fs::copy(dir.path().join("possession.parquet"), &ball).unwrap();
        let e = read().to_string();
        assert!(e.contains("ball.parquet") && e.contains("expected the columns"), "{e}");
        std::fs::write(&ball, &ball_bytes).unwrap();
        assert_eq!(MatchReport::read_json(&json).unwrap(), report);

        // A track row whose track report.json does not list.
        let mut head: serde_json::Value = serde_json::from_slice(&good).unwrap();
        head["tracks"].as_array_mut().unwrap().remove(2);
        std::fs::write(&json, serde_json::to_vec(&head).unwrap()).unwrap();
        let e = read().to_string();
        assert!(e.contains("tracks.parquet") && e.contains("track 3"), "{e}");

        // An unknown table; rows inline and in a table.
        let mut head: serde_json::Value = serde_json::from_slice(&good).unwrap();
        head["tables"]["shots"] = "shots.parquet".into();
        std::fs::write(&json, serde_json::to_vec(&head).unwrap()).unwrap();
        let e = read();
        assert!(matches!(&e, Error::Report(ReportError::BadReport { .. })) && e.to_string().contains("`shots`"), "{e}");
        let mut head: serde_json::Value = serde_json::from_slice(&good).unwrap();
        head["possession"] = serde_json::json!([0, 1]);
        std::fs::write(&json, serde_json::to_vec(&head).unwrap()).unwrap();
        let e = read().to_string();
        assert!(e.contains("report.json") && e.contains("`possession` has rows both inline"), "{e}");
    }

    /// possession and ball_owner of different lengths do not fit one table: a typed error,
    /// not a table that reads back as another report.
    #[cfg(feature = "parquet")]
    #[test]
    fn possession_and_owner_of_different_lengths_are_not_written_as_a_table() {
        let mut report = rich_report();
        report.ball_owner.pop();
        let dir = tempfile::tempdir().unwrap();
        let e = report.write(&dir.path().join("report.json"), ReportTables::Parquet).unwrap_err();
        assert!(matches!(e, Error::Report(ReportError::Unwritable(_))), "{e}");
        assert!(!dir.path().join("report.json").exists());
    }
}
