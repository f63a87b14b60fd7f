//! What is saved with the host's project: the clip, the trained model, the generated variations,
//! which one plays and where. One persisted field holds all of it, so a load replaces it whole
//! (nice-plug sets persisted fields one by one: separate fields could be seen half old, half new).

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::Arc;

use base64::Engine as _;
use nice_plug::params::persist::PersistentField;
use parking_lot::{MappedMutexGuard, Mutex, MutexGuard};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use sintra_core::clip::{Clip, Grid, Note, Nudge, TICKS_PER_QUARTER};

use crate::scheduler::PlayNote;

/// Bars of one variation kept in the project: an endless run goes on playing past them, but the
/// project file does not grow without bound.
pub const MAX_SAVED_BARS: usize = 256;

/// Length of one bar of `clip` in quarter notes.
pub fn bar_quarters(clip: &Clip) -> f64 {
    clip.meta.bar_quarters()
}

/// A note of a clip on `grid` (steps from the timeline's start, on `channel`) on the timeline:
/// its steps in quarter notes, its nudges kept apart so the Feel control can scale them.
pub fn play_note(n: &Note, channel: u8, grid: Grid) -> PlayNote {
    let (on, off) = n.nudge.beats();
    PlayNote {
        on: on as f32,
        off: off as f32,
        ..PlayNote::new(grid.beats(n.start), grid.beats(n.end), channel, n.pitch, n.velocity)
    }
}

/// A timeline note back on `grid`, `offset` steps on, its nudges times `feel` (1: as generated).
pub fn grid_note(n: &PlayNote, grid: Grid, offset: u32, feel: f64) -> Note {
    let spq = grid.steps_per_quarter() as f64;
    let step = |beats: f64| offset + (beats * spq).round().max(0.0) as u32;
    let (start, end) = (step(n.start), step(n.end));
    let ticks = |beats: f32| (beats as f64 * feel * TICKS_PER_QUARTER as f64).round() as i16;
    let nudge = Nudge { on: ticks(n.on), off: ticks(n.off) };
    Note { nudge, ..Note::new(n.key, start, end.max(start + 1), n.velocity) }
}

/// One generated variation: its notes on the timeline, its length in quarter notes and how close
/// each bar is to the clip.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Variation {
    /// Notes, sorted by start.
    pub notes: Vec<PlayNote>,
    /// Length in quarter notes (whole bars).
    pub length: f64,
    /// Per bar, its match with the clip (`Generator::closeness`: 1 = a copy); empty in
    /// projects saved before it was kept (and then not written, so they save as they were).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub closeness: Vec<f32>,
}

/// The model file's bytes and their saved text, made once when the model is made, so that the
/// host's saves and undo points copy text instead of encoding megabytes each time.
///
/// The text is `z1:` and the base64 of the zstd-compressed bytes, grouped by their place in
/// each 4-byte word first: the f32 weights' sign-and-exponent bytes repeat far more than their
/// low mantissa bytes, so grouped they compress to about 30% (about 60% for zstd alone). It is
/// lossless: the model, and so generation, is the same bit for bit. Plain base64 is read too.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ModelBytes {
    /// The safetensors file.
    pub bytes: Arc<Vec<u8>>,
    /// As saved.
    text: Arc<String>,
}

/// Marks the compressed form of the saved text.
const COMPRESSED: &str = "z1:";

impl ModelBytes {
    pub fn new(bytes: Vec<u8>) -> Self {
        let packed = zstd::encode_all(shuffle(&bytes).as_slice(), 3).expect("compressing in memory");
        let text = format!("{COMPRESSED}{}", base64::engine::general_purpose::STANDARD.encode(packed));
        Self { bytes: Arc::new(bytes), text: Arc::new(text) }
    }

    /// Reads the saved text back.
    fn from_text(text: String) -> Result<Self, String> {
        let b64 = |t: &str| base64::engine::general_purpose::STANDARD.decode(t).map_err(|e| e.to_string());
        let bytes = match text.strip_prefix(COMPRESSED) {
            Some(packed) => unshuffle(&zstd::decode_all(b64(packed)?.as_slice()).map_err(|e| e.to_string())?),
            None => b64(&text)?,
        };
        Ok(Self { bytes: Arc::new(bytes), text: Arc::new(text) })
    }

    /// Bytes of the saved text.
    pub fn saved_len(&self) -> usize {
        self.text.len()
    }
}

/// The bytes grouped by their place in each 4-byte word (a tail shorter than a word last).
fn shuffle(b: &[u8]) -> Vec<u8> {
    let whole = b.len() / 4 * 4;
    let mut out = Vec::with_capacity(b.len());
    for k in 0..4 {
        out.extend(b[..whole].iter().skip(k).step_by(4));
    }
    out.extend_from_slice(&b[whole..]);
    out
}

/// Undoes [`shuffle`].
fn unshuffle(s: &[u8]) -> Vec<u8> {
    let whole = s.len() / 4 * 4;
    let words = whole / 4;
    let mut out = vec![0; s.len()];
    for k in 0..4 {
        for i in 0..words {
            out[4 * i + k] = s[k * words + i];
        }
    }
    out[whole..].copy_from_slice(&s[whole..]);
    out
}

impl Serialize for ModelBytes {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.text)
    }
}

impl<'de> Deserialize<'de> for ModelBytes {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Self::from_text(String::deserialize(d)?).map_err(serde::de::Error::custom)
    }
}

/// The saved state.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Project {
    /// The captured or loaded clip.
    pub clip: Option<Clip>,
    /// The trained model.
    pub model: Option<ModelBytes>,
    /// Every variation of the last generation.
    pub variations: Vec<Variation>,
    /// The variation that plays (0-based).
    pub picked: u32,
    /// Song position (quarter notes) where the timeline starts, if known.
    pub origin: Option<f64>,
    /// Per clip track, whether generation keeps it (its new bars are the clip's bars looped).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub kept: Vec<bool>,
    /// The variation (index) as it was before the last redraw, for its undo; not saved.
    #[serde(skip)]
    pub undo: Option<(usize, Variation)>,
}

impl Project {
    /// The notes of the variation that plays.
    pub fn playing(&self) -> Option<&Variation> {
        self.variations.get(self.picked as usize)
    }

    /// A new clip: the tracks kept and the redraw's undo belonged to the old one.
    pub fn set_clip(&mut self, clip: Clip) {
        self.clip = Some(clip);
        self.kept.clear();
        self.undo = None;
    }

    /// Per clip track, whether it is kept (none where `kept` is not for this clip's tracks).
    pub fn kept_tracks(&self) -> Vec<bool> {
        let tracks = self.clip.as_ref().map_or(0, |c| c.tracks.len());
        if self.kept.len() == tracks {
            self.kept.clone()
        } else {
            vec![false; tracks]
        }
    }
}

/// The project as the plugin, the engine and the editor share it; the persisted field.
#[derive(Clone, Default)]
pub struct ProjectStore(Arc<Inner>);

#[derive(Default)]
struct Inner {
    /// The project; `picked` and `origin` in it are refreshed from the atomics on save.
    project: Mutex<Project>,
    /// The live pick (0-based), read by the engine between jobs.
    picked: AtomicU32,
    /// The live origin (f64 bits, NaN: unknown), read by the audio thread.
    origin: AtomicU64,
    /// Loads of a saved state so far; bumped after the whole project is in place.
    loads: AtomicU64,
}

impl ProjectStore {
    pub fn new() -> Self {
        let store = Self::default();
        store.0.origin.store(f64::NAN.to_bits(), Ordering::Relaxed);
        store
    }

    /// The whole project, locked (never on the audio thread).
    pub fn lock(&self) -> MutexGuard<'_, Project> {
        self.0.project.lock()
    }

    /// The clip, under the project's one lock: never hold it while taking another part.
    pub fn clip(&self) -> MappedMutexGuard<'_, Option<Clip>> {
        MutexGuard::map(self.lock(), |p| &mut p.clip)
    }

    /// The variations, under the project's one lock (see [`Self::clip`]).
    pub fn variations(&self) -> MappedMutexGuard<'_, Vec<Variation>> {
        MutexGuard::map(self.lock(), |p| &mut p.variations)
    }

    pub fn picked(&self) -> usize {
        self.0.picked.load(Ordering::Relaxed) as usize
    }

    pub fn set_picked(&self, k: usize) {
        self.0.picked.store(k as u32, Ordering::Relaxed);
    }

    /// Song position where the timeline starts, NaN when unknown. Lock-free: the audio thread's.
    pub fn origin(&self) -> f64 {
        f64::from_bits(self.0.origin.load(Ordering::Relaxed))
    }

    pub fn set_origin(&self, beat: f64) {
        self.0.origin.store(beat.to_bits(), Ordering::Relaxed);
    }

    /// Loads of a saved state so far. Lock-free: the audio thread's.
    pub fn loads(&self) -> u64 {
        self.0.loads.load(Ordering::SeqCst)
    }

    /// The project and the load count it belongs to, read together.
    pub fn snapshot(&self) -> (u64, Project) {
        let project = self.lock();
        let loads = self.loads();
        let mut p = project.clone();
        p.picked = self.picked() as u32;
        p.origin = Some(self.origin()).filter(|o| o.is_finite());
        (loads, p)
    }
}

impl<'a> PersistentField<'a, Project> for ProjectStore {
    /// A load: the whole project at once, then the counter that tells everyone it changed.
    fn set(&self, new: Project) {
        let mut project = self.lock();
        self.set_picked(new.picked as usize);
        self.set_origin(new.origin.unwrap_or(f64::NAN));
        *project = new;
        self.0.loads.fetch_add(1, Ordering::SeqCst);
    }

    fn map<F: Fn(&Project) -> R, R>(&self, f: F) -> R {
        let mut project = self.lock();
        project.picked = self.picked() as u32;
        project.origin = Some(self.origin()).filter(|o| o.is_finite());
        f(&project)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_load_replaces_the_whole_project_then_counts() {
        let store = ProjectStore::new();
        assert!(store.origin().is_nan());
        let saved = Project {
            model: Some(ModelBytes::new(vec![1, 2, 3])),
            variations: vec![Variation { notes: vec![], length: 4.0, closeness: vec![0.5] }; 2],
            kept: vec![true, false],
            picked: 1,
            origin: Some(8.0),
            ..Project::default()
        };
        let text = serde_json::to_string(&saved).unwrap();
        assert!(text.contains("\"z1:"), "model bytes compressed: {text}");
        store.set(serde_json::from_str(&text).unwrap());
        assert_eq!((store.loads(), store.picked(), store.origin()), (1, 1, 8.0));
        assert_eq!(store.snapshot(), (1, saved.clone()));
        store.set_picked(0);
        store.set_origin(12.0);
        let again: Project = store.map(|p| p.clone());
        assert_eq!((again.picked, again.origin), (0, Some(12.0)));
    }

    #[test]
    fn model_bytes_round_trip_compressed_and_plain() {
        // Weights-like data: f32s of one magnitude, and a tail that is not a whole word.
        let mut bytes: Vec<u8> =
            (0..10_000).flat_map(|i| ((i as f32 * 0.37).sin() * 0.05).to_le_bytes()).collect();
        bytes.extend([1, 2, 3]);
        let m = ModelBytes::new(bytes.clone());
        let back: ModelBytes = serde_json::from_str(&serde_json::to_string(&m).unwrap()).unwrap();
        assert_eq!(*back.bytes, bytes, "the same model, bit for bit");
        assert!(m.saved_len() < bytes.len(), "{} saved for {} bytes", m.saved_len(), bytes.len());
        // A state saved as plain base64 still loads.
        let plain = format!("\"{}\"", base64::engine::general_purpose::STANDARD.encode(&bytes));
        assert_eq!(*serde_json::from_str::<ModelBytes>(&plain).unwrap().bytes, bytes);
        assert!(serde_json::from_str::<ModelBytes>("\"z1:AAAA\"").is_err(), "damage is an error");
    }
}
