//! Real people from photos beside the drawn figures, on the same rendered pitch: the reference
//! that tells whether a person detector finds the figures as often as it finds real people of
//! the same pixel height (issue 3, item 7).
//!
//! A photo is decoded with FFmpeg ([`load_photo`]), a person is cut out at a box and scaled
//! with swscale's area filter ([`scale_area`]: an average over the source pixels, as a camera
//! would see a smaller person, not a point sample) and pasted onto a frame ([`paste`]).
//! [`empty_pitch`] is the broadcast camera's view of the centre spot with no one on it,
//! [`figure_lineup`] draws figures on it in a grid and [`photo_lineup`] puts pasted people in
//! the very same boxes (same height, feet at the same point), so that the two frames differ only
//! in what stands there.
//!
//! The bundled full-body reference is `data/fixtures/bus.jpg` (the `ultralytics` wheel's demo
//! photo, fetched by `scripts/setup.sh`): [`BUS_PEOPLE`] are the boxes of its two walking men.

use std::path::Path;

use ffmpeg_next as ffmpeg;
use ffmpeg_next::{format, frame, software::scaling};

use super::SimError;
use super::camera::{self, Camera, CameraMode};
use super::draw::{self, Painter, Pose};
use super::tracking::{Role, Team, Tracking, TrackingFrame};
use crate::FrameSource;
use crate::config::VideoDecodingConfig;
use crate::stages::video_decoding::VideoSource;
use crate::types::{BBox, RgbFrame};

/// The two walking men of `data/fixtures/bus.jpg` (810 × 1080): their boxes `[x, y, w, h]` in
/// the photo, hair to soles, read off the picture.
pub const BUS_PEOPLE: [[u32; 4]; 2] = [[52, 394, 194, 506], [226, 404, 120, 456]];

/// Decodes the first picture of `path` (a JPEG, PNG or any image or video FFmpeg reads) into
/// RGB24.
///
/// # Errors
///
/// A missing file is [`crate::ErrorKind::NotFound`]; a file FFmpeg cannot decode is a video
/// error naming it.
pub fn load_photo(path: &Path) -> crate::Result<RgbFrame> {
    let mut src = VideoSource::open(path, &VideoDecodingConfig::default(), None)?;
    let item = src.next_frame()?.ok_or_else(|| SimError::InvalidConfig(format!("{}: no picture", path.display())))?;
    let image = item.image.ok_or_else(|| SimError::InvalidConfig(format!("{}: no pixels", path.display())))?;
    Ok(std::sync::Arc::unwrap_or_clone(image))
}

/// The `[x, y, w, h]` region of `src`, scaled to `width × height` with swscale's area filter.
///
/// # Errors
///
/// [`SimError::InvalidConfig`] when the region is empty or outside `src`, or the size is zero.
pub fn scale_area(src: &RgbFrame, region: [u32; 4], width: u32, height: u32) -> Result<RgbFrame, SimError> {
    let [x, y, w, h] = region;
    if w == 0 || h == 0 || width == 0 || height == 0 || x + w > src.width || y + h > src.height {
        return Err(SimError::InvalidConfig(format!(
            "region {region:?} of a {}×{} picture to {width}×{height}: expected a non-empty region inside \
             the picture and a non-zero size",
            src.width, src.height
        )));
    }
    crate::stages::video_decoding::init_ffmpeg();
    let fail = |e: ffmpeg::Error| SimError::InvalidConfig(format!("swscale {w}×{h} → {width}×{height}: {e}"));
    let mut input = frame::Video::new(format::Pixel::RGB24, w, h);
    let in_stride = input.stride(0);
    for row in 0..h as usize {
        let from = (y as usize + row) * src.stride + 3 * x as usize;
        input.data_mut(0)[row * in_stride..row * in_stride + 3 * w as usize]
            .copy_from_slice(&src.data[from..from + 3 * w as usize]);
    }
    let mut ctx =
        scaling::Context::get(format::Pixel::RGB24, w, h, format::Pixel::RGB24, width, height, scaling::Flags::AREA)
            .map_err(fail)?;
    let mut output = frame::Video::empty();
    ctx.run(&input, &mut output).map_err(fail)?;
    let out_stride = output.stride(0);
    let mut data = Vec::with_capacity(3 * (width * height) as usize);
    for row in 0..height as usize {
        data.extend_from_slice(&output.data(0)[row * out_stride..row * out_stride + 3 * width as usize]);
    }
    Ok(RgbFrame { width, height, stride: 3 * width as usize, data })
}

/// Copies `picture` onto `frame` with its top-left corner at `(x, y)`.
///
/// # Errors
///
/// [`SimError::InvalidConfig`] when it does not fit inside the frame.
pub fn paste(frame: &mut RgbFrame, picture: &RgbFrame, x: u32, y: u32) -> Result<(), SimError> {
    if x + picture.width > frame.width || y + picture.height > frame.height {
        return Err(SimError::InvalidConfig(format!(
            "a {}×{} picture at ({x}, {y}) does not fit in a {}×{} frame",
            picture.width, picture.height, frame.width, frame.height
        )));
    }
    let row_bytes = 3 * picture.width as usize;
    for row in 0..picture.height as usize {
        let at = (y as usize + row) * frame.stride + 3 * x as usize;
        let from = row * picture.stride;
        frame.data[at..at + row_bytes].copy_from_slice(&picture.data[from..from + row_bytes]);
    }
    Ok(())
}

/// The painter's frame as tightly packed RGB24 (every rendered pixel is opaque, so the
/// premultiplied RGBA is the colour).
pub fn to_rgb(painter: &Painter) -> RgbFrame {
    let (w, h) = (painter.pixmap.width(), painter.pixmap.height());
    let mut data = Vec::with_capacity(3 * (w * h) as usize);
    for px in painter.pixmap.data().chunks_exact(4) {
        data.extend_from_slice(&px[..3]);
    }
    RgbFrame { width: w, height: h, stride: 3 * w as usize, data }
}

/// The broadcast camera of [`CameraMode::Broadcast`] looking at the centre spot (where it looks
/// when there is no ball to follow), its focal length times `zoom` (< 1 widens the view: people
/// look smaller), and a painter holding its view of the empty pitch: grass and lines.
///
/// # Errors
///
/// [`SimError::InvalidConfig`] for a zero size or a zoom that is not positive.
pub fn empty_pitch(width: u32, height: u32, zoom: f64) -> Result<(Camera, Painter), SimError> {
    if !(zoom > 0.0 && zoom.is_finite()) {
        return Err(SimError::InvalidConfig(format!("zoom: expected a positive number, found {zoom}")));
    }
    let empty = Tracking { fps: 25.0, frames: vec![TrackingFrame::default()], identities: Default::default() };
    let mut cam = camera::camera_path(CameraMode::Broadcast, &empty, width, height)[0];
    cam.focal_px *= zoom;
    let mut painter =
        Painter::new(width, height).ok_or_else(|| SimError::InvalidConfig(format!("size {width}×{height}")))?;
    painter.background(&cam);
    painter.lines(&cam);
    Ok((cam, painter))
}

/// `rows × cols` figures standing on a grid of the image (feet at the centres of `cols` equal
/// columns and at `rows` heights from 30 % to 90 % of the frame, so that no figure overlaps
/// another), drawn with their shadows onto a copy of the empty pitch `pitch`. Nearer rows are
/// larger, as perspective makes them. Kits cycle through both teams, a goalkeeper and the
/// referee; speeds from standing to sprinting, facing and stride phase vary. Returns the frame
/// and each drawn figure's box (its extent), row by row.
pub fn figure_lineup(cam: &Camera, pitch: &Painter, rows: u32, cols: u32) -> (RgbFrame, Vec<BBox>) {
    let kits = [
        draw::kit(Team::Home, Role::Player),
        draw::kit(Team::Away, Role::Player),
        draw::kit(Team::Home, Role::Goalkeeper),
        draw::kit(Team::None, Role::Referee),
    ];
    let to_pitch = cam.image_to_pitch();
    let (w, h) = (f64::from(cam.width), f64::from(cam.height));
    let mut poses = Vec::new();
    for r in 0..rows {
        for c in 0..cols {
            let k = r * cols + c;
            let u = (f64::from(c) + 0.5) / f64::from(cols) * w;
            let v = (0.3 + 0.6 * f64::from(r) / f64::from(rows.max(2) - 1)) * h;
            let p = to_pitch * nalgebra::Vector3::new(u, v, 1.0);
            let angle = f64::from(k) * 2.4; // about the golden angle: facings spread round
            poses.push(Pose {
                id: k + 1,
                pos: [p.x / p.z, p.y / p.z],
                facing: [angle.cos(), angle.sin()],
                speed: f64::from(k % 5) * 1.7,
                phase: f64::from(k) * 1.3,
                kit: kits[k as usize % kits.len()],
            });
        }
    }
    let mut painter = Painter { pixmap: pitch.pixmap.clone() };
    painter.shadows(cam, &poses, None);
    let mut figures: Vec<draw::Figure> = poses.iter().filter_map(|p| draw::figure(p, cam)).collect();
    let boxes: Vec<BBox> = figures
        .iter()
        .filter_map(|f| f.bounds(cam))
        .map(|[x0, y0, x1, y1]| BBox::new(x0 as f32, y0 as f32, (x1 - x0) as f32, (y1 - y0) as f32))
        .collect();
    // Far to near, as the renderer draws them.
    figures.sort_by(|a, b| b.depth.total_cmp(&a.depth));
    for f in &figures {
        painter.draw_figure(cam, f);
    }
    (to_rgb(&painter), boxes)
}

/// People cut from photos (`people`, each already cut out at its box) pasted onto a copy of
/// `pitch`, one in each of `boxes` in turn: scaled to the box's height (aspect kept) and
/// standing where the box stands (bottom centre). Returns the frame and the pasted boxes.
///
/// # Errors
///
/// [`SimError::InvalidConfig`] when there are no people or a person does not fit in the frame.
pub fn photo_lineup(pitch: &RgbFrame, boxes: &[BBox], people: &[RgbFrame]) -> Result<(RgbFrame, Vec<BBox>), SimError> {
    if people.is_empty() {
        return Err(SimError::InvalidConfig("photo_lineup: no people to paste".into()));
    }
    let mut frame = pitch.clone();
    let mut pasted = Vec::with_capacity(boxes.len());
    for (k, b) in boxes.iter().enumerate() {
        let person = &people[k % people.len()];
        let h = b.h.round().max(1.0) as u32;
        let w = ((f64::from(h) * f64::from(person.width) / f64::from(person.height)).round() as u32).max(1);
        let scaled = scale_area(person, [0, 0, person.width, person.height], w, h)?;
        let x = (b.x + b.w / 2.0 - w as f32 / 2.0).round().max(0.0) as u32;
        let y = (b.y + b.h - h as f32).round().max(0.0) as u32;
        paste(&mut frame, &scaled, x, y)?;
        pasted.push(BBox::new(x as f32, y as f32, w as f32, h as f32));
    }
    Ok((frame, pasted))
}

/// The full-body people of the bus photo at `path` ([`BUS_PEOPLE`]), cut out at their boxes.
///
/// # Errors
///
/// As [`load_photo`]; [`SimError::InvalidConfig`] when the photo is smaller than the boxes
/// (another picture than the bundled one).
pub fn bus_people(path: &Path) -> crate::Result<Vec<RgbFrame>> {
    let photo = load_photo(path)?;
    Ok(BUS_PEOPLE.iter().map(|&[x, y, w, h]| scale_area(&photo, [x, y, w, h], w, h)).collect::<Result<_, _>>()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn picture(width: u32, height: u32, f: impl Fn(u32, u32) -> [u8; 3]) -> RgbFrame {
        let mut data = Vec::new();
        for y in 0..height {
            for x in 0..width {
                data.extend_from_slice(&f(x, y));
            }
        }
        RgbFrame { width, height, stride: 3 * width as usize, data }
    }

    #[test]
    fn area_scaling_averages_and_paste_places_exactly() {
        // 4×2 columns of 0 and 200: halved by area, every output pixel is their mean.
        let stripes = picture(4, 2, |x, _| if x % 2 == 0 { [0, 0, 0] } else { [200, 100, 50] });
        let half = scale_area(&stripes, [0, 0, 4, 2], 2, 1).unwrap();
        assert_eq!((half.width, half.height), (2, 1));
        for px in half.data.chunks(3) {
            assert!(px.iter().zip([100, 50, 25]).all(|(&a, b)| a.abs_diff(b) <= 1), "{:?}", half.data);
        }
        // A region: the right half, kept at its size, is that half.
        let right = scale_area(&stripes, [2, 0, 2, 2], 2, 2).unwrap();
        assert_eq!(right.data, [[0, 0, 0], [200, 100, 50], [0, 0, 0], [200, 100, 50]].concat());

        let mut frame = picture(5, 4, |_, _| [9, 9, 9]);
        paste(&mut frame, &right, 3, 2).unwrap();
        assert_eq!(frame.pixel(2, 2), [9, 9, 9]);
        assert_eq!(frame.pixel(3, 2), [0, 0, 0]);
        assert_eq!(frame.pixel(4, 3), [200, 100, 50]);
    }

    #[test]
    fn bad_inputs_are_typed_errors() {
        let p = picture(4, 4, |_, _| [1, 2, 3]);
        for (region, w, h) in [([0, 0, 0, 4], 2, 2), ([2, 2, 3, 2], 2, 2), ([0, 0, 4, 4], 0, 2)] {
            assert!(matches!(scale_area(&p, region, w, h), Err(SimError::InvalidConfig(_))), "{region:?}");
        }
        let mut small = picture(3, 3, |_, _| [0; 3]);
        let e = paste(&mut small, &p, 0, 0).unwrap_err();
        assert!(e.to_string().contains("does not fit"), "{e}");
        assert!(matches!(empty_pitch(64, 36, 0.0), Err(SimError::InvalidConfig(_))));
        assert!(matches!(empty_pitch(0, 36, 1.0), Err(SimError::InvalidConfig(_))));
        let pitch = to_rgb(&empty_pitch(64, 36, 1.0).unwrap().1);
        assert!(photo_lineup(&pitch, &[BBox::new(1.0, 1.0, 2.0, 4.0)], &[]).is_err());
        let e = load_photo(Path::new("/nonexistent/bus.jpg")).unwrap_err();
        assert_eq!(e.kind(), crate::ErrorKind::NotFound, "{e}");
    }

    #[test]
    fn lineups_put_figures_and_people_in_the_same_boxes() {
        let (cam, pitch) = empty_pitch(640, 360, 1.0).unwrap();
        let (frame, boxes) = figure_lineup(&cam, &pitch, 2, 3);
        assert_eq!(boxes.len(), 6);
        // Nearer rows (lower in the image) are taller; no two boxes overlap.
        assert!(boxes[3].h > boxes[0].h, "{boxes:?}");
        for (i, a) in boxes.iter().enumerate() {
            assert!(boxes[i + 1..].iter().all(|b| a.iou(b) == 0.0), "{boxes:?}");
        }
        // The figure is drawn inside its box: a kit-coloured pixel differs from the pitch.
        let empty = to_rgb(&pitch);
        let diff = |b: &BBox| {
            let (x0, y0) = (b.x.max(0.0) as u32, b.y.max(0.0) as u32);
            (y0..(b.y + b.h) as u32)
                .flat_map(|y| (x0..(b.x + b.w) as u32).map(move |x| (x, y)))
                .filter(|&(x, y)| frame.pixel(x, y) != empty.pixel(x, y))
                .count()
        };
        assert!(boxes.iter().all(|b| diff(b) > 0));
        let man = picture(10, 30, |_, y| if y < 5 { [250, 200, 150] } else { [20, 20, 120] });
        let (people, pasted) = photo_lineup(&empty, &boxes, &[man]).unwrap();
        assert_eq!(people.width, 640);
        for (b, p) in boxes.iter().zip(&pasted) {
            assert!((b.h - p.h).abs() <= 1.0, "{b:?} {p:?}");
            assert!((b.x + b.w / 2.0 - p.x - p.w / 2.0).abs() <= 1.0 && (b.y + b.h - p.y - p.h).abs() <= 1.0);
            assert_eq!(people.pixel(p.x as u32, (p.y + p.h) as u32 - 1), [20, 20, 120]);
        }
    }
}
