//! The C API as C and C++ programs see it: the examples (examples/c/*.c, examples/cpp/*.cpp),
//! the README's smallest program and the ABI checks (tests/c/*.c) are compiled with the system
//! C and C++ compilers against include/footml.h and the libfootml this `cargo test` built,
//! and run under valgrind (leaks and invalid accesses fail the test).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

/// target/<profile>/ with a fresh libfootml.so and libfootml.a in it. `cargo test` does not
/// build a lib without an rlib crate-type for its tests, so the first call builds the
/// library with the profile and target directory of this test binary (which lives in
/// target/<profile>/deps/); cargo has released its lock by the time tests run.
fn lib_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let exe = std::env::current_exe().unwrap();
        let dir = exe.parent().and_then(Path::parent).unwrap().to_path_buf();
        let profile = match dir.file_name().and_then(|n| n.to_str()).unwrap() {
            "debug" => "dev",
            other => other,
        };
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_string());
        let out = run(Command::new(cargo)
            .args(["build", "-p", "footml-capi", "--lib", "--profile", profile, "--target-dir"])
            .arg(dir.parent().unwrap())
            .current_dir(root()));
        assert!(out.status.success(), "building libfootml failed");
        assert!(dir.join("libfootml.so").is_file() && dir.join("libfootml.a").is_file(), "{}", dir.display());
        dir
    })
}

fn cc() -> String {
    std::env::var("CC").unwrap_or_else(|_| "cc".to_string())
}

fn run(cmd: &mut Command) -> Output {
    let out = cmd.output().unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    eprintln!("{cmd:?}\n{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    out
}

/// Compiles C sources against the shared library (found at run time through an rpath).
fn compile_shared(src: &Path, exe: &Path) {
    compile_with(&cc(), &["-std=c11"], src, exe);
}

/// Compiles C++ sources against the shared library.
fn compile_cpp(src: &Path, exe: &Path) {
    let cxx = std::env::var("CXX").unwrap_or_else(|_| "c++".to_string());
    compile_with(&cxx, &["-std=c++17", "-pthread"], src, exe);
}

fn compile_with(compiler: &str, std: &[&str], src: &Path, exe: &Path) {
    let lib = lib_dir();
    let out = run(Command::new(compiler)
        .args(std)
        .args(["-Wall", "-Wextra", "-Werror", "-g", "-I"])
        .arg(root().join("include"))
        .arg(src)
        .arg("-o")
        .arg(exe)
        .arg("-L")
        .arg(lib)
        .args(["-lfootml", "-lm"])
        .arg(format!("-Wl,-rpath,{}", lib.display())));
    assert!(out.status.success(), "compiling {} failed", src.display());
}

/// The first `frames` frames of a fixture file, written into `dir`.
fn fixture_head(dir: &Path, name: &str, frames: u32) -> PathBuf {
    let text = std::fs::read_to_string(root().join("tests/fixtures/skillcorner").join(name)).unwrap();
    let kept: String = text
        .lines()
        .filter(|l| l.split(',').next().unwrap().parse::<u32>().unwrap() <= frames)
        .flat_map(|l| [l, "\n"])
        .collect();
    let path = dir.join(name);
    std::fs::write(&path, kept).unwrap();
    path
}

/// The fixture's ground-truth boxes of the first `frames` frames as `(frame, [x, y, w, h],
/// team)`, the team from meta.json: home 0, away 1, the referee -1 (unknown).
fn gt_boxes_with_teams(frames: u64) -> Vec<(u64, [f32; 4], i32)> {
    let fixture = root().join("tests/fixtures/skillcorner");
    let meta: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(fixture.join("meta.json")).unwrap()).unwrap();
    let team = |id: &str| match meta["ids"][id]["team"].as_str().unwrap() {
        "home" => 0,
        "away" => 1,
        _ => -1,
    };
    std::fs::read_to_string(fixture.join("gt.txt"))
        .unwrap()
        .lines()
        .map(|l| l.split(',').collect::<Vec<_>>())
        .filter(|f| f[0].parse::<u64>().unwrap() <= frames)
        .map(|f| {
            let n = |i: usize| f[i].parse::<f32>().unwrap();
            (f[0].parse().unwrap(), [n(2), n(3), n(4), n(5)], team(f[1]))
        })
        .collect()
}

/// Those boxes as a detections file whose column 8 is each box's team (what a caller with
/// its own detector and team knowledge pushes), written into `dir`.
fn gt_detections_with_teams(dir: &Path, frames: u64) -> PathBuf {
    let text: String = gt_boxes_with_teams(frames)
        .iter()
        .map(|(f, [x, y, w, h], team)| format!("{f},-1,{x:.2},{y:.2},{w:.2},{h:.2},1,{team},-1,-1\n"))
        .collect();
    let path = dir.join("det_teams.txt");
    std::fs::write(&path, text).unwrap();
    path
}

/// IoU of two (x, y, w, h) boxes.
fn iou(a: [f32; 4], b: [f32; 4]) -> f32 {
    let w = (a[0] + a[2]).min(b[0] + b[2]) - a[0].max(b[0]);
    let h = (a[1] + a[3]).min(b[1] + b[3]) - a[1].max(b[1]);
    let inter = w.max(0.0) * h.max(0.0);
    inter / (a[2] * a[3] + b[2] * b[3] - inter)
}

/// The team of the ground-truth box of `frame` a track's box follows (best IoU, at least 0.5).
fn gt_team(gt: &[(u64, [f32; 4], i32)], frame: u64, bbox: [f32; 4]) -> i32 {
    let (overlap, team) = gt
        .iter()
        .filter(|g| g.0 == frame)
        .map(|g| (iou(bbox, g.1), g.2))
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .unwrap_or_else(|| panic!("frame {frame}: no ground truth"));
    assert!(overlap >= 0.5, "frame {frame}: the track {bbox:?} follows no ground-truth box ({overlap})");
    team
}

/// Runs a program under valgrind; any leak or memory error fails (tests/valgrind.supp lists
/// the one known false positive, with why).
fn valgrind(exe: &Path, args: &[&Path]) -> Output {
    run(Command::new("valgrind")
        .args(["--quiet", "--leak-check=full", "--errors-for-leak-kinds=definite,possible", "--error-exitcode=99"])
        .arg(format!("--suppressions={}", root().join("footml-capi/tests/valgrind.supp").display()))
        .arg(exe)
        .args(args))
}

#[test]
fn example_analyzes_the_fixture_under_valgrind() {
    let dir = tempfile::tempdir().unwrap();
    let exe = dir.path().join("analyze");
    compile_shared(&root().join("examples/c/analyze.c"), &exe);

    // The first 10 s of the fixture keep the valgrind run short.
    let det_path = fixture_head(dir.path(), "det.txt", 250);
    let config_json = serde_json::json!({"detections_path": det_path, "fps": 25, "frame_size": [1920, 1080]});
    let config_path = dir.path().join("config.json");
    std::fs::write(&config_path, config_json.to_string()).unwrap();

    let out = valgrind(&exe, &[&config_path]);
    assert_eq!(out.status.code(), Some(0), "analyze failed under valgrind");
    let stdout = String::from_utf8(out.stdout).unwrap();
    let tracks: usize = stdout.trim().strip_prefix("tracks: ").expect("`tracks: N` line").parse().unwrap();

    // The same run through the Rust API gives the same count.
    let config = footml::PipelineConfig::from_json(&config_json.to_string()).unwrap();
    let report = footml::Pipeline::from_config(&config).unwrap().run().unwrap();
    assert!(tracks > 0);
    assert_eq!(tracks, report.tracks.len());

    // A failure is reported with its code's message and the detailed error.
    std::fs::write(
        &config_path,
        r#"{"detections_path": "/nonexistent/det.txt", "fps": 25, "frame_size": [1920, 1080]}"#,
    )
    .unwrap();
    let out = valgrind(&exe, &[&config_path]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(stderr.contains("input file not found (code 4)") && stderr.contains("/nonexistent/det.txt"), "{stderr}");
}

#[test]
fn abi_edge_cases_under_valgrind() {
    let dir = tempfile::tempdir().unwrap();
    let exe = dir.path().join("abi");
    compile_shared(&root().join("footml-capi/tests/c/abi.c"), &exe);
    let out = valgrind(&exe, &[]);
    assert_eq!(out.status.code(), Some(0), "tests/c/abi.c failed under valgrind");
}

#[test]
fn object_api_edge_cases_under_valgrind() {
    let dir = tempfile::tempdir().unwrap();
    let exe = dir.path().join("objects");
    compile_shared(&root().join("footml-capi/tests/c/objects.c"), &exe);
    let det = fixture_head(dir.path(), "det.txt", 50);
    let out = valgrind(&exe, &[&det]);
    assert_eq!(out.status.code(), Some(0), "tests/c/objects.c failed under valgrind");
}

/// A track row: frame, track id, box, pitch position.
type TrackRow = (u64, u64, [f32; 4], [f64; 2]);

/// Runs examples/c/live.c (built in `dir`) under valgrind on a detections file with the
/// fixture's homography: the rows it printed, `(row, team)`, and its last line.
fn run_live_example(dir: &Path, det: &Path) -> (Vec<(TrackRow, i32)>, String) {
    let exe = dir.join("live");
    compile_shared(&root().join("examples/c/live.c"), &exe);
    let homography = root().join("tests/fixtures/skillcorner/homography.json");
    let out = valgrind(&exe, &[det, &homography]);
    assert_eq!(out.status.code(), Some(0), "examples/c/live.c failed under valgrind");
    let stdout = String::from_utf8(out.stdout).unwrap();
    let (rows, last) = stdout.trim_end().rsplit_once('\n').unwrap();
    let rows = rows
        .lines()
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            assert_eq!(f.len(), 9, "{l}");
            let n = |i: usize| f[i].parse::<f32>().unwrap();
            let m = |i: usize| f[i].parse::<f64>().unwrap();
            (
                (f[0].parse().unwrap(), f[1].parse().unwrap(), [n(2), n(3), n(4), n(5)], [m(6), m(7)]),
                f[8].parse().unwrap(),
            )
        })
        .collect();
    (rows, last.to_string())
}

/// examples/c/live.c pushes the fixture's ground-truth boxes with each player's real team
/// (meta.json) through `footml_live_push_detections_teams`: in every frame, every track's
/// team is the team of the player it follows, and the referee's is unknown (-1).
#[test]
fn live_example_gives_each_track_its_players_team_under_valgrind() {
    const FRAMES: u64 = 60;
    let dir = tempfile::tempdir().unwrap();
    let (rows, _) = run_live_example(dir.path(), &gt_detections_with_teams(dir.path(), FRAMES));
    let gt = gt_boxes_with_teams(FRAMES);
    // live.c prints frames from 0, the ground truth numbers them from 1.
    let mut counts = [0usize; 3];
    for ((frame, track_id, bbox, _), team) in &rows {
        let want = gt_team(&gt, frame + 1, *bbox);
        assert_eq!(*team, want, "frame {frame}, track {track_id}");
        counts[(team + 1) as usize] += 1;
    }
    // The referee (-1) and both teams are covered: at least 90% of each one's ground-truth
    // boxes have a track row.
    let mut want = [0usize; 3];
    gt.iter().for_each(|g| want[(g.2 + 1) as usize] += 1);
    assert!(counts.iter().zip(want).all(|(&got, want)| got * 10 >= want * 9), "rows {counts:?}, boxes {want:?}");
}

/// examples/c/live.c pushes the fixture frame by frame; every frame's tracks, as it printed
/// them on return from the push, are the file run's tracks of that frame (boxes and pitch
/// positions exact).
#[test]
fn live_example_matches_the_file_run_under_valgrind() {
    let dir = tempfile::tempdir().unwrap();
    let det = fixture_head(dir.path(), "det.txt", 60);
    let homography = root().join("tests/fixtures/skillcorner/homography.json");
    let (rows, last) = run_live_example(dir.path(), &det);
    // det.txt has no teams (column 8 is -1): every track's team is unknown.
    assert!(rows.iter().all(|r| r.1 == -1));
    let got: Vec<TrackRow> = rows.into_iter().map(|r| r.0).collect();

    let config = serde_json::json!({"detections_path": det, "fps": 25, "frame_size": [1920, 1080],
                                    "homography_path": homography});
    let config = footml::PipelineConfig::from_json(&config.to_string()).unwrap();
    let report = footml::Pipeline::from_config(&config).unwrap().run().unwrap();
    let mut want: Vec<TrackRow> = report
        .tracks
        .iter()
        .flat_map(|t| t.frames.iter().map(move |f| (f.frame, t.track_id, f.bbox, f.pitch.unwrap())))
        .collect();
    want.sort_by_key(|r| (r.0, r.1));
    assert!(want.len() > 600);
    assert_eq!(got, want);
    assert_eq!(last, format!("report tracks: {}", report.tracks.len()));
}

/// examples/cpp/analyze.cpp (RAII wrapper, lambda callback, tables) built with the C++
/// compiler, under valgrind; its counts are the Rust API's.
#[test]
fn cpp_example_under_valgrind() {
    let dir = tempfile::tempdir().unwrap();
    let exe = dir.path().join("analyze_cpp");
    compile_cpp(&root().join("examples/cpp/analyze.cpp"), &exe);
    let det = fixture_head(dir.path(), "det.txt", 60);
    let ball = fixture_head(dir.path(), "ball_det.txt", 60);
    let config_json = serde_json::json!({"detections_path": det, "ball_detections_path": ball, "fps": 25,
        "frame_size": [1920, 1080], "stage_configs": {"ball_tracking": {"min_ball_radius": 0.5, "max_ball_radius": 10}}});
    let config_path = dir.path().join("config.json");
    std::fs::write(&config_path, config_json.to_string()).unwrap();
    let out = valgrind(&exe, &[&config_path]);
    assert_eq!(out.status.code(), Some(0), "examples/cpp/analyze.cpp failed under valgrind");
    let stdout = String::from_utf8(out.stdout).unwrap();
    let value = |key: &str| -> usize {
        let line = stdout.lines().find_map(|l| l.strip_prefix(key)).unwrap_or_else(|| panic!("no {key} in {stdout}"));
        line.trim().parse().unwrap()
    };
    let config = footml::PipelineConfig::from_json(&config_json.to_string()).unwrap();
    let report = footml::Pipeline::from_config(&config).unwrap().run().unwrap();
    assert_eq!(value("tracks:"), report.tracks.len());
    assert_eq!(value("track rows:"), report.tracks.iter().map(|t| t.frames.len()).sum::<usize>());
    assert_eq!(value("ball rows:"), report.ball.len());
    assert!(value("ball rows:") > 45 && value("events:") >= 5);

    // A failure is an exception with the code's message.
    std::fs::write(&config_path, r#"{"detections_path": "/nonexistent/d.txt", "fps": 25, "frame_size": [8, 8]}"#)
        .unwrap();
    let out = valgrind(&exe, &[&config_path]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(stderr.contains("input file not found") && stderr.contains("(code 4)"), "{stderr}");
}

/// examples/cpp/live.cpp (the RAII `footml::LiveSession` of examples/cpp/footml.hpp) pushes
/// 60 frames of the fixture's players (ground-truth boxes with their real teams) and ball
/// candidates under valgrind; every frame's track count, ball and possession (owner and team)
/// as it printed them are the Rust live session's for the same pushes, and its report has the
/// Rust session's tracks.
#[test]
fn cpp_live_example_matches_the_rust_session_under_valgrind() {
    use footml::live::{LiveFrame, LiveSession};
    let dir = tempfile::tempdir().unwrap();
    let exe = dir.path().join("live_cpp");
    compile_cpp(&root().join("examples/cpp/live.cpp"), &exe);
    // The players: ground-truth boxes with each player's real team (meta.json).
    let det = gt_detections_with_teams(dir.path(), 60);
    let ball = fixture_head(dir.path(), "ball_det.txt", 60);
    let homography = root().join("tests/fixtures/skillcorner/homography.json");
    let out = valgrind(&exe, &[&det, &ball, &homography]);
    assert_eq!(out.status.code(), Some(0), "examples/cpp/live.cpp failed under valgrind");
    let stdout = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = stdout.lines().collect();
    let (frames, tail) = lines.split_at(lines.len() - 2);

    let config = serde_json::json!({"fps": 25, "frame_size": [1920, 1080], "homography_path": homography,
        "live": {"input": "detections", "ball_candidates": true},
        "stage_configs": {"ball_tracking": {"min_ball_radius": 0.5, "max_ball_radius": 10}}});
    let mut session =
        LiveSession::from_config(&footml::PipelineConfig::from_json(&config.to_string()).unwrap()).unwrap();
    let mut src =
        footml::stages::detections_file::DetectionsFileSource::open(&det, Some(&ball), 25.0, [1920, 1080]).unwrap();
    let (mut owned, mut teamed) = (0, 0);
    let mut n = 0;
    while let Some(item) = footml::FrameSource::next_frame(&mut src).unwrap() {
        let rec = item.record;
        let r = session
            .push(LiveFrame::Detections {
                players: rec.players.as_deref().unwrap(),
                ball_candidates: rec.ball_candidates.as_deref(),
                player_teams: Some(rec.player_teams.as_deref().expect("the file has teams")),
                timestamp_s: rec.time_s,
            })
            .unwrap();
        let f: Vec<&str> = frames[n].split(',').collect();
        assert_eq!(f[0].parse::<u64>().unwrap(), r.index());
        assert_eq!(f[1].parse::<usize>().unwrap(), r.tracks().len(), "frame {n}: tracks");
        let ball = r.ball().filter(|b| b.has_position()).map(|b| [b.x, b.y]);
        let printed = [f[2].parse::<f32>().unwrap(), f[3].parse::<f32>().unwrap()];
        match ball {
            Some(b) => assert_eq!(printed, b, "frame {n}: ball"),
            None => assert!(printed.iter().all(|v| v.is_nan()), "frame {n}: no ball"),
        }
        let p = r.possession().expect("calibrated, with a ball");
        assert_eq!(f[4].parse::<u64>().unwrap(), p.track_id.unwrap_or(0), "frame {n}: owner");
        assert_eq!(f[5].parse::<i64>().unwrap(), p.team.map_or(-1, i64::from), "frame {n}: team");
        owned += usize::from(p.track_id.is_some());
        teamed += usize::from(p.team.is_some());
        n += 1;
    }
    assert_eq!(n, frames.len());
    assert!(owned >= 10, "{owned} frames with an owner: the comparison must cover possession");
    // The pushed teams are the owners': the comparison covers possession's team too.
    assert!(teamed >= 10, "{teamed} frames with a possession team");
    let report = session.finish().unwrap();
    assert_eq!(tail[0], format!("report tracks: {}", report.tracks.len()));
    let events: usize = tail[1].strip_prefix("events: ").unwrap().parse().unwrap();
    assert!(events >= 5, "{events} events through the C++ callback");

    // A failure is an exception with the code's message.
    let out = valgrind(&exe, &[&det, &ball, Path::new("/nonexistent/h.json")]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(stderr.contains("/nonexistent/h.json") && stderr.contains("(code "), "{stderr}");
}

/// The README's smallest C program, taken from the README text itself, compiles and runs
/// from the repository root and counts the rows the Rust API gives.
#[test]
fn readme_c_program_runs() {
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    let section = &readme[readme.find("## C and C++").expect("README has a `C and C++` section")..];
    let start = section.find("```c\n").expect("a ```c block") + 5;
    let program = &section[start..start + section[start..].find("```").unwrap()];
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("smallest.c");
    std::fs::write(&src, program).unwrap();
    let config = footml::PipelineConfig::from_json(
        r#"{"detections_path": "../tests/fixtures/skillcorner/det.txt", "fps": 25, "frame_size": [1920, 1080]}"#,
    )
    .unwrap();
    let report = footml::Pipeline::from_config(&config).unwrap().run().unwrap();
    let rows: usize = report.tracks.iter().map(|t| t.frames.len()).sum();
    // The section is "C and C++": the same text is the smallest C++ program too (g++ compiles
    // a .c file as C++).
    let exe = dir.path().join("smallest");
    let exe_cpp = dir.path().join("smallest_cpp");
    compile_shared(&src, &exe);
    compile_cpp(&src, &exe_cpp);
    for exe in [exe, exe_cpp] {
        let out = run(Command::new(&exe).current_dir(root()));
        assert!(out.status.success(), "the README's program failed: {}", exe.display());
        assert_eq!(String::from_utf8(out.stdout).unwrap(), format!("{rows} track rows\n"));
    }
}

/// Static linking needs the Rust standard library's system libraries and FFmpeg's. The ABI
/// checks and the C example both run linked against libfootml.a.
#[test]
fn static_library_links() {
    let lib = lib_dir();
    let dir = tempfile::tempdir().unwrap();
    let ffmpeg = run(Command::new("pkg-config")
        .args(["--libs", "libavformat", "libavcodec", "libavfilter", "libavdevice"])
        .args(["libswscale", "libswresample", "libavutil"]));
    assert!(ffmpeg.status.success(), "pkg-config does not know FFmpeg");
    let ffmpeg = String::from_utf8(ffmpeg.stdout).unwrap();
    let link_static = |src: &str, exe: &Path| {
        let out = run(Command::new(cc())
            .args(["-std=c11", "-Wall", "-Werror", "-I"])
            .arg(root().join("include"))
            .arg(root().join(src))
            .arg("-o")
            .arg(exe)
            .arg(lib.join("libfootml.a"))
            .args(ffmpeg.split_whitespace())
            .args(["-lgcc_s", "-lutil", "-lrt", "-lpthread", "-lm", "-ldl", "-lc"]));
        assert!(out.status.success(), "static link of {src} failed");
    };
    let exe = dir.path().join("abi-static");
    link_static("footml-capi/tests/c/abi.c", &exe);
    let out = run(&mut Command::new(&exe));
    assert!(out.status.success(), "statically linked tests/c/abi.c failed");

    // The example, linked against libfootml.a the same way, analyses as it does with the .so.
    let example = dir.path().join("analyze-static");
    link_static("examples/c/analyze.c", &example);
    let det = fixture_head(dir.path(), "det.txt", 100);
    let config_json = serde_json::json!({"detections_path": det, "fps": 25, "frame_size": [1920, 1080]});
    let config_path = dir.path().join("config.json");
    std::fs::write(&config_path, config_json.to_string()).unwrap();
    let out = run(Command::new(&example).arg(&config_path));
    assert!(out.status.success(), "statically linked examples/c/analyze.c failed");
    let config = footml::PipelineConfig::from_json(&config_json.to_string()).unwrap();
    let report = footml::Pipeline::from_config(&config).unwrap().run().unwrap();
    assert!(!report.tracks.is_empty());
    assert_eq!(String::from_utf8(out.stdout).unwrap().trim(), format!("tracks: {}", report.tracks.len()));
}

/// The header is valid C++ too (extern "C", the enum's underlying type).
#[test]
fn header_compiles_as_cpp() {
    let cxx = std::env::var("CXX").unwrap_or_else(|_| "c++".to_string());
    let out = run(Command::new(cxx)
        .args(["-std=c++17", "-Wall", "-Wextra", "-Werror", "-fsyntax-only", "-x", "c++"])
        .arg(root().join("include/footml.h")));
    assert!(out.status.success(), "include/footml.h does not compile as C++");
}

/// A report with roles: the fixture's ground-truth boxes of frames 776–835 (the away
/// goalkeeper, gt id 12, and the referee, gt id 27, in view throughout) pushed into a live
/// session with each player's real team and the classes a football model gives them (1
/// goalkeeper, 3 referee, 0 the others) under `goalkeeper_class_ids` [1] / `referee_class_ids`
/// [3], calibrated by the fixture's homography.
fn report_with_roles() -> footml::MatchReport {
    use footml::live::{LiveFrame, LiveSession};
    use footml::{BBox, Detection};
    let fixture = root().join("tests/fixtures/skillcorner");
    let meta: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(fixture.join("meta.json")).unwrap()).unwrap();
    let team = |id: u64| u32::from(meta["ids"][id.to_string()]["team"].as_str().unwrap() == "away");
    let class_of = |id: u64| match id {
        12 => 1,
        27 => 3,
        _ => 0,
    };
    let mut frames: std::collections::BTreeMap<u64, Vec<(u64, BBox)>> = Default::default();
    for l in std::fs::read_to_string(fixture.join("gt.txt")).unwrap().lines() {
        let f: Vec<f32> = l.split(',').map(|x| x.parse().unwrap()).collect();
        if (776..=835).contains(&(f[0] as u64)) {
            frames.entry(f[0] as u64).or_default().push((f[1] as u64, BBox::new(f[2], f[3], f[4], f[5])));
        }
    }
    let config = serde_json::json!({
        "fps": 25, "frame_size": [1920, 1080], "homography_path": fixture.join("homography.json"),
        "live": {"input": "detections", "user_teams": true},
        "stage_configs": {"player_detection": {"goalkeeper_class_ids": [1], "referee_class_ids": [3]}},
    });
    let mut session =
        LiveSession::from_config(&footml::PipelineConfig::from_json(&config.to_string()).unwrap()).unwrap();
    for (i, boxes) in frames.values().enumerate() {
        let players: Vec<Detection> =
            boxes.iter().map(|&(id, bbox)| Detection { bbox, score: 0.9, class_id: class_of(id) }).collect();
        let teams: Vec<Option<u32>> = boxes.iter().map(|&(id, _)| Some(team(id))).collect();
        let frame = LiveFrame::Detections {
            players: &players,
            ball_candidates: None,
            player_teams: Some(&teams),
            timestamp_s: i as f64 / 25.0,
        };
        session.push(frame).unwrap();
    }
    session.finish().unwrap()
}

/// A track row as tests/c/report_read.c prints it: frame, track id, box and score, team, pitch
/// position.
type ReadRow = (u64, u64, [f32; 5], i32, [f64; 2]);

/// tests/c/report_read.c reads a report with roles written inline and with Parquet tables
/// (`MatchReport::write`, what `report_tables` does) under valgrind: both give the written
/// report's track rows exactly and each track's role (a goalkeeper and a referee among them);
/// a missing report or table is `FOOTML_ERR_NOT_FOUND`, a file that is not a report or a table
/// that is not its table `FOOTML_ERR_INPUT`.
#[test]
fn report_read_gives_the_written_rows_and_roles_under_valgrind() {
    use footml::analysis::Role;
    use footml::report::ReportTables;
    let dir = tempfile::tempdir().unwrap();
    let exe = dir.path().join("report_read");
    compile_shared(&root().join("footml-capi/tests/c/report_read.c"), &exe);
    let report = report_with_roles();
    let write = |name: &str, tables| {
        let sub = dir.path().join(name);
        std::fs::create_dir(&sub).unwrap();
        report.write(&sub.join("report.json"), tables).unwrap();
        sub
    };
    let inline = write("inline", ReportTables::Inline).join("report.json");
    let parquet = write("parquet", ReportTables::Parquet).join("report.json");
    let bad_table = write("bad_table", ReportTables::Parquet);
    std::fs::write(bad_table.join("tracks.parquet"), b"PAR1 this is no Parquet file PAR1").unwrap();
    let no_table = write("no_table", ReportTables::Parquet);
    std::fs::remove_file(no_table.join("tracks.parquet")).unwrap();
    let not_json = dir.path().join("not_json.json");
    std::fs::write(&not_json, "{\"schema_version\": 2, \"tracks\": [").unwrap();
    let missing = dir.path().join("missing/report.json");
    let out = valgrind(
        &exe,
        &[&inline, &parquet, &missing, &not_json, &bad_table.join("report.json"), &no_table.join("report.json")],
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert_eq!(out.status.code(), Some(0), "tests/c/report_read.c failed: {}", String::from_utf8_lossy(&out.stderr));

    // The written report's rows, sorted as the C table is, each field as C printed it.
    let mut want_rows: Vec<ReadRow> = report
        .tracks
        .iter()
        .flat_map(|t| {
            t.frames.iter().map(move |f| {
                let [x, y, w, h] = f.bbox;
                (f.frame, t.track_id, [x, y, w, h, f.score], t.team.map_or(-1, |t| t as i32), f.pitch.unwrap())
            })
        })
        .collect();
    want_rows.sort_by_key(|r| (r.0, r.1));
    let code = |role: Option<Role>| match role {
        None => -1,
        Some(Role::Player) => 0,
        Some(Role::Goalkeeper) => 1,
        Some(Role::Referee) => 2,
        Some(Role::Unknown) => 3,
    };
    let want_roles: Vec<(u64, i32)> = report.tracks.iter().map(|t| (t.track_id, code(t.role))).collect();
    // The comparison covers every role a model class gives.
    assert!(want_roles.iter().any(|r| r.1 == 1) && want_roles.iter().any(|r| r.1 == 2), "{want_roles:?}");
    for format in ["inline", "parquet"] {
        let fields = |kind: &str| -> Vec<Vec<String>> {
            let prefix = format!("{kind},{format},");
            stdout
                .lines()
                .filter_map(|l| l.strip_prefix(&prefix))
                .map(|l| l.split(',').map(str::to_string).collect())
                .collect()
        };
        let rows: Vec<ReadRow> = fields("row")
            .iter()
            .map(|f| {
                let n = |i: usize| f[i].parse::<f32>().unwrap();
                let m = |i: usize| f[i].parse::<f64>().unwrap();
                (
                    f[0].parse().unwrap(),
                    f[1].parse().unwrap(),
                    [n(2), n(3), n(4), n(5), n(6)],
                    f[7].parse().unwrap(),
                    [m(8), m(9)],
                )
            })
            .collect();
        assert!(rows.len() > 600, "{format}: {} rows", rows.len());
        assert_eq!(rows, want_rows, "{format}");
        let roles: Vec<(u64, i32)> =
            fields("role").iter().map(|f| (f[0].parse().unwrap(), f[1].parse().unwrap())).collect();
        assert_eq!(roles, want_roles, "{format}");
    }
}
