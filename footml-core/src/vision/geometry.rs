//! Box geometry: conversions between box parameterisations and IoU matrices.

use nalgebra::DMatrix;

use crate::types::BBox;

/// `[cx, cy, a, h]` (centre, aspect ratio `w / h`, height) of a box: the measurement of
/// [`crate::vision::kalman::BoxKalmanFilter`].
///
/// The aspect ratio rather than the width is used because it barely changes while a person
/// moves, which lets the filter keep a small process noise on it.
pub fn xyah_from_bbox(b: &BBox) -> [f64; 4] {
    let (x, y, w, h) = (f64::from(b.x), f64::from(b.y), f64::from(b.w), f64::from(b.h));
    [x + w / 2.0, y + h / 2.0, w / h, h]
}

/// The box of an `[cx, cy, a, h]` vector (inverse of [`xyah_from_bbox`]).
pub fn bbox_from_xyah(m: &[f64; 4]) -> BBox {
    let [cx, cy, a, h] = *m;
    let w = a * h;
    BBox::new((cx - w / 2.0) as f32, (cy - h / 2.0) as f32, w as f32, h as f32)
}

/// IoU of every pair: entry `(i, j)` is `rows[i].iou(&cols[j])`.
pub fn iou_matrix(rows: &[BBox], cols: &[BBox]) -> DMatrix<f64> {
    DMatrix::from_fn(rows.len(), cols.len(), |i, j| f64::from(rows[i].iou(&cols[j])))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xyah_round_trip() {
        let b = BBox::new(10.0, 20.0, 6.0, 18.0);
        let m = xyah_from_bbox(&b);
        assert_eq!(m, [13.0, 29.0, 6.0 / 18.0, 18.0]);
        let back = bbox_from_xyah(&m);
        for (p, q) in [(back.x, b.x), (back.y, b.y), (back.w, b.w), (back.h, b.h)] {
            assert!((p - q).abs() < 1e-4, "{back:?} != {b:?}");
        }
    }

    #[test]
    fn iou_matrix_entries() {
        let a = [BBox::new(0.0, 0.0, 10.0, 10.0), BBox::new(100.0, 100.0, 10.0, 10.0)];
        let b = [BBox::new(5.0, 0.0, 10.0, 10.0), BBox::new(0.0, 0.0, 10.0, 10.0), BBox::new(50.0, 50.0, 1.0, 1.0)];
        let m = iou_matrix(&a, &b);
        assert_eq!(m.shape(), (2, 3));
        assert!((m[(0, 0)] - 50.0 / 150.0).abs() < 1e-6);
        assert_eq!(m[(0, 1)], 1.0);
        assert_eq!(m[(0, 2)], 0.0);
        assert_eq!(m[(1, 0)], 0.0);
        assert_eq!(iou_matrix(&[], &b).shape(), (0, 3));
    }
}
