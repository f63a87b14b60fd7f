//! SinTra core: a single multi-track MIDI clip in the pitch-group representation, the
//! three-stage Transformer-XL pyramid that learns it, and sampling of new bars.
//!
//! The folders read as the pipeline: `music` (MIDI in, the clip, pitch groups, the pyramid's
//! resolutions, MIDI out), `model` and `model_file` (the Transformer-XL stages and their file),
//! `train`, `generate` (sampling, candidate bars, dynamics) and `eval` (the figures).
//!
//! No plugin framework here: the `sintra` CLI, the tests and the benchmarks build on this
//! crate alone.

pub mod device;
pub mod error;
pub mod eval;
pub mod generate;
pub mod model;
pub mod model_file;
pub mod music;
pub mod train;

// The representation's modules keep their short paths (`sintra_core::clip`, ...).
pub use generate::{sampling, velocity};
pub use music::{clip, grid, midi_in, midi_out, pitch_group, pyramid, timing};

pub use clip::Clip;
pub use error::FileError;
pub use midi_in::read_clip;
pub use midi_out::write_clip;
