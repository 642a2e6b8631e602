//! Video decoding throughput: footml's `VideoSource` (decode + RGB24 conversion at native
//! resolution) against the ffmpeg CLI doing the same work
//! (`ffmpeg -threads 0 -i X -f rawvideo -pix_fmt rgb24 -y /dev/null`), in the same run.
//!
//! The clips (10 s, 25 fps, H.264, a moving test pattern with temporal noise so the encoder
//! and decoder do real work) are generated once with the ffmpeg CLI and cached in
//! `CARGO_TARGET_TMPDIR`. Besides criterion's own report, the bench prints and writes
//! `CARGO_TARGET_TMPDIR/decode-vs-cli.txt` with both rates and their ratio (target: footml
//! at ≥ 90 % of the CLI).
//!
//! Run: `cargo bench -p footml-core --bench decode`.

use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use criterion::{Criterion, SamplingMode, Throughput, criterion_group, criterion_main};
use footml::FrameSource;
use footml::config::VideoDecodingConfig;
use footml::stages::video_decoding::VideoSource;

const SECONDS: u32 = 10;
const FPS: u32 = 25;
const FRAMES: u64 = (SECONDS * FPS) as u64;

/// The cached clip of the given height, generated on first use.
fn clip(width: u32, height: u32) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"));
    let path = dir.join(format!("decode-bench-{height}p.mp4"));
    if path.metadata().is_ok_and(|m| m.len() > 0) {
        return path;
    }
    std::fs::create_dir_all(dir).unwrap();
    let tmp = dir.join(format!("decode-bench-{height}p.tmp.mp4"));
    let source = format!("testsrc2=size={width}x{height}:rate={FPS},noise=alls=12:allf=t+u");
    let status = Command::new("ffmpeg")
        .args(["-hide_banner", "-loglevel", "error", "-nostdin", "-y", "-f", "lavfi", "-i", &source])
        .args(["-t", &SECONDS.to_string(), "-c:v", "libx264", "-preset", "veryfast", "-crf", "23"])
        .args(["-pix_fmt", "yuv420p"])
        .arg(&tmp)
        .status()
        .expect("the ffmpeg CLI generates the bench clips");
    assert!(status.success(), "generating {}", path.display());
    std::fs::rename(&tmp, &path).unwrap();
    path
}

/// Decodes the whole clip to RGB24 at native size; returns the frame count.
fn footml_decode(path: &Path) -> u64 {
    let cfg = VideoDecodingConfig::default();
    let mut src = VideoSource::open(path, &cfg, None).unwrap();
    let mut n = 0;
    while let Some(frame) = src.next_frame().unwrap() {
        black_box(&frame.image);
        n += 1;
    }
    n
}

fn cli_decode(path: &Path) {
    let status = Command::new("ffmpeg")
        .args(["-hide_banner", "-loglevel", "error", "-nostdin", "-threads", "0", "-i"])
        .arg(path)
        .args(["-f", "rawvideo", "-pix_fmt", "rgb24", "-y", "/dev/null"])
        .status()
        .expect("the ffmpeg CLI");
    assert!(status.success());
}

/// Best of `runs` wall times: the least disturbed run on a shared machine.
fn best_of(runs: usize, mut f: impl FnMut()) -> Duration {
    (0..runs)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed()
        })
        .min()
        .unwrap()
}

fn decode(c: &mut Criterion) {
    let mut lines = Vec::new();
    for (name, w, h) in [("720p", 1280, 720), ("1080p", 1920, 1080)] {
        let path = clip(w, h);
        assert_eq!(footml_decode(&path), FRAMES);

        let mut group = c.benchmark_group("decode");
        group.throughput(Throughput::Elements(FRAMES));
        group.sampling_mode(SamplingMode::Flat);
        group.sample_size(10);
        group.measurement_time(Duration::from_secs(5));
        group.bench_function(format!("footml_rgb24_{name}"), |b| b.iter(|| footml_decode(&path)));
        group.bench_function(format!("ffmpeg_cli_rgb24_{name}"), |b| b.iter(|| cli_decode(&path)));
        group.finish();

        // The head-to-head figure: interleaved runs, best of each.
        let (mut ours, mut cli) = (Duration::MAX, Duration::MAX);
        for _ in 0..3 {
            ours = ours.min(best_of(1, || {
                footml_decode(&path);
            }));
            cli = cli.min(best_of(1, || cli_decode(&path)));
        }
        let (ours_fps, cli_fps) = (FRAMES as f64 / ours.as_secs_f64(), FRAMES as f64 / cli.as_secs_f64());
        lines.push(format!(
            "{name}: footml {ours_fps:.0} fps, ffmpeg CLI {cli_fps:.0} fps, footml/CLI {:.2}",
            ours_fps / cli_fps
        ));
    }
    let report = lines.join("\n");
    println!("\n{report}");
    let out = Path::new(env!("CARGO_TARGET_TMPDIR")).join("decode-vs-cli.txt");
    let _ = std::fs::write(out, report + "\n");
}

criterion_group!(benches, decode);
criterion_main!(benches);
