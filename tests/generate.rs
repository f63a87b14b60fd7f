//! Generation from a model trained on a real chorale.

mod common;

use std::sync::atomic::{AtomicBool, Ordering};

use candle_core::Device;
use common::midi;
use sintra_core::generate::{
    generate, generate_explained, to_clip, GenerateError, GenerateOptions, Generator, Kept, Primer,
};
use sintra_core::midi_in::parse_clip;
use sintra_core::midi_out::clip_to_bytes;
use sintra_core::model::Preset;
use sintra_core::model_file::SintraModel;
use sintra_core::train::{train, TrainOptions};

fn trained(preset: Preset, max_epochs: usize) -> SintraModel {
    let clip = sintra_core::read_clip(&midi("bwv349_4track_ts34.mid")).unwrap().select_bars(1, 8).unwrap();
    let opts = TrainOptions { preset, config: preset.config(), max_epochs, threads: 2, ..Default::default() };
    train(&clip, 8, &opts, &Device::Cpu, &AtomicBool::new(false), &mut |_| {}).unwrap().0
}

fn model() -> SintraModel {
    trained(Preset::Tiny, 40)
}

fn run(m: &SintraModel, seed: u64, bars: usize) -> Vec<Vec<Vec<u32>>> {
    let opts = GenerateOptions { seed, ..Default::default() };
    generate(m, &opts, bars, &AtomicBool::new(false), &mut |_, _| {}).unwrap()
}

#[test]
fn seeded_and_varied() {
    let m = model();
    let a = run(&m, 1, 6);
    assert_eq!(a, run(&m, 1, 6), "same seed, same bars");
    assert_ne!(a, run(&m, 2, 6), "another seed, another variation");
    // 3/4 at 16ths: 12 tokens per bar per track, each sounding a group of the track's
    // vocabulary (the articulation chooses only what is struck again).
    let allowed = &m.meta.allowed[2];
    let (dict, out) = (m.meta.dictionary(), m.meta.output_dictionary());
    for bar in &a {
        assert_eq!(bar.len(), 4);
        for (k, track) in bar.iter().enumerate() {
            assert_eq!(track.len(), 12);
            let groups: Vec<u128> = allowed[k].iter().map(|&t| dict.group(t)).collect();
            assert!(track.iter().all(|&t| (t as usize) < out.len() && groups.contains(&out.group(t))));
        }
    }
}

#[test]
fn a_learned_clip_replays_when_sampled_cold_and_departs_when_hot() {
    // A model that has learned its clip (loss 0.01), primed inside the clip: argmax at
    // temperature 1 walks the clip's own next bars; hot sampling leaves them.
    let m = trained(Preset::Default, 400);
    let seed = (0..100u64)
        .find(|&s| {
            let o = GenerateOptions { seed: s, primer: Primer::RandomBar, ..Default::default() };
            Generator::new(&m, o).unwrap().primer_bar <= 2
        })
        .unwrap();
    // The model's own distribution: one candidate per bar.
    let opts = |p: f32, t: f32| GenerateOptions {
        seed,
        top_p: vec![p; 3],
        temperature: t,
        primer: Primer::RandomBar,
        candidates: 1,
        similarity: 1.0,
        keep: None,
    };
    let copies = |opts: GenerateOptions| {
        let bars = generate(&m, &opts, 4, &AtomicBool::new(false), &mut |_, _| {}).unwrap();
        sintra_core::eval::compare(&m.meta.clip, &to_clip(&m, &bars, false, None)).copied_bars
    };
    let (cold, hot) = (copies(opts(0.0, 1.0)), copies(opts(1.0, 5.0)));
    assert!(cold >= 0.75 && hot < cold, "{cold} vs {hot}");
}

#[test]
fn streams_bar_by_bar_and_cancels() {
    let m = model();
    let mut seen = Vec::new();
    let cancel = AtomicBool::new(false);
    let bars =
        generate(&m, &GenerateOptions::default(), 5, &cancel, &mut |i, bar| seen.push((i, bar.to_vec())))
            .unwrap();
    assert_eq!(seen.iter().map(|(i, _)| *i).collect::<Vec<_>>(), vec![0, 1, 2, 3, 4]);
    assert_eq!(seen.into_iter().map(|(_, b)| b).collect::<Vec<_>>(), bars);
    // The iterator form gives the same bars.
    let mut g = Generator::new(&m, GenerateOptions::default()).unwrap();
    assert_eq!(g.primer_bar, 7);
    assert_eq!(g.next_bar().unwrap(), bars[0]);
    // Cancelled after the second bar.
    let stop = AtomicBool::new(false);
    let r = generate(&m, &GenerateOptions::default(), 50, &stop, &mut |i, _| {
        if i == 1 {
            stop.store(true, Ordering::Relaxed)
        }
    });
    assert!(matches!(r, Err(GenerateError::Cancelled)));
}

#[test]
fn the_choice_is_explained_term_by_term() {
    // `--explain`: each bar's candidates with their costs; the kept one costs least, its terms
    // add up to its total, and explaining changes no draw.
    let m = model();
    let opts = GenerateOptions::default();
    let (bars, choices) =
        generate_explained(&m, &opts, 3, &AtomicBool::new(false), true, &mut |_, _| {}).unwrap();
    assert_eq!(bars, run(&m, opts.seed, 3));
    assert_eq!(choices.len(), 3);
    for choice in &choices {
        assert_eq!(choice.costs.len(), opts.candidates);
        let least = choice.costs.iter().map(|c| c.total).fold(f64::INFINITY, f64::min);
        let kept = &choice.costs[choice.kept];
        assert_eq!(kept.total, least);
        for c in &choice.costs {
            let terms = c.distance + c.copy + c.harmony + c.onsets + c.restrikes + c.changes + c.length;
            assert!((terms + c.likelihood + c.lead - c.total).abs() < 1e-9, "{c:?}");
            assert!(c.harmony <= 0.0 && (0.0..=1.0).contains(&c.matched));
        }
    }
    let (_, none) = generate_explained(&m, &opts, 2, &AtomicBool::new(false), false, &mut |_, _| {}).unwrap();
    assert!(none.is_empty());
}

#[test]
fn random_primer_is_a_real_bar_and_seeded() {
    let m = model();
    let opts = |seed| GenerateOptions { seed, primer: Primer::RandomBar, ..Default::default() };
    let bars: Vec<usize> = (0..6).map(|s| Generator::new(&m, opts(s)).unwrap().primer_bar).collect();
    assert!(bars.iter().all(|&b| b < 8));
    assert!(bars.iter().any(|&b| b != bars[0]), "{bars:?}");
}

#[test]
fn generated_midi_keeps_the_clip_meta() {
    let m = model();
    let bars = run(&m, 3, 4);
    let clip = &m.meta.clip;
    let out = parse_clip(&clip_to_bytes(&to_clip(&m, &bars, false, None)), "g").unwrap();
    assert_eq!(out.meta.us_per_quarter, clip.meta.us_per_quarter);
    assert_eq!(out.meta.time_sig, clip.meta.time_sig);
    assert_eq!(out.meta.key_sig, clip.meta.key_sig);
    assert!(out.bars() <= 4);
    for (a, b) in out.tracks.iter().zip(&clip.tracks) {
        assert_eq!((&a.name, a.channel, a.program), (&b.name, b.channel, b.program));
        assert!(a.notes.iter().all(|n| n.velocity == b.mean_velocity()));
    }
    // With the clip first: the clip's notes unchanged, the new bars after it.
    let both = parse_clip(&clip_to_bytes(&to_clip(&m, &bars, true, None)), "g").unwrap();
    let spb = clip.meta.steps_per_bar();
    for (a, b) in both.tracks.iter().zip(&clip.tracks) {
        let head: Vec<_> = a.notes.iter().filter(|n| n.start < 8 * spb).copied().collect();
        assert_eq!(head, b.notes);
    }
    assert!(both.bars() > 8);
}

#[test]
fn similarity_moves_the_bars_along_their_match_with_the_clip() {
    // A model of 8 real bars: over five settings, the mean best match of the kept bars with
    // the clip's bars rises at every step; at 1, copies are allowed.
    let m = trained(Preset::Default, 400);
    let seeds = 6;
    let matched = |similarity: f32| {
        let mut sum = 0.0;
        for seed in 0..seeds {
            let opts = GenerateOptions { seed, similarity, candidates: 8, ..Default::default() };
            let bars = generate(&m, &opts, 8, &AtomicBool::new(false), &mut |_, _| {}).unwrap();
            sum += sintra_core::eval::compare(&m.meta.clip, &to_clip(&m, &bars, false, None)).bar_match;
        }
        sum / seeds as f64
    };
    let figures: Vec<f64> = [0.0, 0.25, 0.5, 0.75, 1.0].into_iter().map(matched).collect();
    eprintln!("match at 0, 0.25, 0.5, 0.75, 1: {figures:?}");
    assert!(figures.windows(2).all(|w| w[1] > w[0]), "{figures:?}");
    assert!(figures[4] > figures[0] + 0.1, "{figures:?}");
    assert!(figures[3] > figures[1] + 0.05, "{figures:?}");
}

#[test]
fn a_model_saved_before_re_strikes_still_generates() {
    // A version-1 file (made by the 2026-12-01 morning build: the groove's bars 1-2, tiny
    // preset), as a saved plugin project may hold one. Its dictionary has no re-strike tokens,
    // so the clip must be tokenised with the model's own dictionary, not a fresh one.
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/groove-bars1-2-tiny-v1.sintra");
    let m = SintraModel::load(&path, &Device::Cpu).unwrap();
    assert_eq!(m.meta.version, 1);
    assert!(m.meta.dictionary().restruck.iter().all(|&r| r == 0));
    let bars = run(&m, 0, 4);
    let clip = to_clip(&m, &bars, false, None);
    assert_eq!(clip.bars(), 4);
    assert!(clip.tracks.iter().map(|t| t.notes.len()).sum::<usize>() > 0);
}

#[test]
fn a_bar_whose_candidates_are_all_near_copies_is_drawn_again() {
    // The quartet's accompaniment is one chord struck again, bar after bar: at times every
    // candidate for a bar is a near copy of a clip bar (at least 3/4 of its cells equal).
    // Drawn once more, the choice keeps near copies within the target (at most 15%) on seeds
    // where a single draw kept 22% (seeds 100-104, the quality table's settings).
    let file = midi("beethoven_op59no1_mvt1_quartet_4track_ts44.mid");
    let clip = sintra_core::read_clip(&file).unwrap().select_bars(1, 12).unwrap();
    let opts = TrainOptions { threads: 2, ..Default::default() };
    let m = train(&clip, 12, &opts, &Device::Cpu, &AtomicBool::new(false), &mut |_| {}).unwrap().0;
    let near: f64 = (100..105)
        .map(|seed| {
            let bars = run(&m, seed, 32);
            sintra_core::eval::compare(&clip, &to_clip(&m, &bars, false, None)).near_copies
        })
        .sum::<f64>()
        / 5.0;
    eprintln!("near {near}");
    assert!(near <= 0.15, "near copies {near}");
}

#[test]
fn a_kept_bass_loops_its_bars_and_the_voices_above_fit_it() {
    // BWV 227.1's bars 1-12 learned with the default preset; the bass kept: its new bars are
    // the clip's bars 1-12 again, note for note, and the three upper voices are drawn over it.
    let file = midi("bwv227-1_4track_ts44.mid");
    let whole = sintra_core::read_clip(&file).unwrap();
    let clip = whole.select_bars(1, 12).unwrap();
    let opts = TrainOptions { threads: 2, ..Default::default() };
    let m = train(&clip, 12, &opts, &Device::Cpu, &AtomicBool::new(false), &mut |_| {}).unwrap().0;
    let keep = Kept::clip_bars(&m.meta, vec![false, false, false, true]);
    let spb = clip.meta.steps_per_bar();
    let bar_notes = |c: &sintra_core::Clip, k: usize, b: u32| -> Vec<(u8, u32, u32, u8)> {
        let t = &c.tracks[k].notes;
        t.iter()
            .filter(|n| n.start / spb == b)
            .map(|n| (n.pitch, n.start - b * spb, n.end - b * spb, n.velocity))
            .collect()
    };
    let mut fits = Vec::new();
    for seed in 0..3 {
        let o = GenerateOptions { seed, keep: Some(keep.clone()), ..Default::default() };
        let bars = generate(&m, &o, 16, &AtomicBool::new(false), &mut |_, _| {}).unwrap();
        let out = to_clip(&m, &bars, false, o.keep.as_ref());
        for b in 0..16 {
            assert_eq!(bar_notes(&out, 3, b), bar_notes(&clip, 3, b % 12), "seed {seed}, bar {b}");
        }
        let upper_copied =
            (0..16).filter(|&b| (0..3).all(|k| bar_notes(&out, k, b) == bar_notes(&clip, k, b % 12))).count();
        assert!(upper_copied < 4, "seed {seed}: the upper voices copy {upper_copied} bars");
        fits.push(sintra_core::eval::compare(&clip, &out).stats.harmonic_fit);
    }
    // The composer's own later bars: the yardstick.
    let later = whole.select_bars(13, whole.bars()).unwrap();
    let composer = sintra_core::eval::compare(&clip, &later).stats.harmonic_fit;
    let fit = fits.iter().sum::<f64>() / fits.len() as f64;
    eprintln!("harmonic fit with the bass kept {fits:?}, the composer's {composer}");
    assert!(fit >= composer - 0.05, "harmonic fit {fit} against the composer's {composer}");
}

#[test]
fn a_kept_track_from_a_file_is_its_notes_and_conditions_the_others() {
    let m = model();
    let clip = &m.meta.clip;
    // A new bass line: the clip's bass a fifth up (groups the model never saw), two bars.
    let mut file = clip.select_bars(1, 2).unwrap();
    file.tracks.retain(|t| t.name == clip.tracks[3].name);
    for n in &mut file.tracks[0].notes {
        n.pitch += 7;
    }
    let keep = Kept::from_file(&m.meta, vec![false, false, false, true], &file).unwrap();
    let o = GenerateOptions { seed: 3, keep: Some(keep.clone()), ..Default::default() };
    let bars = generate(&m, &o, 4, &AtomicBool::new(false), &mut |_, _| {}).unwrap();
    let out = to_clip(&m, &bars, false, Some(&keep));
    let spb = clip.meta.steps_per_bar();
    let mut want: Vec<_> = file.tracks[0].notes.clone();
    want.extend(file.tracks[0].notes.iter().map(|n| sintra_core::clip::Note {
        start: n.start + 2 * spb,
        end: n.end + 2 * spb,
        ..*n
    }));
    assert_eq!(out.tracks[3].notes, want);
    assert_ne!(bars, run(&m, 3, 4), "the other tracks were drawn to fit the new bass");
    // A meter that is not the model's, or a track that is not there, is refused.
    let mut four = file.clone();
    four.meta.time_sig.num = 4;
    assert!(Kept::from_file(&m.meta, vec![false, false, false, true], &four).is_err());
    file.tracks[0].name = "nobody".into();
    file.tracks.push(file.tracks[0].clone());
    let err = Kept::from_file(&m.meta, vec![false, false, false, true], &file).unwrap_err();
    assert!(err.contains("no track named"), "{err}");
}

#[test]
fn redrawn_bars_are_new_and_every_other_bar_is_kept() {
    let m = model();
    let spb = m.meta.clip.meta.steps_per_bar();
    let opts = GenerateOptions { seed: 5, ..Default::default() };
    let bars = generate(&m, &opts, 8, &AtomicBool::new(false), &mut |_, _| {}).unwrap();
    // As `generate` wrote it, with and without the clip first.
    for include in [false, true] {
        let prev = parse_clip(&clip_to_bytes(&to_clip(&m, &bars, include, None)), "prev").unwrap();
        let skip = if include { m.meta.bars } else { 0 };
        let (a, b) = (skip + 3, skip + 5);
        let again = |seed| {
            let o = GenerateOptions { seed, ..Default::default() };
            sintra_core::generate::redraw(
                &m,
                &o,
                &prev,
                (a, b),
                include,
                &AtomicBool::new(false),
                &mut |_| {},
            )
            .unwrap()
        };
        assert_eq!(sintra_core::generate::starts_with_clip(&m, &prev), include);
        let out = again(11);
        assert_eq!(out, again(11), "the same seed draws the same bars");
        assert_ne!(out, again(12), "another seed, other bars");
        let bar = |c: &sintra_core::Clip, k: usize, n: u32| -> Vec<(u8, u32, u32, u8)> {
            let notes = c.tracks[k].notes.iter().filter(|x| x.start / spb == n - 1);
            notes.map(|x| (x.pitch, x.start, x.end, x.velocity)).collect()
        };
        for n in 1..=prev.bars() {
            let same = (0..4).all(|k| bar(&out, k, n) == bar(&prev, k, n));
            if (a..=b).contains(&n) {
                assert!(!same, "bar {n} is drawn again");
            } else if n == a - 1 {
                // Notes held into the redrawn bars end at their first bar line.
                for k in 0..4 {
                    let kept =
                        bar(&prev, k, n).into_iter().map(|(p, s, e, v)| (p, s, e.min((a - 1) * spb), v));
                    assert_eq!(bar(&out, k, n), kept.collect::<Vec<_>>(), "bar {n}");
                }
            } else {
                assert!(same, "bar {n} is kept note for note");
            }
        }
    }
    // Bars outside the generated ones are refused.
    let prev = parse_clip(&clip_to_bytes(&to_clip(&m, &bars, true, None)), "prev").unwrap();
    let o = GenerateOptions::default();
    let err =
        sintra_core::generate::redraw(&m, &o, &prev, (2, 3), true, &AtomicBool::new(false), &mut |_| {});
    assert!(err.unwrap_err().to_string().contains("not among its generated bars"));
}
