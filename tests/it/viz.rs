//! `footml render-report`: pictures of a real report (the SkillCorner fixture tracked with its
//! ball and homography), and clear errors for bad reports.

use std::path::Path;

use crate::cli::{fails_with, footml};
use crate::common::fixture;

/// Runs the command and expects success.
fn succeeds(cmd: &mut std::process::Command) -> std::process::Output {
    let o = cmd.output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    o
}

/// Width and height from a PNG's IHDR chunk (bytes 16..24), after checking the signature.
fn png_size(path: &Path) -> (u32, u32) {
    let b = std::fs::read(path).unwrap();
    assert_eq!(&b[..8], b"\x89PNG\r\n\x1a\n", "{} is not a PNG", path.display());
    let be = |i: usize| u32::from_be_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]);
    (be(16), be(20))
}

#[test]
fn render_report_draws_heatmaps_and_radar_of_a_real_report() {
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("run");
    succeeds(
        footml()
            .args(["analyze", "--detections"])
            .arg(fixture("det.txt"))
            .arg("--ball-detections")
            .arg(fixture("ball_det.txt"))
            .arg("--homography")
            .arg(fixture("homography.json"))
            .args(["--fps", "25", "--frame-size", "1920x1080", "--out"])
            .arg(&run),
    );
    let pics = dir.path().join("pics");
    let o = succeeds(
        footml()
            .arg("render-report")
            .arg(run.join("report.json"))
            .args(["--scale", "6", "--no-radar-video", "--out"])
            .arg(&pics),
    );
    // 105 × 68 m at 6 px/m with an 18 px margin.
    assert_eq!(png_size(&pics.join("radar.png")), (666, 444));
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run.join("report.json")).unwrap()).unwrap();
    let players = report["metrics"]["players"].as_array().unwrap();
    assert!(players.len() > 20);
    for p in players {
        let path = pics.join(format!("heatmaps/player_{}.png", p["track_id"]));
        assert_eq!(png_size(&path), (666, 444), "{}", path.display());
    }
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(stdout.contains(&format!("wrote {} files", players.len() + 1)), "{stdout}");
}

#[test]
fn render_report_rejects_missing_and_foreign_reports() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let out = out.to_str().unwrap();
    let missing = dir.path().join("nope.json");
    fails_with(&["render-report", missing.to_str().unwrap(), "--out", out], "nope.json");
    let foreign = dir.path().join("other.json");
    std::fs::write(&foreign, r#"{"schema_version": 1, "tracks": "many"}"#).unwrap();
    fails_with(&["render-report", foreign.to_str().unwrap(), "--out", out], "is not a footml report");
    let h = fixture("homography.json");
    fails_with(&["render-report", h.to_str().unwrap(), "--out", out], "is not a footml report");
}

/// A short rendered clip (the sample-match renderer) analysed from its own ground-truth boxes,
/// then drawn: the annotated video has every frame at the analysed size, with each track's box
/// drawn in its colour where the report puts it; the radar video has one picture per frame.
#[test]
fn annotated_and_radar_videos_of_a_rendered_clip() {
    use footml::pipeline::stage::FrameSource;
    use footml::sim::{RenderConfig, render};

    let dir = tempfile::tempdir().unwrap();
    let clip = dir.path().join("clip");
    let cfg = RenderConfig { size: [480, 270], ..RenderConfig::new(fixture("tracking.csv"), &clip) }.frames(12);
    render(&cfg).unwrap();
    // gt.txt (frame,id,x,y,w,h,1,1,vis) → detections (frame,-1,x,y,w,h,score,-1,-1,-1).
    let dets: String = std::fs::read_to_string(clip.join("gt.txt"))
        .unwrap()
        .lines()
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            format!("{},-1,{},{},{},{},0.9,-1,-1,-1\n", f[0], f[2], f[3], f[4], f[5])
        })
        .collect();
    std::fs::write(dir.path().join("dets.txt"), dets).unwrap();
    let run = dir.path().join("run");
    succeeds(
        footml()
            .args(["analyze", "--detections"])
            .arg(dir.path().join("dets.txt"))
            .arg("--homography")
            .arg(clip.join("homography.json"))
            .args(["--fps", "25", "--frame-size", "480x270", "--out"])
            .arg(&run),
    );
    let pics = dir.path().join("pics");
    succeeds(
        footml()
            .arg("render-report")
            .arg(run.join("report.json"))
            .arg("--video")
            .arg(clip.join("video.mp4"))
            .args(["--scale", "4", "--out"])
            .arg(&pics),
    );

    let report = footml::MatchReport::read_json(&run.join("report.json")).unwrap();
    let decode = |path: &Path| {
        let mut src = footml::stages::video_decoding::VideoSource::open(path, &Default::default(), None).unwrap();
        let mut frames = Vec::new();
        while let Some(item) = src.next_frame().unwrap() {
            frames.push(item.image.unwrap());
        }
        frames
    };
    let annotated = decode(&pics.join("annotated.mp4"));
    assert_eq!(annotated.len(), 12);
    assert!(annotated.iter().all(|f| (f.width, f.height) == (480, 270)));
    // Left edge of every box: the tracks have no team (detections input), so light grey
    // (170, 170, 170) outlines over darker grass: brighter than the grass 5 px to the left.
    let luma = |img: &footml::RgbFrame, u: usize, v: usize| {
        let p = &img.data[v * img.stride + 3 * u..][..3];
        (299 * p[0] as u32 + 587 * p[1] as u32 + 114 * p[2] as u32) / 1000
    };
    let (mut bright, mut edges) = (0, 0);
    // Where the reference pixel 5 px to the left of an edge lies on another person (their box),
    // it is not grass: the broadcast camera's close-ups put people side by side.
    let on_other = |frame: u64, id: u64, u: f32, v: f32| {
        report.tracks.iter().filter(|o| o.track_id != id).flat_map(|o| &o.frames).any(|g| {
            let [gx, gy, gw, gh] = g.bbox;
            g.frame == frame && u >= gx - 1.0 && u <= gx + gw + 1.0 && v >= gy && v <= gy + gh
        })
    };
    for t in &report.tracks {
        for f in &t.frames {
            let [x, y, _, h] = f.bbox;
            let img = &annotated[f.frame as usize];
            let (u, v) = (x.round() as usize, (y + h / 2.0).round() as usize);
            if u < 6 || u + 1 >= img.width as usize || v >= img.height as usize {
                continue;
            }
            // A box at the top of the frame has its id label (12 px, dark background) drawn
            // over its upper part instead of above it, so its edge is not visible there.
            if on_other(f.frame, t.track_id, u as f32 - 5.0, v as f32) || y < 14.0 {
                continue;
            }
            edges += 1;
            let line = (u - 1..=u + 1).map(|uu| luma(img, uu, v)).max().unwrap();
            if line > luma(img, u - 5, v) + 30 {
                bright += 1;
            }
        }
    }
    assert!(edges > 60, "{edges}");
    assert!(bright * 10 >= edges * 9, "{bright} of {edges} box edges drawn");
    let radar = decode(&pics.join("radar.mp4"));
    assert_eq!(radar.len(), 12);
    assert_eq!((radar[0].width, radar[0].height), (444, 296));
}
