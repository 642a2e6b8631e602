//! Letterboxing with FFmpeg's swscale (feature `video`): swscale scales the frame region
//! straight to the letterboxed size as planar 8-bit RGB, then one pass turns it into the
//! model's 0..1 floats. swscale's SIMD scalers are several times faster than the portable
//! bilinear pass ([`super::letterbox_into`]), and its bilinear filter widens when it
//! downscales, so a 1080p frame is averaged rather than point-sampled into 640×640.

use ffmpeg_next::ffi;

use super::{Letterbox, PAD_VALUE, Region, letterbox_geometry};
use crate::types::RgbFrame;

/// Bytes of slack after every row and plane: swscale's SIMD code reads and writes whole
/// blocks past the end of a row.
const SLACK: usize = 64;

/// A swscale context for one region size → letterboxed size, and its buffers.
pub(super) struct SwsLetterbox {
    ctx: *mut ffi::SwsContext,
    /// Region width and height, output width and height the context is set for.
    key: Option<(usize, usize, usize, usize)>,
    /// Planar G, B, R output (swscale's GBRP plane order), `out_stride` bytes per row.
    planes: [Vec<u8>; 3],
    out_stride: usize,
    /// The region's last row, copied with slack so that swscale never reads past the frame.
    last_row: Vec<u8>,
}

// SAFETY: the context and buffers are owned by one `SwsLetterbox` and used only through
// `&mut self`; swscale contexts have no thread affinity.
unsafe impl Send for SwsLetterbox {}

impl std::fmt::Debug for SwsLetterbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SwsLetterbox").field("key", &self.key).finish_non_exhaustive()
    }
}

impl SwsLetterbox {
    pub(super) fn new() -> Self {
        SwsLetterbox {
            ctx: std::ptr::null_mut(),
            key: None,
            planes: Default::default(),
            out_stride: 0,
            last_row: Vec::new(),
        }
    }

    /// Letterboxes `region` of `frame` into `dst` (`3 × in_h × in_w`, planar RGB, 0..1), as
    /// [`super::letterbox_into`] does; `None` when swscale refuses the sizes (the caller
    /// then uses the portable path).
    pub(super) fn letterbox(
        &mut self,
        frame: &RgbFrame,
        region: Region,
        in_w: usize,
        in_h: usize,
        dst: &mut [f32],
    ) -> Option<Letterbox> {
        let (lb, new_w, new_h) = letterbox_geometry(region, in_w, in_h);
        let [rx, ry, rw, rh] = region.map(|v| v as usize);
        let (rw, rh) = (rw.max(1), rh.max(1));
        if rx + rw > frame.width as usize || ry + rh > frame.height as usize || frame.stride < 3 * frame.width as usize
        {
            return None;
        }
        let key = (rw, rh, new_w, new_h);
        // SAFETY: sws_getCachedContext returns a context for these sizes and formats (or null,
        // handled), freeing the old one when it cannot be reused.
        unsafe {
            if self.key != Some(key) || self.ctx.is_null() {
                self.ctx = ffi::sws_getCachedContext(
                    self.ctx,
                    rw as i32,
                    rh as i32,
                    ffi::AVPixelFormat::AV_PIX_FMT_RGB24,
                    new_w as i32,
                    new_h as i32,
                    ffi::AVPixelFormat::AV_PIX_FMT_GBRP,
                    // Accurate rounding: a flat colour comes out as exactly that colour.
                    ffi::SWS_BILINEAR | ffi::SWS_ACCURATE_RND,
                    std::ptr::null_mut(),
                    std::ptr::null_mut(),
                    std::ptr::null(),
                );
                if self.ctx.is_null() {
                    self.key = None;
                    return None;
                }
                self.key = Some(key);
                self.out_stride = (new_w + SLACK).next_multiple_of(SLACK);
                for p in &mut self.planes {
                    p.clear();
                    p.resize(self.out_stride * (new_h + 1), 0);
                }
                self.last_row.resize(3 * rw + SLACK, 0);
            }
        }
        let at = |y: usize| (ry + y) * frame.stride + 3 * rx;
        // The last row from a padded copy: only past the frame's last row could swscale's
        // reads run outside the buffer.
        self.last_row[..3 * rw].copy_from_slice(&frame.data[at(rh - 1)..at(rh - 1) + 3 * rw]);
        let dst_ptrs = [self.planes[0].as_mut_ptr(), self.planes[1].as_mut_ptr(), self.planes[2].as_mut_ptr()];
        let dst_ptrs = [dst_ptrs[0], dst_ptrs[1], dst_ptrs[2], std::ptr::null_mut()];
        let dst_strides = [self.out_stride as i32; 4];
        let src_strides = [frame.stride as i32, 0, 0, 0];
        // SAFETY: the source slices lie inside `frame.data` (rows ry..ry + rh − 1 of at least
        // 3·rw bytes from 3·rx, with the following row in the buffer) and `last_row`; the
        // output planes hold `new_h` rows of `out_stride` ≥ new_w + SLACK bytes, plus one.
        // Slices are fed top to bottom, as sws_scale requires.
        let ctx = self.ctx;
        let scale = |src: *const u8, y: usize, rows: usize| {
            let src = [src, std::ptr::null(), std::ptr::null(), std::ptr::null()];
            // SAFETY: as above; `src` points at row `y` of the region.
            let r = unsafe {
                ffi::sws_scale(
                    ctx,
                    src.as_ptr(),
                    src_strides.as_ptr(),
                    y as i32,
                    rows as i32,
                    dst_ptrs.as_ptr(),
                    dst_strides.as_ptr(),
                )
            };
            r >= 0
        };
        // SAFETY: `at(0)` is inside `frame.data` (checked region).
        if rh > 1 && !scale(unsafe { frame.data.as_ptr().add(at(0)) }, 0, rh - 1) {
            return None;
        }
        if !scale(self.last_row.as_ptr(), rh - 1, 1) {
            return None;
        }
        // One u8 → f32 pass into the padded tensor; GBRP planes are G, B, R.
        let plane = in_w * in_h;
        dst[..3 * plane].fill(PAD_VALUE);
        let (pad_x, pad_y) = (lb.pad.0 as usize, lb.pad.1 as usize);
        const INV: f32 = 1.0 / 255.0;
        for (c, src) in [(0, &self.planes[2]), (1, &self.planes[0]), (2, &self.planes[1])] {
            for v in 0..new_h {
                let row = &src[v * self.out_stride..v * self.out_stride + new_w];
                let out = c * plane + (pad_y + v) * in_w + pad_x;
                for (d, &s) in dst[out..out + new_w].iter_mut().zip(row) {
                    *d = f32::from(s) * INV;
                }
            }
        }
        Some(lb)
    }
}

impl Drop for SwsLetterbox {
    fn drop(&mut self) {
        if !self.ctx.is_null() {
            // SAFETY: the context was allocated by swscale and is freed once.
            unsafe { ffi::sws_freeContext(self.ctx) };
        }
    }
}
