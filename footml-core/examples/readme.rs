//! The README's Rust program ("## Rust"), verbatim below this comment: tests/it/readme.rs
//! checks that the two are the same text and runs this example in a directory with a
//! `det.txt`, so the README's program cannot rot.

use footml::pipeline::events::FnSink;
use footml::{Pipeline, PipelineConfig, PipelineEvent};

fn main() -> footml::Result<()> {
    let config = PipelineConfig::from_json(
        r#"{"detections_path": "det.txt", "fps": 25, "frame_size": [1920, 1080],
            "checkpoint_dir": "ckpt", "output_dir": "out"}"#,
    )?;
    let report = Pipeline::builder_from_config(&config)?
        .event_sink(FnSink(|e: &PipelineEvent| println!("{}", e.type_name())))
        .build()?
        .run()?;
    println!("{} tracks", report.tracks.len());
    Ok(())
}
