//! The renderer's pinhole camera and the camera operator that moves it.
//!
//! World frame: pitch metres, origin at the centre spot, x along the length, y along the
//! width, z up. Camera frame: x right, y down, z forward (the OpenCV convention). No lens
//! distortion, square pixels, principal point at the image centre, no roll — so the ground
//! plane maps to the image through an exact homography.

use nalgebra::{Matrix3, Vector3};

use super::tracking::Tracking;

/// Where the broadcast camera stands: on the halfway line, 28 m behind the near touchline
/// (y = −34), 22 m up — a main-stand gantry.
pub const BROADCAST_POSITION: [f64; 3] = [0.0, -62.0, 22.0];
/// Horizontal field of view of the broadcast camera when it looks at the centre spot: about
/// 30 m of the pitch across, players 75–190 px tall at 1080p, as in a broadcast's main shot
/// following play. (At 38° players were 40–110 px and the default person model found 10% of
/// them even with 2×2 tiles; see benches/README.md.)
pub const BROADCAST_HFOV_DEG: f64 = 27.0;
/// Where the static camera stands: higher and further back, seeing the whole pitch.
pub const STATIC_POSITION: [f64; 3] = [0.0, -64.0, 25.0];

/// A pinhole camera at one instant.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Camera {
    /// Camera centre, world metres.
    pub position: Vector3<f64>,
    /// World → camera rotation (rows: camera x right, y down, z forward in world axes).
    pub rotation: Matrix3<f64>,
    /// Focal length, pixels.
    pub focal_px: f64,
    /// Image width, pixels.
    pub width: u32,
    /// Image height, pixels.
    pub height: u32,
}

/// Points closer than this along the optical axis are behind the image plane for drawing
/// purposes; geometry is clipped against this plane before it is projected.
pub const NEAR_M: f64 = 1.0;

impl Camera {
    /// A camera at `position` looking at `target` (world z up, no roll).
    pub fn look_at(position: [f64; 3], target: [f64; 3], focal_px: f64, width: u32, height: u32) -> Self {
        let c = Vector3::from(position);
        let fwd = (Vector3::from(target) - c).normalize();
        let right = fwd.cross(&Vector3::z()).normalize();
        let down = fwd.cross(&right);
        let rotation = Matrix3::from_rows(&[right.transpose(), down.transpose(), fwd.transpose()]);
        Camera { position: c, rotation, focal_px, width, height }
    }

    /// World point → camera frame (z = depth along the optical axis).
    pub fn to_camera(&self, p: Vector3<f64>) -> Vector3<f64> {
        self.rotation * (p - self.position)
    }

    /// Camera-frame point (depth > 0) → pixel `[u, v]`.
    pub fn pixel(&self, pc: Vector3<f64>) -> [f64; 2] {
        [
            self.focal_px * pc.x / pc.z + f64::from(self.width) / 2.0,
            self.focal_px * pc.y / pc.z + f64::from(self.height) / 2.0,
        ]
    }

    /// World point → pixel and depth, or `None` when it is closer than [`NEAR_M`].
    pub fn project(&self, p: Vector3<f64>) -> Option<([f64; 2], f64)> {
        let pc = self.to_camera(p);
        (pc.z >= NEAR_M).then(|| (self.pixel(pc), pc.z))
    }

    /// The intrinsic matrix K.
    pub fn intrinsics(&self) -> Matrix3<f64> {
        Matrix3::new(
            self.focal_px,
            0.0,
            f64::from(self.width) / 2.0,
            0.0,
            self.focal_px,
            f64::from(self.height) / 2.0,
            0.0,
            0.0,
            1.0,
        )
    }

    /// Ground plane (z = 0) → image homography, `K [r1 r2 t]`, normalised to h33 = 1.
    pub fn pitch_to_image(&self) -> Matrix3<f64> {
        let t = -self.rotation * self.position;
        let m = Matrix3::from_columns(&[self.rotation.column(0).into_owned(), self.rotation.column(1).into_owned(), t]);
        let h = self.intrinsics() * m;
        h / h[(2, 2)]
    }

    /// Image → ground plane homography (the inverse of [`Camera::pitch_to_image`]),
    /// normalised to h33 = 1: what DESIGN.md's homography file holds.
    pub fn image_to_pitch(&self) -> Matrix3<f64> {
        let inv = self.pitch_to_image().try_inverse().expect("a camera above the ground sees it through a homography");
        inv / inv[(2, 2)]
    }

    /// Horizontal field of view, degrees.
    pub fn hfov_deg(&self) -> f64 {
        (2.0 * (f64::from(self.width) / 2.0 / self.focal_px).atan()).to_degrees()
    }
}

/// How the camera moves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CameraMode {
    /// A broadcast main camera: fixed position on the halfway line behind the near touchline,
    /// panning and tilting after the smoothed ball and zooming slightly with its distance.
    #[default]
    Broadcast,
    /// A fixed wide camera that sees the whole pitch (the tactical view of the tracking
    /// fixture).
    Static,
}

/// Standard deviation of the Gaussian that smooths the ball path the camera follows, seconds:
/// an operator follows play, not every touch.
pub const FOLLOW_SIGMA_S: f64 = 1.0;

/// The camera of every frame of `tracking` (one per frame, same order).
pub fn camera_path(mode: CameraMode, tracking: &Tracking, width: u32, height: u32) -> Vec<Camera> {
    match mode {
        CameraMode::Static => {
            let cam = static_camera(width, height);
            vec![cam; tracking.frames.len()]
        }
        CameraMode::Broadcast => {
            let f_ref = f64::from(width) / 2.0 / (BROADCAST_HFOV_DEG.to_radians() / 2.0).tan();
            let c = Vector3::from(BROADCAST_POSITION);
            let d_ref = (Vector3::zeros() - c).norm();
            follow_points(tracking)
                .into_iter()
                .map(|[x, y]| {
                    // Keep the view on the pitch: the operator does not pan past the goal area.
                    let target = [x.clamp(-36.0, 36.0), (0.6 * y).clamp(-14.0, 14.0), 0.0];
                    // Zoom in a little on far play so players keep a similar size, as operators do.
                    let d = (Vector3::from(target) - c).norm();
                    let f = f_ref * (d / d_ref).powf(0.6);
                    Camera::look_at(BROADCAST_POSITION, target, f, width, height)
                })
                .collect()
        }
    }
}

/// The wide static camera: at [`STATIC_POSITION`], aimed at the centre spot, with the focal
/// length that just fits the pitch plus 2 m of run-off (heads included) into the image.
pub fn static_camera(width: u32, height: u32) -> Camera {
    let probe = Camera::look_at(STATIC_POSITION, [0.0; 3], 1.0, width, height);
    let (mut xn, mut yn) = (0.0f64, 0.0f64);
    for x in [-54.5, 54.5] {
        for y in [-36.0, 36.0] {
            for z in [0.0, 1.8] {
                let pc = probe.to_camera(Vector3::new(x, y, z));
                xn = xn.max((pc.x / pc.z).abs());
                yn = yn.max((pc.y / pc.z).abs());
            }
        }
    }
    let f = 0.97 * (f64::from(width) / 2.0 / xn).min(f64::from(height) / 2.0 / yn);
    Camera { focal_px: f, ..probe }
}

/// The point the broadcast camera aims at in each frame: the ball's ground position smoothed
/// by a Gaussian of [`FOLLOW_SIGMA_S`] over the frames where the data has the ball; where it
/// has none nearby, the centroid of the people present; failing that, the centre spot.
fn follow_points(tracking: &Tracking) -> Vec<[f64; 2]> {
    let sigma = FOLLOW_SIGMA_S * tracking.fps;
    let half = (3.0 * sigma).ceil() as isize;
    let n = tracking.frames.len() as isize;
    (0..n)
        .map(|i| {
            let (mut sw, mut sx, mut sy) = (0.0, 0.0, 0.0);
            for j in (i - half).max(0)..(i + half + 1).min(n) {
                if let Some([x, y, _]) = tracking.frames[j as usize].ball {
                    let w = (-((j - i) as f64).powi(2) / (2.0 * sigma * sigma)).exp();
                    sw += w;
                    sx += w * x;
                    sy += w * y;
                }
            }
            if sw > 1e-3 {
                return [sx / sw, sy / sw];
            }
            let people = &tracking.frames[i as usize].people;
            if people.is_empty() {
                [0.0, 0.0]
            } else {
                let k = people.len() as f64;
                [people.iter().map(|p| p.x).sum::<f64>() / k, people.iter().map(|p| p.y).sum::<f64>() / k]
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn homography_matches_projection() {
        let cam = Camera::look_at(BROADCAST_POSITION, [20.0, 5.0, 0.0], 2500.0, 1920, 1080);
        let h = cam.pitch_to_image();
        let back = cam.image_to_pitch();
        for (x, y) in [(0.0, 0.0), (20.0, 5.0), (35.0, -20.0), (5.0, 30.0)] {
            let (uv, _) = cam.project(Vector3::new(x, y, 0.0)).unwrap();
            let p = h * Vector3::new(x, y, 1.0);
            assert!((p.x / p.z - uv[0]).abs() < 1e-6 && (p.y / p.z - uv[1]).abs() < 1e-6);
            let q = back * Vector3::new(uv[0], uv[1], 1.0);
            assert!((q.x / q.z - x).abs() < 1e-6 && (q.y / q.z - y).abs() < 1e-6);
        }
        // The target is at the image centre.
        let (uv, _) = cam.project(Vector3::new(20.0, 5.0, 0.0)).unwrap();
        assert!((uv[0] - 960.0).abs() < 1e-6 && (uv[1] - 540.0).abs() < 1e-6);
    }

    #[test]
    fn static_camera_sees_the_whole_pitch() {
        let cam = static_camera(1280, 720);
        for x in [-52.5, 52.5] {
            for y in [-34.0, 34.0] {
                let (uv, _) = cam.project(Vector3::new(x, y, 1.8)).unwrap();
                assert!((0.0..=1280.0).contains(&uv[0]) && (0.0..=720.0).contains(&uv[1]), "{uv:?}");
            }
        }
    }
}
