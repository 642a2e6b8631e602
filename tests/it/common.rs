//! Shared helpers for the integration tests.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use footml::pipeline::stage::Stage;
use footml::{Artifact, BBox, FrameItem, FrameRecord, FrameSource, Result, StageContext, StreamStage, VideoInfo};

/// The workspace root.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

/// A file of the SkillCorner-derived fixture.
pub fn fixture(name: &str) -> PathBuf {
    root().join("tests/fixtures/skillcorner").join(name)
}

/// The standard detections run on the fixture: `det.txt` and `ball_det.txt` through its
/// homography, at 25 fps and 1920×1080, with the ball tracker's radii set for its ball (1–2 px
/// in radius: a wide camera 30 m behind the touchline).
pub fn fixture_detections_config() -> footml::PipelineConfig {
    let mut config = footml::PipelineConfig {
        detections_path: Some(fixture("det.txt")),
        ball_detections_path: Some(fixture("ball_det.txt")),
        homography_path: Some(fixture("homography.json")),
        fps: Some(25.0),
        frame_size: Some([1920, 1080]),
        ..Default::default()
    };
    config.stage_configs.ball_tracking.min_ball_radius = 0.5;
    config.stage_configs.ball_tracking.max_ball_radius = 10.0;
    config
}

/// The frames `stage` started from, in event order (`stage_started`'s `from_frame`): 0 for a
/// fresh start, the first frame after the saved chunks for a resume.
pub fn started_from<'a>(events: impl IntoIterator<Item = &'a footml::PipelineEvent>, stage: &str) -> Vec<u64> {
    events
        .into_iter()
        .filter_map(|e| match e.kind {
            footml::pipeline::events::EventKind::StageStarted { from_frame } if e.stage.as_deref() == Some(stage) => {
                Some(from_frame)
            }
            _ => None,
        })
        .collect()
}

/// The fixture's image → pitch homography (`homography.json`), read here rather than by footml.
pub fn fixture_homography() -> [[f64; 3]; 3] {
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(fixture("homography.json")).unwrap()).unwrap();
    serde_json::from_value(v["image_to_pitch"].clone()).unwrap()
}

/// Pixel → pitch through a row-major homography, written out here (independent of
/// `footml::report::apply_homography`, so that tests check footml against it).
pub fn to_pitch(h: &[[f64; 3]; 3], u: f64, v: f64) -> [f64; 2] {
    let w = h[2][0] * u + h[2][1] * v + h[2][2];
    [(h[0][0] * u + h[0][1] * v + h[0][2]) / w, (h[1][0] * u + h[1][1] * v + h[1][2]) / w]
}

/// One line of a ground-truth ball file (`ball_gt.txt` of the fixture or the renderer).
pub struct BallGt {
    /// Centre in pixels.
    pub px: [f64; 2],
    /// Position on the pitch in metres.
    pub m: [f64; 2],
    /// Height above the pitch in metres.
    pub z: f64,
}

/// A ground-truth ball file by frame from 0 (the file numbers frames from 1).
pub fn read_ball_gt(path: &std::path::Path) -> BTreeMap<u64, BallGt> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let v: Vec<f64> = l.split(',').map(|x| x.trim().parse().unwrap()).collect();
            (v[0] as u64 - 1, BallGt { px: [v[1], v[2]], m: [v[3], v[4]], z: v[5] })
        })
        .collect()
}

/// A MOTChallenge ground-truth file (`gt.txt`) as frame (from 0) → (gt id, box), in file order.
pub fn read_gt_boxes(path: &std::path::Path) -> BTreeMap<u64, Vec<(u64, BBox)>> {
    let mut out: BTreeMap<u64, Vec<(u64, BBox)>> = BTreeMap::new();
    for line in std::fs::read_to_string(path).unwrap().lines().filter(|l| !l.trim().is_empty()) {
        let f: Vec<f32> = line.split(',').map(|x| x.trim().parse().unwrap()).collect();
        out.entry(f[0] as u64 - 1).or_default().push((f[1] as u64, BBox::new(f[2], f[3], f[4], f[5])));
    }
    out
}

/// The project virtualenv's Python (made by scripts/setup.sh).
pub fn python() -> PathBuf {
    root().join(".venv/bin/python")
}

/// Scores a MOT tracks file against the fixture's ground truth with py-motmetrics
/// (scripts/score_mot.py), an implementation independent of ours.
pub fn motmetrics(tracks: &std::path::Path) -> serde_json::Value {
    motmetrics_against(&fixture("gt.txt"), tracks)
}

/// Scores a MOT tracks (or detections) file against the ground truth `gt` with py-motmetrics.
pub fn motmetrics_against(gt: &std::path::Path, tracks: &std::path::Path) -> serde_json::Value {
    let out = std::process::Command::new(python())
        .arg(root().join("scripts/score_mot.py"))
        .arg(gt)
        .arg(tracks)
        .output()
        .expect("run scripts/score_mot.py (did scripts/setup.sh create .venv?)");
    assert!(out.status.success(), "score_mot.py failed: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

/// A source of `n` synthetic frames whose records carry a counter in `extra`, and which
/// records how far it ever ran ahead of `consumed` (set by a [`Counter`] stage at the end).
pub struct CountingSource {
    pub n: u64,
    pub next: u64,
    pub consumed: Arc<AtomicU64>,
    pub max_lead: Arc<AtomicU64>,
    pub with_pixels: bool,
}

impl CountingSource {
    pub fn new(n: u64) -> Self {
        CountingSource {
            n,
            next: 0,
            consumed: Arc::new(AtomicU64::new(0)),
            max_lead: Arc::new(AtomicU64::new(0)),
            with_pixels: false,
        }
    }
}

impl FrameSource for CountingSource {
    fn name(&self) -> &str {
        "counting_source"
    }
    fn info(&self) -> VideoInfo {
        VideoInfo {
            path: "synthetic".into(),
            fps: 25.0,
            width: 64,
            height: 48,
            duration_s: Some(self.n as f64 / 25.0),
            frame_count: Some(self.n),
            codec: "synthetic".into(),
        }
    }
    fn provides(&self) -> Vec<Artifact> {
        let mut v = vec![Artifact::custom("counter")];
        if self.with_pixels {
            v.push(Artifact::FRAMES);
        }
        v
    }
    fn seek(&mut self, frame: u64) -> Result<()> {
        self.next = frame;
        Ok(())
    }
    fn next_frame(&mut self) -> Result<Option<FrameItem>> {
        if self.next >= self.n {
            return Ok(None);
        }
        let lead = self.next.saturating_sub(self.consumed.load(Ordering::SeqCst));
        self.max_lead.fetch_max(lead, Ordering::SeqCst);
        let mut record = FrameRecord { index: self.next, time_s: self.next as f64 / 25.0, ..Default::default() };
        record.extra.insert("counter".into(), serde_json::json!(self.next));
        let image = self.with_pixels.then(|| {
            Arc::new(footml::RgbFrame { width: 64, height: 48, stride: 192, data: vec![self.next as u8; 192 * 48] })
        });
        self.next += 1;
        Ok(Some(FrameItem::new(record, image)))
    }
}

/// A stateful stage: writes a running sum of counters into `extra["sum"]`; records in
/// `consumed` the last frame it saw; optionally sleeps per batch.
pub struct Summer {
    pub name: String,
    pub sum: u64,
    pub consumed: Arc<AtomicU64>,
    pub delay: std::time::Duration,
}

impl Summer {
    pub fn new(consumed: Arc<AtomicU64>) -> Self {
        Summer { name: "summer".into(), sum: 0, consumed, delay: std::time::Duration::ZERO }
    }
}

impl Stage for Summer {
    fn name(&self) -> &str {
        &self.name
    }
    fn requires(&self) -> Vec<Artifact> {
        vec![Artifact::custom("counter")]
    }
    fn provides(&self) -> Vec<Artifact> {
        vec![Artifact::custom("sum")]
    }
}

impl StreamStage for Summer {
    fn process(&mut self, batch: &mut footml::FrameBatch, _ctx: &StageContext) -> Result<()> {
        std::thread::sleep(self.delay);
        for item in &mut batch.items {
            self.sum += item.record.extra["counter"].as_u64().unwrap();
            item.record.extra.insert("sum".into(), serde_json::json!(self.sum));
            self.consumed.store(item.record.index, Ordering::SeqCst);
        }
        Ok(())
    }
    fn save_state(&self) -> Result<Vec<u8>> {
        Ok(self.sum.to_le_bytes().to_vec())
    }
    fn load_state(&mut self, state: &[u8]) -> Result<()> {
        self.sum = u64::from_le_bytes(state.try_into().map_err(|_| footml::Error::permanent("bad summer state"))?);
        Ok(())
    }
}

/// The expected running sum after frame `i`: 0 + 1 + … + i.
pub fn triangular(i: u64) -> u64 {
    i * (i + 1) / 2
}
