//! Velocities for generated notes, shaped like the clip's: per track, the mean velocity of the
//! clip's notes of that pitch at that position in the bar, else of any pitch at that position,
//! else of the whole track. A groove keeps its accents (a loud kick on the one, softer hats
//! between); a clip played at one velocity stays at it.

use std::collections::HashMap;

use crate::clip::Clip;

/// The clip's dynamics, per track.
#[derive(Clone, Debug)]
pub struct Dynamics {
    /// Steps per bar of the clip (positions repeat every bar).
    steps_per_bar: usize,
    /// One table per clip track.
    tracks: Vec<TrackDynamics>,
}

#[derive(Clone, Debug, Default)]
struct TrackDynamics {
    /// Mean velocity per (pitch, position in the bar).
    by_key: HashMap<(u8, usize), u8>,
    /// Mean velocity per position in the bar, where any note is struck there.
    by_position: Vec<Option<u8>>,
    /// Mean velocity of the track.
    mean: u8,
}

/// Rounded mean of velocities given as (sum, count).
fn mean((sum, count): (u32, u32)) -> u8 {
    ((sum + count / 2) / count.max(1)).clamp(1, 127) as u8
}

impl Dynamics {
    pub fn new(clip: &Clip) -> Self {
        let spb = clip.meta.steps_per_bar().max(1) as usize;
        let tracks = clip
            .tracks
            .iter()
            .map(|t| {
                let mut by_key: HashMap<(u8, usize), (u32, u32)> = HashMap::new();
                let mut by_position = vec![(0u32, 0u32); spb];
                for n in &t.notes {
                    let pos = n.start as usize % spb;
                    let k = by_key.entry((n.pitch, pos)).or_default();
                    (k.0, k.1) = (k.0 + n.velocity as u32, k.1 + 1);
                    let p = &mut by_position[pos];
                    (p.0, p.1) = (p.0 + n.velocity as u32, p.1 + 1);
                }
                TrackDynamics {
                    by_key: by_key.into_iter().map(|(k, v)| (k, mean(v))).collect(),
                    by_position: by_position.into_iter().map(|v| (v.1 > 0).then(|| mean(v))).collect(),
                    mean: t.mean_velocity(),
                }
            })
            .collect();
        Self { steps_per_bar: spb, tracks }
    }

    /// The velocity of a note of `pitch` struck by track `track` at `step` (from a bar line).
    pub fn velocity(&self, track: usize, step: usize, pitch: u8) -> u8 {
        let Some(t) = self.tracks.get(track) else { return 80 };
        let pos = step % self.steps_per_bar;
        t.by_key.get(&(pitch, pos)).copied().or(t.by_position[pos]).unwrap_or(t.mean)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clip::Note;

    #[test]
    fn accents_by_pitch_and_position_then_track_mean() {
        // One 4/4 bar: a kick (36) at 110 on the one, hats (42) at 60 and 80 on the off-beats.
        let n = |pitch, start, velocity| Note::new(pitch, start, start + 1, velocity);
        let clip = Clip::one_track(vec![n(36, 0, 110), n(42, 0, 70), n(42, 2, 60), n(42, 18, 80)]);
        let d = Dynamics::new(&clip);
        assert_eq!(d.velocity(0, 16, 36), 110, "the kick's accent, a bar later");
        assert_eq!(d.velocity(0, 2, 42), 70, "the hat at step 2: 60 and 80");
        assert_eq!(d.velocity(0, 0, 38), 90, "another drum on the one: that position's mean");
        assert_eq!(d.velocity(0, 5, 42), 80, "nothing struck there: the track's mean");
        assert_eq!(d.velocity(3, 0, 36), 80, "no such track");
    }
}
