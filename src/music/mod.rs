//! The music and its representation, in pipeline order: a MIDI file is read (`midi_in`) into a
//! clip (`clip`) on the grid its onsets ask for, each note nudged to where it really sits
//! (`grid`; `timing` says it in words); the clip becomes per-track pitch-group tokens (`pitch_group`)
//! at the pyramid's three resolutions (`pyramid`); generated tokens come back as notes and are
//! written as MIDI (`midi_out`).

pub mod clip;
pub mod grid;
pub mod midi_in;
pub mod midi_out;
pub mod pitch_group;
pub mod pyramid;
pub mod timing;
