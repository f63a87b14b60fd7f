//! The representation over every real piece in `../shared/midi`.

mod common;

use common::{file_notes, midi, raw_notes, valid_files};
use sintra_core::clip::{Grid, TimeSig};
use sintra_core::midi_in::{parse_clip, read_clip_on};
use sintra_core::midi_out::clip_to_bytes;
use sintra_core::pitch_group::{decode_clip, encode};
use sintra_core::pyramid::{decimate, upsample, vocabulary, Resolution};
use sintra_core::read_clip;

/// (file, bars, meter, tempo, tracks as name:notes) from the set's README.
type Expected = (&'static str, u32, (u8, u8), f64, &'static [(&'static str, usize)]);
const EXPECTED: &[Expected] = &[
    (
        "bwv158-4_4track_ts44_pickup.mid",
        17,
        (4, 4),
        88.0,
        &[("Soprano", 63), ("Alto", 67), ("Tenor", 72), ("Bass", 72)],
    ),
    (
        "bwv158-4_4track_ts44_pickup_tschange.mid",
        17,
        (4, 4),
        88.0,
        &[("Soprano", 63), ("Alto", 67), ("Tenor", 72), ("Bass", 72)],
    ),
    (
        "bwv227-1_4track_ts44.mid",
        19,
        (4, 4),
        96.0,
        &[("Soprano", 59), ("Alto", 70), ("Tenor", 76), ("Bass", 74)],
    ),
    (
        "bwv282_4track_ts34_pickup.mid",
        20,
        (3, 4),
        90.0,
        &[("Soprano", 32), ("Alto", 39), ("Tenor", 40), ("Bass", 41)],
    ),
    (
        "bwv349_4track_ts34.mid",
        16,
        (3, 4),
        90.0,
        &[("Soprano", 33), ("Alto", 38), ("Tenor", 46), ("Bass", 44)],
    ),
    ("bwv846_prelude_piano_2track_ts44.mid", 34, (4, 4), 72.0, &[("Piano RH", 403), ("Piano LH", 130)]),
    (
        "nottingham_cuckoos_nest_melody_chords_2track_ts44_pickup.mid",
        33,
        (4, 4),
        120.0,
        &[("Melody", 222), ("Chords", 136)],
    ),
    (
        "americanfife_battle_hymn_fife_duet_2track_ts68_pickup.mid",
        32,
        (6, 8),
        120.0,
        &[("Fife 1", 86), ("Fife 2", 86)],
    ),
    (
        "beethoven_op59no1_mvt1_quartet_4track_ts44.mid",
        32,
        (4, 4),
        120.0,
        &[("Violin I", 75), ("Violin II", 246), ("Viola", 178), ("Cello", 147)],
    ),
    (
        "groove_am_drums_bass_chords_lead_4track_ts44.mid",
        16,
        (4, 4),
        124.0,
        &[("Drums", 202), ("Bass", 128), ("Chords", 192), ("Lead", 88)],
    ),
    (
        "handel_lascia_chio_pianga_piano_2track_ts34.mid",
        26,
        (3, 4),
        60.0,
        &[("Piano RH", 162), ("Piano LH", 79)],
    ),
    (
        "feel_neosoul_swing16_drums_bass_keys_3track_ts44.mid",
        16,
        (4, 4),
        88.0,
        &[("Drums", 336), ("Bass", 96), ("Keys", 128)],
    ),
    (
        "feel_shuffle_blues_piano_2track_ts44.mid",
        24,
        (4, 4),
        104.0,
        &[("Right hand", 108), ("Left hand", 384)],
    ),
    (
        "feel_trap_triplet_rolls_drums_808_pad_3track_ts44.mid",
        16,
        (4, 4),
        140.0,
        &[("Drums", 360), ("808", 48), ("Pad", 64)],
    ),
];

#[test]
fn inspect_figures_match_the_set() {
    assert_eq!(EXPECTED.len(), valid_files().len(), "every valid file is covered");
    for &(file, bars, (num, den), bpm, tracks) in EXPECTED {
        let clip = read_clip(&midi(file)).unwrap();
        assert_eq!(clip.bars(), bars, "{file}");
        assert_eq!(clip.meta.time_sig, TimeSig { num, den }, "{file}");
        assert!((clip.meta.tempo_bpm() - bpm).abs() < 0.01, "{file}");
        let got: Vec<_> = clip.tracks.iter().map(|t| (t.name.as_str(), t.notes.len())).collect();
        assert_eq!(got, tracks, "{file}");
        for (i, t) in clip.tracks.iter().enumerate() {
            // Drums on MIDI channel 10 (9 from 0); every other track on its own, in order.
            let channel = if t.name == "Drums" { 9 } else { i };
            assert_eq!(t.channel as usize, channel, "{file}");
        }
    }
    let prelude = read_clip(&midi("bwv846_prelude_piano_2track_ts44.mid")).unwrap();
    assert_eq!(prelude.tracks[0].program, 0);
    let reel = read_clip(&midi("nottingham_cuckoos_nest_melody_chords_2track_ts44_pickup.mid")).unwrap();
    assert_eq!((reel.tracks[0].program, reel.tracks[1].program), (73, 0));
}

#[test]
fn chorales_round_trip_exactly() {
    for path in valid_files()
        .iter()
        .filter(|p| p.to_string_lossy().contains("bwv") && !p.to_string_lossy().contains("846"))
    {
        let original = std::fs::read(path).unwrap();
        let clip = read_clip(path).unwrap();
        let back = decode_clip(&encode(&clip), &clip);
        assert_eq!(back, clip, "{}", path.display());
        let written = clip_to_bytes(&back);
        // Same notes at the same ticks (both files are 480 per quarter), same meta.
        assert_eq!(raw_notes(&written), raw_notes(&original), "{}", path.display());
        let reread = parse_clip(&written, &clip.meta.title).unwrap();
        assert_eq!(reread, clip, "{}", path.display());
    }
}

#[test]
fn every_note_survives_the_round_trip() {
    // Read, taken through the tokens and written back (`sintra convert`): every note of every
    // file, on its channel and key, starting and ending within 2 ticks at 480 a quarter, its
    // velocity kept.
    for path in valid_files() {
        let original = std::fs::read(&path).unwrap();
        let read = read_clip(&path).unwrap();
        let clip = decode_clip(&encode(&read), &read);
        let (tpq, before) = file_notes(&original);
        let (out_tpq, after) = file_notes(&clip_to_bytes(&clip));
        assert_eq!(before.len(), after.len(), "{}: every note kept", path.display());
        let at = |tick: u64, tpq: u64| tick as f64 * 480.0 / tpq as f64;
        for (b, a) in before.iter().zip(&after) {
            let near = |x: u64, y: u64| (at(x, tpq) - at(y, out_tpq)).abs() <= 2.0;
            assert!(
                (b.0, b.1, b.4) == (a.0, a.1, a.4) && near(b.2, a.2) && near(b.3, a.3),
                "{}: {b:?} came back as {a:?}",
                path.display()
            );
        }
    }
}

#[test]
fn every_piece_survives_the_grid() {
    // The tokens hold every note on its step: notes of one key that fall in one step would be
    // merged, and the grid each clip is read onto keeps them apart (the trap beat's triplet
    // and 32nd hat rolls too). The nudges off the steps come back from the clip.
    for path in valid_files() {
        let clip = read_clip(&path).unwrap();
        let back = decode_clip(&encode(&clip), &clip);
        assert_eq!(back, clip, "{}", path.display());
    }
}

#[test]
fn the_grid_fits_the_clip() {
    let grid = |file: &str| read_clip(&midi(file)).unwrap().meta.grid;
    for path in valid_files() {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let want = match name.as_str() {
            "feel_shuffle_blues_piano_2track_ts44.mid" => Grid::Triplets,
            "feel_trap_triplet_rolls_drums_808_pad_3track_ts44.mid" => Grid::Mixed,
            _ => Grid::Sixteenths,
        };
        assert_eq!(grid(&name), want, "{name}");
    }
    // Forced: the swung groove on triplets (its swung 16ths then sit near triplet steps).
    let forced =
        read_clip_on(&midi("feel_neosoul_swing16_drums_bass_keys_3track_ts44.mid"), Some(Grid::Triplets));
    assert_eq!(forced.unwrap().meta.grid, Grid::Triplets);
}

#[test]
fn repeated_notes_survive() {
    // Bach's voices repeat pitches: count notes that start right where the same pitch ended.
    let clip = read_clip(&midi("bwv227-1_4track_ts44.mid")).unwrap();
    let repeats = |c: &sintra_core::Clip| {
        c.tracks
            .iter()
            .map(|t| {
                t.notes.windows(2).filter(|w| w[0].pitch == w[1].pitch && w[0].end == w[1].start).count()
            })
            .sum::<usize>()
    };
    assert!(repeats(&clip) > 5, "the chorale has repeated notes");
    let back = decode_clip(&encode(&clip), &clip);
    assert_eq!(repeats(&back), repeats(&clip));
    assert_eq!(back.note_count(), clip.note_count());
}

#[test]
fn pickup_written_either_way_reads_the_same() {
    let padded = read_clip(&midi("bwv158-4_4track_ts44_pickup.mid")).unwrap();
    let short_bar = read_clip(&midi("bwv158-4_4track_ts44_pickup_tschange.mid")).unwrap();
    assert_eq!(padded.tracks, short_bar.tracks);
    assert_eq!(padded.meta.pickup, None);
    let p = short_bar.meta.pickup.unwrap();
    assert_eq!((p.time_sig, p.steps, short_bar.meta.pickup_pad()), (TimeSig { num: 1, den: 4 }, 4, 12));
    // The first note sits on the last beat of bar 1 in both.
    assert_eq!(padded.tracks[0].notes[0].start, 12);
    // 3/4 pickup file: first note on beat 3 of a padded bar.
    let waltz = read_clip(&midi("bwv282_4track_ts34_pickup.mid")).unwrap();
    assert_eq!(waltz.tracks[0].notes[0].start, 8);
}

#[test]
fn pyramid_vocabularies() {
    let clip = read_clip(&midi("bwv227-1_4track_ts44.mid")).unwrap();
    let enc = encode(&clip);
    for roll in &enc.rolls {
        assert_eq!(roll.tokens.len(), 19 * 16);
        let q = decimate(&roll.tokens, 4);
        assert_eq!(q.len(), 19 * 4);
        assert_eq!(upsample(&q, 4).len(), roll.tokens.len());
        let sizes: Vec<_> =
            Resolution::ALL.iter().map(|&r| vocabulary(&roll.tokens, r, clip.meta.grid).len()).collect();
        assert!(sizes[0] <= sizes[1] && sizes[1] <= sizes[2], "{sizes:?}");
    }
}
