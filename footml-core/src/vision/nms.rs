//! Non-maximum suppression over scored, classed boxes.

use crate::types::Detection;

/// Class-aware greedy NMS: within each class, keeps the highest-scoring box and drops every
/// other box of that class whose IoU with a kept box exceeds `iou_threshold`. Boxes of
/// different classes never suppress each other. The result is sorted by descending score
/// (ties keep input order).
pub fn nms_per_class(mut dets: Vec<Detection>, iou_threshold: f32) -> Vec<Detection> {
    // Stable sort: equal scores keep their input order, so the result is deterministic.
    dets.sort_by(|a, b| b.score.total_cmp(&a.score));
    let mut kept: Vec<Detection> = Vec::with_capacity(dets.len());
    for d in dets {
        let suppressed = kept.iter().any(|k| k.class_id == d.class_id && k.bbox.iou(&d.bbox) > iou_threshold);
        if !suppressed {
            kept.push(d);
        }
    }
    kept
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::BBox;

    fn det(x: f32, score: f32, class_id: u32) -> Detection {
        Detection { bbox: BBox::new(x, 0.0, 10.0, 10.0), score, class_id }
    }

    #[test]
    fn suppresses_overlaps_within_a_class_only() {
        // IoU of boxes shifted by 2 px: 80/120 = 0.667; shifted by 8 px: 20/180 = 0.111.
        let out = nms_per_class(vec![det(2.0, 0.8, 0), det(0.0, 0.9, 0), det(8.0, 0.7, 0), det(1.0, 0.6, 1)], 0.5);
        assert_eq!(out, vec![det(0.0, 0.9, 0), det(8.0, 0.7, 0), det(1.0, 0.6, 1)]);
    }
}
