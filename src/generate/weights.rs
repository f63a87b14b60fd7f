//! Every hand-set weight and count of the generation, in one place, each with the figure that
//! justifies it (how they were measured: docs/quality.md; their history: docs/log.md). The
//! model carries the music; these shape its draws and the choice among them. The thresholds
//! that are shapes rather than weights stay where they act, each said there: the ladder of
//! temperatures (`spread`, up to 3 times the setting) and the pool (`pool`, up to 3 times the
//! candidates) in `mod.rs`, a near copy at a match of 0.75 (`eval::NEAR_COPY`), a track that
//! holds chords at 3 pitch classes on half its steps (`holds_chords` in `voicing.rs`), and
//! the fade of the clip's moves and the guard from similarity 0.5 to 1
//! (`moves::strength`).

// The choice among candidates (`candidates.rs`): each term's weight against the distance of
// a bar's match from the similarity setting.
/// Weight of harmony (the share of a bar's steps that fit one chord) against the match's
/// distance from the setting: measured on the chorales and the quartet, 1 kept harmony
/// within 0.01-0.07 of the composer's where 0.5 lost up to 0.10; 1.25 lifts the prelude's
/// from 0.92-0.94 to 0.94-0.95 over three sets of 5 seeds (the composer's 0.95), the
/// quartet's near copies 0.08-0.12 (0.11-0.14 at 1); 1.5 brought them to 0.14.
pub(super) const HARMONY: f64 = 1.25;
/// Weight of the distance of a bar's onset count from the clip's mean, relative to it: 0.5
/// brought onsets per bar nearer the clip's (chorales 1.20 -> 1.17 of it, short notes 0.05 ->
/// 0.02 on BWV 227.1); with the candidates articulated as handed out, 1 brings BWV 282 and
/// the reel within 10% of the clip's (1.12 -> 1.05, 1.10 -> 1.06), harmony kept; 2 cost
/// harmony (0.87 -> 0.81 on BWV 349, before the clip's moves).
pub(super) const RHYTHM: f64 = 1.0;
/// Weight of the distance of a bar's re-strikes from the clip's mean, relative to it: 0.2
/// brought them within a quarter of the clip's share on 9 of 10 pieces (Handel 0.17 -> 0.19,
/// the fife duet 0.22 -> 0.26, the prelude 0.03 -> 0.06); 0.25 and up cost harmony then (the
/// prelude 0.95 -> 0.92 at 0.25). With the tracks of a step drawn to agree (`voicing`) the
/// harmony is there to spend, and the kept bars struck again less than the clip on nine
/// pieces of ten: over 9 runs of the quality targets 0.3 brought the misses from 33 to 17
/// (0.35: 18, 0.4: 19, 0.5: 18), the re-strikes' from 22 to 9 (the prelude's 6 to 0, BWV
/// 282's 4 to 1, BWV 227.1's 2 to 0, Handel's 7 to 6), at BWV 349's harmony 0.956 to 0.950
/// in the mean (its composer's 0.96; misses 2 of 9 both).
pub(super) const RESTRIKES: f64 = 0.3;
/// Weight of the distance of a bar's new pitches (onsets less re-strikes) from the clip's
/// mean, relative to it. A hot candidate changes pitch where its clip repeats one (the fife
/// duet's third eighth, Handel's right hand on its second beat and its downbeat), and the
/// onset and re-strike terms hardly see it: a bar of new pitches on the clip's beats has its
/// onsets. Over training seeds 0-2 and generation seeds 0-4, 100-104 and 200-204 (9 runs of
/// the quality targets), 0.5 brought the misses from 52 to 34 (50 with the bar line counted
/// alone; 0.25: 40, 0.75: 36; 1 lost harmony on BWV 349): the fife duet's re-strikes came
/// within a quarter of the clip's in 9 runs of 9 (none before), Handel's in 4 (1), the
/// reel's in 8 (5); the prelude's in none (3), until the moves that keep a pitch (`moves`):
/// 29 misses with them, the prelude's in 6 (docs/log.md).
pub(super) const CHANGES: f64 = 0.5;
/// Weight of the distance of a bar's note length (its sounding steps per onset) from the
/// clip's, relative to it. The other terms left the chorales' and the quartet's notes long
/// (their rests filled): over 9 runs of the quality targets BWV 158.4's length missed its
/// target (within 10% of the clip's) in 5, the quartet's in 3, BWV 282's in 3; at 0.5 in 1,
/// 1 and none (misses in all 31 to 28; 0.25: 28, 0.75: 27, 1: 33, the fife duet's onsets
/// and the prelude's re-strikes paying). It fades with the new pitches' (`fade`): weighed at
/// similarity 1 too, it brought BWV 227.1's match there from 0.994 to 0.932.
pub(super) const LENGTH: f64 = 0.5;
/// Weight of how unlikely the first stage finds the bar that must follow (mean negative
/// log-probability per token, in nats) after a candidate, where bars are drawn again between
/// kept ones (`Generator::lead_into`): the last bar drawn leads into the kept bar after it.
/// Redrawing bars 3-5 of 6 generations of BWV 227.1, 4 seeds each: the top notes' mean leap
/// into the kept bar 6 was 5.34 semitones without it, 5.00 at 0.1 (the model's own, drawing
/// on: 4.79); at 0.25 and up it chose the bar alone, and bar 5's harmony fell from 0.95 to
/// 0.86 (0.90 at 0.1).
pub(super) const LEAD_COST: f64 = 0.1;
/// Weight of the model's mean log-likelihood per token of a candidate (a bonus): among
/// candidates alike on every other term, the one the model finds likelier. Without it the
/// voices' repeated notes fell further short of the clip's (BWV 227.1 0.082-0.087, the
/// prelude 0.057-0.083 against its limit 0.067: docs/log.md, "no likelihood bonus in the
/// choice").
pub(super) const LIKELIHOOD: f64 = 0.05;
/// Cost of a near copy (a match of `NEAR_COPY` or more) below that setting: four fifths of
/// the whole harmony bonus, so one is kept only where every candidate is one or the others'
/// harmony and rhythm are far worse.
pub(super) const NEAR_COST: f64 = 1.0;

// Drawing a bar (`mod.rs`).
/// How many times a bar's candidates are drawn again where every one is a near copy of a clip
/// bar and the setting asks for none. The quartet's near copies (its accompaniment's bars are
/// one chord struck again) all came from such bars: 10%, 22% and 6% of the kept bars over
/// three sets of 5 seeds; drawn once more, 3%, 1% and 3% with the notes kept across the bar
/// line (4%, 2% and 1% before them; three times: 1%, 1%, 0%), at about 5-10% more time on the
/// quartet and none on the other pieces. (Training seed 0; docs/log.md.)
pub(super) const REDRAWS: usize = 1;

// The clip's moves (`moves.rs`).
/// Pseudo-count of every kind at every position: a kind never seen in 12 bars stays possible.
pub(super) const MOVE_PRIOR: f32 = 0.5;
/// Weight of the clip's rates against the model's in the geometric mean of the two, at
/// similarity 0.5 and below.
pub(super) const CLIP_WEIGHT: f32 = 0.5;
/// The same weight for every other candidate of the first stage. At 0.75 for all of them the
/// quartet's near copies rose to 23% (its accompaniment's bars are one chord struck again);
/// for half of them: 9%, and re-strikes nearer the clip's (BWV 349 0.11 -> 0.14 of onsets,
/// the clip's 0.18; Handel 0.13 -> 0.16, the clip's 0.24).
pub(super) const FIRM_WEIGHT: f32 = 0.75;

// The voicing (`voicing.rs`).
/// What a token keeps of its probability where, with the tracks drawn before it at its step,
/// it sounds a pitch-class set outside the clip's. Over 9 runs of the quality targets
/// (training seeds 0-2, generation seeds 0-4, 100-104, 200-204), 0.1 lifted the quartet's
/// harmony from 0.78 to 0.89 in the mean (its model on training seed 2: 0.59-0.71 to
/// 0.86-0.89) and the chorales' by 0.015-0.03; the share of steps sounding one of the clip's
/// sonorities rose from 0.83-0.99 to 0.97-1.00 on all but the prelude and the reel. 0.3 kept less of it,
/// 0.02 cost the prelude's re-strikes; only at the first stage, the finer stages' passing
/// notes undid half of it (docs/log.md).
pub(super) const OFF_SONORITY: f32 = 0.1;
/// What a token keeps where the set it sounds with the tracks before it is one of the clip's
/// but fits no triad or seventh chord (`eval::CHORDS`): a passing or suspended note's
/// sonority, which the clip sounds between its chords and a bold candidate, holding one bar
/// of its own, may sound anywhere. BWV 349's clip fits a chord at 0.83 of its steps, its later
/// bars at 0.96; its bars fell short of that minus 0.02 in 2 of 9 runs (0.92, 0.93) and none
/// now (docs/log.md: 0.4 over 0.25 and 0.5).
pub(super) const NO_CHORD: f32 = 0.4;

// The copy guard (`guard.rs`).
/// What a token keeps of its probability where it would go on copying a clip bar. Over 9 runs
/// of the quality targets (training seeds 0-2, generation seeds 0-4, 100-104, 200-204), 0.3
/// brought the quartet's near copies from 12% to 7% in the mean (its model on training seed 2:
/// 15-26% to 12-14%) and the groove's from 4% to 1%, harmony kept (the quartet's 0.88 to
/// 0.89); on training seeds 3 and 4 the quartet's 36% to 9% and the groove's 28% to
/// 5%. 0.1 left the quartet at 28% on seed 4.
pub(super) const GUARD_KEEP: f32 = 0.3;
