//! Every hand-set weight and count of the generation, in one place, each with the figure that
//! justifies it (how they were measured: docs/quality.md; each one's measurements in full:
//! docs/model.md, "The hand-set weights"; their history: docs/log.md). The model carries the
//! music; these shape its draws and the choice among them. The thresholds that are shapes
//! rather than weights stay where they act, each said there: the ladder of temperatures
//! (`spread`, up to 3 times the setting) and the pool (`pool`, up to 3 times the candidates)
//! in `mod.rs`, a near copy at a match of 0.75 (`eval::NEAR_COPY`), a track that holds chords
//! at 3 pitch classes on half its steps (`holds_chords` in `voicing.rs`), and the fade of the
//! clip's moves and the guard from similarity 0.5 to 1 (`moves::strength`).

// The choice among candidates (`candidates.rs`): each term's weight against the distance of
// a bar's match from the similarity setting.
/// Weight of harmony (the share of a bar's steps that fit one chord) against the match's
/// distance from the setting: 1.25 brings the prelude's to the composer's 0.95 (1.5 costs the
/// quartet near copies).
pub(super) const HARMONY: f64 = 1.25;
/// Weight of the distance of a bar's onset count from the clip's mean, relative to it: 1
/// brings BWV 282 and the reel within 10% of the clip's, harmony kept (2 costs harmony).
pub(super) const RHYTHM: f64 = 1.0;
/// Weight of the distance of a bar's re-strikes from the clip's mean, relative to it: 0.3
/// halved the misses of 9 runs of the quality targets (33 to 17; 0.35-0.5: 18-19).
pub(super) const RESTRIKES: f64 = 0.3;
/// Weight of the distance of a bar's new pitches (onsets less re-strikes) from the clip's
/// mean, relative to it: a hot candidate changes pitch where its clip repeats one; 0.5
/// brought the misses of 9 runs from 52 to 34 (0.25: 40, 0.75: 36; 1 lost harmony).
pub(super) const CHANGES: f64 = 0.5;
/// Weight of the distance of a bar's note length (its sounding steps per onset) from the
/// clip's, relative to it: the other terms filled the chorales' rests; 0.5 brought the misses
/// of 9 runs from 31 to 28 (1: 33). It fades with the new pitches' (`fade`).
pub(super) const LENGTH: f64 = 0.5;
/// Weight of how unlikely the first stage finds the bar that must follow (mean negative
/// log-probability per token, in nats) after a candidate, where bars are drawn again between
/// kept ones (`Generator::lead_into`): 0.1 narrowed the leap into the kept bar (5.34 to 5.00
/// semitones); from 0.25 it chose alone and cost harmony.
pub(super) const LEAD_COST: f64 = 0.1;
/// Weight of the model's mean log-likelihood per token of a candidate (a bonus): among
/// candidates alike on every other term, the likelier; without it the repeated notes fell
/// further short of the clip's.
pub(super) const LIKELIHOOD: f64 = 0.05;
/// Cost of a near copy (a match of `NEAR_COPY` or more) below that setting: four fifths of
/// the whole harmony bonus, so one is kept only where every candidate is one or the others'
/// harmony and rhythm are far worse.
pub(super) const NEAR_COST: f64 = 1.0;

// Drawing a bar (`mod.rs`).
/// How many times a bar's candidates are drawn again where every one is a near copy of a clip
/// bar and the setting asks for none: once took the quartet's near copies from 6-22% of its
/// bars to 1-3%, at 5-10% more time there.
pub(super) const REDRAWS: usize = 1;

// The clip's moves (`moves.rs`).
/// Pseudo-count of every kind at every position: a kind never seen in 12 bars stays possible.
pub(super) const MOVE_PRIOR: f32 = 0.5;
/// Weight of the clip's rates against the model's in the geometric mean of the two, at
/// similarity 0.5 and below.
pub(super) const CLIP_WEIGHT: f32 = 0.5;
/// The same weight for every other candidate of the first stage: re-strikes nearer the
/// clip's (for all candidates the quartet's near copies rose to 23%; for half, 9%).
pub(super) const FIRM_WEIGHT: f32 = 0.75;

// The voicing (`voicing.rs`).
/// What a token keeps of its probability where, with the tracks drawn before it at its step,
/// it sounds a pitch-class set outside the clip's: 0.1 lifted the quartet's harmony from 0.78
/// to 0.89 (0.3 kept less of it, 0.02 cost the prelude's re-strikes).
pub(super) const OFF_SONORITY: f32 = 0.1;
/// What a token keeps where the set it sounds with the tracks before it is one of the clip's
/// but fits no triad or seventh chord (`eval::CHORDS`), a passing sonority a bold candidate
/// may sound anywhere: 0.4 kept BWV 349's harmony up in 9 runs of 9 (over 0.25 and 0.5).
pub(super) const NO_CHORD: f32 = 0.4;
/// What a line's token keeps in place of `OFF_SONORITY` where a chord track drawn before it
/// sounds at its step and the set they would sound is no chord at all (a bass note of another
/// bar's chord under the pad): 0.002 brought the trap beat's harmony over 15 runs from
/// 0.970-0.975 to 0.996-0.997 (its misses 9 to 0, the neo-soul groove's 5 to 2, Handel's
/// re-strikes 6 to 6; 0.01 left 1 and 1). Clips without a chord track are drawn as before.
pub(super) const UNDER_CHORDS: f32 = 0.002;

// The copy guard (`guard.rs`).
/// What a token keeps of its probability where it would go on copying a clip bar: 0.3 brought
/// the quartet's near copies from 12% to 7% and the groove's from 4% to 1%, harmony kept (0.1
/// left the quartet at 28% on a training seed).
pub(super) const GUARD_KEEP: f32 = 0.3;
