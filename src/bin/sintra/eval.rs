//! `sintra eval`: generated files against the reference clip.

use std::path::{Path, PathBuf};

use serde::Serialize;
use sintra_core::eval::{clip_stats, compare, mean, shuffle_bars, ClipStats, Comparison};
use sintra_core::midi_in::read_clip_on;
use sintra_core::{read_clip, FileError};

#[derive(Serialize)]
struct Report {
    reference: RefReport,
    files: Vec<FileReport>,
    mean: Comparison,
}

#[derive(Serialize)]
struct RefReport {
    file: String,
    bars: u32,
    stats: ClipStats,
}

#[derive(Serialize)]
struct FileReport {
    file: String,
    #[serde(flatten)]
    figures: Comparison,
}

/// What to compare with the reference.
pub enum Candidates<'a> {
    /// Generated files, optionally only bars `A:B` of each.
    Files(&'a [PathBuf], Option<(u32, u32)>),
    /// Per-track shuffles of the reference's bars with seeds `0..n`.
    Shuffles(u64),
}

pub fn run(
    reference: &Path,
    candidates: Candidates,
    ref_bars: Option<(u32, u32)>,
    json: bool,
) -> Result<(), FileError> {
    let mut clip = read_clip(reference)?;
    // Generated files are read on the reference's grid, so their bars line up step for step.
    let grid = Some(clip.meta.grid);
    if let Some((a, b)) = ref_bars {
        clip = clip.select_bars(a, b).map_err(|e| FileError::new(reference, e))?;
    }
    let mut files = Vec::new();
    match candidates {
        Candidates::Files(generated, gen_bars) => {
            for g in generated {
                let mut gen = read_clip_on(g, grid)?;
                if let Some((a, b)) = gen_bars {
                    gen = gen.select_bars(a, b.min(gen.bars())).map_err(|e| FileError::new(g, e))?;
                }
                files.push(FileReport { file: g.display().to_string(), figures: compare(&clip, &gen) });
            }
        }
        Candidates::Shuffles(n) => {
            for seed in 0..n {
                let figures = compare(&clip, &shuffle_bars(&clip, seed));
                files.push(FileReport { file: format!("shuffle seed {seed}"), figures });
            }
        }
    }
    let all: Vec<Comparison> = files.iter().map(|f| f.figures.clone()).collect();
    let report = Report {
        reference: RefReport {
            file: reference.display().to_string(),
            bars: clip.bars(),
            stats: clip_stats(&clip),
        },
        mean: mean(&all),
        files,
    };
    if json {
        println!("{}", serde_json::to_string(&report).expect("plain data serialises"));
        return Ok(());
    }
    let s = &report.reference.stats;
    println!("reference {} ({} bars)", report.reference.file, report.reference.bars);
    println!(
        "  pc-entropy {:.3}  scale {:.3}  groove {:.3}  empty-beats {:.3}  polyphony {:.2}  onsets/bar {:.1}",
        s.pitch_class_entropy,
        s.scale_consistency,
        s.groove_consistency,
        s.empty_beat_rate,
        s.polyphony,
        s.onsets_per_bar
    );
    println!(
        "  short-notes {:.3}  note-length {:.2}  harmonic-fit {:.3}  re-strikes {:.3}  velocity-spread {:.1}  off-grid {:.3}",
        s.short_notes, s.note_length, s.harmonic_fit, s.restrikes, s.velocity_spread, s.off_grid
    );
    let width = report.files.iter().map(|f| f.file.len()).max().unwrap_or(0).max(8);
    println!(
        "{:<width$} {:>7} {:>7} {:>6} {:>7} {:>5} {:>6} {:>6} {:>6} {:>6} {:>5} {:>6}",
        "file",
        "overlap",
        "KL",
        "JS",
        "copied",
        "run",
        "pc-ent",
        "scale",
        "groove",
        "empty",
        "poly",
        "onsets"
    );
    let row = |name: &str, c: &Comparison| {
        println!(
            "{:<width$} {:>7.3} {:>7.3} {:>6.3} {:>7.3} {:>5} {:>6.3} {:>6.3} {:>6.3} {:>6.3} {:>5.2} {:>6.2}",
            name,
            c.overlap,
            c.kl,
            c.js,
            c.copied_bars,
            c.longest_copy,
            c.stats.pitch_class_entropy,
            c.stats.scale_consistency,
            c.stats.groove_consistency,
            c.stats.empty_beat_rate,
            c.stats.polyphony,
            c.onset_density_ratio
        )
    };
    for f in &report.files {
        row(&f.file, &f.figures);
    }
    row("mean", &report.mean);
    println!();
    println!(
        "{:<width$} {:>6} {:>6} {:>6} {:>6} {:>6} {:>6} {:>6} {:>6} {:>7} {:>6} {:>7} {:>6}",
        "file",
        "short",
        "length",
        "harm",
        "chords",
        "match",
        "near",
        "shift",
        "s-near",
        "restrk",
        "vel-sd",
        "beat-js",
        "off"
    );
    let row = |name: &str, c: &Comparison| {
        println!(
            "{:<width$} {:>6.3} {:>6.2} {:>6.3} {:>6.3} {:>6.3} {:>6.3} {:>6.3} {:>6.3} {:>7.3} {:>6.1} {:>7.3} {:>6.3}",
            name,
            c.stats.short_notes,
            c.stats.note_length,
            c.stats.harmonic_fit,
            c.chord_fit,
            c.bar_match,
            c.near_copies,
            c.shifted_match,
            c.shifted_copies,
            c.stats.restrikes,
            c.stats.velocity_spread,
            c.beat_js,
            c.stats.off_grid
        )
    };
    for f in &report.files {
        row(&f.file, &f.figures);
    }
    row("mean", &report.mean);
    Ok(())
}
