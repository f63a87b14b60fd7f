//! Turning sampled bars (token indices per track and step) into notes on the timeline.

use sintra_core::clip::{Grid, Note};
use sintra_core::generate::feel::Feel;
use sintra_core::generate::Kept;
use sintra_core::model_file::SintraModel;
use sintra_core::velocity::Dynamics;

use crate::project::play_note;
use crate::scheduler::PlayNote;

/// Turns sampled bars into notes as they come, holding a pitch across bar lines while it sounds.
pub struct BarDecoder {
    /// Pitches of each token.
    groups: Vec<u128>,
    /// Pitches each token strikes again while they sound.
    restruck: Vec<u128>,
    /// Per track: its MIDI channel.
    channels: Vec<u8>,
    /// Velocities shaped like the clip's.
    dynamics: Dynamics,
    /// Timing shaped like the clip's: each note's nudge off the grid.
    feel: Feel,
    /// The clip's grid: steps to quarter notes.
    grid: Grid,
    /// Per track and pitch, the step its sounding note started at.
    open: Vec<[Option<u32>; 128]>,
    /// Steps decoded so far.
    step: u32,
    /// Length of a bar in quarter notes.
    pub bar_quarters: f64,
    /// Tracks kept: they play their source's notes, velocities and all, not their tokens.
    keep: Option<Kept>,
}

impl BarDecoder {
    /// Decodes `model`'s bars; the tracks `keep` keeps play its source's notes.
    pub fn new(model: &SintraModel, keep: Option<Kept>) -> Self {
        let dict = model.meta.output_dictionary();
        let clip = &model.meta.clip;
        Self {
            groups: dict.groups.clone(),
            restruck: dict.restruck.clone(),
            channels: clip.tracks.iter().map(|t| t.channel).collect(),
            dynamics: Dynamics::new(clip),
            feel: Feel::new(clip),
            grid: clip.meta.grid,
            open: vec![[None; 128]; clip.tracks.len()],
            step: 0,
            bar_quarters: clip.meta.bar_quarters(),
            keep,
        }
    }

    /// Continues at `beats` quarter notes (a later bar line), forgetting notes still open:
    /// they lie behind.
    pub fn jump_to(&mut self, beats: f64) {
        self.open.iter_mut().for_each(|o| *o = [None; 128]);
        self.step = (beats * self.grid.steps_per_quarter() as f64).round().max(0.0) as u32;
    }

    /// The notes that end in this bar (all still sounding ones too when `last`), sorted by start.
    pub fn bar(&mut self, bar: &[Vec<u32>], last: bool) -> Vec<PlayNote> {
        let mut notes = Vec::new();
        let steps = bar.first().map_or(0, |t| t.len()) as u32;
        for (k, tokens) in bar.iter().enumerate() {
            let channel = self.channels[k];
            if let Some(keep) = self.keep.as_ref().filter(|keep| keep.tracks.get(k) == Some(&true)) {
                let index = (self.step / steps.max(1)) as usize;
                let kept = keep.notes(k, index, self.step);
                notes.extend(kept.map(|n| play_note(&n, channel, self.grid)));
                continue;
            }
            let (dynamics, feel, grid) = (&self.dynamics, &self.feel, self.grid);
            // A drawn note, its velocity and nudge shaped like the clip's.
            let note = |start: u32, end: u32, p: u8| {
                let mut n = Note::new(p, start, end, dynamics.velocity(k, start as usize, p));
                n.nudge = feel.nudge(k, &n);
                play_note(&n, channel, grid)
            };
            for (i, &tok) in tokens.iter().enumerate() {
                let step = self.step + i as u32;
                let now = self.groups.get(tok as usize).copied().unwrap_or(0);
                let again = self.restruck.get(tok as usize).copied().unwrap_or(0);
                for p in 0..128u8 {
                    let sounding = now & (1 << p) != 0;
                    let open = &mut self.open[k][p as usize];
                    match (*open, sounding) {
                        (None, true) => *open = Some(step),
                        (Some(start), false) => {
                            *open = None;
                            notes.push(note(start, step, p));
                        }
                        // Struck again: the sounding note ends where the new one starts.
                        (Some(start), true) if again & (1 << p) != 0 => {
                            *open = Some(step);
                            notes.push(note(start, step, p));
                        }
                        _ => {}
                    }
                }
            }
            if last {
                let end = self.step + steps;
                for p in 0..128u8 {
                    if let Some(start) = self.open[k][p as usize].take() {
                        notes.push(note(start, end, p));
                    }
                }
            }
        }
        self.step += steps;
        notes.sort_by(|a, b| a.start.total_cmp(&b.start).then(a.key.cmp(&b.key)));
        notes
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicBool;

    use candle_core::Device;
    use sintra_core::model::Preset;
    use sintra_core::pitch_group::encode_bars;
    use sintra_core::train::{train, TrainOptions};

    use super::*;

    /// Bars 1-4 of `file` in `../shared/midi` (a 16ths grid), and their own tokens decoded bar by
    /// bar with a model trained on them.
    fn streamed(file: &str) -> (sintra_core::Clip, Vec<PlayNote>) {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/midi").join(file);
        let clip = sintra_core::read_clip(&path).unwrap().select_bars(1, 4).unwrap();
        let opts = TrainOptions {
            preset: Preset::Tiny,
            config: Preset::Tiny.config(),
            max_epochs: 1,
            ..Default::default()
        };
        let (model, _) = train(&clip, 4, &opts, &Device::Cpu, &AtomicBool::new(false), &mut |_| {}).unwrap();
        let enc = encode_bars(&model.meta.clip, 4);
        let mut decoder = BarDecoder::new(&model, None);
        let mut played = Vec::new();
        for b in 0..4 {
            let bar: Vec<Vec<u32>> =
                enc.rolls.iter().map(|r| r.tokens[b * 16..(b + 1) * 16].to_vec()).collect();
            played.extend(decoder.bar(&bar, b == 3));
        }
        (clip, played)
    }

    #[test]
    fn streams_the_clips_own_bars_back_with_their_repeated_notes() {
        // The groove's hats, bass eighths and stabs are re-struck notes: decoded bar by bar,
        // the clip's own tokens give back every note, also those held across a bar line.
        let (clip, played) = streamed("groove_am_drums_bass_chords_lead_4track_ts44.mid");
        let key = |n: &PlayNote| (n.channel, n.key, (n.start * 4.0) as u32, (n.end * 4.0) as u32);
        let mut got: Vec<_> = played.iter().map(key).collect();
        let mut want: Vec<_> = clip
            .tracks
            .iter()
            .flat_map(|t| t.notes.iter().map(move |n| (t.channel, n.pitch, n.start, n.end)))
            .collect();
        got.sort();
        want.sort();
        assert!(want.len() > 100, "{} notes", want.len());
        assert_eq!(got, want);
        assert!(played.iter().all(|n| n.on == 0.0 && n.off == 0.0), "a straight clip gets no feel");
    }

    #[test]
    fn a_swung_clip_streams_back_swung() {
        // The neo-soul groove's hats are late on every second 16th (62%: 29 ticks): decoded,
        // its own bars play their notes there, and on the beats as early or late as the clip's.
        let (_, played) = streamed("feel_neosoul_swing16_drums_bass_keys_3track_ts44.mid");
        let mean_on = |odd: bool| {
            let ons: Vec<f32> = played
                .iter()
                .filter(|n| n.channel == 9 && ((n.start * 4.0).round() as u32 % 2 == 1) == odd)
                .map(|n| n.on * 480.0)
                .collect();
            ons.iter().sum::<f32>() / ons.len() as f32
        };
        let (offbeat, onbeat) = (mean_on(true), mean_on(false));
        assert!((20.0..40.0).contains(&offbeat), "offbeat 16ths {offbeat} ticks late");
        assert!(onbeat.abs() < 10.0, "on the 8ths {onbeat} ticks");
    }
}
