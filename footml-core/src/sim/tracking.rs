//! The renderer's input: pitch positions of every person and of the ball, frame by frame.
//!
//! A tracking CSV has a header line and one row per object and frame:
//!
//! ```text
//! frame,time_s,id,team,role,x_m,y_m,z_m
//! 1,0.00,3,home,player,-28.018,-10.633,0.000
//! 1,0.00,0,none,ball,-12.410,3.052,0.110
//! ```
//!
//! * `frame`: integer ≥ 1, rows in non-decreasing frame order; consecutive frames are one
//!   frame period apart (the frame rate comes from `time_s`).
//! * `time_s`: seconds of the frame (any origin).
//! * `id`: integer ≥ 1 for a person, `0` for the ball.
//! * `team`: `home`, `away` or `none` (referees and the ball).
//! * `role`: `player`, `goalkeeper`, `referee` or `ball`.
//! * `x_m`, `y_m`, `z_m`: pitch metres, origin at the centre spot, x along the length
//!   (−52.5..52.5), y along the width (−34..34); `z_m` is the height (the ball's centre;
//!   0 for people).
//!
//! `scripts/make_fixtures.py` exports one from the SkillCorner match in the kloppy wheel into
//! `tests/fixtures/skillcorner/tracking.csv` (40 s at 25 fps, the same ids as that fixture's
//! `gt.txt`).

use std::collections::BTreeMap;
use std::io::BufRead;
use std::path::Path;

use super::SimError;

/// Which side a person plays for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Team {
    /// The home team.
    Home,
    /// The away team.
    Away,
    /// Neither (referees, the ball).
    None,
}

/// What a tracked object is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// An outfield player.
    Player,
    /// A goalkeeper.
    Goalkeeper,
    /// A referee or assistant referee.
    Referee,
    /// The ball (id 0).
    Ball,
}

/// One person in one frame.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PersonSample {
    /// The person's id (≥ 1).
    pub id: u32,
    /// Pitch position of the feet, metres.
    pub x: f64,
    /// Pitch position of the feet, metres.
    pub y: f64,
    /// Gait phase, radians: see [`gait_phase_step`]. Accumulated from the start of the file,
    /// so that any frame range renders the same strides.
    pub phase: f64,
}

/// How much a person's gait phase advances for a step of `step_m` metres taken in `dt_s`
/// seconds: 2π per stride cycle, whose length grows with speed
/// ([`super::draw::stride_cycle_m`]).
pub fn gait_phase_step(step_m: f64, dt_s: f64) -> f64 {
    std::f64::consts::TAU * step_m / super::draw::stride_cycle_m(step_m / dt_s)
}

/// Everything known about one frame.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TrackingFrame {
    /// The frame number in the CSV.
    pub frame: u64,
    /// Its time, seconds.
    pub time_s: f64,
    /// The people present, by id.
    pub people: Vec<PersonSample>,
    /// The ball's centre `[x, y, z]` in metres, when the data has it.
    pub ball: Option<[f64; 3]>,
}

/// Team and role of a person, fixed for the whole file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Identity {
    /// The person's team.
    pub team: Team,
    /// The person's role.
    pub role: Role,
}

/// A contiguous run of frames of a tracking CSV.
#[derive(Debug, Clone, PartialEq)]
pub struct Tracking {
    /// Frames per second, from the `time_s` column.
    pub fps: f64,
    /// The frames, consecutive (frames without any row are present and empty).
    pub frames: Vec<TrackingFrame>,
    /// Team and role of every person id seen.
    pub identities: BTreeMap<u32, Identity>,
}

impl Tracking {
    /// Reads the frames `first ..= last` of a tracking CSV (`last = None`: to the end).
    /// Rows outside the range are still checked but not kept, so a whole match can be read a
    /// window at a time in bounded memory.
    ///
    /// # Errors
    ///
    /// [`SimError::TrackingNotFound`] when the file does not exist, [`SimError::Io`] when it
    /// cannot be read, [`SimError::BadTracking`] (with the line number) for a bad header or
    /// row, frames out of order, a person whose team or role changes, or a frame rate that
    /// cannot be derived; [`SimError::EmptyRange`] when no frame falls in the range.
    pub fn read(path: &Path, first: u64, last: Option<u64>) -> Result<Self, SimError> {
        let file = std::fs::File::open(path).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => SimError::TrackingNotFound(path.to_path_buf()),
            _ => SimError::Io { path: path.to_path_buf(), source: e },
        })?;
        let bad = |line: usize, message: String| SimError::BadTracking { path: path.to_path_buf(), line, message };
        let mut frames: Vec<TrackingFrame> = Vec::new();
        let mut identities = BTreeMap::new();
        // (frame, time) of the first two distinct frames of the file, for the frame rate.
        let mut clock: Vec<(u64, f64)> = Vec::new();
        let mut prev_frame = 0u64;
        // Per person: the last frame and position seen and the gait phase there.
        let mut gait: BTreeMap<u32, (u64, f64, f64, f64)> = BTreeMap::new();
        let mut lines = std::io::BufReader::new(file).lines().enumerate();
        match lines.next() {
            Some((_, Ok(h))) if h.trim() == HEADER => {}
            Some((_, Ok(h))) => return Err(bad(1, format!("expected the header `{HEADER}`, found `{}`", h.trim()))),
            Some((_, Err(e))) => return Err(SimError::Io { path: path.to_path_buf(), source: e }),
            None => return Err(bad(1, format!("expected the header `{HEADER}`, found an empty file"))),
        }
        for (i, line) in lines {
            let n = i + 1;
            let line = line.map_err(|e| SimError::Io { path: path.to_path_buf(), source: e })?;
            if line.trim().is_empty() {
                continue;
            }
            let row = parse_row(&line).map_err(|m| bad(n, m))?;
            if row.frame < prev_frame {
                return Err(bad(n, format!("frames must not decrease: frame {} after {prev_frame}", row.frame)));
            }
            prev_frame = row.frame;
            if clock.last().is_none_or(|&(f, _)| f != row.frame) && clock.len() < 2 {
                clock.push((row.frame, row.time_s));
            }
            if row.role != Role::Ball {
                let ident = Identity { team: row.team, role: row.role };
                if let Some(old) = identities.insert(row.id, ident)
                    && old != ident
                {
                    return Err(bad(n, format!("id {} was {old:?} and is now {ident:?}", row.id)));
                }
            }
            let mut phase = 0.0;
            if row.role != Role::Ball {
                // Each person starts at a different point of the cycle, as real players do.
                let g = gait.entry(row.id).or_insert((0, row.x, row.y, f64::from(row.id) * 2.399));
                if g.0 + 1 == row.frame && clock.len() == 2 {
                    let dt = (clock[1].1 - clock[0].1) / (clock[1].0 - clock[0].0) as f64;
                    g.3 += gait_phase_step((row.x - g.1).hypot(row.y - g.2), dt);
                }
                *g = (row.frame, row.x, row.y, g.3);
                phase = g.3;
            }
            if row.frame < first || last.is_some_and(|l| row.frame > l) {
                continue;
            }
            // Frames without rows still take their place, so index = frame - first frame.
            let base = frames.first().map_or(row.frame, |f| f.frame);
            while frames.last().is_none_or(|f| f.frame < row.frame) {
                let frame = frames.last().map_or(base, |f| f.frame + 1);
                frames.push(TrackingFrame { frame, time_s: f64::NAN, ..Default::default() });
            }
            let f = frames.last_mut().expect("pushed above");
            f.time_s = row.time_s;
            if row.role == Role::Ball {
                f.ball = Some([row.x, row.y, row.z]);
            } else if f.people.iter().any(|p| p.id == row.id) {
                return Err(bad(n, format!("id {} appears twice in frame {}", row.id, row.frame)));
            } else {
                f.people.push(PersonSample { id: row.id, x: row.x, y: row.y, phase });
            }
        }
        let fps = match clock[..] {
            [(f0, t0), (f1, t1)] if t1 > t0 => (f1 - f0) as f64 / (t1 - t0),
            [_, _] => return Err(bad(0, "time_s must increase with the frame number".into())),
            _ => return Err(bad(0, "expected at least two frames to derive the frame rate".into())),
        };
        if frames.is_empty() {
            return Err(SimError::EmptyRange { first, last, path: path.to_path_buf() });
        }
        // Empty frames in between: time from the frame rate.
        let (f0, t0) = clock[0];
        for f in &mut frames {
            if f.time_s.is_nan() {
                f.time_s = t0 + (f.frame as f64 - f0 as f64) / fps;
            }
        }
        Ok(Tracking { fps, frames, identities })
    }
}

/// The header line every tracking CSV starts with.
pub const HEADER: &str = "frame,time_s,id,team,role,x_m,y_m,z_m";

struct Row {
    frame: u64,
    time_s: f64,
    id: u32,
    team: Team,
    role: Role,
    x: f64,
    y: f64,
    z: f64,
}

fn parse_row(line: &str) -> Result<Row, String> {
    let cols: Vec<&str> = line.split(',').map(str::trim).collect();
    if cols.len() != 8 {
        return Err(format!("expected 8 columns ({HEADER}), found {}: `{line}`", cols.len()));
    }
    let num = |i: usize, what: &str| -> Result<f64, String> {
        cols[i]
            .parse::<f64>()
            .ok()
            .filter(|v| v.is_finite())
            .ok_or_else(|| format!("expected a number for {what}, found `{}`", cols[i]))
    };
    let frame = cols[0]
        .parse::<u64>()
        .ok()
        .filter(|&f| f >= 1)
        .ok_or_else(|| format!("expected a frame number ≥ 1, found `{}`", cols[0]))?;
    let id = cols[2].parse::<u32>().map_err(|_| format!("expected an integer id, found `{}`", cols[2]))?;
    let team = match cols[3] {
        "home" => Team::Home,
        "away" => Team::Away,
        "none" => Team::None,
        t => return Err(format!("expected team home, away or none, found `{t}`")),
    };
    let role = match cols[4] {
        "player" => Role::Player,
        "goalkeeper" => Role::Goalkeeper,
        "referee" => Role::Referee,
        "ball" => Role::Ball,
        r => return Err(format!("expected role player, goalkeeper, referee or ball, found `{r}`")),
    };
    if (role == Role::Ball) != (id == 0) {
        return Err(format!("id 0 is the ball and only the ball: found id {id} with role {}", cols[4]));
    }
    if matches!(role, Role::Player | Role::Goalkeeper) == (team == Team::None) {
        return Err(format!("players and goalkeepers are home or away, others none: found {} {}", cols[3], cols[4]));
    }
    Ok(Row {
        frame,
        time_s: num(1, "time_s")?,
        id,
        team,
        role,
        x: num(5, "x_m")?,
        y: num(6, "y_m")?,
        z: num(7, "z_m")?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(text: &str) -> tempfile::NamedTempFile {
        let mut f = tempfile::NamedTempFile::new().unwrap();
        std::io::Write::write_all(&mut f, text.as_bytes()).unwrap();
        f
    }

    #[test]
    fn reads_a_range_with_gaps() {
        let f = write(
            "frame,time_s,id,team,role,x_m,y_m,z_m\n\
             1,0.00,3,home,player,1,2,0\n1,0.00,0,none,ball,0,0,0.11\n\
             2,0.04,3,home,player,1.5,2,0\n2,0.04,7,none,referee,0,5,0\n\
             5,0.16,9,away,goalkeeper,50,0,0\n",
        );
        let t = Tracking::read(f.path(), 2, Some(5)).unwrap();
        assert!((t.fps - 25.0).abs() < 1e-9);
        assert_eq!(t.frames.iter().map(|f| f.frame).collect::<Vec<_>>(), [2, 3, 4, 5]);
        let ids: Vec<_> = t.frames[0].people.iter().map(|p| (p.id, p.x, p.y)).collect();
        assert_eq!(ids, [(3, 1.5, 2.0), (7, 0.0, 5.0)]);
        // Id 3 moved 0.5 m in 0.04 s since frame 1: its phase advanced by one step's share.
        let step = gait_phase_step(0.5, 0.04);
        assert!((t.frames[0].people[0].phase - (3.0 * 2.399 + step)).abs() < 1e-9);
        assert!((step - std::f64::consts::TAU * 0.5 / 4.5).abs() < 1e-9, "12.5 m/s: the longest stride");
        assert!((t.frames[1].time_s - 0.08).abs() < 1e-9, "an empty frame's time comes from the frame rate");
        assert_eq!(t.frames[3].ball, None);
        assert_eq!(t.identities[&9], Identity { team: Team::Away, role: Role::Goalkeeper });
        let t = Tracking::read(f.path(), 1, Some(1)).unwrap();
        assert_eq!(t.frames[0].ball, Some([0.0, 0.0, 0.11]));
    }

    #[test]
    fn bad_files_are_typed_errors() {
        let err = |text: &str| Tracking::read(write(text).path(), 1, None).unwrap_err().to_string();
        let h = "frame,time_s,id,team,role,x_m,y_m,z_m\n";
        assert!(err("frame,x\n").contains(":1: expected the header"), "{}", err("frame,x\n"));
        assert!(err(&format!("{h}1,0,3,home,player,1,2\n")).contains(":2: expected 8 columns"));
        assert!(err(&format!("{h}1,0,3,home,player,x,2,0\n")).contains("expected a number for x_m, found `x`"));
        assert!(err(&format!("{h}0,0,3,home,player,1,2,0\n")).contains("frame number ≥ 1"));
        assert!(err(&format!("{h}1,0,3,blue,player,1,2,0\n")).contains("found `blue`"));
        assert!(err(&format!("{h}1,0,3,home,ball,1,2,0\n")).contains("id 0 is the ball"));
        assert!(err(&format!("{h}1,0,3,none,player,1,2,0\n")).contains("home or away"));
        assert!(err(&format!("{h}2,0.04,3,home,player,1,2,0\n1,0,3,home,player,1,2,0\n")).contains(":3: frames must"));
        assert!(err(&format!("{h}1,0,3,home,player,1,2,0\n2,0.04,3,away,player,1,2,0\n")).contains("id 3 was"));
        assert!(err(&format!("{h}1,0,3,home,player,1,2,0\n1,0,3,home,player,1,2,0\n")).contains("twice"));
        assert!(err(&format!("{h}1,0,3,home,player,1,2,0\n")).contains("at least two frames"));
        assert!(err(&format!("{h}1,0,3,home,player,1,2,0\n2,0,3,home,player,1,2,0\n")).contains("must increase"));
        let f = write(&format!("{h}1,0,3,home,player,1,2,0\n2,0.04,3,home,player,1,2,0\n"));
        assert!(matches!(Tracking::read(f.path(), 10, None), Err(SimError::EmptyRange { .. })));
        assert!(matches!(Tracking::read(Path::new("/nonexistent/t.csv"), 1, None), Err(SimError::TrackingNotFound(_))));
    }
}
