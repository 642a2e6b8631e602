//! The `footml` command-line tool.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use clap::{Args, Parser, Subcommand, ValueEnum};
use footml::pipeline::events::{EventKind, FnSink, JsonLinesSink, PipelineEvent, TracingSink};
use footml::{Pipeline, PipelineConfig};
use indicatif::{ProgressBar, ProgressStyle};

#[derive(Parser)]
#[command(name = "footml", version, about = "Football match video analysis")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Analyse a video, or a file of detections, and write report.json, tracks.txt and
    /// events.jsonl into the output directory.
    Analyze(AnalyzeArgs),
    /// Render tracking data (a tracking CSV: frame,time_s,id,team,role,x_m,y_m,z_m) into a
    /// broadcast-like H.264 clip with its ground truth (gt.txt, ball_gt.txt, homography.json,
    /// teams.json, meta.json) in the output directory.
    #[cfg(feature = "sim")]
    Render(RenderArgs),
    /// Draw pictures of a report.json: heatmaps per player and team, a radar (top-down) view,
    /// formation diagrams, and with --video an annotated copy of the video.
    #[cfg(feature = "viz")]
    RenderReport(RenderReportArgs),
}

#[cfg(feature = "sim")]
#[derive(Clone, Copy, ValueEnum)]
enum CameraArg {
    Broadcast,
    Static,
}

#[cfg(feature = "sim")]
#[derive(Args)]
struct RenderArgs {
    /// Tracking CSV (e.g. tests/fixtures/skillcorner/tracking.csv).
    #[arg(long)]
    tracking: PathBuf,
    /// Output directory.
    #[arg(long)]
    out: PathBuf,
    /// First tracking frame to render.
    #[arg(long, default_value_t = 1)]
    start_frame: u64,
    /// Number of frames to render (default: to the end of the file).
    #[arg(long)]
    frames: Option<u64>,
    /// Frame size, WIDTHxHEIGHT (even numbers).
    #[arg(long, value_parser = parse_size, default_value = "1920x1080")]
    size: [u32; 2],
    /// Camera: a panning, zooming broadcast camera or a static wide one.
    #[arg(long, value_enum, default_value = "broadcast")]
    camera: CameraArg,
    /// x264 preset.
    #[arg(long, default_value = "veryfast")]
    preset: String,
    /// x264 constant rate factor (0–51, lower is better quality).
    #[arg(long, default_value_t = 20)]
    crf: u8,
}

#[cfg(feature = "viz")]
#[derive(Args)]
struct RenderReportArgs {
    /// The report.json written by `footml analyze`.
    report: PathBuf,
    /// The analysed video, for an annotated copy (annotated.mp4).
    #[arg(long)]
    video: Option<PathBuf>,
    /// Output directory.
    #[arg(long, default_value = "footml-pictures")]
    out: PathBuf,
    /// Pixels per metre of the top-down pictures.
    #[arg(long, default_value_t = 10.0)]
    scale: f32,
    /// Skip the radar video (one picture per frame).
    #[arg(long)]
    no_radar_video: bool,
}

#[derive(Clone, Copy, ValueEnum)]
enum Device {
    Cpu,
    Cuda,
    Tensorrt,
}

#[derive(Args)]
struct AnalyzeArgs {
    /// Video file to analyse.
    video: Option<PathBuf>,
    /// Pipeline config (JSON); command-line options override it.
    #[arg(long)]
    config: Option<PathBuf>,
    /// YOLO ONNX model for player detection.
    #[arg(long)]
    model: Option<PathBuf>,
    /// Output directory.
    #[arg(long, default_value = "footml-out")]
    out: PathBuf,
    /// Continue from the checkpoints of an interrupted run of the same analysis.
    #[arg(long)]
    resume: bool,
    /// Inference device, demanded: fails when it cannot be used (without it, the config's
    /// `gpu_enabled` prefers the GPU and falls back to the CPU with a warning).
    #[arg(long, value_enum)]
    device: Option<Device>,
    /// MOTChallenge player detections to analyse instead of a video; with a VIDEO as well, the
    /// players come from this file instead of a model and the pixels from the video.
    #[arg(long)]
    detections: Option<PathBuf>,
    /// MOTChallenge ball candidates (with --detections).
    #[arg(long, requires = "detections")]
    ball_detections: Option<PathBuf>,
    /// Frame rate of the detections.
    #[arg(long)]
    fps: Option<f64>,
    /// Frame size of the detections, WIDTHxHEIGHT.
    #[arg(long, value_parser = parse_size)]
    frame_size: Option<[u32; 2]>,
    /// Image → pitch homography file (replaces any calibration source of the config).
    #[arg(long)]
    homography: Option<PathBuf>,
    /// Pitch-keypoint ONNX model (YOLOv8-pose layout) for a homography per frame (replaces
    /// any calibration source of the config; default from KEYPOINT_MODEL_PATH when neither
    /// names one).
    #[arg(long, value_name = "PATH", conflicts_with = "homography")]
    keypoint_model: Option<PathBuf>,
    /// Frames per checkpoint chunk.
    #[arg(long)]
    checkpoint_interval: Option<u64>,
    /// Keep checkpoints after the run succeeds.
    #[arg(long)]
    keep_checkpoints: bool,
    /// Read the input no faster than SPEED × its frame rate (1 = real time), to simulate a
    /// live feed.
    #[arg(long, value_name = "SPEED", num_args = 0..=1, default_missing_value = "1")]
    realtime: Option<f64>,
}

fn parse_size(s: &str) -> Result<[u32; 2], String> {
    let (w, h) = s.split_once(['x', 'X']).ok_or_else(|| format!("expected WIDTHxHEIGHT, found `{s}`"))?;
    let parse = |v: &str| v.trim().parse::<u32>().map_err(|_| format!("expected WIDTHxHEIGHT, found `{s}`"));
    Ok([parse(w)?, parse(h)?])
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Analyze(args) => analyze(args),
        #[cfg(feature = "sim")]
        Command::Render(args) => render(args),
        #[cfg(feature = "viz")]
        Command::RenderReport(args) => render_report(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("footml: error: {}", one_line(&e.to_string()));
            ExitCode::FAILURE
        }
    }
}

#[cfg(feature = "viz")]
fn render_report(args: RenderReportArgs) -> footml::Result<()> {
    let report = footml::MatchReport::read_json(&args.report)?;
    let options = footml::viz::RenderOptions {
        pitch_scale: args.scale,
        radar_video: !args.no_radar_video,
        video: args.video,
        ..Default::default()
    };
    let rendered = footml::viz::render_report(&report, &args.out, &options)?;
    println!("wrote {} files into {}", rendered.files.len(), args.out.display());
    Ok(())
}

fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn analyze(args: AnalyzeArgs) -> footml::Result<()> {
    let mut config = match &args.config {
        Some(path) => PipelineConfig::from_file(path)?,
        None => PipelineConfig::from_json("{}")?,
    };
    // Either replaces the config's input; both together are a video with its players from a file.
    let both = args.video.is_some() && args.detections.is_some();
    if let Some(v) = args.video {
        config.video_path = Some(v);
        if !both {
            config.detections_path = None;
        }
    }
    if let Some(d) = args.detections {
        config.detections_path = Some(d);
        if !both {
            config.video_path = None;
        }
    }
    if args.ball_detections.is_some() {
        config.ball_detections_path = args.ball_detections;
    }
    // Calibration takes one source: one named here replaces the config's (or the
    // environment's), rather than failing as a second source would in a config file.
    if args.homography.is_some() || args.keypoint_model.is_some() {
        let c = &mut config.stage_configs.pitch_calibration;
        (c.homography_path, c.image_to_pitch, c.correspondences) = (None, None, None);
        c.keypoint_model = args.keypoint_model;
        if c.keypoint_model.is_none() {
            // The keypoint map belongs to a model.
            c.keypoints = None;
        }
        config.homography_path = args.homography;
    }
    if args.fps.is_some() {
        config.fps = args.fps;
    }
    if args.frame_size.is_some() {
        config.frame_size = args.frame_size;
    }
    if args.model.is_some() {
        config.stage_configs.player_detection.model_path = args.model;
    }
    if let Some(d) = args.device {
        // A device named on the command line is demanded: no silent CPU fallback.
        config.gpu_enabled = !matches!(d, Device::Cpu);
        config.stage_configs.player_detection.device = Some(match d {
            Device::Cpu => footml::config::InferenceDevice::Cpu,
            Device::Cuda => footml::config::InferenceDevice::Cuda,
            Device::Tensorrt => footml::config::InferenceDevice::Tensorrt,
        });
    }
    if let Some(n) = args.checkpoint_interval {
        config.checkpoint_interval_frames = n;
    }
    config.output_dir = Some(args.out.clone());
    if config.checkpoint_dir.is_none() {
        config.checkpoint_dir = Some(args.out.join("checkpoints"));
    }
    config.validate()?;
    init_logging(config.log_level.as_deref());

    std::fs::create_dir_all(&args.out).map_err(|e| footml::Error::io(&args.out, e))?;
    let events_path = args.out.join("events.jsonl");
    if !args.resume {
        // A fresh run starts a fresh event log; a resumed one appends to it.
        let _ = std::fs::remove_file(&events_path);
    }
    let progress = Progress::new(std::io::stderr().is_terminal());
    let sink_progress = progress.clone();
    let mut builder = Pipeline::builder_from_config(&config)?
        .resume(args.resume)
        .keep_checkpoints(args.keep_checkpoints)
        .event_sink(JsonLinesSink::create(&events_path)?)
        .event_sink(FnSink(move |e: &PipelineEvent| sink_progress.on_event(e)));
    if config.log_level.is_some() {
        // Asked-for logs; by default the progress display and the one-line error say enough.
        builder = builder.event_sink(TracingSink);
    }
    if let Some(speed) = args.realtime {
        builder = builder.pace(speed);
    }
    let pipeline = builder.build()?;
    progress.set_last_stage(pipeline.stage_names().into_iter().rev().find(|s| s != "pitch_calibration"));
    let report = pipeline.run();
    progress.finish();
    let report = report?;
    let report_path = args.out.join("report.json");
    println!(
        "report: {} ({} frames, {} tracks{})",
        report_path.display(),
        report.stages.first().map_or(0, |s| s.frames),
        report.tracks.len(),
        if report.frames_lost > 0 {
            format!(", {} frames lost to corrupt data", report.frames_lost)
        } else {
            String::new()
        }
    );
    for (kind, path) in &report.outputs {
        println!("{kind}: {path}");
    }
    if let Some(dir) = &config.checkpoint_dir
        && !args.keep_checkpoints
    {
        remove_empty_dirs(dir);
    }
    Ok(())
}

#[cfg(feature = "sim")]
fn render(args: RenderArgs) -> footml::Result<()> {
    use footml::sim::{CameraMode, RenderConfig};
    let cfg = RenderConfig {
        start_frame: args.start_frame,
        frames: args.frames,
        size: args.size,
        camera: match args.camera {
            CameraArg::Broadcast => CameraMode::Broadcast,
            CameraArg::Static => CameraMode::Static,
        },
        preset: args.preset,
        crf: args.crf,
        ..RenderConfig::new(args.tracking, args.out)
    };
    let s = footml::sim::render(&cfg)?;
    println!(
        "video: {} ({} frames at {} fps, {} person boxes, ball in {} frames)",
        s.video.display(),
        s.frames,
        s.fps,
        s.person_boxes,
        s.ball_frames
    );
    Ok(())
}

/// Removes directories left empty once checkpoints are deleted (never files).
fn remove_empty_dirs(dir: &Path) {
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            if e.path().is_dir() {
                remove_empty_dirs(&e.path());
            }
        }
    }
    let _ = std::fs::remove_dir(dir);
}

fn init_logging(level: Option<&str>) {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_new(level.unwrap_or("warn")).unwrap_or_else(|_| EnvFilter::new("warn"));
    let _ = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).without_time().try_init();
}

/// Shows progress: a bar on a terminal, a plain line every few seconds otherwise.
#[derive(Clone)]
struct Progress(Arc<Mutex<ProgressState>>);

struct ProgressState {
    bar: Option<ProgressBar>,
    stage: Option<String>,
    last_line: Option<Instant>,
}

impl Progress {
    fn new(terminal: bool) -> Self {
        let bar = terminal.then(|| {
            let bar = ProgressBar::new(0);
            bar.set_style(
                ProgressStyle::with_template("{spinner} {msg:18} [{bar:40}] {pos}/{len} frames  {per_sec}  eta {eta}")
                    .expect("valid template")
                    .progress_chars("=> "),
            );
            bar.enable_steady_tick(Duration::from_millis(200));
            bar
        });
        Progress(Arc::new(Mutex::new(ProgressState { bar, stage: None, last_line: None })))
    }

    fn set_last_stage(&self, stage: Option<String>) {
        if let Ok(mut s) = self.0.lock() {
            s.stage = stage;
        }
    }

    fn on_event(&self, e: &PipelineEvent) {
        let Ok(mut s) = self.0.lock() else { return };
        let stage = e.stage.as_deref().unwrap_or("");
        match &e.kind {
            EventKind::StageProgress { frames_done, frames_total, fps, eta_s } if s.stage.as_deref() == Some(stage) => {
                if let Some(bar) = &s.bar {
                    bar.set_message(stage.to_string());
                    bar.set_length(frames_total.unwrap_or(*frames_done));
                    bar.set_position(*frames_done);
                } else if s.last_line.is_none_or(|t| t.elapsed() > Duration::from_secs(2)) {
                    s.last_line = Some(Instant::now());
                    let total = frames_total.map_or("?".to_string(), |t| t.to_string());
                    let eta = eta_s.map_or(String::new(), |e| format!(", eta {e:.0} s"));
                    eprintln!("progress: {stage} {frames_done}/{total} frames, {fps:.0} fps{eta}");
                }
            }
            EventKind::StageRetrying { attempt, delay_ms, error } => {
                self.line(&s, &format!("retrying {stage} (attempt {attempt} in {delay_ms} ms): {error}"))
            }
            EventKind::Warning { message } => self.line(&s, &format!("warning: {message}")),
            _ => {}
        }
    }

    fn line(&self, s: &ProgressState, text: &str) {
        match &s.bar {
            Some(bar) => bar.println(text),
            None => eprintln!("{text}"),
        }
    }

    fn finish(&self) {
        if let Ok(s) = self.0.lock()
            && let Some(bar) = &s.bar
        {
            bar.finish_and_clear();
        }
    }
}
