//! Damaged copies of every real piece in `../shared/midi` (flipped bytes, truncations, inserted
//! bytes, huge delta times; the last three sometimes with the track length put right, so the
//! damage reaches the events), seeded: each reads to a clip within the length limit or to a clear
//! error, never a panic, and quickly.

mod common;
mod damage;

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::{Duration, Instant};

use common::{midi, valid_files};
use damage::{deltas, grow_chunk, track_chunks, with_delta, with_huge_delta};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use sintra_core::clip::MAX_BARS;
use sintra_core::midi_in::parse_clip;
use sintra_core::pitch_group::encode;

/// Cases per kind of damage and file.
const PER_KIND: u64 = 50;
const BASE_SEED: u64 = 0x5172_a000;

#[derive(Clone, Copy, Debug)]
enum Kind {
    Flip,
    Truncate,
    Insert,
    HugeDelta,
}

/// A damaged copy of `bytes` drawn from `rng`, and what was done.
fn mutate(bytes: &[u8], kind: Kind, rng: &mut ChaCha8Rng) -> (Vec<u8>, String) {
    let mut out = bytes.to_vec();
    match kind {
        Kind::Flip => {
            let n = rng.random_range(1..=4);
            let mut what = Vec::new();
            for _ in 0..n {
                let i = rng.random_range(0..out.len());
                let x = rng.random_range(1..=255u8);
                out[i] ^= x;
                what.push(format!("byte {i} ^= {x:#04x}"));
            }
            (out, what.join(", "))
        }
        Kind::Truncate if rng.random_bool(0.5) => {
            let at = rng.random_range(0..out.len());
            out.truncate(at);
            (out, format!("truncated to {at} bytes"))
        }
        Kind::Truncate => {
            // A track cut short at an event, its chunk length and end of track put right (what
            // a recorder that stopped mid-take might leave): the parser reads on.
            let all = deltas(bytes);
            let d = all[rng.random_range(0..all.len())];
            let (_, end) = track_chunks(bytes).into_iter().find(|&(c, _)| c == d.chunk).unwrap();
            out.splice(d.at..end, [0x00, 0xff, 0x2f, 0x00]);
            grow_chunk(&mut out, d.chunk, 4 - (end - d.at) as i64);
            (out, format!("track at byte {} cut at byte {}", d.chunk, d.at))
        }
        Kind::Insert => {
            let at = rng.random_range(0..=out.len());
            let n = rng.random_range(1..=8);
            let new: Vec<u8> = (0..n).map(|_| rng.random()).collect();
            out.splice(at..at, new.iter().copied());
            // Half the time inside a track whose length is put right, so the events are parsed.
            let inside = track_chunks(bytes).into_iter().find(|&(c, end)| c + 8 <= at && at < end);
            match inside {
                Some((chunk, _)) if rng.random_bool(0.5) => {
                    grow_chunk(&mut out, chunk, n as i64);
                    (out, format!("inserted {new:02x?} at {at}, track length fixed"))
                }
                _ => (out, format!("inserted {new:02x?} at {at}")),
            }
        }
        Kind::HugeDelta => {
            // Log-uniform from 2^12 ticks (a few bars) to the largest delta time, 2^28 - 1.
            let all = deltas(bytes);
            let d = all[rng.random_range(0..all.len())];
            let value = (2f64.powf(rng.random_range(12.0..28.0)) as u32).min((1 << 28) - 1);
            (with_delta(bytes, d, value), format!("delta at byte {} set to {value}", d.at))
        }
    }
}

#[test]
fn damaged_files_read_to_a_clip_or_a_clear_error() {
    let kinds = [Kind::Flip, Kind::Truncate, Kind::Insert, Kind::HugeDelta];
    // Per kind of damage: (clips, errors).
    let (mut counts, mut failures, mut too_long) = ([(0, 0); 4], Vec::new(), 0);
    let mut slowest = (Duration::ZERO, String::new());
    let mut case = 0u64;
    let started = Instant::now();
    for file in valid_files() {
        let bytes = std::fs::read(&file).unwrap();
        let name = file.file_name().unwrap().to_string_lossy().into_owned();
        for (k, kind) in kinds.into_iter().enumerate() {
            for _ in 0..PER_KIND {
                let seed = BASE_SEED + case;
                case += 1;
                let (damaged, what) = mutate(&bytes, kind, &mut ChaCha8Rng::seed_from_u64(seed));
                let label = format!("{name}, seed {seed:#x}, {kind:?}: {what}");
                let t = Instant::now();
                // What `sintra inspect` does: read, then build the per-step rolls.
                let result = catch_unwind(AssertUnwindSafe(|| {
                    parse_clip(&damaged, "t").map(|clip| {
                        let steps = encode(&clip).steps;
                        (clip, steps)
                    })
                }));
                let took = t.elapsed();
                if took > slowest.0 {
                    slowest = (took, label.clone());
                }
                match result {
                    Err(_) => failures.push(format!("{label}: panicked")),
                    Ok(Ok((clip, steps))) => {
                        counts[k].0 += 1;
                        let bars = clip.bars();
                        if bars > MAX_BARS || clip.check_length().is_err() {
                            failures.push(format!("{label}: a clip of {bars} bars"));
                        }
                        if steps > (MAX_BARS * clip.meta.steps_per_bar()) as usize {
                            failures.push(format!("{label}: {steps} steps built"));
                        }
                    }
                    Ok(Err(reason)) => {
                        counts[k].1 += 1;
                        too_long += reason.contains(&format!("at most {MAX_BARS} bars")) as u32;
                        if reason.trim().is_empty() || reason.contains('\n') {
                            failures.push(format!("{label}: unclear error {reason:?}"));
                        }
                    }
                }
            }
        }
    }
    let (clips, errors) = (counts.iter().map(|c| c.0).sum::<u32>(), counts.iter().map(|c| c.1).sum::<u32>());
    let per_kind: Vec<String> =
        kinds.iter().zip(&counts).map(|(k, (c, e))| format!("{k:?} {c} clips / {e} errors")).collect();
    eprintln!(
        "{case} damaged files: {clips} clips, {errors} errors ({too_long} too long; {}) in {:.1} s; \
         slowest {:.0} ms ({})",
        per_kind.join(", "),
        started.elapsed().as_secs_f64(),
        slowest.0.as_secs_f64() * 1000.0,
        slowest.1
    );
    assert!(case >= 400, "several hundred cases");
    assert!(failures.is_empty(), "{} of {case} cases failed:\n{}", failures.len(), failures.join("\n"));
    // Reading never costs time in proportion to a damaged length.
    assert!(slowest.0 < Duration::from_secs(2), "slowest case took {:?}: {}", slowest.0, slowest.1);
}

#[test]
fn a_huge_delta_time_is_refused_quickly_naming_the_bar() {
    let bytes = with_huge_delta("bwv227-1_4track_ts44.mid");
    let t = Instant::now();
    let reason = parse_clip(&bytes, "t").unwrap_err();
    assert!(t.elapsed() < Duration::from_secs(1), "{:?}", t.elapsed());
    // 2^25 - 1 ticks at 480 per quarter is 17,476 bars of 4/4 after the note it delays (bar 6).
    assert_eq!(
        reason,
        "a note at bar 17481: SinTra takes clips of at most 256 bars (training takes the whole clip \
         at every step); a damaged delta time?"
    );
}

#[test]
fn a_far_end_of_track_adds_no_bars() {
    // The end-of-track event of every track moved far away: trailing silence, not bars.
    let name = "bwv349_4track_ts34.mid";
    let original = std::fs::read(midi(name)).unwrap();
    let mut bytes = original.clone();
    let last_in_chunk: Vec<_> = {
        let all = deltas(&original);
        all.iter().filter(|d| all.iter().all(|e| e.chunk != d.chunk || e.at <= d.at)).copied().collect()
    };
    assert_eq!(last_in_chunk.len(), 5, "a conductor and four voices");
    for d in last_in_chunk.iter().rev() {
        bytes = with_delta(&bytes, *d, (1 << 28) - 1);
    }
    assert_eq!(parse_clip(&bytes, "t").unwrap(), parse_clip(&original, "t").unwrap());
}
