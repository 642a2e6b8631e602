//! Builders of synthetic match data for the crate's unit tests, so that every stage's tests
//! build frames the same way: a camera looking straight down at 10 px per metre ([`H`]),
//! people as small boxes standing on pitch points, the ball at a pitch point or lost, and
//! teams given by the user.

use crate::analysis::{Role, TeamAssignment, TrackTeam};
use crate::types::{BBox, BallObservation, FrameRecord, MatchData, TrackedBox, VideoInfo};

/// Frame rate of the synthetic matches.
pub(crate) const FPS: f64 = 25.0;

/// 10 px per metre, pitch origin at pixel (600, 400).
pub(crate) const H: [[f64; 3]; 3] = [[0.1, 0.0, -60.0], [0.0, 0.1, -40.0], [0.0, 0.0, 1.0]];

/// The pixel of pitch point `p` under [`H`].
pub(crate) fn px(p: [f64; 2]) -> (f32, f32) {
    (((p[0] + 60.0) * 10.0) as f32, ((p[1] + 40.0) * 10.0) as f32)
}

/// A 10 × 20 px box of a person standing at pitch point `p` (feet at the bottom centre).
pub(crate) fn person_at(track_id: u64, p: [f64; 2]) -> TrackedBox {
    let (u, v) = px(p);
    TrackedBox { track_id, bbox: BBox::new(u - 5.0, v - 20.0, 10.0, 20.0), score: 0.9 }
}

/// The ball tracked at pitch point `p`, or lost when there is none.
pub(crate) fn ball_at(p: Option<[f64; 2]>) -> BallObservation {
    p.map_or_else(BallObservation::lost, |p| {
        let (x, y) = px(p);
        BallObservation::tracked(x, y, 0.9)
    })
}

/// A frame calibrated by [`H`] with `people` (track id, pitch point) and, when given, the ball.
pub(crate) fn pitch_frame(
    index: u64,
    time_s: f64,
    people: impl IntoIterator<Item = (u64, [f64; 2])>,
    ball: Option<BallObservation>,
) -> FrameRecord {
    FrameRecord {
        index,
        time_s,
        tracks: Some(people.into_iter().map(|(id, p)| person_at(id, p)).collect()),
        ball,
        homography: Some(H),
        ..Default::default()
    }
}

/// A match at [`FPS`] of `frames`, with the teams the user gave (track id, team, role).
pub(crate) fn user_match(
    frames: Vec<FrameRecord>,
    teams: Option<impl IntoIterator<Item = (u64, Option<u32>, Role)>>,
) -> MatchData {
    let teams = teams
        .map(|t| TeamAssignment::from_tracks(t.into_iter().map(|(id, team, role)| TrackTeam::user(id, team, role))));
    MatchData { video: VideoInfo { fps: FPS, ..Default::default() }, frames, teams, ..Default::default() }
}

/// The unit tests' allocator: the system one, noting the largest single allocation each
/// thread asks for, so that a test can check that some work never holds one big buffer
/// ([`largest_allocation_during`]).
struct LargestAllocation;

thread_local! {
    static LARGEST: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

fn note_allocation(size: usize) {
    // `try_with`: allocations during thread teardown go unnoted rather than panic.
    let _ = LARGEST.try_with(|c| c.set(c.get().max(size)));
}

// SAFETY: every call is forwarded to the system allocator unchanged; noting the size touches a
// const-initialised thread-local `Cell`, which never allocates.
unsafe impl std::alloc::GlobalAlloc for LargestAllocation {
    unsafe fn alloc(&self, layout: std::alloc::Layout) -> *mut u8 {
        note_allocation(layout.size());
        // SAFETY: the caller's contract for `alloc`, passed on.
        unsafe { std::alloc::System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: std::alloc::Layout) -> *mut u8 {
        note_allocation(layout.size());
        // SAFETY: as above.
        unsafe { std::alloc::System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: std::alloc::Layout, new_size: usize) -> *mut u8 {
        note_allocation(new_size);
        // SAFETY: as above.
        unsafe { std::alloc::System.realloc(ptr, layout, new_size) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: std::alloc::Layout) {
        // SAFETY: as above.
        unsafe { std::alloc::System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: LargestAllocation = LargestAllocation;

/// Runs `f` and returns its result with the largest single allocation (bytes) this thread
/// made meanwhile (other threads' allocations are not counted).
pub(crate) fn largest_allocation_during<T>(f: impl FnOnce() -> T) -> (T, usize) {
    LARGEST.with(|c| c.set(0));
    let out = f();
    (out, LARGEST.with(std::cell::Cell::get))
}
