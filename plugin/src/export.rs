//! Writing generated bars as a MIDI file: a variation on the clip's own tracks (names, channels,
//! programs, tempo, meter, key), optionally after the clip itself, into a folder of the user's.

use std::path::{Path, PathBuf};

use sintra_core::clip::Clip;
use sintra_core::midi_out::write_clip;

use crate::project::{grid_note, Variation};

/// The variation as a clip: the clip's tracks and meta, its notes after the clip's last bar
/// when `include_clip`, else from bar 1, timed with `feel` of the clip's (the Feel control).
pub fn variation_clip(clip: &Clip, variation: &Variation, include_clip: bool, feel: f64) -> Clip {
    let offset = if include_clip { clip.bars() * clip.meta.steps_per_bar() } else { 0 };
    let mut out = clip.clone();
    out.meta.title = format!("{} (SinTra)", clip.meta.title);
    if !include_clip {
        out.meta.pickup = None;
    }
    for track in &mut out.tracks {
        if !include_clip {
            track.notes.clear();
        }
        let grid = clip.meta.grid;
        let notes = variation.notes.iter().filter(|n| n.channel == track.channel);
        track.notes.extend(notes.map(|n| grid_note(n, grid, offset, feel)));
        track.notes.sort_by_key(|n| (n.start, n.pitch));
    }
    out
}

/// Where one-click exports go: `SinTra` in the user's music folder (the home folder's `Music`
/// where the system names none).
pub fn default_folder() -> PathBuf {
    dirs::audio_dir()
        .or_else(|| dirs::home_dir().map(|h| h.join("Music")))
        .unwrap_or_else(std::env::temp_dir)
        .join("SinTra")
}

/// A file name for variation `k` (1-based) of `clip` sampled from `seed`.
pub fn file_stem(clip: &Clip, seed: i32, k: usize) -> String {
    let title: String = clip
        .meta
        .title
        .chars()
        .map(|c| if c.is_alphanumeric() || c == '-' { c } else { '_' })
        .take(40)
        .collect();
    let title = title.trim_matches('_');
    format!("{}-seed{seed}-var{k}", if title.is_empty() { "sintra" } else { title })
}

/// `folder/stem.mid`, or `stem-2.mid`, `stem-3.mid`... whichever does not exist yet: an export
/// never overwrites an earlier one.
pub fn free_path(folder: &Path, stem: &str) -> PathBuf {
    let mut path = folder.join(format!("{stem}.mid"));
    let mut n = 2;
    while path.exists() {
        path = folder.join(format!("{stem}-{n}.mid"));
        n += 1;
    }
    path
}

/// Writes the variation to `path` (creating its folder) with `feel` of the clip's; the error
/// names the file.
pub fn write(
    clip: &Clip,
    variation: &Variation,
    include_clip: bool,
    feel: f64,
    path: &Path,
) -> Result<(), String> {
    if let Some(folder) = path.parent() {
        std::fs::create_dir_all(folder)
            .map_err(|e| format!("{}: cannot create the folder: {e}", folder.display()))?;
    }
    write_clip(&variation_clip(clip, variation, include_clip, feel), path).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scheduler::PlayNote;

    fn chorale() -> Clip {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/midi/bwv349_4track_ts34.mid");
        sintra_core::read_clip(&path).unwrap().select_bars(1, 2).unwrap()
    }

    fn variation() -> Variation {
        let n = |start, end, channel, key| PlayNote::new(start, end, channel, key, 90);
        Variation {
            notes: vec![n(0.0, 1.0, 0, 72), n(0.0, 1.0, 1, 67), n(0.0, 1.0, 2, 60), n(0.5, 3.0, 3, 48)],
            length: 3.0,
            ..Variation::default()
        }
    }

    #[test]
    fn variation_alone_and_after_the_clip_round_trip_through_a_file() {
        let clip = chorale();
        let dir = tempfile::tempdir().unwrap();
        for include in [false, true] {
            let path = free_path(dir.path(), &file_stem(&clip, 7, 1));
            write(&clip, &variation(), include, 1.0, &path).unwrap();
            let back = sintra_core::read_clip(&path).unwrap();
            assert_eq!(back.meta.time_sig, clip.meta.time_sig);
            assert_eq!(back.meta.us_per_quarter, clip.meta.us_per_quarter);
            let names: Vec<_> = back.tracks.iter().map(|t| (&t.name, t.channel, t.program)).collect();
            let want: Vec<_> = clip.tracks.iter().map(|t| (&t.name, t.channel, t.program)).collect();
            assert_eq!(names, want);
            let offset = if include { 2 * 12 } else { 0 };
            let soprano = &back.tracks[0].notes;
            let last = soprano.last().unwrap();
            assert_eq!((last.pitch, last.start, last.end, last.velocity), (72, offset, offset + 4, 90));
            let bass = back.tracks[3].notes.last().unwrap();
            assert_eq!((bass.pitch, bass.start, bass.end), (48, offset + 2, offset + 12));
            if include {
                assert_eq!(soprano.len(), clip.tracks[0].notes.len() + 1);
                assert_eq!(soprano[..soprano.len() - 1], clip.tracks[0].notes[..]);
            } else {
                assert_eq!(soprano.len(), 1);
            }
        }
        // Two exports, two files.
        let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(names.len(), 2, "{names:?}");
        assert!(free_path(dir.path(), &file_stem(&clip, 7, 1))
            .ends_with(format!("{}-3.mid", file_stem(&clip, 7, 1))));
    }

    #[test]
    fn the_feel_is_exported_as_the_control_says() {
        // A note on the second 16th, 30 ticks late and ending 10 early in the clip's feel.
        let clip = chorale();
        let late = PlayNote { on: 30.0 / 480.0, off: -10.0 / 480.0, ..PlayNote::new(0.25, 0.5, 0, 72, 90) };
        let v = Variation { notes: vec![late], length: 3.0, ..Variation::default() };
        for (feel, on, off) in [(1.0, 30, -10), (0.5, 15, -5), (0.0, 0, 0)] {
            let out = variation_clip(&clip, &v, false, feel);
            let n = out.tracks[0].notes[0];
            assert_eq!((n.start, n.end, n.nudge.on, n.nudge.off), (1, 2, on, off), "feel {feel}");
        }
    }

    #[test]
    fn stems_are_safe_file_names() {
        let mut clip = chorale();
        clip.meta.title = "BWV 349 / Chorale: 2".into();
        assert_eq!(file_stem(&clip, 3, 2), "BWV_349___Chorale__2-seed3-var2");
        clip.meta.title = "///".into();
        assert_eq!(file_stem(&clip, 0, 1), "sintra-seed0-var1");
    }
}
