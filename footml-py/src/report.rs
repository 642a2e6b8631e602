//! `footml.Report`: the core `MatchReport`, Rust-owned, with typed attributes and the
//! per-frame tables as NumPy arrays.

use std::path::PathBuf;

use footml::config::ReportTables;
use footml::types::BallState;
use footml::{Calibration, ErrorKind, MatchReport};
use ndarray::Array2;
use numpy::{IntoPyArray, PyArray2};
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyDict, PyList};

use crate::errors::{Kind, new_err, to_py_err};
use crate::json;

/// Columns of `Report.tracks`.
const TRACK_COLUMNS: [&str; 9] = ["frame", "track_id", "x", "y", "w", "h", "score", "pitch_x", "pitch_y"];
/// Columns of `Report.ball`.
const BALL_COLUMNS: [&str; 7] = ["frame", "x", "y", "pitch_x", "pitch_y", "occluded", "interpolated"];
/// Columns of `Report.calibration`: the frame, its homography row-major (`h11` … `h33`), the
/// source (an index into `CALIBRATION_SOURCES`, NaN when a user stage did not say) and the
/// source's details (NaN where they do not apply).
const CALIBRATION_COLUMNS: [&str; 15] = [
    "frame",
    "h11",
    "h12",
    "h13",
    "h21",
    "h22",
    "h23",
    "h31",
    "h32",
    "h33",
    "source",
    "keypoints",
    "inliers",
    "rms_error_m",
    "from_frame",
];
/// Names of the `source` codes of `Report.calibration`, by code.
const CALIBRATION_SOURCES: [&str; 3] = ["given", "keypoints", "reused"];
/// Tables `to_pandas` knows.
const TABLES: [&str; 9] =
    ["tracks", "ball", "calibration", "events", "formations", "players", "teams", "possession", "possession_phases"];

/// The report of a run. Sections are attributes (dicts and lists of dicts, as in
/// `report.json`); `tracks` and `ball` are 2-D float64 NumPy arrays (columns in
/// `TRACK_COLUMNS` / `BALL_COLUMNS`, NaN where a frame is not calibrated).
#[pyclass(module = "footml", frozen, name = "Report")]
pub(crate) struct PyReport {
    report: MatchReport,
    tracks: PyOnceLock<Py<PyArray2<f64>>>,
    ball: PyOnceLock<Py<PyArray2<f64>>>,
    calibration: PyOnceLock<Py<PyArray2<f64>>>,
}

impl PyReport {
    pub(crate) fn new(report: MatchReport) -> Self {
        PyReport { report, tracks: PyOnceLock::new(), ball: PyOnceLock::new(), calibration: PyOnceLock::new() }
    }

    /// A section of the report as Python values (through JSON, which is what the report's
    /// sections are defined by).
    fn section<'py>(&self, py: Python<'py>, value: &impl serde::Serialize) -> PyResult<Bound<'py, PyAny>> {
        let text = serde_json::to_string(value)
            .map_err(|e| new_err(py, Kind::Report, format!("report section to JSON: {e}")))?;
        json::loads(py, &text)
    }
}

/// A `(rows, columns)` array that takes over `values` (row-major) without copying it. It is
/// read-only: the report hands out this one array on every access, so a caller's edit would
/// otherwise change what the next `report.tracks` returns (`.copy()` gives a writable one).
/// `fill` makes the values with the GIL released: a whole match has millions of rows.
fn table(py: Python<'_>, columns: usize, fill: impl FnOnce() -> Vec<f64> + Send) -> PyResult<Py<PyArray2<f64>>> {
    let values = py.detach(fill);
    let rows = values.len() / columns;
    let array = Array2::from_shape_vec((rows, columns), values)
        .map_err(|e| pyo3::exceptions::PyRuntimeError::new_err(format!("table shape: {e}")))?;
    let array = array.into_pyarray(py);
    let kwargs = pyo3::types::PyDict::new(py);
    kwargs.set_item("write", false)?;
    array.call_method("setflags", (), Some(&kwargs))?;
    Ok(array.unbind())
}

fn pitch_or_nan(p: Option<[f64; 2]>) -> [f64; 2] {
    p.unwrap_or([f64::NAN, f64::NAN])
}

#[pymethods]
impl PyReport {
    /// Column names of `tracks`.
    #[classattr]
    const TRACK_COLUMNS: [&'static str; 9] = TRACK_COLUMNS;
    /// Column names of `ball`.
    #[classattr]
    const BALL_COLUMNS: [&'static str; 7] = BALL_COLUMNS;
    /// Column names of `calibration`.
    #[classattr]
    const CALIBRATION_COLUMNS: [&'static str; 15] = CALIBRATION_COLUMNS;
    /// What the `source` codes of `calibration` mean, by code.
    #[classattr]
    const CALIBRATION_SOURCES: [&'static str; 3] = CALIBRATION_SOURCES;

    /// One row per track per frame: frame, track_id, x, y, w, h, score, pitch_x, pitch_y.
    #[getter]
    fn tracks<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyArray2<f64>>> {
        let report = &self.report;
        let array = self.tracks.get_or_try_init(py, || {
            table(py, TRACK_COLUMNS.len(), || {
                let n: usize = report.tracks.iter().map(|t| t.frames.len()).sum();
                let mut v = Vec::with_capacity(n * TRACK_COLUMNS.len());
                for t in &report.tracks {
                    for f in &t.frames {
                        let [x, y, w, h] = f.bbox;
                        let [px, py_] = pitch_or_nan(f.pitch);
                        v.extend([f.frame as f64, t.track_id as f64, x as f64, y as f64, w as f64, h as f64]);
                        v.extend([f.score as f64, px, py_]);
                    }
                }
                v
            })
        })?;
        Ok(array.bind(py).clone())
    }

    /// One row per frame with a ball position: frame, x, y, pitch_x, pitch_y, occluded (0/1),
    /// interpolated (0/1).
    #[getter]
    fn ball<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyArray2<f64>>> {
        let report = &self.report;
        let array = self.ball.get_or_try_init(py, || {
            table(py, BALL_COLUMNS.len(), || {
                let mut v = Vec::with_capacity(report.ball.len() * BALL_COLUMNS.len());
                for b in &report.ball {
                    let [px, py_] = pitch_or_nan(b.pitch);
                    let occluded = if b.state == BallState::Tracked { 0.0 } else { 1.0 };
                    v.extend([b.frame as f64, b.x as f64, b.y as f64, px, py_, occluded, b.interpolated as u8 as f64]);
                }
                v
            })
        })?;
        Ok(array.bind(py).clone())
    }

    /// One row per calibrated frame: frame, h11 … h33 (the image → pitch homography,
    /// row-major), source (index into `CALIBRATION_SOURCES`), keypoints, inliers, rms_error_m
    /// (keypoint fits) and from_frame (reused fits); NaN where a value does not apply.
    #[getter]
    fn calibration<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyArray2<f64>>> {
        let report = &self.report;
        let array = self.calibration.get_or_try_init(py, || {
            table(py, CALIBRATION_COLUMNS.len(), || {
                let mut v = Vec::with_capacity(report.calibration.len() * CALIBRATION_COLUMNS.len());
                for c in &report.calibration {
                    v.push(c.frame as f64);
                    v.extend(c.image_to_pitch.iter().flatten());
                    let nan = f64::NAN;
                    v.extend(match c.calibration {
                        Some(Calibration::Given) => [0.0, nan, nan, nan, nan],
                        Some(Calibration::Keypoints { keypoints, inliers, rms_error_m }) => {
                            [1.0, keypoints as f64, inliers as f64, rms_error_m, nan]
                        }
                        Some(Calibration::Reused { from_frame }) => [2.0, nan, nan, nan, from_frame as f64],
                        None => [nan; 5],
                    });
                }
                v
            })
        })?;
        Ok(array.bind(py).clone())
    }

    /// The run's id.
    #[getter]
    fn pipeline_id(&self) -> &str {
        &self.report.pipeline_id
    }
    /// footml version that wrote the report.
    #[getter]
    fn footml_version(&self) -> &str {
        &self.report.footml_version
    }
    /// Report layout version.
    #[getter]
    fn schema_version(&self) -> u32 {
        self.report.schema_version
    }
    /// Frames the input should have had but that could not be decoded.
    #[getter]
    fn frames_lost(&self) -> u64 {
        self.report.frames_lost
    }
    /// Pipeline events that could not be delivered to a sink.
    #[getter]
    fn events_dropped(&self) -> u64 {
        self.report.events_dropped
    }
    /// The input: path, fps, width, height, duration_s, frame_count, codec.
    #[getter]
    fn video<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.section(py, &self.report.video)
    }
    /// Each stage's outcome: name, status, duration_s, frames, attempts.
    #[getter]
    fn stages<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.section(py, &self.report.stages)
    }
    /// Teams: id, colour, track_ids.
    #[getter]
    fn teams<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.section(py, &self.report.teams)
    }
    /// Team in possession per frame (None where nobody has the ball).
    #[getter]
    fn possession<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.section(py, &self.report.possession)
    }
    /// Player track controlling the ball per frame (None while it is loose or out).
    #[getter]
    fn ball_owner<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.section(py, &self.report.ball_owner)
    }
    /// Team possession phases: team, from_frame, to_frame.
    #[getter]
    fn possession_phases<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.section(py, &self.report.possession_phases)
    }
    /// Match events: type, frame, time_s, team, from_track, to_track, pitch, details.
    #[getter]
    fn events<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.section(py, &self.report.events)
    }
    /// Formations: team, from_frame, to_frame, formation, confidence.
    #[getter]
    fn formations<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.section(py, &self.report.formations)
    }
    /// Physical metrics: {"players": [...], "teams": [...]}.
    #[getter]
    fn metrics<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.section(py, &self.report.metrics)
    }
    /// Files written beside the report, by kind.
    #[getter]
    fn outputs<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.section(py, &self.report.outputs)
    }
    /// Match-level artifacts of user stages, by artifact name.
    #[getter]
    fn extra<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.section(py, &self.report.extra)
    }
    /// Per-frame artifacts of user streaming stages, by artifact name: lists of
    /// `{"frame": ..., "value": ...}` in frame order.
    #[getter]
    fn frame_extra<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.section(py, &self.report.frame_extra)
    }

    /// The whole report as a dict (what `report.json` holds).
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.section(py, &self.report)
    }

    /// A top-level section by its `report.json` key (`report["tracks"]` is the JSON form).
    fn __getitem__<'py>(&self, py: Python<'py>, key: &str) -> PyResult<Bound<'py, PyAny>> {
        self.to_dict(py)?.get_item(key)
    }

    /// The report as `report.json` text (`indent` spaces per level, compact when None).
    #[pyo3(signature = (indent = None))]
    fn to_json(&self, py: Python<'_>, indent: Option<usize>) -> PyResult<String> {
        // A whole match's report is megabytes of JSON: written with the GIL released.
        let report = &self.report;
        let text = py.detach(|| match indent {
            None => serde_json::to_string(report),
            Some(n) => {
                let indent = " ".repeat(n);
                let mut out = Vec::new();
                let fmt = serde_json::ser::PrettyFormatter::with_indent(indent.as_bytes());
                let mut ser = serde_json::Serializer::with_formatter(&mut out, fmt);
                serde::Serialize::serialize(report, &mut ser).map(|_| String::from_utf8_lossy(&out).into_owned())
            }
        });
        text.map_err(|e| new_err(py, Kind::Report, format!("report to JSON: {e}")))
    }

    /// A report from `report.json` text (a `ReportError` when it is not one, or when it names
    /// per-frame tables in files beside it: read those with `Report.read(path)`).
    #[staticmethod]
    fn from_json(py: Python<'_>, text: &str) -> PyResult<Self> {
        // Parsed with the GIL released, like `to_json`.
        let report = py
            .detach(|| serde_json::from_str::<MatchReport>(text))
            .map_err(|e| new_err(py, Kind::Report, format!("not a footml report: {e}")))?;
        if !report.tables.is_empty() {
            let names: Vec<&str> = report.tables.values().map(String::as_str).collect();
            return Err(new_err(
                py,
                Kind::Report,
                format!(
                    "the report keeps its per-frame rows in files beside it ({}): read it with Report.read(path)",
                    names.join(", ")
                ),
            ));
        }
        Ok(PyReport::new(report))
    }

    /// The report in the `report.json` at `path`, with the per-frame tables it names (Parquet
    /// files beside it, `report_tables: "parquet"`) loaded: the same report either way.
    /// Raises `InputNotFoundError` for a missing report or table, `ReportError` for one that
    /// is not a footml report or table, `FileError` when a file cannot be read.
    #[staticmethod]
    fn read(py: Python<'_>, path: PathBuf) -> PyResult<Self> {
        py.detach(|| MatchReport::read_json(&path)).map(PyReport::new).map_err(|e| {
            let kind = match &e {
                footml::Error::Io { source, .. } if source.kind() == std::io::ErrorKind::NotFound => {
                    Kind::InputNotFound
                }
                e if matches!(e.kind(), ErrorKind::NotFound) => Kind::InputNotFound,
                footml::Error::Io { .. } => Kind::File,
                _ => Kind::Report,
            };
            new_err(py, kind, e.to_string())
        })
    }

    /// Writes the report to `path` (`report.json`): whole with `tables="inline"`; with
    /// `tables="parquet"` its per-frame rows go into Parquet files beside it, which it names
    /// (see the README's "Per-frame tables in Parquet"). `ConfigError` for another `tables`,
    /// `FileError` when a file cannot be written.
    #[pyo3(signature = (path, tables = "inline"))]
    fn write(&self, py: Python<'_>, path: PathBuf, tables: &str) -> PyResult<()> {
        let tables: ReportTables = serde_json::from_value(serde_json::Value::String(tables.to_string()))
            .map_err(|e| new_err(py, Kind::Config, format!("tables: {e}")))?;
        let report = &self.report;
        py.detach(|| report.write(&path, tables)).map_err(|e| to_py_err(py, &e))
    }

    /// One table as a pandas DataFrame: `tracks`, `ball`, `calibration` (sources by name),
    /// `events`, `formations`, `players` (player metrics, without heatmaps), `teams` (team
    /// metrics), `possession` (frame, team, ball_owner) or `possession_phases`.
    /// Raises ImportError when pandas is not installed.
    #[pyo3(signature = (table = "tracks"))]
    fn to_pandas<'py>(&self, py: Python<'py>, table: &str) -> PyResult<Bound<'py, PyAny>> {
        if !TABLES.contains(&table) {
            return Err(pyo3::exceptions::PyValueError::new_err(format!(
                "unknown table `{table}`: expected one of {}",
                TABLES.join(", ")
            )));
        }
        let pandas = py.import("pandas").map_err(|e| {
            pyo3::exceptions::PyImportError::new_err(format!(
                "Report.to_pandas needs pandas, which is not installed (pip install pandas): {e}"
            ))
        })?;
        let frame = pandas.getattr("DataFrame")?;
        let kwargs = PyDict::new(py);
        let data = match table {
            "tracks" | "ball" => {
                let (array, columns, ints): (_, &[&str], &[&str]) = if table == "tracks" {
                    (self.tracks(py)?, &TRACK_COLUMNS, &["frame", "track_id"])
                } else {
                    (self.ball(py)?, &BALL_COLUMNS, &["frame"])
                };
                kwargs.set_item("columns", PyList::new(py, columns)?)?;
                let df = frame.call((array,), Some(&kwargs))?;
                let types = PyDict::new(py);
                for c in ints {
                    types.set_item(c, "int64")?;
                }
                if table == "ball" {
                    types.set_item("occluded", "bool")?;
                    types.set_item("interpolated", "bool")?;
                }
                return df.call_method1("astype", (types,));
            }
            "calibration" => {
                kwargs.set_item("columns", PyList::new(py, CALIBRATION_COLUMNS)?)?;
                let df = frame.call((self.calibration(py)?,), Some(&kwargs))?;
                let types = PyDict::new(py);
                types.set_item("frame", "int64")?;
                let df = df.call_method1("astype", (types,))?;
                let names = PyDict::new(py);
                for (code, name) in CALIBRATION_SOURCES.iter().enumerate() {
                    names.set_item(code as f64, name)?;
                }
                // `assign` (a new frame) rather than setting the column in place, which pandas
                // takes for chained assignment when it comes from C.
                let assigned = PyDict::new(py);
                assigned.set_item("source", df.get_item("source")?.call_method1("map", (names,))?)?;
                return df.call_method("assign", (), Some(&assigned));
            }
            "events" => self.events(py)?,
            "formations" => self.formations(py)?,
            "players" => {
                let players: Vec<serde_json::Value> = self
                    .report
                    .metrics
                    .players
                    .iter()
                    .map(|p| {
                        let mut v = serde_json::to_value(p).unwrap_or_default();
                        if let Some(o) = v.as_object_mut() {
                            o.remove("heatmap");
                        }
                        v
                    })
                    .collect();
                self.section(py, &players)?
            }
            "teams" => self.section(py, &self.report.metrics.teams)?,
            "possession_phases" => self.section(py, &self.report.possession_phases)?,
            _ => {
                let owner = |frame: usize| self.report.ball_owner.get(frame).copied().flatten();
                let rows: Vec<(usize, Option<u32>, Option<u64>)> = self
                    .report
                    .possession
                    .iter()
                    .enumerate()
                    .map(|(frame, team)| (frame, *team, owner(frame)))
                    .collect();
                kwargs.set_item("columns", PyList::new(py, ["frame", "team", "ball_owner"])?)?;
                return frame.call((self.section(py, &rows)?,), Some(&kwargs));
            }
        };
        frame.call1((data,))
    }

    fn __repr__(&self) -> String {
        format!(
            "<footml.Report {}: {} frames, {} tracks, {} ball frames, {} events>",
            self.report.pipeline_id,
            self.report.video.frame_count.unwrap_or(0),
            self.report.tracks.len(),
            self.report.ball.len(),
            self.report.events.len()
        )
    }
}
