//! SinTra's editor in a window of its own, with nice-plug's standalone audio and MIDI backends
//! (JACK or ALSA; `--backend dummy` for neither). Our options come first and the rest go to
//! nice-plug (`--help` lists them):
//!
//!   --open FILE     load a MIDI clip at start, then train on it and generate
//!   --no-train      only load it
//!   --no-generate   train, but do not generate afterwards
//!   --keep N,...    keep these tracks (1-based) when generating
//!   --select A:B    select generated bars A-B on the roll's ruler

use std::path::PathBuf;

use sintra::startup::{self, Startup};

fn main() {
    let mut rest = Vec::new();
    let (mut open, mut train, mut generate) = (None, true, true);
    let (mut keep, mut select) = (Vec::new(), None);
    let mut args = std::env::args();
    rest.extend(args.next());
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--open" => open = args.next().map(PathBuf::from),
            "--no-train" => train = false,
            "--no-generate" => generate = false,
            "--keep" => keep = args.next().map_or_else(Vec::new, |a| numbers(&a)),
            "--select" => {
                select = args.next().and_then(|a| match numbers(&a)[..] {
                    [first, last] if first >= 1 && first <= last => Some((first as u32, last as u32)),
                    _ => None,
                })
            }
            _ => rest.push(arg),
        }
    }
    if let Some(path) = open {
        match sintra_core::read_clip(&path) {
            Ok(clip) => {
                let keep = (1..=clip.tracks.len()).map(|k| keep.contains(&k)).collect();
                startup::set(Startup { clip, train, generate, keep, select })
            }
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

/// The numbers in `a` ("2,4" or "5:8").
fn numbers(a: &str) -> Vec<usize> {
    a.split([',', ':']).filter_map(|n| n.trim().parse().ok()).collect()
}
