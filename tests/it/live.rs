//! Live sessions against file mode: pushing the frames of the SkillCorner fixture one at a
//! time gives, frame by frame and in the report, what the file run gives; a crashed session
//! resumes from its checkpoints to the same report.

use footml::analysis::Possession;
use footml::live::{LiveFrame, LiveSession};
use footml::pipeline::events::{ChannelSink, EventKind};
use footml::stages::detections_file::DetectionsFileSource;
use footml::stages::events::EventDetection;
use footml::types::MatchData;
use footml::{FrameRecord, FrameSource, MatchReport, Pipeline, PipelineConfig};

use crate::common::fixture;

const FRAMES: u64 = 250;

/// Ball sizes of the fixture: its ball is 2–4 px across (far camera).
fn ball() -> serde_json::Value {
    serde_json::json!({"ball_tracking": {"min_ball_radius": 0.5, "max_ball_radius": 10}})
}

/// The fixture's first `FRAMES` frames as a file run would read them.
fn fixture_frames(dir: &std::path::Path) -> (Vec<FrameRecord>, std::path::PathBuf, std::path::PathBuf) {
    let cut = |name: &str| {
        let text = std::fs::read_to_string(fixture(name)).unwrap();
        let kept: String = text
            .lines()
            .filter(|l| l.split(',').next().unwrap().parse::<u64>().unwrap() <= FRAMES)
            .flat_map(|l| [l, "\n"])
            .collect();
        let path = dir.join(name);
        std::fs::write(&path, kept).unwrap();
        path
    };
    let (det, ball_det) = (cut("det.txt"), cut("ball_det.txt"));
    let mut src = DetectionsFileSource::open(&det, Some(&ball_det), 25.0, [1920, 1080]).unwrap();
    let frames = std::iter::from_fn(|| src.next_frame().unwrap()).map(|i| i.record).collect();
    (frames, det, ball_det)
}

fn config(extra: serde_json::Value) -> PipelineConfig {
    let mut c = serde_json::json!({
        "fps": 25, "frame_size": [1920, 1080],
        "homography_path": fixture("homography.json"),
        "live": {"input": "detections", "ball_candidates": true},
        "stage_configs": ball(),
    });
    c.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
    PipelineConfig::from_json(&c.to_string()).unwrap()
}

fn push(session: &mut LiveSession, rec: &FrameRecord) -> footml::live::FrameResult {
    session
        .push(LiveFrame::Detections {
            players: rec.players.as_deref().unwrap(),
            ball_candidates: rec.ball_candidates.as_deref(),
            player_teams: None,
            timestamp_s: rec.time_s,
        })
        .unwrap()
}

/// What must not depend on how the frames arrived.
fn analysis(r: &MatchReport) -> serde_json::Value {
    serde_json::json!({"tracks": r.tracks, "ball": r.ball, "metrics": r.metrics, "video": r.video.frame_count})
}

#[test]
fn live_pushes_give_the_file_run_frame_by_frame_and_in_the_report() {
    let dir = tempfile::tempdir().unwrap();
    let (frames, det, ball_det) = fixture_frames(dir.path());
    let file_config = serde_json::json!({
        "detections_path": det, "ball_detections_path": ball_det, "fps": 25, "frame_size": [1920, 1080],
        "homography_path": fixture("homography.json"), "stage_configs": ball(),
    });
    let file_config = PipelineConfig::from_json(&file_config.to_string()).unwrap();
    let file = Pipeline::from_config(&file_config).unwrap().run().unwrap();
    assert!(
        file.tracks.len() >= 10 && file.ball.len() >= 200,
        "{} tracks, {} ball",
        file.tracks.len(),
        file.ball.len()
    );

    let (tx, rx) = crossbeam_channel::unbounded();
    let mut session =
        LiveSession::from_config_with(&config(serde_json::json!({})), |b| Ok(b.event_sink(ChannelSink(tx)))).unwrap();
    // Same stages as the file run, after the source.
    let mut live_stage_names: Vec<String> = Vec::new();
    let mut ball_frames = 0;
    let mut live_records = Vec::new();
    let mut live_possession = Vec::new();
    for rec in &frames {
        let result = push(&mut session, rec);
        live_records.push(result.record.clone());
        live_possession.push(result.possession().expect("calibrated with a ball: possession"));
        assert_eq!(result.index(), rec.index);
        // Each push returns that frame's confirmed tracks: the file run's rows for the frame.
        let mut want: Vec<(u64, [f32; 4])> = file
            .tracks
            .iter()
            .flat_map(|t| t.frames.iter().filter(|f| f.frame == rec.index).map(|f| (t.track_id, f.bbox)))
            .collect();
        want.sort_by_key(|w| w.0);
        let got: Vec<(u64, [f32; 4])> =
            result.tracks().iter().map(|t| (t.track_id, [t.bbox.x, t.bbox.y, t.bbox.w, t.bbox.h])).collect();
        assert_eq!(got, want, "frame {}", rec.index);
        // Pitch positions through the calibration, as the report gives them.
        if let Some(t) = result.tracks().first() {
            let row = file.tracks.iter().find(|r| r.track_id == t.track_id).unwrap();
            let f = row.frames.iter().find(|f| f.frame == rec.index).unwrap();
            assert_eq!(result.pitch_position(&t.bbox), f.pitch);
        }
        ball_frames += usize::from(result.ball().is_some_and(|b| b.has_position()));
    }
    // The tracker's ball, live (the report's ball is smoothed after the stream).
    assert!(ball_frames >= 200, "{ball_frames} frames with a live ball");
    check_live_possession(&live_records, &live_possession);
    let live = session.finish().unwrap();
    assert_eq!(analysis(&live), analysis(&file));
    for s in &live.stages[1..] {
        live_stage_names.push(s.name.clone());
    }
    let file_names: Vec<String> = file.stages[1..].iter().map(|s| s.name.clone()).collect();
    assert_eq!(live_stage_names, file_names);
    // The same events as file mode: progress of the stages and the end of the run.
    let events: Vec<_> = rx.try_iter().collect();
    assert!(events.iter().any(|e| matches!(e.kind, EventKind::StageCompleted { frames: FRAMES, .. })));
    assert!(events.iter().any(|e| matches!(e.kind, EventKind::PipelineCompleted { .. })));
}

/// Each frame's live possession is the event detection stage's on the frames pushed so far
/// (the stage looks ahead, so the whole match can revise a frame later); most frames agree
/// with the whole match's (232 of 250 when measured).
fn check_live_possession(records: &[FrameRecord], live: &[Possession]) {
    let stage = EventDetection::new(&Default::default()).unwrap();
    let data = |n: usize| MatchData {
        video: footml::VideoInfo { fps: 25.0, ..Default::default() },
        frames: records[..n].to_vec(),
        ..Default::default()
    };
    for (i, got) in live.iter().enumerate() {
        assert_eq!(*got, stage.detect(&data(i + 1)).unwrap().0[i], "frame {i}");
    }
    let whole = stage.detect(&data(records.len())).unwrap().0;
    let owned = whole.iter().filter(|p| p.track_id.is_some()).count();
    let same = live.iter().zip(&whole).filter(|(a, b)| a == b).count();
    assert!(owned >= 50, "{owned} frames with a player in possession");
    assert!(same * 10 >= live.len() * 9, "live agrees with the whole match in {same} of {} frames", live.len());
}

#[test]
fn a_crashed_live_session_resumes_from_its_checkpoints_to_the_same_report() {
    let dir = tempfile::tempdir().unwrap();
    let (frames, _, _) = fixture_frames(dir.path());
    let ckpt = dir.path().join("ckpt");
    let settings = serde_json::json!({"pipeline_id": "live-resume", "checkpoint_dir": ckpt,
                                      "checkpoint_interval_frames": 50});

    let uninterrupted = {
        let mut s = LiveSession::from_config(&config(serde_json::json!({}))).unwrap();
        frames.iter().for_each(|r| drop(push(&mut s, r)));
        s.finish().unwrap()
    };

    let (tx, rx) = crossbeam_channel::unbounded();
    let mut first =
        LiveSession::from_config_with(&config(settings.clone()), |b| Ok(b.event_sink(ChannelSink(tx)))).unwrap();
    assert_eq!(first.next_index().unwrap(), 0);
    for rec in &frames[..120] {
        push(&mut first, rec);
    }
    // The crash: the session goes away without finish.
    drop(first);
    let saved: Vec<u64> = rx
        .try_iter()
        .filter_map(|e| match e.kind {
            EventKind::CheckpointSaved { frames_done, .. } => Some(frames_done),
            _ => None,
        })
        .collect();
    assert_eq!(saved, [50, 100]);

    let mut second = LiveSession::from_config(&config(settings)).unwrap();
    // Frames 0..100 are in the checkpoints: the feed continues at frame 100.
    assert_eq!(second.next_index().unwrap(), 100);
    for rec in &frames[100..] {
        assert_eq!(push(&mut second, rec).index(), rec.index);
    }
    let resumed = second.finish().unwrap();
    assert_eq!(analysis(&resumed), analysis(&uninterrupted));
    // A finished run deletes its checkpoints.
    assert_eq!(ckpt_files(&ckpt), 0);
}

fn ckpt_files(dir: &std::path::Path) -> usize {
    std::fs::read_dir(dir).map_or(0, |d| {
        d.map(|e| e.unwrap().path())
            .map(|p| if p.is_dir() { ckpt_files(&p) } else { usize::from(p.extension().is_some_and(|e| e == "ckpt")) })
            .sum()
    })
}

/// Pixel pushes through the real person detector: a short clip of a person walking on grass,
/// decoded and pushed as RGB frames and, separately, as the decoder's YUV 4:2:0 planes, gives
/// the tracks of the file run on the clip, frame by frame; with the model's person class named
/// a referee class the track is a referee live and in the report.
#[test]
fn rgb_and_yuv_pushes_through_the_model_give_the_file_run() {
    use footml::analysis::Role;
    use footml::live::{YuvColor, YuvMatrix};
    let root = crate::common::root();
    let model = root.join(".venv/lib/python3.11/site-packages/fall_detection/models/best_fp16.onnx");
    let jpg = root.join("data/fixtures/grace_hopper.jpg");
    assert!(model.exists() && jpg.exists(), "run scripts/setup.sh");
    let dir = tempfile::tempdir().unwrap();
    let clip = dir.path().join("walk.mp4");
    let (w, h, n) = (640usize, 360usize, 3usize);
    let ffmpeg = |args: &[&str]| {
        let out = std::process::Command::new("ffmpeg").args(["-v", "error", "-y"]).args(args).output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        out.stdout
    };
    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        "color=c=0x3c783c:s=640x360:r=25",
        "-i",
        jpg.to_str().unwrap(),
        "-filter_complex",
        "[1]scale=-2:220[p];[0][p]overlay=x='150+12*n':y=80",
        "-frames:v",
        &n.to_string(),
        "-c:v",
        "libx264",
        "-pix_fmt",
        "yuv420p",
        clip.to_str().unwrap(),
    ]);
    let file_config = serde_json::json!({"video_path": clip,
        "stage_configs": {"player_detection": {"model_path": model}}});
    let file =
        Pipeline::from_config(&PipelineConfig::from_json(&file_config.to_string()).unwrap()).unwrap().run().unwrap();
    let file_rows = |frame: u64| -> Vec<(u64, [f32; 4])> {
        file.tracks
            .iter()
            .flat_map(|t| t.frames.iter().filter(|f| f.frame == frame).map(|f| (t.track_id, f.bbox)))
            .collect()
    };
    assert_eq!(file_rows(n as u64 - 1).len(), 1, "the person is tracked in the file run");

    let live_config = serde_json::json!({"fps": 25, "frame_size": [w, h],
        "stage_configs": {"player_detection": {"model_path": model}}});
    let live_config = PipelineConfig::from_json(&live_config.to_string()).unwrap();
    let rows = |r: &footml::live::FrameResult| -> Vec<(u64, [f32; 4])> {
        r.tracks().iter().map(|t| (t.track_id, [t.bbox.x, t.bbox.y, t.bbox.w, t.bbox.h])).collect()
    };

    // RGB: the decoder's own frames, with their padded stride.
    let mut source = footml::stages::video_decoding::VideoSource::open(&clip, &Default::default(), None).unwrap();
    let mut session = LiveSession::from_config(&live_config).unwrap();
    for i in 0..n {
        let item = source.next_frame().unwrap().unwrap();
        let img = item.image.unwrap();
        let r = session.push(LiveFrame::from_rgb(&img, item.record.time_s)).unwrap();
        assert_eq!(rows(&r), file_rows(i as u64), "rgb frame {i}");
    }
    session.finish().unwrap();

    // YUV 4:2:0: the decoded planes from the ffmpeg CLI (untagged H.264: BT.601, limited).
    let yuv = ffmpeg(&["-i", clip.to_str().unwrap(), "-f", "rawvideo", "-pix_fmt", "yuv420p", "-"]);
    let frame_len = w * h * 3 / 2;
    assert_eq!(yuv.len(), n * frame_len);
    let push_yuv = |session: &mut LiveSession, i: usize, f: &[u8]| {
        let (y, uv) = f.split_at(w * h);
        let (u, v) = uv.split_at(w * h / 4);
        session
            .push(LiveFrame::Yuv420p {
                width: w as u32,
                height: h as u32,
                planes: [y, u, v],
                strides: [w, w / 2, w / 2],
                color: YuvColor { matrix: YuvMatrix::Bt601, full_range: false },
                timestamp_s: i as f64 / 25.0,
            })
            .unwrap()
    };
    // One person: the kit teams are still warming up, so nobody has a team or role yet. With
    // the model's class of the person (0) named a referee class, the pixel session's live
    // teams show the track as a referee, without a team, from its first frame, as the report
    // does.
    let mut referee_config = live_config.clone();
    referee_config.stage_configs.player_detection.referee_class_ids = vec![0];
    for (config, role) in [(&live_config, Role::Unknown), (&referee_config, Role::Referee)] {
        let mut session = LiveSession::from_config(config).unwrap();
        for (i, f) in yuv.chunks_exact(frame_len).enumerate() {
            let r = push_yuv(&mut session, i, f);
            assert_eq!(rows(&r), file_rows(i as u64), "yuv frame {i}");
            let roles: Vec<_> = r.track_teams().iter().map(|t| (t.team, t.role)).collect();
            assert_eq!(roles, [(None, role)], "yuv frame {i}");
        }
        let report = session.finish().unwrap();
        assert_eq!(report.tracks.iter().map(|t| t.role).collect::<Vec<_>>(), [Some(role)]);
    }
}

/// Ground-truth boxes of frames 776–835 of the fixture (the away goalkeeper, gt id 12, and
/// the referee, gt id 27, in view throughout) pushed with each player's real team — and the
/// referee, by mistake, with team 0 — and classes as a football model gives them: 1 for the
/// goalkeeper, 3 for the referee, 0 for the others. With `goalkeeper_class_ids` [1] and
/// `referee_class_ids` [3] the referee's track is a referee without a team in every frame,
/// the goalkeeper's a goalkeeper of team 1, the others keep their teams; the report at the
/// end gives each track the role and team it had live. Without the class keys the referee
/// is in team 0, as pushed.
#[test]
fn live_roles_follow_the_detections_classes_as_the_report_does() {
    use footml::analysis::Role;
    use footml::{BBox, Detection};
    let gt = crate::common::read_gt_boxes(&fixture("gt.txt"));
    let meta: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(fixture("meta.json")).unwrap()).unwrap();
    let pushed_team = |id: u64| match meta["ids"][id.to_string()]["team"].as_str().unwrap() {
        "away" => 1,
        _ => 0,
    };
    let class_of = |id: u64| match id {
        12 => 1,
        27 => 3,
        _ => 0,
    };
    let run = |classes: bool| {
        let pd = if classes {
            serde_json::json!({"goalkeeper_class_ids": [1], "referee_class_ids": [3]})
        } else {
            serde_json::json!({})
        };
        let config = serde_json::json!({
            "fps": 25, "frame_size": [1920, 1080], "live": {"input": "detections", "user_teams": true},
            "stage_configs": {"player_detection": pd},
        });
        let mut session = LiveSession::from_config(&PipelineConfig::from_json(&config.to_string()).unwrap()).unwrap();
        // Per frame: (gt id, team, role) of each confirmed track; per track its last (team, role).
        let mut frames: Vec<Vec<(u64, Option<u32>, Role)>> = Vec::new();
        let mut last = std::collections::BTreeMap::new();
        for (i, f) in (775..835u64).enumerate() {
            let boxes = &gt[&f];
            let players: Vec<Detection> =
                boxes.iter().map(|&(id, bbox)| Detection { bbox, score: 0.9, class_id: class_of(id) }).collect();
            let teams: Vec<Option<u32>> = boxes.iter().map(|&(id, _)| Some(pushed_team(id))).collect();
            let r = session
                .push(LiveFrame::Detections {
                    players: &players,
                    ball_candidates: None,
                    player_teams: Some(&teams),
                    timestamp_s: i as f64 / 25.0,
                })
                .unwrap();
            let gt_id = |b: &BBox| {
                let (iou, id) = boxes.iter().map(|(id, g)| (g.iou(b), *id)).max_by(|a, b| a.0.total_cmp(&b.0)).unwrap();
                assert!(iou >= 0.5, "frame {f}: {b:?}");
                id
            };
            let row = r
                .tracks()
                .iter()
                .zip(r.track_teams())
                .map(|(t, tt)| {
                    assert_eq!(t.track_id, tt.track_id);
                    last.insert(t.track_id, (tt.team, tt.role));
                    (gt_id(&t.bbox), tt.team, tt.role)
                })
                .collect();
            frames.push(row);
        }
        (frames, last, session.finish().unwrap())
    };
    for classes in [true, false] {
        let (frames, last, report) = run(classes);
        let mut seen = [0usize; 2];
        for (i, row) in frames.iter().enumerate() {
            for &(id, team, role) in row {
                let want = match id {
                    27 if classes => (None, Role::Referee),
                    12 if classes => (Some(1), Role::Goalkeeper),
                    _ => (Some(pushed_team(id)), Role::Player),
                };
                assert_eq!((team, role), want, "classes {classes}, frame {i}, gt id {id}");
                if id == 12 || id == 27 {
                    seen[usize::from(id == 27)] += 1;
                }
            }
        }
        // Both are tracked in every frame (the tracker's first frame confirms at once).
        assert_eq!(seen, [60, 60], "classes {classes}");
        let end: std::collections::BTreeMap<u64, (Option<u32>, Option<Role>)> =
            report.tracks.iter().map(|t| (t.track_id, (t.team, t.role))).collect();
        let live: std::collections::BTreeMap<u64, (Option<u32>, Option<Role>)> =
            last.into_iter().map(|(id, (team, role))| (id, (team, Some(role)))).collect();
        assert_eq!(end, live, "classes {classes}");
    }
}
