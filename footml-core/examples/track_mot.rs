//! Track a MOTChallenge detections file with the player tracker, without a pipeline.
//!
//! ```text
//! cargo run --release -p footml-core --example track_mot -- DETS.txt TRACKS.txt ['{"min_hits": 3}']
//! ```
//!
//! Reads `frame,-1,x,y,w,h,score,...` detections (frames from 1), writes MOTChallenge
//! tracks `frame,id,x,y,w,h,score,-1,-1,-1`. The optional third argument is a JSON
//! `PlayerTrackingConfig` (unknown keys are errors; missing keys keep their defaults).
//! Score the result with `scripts/score_mot.py GT TRACKS`.

use std::io::{BufWriter, Write};
use std::path::PathBuf;
use std::time::Instant;

use footml::config::PlayerTrackingConfig;
use footml::pipeline::stage::FrameSource;
use footml::stages::detections_file::DetectionsFileSource;
use footml::stages::player_tracking::PlayerTracker;

fn main() {
    if let Err(e) = run() {
        eprintln!("track_mot: {e}");
        std::process::exit(1);
    }
}

fn run() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (dets, out) = match args.as_slice() {
        [d, o] | [d, o, _] => (PathBuf::from(d), PathBuf::from(o)),
        _ => return Err("usage: track_mot DETS.txt TRACKS.txt [CONFIG_JSON]".into()),
    };
    let cfg: PlayerTrackingConfig = match args.get(2) {
        Some(json) => serde_json::from_str(json)?,
        None => PlayerTrackingConfig::default(),
    };
    let mut tracker = PlayerTracker::new(&cfg)?;
    // Frame rate and size only matter for the pipeline's report; the tracker works in pixels.
    let mut source = DetectionsFileSource::open(&dets, None, 25.0, [1920, 1080])?;
    let mut w = BufWriter::new(std::fs::File::create(&out)?);
    let (mut frames, mut boxes) = (0u64, 0u64);
    let start = Instant::now();
    while let Some(item) = source.next_frame()? {
        let players = item.record.players.unwrap_or_default();
        for t in tracker.update(&players) {
            let b = t.bbox;
            writeln!(
                w,
                "{},{},{:.2},{:.2},{:.2},{:.2},{:.3},-1,-1,-1",
                item.record.index + 1,
                t.track_id,
                b.x,
                b.y,
                b.w,
                b.h,
                t.score
            )?;
            boxes += 1;
        }
        frames += 1;
    }
    w.flush()?;
    let secs = start.elapsed().as_secs_f64();
    eprintln!(
        "{frames} frames, {boxes} track boxes -> {} ({:.0} frames/s incl. parsing)",
        out.display(),
        frames as f64 / secs
    );
    Ok(())
}
