//! `footml.LiveSession`: frames pushed one at a time as NumPy arrays, each frame's results
//! (`footml.FrameResult`: tracks, their teams, ball, possession) returned at once (the core
//! `footml::live::LiveSession`).

use std::sync::Mutex;

use footml::live::{FrameResult, LiveFrame, LiveSession, PackedFormat, YuvColor, YuvMatrix};
use ndarray::Array2;
use numpy::{IntoPyArray, PyArray2, PyReadonlyArray2, PyReadonlyArray3, PyUntypedArray, PyUntypedArrayMethods};
use pyo3::prelude::*;

use crate::errors::{Kind, new_err, to_py_err};
use crate::pipeline::{config_object, float_rows, ndarray_of_shape, parse_config};
use crate::report::PyReport;

/// Columns of the array `push` returns.
const LIVE_COLUMNS: [&str; 8] = ["track_id", "x", "y", "w", "h", "score", "pitch_x", "pitch_y"];

/// Columns of the detection arrays `push_detections` takes.
const DETECTION_COLUMNS: [&str; 6] = ["x", "y", "w", "h", "score", "class"];
const DETECTIONS_SHAPE: &str = "(N, 6) (x, y, w, h, score, class)";
/// Players may carry a 7th column, the team each detection belongs to.
const PLAYERS_SHAPE: &str = "(N, 6) (x, y, w, h, score, class) or (N, 7) (..., team)";

/// One pushed frame's results: tracks, their teams, ball and possession.
#[pyclass(module = "footml", frozen, name = "FrameResult")]
pub(crate) struct PyFrameResult {
    /// The frame's index in the session, from 0.
    #[pyo3(get)]
    index: u64,
    /// The frame's timestamp as pushed, seconds.
    #[pyo3(get)]
    time_s: f64,
    tracks: Py<PyArray2<f64>>,
    /// The track id and team of each row of `tracks` (`None`: unknown, referee, or no teams).
    teams: Vec<(u64, Option<u32>)>,
    /// The role of each row of `tracks` (`None` when the session knows no teams).
    roles: Vec<Option<String>>,
    ball: Py<PyAny>,
    possession: Py<PyAny>,
}

impl PyFrameResult {
    fn new(py: Python<'_>, r: FrameResult) -> PyResult<Self> {
        let mut rows = Vec::with_capacity(r.tracks().len() * LIVE_COLUMNS.len());
        for t in r.tracks() {
            let [px, py_] = r.pitch_position(&t.bbox).unwrap_or([f64::NAN, f64::NAN]);
            let b = t.bbox;
            rows.extend([t.track_id as f64, b.x as f64, b.y as f64, b.w as f64, b.h as f64, t.score as f64, px, py_]);
        }
        let n = rows.len() / LIVE_COLUMNS.len();
        let tracks = Array2::from_shape_vec((n, LIVE_COLUMNS.len()), rows)
            .map_err(|e| pyo3::exceptions::PyRuntimeError::new_err(format!("tracks shape: {e}")))?;
        let to_py = |value: serde_json::Value| crate::json::loads(py, &value.to_string()).map(Bound::unbind);
        let ball = match r.ball() {
            Some(b) => {
                let mut v = serde_json::to_value(b).unwrap_or_default();
                let [px, py_] =
                    r.pitch_position(&footml::BBox::new(b.x, b.y, 0.0, 0.0)).map_or([None; 2], |p| p.map(Some));
                v["pitch_x"] = px.into();
                v["pitch_y"] = py_.into();
                to_py(v)?
            }
            None => py.None(),
        };
        let possession = match r.possession() {
            Some(p) => to_py(serde_json::to_value(p).unwrap_or_default())?,
            None => py.None(),
        };
        let teams = r.tracks().iter().map(|t| (t.track_id, r.team_of(t.track_id))).collect();
        // Parallel to the tracks when the session knows teams (FrameResult::teams is).
        let roles = match &r.teams {
            Some(entries) => entries
                .iter()
                .map(|t| serde_json::to_value(t.role).ok().and_then(|v| v.as_str().map(str::to_string)))
                .collect(),
            None => vec![None; r.tracks().len()],
        };
        Ok(PyFrameResult {
            index: r.index(),
            time_s: r.time_s(),
            tracks: tracks.into_pyarray(py).unbind(),
            teams,
            roles,
            ball,
            possession,
        })
    }
}

#[pymethods]
impl PyFrameResult {
    /// The frame's tracks, one row per confirmed track (columns in `LiveSession.COLUMNS`;
    /// NaN pitch where the frame is not calibrated).
    #[getter]
    fn tracks<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray2<f64>> {
        self.tracks.bind(py).clone()
    }

    /// The team (0 or 1) of each row of `tracks`, as far as the frames so far tell: the
    /// provisional live classification of kit colours (`live.teams`; `finish()` gives the
    /// whole-match vote), or the teams pushed with the detections; `None` while it warms up,
    /// for referees (by kit, or by the detection's class with `referee_class_ids`) and
    /// undecided tracks, and in detections sessions without teams.
    #[getter]
    fn teams(&self) -> Vec<Option<u32>> {
        self.teams.iter().map(|t| t.1).collect()
    }

    /// The role of each row of `tracks` as far as the frames so far tell: `"player"`,
    /// `"goalkeeper"`, `"referee"` or `"unknown"` (from the kit colours, or from the detections'
    /// classes with `player_detection.goalkeeper_class_ids` / `referee_class_ids`); `None` in
    /// sessions that know no teams.
    #[getter]
    fn roles(&self) -> Vec<Option<String>> {
        self.roles.clone()
    }

    /// The team (0 or 1) of the track `track_id` in this frame (see `teams`); `None` when it
    /// has none or is not in the frame.
    fn team_of(&self, track_id: u64) -> Option<u32> {
        self.teams.iter().find(|t| t.0 == track_id).and_then(|t| t.1)
    }

    /// The ball (`x`, `y`, `state`, `interpolated`, `score`, `pitch_x`, `pitch_y`, ...) when the
    /// pipeline tracks it, else `None`.
    #[getter]
    fn ball<'py>(&self, py: Python<'py>) -> Bound<'py, PyAny> {
        self.ball.bind(py).clone()
    }

    /// Who has the ball as far as the frames so far tell (`{"team": ..., "track_id": ...}`,
    /// each `None` when nobody or unknown; the team is the player's live team, see `teams`);
    /// `None` when the session does not estimate possession (no calibration or no ball).
    #[getter]
    fn possession<'py>(&self, py: Python<'py>) -> Bound<'py, PyAny> {
        self.possession.bind(py).clone()
    }

    fn __repr__(&self, py: Python<'_>) -> String {
        // Rows, not elements (`len()` of a 2-D array counts every value); the time as Python
        // prints a float.
        let tracks = self.tracks.bind(py).shape()[0];
        format!("FrameResult(index={}, time_s={:?}, tracks={tracks} rows)", self.index, self.time_s)
    }
}

/// A live feed: `push(frame, timestamp)` per frame, then `finish()` for the report.
#[pyclass(module = "footml", frozen, name = "LiveSession")]
pub(crate) struct PyLiveSession {
    session: Mutex<Option<LiveSession>>,
}

impl PyLiveSession {
    /// Runs `f` on the open session with the GIL released.
    fn with_session<T: Send>(
        &self,
        py: Python<'_>,
        f: impl FnOnce(&mut LiveSession) -> footml::Result<T> + Send,
    ) -> PyResult<T> {
        let result = py.detach(|| {
            let mut guard = self.session.lock().map_err(|_| "the session's lock was poisoned".to_string())?;
            match guard.as_mut() {
                Some(session) => Ok(f(session)),
                None => Err("the live session is closed: finish() was called".to_string()),
            }
        });
        match result {
            Ok(r) => r.map_err(|e| to_py_err(py, &e)),
            Err(message) => Err(new_err(py, Kind::Usage, message)),
        }
    }
}

#[pymethods]
impl PyLiveSession {
    /// Column names of the arrays `push` returns.
    #[classattr]
    const COLUMNS: [&'static str; 8] = LIVE_COLUMNS;

    /// Column names of the detection arrays `push_detections` takes.
    #[classattr]
    const DETECTION_COLUMNS: [&'static str; 6] = DETECTION_COLUMNS;

    /// Starts the standard live pipeline of `config` (a dict or JSON string with `fps`,
    /// `frame_size` and, for pixels, `stage_configs.player_detection.model_path`).
    #[new]
    fn new(py: Python<'_>, config: &Bound<'_, PyAny>) -> PyResult<Self> {
        if config.is_none() {
            return Err(pyo3::exceptions::PyTypeError::new_err("config must be a dict or a JSON string, found None"));
        }
        let config = parse_config(py, &config_object(py, Some(config))?)?;
        let session = py.detach(|| LiveSession::from_config(&config)).map_err(|e| to_py_err(py, &e))?;
        Ok(PyLiveSession { session: Mutex::new(Some(session)) })
    }

    /// Pushes one frame: a `uint8` array of shape `(height, width, 3)`, RGB (or BGR with
    /// `bgr=True`, OpenCV's order), C-contiguous or strided, taken at `timestamp` seconds.
    /// Returns that frame's `FrameResult`. Wrong type, dtype or shape: `ArrayError`; a frame of
    /// another size or a timestamp not after the last: `InvalidInputError`.
    #[pyo3(signature = (frame, timestamp, *, bgr = false))]
    fn push<'py>(
        &self,
        py: Python<'py>,
        frame: &Bound<'py, PyAny>,
        timestamp: f64,
        bgr: bool,
    ) -> PyResult<PyFrameResult> {
        let untyped = ndarray_of_shape(py, "frame", frame, (3, 3, "(height, width, 3)"))?;
        let pixels: PyReadonlyArray3<'_, u8> = frame.extract().map_err(|_| {
            let dtype = untyped.dtype().to_string();
            new_err(py, Kind::Array, format!("frame: expected dtype uint8, found {dtype}"))
        })?;
        let view = pixels.as_array();
        let (h, w) = (view.shape()[0], view.shape()[1]);
        // A C-contiguous frame is read in place; any other layout is copied once into rows.
        let copied: Option<Vec<u8>> =
            if view.as_slice().is_some() { None } else { Some(view.iter().copied().collect()) };
        let data: &[u8] = match &copied {
            Some(v) => v,
            None => view.as_slice().expect("checked contiguous"),
        };
        let format = if bgr { PackedFormat::Bgr24 } else { PackedFormat::Rgb24 };
        let (width, height) = (u32::try_from(w).unwrap_or(u32::MAX), u32::try_from(h).unwrap_or(u32::MAX));
        let result = self.with_session(py, |session| {
            session.push(LiveFrame::Packed { format, width, height, stride: w * 3, data, timestamp_s: timestamp })
        })?;
        PyFrameResult::new(py, result)
    }

    /// Pushes one planar YUV 4:2:0 (I420) frame in the layout OpenCV
    /// (`cv2.cvtColor(bgr, cv2.COLOR_BGR2YUV_I420)`) and PyAV
    /// (`frame.to_ndarray(format="yuv420p")`) give: a `uint8` array of shape
    /// `(height * 3 // 2, width)` holding the Y plane, then U, then V (`height/2 × width/2`
    /// samples each, row after row); width and height even. `matrix` is `"bt709"` (HD) or
    /// `"bt601"`, `full_range` False for limited range (Y 16–235). Taken at `timestamp` seconds;
    /// returns the frame's `FrameResult`. Wrong type, dtype or shape: `ArrayError`; another
    /// frame size, a timestamp not after the last or an unknown matrix: `InvalidInputError`.
    #[pyo3(signature = (frame, timestamp, *, matrix = "bt709", full_range = false))]
    fn push_yuv420(
        &self,
        py: Python<'_>,
        frame: &Bound<'_, PyAny>,
        timestamp: f64,
        matrix: &str,
        full_range: bool,
    ) -> PyResult<PyFrameResult> {
        const SHAPE: &str = "(height * 3 // 2, width) with even height and width";
        let untyped = frame.cast::<PyUntypedArray>().map_err(|_| {
            let found = frame.get_type().name().map(|n| n.to_string()).unwrap_or_default();
            new_err(py, Kind::Array, format!("frame: expected a numpy.ndarray of shape {SHAPE}, found {found}"))
        })?;
        let shape = untyped.shape().to_vec();
        if shape.len() != 2 || shape[0] == 0 || shape[0] % 3 != 0 || shape[1] == 0 || shape[1] % 2 != 0 {
            return Err(new_err(py, Kind::Array, format!("frame: expected shape {SHAPE}, found {shape:?}")));
        }
        let pixels: PyReadonlyArray2<'_, u8> = frame.extract().map_err(|_| {
            let dtype = untyped.dtype().to_string();
            new_err(py, Kind::Array, format!("frame: expected dtype uint8, found {dtype}"))
        })?;
        let matrix = match matrix {
            "bt709" => YuvMatrix::Bt709,
            "bt601" => YuvMatrix::Bt601,
            other => {
                return Err(new_err(
                    py,
                    Kind::InvalidInput,
                    format!("matrix: expected 'bt709' or 'bt601', found '{other}'"),
                ));
            }
        };
        let view = pixels.as_array();
        // The planes are read in place from a C-contiguous array, else from one copy.
        let copied: Vec<u8>;
        let data: &[u8] = match view.as_slice() {
            Some(s) => s,
            None => {
                copied = view.iter().copied().collect();
                &copied
            }
        };
        let (w, h) = (shape[1], shape[0] / 3 * 2);
        let (luma, chroma) = (w * h, (w / 2) * (h / 2));
        let planes = [&data[..luma], &data[luma..luma + chroma], &data[luma + chroma..]];
        let (width, height) = (u32::try_from(w).unwrap_or(u32::MAX), u32::try_from(h).unwrap_or(u32::MAX));
        let result = self.with_session(py, |session| {
            session.push(LiveFrame::Yuv420p {
                width,
                height,
                planes,
                strides: [w, w / 2, w / 2],
                color: YuvColor { matrix, full_range },
                timestamp_s: timestamp,
            })
        })?;
        PyFrameResult::new(py, result)
    }

    /// Pushes one frame of detections made elsewhere (a session with `live.input`
    /// `"detections"`, or `"auto"` without a model): `players` and `ball` (candidates; only for
    /// sessions with `live.ball_candidates`, `None` = none in this frame) are float64 or float32
    /// arrays of shape `(N, 6)`, columns `DETECTION_COLUMNS` (pixels of the session's
    /// `frame_size`, top-left origin), taken at `timestamp` seconds. `players` may have a 7th
    /// column, `team`: the team the user knows for each detection (0 or 1, -1 unknown, like a
    /// detections file's column 8); each track then takes the majority of its detections'
    /// teams, frame by frame, for `FrameResult.teams` and the possession's team (never
    /// guessed: a track none of whose detections has a team stays unknown). Returns the
    /// frame's `FrameResult`. Wrong type, dtype or shape: `ArrayError`; a non-finite value, a
    /// box without area, a class that is not a whole number ≥ 0 or a team other than 0, 1 or
    /// -1: `DetectionsError`; a pixel
    /// session, ball candidates for a session without them, or a timestamp not after the last:
    /// `InvalidInputError`.
    #[pyo3(signature = (players, timestamp, *, ball = None))]
    fn push_detections(
        &self,
        py: Python<'_>,
        players: &Bound<'_, PyAny>,
        timestamp: f64,
        ball: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<PyFrameResult> {
        use footml::stages::detections_file::{detections_from_rows, teams_from_column};
        let to_detections =
            |what: &'static str, rows: &[[f64; 6]]| detections_from_rows(what, rows).map_err(|e| to_py_err(py, &e));
        // Seven columns: the last is each player's team (0, 1, or -1 unknown).
        let with_teams = players.cast::<PyUntypedArray>().is_ok_and(|a| a.ndim() == 2 && a.shape()[1] == 7);
        let (player_rows, teams) = if with_teams {
            let rows = float_rows::<7>(py, "players", players, PLAYERS_SHAPE)?;
            let team_column: Vec<f64> = rows.iter().map(|r| r[6]).collect();
            let teams = teams_from_column("players", &team_column).map_err(|e| to_py_err(py, &e))?;
            (rows.iter().map(|r| std::array::from_fn(|i| r[i])).collect(), Some(teams))
        } else {
            (float_rows::<6>(py, "players", players, PLAYERS_SHAPE)?, None)
        };
        let players = to_detections("players", &player_rows)?;
        let ball =
            ball.map(|b| to_detections("ball", &float_rows::<6>(py, "ball", b, DETECTIONS_SHAPE)?)).transpose()?;
        let result = self.with_session(py, |session| {
            session.push(LiveFrame::Detections {
                players: &players,
                ball_candidates: ball.as_deref(),
                player_teams: teams.as_deref(),
                timestamp_s: timestamp,
            })
        })?;
        PyFrameResult::new(py, result)
    }

    /// Ends the feed: runs the match stages and returns the report. The session takes no
    /// more calls.
    fn finish(&self, py: Python<'_>) -> PyResult<PyReport> {
        let session = self
            .session
            .lock()
            .map_err(|_| new_err(py, Kind::Usage, "the session's lock was poisoned"))?
            .take()
            .ok_or_else(|| new_err(py, Kind::Usage, "the live session is closed: finish() was called"))?;
        let report = py.detach(|| session.finish()).map_err(|e| to_py_err(py, &e))?;
        Ok(PyReport::new(report))
    }
}
