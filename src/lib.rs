//! SinTra core: a single multi-track MIDI clip in the pitch-group representation, the
//! three-stage Transformer-XL pyramid that learns it, and sampling of new bars.
//!
//! No plugin framework here: the `sintra` CLI, the tests and the benchmarks build on this
//! crate alone.

pub mod clip;
pub mod error;
pub mod midi_in;
pub mod midi_out;
pub mod pitch_group;
pub mod pyramid;

pub use clip::Clip;
pub use error::FileError;
pub use midi_in::read_clip;
pub use midi_out::write_clip;
pub mod device;
pub mod eval;
pub mod generate;
pub mod model;
pub mod model_file;
pub mod sampling;
pub mod train;
pub mod velocity;
