//! The C API as C programs see it: examples/c/analyze.c and tests/c/abi.c are compiled with
//! the system C compiler against include/footml.h and the libfootml this `cargo test` built,
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
    let lib = lib_dir();
    let out = run(Command::new(cc())
        .args(["-std=c11", "-Wall", "-Wextra", "-Werror", "-g", "-I"])
        .arg(root().join("include"))
        .arg(src)
        .arg("-o")
        .arg(exe)
        .arg("-L")
        .arg(lib)
        .arg("-lfootml")
        .arg(format!("-Wl,-rpath,{}", lib.display())));
    assert!(out.status.success(), "compiling {} failed", src.display());
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
    let det = std::fs::read_to_string(root().join("tests/fixtures/skillcorner/det.txt")).unwrap();
    let det: String = det.lines().filter(|l| l.split(',').next().unwrap().parse::<u32>().unwrap() <= 250).fold(
        String::new(),
        |mut s, l| {
            s.push_str(l);
            s.push('\n');
            s
        },
    );
    let det_path = dir.path().join("det.txt");
    std::fs::write(&det_path, det).unwrap();
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

/// Static linking needs the Rust standard library's system libraries and FFmpeg's.
#[test]
fn static_library_links() {
    let lib = lib_dir();
    let dir = tempfile::tempdir().unwrap();
    let exe = dir.path().join("abi-static");
    let ffmpeg = run(Command::new("pkg-config")
        .args(["--libs", "libavformat", "libavcodec", "libavfilter", "libavdevice"])
        .args(["libswscale", "libswresample", "libavutil"]));
    assert!(ffmpeg.status.success(), "pkg-config does not know FFmpeg");
    let ffmpeg = String::from_utf8(ffmpeg.stdout).unwrap();
    let out = run(Command::new(cc())
        .args(["-std=c11", "-Wall", "-Werror", "-I"])
        .arg(root().join("include"))
        .arg(root().join("footml-capi/tests/c/abi.c"))
        .arg("-o")
        .arg(&exe)
        .arg(lib.join("libfootml.a"))
        .args(ffmpeg.split_whitespace())
        .args(["-lgcc_s", "-lutil", "-lrt", "-lpthread", "-lm", "-ldl", "-lc"]));
    assert!(out.status.success(), "static link failed");
    let out = run(&mut Command::new(&exe));
    assert!(out.status.success(), "statically linked tests/c/abi.c failed");
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
