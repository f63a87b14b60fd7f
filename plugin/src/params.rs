//! Host-visible parameters and the state saved with the host's project.

use std::sync::atomic::{AtomicU32, AtomicU64};
use std::sync::Arc;

use nice_plug::params::persist::PersistentField;
use nice_plug::prelude::*;
use parking_lot::Mutex;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use sintra_core::clip::Clip;

use crate::engine::Variation;
use crate::scheduler::PlayNote;

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

/// Counts the host's loads of a saved state into this instance: a persisted field whose `set`
/// (called on every load, as every saved state holds it) counts instead of storing.
#[derive(Default)]
pub struct LoadCounter(pub Arc<AtomicU64>);

impl PersistentField<'_, u64> for LoadCounter {
    fn set(&self, _saved: u64) {
        self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    }

    fn map<F: Fn(&u64) -> R, R>(&self, f: F) -> R {
        f(&0)
    }
}

/// The model file's bytes, saved as base64 text inside the (zstd-compressed) state.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ModelBytes(pub Vec<u8>);

impl Serialize for ModelBytes {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use base64::Engine as _;
        s.serialize_str(&base64::engine::general_purpose::STANDARD.encode(&self.0))
    }
}

impl<'de> Deserialize<'de> for ModelBytes {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use base64::Engine as _;
        let text = String::deserialize(d)?;
        base64::engine::general_purpose::STANDARD
            .decode(text)
            .map(ModelBytes)
            .map_err(serde::de::Error::custom)
    }
}

#[derive(Params)]
pub struct SintraParams {
    /// Rising edge: record the next time the transport plays.
    #[id = "arm"]
    pub arm: BoolParam,
    /// Bars to record at most.
    #[id = "caplen"]
    pub capture_bars: IntParam,
    /// Train as soon as a capture ends.
    #[id = "autotr"]
    pub auto_train: BoolParam,
    /// Rising edge: sample a fresh set of bars.
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
    /// Sampling temperature: the variety control.
    #[id = "temp"]
    pub temperature: FloatParam,
    /// Sampling seed (variation k uses seed + k - 1).
    #[id = "seed"]
    pub seed: IntParam,
    /// Variations per generation.
    #[id = "vars"]
    pub variations: IntParam,
    /// Off, once, loop or endless.
    #[id = "mode"]
    pub mode: EnumParam<PlayMode>,
    /// Host bar where playback starts; 0 = right after the captured region.
    #[id = "start"]
    pub start_bar: IntParam,
    /// Pass incoming MIDI through.
    #[id = "thru"]
    pub thru: BoolParam,

    /// The captured or loaded clip.
    #[persist = "clip"]
    pub clip: Arc<Mutex<Option<Clip>>>,
    /// The trained model.
    #[persist = "model"]
    pub model: Arc<Mutex<Option<ModelBytes>>>,
    /// The generated notes that play, on the timeline.
    #[persist = "generated"]
    pub generated: Arc<Mutex<Vec<PlayNote>>>,
    /// Every variation of the last generation.
    #[persist = "variations"]
    pub variation_set: Arc<Mutex<Vec<Variation>>>,
    /// The variation that plays (0-based).
    #[persist = "picked"]
    pub picked: Arc<AtomicU32>,
    /// Loads of saved state so far.
    #[persist = "loads"]
    pub loads: LoadCounter,
    /// Song position (quarter notes, f64 bits) where the timeline starts; NaN bits: unknown.
    #[persist = "origin"]
    pub origin: Arc<AtomicU64>,
}

impl SintraParams {
    /// Places the timeline right after `clip` taken to start at the song's first bar (a loaded
    /// file): the new bars follow it.
    pub fn place_after(&self, clip: &Clip) {
        let end = clip.bars() as f64 * crate::engine::bar_quarters(clip);
        self.origin.store(end.to_bits(), std::sync::atomic::Ordering::Relaxed);
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
            seed: IntParam::new("Seed", 0, IntRange::Linear { min: 0, max: 9999 }),
            variations: IntParam::new("Variations", 3, IntRange::Linear { min: 1, max: 8 }),
            mode: EnumParam::new("Play mode", PlayMode::Once),
            start_bar: IntParam::new("Start bar", 0, IntRange::Linear { min: 0, max: 999 }),
            thru: BoolParam::new("MIDI thru", true),
            clip: Arc::default(),
            model: Arc::default(),
            generated: Arc::default(),
            variation_set: Arc::default(),
            picked: Arc::default(),
            loads: LoadCounter::default(),
            origin: Arc::new(AtomicU64::new(f64::NAN.to_bits())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::Ordering;

    #[test]
    fn every_state_load_is_counted() {
        let params = SintraParams::default();
        let state = params.serialize_fields();
        assert!(state.contains_key("loads"));
        params.deserialize_fields(&state);
        params.deserialize_fields(&state);
        assert_eq!(params.loads.0.load(Ordering::SeqCst), 2);
    }
}
