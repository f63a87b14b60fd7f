//! What goes between the engine thread and the rest of the plugin: commands in, status and
//! events out, notes to the audio thread.

use sintra_core::clip::Clip;
use sintra_core::generate::GenerateOptions;

use crate::scheduler::PlayNote;

/// What the engine is asked to do.
#[derive(Debug)]
pub enum Command {
    /// Train on the current clip; sample a set of bars afterwards when `generate`.
    Train { generate: bool },
    /// Sample a fresh set of bars from the current model.
    Generate,
    /// Use this clip (from a MIDI file); train and generate at once when `train`.
    LoadClip { clip: Clip, train: bool },
    /// Draw bars `first..=last` (1-based) of the variation that plays again, keeping the others.
    Redraw { first: u32, last: u32 },
    /// Put back the variation as it was before the last redraw.
    UndoRedraw,
    /// Per clip track, whether generation keeps it (saved with the project). In order with
    /// `LoadClip`, which clears it (the standalone's `--keep`; the editor sets it directly).
    Keep { tracks: Vec<bool> },
    /// Stop the thread.
    Shutdown,
    /// Panic inside a job (tests of the recovery path).
    #[cfg(test)]
    Panic,
}

impl Command {
    /// Whether the command starts a job that keeps the engine busy.
    pub fn is_job(&self) -> bool {
        matches!(
            self,
            Command::Train { .. }
                | Command::Generate
                | Command::Redraw { .. }
                | Command::LoadClip { train: true, .. }
        )
    }
}

/// What the engine tells whoever listens (the editor's monitor, tests).
#[derive(Clone, Debug, PartialEq)]
pub enum EngineEvent {
    /// A training step: stage (1-based) of stages, epoch, loss, seconds since training began.
    Progress { stage: usize, stages: usize, epoch: usize, loss: f32, seconds: f64 },
    /// Training finished.
    Trained { seconds: f64, parameters: usize },
    /// A bar of a variation (both 0-based) was sampled.
    BarReady { variation: usize, index: usize, of: usize },
    /// Something failed, in plain words.
    Error(String),
}

/// What the engine reports.
#[derive(Clone, Debug, Default, PartialEq)]
pub enum Status {
    /// Nothing captured or loaded.
    #[default]
    Empty,
    /// A clip is there and untrained.
    Clip { bars: u32, tracks: usize },
    /// Training: stage (1-based) of stages, epoch of at most `max_epochs`, loss, seconds so far.
    Training { stage: usize, stages: usize, epoch: usize, max_epochs: usize, loss: f32, seconds: f64 },
    /// A model is ready.
    Ready,
    /// Sampling: variation (1-based) of variations, bars done of bars asked in it.
    Generating { variation: usize, variations: usize, done: usize, of: usize },
    /// Something failed, in plain words.
    Error(String),
}

impl Status {
    /// A training or sampling job is under way.
    pub fn is_busy(&self) -> bool {
        matches!(self, Status::Training { .. } | Status::Generating { .. })
    }
}

/// What the model is and where it runs.
#[derive(Clone, Debug, PartialEq)]
pub struct ModelInfo {
    /// Trainable parameters.
    pub parameters: usize,
    /// Size of the model file (saved with the project), bytes.
    pub bytes: usize,
    /// "cpu" or "cuda".
    pub device: &'static str,
}

/// A message to the audio thread's timeline. Every batch of notes starts with `Clear` or
/// `Restore`, tagged with the state load it belongs to: the audio thread drops batches of a
/// load it has moved past.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum PlayMsg {
    /// Forget the timeline: a new set of notes follows (a generation, a pick).
    Clear { loads: u64 },
    /// The notes of a loaded state follow, unless the timeline already holds them.
    Restore { loads: u64 },
    /// Notes that continue the timeline follow (endless play resumed).
    Append { loads: u64 },
    /// A note to add.
    Note(PlayNote),
    /// The timeline now holds this many quarter notes.
    Length(f64),
    /// Forget the notes that start before this timeline position (endless play's window).
    Trim(f64),
}

/// Sampling settings the engine reads from the parameters when it generates.
#[derive(Clone, Debug)]
pub struct Settings {
    /// Bars per generation.
    pub bars: usize,
    /// Variations per generation (seeds `seed`, `seed + 1`, ...).
    pub variations: usize,
    /// The generation options.
    pub options: GenerateOptions,
    /// Keep sampling ahead of the playhead.
    pub endless: bool,
    /// Train as soon as a capture ends.
    pub auto_train: bool,
}
