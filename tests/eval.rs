//! The evaluation figures on the real pieces in `../shared/midi`.

mod common;

use common::midi;
use sintra_core::eval::{bar_match, clip_stats, compare, mean, shuffle_bars, ReferenceBars};
use sintra_core::pitch_group::encode;
use sintra_core::read_clip;

const CHORALES: [&str; 4] = [
    "bwv158-4_4track_ts44_pickup.mid",
    "bwv227-1_4track_ts44.mid",
    "bwv282_4track_ts34_pickup.mid",
    "bwv349_4track_ts34.mid",
];

#[test]
fn a_shuffled_chorale_fits_chords_worse_than_its_later_bars() {
    // The point of the harmonic fit: the composer's own later bars fit triads and sevenths; the
    // clip's bars shuffled track by track (the same material, uncoordinated) do not.
    for file in CHORALES {
        let clip = read_clip(&midi(file)).unwrap();
        let reference = clip.select_bars(1, 12).unwrap();
        let later = clip.select_bars(13, clip.bars()).unwrap();
        let composer = compare(&reference, &later);
        let noise = mean(
            &(0..5).map(|seed| compare(&reference, &shuffle_bars(&reference, seed))).collect::<Vec<_>>(),
        );
        let (c, n) = (composer.stats.harmonic_fit, noise.stats.harmonic_fit);
        assert!(c > 0.85 && n + 0.2 < c, "{file}: later bars {c:.3}, shuffle {n:.3}");
        // The shuffle keeps each track's notes: note figures stay, pitch groups stay.
        assert_eq!(noise.overlap, 1.0, "{file}");
        assert!((noise.stats.note_length - clip_stats(&reference).note_length).abs() < 0.5, "{file}");
    }
}

#[test]
fn every_bar_of_the_reference_matches_itself() {
    // The per-bar API on a real chorale: each bar of the reference is a copy of itself, and
    // a bar of the later part is not a copy (those bars are the composer's new ones).
    let clip = read_clip(&midi("bwv227-1_4track_ts44.mid")).unwrap();
    let reference = clip.select_bars(1, 12).unwrap();
    let windows = ReferenceBars::new(&reference);
    assert_eq!((windows.tracks(), windows.steps_per_bar()), (4, 16));
    let bars = |c: &sintra_core::Clip| {
        let enc = encode(c);
        (0..enc.steps / 16)
            .map(|b| {
                enc.rolls
                    .iter()
                    .map(|r| {
                        r.tokens[b * 16..b * 16 + 16].iter().map(|&t| enc.dict.group(t)).collect::<Vec<_>>()
                    })
                    .collect::<Vec<_>>()
            })
            .collect::<Vec<_>>()
    };
    for bar in bars(&reference) {
        assert_eq!(bar_match(&bar, &windows), 1.0);
    }
    let later = bars(&clip.select_bars(13, clip.bars()).unwrap());
    assert!(later.iter().all(|bar| bar_match(bar, &windows) < 1.0));
}
