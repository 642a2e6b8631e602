//! The README's smallest Rust program runs: footml-core/examples/readme.rs is that program
//! (checked against the README text), built and run where its relative paths exist.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::common::{fixture, root};

/// The first ```rust block of the README's "## Rust" section.
fn readme_program() -> String {
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    let section = readme.split("\n## Rust\n").nth(1).expect("README has a `## Rust` section");
    let section = section.split("\n## ").next().unwrap();
    let body = &section[section.find("```rust").expect("a ```rust block")..];
    let body = &body[body.find('\n').unwrap() + 1..];
    body[..body.find("```").unwrap()].to_string()
}

/// target/<profile>/examples/readme, built with this test binary's profile (cargo has released
/// its lock by the time tests run; `cargo test --test it` alone does not build examples).
fn build_example() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let profile_dir = exe.parent().and_then(Path::parent).unwrap();
    let profile = match profile_dir.file_name().and_then(|n| n.to_str()).unwrap() {
        "debug" => "dev",
        other => other,
    };
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_string());
    let status = Command::new(cargo)
        .args(["build", "-q", "-p", "footml-core", "--example", "readme", "--profile", profile, "--target-dir"])
        .arg(profile_dir.parent().unwrap())
        .current_dir(root())
        .status()
        .unwrap();
    assert!(status.success(), "building the readme example failed");
    profile_dir.join("examples").join("readme")
}

#[test]
fn readme_rust_program_is_the_example_and_runs() {
    let example = std::fs::read_to_string(root().join("footml-core/examples/readme.rs")).unwrap();
    let code: String =
        example.lines().skip_while(|l| l.starts_with("//!") || l.is_empty()).flat_map(|l| [l, "\n"]).collect();
    assert_eq!(code, readme_program(), "footml-core/examples/readme.rs differs from the README's Rust program");

    // Where the program's relative paths exist: a det.txt (the fixture's first 100 frames).
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(fixture("det.txt")).unwrap();
    let head: String = text
        .lines()
        .filter(|l| l.split(',').next().unwrap().parse::<u32>().unwrap() <= 100)
        .flat_map(|l| [l, "\n"])
        .collect();
    std::fs::write(dir.path().join("det.txt"), head).unwrap();
    let out = Command::new(build_example()).current_dir(dir.path()).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let stdout = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = stdout.lines().collect();

    // Its events and track count are those of the same run through the API here.
    let config = footml::PipelineConfig::from_json(
        &serde_json::json!({"detections_path": dir.path().join("det.txt"), "fps": 25, "frame_size": [1920, 1080]})
            .to_string(),
    )
    .unwrap();
    let report = footml::Pipeline::from_config(&config).unwrap().run().unwrap();
    assert!(report.tracks.len() > 10);
    assert_eq!(lines.last().copied(), Some(format!("{} tracks", report.tracks.len()).as_str()));
    assert_eq!(lines.first().copied(), Some("stage_started"));
    assert!(lines.contains(&"checkpoint_saved") && lines.contains(&"pipeline_completed"), "{lines:?}");
    // The checkpoint and output directories it names were written.
    assert!(dir.path().join("out/report.json").is_file() && dir.path().join("ckpt").is_dir());
}
