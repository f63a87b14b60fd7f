//! Turning sampled bars (token indices per track and step) into notes on the timeline.

use sintra_core::model_file::SintraModel;
use sintra_core::velocity::Dynamics;

use crate::scheduler::PlayNote;

/// Turns sampled bars into notes as they come, holding a pitch across bar lines while it sounds.
pub struct BarDecoder {
    /// Pitches of each token.
    groups: Vec<u128>,
    /// Per track: its MIDI channel.
    channels: Vec<u8>,
    /// Velocities shaped like the clip's.
    dynamics: Dynamics,
    /// Per track and pitch, the step its sounding note started at.
    open: Vec<[Option<u32>; 128]>,
    /// Steps decoded so far.
    step: u32,
    /// Length of a bar in quarter notes.
    pub bar_quarters: f64,
}

impl BarDecoder {
    pub fn new(model: &SintraModel) -> Self {
        let dict = model.meta.dictionary();
        let clip = &model.meta.clip;
        Self {
            groups: dict.groups.clone(),
            channels: clip.tracks.iter().map(|t| t.channel).collect(),
            dynamics: Dynamics::new(clip),
            open: vec![[None; 128]; clip.tracks.len()],
            step: 0,
            bar_quarters: clip.meta.steps_per_bar() as f64 / 4.0,
        }
    }

    /// Continues at `step` (a later bar line), forgetting notes still open: they lie behind.
    pub fn jump(&mut self, step: u32) {
        self.open.iter_mut().for_each(|o| *o = [None; 128]);
        self.step = step;
    }

    /// The notes that end in this bar (all still sounding ones too when `last`), sorted by start.
    pub fn bar(&mut self, bar: &[Vec<u32>], last: bool) -> Vec<PlayNote> {
        let mut notes = Vec::new();
        let steps = bar.first().map_or(0, |t| t.len()) as u32;
        for (k, tokens) in bar.iter().enumerate() {
            let channel = self.channels[k];
            let velocity = |start: u32, p: u8| self.dynamics.velocity(k, start as usize, p);
            for (i, &tok) in tokens.iter().enumerate() {
                let step = self.step + i as u32;
                let now = self.groups.get(tok as usize).copied().unwrap_or(0);
                for p in 0..128u8 {
                    let sounding = now & (1 << p) != 0;
                    match (self.open[k][p as usize], sounding) {
                        (None, true) => self.open[k][p as usize] = Some(step),
                        (Some(start), false) => {
                            self.open[k][p as usize] = None;
                            notes.push(note(start, step, channel, p, velocity(start, p)));
                        }
                        _ => {}
                    }
                }
            }
            if last {
                let end = self.step + steps;
                for p in 0..128u8 {
                    if let Some(start) = self.open[k][p as usize].take() {
                        notes.push(note(start, end, channel, p, velocity(start, p)));
                    }
                }
            }
        }
        self.step += steps;
        notes.sort_by(|a, b| a.start.total_cmp(&b.start).then(a.key.cmp(&b.key)));
        notes
    }
}

fn note(start: u32, end: u32, channel: u8, key: u8, velocity: u8) -> PlayNote {
    PlayNote { start: start as f64 / 4.0, end: end as f64 / 4.0, channel, key, velocity }
}
