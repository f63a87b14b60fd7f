//! A clip from what the audio thread recorded.

use sintra_core::clip::{Clip, Meta, Note, TimeSig, Track};

use crate::capture::CaptureMsg;

/// Builds a clip from one capture: a track per MIDI channel, positions on the 16th grid from
/// the capture's first bar line, notes still held at the end closed there.
pub fn clip_from_capture(msgs: &[CaptureMsg]) -> Result<Clip, String> {
    let Some(&CaptureMsg::Start { beat: origin }) = msgs.first() else {
        return Err("capture has no start".into());
    };
    let Some(&CaptureMsg::End { beat: end, tempo, num, den }) = msgs.last() else {
        return Err("capture has no end".into());
    };
    let time_sig = TimeSig { num: num.max(1), den: den.max(1) };
    match time_sig.steps_per_bar() {
        Some(s) if s % 4 == 0 => {}
        _ => {
            return Err(format!(
                "the host's meter {time_sig} cannot be learned (bars must be whole quarter notes)"
            ))
        }
    }
    let step = |beat: f64| ((beat - origin) * 4.0).round().max(0.0) as u32;
    let mut open: Vec<[Option<(u32, u8)>; 128]> = vec![[None; 128]; 16];
    let mut per_channel: Vec<Vec<Note>> = vec![Vec::new(); 16];
    for m in msgs {
        if let CaptureMsg::Note { beat, channel, key, velocity } = *m {
            let (ch, key) = ((channel & 15) as usize, key & 127);
            let s = step(beat);
            if let Some((start, vel)) = open[ch][key as usize].take() {
                per_channel[ch].push(Note { pitch: key, start, end: s.max(start + 1), velocity: vel });
            }
            if velocity > 0 {
                open[ch][key as usize] = Some((s, velocity));
            }
        }
    }
    let last = step(end);
    for (ch, keys) in open.iter_mut().enumerate() {
        for (key, slot) in keys.iter_mut().enumerate() {
            if let Some((start, vel)) = slot.take() {
                per_channel[ch].push(Note {
                    pitch: key as u8,
                    start,
                    end: last.max(start + 1),
                    velocity: vel,
                });
            }
        }
    }
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
    let meta = Meta::made("SinTra capture", (60_000_000.0 / tempo.max(1.0)).round() as u32, time_sig);
    Ok(Clip { meta, tracks })
}

#[cfg(test)]
mod tests {
    use super::*;

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
                (0, vec![Note { pitch: 60, start: 0, end: 4, velocity: 100 }]),
                // Held to the end of the capture: closed there; 8.26 rounds to step 1.
                (2, vec![Note { pitch: 48, start: 1, end: 32, velocity: 70 }]),
            ]
        );
        let bad =
            [CaptureMsg::Start { beat: 0.0 }, CaptureMsg::End { beat: 4.0, tempo: 120.0, num: 4, den: 4 }];
        assert!(clip_from_capture(&bad).unwrap_err().contains("no notes"));
        let odd = [msgs[0], msgs[1], CaptureMsg::End { beat: 4.0, tempo: 120.0, num: 7, den: 8 }];
        assert!(clip_from_capture(&odd).unwrap_err().contains("7/8"));
    }
}
