//! `sintra inspect` and `sintra convert`.

use std::path::Path;

use serde::Serialize;
use sintra_core::grid::Grid;
use sintra_core::midi_in::read_clip_on;
use sintra_core::pitch_group::{decode_clip, encode};
use sintra_core::pyramid::{vocabulary, Resolution};
use sintra_core::timing::Timing;
use sintra_core::{write_clip, FileError};

/// What `inspect --json` prints.
#[derive(Serialize)]
struct Report {
    file: String,
    ticks_per_quarter: u32,
    tempo_bpm: f64,
    time_signature: [u8; 2],
    steps_per_bar: u32,
    bars: u32,
    /// The grid and the feel (swing, push or lay-back, human timing, notes off the grid).
    timing: Timing,
    tracks: Vec<TrackReport>,
}

#[derive(Serialize)]
struct TrackReport {
    name: String,
    channel: u8,
    program: u8,
    notes: usize,
    vocab: Vocab,
}

#[derive(Serialize)]
struct Vocab {
    #[serde(rename = "16th")]
    sixteenth: usize,
    #[serde(rename = "8th")]
    eighth: usize,
    #[serde(rename = "4th")]
    quarter: usize,
}

pub fn run(file: &Path, grid: Option<Grid>, json: bool) -> Result<(), FileError> {
    let clip = read_clip_on(file, grid)?;
    let enc = encode(&clip);
    let tracks = clip
        .tracks
        .iter()
        .zip(&enc.rolls)
        .map(|(t, roll)| {
            let v = |r| vocabulary(&roll.tokens, r, clip.meta.grid).len();
            TrackReport {
                name: t.name.clone(),
                channel: t.channel,
                program: t.program,
                notes: t.notes.len(),
                vocab: Vocab {
                    sixteenth: v(Resolution::Sixteenth),
                    eighth: v(Resolution::Eighth),
                    quarter: v(Resolution::Quarter),
                },
            }
        })
        .collect();
    let m = &clip.meta;
    let report = Report {
        file: file.display().to_string(),
        ticks_per_quarter: m.ticks_per_quarter as u32,
        tempo_bpm: (m.tempo_bpm() * 1000.0).round() / 1000.0,
        time_signature: [m.time_sig.num, m.time_sig.den],
        steps_per_bar: m.steps_per_bar(),
        bars: clip.bars(),
        timing: Timing::of(&clip),
        tracks,
    };
    if json {
        println!("{}", serde_json::to_string(&report).expect("plain data serialises"));
        return Ok(());
    }
    println!("file           {}", report.file);
    println!("ticks/quarter  {}", report.ticks_per_quarter);
    println!("tempo          {} BPM", report.tempo_bpm);
    let pickup = m.pickup.map_or(String::new(), |p| format!(" (pickup bar in {} padded)", p.time_sig));
    println!("meter          {}, {} steps per bar{pickup}", m.time_sig, report.steps_per_bar);
    if let Some(k) = m.key_sig {
        println!(
            "key            {} {}",
            key_name(k.sharps, k.minor),
            if k.minor { "minor" } else { "major" }
        );
    }
    println!("bars           {}", report.bars);
    println!("grid           {} ({} steps a quarter)", m.grid.name(), m.grid.steps_per_quarter());
    println!("feel           {}", report.timing.words);
    println!("pitch groups   {} in the clip", enc.dict.len());
    println!();
    println!(
        "{:<24} {:>3} {:>4} {:>6} {:>5} {:>5} {:>5}",
        "track", "ch", "prog", "notes", "16th", "8th", "4th"
    );
    for t in &report.tracks {
        let v = &t.vocab;
        println!(
            "{:<24} {:>3} {:>4} {:>6} {:>5} {:>5} {:>5}",
            t.name, t.channel, t.program, t.notes, v.sixteenth, v.eighth, v.quarter
        );
    }
    Ok(())
}

fn key_name(sharps: i8, minor: bool) -> &'static str {
    const MAJOR: [&str; 15] =
        ["Cb", "Gb", "Db", "Ab", "Eb", "Bb", "F", "C", "G", "D", "A", "E", "B", "F#", "C#"];
    const MINOR: [&str; 15] =
        ["Ab", "Eb", "Bb", "F", "C", "G", "D", "A", "E", "B", "F#", "C#", "G#", "D#", "A#"];
    let i = (sharps.clamp(-7, 7) + 7) as usize;
    if minor {
        MINOR[i]
    } else {
        MAJOR[i]
    }
}

pub fn convert(input: &Path, output: &Path, grid: Option<Grid>) -> Result<(), FileError> {
    let clip = read_clip_on(input, grid)?;
    let back = decode_clip(&encode(&clip), &clip);
    write_clip(&back, output)?;
    eprintln!("wrote {} ({} notes in {} tracks)", output.display(), back.note_count(), back.tracks.len());
    Ok(())
}
