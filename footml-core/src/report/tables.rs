//! The report's per-frame tables as Parquet files beside `report.json`
//! (`report_tables: "parquet"`).
//!
//! | file | one row per | columns |
//! |---|---|---|
//! | `tracks.parquet` | track per frame (by track id, then frame) | `frame` u64, `track_id` u64, `x` `y` `w` `h` f32 (box, pixels), `score` f32, `pitch_x` `pitch_y` f64 (feet on the pitch, m; null when uncalibrated) |
//! | `ball.parquet` | frame with a ball position | `frame` u64, `x` `y` f32 (centre, pixels), `pitch_x` `pitch_y` f64 (null when uncalibrated), `state` string (`tracked`, `occluded`), `interpolated` bool |
//! | `possession.parquet` | frame, from 0 | `frame` u64, `team` u32 (null: nobody), `ball_owner` u64 (null: loose) |
//! | `calibration.parquet` | calibrated frame | `frame` u64, `h11` … `h33` f64 (image → pitch homography, row-major), `source` string (`given`, `keypoints`, `reused`; null when a user stage did not say), `keypoints` `inliers` u32, `rms_error_m` f64 (keypoint fits), `from_frame` u64 (reused fits); null where they do not apply |
//! | `frame_extra.parquet` | user per-frame artifact per frame | `artifact` string, `frame` u64, `value` string (the JSON value) |
//!
//! Team and role of a track stay in `report.json`'s `tracks` (join on `track_id`). The
//! tracks, ball and calibration columns are those of the Python `Report.to_pandas` tables.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use super::columnar::{self, Kind, Spec, Values, opt, req};
use super::{BallFrame, CalibrationFrame, FrameExtra, MatchReport, ReportError, TrackFrame};
use crate::types::{BallState, Calibration};

/// `tracks.parquet`.
const TRACKS: [Spec; 9] = [
    req("frame", Kind::U64),
    req("track_id", Kind::U64),
    req("x", Kind::F32),
    req("y", Kind::F32),
    req("w", Kind::F32),
    req("h", Kind::F32),
    req("score", Kind::F32),
    opt("pitch_x", Kind::F64),
    opt("pitch_y", Kind::F64),
];
/// `ball.parquet`.
const BALL: [Spec; 7] = [
    req("frame", Kind::U64),
    req("x", Kind::F32),
    req("y", Kind::F32),
    opt("pitch_x", Kind::F64),
    opt("pitch_y", Kind::F64),
    req("state", Kind::Str),
    req("interpolated", Kind::Bool),
];
/// `possession.parquet`.
const POSSESSION: [Spec; 3] = [req("frame", Kind::U64), opt("team", Kind::U32), opt("ball_owner", Kind::U64)];
/// `calibration.parquet`.
const CALIBRATION: [Spec; 15] = [
    req("frame", Kind::U64),
    req("h11", Kind::F64),
    req("h12", Kind::F64),
    req("h13", Kind::F64),
    req("h21", Kind::F64),
    req("h22", Kind::F64),
    req("h23", Kind::F64),
    req("h31", Kind::F64),
    req("h32", Kind::F64),
    req("h33", Kind::F64),
    opt("source", Kind::Str),
    opt("keypoints", Kind::U32),
    opt("inliers", Kind::U32),
    opt("rms_error_m", Kind::F64),
    opt("from_frame", Kind::U64),
];
/// `frame_extra.parquet`.
const FRAME_EXTRA: [Spec; 3] = [req("artifact", Kind::Str), req("frame", Kind::U64), req("value", Kind::Str)];

/// The tables, by the name `report.json` gives them, with their files and columns.
pub(crate) const TABLES: [(&str, &str, &[Spec]); 5] = [
    ("tracks", "tracks.parquet", &TRACKS),
    ("ball", "ball.parquet", &BALL),
    ("possession", "possession.parquet", &POSSESSION),
    ("calibration", "calibration.parquet", &CALIBRATION),
    ("frame_extra", "frame_extra.parquet", &FRAME_EXTRA),
];

/// A required column's values (the reader guarantees no nulls in them).
fn dense<T: Default>(v: Vec<Option<T>>) -> Vec<T> {
    v.into_iter().map(Option::unwrap_or_default).collect()
}

fn pitch_columns<'a>(pitch: impl Iterator<Item = &'a Option<[f64; 2]>> + Clone) -> [Values; 2] {
    [
        Values::F64(pitch.clone().map(|p| p.map(|p| p[0])).collect()),
        Values::F64(pitch.map(|p| p.map(|p| p[1])).collect()),
    ]
}

fn state_name(s: BallState) -> &'static str {
    match s {
        BallState::Tracked => "tracked",
        BallState::Occluded => "occluded",
        BallState::Lost => "lost",
    }
}

/// The columns of each table of `report`, in [`TABLES`] order.
fn columns(report: &MatchReport) -> Result<[Vec<Values>; 5], ReportError> {
    let rows: Vec<(u64, &TrackFrame)> =
        report.tracks.iter().flat_map(|t| t.frames.iter().map(move |f| (t.track_id, f))).collect();
    let [px, py] = pitch_columns(rows.iter().map(|(_, f)| &f.pitch));
    let mut tracks = vec![
        Values::U64(rows.iter().map(|(_, f)| Some(f.frame)).collect()),
        Values::U64(rows.iter().map(|(id, _)| Some(*id)).collect()),
    ];
    tracks.extend((0..4).map(|i| Values::F32(rows.iter().map(|(_, f)| Some(f.bbox[i])).collect())));
    tracks.extend([Values::F32(rows.iter().map(|(_, f)| Some(f.score)).collect()), px, py]);

    let b = &report.ball;
    let [px, py] = pitch_columns(b.iter().map(|b| &b.pitch));
    let ball = vec![
        Values::U64(b.iter().map(|b| Some(b.frame)).collect()),
        Values::F32(b.iter().map(|b| Some(b.x)).collect()),
        Values::F32(b.iter().map(|b| Some(b.y)).collect()),
        px,
        py,
        Values::Str(b.iter().map(|b| Some(state_name(b.state).to_string())).collect()),
        Values::Bool(b.iter().map(|b| Some(b.interpolated)).collect()),
    ];

    let (p, o) = (&report.possession, &report.ball_owner);
    if !p.is_empty() && !o.is_empty() && p.len() != o.len() {
        return Err(ReportError::Unwritable(format!(
            "possession has {} frames but ball_owner has {}: the possession table has one row per frame for both",
            p.len(),
            o.len()
        )));
    }
    let n = p.len().max(o.len());
    let possession = vec![
        Values::U64((0..n as u64).map(Some).collect()),
        Values::U32((0..n).map(|i| p.get(i).copied().flatten()).collect()),
        Values::U64((0..n).map(|i| o.get(i).copied().flatten()).collect()),
    ];

    let c = &report.calibration;
    let mut calibration = vec![Values::U64(c.iter().map(|c| Some(c.frame)).collect())];
    calibration.extend((0..9).map(|i| Values::F64(c.iter().map(|c| Some(c.image_to_pitch[i / 3][i % 3])).collect())));
    // source, keypoints, inliers, rms_error_m, from_frame.
    type Source = (Option<&'static str>, Option<u32>, Option<u32>, Option<f64>, Option<u64>);
    let sources: Vec<Source> = c
        .iter()
        .map(|c| match c.calibration {
            None => (None, None, None, None, None),
            Some(Calibration::Given) => (Some("given"), None, None, None, None),
            Some(Calibration::Keypoints { keypoints, inliers, rms_error_m }) => {
                (Some("keypoints"), Some(keypoints), Some(inliers), Some(rms_error_m), None)
            }
            Some(Calibration::Reused { from_frame }) => (Some("reused"), None, None, None, Some(from_frame)),
        })
        .collect();
    calibration.extend([
        Values::Str(sources.iter().map(|s| s.0.map(str::to_string)).collect()),
        Values::U32(sources.iter().map(|s| s.1).collect()),
        Values::U32(sources.iter().map(|s| s.2).collect()),
        Values::F64(sources.iter().map(|s| s.3).collect()),
        Values::U64(sources.iter().map(|s| s.4).collect()),
    ]);

    let extra: Vec<(&String, &FrameExtra)> =
        report.frame_extra.iter().flat_map(|(name, rows)| rows.iter().map(move |r| (name, r))).collect();
    let frame_extra = vec![
        Values::Str(extra.iter().map(|(name, _)| Some(name.to_string())).collect()),
        Values::U64(extra.iter().map(|(_, r)| Some(r.frame)).collect()),
        Values::Str(extra.iter().map(|(_, r)| Some(r.value.to_string())).collect()),
    ];
    Ok([tracks, ball, possession, calibration, frame_extra])
}

/// Writes every table of `report` into `dir` (each file atomically) and returns the
/// `tables` section that names them.
pub(crate) fn write(report: &MatchReport, dir: &Path) -> crate::Result<BTreeMap<String, String>> {
    let columns = columns(report)?;
    // The tables are independent: encoded (and compressed) on one thread each.
    let written: Vec<crate::Result<()>> = std::thread::scope(|s| {
        let handles: Vec<_> = TABLES
            .iter()
            .zip(&columns)
            .map(|(&(_, file, specs), cols)| {
                s.spawn(move || {
                    let path = dir.join(file);
                    let bytes = columnar::encode(specs, cols)
                        .map_err(|e| ReportError::Unwritable(format!("{}: {e}", path.display())))?;
                    super::write_atomic(&path, &bytes)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_else(|_| Err(ReportError::Unwritable("table encoder panicked".into()).into())))
            .collect()
    });
    written.into_iter().collect::<crate::Result<Vec<()>>>()?;
    Ok(TABLES.iter().map(|(name, file, _)| (name.to_string(), file.to_string())).collect())
}

/// Fills the per-frame sections of `report` (read from `report.json` in `dir`, whose
/// `tables` names the files) from its tables, and empties `tables`.
pub(crate) fn load(report: &mut MatchReport, json: &Path, dir: &Path) -> crate::Result<()> {
    let named = std::mem::take(&mut report.tables);
    let bad_report = |message: String| ReportError::BadReport { path: json.to_path_buf(), message };
    let mut read = Vec::new();
    for (name, file) in &named {
        let Some(&(_, _, specs)) = TABLES.iter().find(|(n, _, _)| n == name) else {
            let known: Vec<&str> = TABLES.iter().map(|t| t.0).collect();
            return Err(bad_report(format!("unknown table `{name}` in `tables` (known: {})", known.join(", "))).into());
        };
        let inline = match name.as_str() {
            "tracks" => report.tracks.iter().any(|t| !t.frames.is_empty()),
            "ball" => !report.ball.is_empty(),
            "possession" => !report.possession.is_empty() || !report.ball_owner.is_empty(),
            "calibration" => !report.calibration.is_empty(),
            _ => !report.frame_extra.is_empty(),
        };
        if inline {
            return Err(bad_report(format!("`{name}` has rows both inline and in the table {file}")).into());
        }
        read.push((name.as_str(), dir.join(file), specs));
    }
    // Decoded on one thread each, like they were written.
    let decoded: Vec<crate::Result<Vec<Values>>> = std::thread::scope(|s| {
        let handles: Vec<_> =
            read.iter().map(|(_, path, specs)| s.spawn(move || columnar::read(path, specs))).collect();
        handles
            .into_iter()
            .zip(&read)
            .map(|(h, (_, path, _))| {
                h.join().unwrap_or_else(|_| {
                    Err(ReportError::BadTable { path: path.clone(), message: "its decoder panicked".into() }.into())
                })
            })
            .collect()
    });
    for ((name, path, _), cols) in read.iter().zip(decoded) {
        let bad = |message: String| ReportError::BadTable { path: path.clone(), message };
        let mut cols = cols?.into_iter();
        match *name {
            "tracks" => {
                let [frame, id] = [next::<u64>(&mut cols), next::<u64>(&mut cols)];
                let [x, y, w, h, score] = std::array::from_fn(|_| next::<f32>(&mut cols));
                let [px, py] = [next::<f64>(&mut cols), next::<f64>(&mut cols)];
                let index: HashMap<u64, usize> =
                    report.tracks.iter().enumerate().map(|(i, t)| (t.track_id, i)).collect();
                for (r, id) in dense(id).into_iter().enumerate() {
                    let &i = index
                        .get(&id)
                        .ok_or_else(|| bad(format!("row {r}: track {id} is not among report.json's tracks")))?;
                    report.tracks[i].frames.push(TrackFrame {
                        frame: frame[r].unwrap_or_default(),
                        bbox: [x[r], y[r], w[r], h[r]].map(Option::unwrap_or_default),
                        score: score[r].unwrap_or_default(),
                        pitch: pitch(px[r], py[r]),
                    });
                }
            }
            "ball" => {
                let frame = dense(next::<u64>(&mut cols));
                let [x, y] = [next::<f32>(&mut cols), next::<f32>(&mut cols)];
                let [px, py] = [next::<f64>(&mut cols), next::<f64>(&mut cols)];
                let state = dense(next::<String>(&mut cols));
                let interpolated = dense(next::<bool>(&mut cols));
                report.ball = (0..frame.len())
                    .map(|r| {
                        Ok(BallFrame {
                            frame: frame[r],
                            x: x[r].unwrap_or_default(),
                            y: y[r].unwrap_or_default(),
                            pitch: pitch(px[r], py[r]),
                            state: match state[r].as_str() {
                                "tracked" => BallState::Tracked,
                                "occluded" => BallState::Occluded,
                                "lost" => BallState::Lost,
                                other => return Err(bad(format!("row {r}: unknown ball state `{other}`"))),
                            },
                            interpolated: interpolated[r],
                        })
                    })
                    .collect::<Result<_, _>>()?;
            }
            "possession" => {
                let frame = dense(next::<u64>(&mut cols));
                if let Some(r) = frame.iter().enumerate().position(|(i, &f)| f != i as u64) {
                    return Err(bad(format!(
                        "row {r}: frame {} where {r} was expected (one row per frame from 0)",
                        frame[r]
                    ))
                    .into());
                }
                report.possession = next::<u32>(&mut cols);
                report.ball_owner = next::<u64>(&mut cols);
            }
            "calibration" => {
                let frame = dense(next::<u64>(&mut cols));
                let h: [Vec<f64>; 9] = std::array::from_fn(|_| dense(next::<f64>(&mut cols)));
                let source = next::<String>(&mut cols);
                let [keypoints, inliers] = [next::<u32>(&mut cols), next::<u32>(&mut cols)];
                let rms = next::<f64>(&mut cols);
                let from = next::<u64>(&mut cols);
                report.calibration = (0..frame.len())
                    .map(|r| {
                        let missing = |c: &str| bad(format!("row {r}: `{c}` is null for source `{:?}`", source[r]));
                        let calibration = match source[r].as_deref() {
                            None => None,
                            Some("given") => Some(Calibration::Given),
                            Some("keypoints") => Some(Calibration::Keypoints {
                                keypoints: keypoints[r].ok_or_else(|| missing("keypoints"))?,
                                inliers: inliers[r].ok_or_else(|| missing("inliers"))?,
                                rms_error_m: rms[r].ok_or_else(|| missing("rms_error_m"))?,
                            }),
                            Some("reused") => {
                                Some(Calibration::Reused { from_frame: from[r].ok_or_else(|| missing("from_frame"))? })
                            }
                            Some(other) => return Err(bad(format!("row {r}: unknown calibration source `{other}`"))),
                        };
                        let image_to_pitch = std::array::from_fn(|i| std::array::from_fn(|j| h[i * 3 + j][r]));
                        Ok(CalibrationFrame { frame: frame[r], image_to_pitch, calibration })
                    })
                    .collect::<Result<_, _>>()?;
            }
            _ => {
                let artifact = dense(next::<String>(&mut cols));
                let frame = dense(next::<u64>(&mut cols));
                let value = dense(next::<String>(&mut cols));
                for (r, name) in artifact.into_iter().enumerate() {
                    let value = serde_json::from_str(&value[r])
                        .map_err(|e| bad(format!("row {r}: `value` is not JSON: {e}")))?;
                    report.frame_extra.entry(name).or_default().push(FrameExtra { frame: frame[r], value });
                }
            }
        }
    }
    Ok(())
}

fn pitch(x: Option<f64>, y: Option<f64>) -> Option<[f64; 2]> {
    Some([x?, y?])
}

/// A value type of [`Values`].
trait Column: Sized {
    fn of(values: Values) -> Option<Vec<Option<Self>>>;
}

macro_rules! column {
    ($($t:ty => $variant:ident),*) => {$(
        impl Column for $t {
            fn of(values: Values) -> Option<Vec<Option<Self>>> {
                match values {
                    Values::$variant(v) => Some(v),
                    _ => None,
                }
            }
        }
    )*};
}
column!(u64 => U64, u32 => U32, f32 => F32, f64 => F64, bool => Bool, String => Str);

/// The next column of a table read with its specs: `columnar::read` checked the types, so a
/// mismatch cannot happen; it would read as an empty column (and fail the row checks).
fn next<T: Column>(cols: &mut impl Iterator<Item = Values>) -> Vec<Option<T>> {
    cols.next().and_then(T::of).unwrap_or_default()
}
