//! Detections input: MOTChallenge detection files instead of video, and homography files.
//!
//! A detection file has one line per box, `frame,-1,x,y,w,h,score,-1,-1,-1` (frames from 1,
//! pixels, top-left origin; trailing columns may be absent), sorted by frame.
//!
//! **Team column**: in a players file, column 8 (MOTChallenge's unused `-1` world x) may give
//! the team the user knows for the box: `0` or `1`, `-1` for unknown. A file with at least one
//! `0` or `1` there carries teams ([`Artifact::PLAYER_TEAMS`], `FrameRecord::player_teams`),
//! and the standard pipeline decides each track's team from them by majority
//! ([`crate::stages::teams::UserTeams`]); files with `-1` or no column 8 (every ordinary MOT
//! file) stay valid and carry none. Any other value in column 8 is an error. Players and
//! ball candidates come in separate files. The file is streamed, never loaded whole, so a
//! full match of detections costs no more memory than a few frames.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::pipeline::stage::{Artifact, FrameSource, Stage, StageContext, StreamStage};
use crate::types::{BBox, Detection, FrameBatch, FrameItem, FrameRecord, VideoInfo};
use crate::{Error, Result};

/// Errors of detections and homography files.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DetectionsError {
    /// The file does not exist.
    #[error("detections file not found: {}", .0.display())]
    NotFound(PathBuf),
    /// A line is not a valid detection.
    #[error("{}:{line}: {message}", path.display())]
    Parse {
        /// The file.
        path: PathBuf,
        /// Line number from 1.
        line: usize,
        /// What was expected and found.
        message: String,
    },
    /// A row of an in-memory detections table ([`DetectionsArraySource`]) is invalid.
    #[error("{table} row {row}: {message}")]
    Row {
        /// `"players"` or `"ball"`.
        table: &'static str,
        /// Row number from 0.
        row: usize,
        /// What was expected and found.
        message: String,
    },
    /// The homography file does not exist (`ErrorKind::NotFound`, as for a detections file).
    #[error("homography file not found: {}", .0.display())]
    HomographyNotFound(PathBuf),
    /// The homography file is invalid.
    #[error("homography file {}: {message}", path.display())]
    Homography {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
}

/// Streams one MOTChallenge file frame by frame.
struct MotReader {
    path: PathBuf,
    lines: std::io::Lines<BufReader<File>>,
    line_no: usize,
    /// A parsed line belonging to a later frame than the one last asked for.
    pending: Option<(u64, Detection, Option<u32>)>,
    last_frame: u64,
    /// Read column 8 as the team (players files).
    teams: bool,
}

impl MotReader {
    fn open(path: &Path, teams: bool) -> Result<Self> {
        let file = File::open(path).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => Error::Detections(DetectionsError::NotFound(path.to_path_buf())),
            _ => Error::io(path, e),
        })?;
        Ok(MotReader {
            path: path.to_path_buf(),
            lines: BufReader::new(file).lines(),
            line_no: 0,
            pending: None,
            last_frame: 0,
            teams,
        })
    }

    fn parse_err(&self, message: String) -> Error {
        Error::Detections(DetectionsError::Parse { path: self.path.clone(), line: self.line_no, message })
    }

    fn next_line(&mut self) -> Result<Option<(u64, Detection, Option<u32>)>> {
        loop {
            let Some(line) = self.lines.next() else {
                return Ok(None);
            };
            self.line_no += 1;
            let line = line.map_err(|e| Error::io(&self.path, e))?;
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let fields: Vec<&str> = line.split(',').map(str::trim).collect();
            if fields.len() < 7 {
                return Err(self.parse_err(format!(
                    "expected `frame,-1,x,y,w,h,score[,-1,-1,-1]`, found {} field(s): `{line}`",
                    fields.len()
                )));
            }
            let num = |i: usize, name: &str| -> Result<f64> {
                fields[i]
                    .parse::<f64>()
                    .ok()
                    .filter(|v| v.is_finite())
                    .ok_or_else(|| self.parse_err(format!("{name}: expected a number, found `{}`", fields[i])))
            };
            let frame = num(0, "frame")?;
            if frame < 1.0 || frame.fract() != 0.0 {
                return Err(self.parse_err(format!("frame: expected a whole number ≥ 1, found `{}`", fields[0])));
            }
            let frame = frame as u64;
            let (x, y, w, h, score) = (num(2, "x")?, num(3, "y")?, num(4, "w")?, num(5, "h")?, num(6, "score")?);
            if w <= 0.0 || h <= 0.0 {
                return Err(self.parse_err(format!("expected a positive box size, found {w}x{h}")));
            }
            if frame < self.last_frame {
                return Err(self.parse_err(format!(
                    "frames must be in ascending order, found frame {frame} after frame {}",
                    self.last_frame
                )));
            }
            self.last_frame = frame;
            let team = match fields.get(7) {
                Some(&t) if self.teams => parse_team(t).map_err(|m| self.parse_err(m))?,
                _ => None,
            };
            let bbox = BBox::new(x as f32, y as f32, w as f32, h as f32);
            return Ok(Some((frame, Detection { bbox, score: score as f32, class_id: 0 }, team)));
        }
    }

    /// Detections of `frame` (1-based) with their teams; frames must be asked for in
    /// ascending order.
    fn frame(&mut self, frame: u64) -> Result<(Vec<Detection>, Vec<Option<u32>>)> {
        let (mut out, mut teams) = (Vec::new(), Vec::new());
        loop {
            let next = match self.pending.take() {
                Some(p) => Some(p),
                None => self.next_line()?,
            };
            match next {
                Some((f, d, t)) if f == frame => {
                    out.push(d);
                    teams.push(t);
                }
                Some((f, _, _)) if f < frame => continue,
                Some(p) => {
                    self.pending = Some(p);
                    return Ok((out, teams));
                }
                None => return Ok((out, teams)),
            }
        }
    }

    /// The last frame number in the file and whether column 8 gives a team anywhere. A fast
    /// scan that checks only the first column, so that a bad frame number fails at open time
    /// rather than silently ending the input.
    fn scan(path: &Path) -> Result<(u64, bool)> {
        let file = File::open(path).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => Error::Detections(DetectionsError::NotFound(path.to_path_buf())),
            _ => Error::io(path, e),
        })?;
        let (mut last, mut teams) = (0u64, false);
        for (i, line) in BufReader::new(file).lines().enumerate() {
            let line = line.map_err(|e| Error::io(path, e))?;
            let first = line.split(',').next().unwrap_or("").trim();
            teams = teams || line.split(',').nth(7).is_some_and(|t| matches!(parse_team(t.trim()), Ok(Some(_))));
            if first.is_empty() || first.starts_with('#') {
                continue;
            }
            match first.parse::<f64>() {
                Ok(f) if f >= 1.0 && f.fract() == 0.0 => last = last.max(f as u64),
                _ => {
                    return Err(Error::Detections(DetectionsError::Parse {
                        path: path.to_path_buf(),
                        line: i + 1,
                        message: format!("frame: expected a whole number ≥ 1, found `{first}`"),
                    }));
                }
            }
        }
        Ok((last, teams))
    }
}

/// Column 8 of a players line: `0` or `1` is a team, `-1` unknown.
fn parse_team(field: &str) -> std::result::Result<Option<u32>, String> {
    let v = field.parse::<f64>().ok();
    if v == Some(-1.0) {
        Ok(None)
    } else if v == Some(0.0) || v == Some(1.0) {
        Ok(v.map(|t| t as u32))
    } else {
        Err(format!("team (column 8): expected 0, 1 or -1 (unknown), found `{field}`"))
    }
}

/// What a detections source's frames carry: players, ball candidates and user teams when it
/// has them.
fn detections_artifacts(ball: bool, teams: bool) -> Vec<Artifact> {
    let mut a = vec![Artifact::PLAYER_DETECTIONS];
    if ball {
        a.push(Artifact::BALL_CANDIDATES);
    }
    if teams {
        a.push(Artifact::PLAYER_TEAMS);
    }
    a
}

/// Stream stage `"player_detections_file"`: the players of each frame from a MOTChallenge
/// detections file (frame `index + 1`), for a video analysed with another detector's boxes:
/// the video gives the pixels (ball, kit colours, appearance), the file the players, and the
/// team column, when it has one, the user's teams ([`Artifact::PLAYER_TEAMS`]). Frames past
/// the end of the file have no players. The file is streamed as the frames go by.
pub struct PlayerDetectionsFile {
    path: PathBuf,
    reader: MotReader,
    /// The next frame (from 1) the reader can give; asking for an earlier one (a retried or
    /// resumed batch) reopens the file.
    next: u64,
    teams: bool,
}

impl PlayerDetectionsFile {
    /// Opens a players file; fails when it is missing or a frame number is invalid.
    pub fn open(path: &Path) -> Result<Self> {
        let (_, teams) = MotReader::scan(path)?;
        Ok(PlayerDetectionsFile { path: path.to_path_buf(), reader: MotReader::open(path, true)?, next: 1, teams })
    }

    /// Whether the file gives teams (column 8 is `0` or `1` on some line).
    pub fn has_teams(&self) -> bool {
        self.teams
    }
}

impl Stage for PlayerDetectionsFile {
    fn name(&self) -> &str {
        "player_detections_file"
    }

    fn requires(&self) -> Vec<Artifact> {
        Vec::new()
    }

    fn provides(&self) -> Vec<Artifact> {
        let mut a = vec![Artifact::PLAYER_DETECTIONS];
        if self.teams {
            a.push(Artifact::PLAYER_TEAMS);
        }
        a
    }
}

impl StreamStage for PlayerDetectionsFile {
    fn process(&mut self, batch: &mut FrameBatch, _ctx: &StageContext) -> Result<()> {
        // Read the whole batch first, so that a bad line fails the batch before any record
        // changes.
        let mut frames = Vec::with_capacity(batch.items.len());
        for item in &batch.items {
            let frame = item.record.index + 1;
            if frame < self.next {
                self.reader = MotReader::open(&self.path, true)?;
            }
            frames.push(self.reader.frame(frame)?);
            self.next = frame + 1;
        }
        for (item, (players, teams)) in batch.items.iter_mut().zip(frames) {
            item.record.players = Some(players);
            item.record.player_teams = self.teams.then_some(teams);
        }
        Ok(())
    }

    fn save_state(&self) -> Result<Vec<u8>> {
        // Nothing to carry over: a resumed run reads the file forward to its first frame.
        Ok(Vec::new())
    }

    fn load_state(&mut self, _state: &[u8]) -> Result<()> {
        Ok(())
    }
}

/// A source of frames made from MOTChallenge detection files (no pixels).
pub struct DetectionsFileSource {
    players_path: PathBuf,
    ball_path: Option<PathBuf>,
    players: MotReader,
    ball: Option<MotReader>,
    info: VideoInfo,
    next: u64,
    /// The players file gives teams in column 8.
    teams: bool,
}

impl DetectionsFileSource {
    /// Opens a players file (and optionally a ball-candidates file) for frames of
    /// `frame_size` pixels at `fps`. The number of frames is the last frame in either file.
    pub fn open(players: &Path, ball: Option<&Path>, fps: f64, frame_size: [u32; 2]) -> Result<Self> {
        let (mut frames, teams) = MotReader::scan(players)?;
        if let Some(b) = ball {
            frames = frames.max(MotReader::scan(b)?.0);
        }
        let info = VideoInfo {
            path: players.display().to_string(),
            fps,
            width: frame_size[0],
            height: frame_size[1],
            duration_s: Some(frames as f64 / fps),
            frame_count: Some(frames),
            codec: "mot-detections".into(),
        };
        Ok(DetectionsFileSource {
            players_path: players.to_path_buf(),
            ball_path: ball.map(Path::to_path_buf),
            players: MotReader::open(players, true)?,
            ball: ball.map(|b| MotReader::open(b, false)).transpose()?,
            info,
            next: 0,
            teams,
        })
    }

    /// Whether the players file gives teams (column 8 is `0` or `1` on some line).
    pub fn has_teams(&self) -> bool {
        self.teams
    }
}

impl FrameSource for DetectionsFileSource {
    fn name(&self) -> &str {
        "detections_input"
    }

    fn info(&self) -> VideoInfo {
        self.info.clone()
    }

    fn provides(&self) -> Vec<Artifact> {
        detections_artifacts(self.ball.is_some(), self.teams)
    }

    fn seek(&mut self, frame: u64) -> Result<()> {
        // Files are streamed, so seeking backwards means reopening them.
        if frame < self.next {
            self.players = MotReader::open(&self.players_path, true)?;
            self.ball = self.ball_path.as_deref().map(|b| MotReader::open(b, false)).transpose()?;
        }
        self.next = frame;
        Ok(())
    }

    fn next_frame(&mut self) -> Result<Option<FrameItem>> {
        if self.next >= self.info.frame_count.unwrap_or(0) {
            return Ok(None);
        }
        let index = self.next;
        let (players, teams) = self.players.frame(index + 1)?;
        let ball_candidates = match &mut self.ball {
            Some(b) => Some(b.frame(index + 1)?.0),
            None => None,
        };
        self.next += 1;
        let record = FrameRecord {
            index,
            time_s: index as f64 / self.info.fps,
            players: Some(players),
            ball_candidates,
            player_teams: self.teams.then_some(teams),
            ..Default::default()
        };
        Ok(Some(FrameItem::new(record, None)))
    }
}

/// Detections of one frame from rows `[x, y, w, h, score, class]` (pixels, top-left origin),
/// checked as [`DetectionsArraySource`] checks its tables: finite values, a positive box
/// size, a whole class ≥ 0. `table` names the rows in errors. (Live sessions take frames of
/// detections this way from arrays, e.g. NumPy.)
pub fn detections_from_rows(table: &'static str, rows: &[[f64; 6]]) -> Result<Vec<Detection>> {
    rows.iter().enumerate().map(|(row, r)| detection_of_row(table, row, *r)).collect()
}

/// The teams of one frame's detections from a team column (the 7th of a live push's rows):
/// `0` or `1` is the team the user knows, `-1` unknown, as in a detections file's column 8.
/// Any other value is a [`DetectionsError::Row`] of `table`.
pub fn teams_from_column(table: &'static str, teams: &[f64]) -> Result<Vec<Option<u32>>> {
    let team = |(row, &t): (usize, &f64)| match t {
        0.0 => Ok(Some(0)),
        1.0 => Ok(Some(1)),
        -1.0 => Ok(None),
        _ => Err(Error::Detections(DetectionsError::Row {
            table,
            row,
            message: format!("team: expected 0, 1 or -1 (unknown), found {t}"),
        })),
    };
    teams.iter().enumerate().map(team).collect()
}

fn detection_of_row(table: &'static str, row: usize, values: [f64; 6]) -> Result<Detection> {
    let [x, y, w, h, score, class] = values;
    let bad = |message: String| Error::Detections(DetectionsError::Row { table, row, message });
    if let Some(i) = values.iter().position(|v| !v.is_finite()) {
        let column = ["x", "y", "w", "h", "score", "class"][i];
        return Err(bad(format!("{column}: expected a finite number, found {}", values[i])));
    }
    if w <= 0.0 || h <= 0.0 {
        return Err(bad(format!("expected a positive box size, found {w}x{h}")));
    }
    if class < 0.0 || class.fract() != 0.0 || class > u32::MAX as f64 {
        return Err(bad(format!("class: expected a whole number ≥ 0, found {class}")));
    }
    let bbox = BBox::new(x as f32, y as f32, w as f32, h as f32);
    Ok(Detection { bbox, score: score as f32, class_id: class as u32 })
}

/// A source of frames made from detections already in memory (NumPy arrays from Python,
/// arrays from C): rows `[frame, x, y, w, h, score, class]`, frames numbered from 0 as in
/// the report, pixels with a top-left origin. Rows may come in any order.
///
/// The table is checked whole when the source is made, so a bad row fails before any
/// stage runs. The rows are held in memory: a full match of detections is a few tens of
/// megabytes, which the caller already holds anyway.
pub struct DetectionsArraySource {
    players: BTreeMap<u64, Vec<Detection>>,
    ball: Option<BTreeMap<u64, Vec<Detection>>>,
    info: VideoInfo,
    next: u64,
}

impl DetectionsArraySource {
    /// A source of `players` rows (and `ball` candidate rows) for frames of `frame_size`
    /// pixels at `fps`. The number of frames is one past the last frame of either table.
    pub fn new(players: &[[f64; 7]], ball: Option<&[[f64; 7]]>, fps: f64, frame_size: [u32; 2]) -> Result<Self> {
        if !(fps.is_finite() && fps > 0.0) {
            // `fps` as written (Display), as the live session's check shows it.
            return Err(
                crate::config::ConfigError::invalid("", "fps", "a positive number", format_args!("{fps}")).into()
            );
        }
        if frame_size[0] == 0 || frame_size[1] == 0 {
            return Err(
                crate::config::ConfigError::invalid("", "frame_size", "positive width and height", frame_size).into()
            );
        }
        let players = Self::group("players", players)?;
        let ball = ball.map(|rows| Self::group("ball", rows)).transpose()?;
        let last = players.keys().next_back().into_iter().chain(ball.iter().flat_map(|b| b.keys().next_back())).max();
        let frames = last.map_or(0, |f| f + 1);
        let info = VideoInfo {
            path: "<detections array>".into(),
            fps,
            width: frame_size[0],
            height: frame_size[1],
            duration_s: Some(frames as f64 / fps),
            frame_count: Some(frames),
            codec: "detections-array".into(),
        };
        Ok(DetectionsArraySource { players, ball, info, next: 0 })
    }

    fn group(table: &'static str, rows: &[[f64; 7]]) -> Result<BTreeMap<u64, Vec<Detection>>> {
        let mut out: BTreeMap<u64, Vec<Detection>> = BTreeMap::new();
        for (row, &[frame, x, y, w, h, score, class]) in rows.iter().enumerate() {
            let bad = |message: String| Error::Detections(DetectionsError::Row { table, row, message });
            if !frame.is_finite() {
                return Err(bad(format!("frame: expected a finite number, found {frame}")));
            }
            if frame < 0.0 || frame.fract() != 0.0 || frame > u32::MAX as f64 {
                return Err(bad(format!("frame: expected a whole number ≥ 0, found {frame}")));
            }
            out.entry(frame as u64).or_default().push(detection_of_row(table, row, [x, y, w, h, score, class])?);
        }
        Ok(out)
    }

    /// Whether the source carries ball candidates.
    pub fn has_ball(&self) -> bool {
        self.ball.is_some()
    }

    /// A stable fingerprint of the table's contents, for pipeline ids (the same detections
    /// give the same id, so a rerun resumes from its checkpoints).
    pub fn fingerprint(&self) -> String {
        let mut key = format!("{:?}", self.info);
        for (f, d) in self.players.iter().chain(self.ball.iter().flatten()) {
            key.push_str(&format!("{f}:{d:?};"));
        }
        format!("array:{:016x};", crate::pipeline::fnv1a(key.as_bytes()))
    }
}

impl FrameSource for DetectionsArraySource {
    fn name(&self) -> &str {
        "detections_input"
    }

    fn info(&self) -> VideoInfo {
        self.info.clone()
    }

    fn provides(&self) -> Vec<Artifact> {
        detections_artifacts(self.ball.is_some(), false)
    }

    fn seek(&mut self, frame: u64) -> Result<()> {
        self.next = frame;
        Ok(())
    }

    fn next_frame(&mut self) -> Result<Option<FrameItem>> {
        let index = self.next;
        if index >= self.info.frame_count.unwrap_or(0) {
            return Ok(None);
        }
        self.next += 1;
        let record = FrameRecord {
            index,
            time_s: index as f64 / self.info.fps,
            players: Some(self.players.get(&index).cloned().unwrap_or_default()),
            ball_candidates: self.ball.as_ref().map(|b| b.get(&index).cloned().unwrap_or_default()),
            ..Default::default()
        };
        Ok(Some(FrameItem::new(record, None)))
    }
}

/// Image → pitch homographies from a file: one matrix for a static camera, or one per frame
/// (served to the frames by [`crate::stages::pitch_calibration::PitchCalibration`]).
#[derive(Debug, Clone, PartialEq)]
pub struct HomographyFile {
    fixed: Option<[[f64; 3]; 3]>,
    /// Per frame, keyed by frame index from 0.
    frames: BTreeMap<u64, [[f64; 3]; 3]>,
    /// Pitch length in metres.
    pub pitch_length: f64,
    /// Pitch width in metres.
    pub pitch_width: f64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct HomographyJson {
    image_to_pitch: Option<[[f64; 3]; 3]>,
    frames: Option<Vec<FrameHomographyJson>>,
    pitch_length: Option<f64>,
    pitch_width: Option<f64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FrameHomographyJson {
    frame: u64,
    image_to_pitch: [[f64; 3]; 3],
}

impl HomographyFile {
    /// Reads a homography file (DESIGN.md format).
    pub fn load(path: &Path) -> Result<Self> {
        let bad =
            |message: String| Error::Detections(DetectionsError::Homography { path: path.to_path_buf(), message });
        let text = std::fs::read_to_string(path).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => Error::Detections(DetectionsError::HomographyNotFound(path.to_path_buf())),
            _ => Error::io(path, e),
        })?;
        let json: HomographyJson = serde_json::from_str(&text).map_err(|e| bad(e.to_string()))?;
        let check = |m: &[[f64; 3]; 3], what: &str| -> Result<()> {
            let det = m[0][0] * (m[1][1] * m[2][2] - m[1][2] * m[2][1])
                - m[0][1] * (m[1][0] * m[2][2] - m[1][2] * m[2][0])
                + m[0][2] * (m[1][0] * m[2][1] - m[1][1] * m[2][0]);
            if m.iter().flatten().any(|v| !v.is_finite()) || det.abs() < 1e-15 {
                return Err(bad(format!("{what}: expected an invertible 3x3 matrix of finite numbers")));
            }
            Ok(())
        };
        let mut frames = BTreeMap::new();
        match (&json.image_to_pitch, &json.frames) {
            (Some(m), None) => check(m, "image_to_pitch")?,
            (None, Some(list)) => {
                for f in list {
                    if f.frame == 0 {
                        return Err(bad("frames are numbered from 1, found frame 0".into()));
                    }
                    check(&f.image_to_pitch, &format!("frame {}", f.frame))?;
                    frames.insert(f.frame - 1, f.image_to_pitch);
                }
            }
            _ => {
                return Err(bad("expected exactly one of `image_to_pitch` or `frames`".into()));
            }
        }
        Ok(HomographyFile {
            fixed: json.image_to_pitch,
            frames,
            pitch_length: json.pitch_length.unwrap_or(105.0),
            pitch_width: json.pitch_width.unwrap_or(68.0),
        })
    }

    /// The homography of frame `index` (from 0), if the file has one.
    pub fn for_frame(&self, index: u64) -> Option<[[f64; 3]; 3]> {
        self.fixed.or_else(|| self.frames.get(&index).copied())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
        let p = dir.join(name);
        std::fs::write(&p, text).unwrap();
        p
    }

    fn all_frames(src: &mut DetectionsFileSource) -> Vec<FrameRecord> {
        std::iter::from_fn(|| src.next_frame().unwrap()).map(|i| i.record).collect()
    }

    #[test]
    fn reads_frames_in_order_with_gaps_and_ball() {
        let dir = tempfile::tempdir().unwrap();
        let p = write(
            dir.path(),
            "p.txt",
            "1,-1,10,20,30,40,0.9,-1,-1,-1\n1,-1,1,2,3,4,0.5\n\n3,-1,5,6,7,8,0.7,-1,-1,-1\n",
        );
        let b = write(dir.path(), "b.txt", "2,-1,100,100,8,8,0.4,-1,-1,-1\n4,-1,1,1,2,2,0.3\n");
        let mut src = DetectionsFileSource::open(&p, Some(&b), 25.0, [1920, 1080]).unwrap();
        assert_eq!(src.info().frame_count, Some(4));
        assert_eq!(src.provides(), vec![Artifact::PLAYER_DETECTIONS, Artifact::BALL_CANDIDATES]);
        let recs = all_frames(&mut src);
        assert_eq!(recs.len(), 4);
        assert_eq!(recs[0].players.as_ref().unwrap().len(), 2);
        assert_eq!(recs[0].players.as_ref().unwrap()[0].bbox, BBox::new(10.0, 20.0, 30.0, 40.0));
        assert_eq!(recs[1].players.as_deref(), Some(&[][..]));
        assert_eq!(recs[1].ball_candidates.as_ref().unwrap()[0].score, 0.4);
        assert_eq!(recs[2].time_s, 2.0 / 25.0);
        assert_eq!(recs[3].ball_candidates.as_ref().unwrap().len(), 1);
        // Seeking back and forth gives the same frames.
        src.seek(2).unwrap();
        assert_eq!(all_frames(&mut src), recs[2..].to_vec());
        src.seek(0).unwrap();
        assert_eq!(all_frames(&mut src), recs);
    }

    #[test]
    fn bad_lines_name_file_line_and_problem() {
        let dir = tempfile::tempdir().unwrap();
        let cases = [
            ("1,-1,1,2,3\n", "expected `frame,-1,x,y,w,h,score"),
            ("1,-1,1,2,3,4,abc\n", "score: expected a number, found `abc`"),
            ("0,-1,1,2,3,4,0.5\n", "frame: expected a whole number ≥ 1"),
            ("1,-1,1,2,-3,4,0.5\n", "expected a positive box size"),
            ("2,-1,1,2,3,4,0.5\n1,-1,1,2,3,4,0.5\n", "ascending order"),
        ];
        for (text, want) in cases {
            let p = write(dir.path(), "bad.txt", text);
            let err = match DetectionsFileSource::open(&p, None, 25.0, [640, 480]) {
                Err(e) => e,
                Ok(mut src) => std::iter::from_fn(|| Some(src.next_frame()))
                    .take(10)
                    .find_map(|r| r.err())
                    .expect("a bad file must give an error"),
            };
            let msg = err.to_string();
            assert!(msg.contains(want) && msg.contains("bad.txt:"), "{msg}");
        }
        let e = DetectionsFileSource::open(&dir.path().join("missing.txt"), None, 25.0, [1, 1]).err().unwrap();
        assert!(matches!(e, Error::Detections(DetectionsError::NotFound(_))), "{e}");
    }

    #[test]
    fn array_source_groups_rows_by_frame_and_rejects_bad_rows() {
        let rows = [
            [2.0, 5.0, 6.0, 7.0, 8.0, 0.7, 1.0],
            [0.0, 10.0, 20.0, 30.0, 40.0, 0.9, 0.0],
            [0.0, 1.0, 2.0, 3.0, 4.0, 0.5, 0.0],
        ];
        let ball = [[1.0, 100.0, 100.0, 8.0, 8.0, 0.4, 32.0]];
        let mut src = DetectionsArraySource::new(&rows, Some(&ball), 25.0, [1920, 1080]).unwrap();
        assert_eq!(src.info().frame_count, Some(3));
        let recs: Vec<FrameRecord> = std::iter::from_fn(|| src.next_frame().unwrap()).map(|i| i.record).collect();
        assert_eq!(recs.len(), 3);
        assert_eq!(recs[0].players.as_ref().unwrap()[0].bbox, BBox::new(10.0, 20.0, 30.0, 40.0));
        assert_eq!(recs[0].players.as_ref().unwrap().len(), 2);
        assert_eq!(recs[1].players.as_deref(), Some(&[][..]));
        assert_eq!(recs[1].ball_candidates.as_ref().unwrap()[0].class_id, 32);
        assert_eq!(recs[2].players.as_ref().unwrap()[0].class_id, 1);
        assert_eq!(recs[2].time_s, 2.0 / 25.0);
        src.seek(2).unwrap();
        assert_eq!(src.next_frame().unwrap().unwrap().record, recs[2]);
        for (row, want) in [
            ([0.0, f64::NAN, 0.0, 1.0, 1.0, 0.5, 0.0], "x: expected a finite number"),
            ([-1.0, 0.0, 0.0, 1.0, 1.0, 0.5, 0.0], "frame: expected a whole number"),
            ([1.5, 0.0, 0.0, 1.0, 1.0, 0.5, 0.0], "frame: expected a whole number"),
            ([0.0, 0.0, 0.0, 0.0, 1.0, 0.5, 0.0], "positive box size"),
            ([0.0, 0.0, 0.0, 1.0, 1.0, 0.5, -2.0], "class: expected"),
        ] {
            let e = DetectionsArraySource::new(&[rows[0], row], None, 25.0, [1, 1]).err().unwrap();
            assert!(matches!(e, Error::Detections(DetectionsError::Row { row: 1, .. })), "{e}");
            assert!(e.to_string().contains(want) && e.to_string().starts_with("players row 1"), "{e}");
        }
        assert!(DetectionsArraySource::new(&rows, None, 0.0, [1, 1]).is_err());
        assert!(DetectionsArraySource::new(&rows, None, 25.0, [0, 1]).is_err());
        let e = DetectionsArraySource::new(&[[f64::INFINITY, 0.0, 0.0, 1.0, 1.0, 0.5, 0.0]], None, 25.0, [1, 1]);
        assert!(e.err().unwrap().to_string().contains("frame: expected a finite number"));
    }

    #[test]
    fn one_frame_of_rows_without_a_frame_column() {
        let rows = [[10.0, 20.0, 30.0, 40.0, 0.9, 0.0], [1.0, 2.0, 3.0, 4.0, 0.5, 32.0]];
        let dets = detections_from_rows("ball", &rows).unwrap();
        assert_eq!(dets[0], Detection { bbox: BBox::new(10.0, 20.0, 30.0, 40.0), score: 0.9, class_id: 0 });
        assert_eq!(dets[1].class_id, 32);
        assert!(detections_from_rows("players", &[]).unwrap().is_empty());
        for (row, want) in [
            ([0.0, 0.0, 1.0, 1.0, f64::NAN, 0.0], "score: expected a finite number"),
            ([0.0, 0.0, 1.0, -1.0, 0.5, 0.0], "positive box size"),
            ([0.0, 0.0, 1.0, 1.0, 0.5, 0.5], "class: expected a whole number"),
        ] {
            let e = detections_from_rows("ball", &[rows[0], row]).unwrap_err();
            assert!(matches!(e, Error::Detections(DetectionsError::Row { table: "ball", row: 1, .. })), "{e}");
            assert!(e.to_string().contains(want), "{e}");
        }
    }

    #[test]
    fn team_column_values_are_teams_or_unknown() {
        let teams = teams_from_column("players", &[0.0, 1.0, -1.0, -0.0]).unwrap();
        assert_eq!(teams, [Some(0), Some(1), None, Some(0)]);
        for (i, bad) in [2.0, 0.5, -2.0, f64::NAN, f64::INFINITY].into_iter().enumerate() {
            let e = teams_from_column("players", &[1.0, bad]).unwrap_err();
            assert!(matches!(e, Error::Detections(DetectionsError::Row { table: "players", row: 1, .. })), "{i}: {e}");
            assert!(e.to_string().contains("team: expected 0, 1 or -1 (unknown)"), "{e}");
        }
    }

    #[test]
    fn homography_files_static_and_per_frame() {
        let dir = tempfile::tempdir().unwrap();
        let p = write(
            dir.path(),
            "h.json",
            r#"{"image_to_pitch": [[0.1,0,-50],[0,0.1,-30],[0,0,1]], "pitch_length": 100}"#,
        );
        let h = HomographyFile::load(&p).unwrap();
        assert_eq!(h.for_frame(0), h.for_frame(1000));
        assert_eq!(h.pitch_length, 100.0);
        assert_eq!(h.pitch_width, 68.0);
        let p =
            write(dir.path(), "f.json", r#"{"frames": [{"frame": 2, "image_to_pitch": [[1,0,0],[0,1,0],[0,0,1]]}]}"#);
        let h = HomographyFile::load(&p).unwrap();
        assert_eq!(h.for_frame(0), None);
        assert_eq!(h.for_frame(1), Some([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]]));
        for bad in [
            r#"{"image_to_pitch": [[0,0,0],[0,0,0],[0,0,0]]}"#,
            r#"{}"#,
            r#"{"image_to_pitch": [[1,0,0],[0,1,0],[0,0,1]], "extra": 1}"#,
            r#"{"frames": [{"frame": 0, "image_to_pitch": [[1,0,0],[0,1,0],[0,0,1]]}]}"#,
            "not json",
        ] {
            let p = write(dir.path(), "bad.json", bad);
            assert!(
                matches!(HomographyFile::load(&p), Err(Error::Detections(DetectionsError::Homography { .. }))),
                "{bad}"
            );
        }
        // A missing file is not a malformed one: the bindings raise FileNotFoundError / NOT_FOUND.
        let missing = HomographyFile::load(&dir.path().join("missing.json")).unwrap_err();
        assert!(matches!(missing, Error::Detections(DetectionsError::HomographyNotFound(_))), "{missing}");
        assert_eq!(missing.kind(), crate::ErrorKind::NotFound);
        assert!(missing.to_string().contains("homography file not found"), "{missing}");
    }

    #[test]
    fn player_detections_file_stage_fills_players_and_teams_of_each_frame() {
        let dir = tempfile::tempdir().unwrap();
        let p = write(
            dir.path(),
            "d.txt",
            "1,-1,10,20,30,40,0.9,0,-1,-1\n1,-1,50,20,30,40,0.8,1,-1,-1\n3,-1,12,20,30,40,0.7,-1,-1,-1\n",
        );
        let mut stage = PlayerDetectionsFile::open(&p).unwrap();
        assert!(stage.has_teams());
        assert_eq!(stage.name(), "player_detections_file");
        assert_eq!(stage.provides(), vec![Artifact::PLAYER_DETECTIONS, Artifact::PLAYER_TEAMS]);
        let ctx = StageContext::standalone("player_detections_file", VideoInfo::default());
        let batch = |idx: &[u64]| FrameBatch {
            items: idx.iter().map(|&index| FrameItem::new(FrameRecord { index, ..Default::default() }, None)).collect(),
            ..Default::default()
        };
        let summary = |b: &FrameBatch| -> Vec<(usize, Vec<Option<u32>>)> {
            b.items
                .iter()
                .map(|i| (i.record.players.as_ref().unwrap().len(), i.record.player_teams.clone().unwrap()))
                .collect()
        };
        let mut first = batch(&[0, 1]);
        stage.process(&mut first, &ctx).unwrap();
        assert_eq!(summary(&first), vec![(2, vec![Some(0), Some(1)]), (0, vec![])]);
        assert_eq!(first.items[0].record.players.as_ref().unwrap()[1].bbox, BBox::new(50.0, 20.0, 30.0, 40.0));
        // Frame 3 of the file, then frames past its end; then the first batch again (a retry
        // or a resume from an earlier checkpoint) reads the file afresh.
        let mut second = batch(&[2, 3]);
        stage.process(&mut second, &ctx).unwrap();
        assert_eq!(summary(&second), vec![(1, vec![None]), (0, vec![])]);
        let mut again = batch(&[0, 1]);
        stage.process(&mut again, &ctx).unwrap();
        assert_eq!(summary(&again), summary(&first));
        // A file without teams provides none; a missing file and a bad line are typed errors.
        let plain = write(dir.path(), "p.txt", "1,-1,10,20,30,40,0.9,-1,-1,-1\n");
        assert_eq!(PlayerDetectionsFile::open(&plain).unwrap().provides(), vec![Artifact::PLAYER_DETECTIONS]);
        let e = PlayerDetectionsFile::open(&dir.path().join("none.txt")).err().unwrap();
        assert!(matches!(e, Error::Detections(DetectionsError::NotFound(_))), "{e}");
        let bad = write(dir.path(), "b.txt", "1,-1,10,20,-30,40,0.9\n");
        let mut stage = PlayerDetectionsFile::open(&bad).unwrap();
        let mut b = batch(&[0]);
        let e = stage.process(&mut b, &ctx).unwrap_err();
        assert!(matches!(e, Error::Detections(DetectionsError::Parse { line: 1, .. })), "{e}");
        assert_eq!(b.items[0].record.players, None, "nothing written on failure");
    }
}
