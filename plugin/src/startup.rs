//! A clip for the next plugin instance to start with: the standalone build's `--open`.

use std::sync::Mutex;

use sintra_core::clip::Clip;

/// What the next instance does at start.
pub struct Startup {
    /// The clip to load.
    pub clip: Clip,
    /// Train on it at once.
    pub train: bool,
    /// Generate after training.
    pub generate: bool,
    /// Per track, whether generation keeps it.
    pub keep: Vec<bool>,
    /// Generated bars selected on the roll's ruler (first, last; 1-based).
    pub select: Option<(u32, u32)>,
}

/// Waiting for the next instance.
static NEXT: Mutex<Option<Startup>> = Mutex::new(None);

/// Sets what the next instance starts with.
pub fn set(startup: Startup) {
    *NEXT.lock().unwrap_or_else(|e| e.into_inner()) = Some(startup);
}

/// Takes it (once).
pub fn take() -> Option<Startup> {
    NEXT.lock().unwrap_or_else(|e| e.into_inner()).take()
}
