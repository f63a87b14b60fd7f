//! A clip from what the audio thread recorded.

use sintra_core::clip::{Clip, Meta, Note, TimeSig, Track, TICKS_PER_QUARTER};
use sintra_core::midi_in::on_grid;

use crate::capture::CaptureMsg;

/// Builds a clip from one capture: a track per MIDI channel, from the capture's first bar line,
/// on the grid its onsets ask for (as a file's are), each note nudged to where the host played
/// it; notes still held at the end closed there.
pub fn clip_from_capture(msgs: &[CaptureMsg]) -> Result<Clip, String> {
    let Some(&CaptureMsg::Start { beat: origin }) = msgs.first() else {
        return Err("capture has no start".into());
    };
    let Some(&CaptureMsg::End { beat: end, tempo, num, den }) = msgs.last() else {
        return Err("capture has no end".into());
    };
    let time_sig = TimeSig { num: num.max(1), den: den.max(1) };
    let sixteenths = match time_sig.steps_per_bar() {
        Some(s) if s % 4 == 0 => s,
        _ => {
            return Err(format!(
                "the host's meter {time_sig} cannot be learned (bars must be whole quarter notes)"
            ))
        }
    };
    // Ticks at 480 a quarter from the first bar line: the host's positions, not snapped.
    let tick = |beat: f64| ((beat - origin) * TICKS_PER_QUARTER as f64).round().max(0.0) as u64;
    let mut open: Vec<[Option<(u64, u8)>; 128]> = vec![[None; 128]; 16];
    // Per channel: (key, on tick, off tick, velocity).
    let mut per_channel: Vec<Vec<(u8, u64, u64, u8)>> = vec![Vec::new(); 16];
    for m in msgs {
        if let CaptureMsg::Note { beat, channel, key, velocity } = *m {
            let (ch, key) = ((channel & 15) as usize, key & 127);
            let t = tick(beat);
            if let Some((start, vel)) = open[ch][key as usize].take() {
                per_channel[ch].push((key, start, t, vel));
            }
            if velocity > 0 {
                open[ch][key as usize] = Some((t, velocity));
            }
        }
    }
    let last = tick(end);
    for (ch, keys) in open.iter_mut().enumerate() {
        for (key, slot) in keys.iter_mut().enumerate() {
            if let Some((start, vel)) = slot.take() {
                per_channel[ch].push((key as u8, start, last.max(start), vel));
            }
        }
    }
    let grid = on_grid(None, &per_channel, sixteenths, None)?;
    let step = |s: u64| s.min(u32::MAX as u64) as u32;
    let per_channel: Vec<Vec<Note>> = per_channel
        .iter()
        .map(|notes| {
            let placed = grid.place_voice(notes).into_iter();
            placed
                .map(|(key, start, end, velocity, nudge)| Note {
                    nudge,
                    ..Note::new(key, step(start), step(end), velocity)
                })
                .collect()
        })
        .collect();
    let tracks: Vec<Track> = per_channel
        .into_iter()
        .enumerate()
        .filter(|(_, n)| !n.is_empty())
        .map(|(ch, mut notes)| {
            notes.sort_by_key(|n| (n.start, n.pitch));
            Track { name: format!("Channel {}", ch + 1), channel: ch as u8, program: 0, notes }
        })
        .collect();
    if tracks.is_empty() {
        return Err("the capture has no notes".into());
    }
    let mut meta = Meta::made("SinTra capture", (60_000_000.0 / tempo.max(1.0)).round() as u32, time_sig);
    meta.grid = grid;
    Ok(Clip { meta, tracks })
}

#[cfg(test)]
mod tests {
    use super::*;
    use sintra_core::clip::Nudge;

    #[test]
    fn capture_becomes_a_clip_per_channel() {
        let msgs = [
            CaptureMsg::Start { beat: 8.0 },
            CaptureMsg::Note { beat: 8.0, channel: 0, key: 60, velocity: 100 },
            CaptureMsg::Note { beat: 8.26, channel: 2, key: 48, velocity: 70 },
            CaptureMsg::Note { beat: 9.0, channel: 0, key: 60, velocity: 0 },
            CaptureMsg::End { beat: 16.0, tempo: 90.0, num: 3, den: 4 },
        ];
        let clip = clip_from_capture(&msgs).unwrap();
        assert_eq!(clip.meta.time_sig, TimeSig { num: 3, den: 4 });
        assert_eq!(clip.meta.us_per_quarter, 666_667);
        let t: Vec<_> = clip.tracks.iter().map(|t| (t.channel, t.notes.clone())).collect();
        assert_eq!(
            t,
            vec![
                (0, vec![Note::new(60, 0, 4, 100)]),
                // Held to the end of the capture: closed there; 8.26 is step 1, 5 ticks late.
                (2, vec![Note { nudge: Nudge { on: 5, off: 0 }, ..Note::new(48, 1, 32, 70) }]),
            ]
        );
        let bad =
            [CaptureMsg::Start { beat: 0.0 }, CaptureMsg::End { beat: 4.0, tempo: 120.0, num: 4, den: 4 }];
        assert!(clip_from_capture(&bad).unwrap_err().contains("no notes"));
        let odd = [msgs[0], msgs[1], CaptureMsg::End { beat: 4.0, tempo: 120.0, num: 7, den: 8 }];
        assert!(clip_from_capture(&odd).unwrap_err().contains("7/8"));
    }
}
