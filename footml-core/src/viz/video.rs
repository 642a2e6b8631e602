//! The two videos: the radar (top-down) view of every frame, and the analysed video annotated
//! with boxes, ids, the ball's trail and a possession banner. Encoded with the sample-match
//! renderer's H.264 writer.

use std::collections::{BTreeMap, VecDeque};
use std::path::{Path, PathBuf};

use tiny_skia::{Paint, PathBuilder, Rect, Stroke, Transform};

use super::VizError;
use super::canvas::{self, PitchView};
use super::pictures::{BALL, Palette, PitchFrames, clock, possession_banner, radar_frame, report_fps};
use crate::config::VideoDecodingConfig;
use crate::pipeline::stage::FrameSource;
use crate::report::MatchReport;
use crate::sim::encode::H264Writer;
use crate::stages::video_decoding::VideoSource;

/// x264 settings of the pictures: fast, and good enough to read ids.
const PRESET: &str = "veryfast";
const CRF: u8 = 23;

fn encode_err(e: crate::sim::SimError) -> VizError {
    VizError::Video(e.to_string())
}

/// Last frame index anything in the report is seen in.
fn last_frame(report: &MatchReport) -> Option<u64> {
    let tracks = report.tracks.iter().filter_map(|t| t.frames.last().map(|f| f.frame));
    tracks.chain(report.ball.iter().map(|b| b.frame)).max()
}

/// `radar.mp4`: the radar picture of every frame from 0 to the last frame with anything on it.
pub(crate) fn radar_video(
    report: &MatchReport,
    view: &PitchView,
    palette: &Palette,
    frames: &PitchFrames,
    out_dir: &Path,
) -> Result<PathBuf, VizError> {
    let path = out_dir.join("radar.mp4");
    std::fs::create_dir_all(out_dir).map_err(|e| VizError::Write { path: out_dir.into(), message: e.to_string() })?;
    let (w, h) = view.size();
    let mut writer = H264Writer::create(&path, w, h, report_fps(report), PRESET, CRF).map_err(encode_err)?;
    let background = view.pitch_picture()?;
    for frame in 0..=last_frame(report).unwrap_or(0) {
        let pm = radar_frame(report, view, palette, frames, frame, Some(&background))?;
        writer.write(pm.data()).map_err(encode_err)?;
    }
    writer.finish().map_err(encode_err)?;
    Ok(path)
}

/// `annotated.mp4`: `video` decoded as it was analysed (the report's frame rate and size), each
/// frame with its tracks' boxes in team colours and their ids, the ball with a trail of
/// `trail` frames, the clock and the team in possession ([`possession_banner`]).
pub(crate) fn annotated_video(
    report: &MatchReport,
    video: &Path,
    palette: &Palette,
    trail: usize,
    out_dir: &Path,
) -> Result<PathBuf, VizError> {
    let (w, h) = (report.video.width, report.video.height);
    if w == 0 || h == 0 || w % 2 == 1 || h % 2 == 1 {
        return Err(VizError::Video(format!("the report's frame size {w}×{h} cannot be encoded (even sizes only)")));
    }
    // Decode at the analysed rate and size so that frame k here is frame k of the report.
    let cfg = VideoDecodingConfig {
        target_fps: Some(report_fps(report)),
        target_resolution: Some([w, h]),
        ..Default::default()
    };
    let mut source = VideoSource::open(video, &cfg, None).map_err(|e| VizError::Video(e.to_string()))?;
    let path = out_dir.join("annotated.mp4");
    std::fs::create_dir_all(out_dir).map_err(|e| VizError::Write { path: out_dir.into(), message: e.to_string() })?;
    let mut writer = H264Writer::create(&path, w, h, report_fps(report), PRESET, CRF).map_err(encode_err)?;
    let mut boxes: BTreeMap<u64, Vec<(u64, [f32; 4])>> = BTreeMap::new();
    for t in &report.tracks {
        for f in &t.frames {
            boxes.entry(f.frame).or_default().push((t.track_id, f.bbox));
        }
    }
    let ball: BTreeMap<u64, (f32, f32)> = report.ball.iter().map(|b| (b.frame, (b.x, b.y))).collect();
    let mut ball_trail: VecDeque<(u64, (f32, f32))> = VecDeque::new();
    let mut pm = canvas::pixmap(w, h)?;
    let fps = report_fps(report);
    while let Some(item) = source.next_frame().map_err(|e| VizError::Video(e.to_string()))? {
        let frame = item.record.index;
        let Some(image) = item.image else { continue };
        if (image.width, image.height) != (w, h) {
            return Err(VizError::Video(format!(
                "{} decodes to {}×{}, the report says {w}×{h}",
                video.display(),
                image.width,
                image.height
            )));
        }
        // RGB (with stride) → opaque RGBA.
        let dst = pm.data_mut();
        for y in 0..h as usize {
            let src = &image.data[y * image.stride..y * image.stride + 3 * w as usize];
            for (d, s) in dst[y * 4 * w as usize..(y + 1) * 4 * w as usize].chunks_exact_mut(4).zip(src.chunks_exact(3))
            {
                d.copy_from_slice(&[s[0], s[1], s[2], 255]);
            }
        }
        let scale = if h >= 720 { 2 } else { 1 };
        for &(id, [x, y, bw, bh]) in boxes.get(&frame).map(Vec::as_slice).unwrap_or_default() {
            let colour = palette.track(id);
            if let Some(r) = Rect::from_xywh(x, y, bw.max(1.0), bh.max(1.0)) {
                // At least 2 px: a 1 px line blurs into the grass once the video is 4:2:0 H.264.
                let stroke = Stroke { width: (2 * scale) as f32, ..Stroke::default() };
                pm.stroke_path(
                    &PathBuilder::from_rect(r),
                    &canvas::paint(canvas::rgb(colour)),
                    &stroke,
                    Transform::identity(),
                    None,
                );
            }
            let text = id.to_string();
            let label_h = 8 * scale as i32 + 4 * scale as i32;
            canvas::draw_label(&mut pm, &text, x as i32, y as i32 - label_h - 1, scale, colour);
        }
        // Ball and trail: the trail fades out over `trail` frames.
        if let Some(&b) = ball.get(&frame) {
            ball_trail.push_back((frame, b));
        }
        while ball_trail.front().is_some_and(|(f, _)| f + trail as u64 <= frame) {
            ball_trail.pop_front();
        }
        if ball_trail.len() >= 2 {
            for (i, pair) in ball_trail.iter().collect::<Vec<_>>().windows(2).enumerate() {
                let (a, b) = (pair[0].1, pair[1].1);
                let mut pb = PathBuilder::new();
                pb.move_to(a.0, a.1);
                pb.line_to(b.0, b.1);
                let alpha = 60 + (150 * (i + 1) / ball_trail.len()) as u8;
                let mut paint = Paint::default();
                paint.set_color_rgba8(255, 240, 120, alpha);
                paint.anti_alias = true;
                if let Some(path) = pb.finish() {
                    let stroke = Stroke { width: 1.5 * scale as f32, ..Stroke::default() };
                    pm.stroke_path(&path, &paint, &stroke, Transform::identity(), None);
                }
            }
        }
        if let Some((_, (bx, by))) = ball_trail.back().filter(|(f, _)| *f == frame) {
            let ring = Stroke { width: 2.0, ..Stroke::default() };
            if let Some(path) = PathBuilder::from_circle(*bx, *by, 5.0 * scale as f32) {
                pm.stroke_path(&path, &canvas::paint(canvas::rgb(BALL)), &ring, Transform::identity(), None);
            }
        }
        // Banner: clock, and the team in possession when event detection ran.
        let x = canvas::draw_label(&mut pm, &clock(frame as f64 / fps), 8, 8, scale, [20, 20, 20]) as i32 + 8;
        if let Some((text, team)) = possession_banner(report, frame) {
            canvas::draw_label(&mut pm, &text, x, 8, scale, palette.team(team));
        }
        writer.write(pm.data()).map_err(encode_err)?;
    }
    writer.finish().map_err(encode_err)?;
    Ok(path)
}
