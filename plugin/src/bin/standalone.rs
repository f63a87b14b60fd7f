//! SinTra's editor in a window of its own, with nice-plug's standalone audio and MIDI backends
//! (JACK or ALSA; `--backend dummy` for neither). Our options come first and the rest go to
//! nice-plug (`--help` lists them):
//!
//!   --open FILE     load a MIDI clip at start, then train on it and generate
//!   --no-train      only load it
//!   --no-generate   train, but do not generate afterwards

use std::path::PathBuf;

use sintra::startup::{self, Startup};

fn main() {
    let mut rest = Vec::new();
    let (mut open, mut train, mut generate) = (None, true, true);
    let mut args = std::env::args();
    rest.extend(args.next());
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--open" => open = args.next().map(PathBuf::from),
            "--no-train" => train = false,
            "--no-generate" => generate = false,
            _ => rest.push(arg),
        }
    }
    if let Some(path) = open {
        match sintra_core::read_clip(&path) {
            Ok(clip) => startup::set(Startup { clip, train, generate }),
            Err(e) => {
                eprintln!("sintra-standalone: {e}");
                std::process::exit(2);
            }
        }
    }
    if !nice_plug::wrapper::standalone::nice_export_standalone_with_args::<sintra::SinTra, _>(rest) {
        std::process::exit(1);
    }
}
