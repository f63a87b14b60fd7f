//! Host-visible parameters and the state saved with the host's project.

use nice_plug::prelude::*;
use sintra_core::clip::Clip;

use crate::project::{bar_quarters, ProjectStore};

/// How the generated bars play.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum PlayMode {
    /// Silent.
    #[id = "off"]
    Off,
    /// Once, from the start bar.
    #[id = "once"]
    Once,
    /// Over and over.
    #[id = "loop"]
    Loop,
    /// New bars forever, sampled ahead of the playhead.
    #[id = "endless"]
    Endless,
}

#[derive(Params)]
pub struct SintraParams {
    /// Rising edge: record the next time the transport plays. A restored value is never a
    /// press (see `SinTra::sync_switches`).
    #[id = "arm"]
    pub arm: BoolParam,
    /// Bars to record at most.
    #[id = "caplen"]
    pub capture_bars: IntParam,
    /// Train as soon as a capture ends.
    #[id = "autotr"]
    pub auto_train: BoolParam,
    /// Rising edge: sample a fresh set of bars. A restored value is never a press.
    #[id = "gen"]
    pub generate: BoolParam,
    /// Bars per generation.
    #[id = "bars"]
    pub bars: IntParam,
    /// Nucleus mass of stage 1 (quarter notes).
    #[id = "topp1"]
    pub top_p1: FloatParam,
    /// Nucleus mass of stage 2 (eighths).
    #[id = "topp2"]
    pub top_p2: FloatParam,
    /// Nucleus mass of stage 3 (sixteenths).
    #[id = "topp3"]
    pub top_p3: FloatParam,
    /// Sampling temperature (an expert setting beside similarity).
    #[id = "temp"]
    pub temperature: FloatParam,
    /// How close to the clip the new bars stay: 0 far, 1 copies allowed.
    #[id = "simil"]
    pub similarity: FloatParam,
    /// Sampling seed (variation k uses seed + k - 1).
    #[id = "seed"]
    pub seed: IntParam,
    /// Variations per generation.
    #[id = "vars"]
    pub variations: IntParam,
    /// Off, once, loop or endless.
    #[id = "mode"]
    pub mode: EnumParam<PlayMode>,
    /// How much of the clip's feel (swing, a laid-back backbeat, human timing) the generated
    /// notes play and export with: 0 on the grid, 1 as the clip was played.
    #[id = "feel"]
    pub feel: FloatParam,
    /// Host bar where playback starts; 0 = right after the captured region.
    #[id = "start"]
    pub start_bar: IntParam,
    /// Pass incoming MIDI through.
    #[id = "thru"]
    pub thru: BoolParam,

    /// Everything saved with the host's project besides the parameters, in one field so a
    /// load replaces it whole.
    #[persist = "project"]
    pub project: ProjectStore,
}

impl SintraParams {
    /// Places the timeline right after `clip` taken to start at the song's first bar (a loaded
    /// file): the new bars follow it.
    pub fn place_after(&self, clip: &Clip) {
        self.project.set_origin(clip.bars() as f64 * bar_quarters(clip));
    }
}

impl Default for SintraParams {
    fn default() -> Self {
        let p = |name: &str, v: f32| {
            FloatParam::new(name, v, FloatRange::Linear { min: 0.0, max: 1.0 }).with_step_size(0.01)
        };
        Self {
            arm: BoolParam::new("Arm capture", false),
            capture_bars: IntParam::new("Capture bars", 8, IntRange::Linear { min: 2, max: 64 }),
            auto_train: BoolParam::new("Train after capture", true),
            generate: BoolParam::new("Generate", false),
            bars: IntParam::new("Bars to generate", 16, IntRange::Linear { min: 1, max: 128 }),
            top_p1: p("Top-p stage 1", 0.9),
            top_p2: p("Top-p stage 2", 0.3),
            top_p3: p("Top-p stage 3", 0.3),
            temperature: FloatParam::new("Temperature", 3.0, FloatRange::Linear { min: 0.1, max: 8.0 })
                .with_step_size(0.1),
            similarity: p("Similarity", 0.5),
            seed: IntParam::new("Seed", 0, IntRange::Linear { min: 0, max: 9999 }),
            variations: IntParam::new("Variations", 3, IntRange::Linear { min: 1, max: 8 }),
            mode: EnumParam::new("Play mode", PlayMode::Once),
            feel: p("Feel", 1.0),
            start_bar: IntParam::new("Start bar", 0, IntRange::Linear { min: 0, max: 999 }),
            thru: BoolParam::new("MIDI thru", true),
            project: ProjectStore::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_project_is_one_field() {
        let params = SintraParams::default();
        let state = params.serialize_fields();
        assert_eq!(state.keys().collect::<Vec<_>>(), ["project"]);
        params.deserialize_fields(&state);
        params.deserialize_fields(&state);
        assert_eq!(params.project.loads(), 2);
    }
}
