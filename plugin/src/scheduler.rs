//! Placing generated notes in the host's blocks, sample-accurately. Pure and allocation-free:
//! the audio thread calls it once per block; the tests call it with made-up transports.

/// A generated note on the plugin's timeline, in quarter notes from the timeline's start.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct PlayNote {
    /// Start, in quarter notes.
    pub start: f64,
    /// End, in quarter notes (after `start`).
    pub end: f64,
    /// MIDI channel, 0-based.
    pub channel: u8,
    /// MIDI key.
    pub key: u8,
    /// Note-on velocity, 1..=127.
    pub velocity: u8,
    /// How far the note-on sits off `start` in the clip's feel (swing, a laid-back snare,
    /// human timing), in quarter notes; at most [`MAX_NUDGE`] either way. Not saved when 0,
    /// so notes on the grid save as they did before the feel was kept.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub on: f32,
    /// How far the note-off sits off `end`, likewise.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub off: f32,
}

fn is_zero(x: &f32) -> bool {
    *x == 0.0
}

/// The most a note's feel moves it: half a 16th (nudges are under half a grid step).
pub const MAX_NUDGE: f64 = 0.125;
/// The shortest note the feel leaves: a tick at 480 a quarter.
const MIN_LENGTH: f64 = 1.0 / 480.0;

impl PlayNote {
    /// A note exactly on the grid, from `start` to `end` quarter notes.
    pub fn new(start: f64, end: f64, channel: u8, key: u8, velocity: u8) -> Self {
        Self { start, end, channel, key, velocity, on: 0.0, off: 0.0 }
    }

    /// Where the note sounds with `feel` of the clip's (0: on the grid; 1: as the clip was
    /// played), in quarter notes: a note pushed before the timeline's start starts there.
    pub fn at(&self, feel: f64) -> (f64, f64) {
        let start = (self.start + feel * self.on as f64).max(0.0);
        (start, (self.end + feel * self.off as f64).max(start + MIN_LENGTH))
    }
}

/// How the timeline plays against the host's song position.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Silent.
    Off,
    /// The timeline once, from its origin.
    Once,
    /// The timeline over and over, `length` quarters at a time.
    Loop,
    /// The timeline once while the engine keeps appending bars ahead of the playhead.
    Endless,
}

/// One host block.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Block {
    /// Whether the transport is rolling.
    pub playing: bool,
    /// Song position at the block's first sample, in quarter notes.
    pub beat: f64,
    /// Quarter notes per sample (tempo / 60 / sample rate).
    pub beats_per_sample: f64,
    /// Samples in the block.
    pub samples: u32,
    /// How much of the clip's feel the notes take (the Feel parameter, 0..1).
    pub feel: f64,
}

/// A note event for the host.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Event {
    /// Note on at a sample offset.
    On { timing: u32, channel: u8, key: u8, velocity: u8 },
    /// Note off at a sample offset.
    Off { timing: u32, channel: u8, key: u8 },
}

impl Event {
    fn sort_key(&self) -> (u32, u8) {
        match *self {
            Event::Off { timing, .. } => (timing, 0),
            Event::On { timing, .. } => (timing, 1),
        }
    }
}

/// Most note-ons one block can start; more are skipped (and counted). Note-offs are never
/// dropped: the buffer has room for every sounding note's and every started note's off.
pub const MAX_ONS: usize = 1024;
/// Room for a block's events: the ons, plus an off for each of them and for every key that
/// could be sounding (16 channels x 128 keys).
pub const EVENTS: usize = 2 * MAX_ONS + 16 * 128;

/// The scheduler's memory between blocks: sounding notes and where the last block ended.
pub struct Scheduler {
    /// Per channel and key, the timeline beat at which the sounding note ends (NaN: silent).
    sounding: [[f64; 128]; 16],
    /// Song position just after the previous block, if it was playing.
    expected: Option<f64>,
    /// Origin and mode of the previous block: a change ends every sounding note.
    placed: Option<(u64, Mode)>,
    /// End every sounding note at the next block (a reset, a new timeline).
    pending_off: bool,
    /// Note-ons started in this block.
    ons: usize,
    /// This block's events before sorting. Allocated once, in `new`.
    events: Vec<Event>,
    /// Note-ons skipped because a block had more than `MAX_ONS`.
    pub dropped: u32,
}

impl Default for Scheduler {
    fn default() -> Self {
        Self::new()
    }
}

impl Scheduler {
    /// Allocates the event buffer; call off the audio thread.
    pub fn new() -> Self {
        Self {
            sounding: [[f64::NAN; 128]; 16],
            expected: None,
            placed: None,
            pending_off: false,
            ons: 0,
            events: Vec::with_capacity(EVENTS),
            dropped: 0,
        }
    }

    /// The host reset the plugin: forget the position, and end the notes still sounding at the
    /// next block (no allocation).
    pub fn reset(&mut self) {
        self.expected = None;
        self.silence();
    }

    /// The timeline changed under the sounding notes: end them all at the next block.
    pub fn silence(&mut self) {
        self.pending_off = true;
    }

    /// Whether any note is sounding.
    pub fn any_sounding(&self) -> bool {
        self.sounding.iter().flatten().any(|e| !e.is_nan())
    }

    /// Note-offs for every sounding note at `timing`.
    fn all_off(&mut self, timing: u32) {
        for ch in 0..16 {
            for key in 0..128 {
                if !self.sounding[ch][key].is_nan() {
                    self.sounding[ch][key] = f64::NAN;
                    self.push(Event::Off { timing, channel: ch as u8, key: key as u8 });
                }
            }
        }
    }

    /// Queues an off; the buffer always has room (see `EVENTS`).
    fn push(&mut self, e: Event) {
        debug_assert!(self.events.len() < self.events.capacity());
        if self.events.len() < self.events.capacity() {
            self.events.push(e);
        }
    }

    /// Schedules one block. `notes` are sorted by start; the timeline starts at song position
    /// `origin` and is `length` quarters long (the loop length in `Mode::Loop`). `emit` gets the
    /// block's events in time order, note-offs first at equal times.
    pub fn process(
        &mut self,
        notes: &[PlayNote],
        origin: f64,
        length: f64,
        mode: Mode,
        block: &Block,
        emit: &mut impl FnMut(Event),
    ) {
        self.events.clear();
        self.ons = 0;
        // Rounding, tempo ramps and coarse host positions are not seeks.
        let jumped =
            self.expected.is_some_and(|e| crate::capture::jumped(e, block.beat, block.beats_per_sample));
        let placed = Some((origin.to_bits(), mode));
        let moved = self.placed.is_some() && self.placed != placed;
        self.placed = placed;
        if !block.playing || mode == Mode::Off || jumped || moved || self.pending_off {
            // Stop, seek, loop jump, a new origin, mode or timeline: nothing may keep sounding.
            self.all_off(0);
            self.pending_off = false;
        }
        if block.playing && mode != Mode::Off && block.beats_per_sample > 0.0 {
            let end = block.beat + block.samples as f64 * block.beats_per_sample;
            // Sample k of the block covers beats [k - 1/2, k + 1/2) samples from its start, so
            // an event exactly on a block boundary lands in one block only, at the right sample.
            let half = 0.5 * block.beats_per_sample;
            // Continuing a block that ended where this one starts (within a sample: a tempo
            // ramp), go on from where that one ended, so no note falls in a gap or plays twice.
            let from = self.expected.filter(|_| !jumped).unwrap_or(block.beat);
            let t0 = from - origin - half;
            let t1 = end - origin - half;
            if mode == Mode::Loop && length > 0.0 && t1 > 0.0 {
                // Map onto loop passes; a block can straddle the loop's end.
                let start = t0.max(0.0);
                let pass = (start / length).floor();
                let (a, b) = (start - pass * length, t1 - pass * length);
                if b <= length {
                    self.segment(notes, a, b, t0.max(0.0) - t0, block, length);
                } else {
                    self.segment(notes, a, length, start - t0, block, length);
                    let wrap = self.offset(length - a + (start - t0), block);
                    self.all_off(wrap);
                    self.segment(notes, 0.0, b - length, length - a + (start - t0), block, length);
                }
            } else if mode != Mode::Loop {
                self.segment(notes, t0, t1, 0.0, block, f64::INFINITY);
            }
            self.expected = Some(end);
        } else {
            self.expected = None;
        }
        self.events.sort_unstable_by_key(Event::sort_key);
        for e in &self.events {
            emit(*e);
        }
    }

    /// Sample offset of a point `beats` quarters after the block's (half-sample-early) start.
    fn offset(&self, beats: f64, block: &Block) -> u32 {
        let s = (beats / block.beats_per_sample).floor();
        (s.max(0.0) as u32).min(block.samples.saturating_sub(1))
    }

    /// Events for timeline beats `[a, b)`, which start `lead` quarters into the block; notes
    /// are cut at `cut` (the loop's end), and one nudged past it plays just before it.
    fn segment(&mut self, notes: &[PlayNote], a: f64, b: f64, lead: f64, block: &Block, cut: f64) {
        // `notes` are sorted by their grid start; the feel moves each by at most MAX_NUDGE.
        let first = notes.partition_point(|n| n.start < a - MAX_NUDGE);
        for n in notes[first..].iter().take_while(|n| n.start < b + MAX_NUDGE) {
            let (start, end) = n.at(block.feel);
            let start = start.min(cut - MIN_LENGTH);
            if !(a..b).contains(&start) {
                continue;
            }
            if self.ons == MAX_ONS {
                self.dropped += 1;
                continue;
            }
            self.ons += 1;
            let (ch, key) = ((n.channel & 15) as usize, (n.key & 127) as usize);
            let timing = self.offset(lead + start - a, block);
            let sounding = self.sounding[ch][key];
            if !sounding.is_nan() {
                // The key's note ends when it is struck again, if not before.
                let off = self.offset(lead + (sounding.min(start) - a).max(0.0), block);
                self.push(Event::Off { timing: off, channel: ch as u8, key: key as u8 });
            }
            self.push(Event::On { timing, channel: ch as u8, key: key as u8, velocity: n.velocity });
            self.sounding[ch][key] = end.min(cut);
        }
        // Offs of sounding notes ending here.
        for ch in 0..16 {
            for key in 0..128 {
                let e = self.sounding[ch][key];
                if !e.is_nan() && e < b {
                    self.sounding[ch][key] = f64::NAN;
                    let timing = self.offset(lead + (e - a).max(0.0), block);
                    self.push(Event::Off { timing, channel: ch as u8, key: key as u8 });
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 120 BPM at 48 kHz: 1/24000 quarter per sample; 512-sample blocks.
    const BPS: f64 = 120.0 / 60.0 / 48_000.0;

    fn note(start: f64, end: f64, key: u8) -> PlayNote {
        PlayNote::new(start, end, 1, key, 90)
    }

    fn run(s: &mut Scheduler, notes: &[PlayNote], mode: Mode, blocks: &[Block]) -> Vec<(usize, Event)> {
        let mut out = Vec::new();
        for (i, b) in blocks.iter().enumerate() {
            s.process(notes, 0.0, 4.0, mode, b, &mut |e| out.push((i, e)));
        }
        out
    }

    fn rolling(from: f64, n: usize, bps: f64) -> Vec<Block> {
        (0..n)
            .map(|i| Block {
                playing: true,
                beat: from + i as f64 * 512.0 * bps,
                beats_per_sample: bps,
                samples: 512,
                feel: 1.0,
            })
            .collect()
    }

    #[test]
    fn sample_accurate_across_block_boundaries() {
        // A note from beat 0.05 (sample 1200: block 2, offset 176) to 0.1 (2400: block 4, offset 352).
        let out = run(&mut Scheduler::new(), &[note(0.05, 0.1, 60)], Mode::Once, &rolling(0.0, 6, BPS));
        assert_eq!(
            out,
            vec![
                (2, Event::On { timing: 176, channel: 1, key: 60, velocity: 90 }),
                (4, Event::Off { timing: 352, channel: 1, key: 60 })
            ]
        );
    }

    #[test]
    fn the_feel_moves_notes_and_loses_none() {
        // Absolute sample and event, over 0.64 quarters at 120 BPM (24000 samples a quarter).
        let play = |notes: &[PlayNote], feel: f64| {
            let blocks: Vec<Block> = rolling(0.0, 30, BPS).into_iter().map(|b| Block { feel, ..b }).collect();
            let out = run(&mut Scheduler::new(), notes, Mode::Once, &blocks);
            out.into_iter()
                .map(|(i, e)| match e {
                    Event::On { timing, key, .. } => (i as u32 * 512 + timing, key, true),
                    Event::Off { timing, key, .. } => (i as u32 * 512 + timing, key, false),
                })
                .collect::<Vec<_>>()
        };
        // A swung note 0.01 quarters late: at 1440 samples with the clip's feel, 1200 without.
        let late = PlayNote { on: 0.01, ..note(0.05, 0.1, 60) };
        assert_eq!(play(&[late], 1.0), [(1440, 60, true), (2400, 60, false)]);
        assert_eq!(play(&[late], 0.0), [(1200, 60, true), (2400, 60, false)]);
        assert_eq!(play(&[late], 0.5)[0], (1320, 60, true));
        // Pushed before the timeline's start: played at the start, not lost.
        let early = PlayNote { on: -0.03, ..note(0.0, 0.02, 62) };
        assert_eq!(play(&[early], 1.0), [(0, 62, true), (480, 62, false)]);
        // Struck again early while its first note's off is nudged late: the first ends where
        // the second starts, which sounds to its own end; nothing hangs.
        let first = PlayNote { off: 0.05, ..note(0.0, 0.25, 64) };
        let again = PlayNote { on: -0.02, ..note(0.25, 0.5, 64) };
        assert_eq!(
            play(&[first, again], 1.0),
            [(0, 64, true), (5520, 64, false), (5520, 64, true), (12000, 64, false)]
        );
    }

    #[test]
    fn tempo_change_moves_later_notes() {
        // At 240 BPM the same note starts twice as early in samples (600 = block 1, offset 88).
        let out =
            run(&mut Scheduler::new(), &[note(0.05, 0.06, 60)], Mode::Once, &rolling(0.0, 3, 2.0 * BPS));
        assert_eq!(out[0], (1, Event::On { timing: 88, channel: 1, key: 60, velocity: 90 }));
        assert_eq!(out[1], (1, Event::Off { timing: 208, channel: 1, key: 60 }));
    }

    #[test]
    fn stop_and_seek_silence_sounding_notes() {
        let notes = [note(0.0, 3.0, 60)];
        let mut s = Scheduler::new();
        let mut blocks = rolling(0.0, 2, BPS);
        blocks.push(Block { playing: false, ..blocks[1] });
        let out = run(&mut s, &notes, Mode::Once, &blocks);
        assert_eq!(out.last(), Some(&(2, Event::Off { timing: 0, channel: 1, key: 60 })));
        assert!(!s.any_sounding());
        // A seek from beat ~0.02 to 1.0 while the note sounds: off at 0, and it does not restart.
        let mut s = Scheduler::new();
        let mut blocks = rolling(0.0, 2, BPS);
        blocks.push(Block { beat: 1.0, ..blocks[1] });
        let out = run(&mut s, &notes, Mode::Once, &blocks);
        assert_eq!(
            out,
            vec![
                (0, Event::On { timing: 0, channel: 1, key: 60, velocity: 90 }),
                (2, Event::Off { timing: 0, channel: 1, key: 60 })
            ]
        );
    }

    #[test]
    fn loop_mode_wraps_inside_a_block() {
        // Loop of 4 quarters; a block from 3.99 to ~4.01 wraps: the held note ends at the wrap,
        // the note at 0 starts again right after it.
        let notes = [note(0.0, 4.0, 60), note(0.0, 1.0, 64)];
        let mut s = Scheduler::new();
        let b = Block { playing: true, beat: 3.99, beats_per_sample: BPS, samples: 512, feel: 1.0 };
        s.sounding[1][60] = 4.0;
        let mut out = Vec::new();
        s.process(&notes, 0.0, 4.0, Mode::Loop, &b, &mut |e| out.push(e));
        // Wrap at (4.0 - 3.99) / BPS = 240 samples.
        assert_eq!(
            out,
            vec![
                Event::Off { timing: 240, channel: 1, key: 60 },
                Event::On { timing: 240, channel: 1, key: 60, velocity: 90 },
                Event::On { timing: 240, channel: 1, key: 64, velocity: 90 },
            ]
        );
        assert!(s.any_sounding());
    }

    #[test]
    fn host_loop_jump_and_offline_blocks() {
        // The host loops from beat ~0.04 back to 0: offs at 0 of the jump block, then replay.
        let notes = [note(0.0, 0.5, 60)];
        let mut s = Scheduler::new();
        let mut blocks = rolling(0.0, 2, BPS);
        blocks.push(Block { beat: 0.0, ..blocks[0] });
        let out = run(&mut s, &notes, Mode::Once, &blocks);
        assert_eq!(
            out,
            vec![
                (0, Event::On { timing: 0, channel: 1, key: 60, velocity: 90 }),
                (2, Event::Off { timing: 0, channel: 1, key: 60 }),
                (2, Event::On { timing: 0, channel: 1, key: 60, velocity: 90 })
            ]
        );
        // Offline rendering is the same arithmetic with huge blocks: one block holds both events.
        let big = Block { playing: true, beat: 0.0, beats_per_sample: BPS, samples: 48_000, feel: 1.0 };
        let mut out = Vec::new();
        Scheduler::new().process(&notes, 0.0, 4.0, Mode::Once, &big, &mut |e| out.push(e));
        assert_eq!(
            out,
            vec![
                Event::On { timing: 0, channel: 1, key: 60, velocity: 90 },
                Event::Off { timing: 12_000, channel: 1, key: 60 }
            ]
        );
    }

    #[test]
    fn off_mode_and_origin() {
        let notes = [note(0.0, 0.01, 60)];
        let mut s = Scheduler::new();
        let mut out = Vec::new();
        let b = rolling(8.0, 1, BPS)[0];
        s.process(&notes, 8.0, 4.0, Mode::Off, &b, &mut |e| out.push(e));
        assert!(out.is_empty());
        // Origin 8: the note plays at song position 8.
        s.process(&notes, 8.0, 4.0, Mode::Once, &b, &mut |e| out.push(e));
        assert_eq!(out[0], Event::On { timing: 0, channel: 1, key: 60, velocity: 90 });
        assert_eq!(out[1], Event::Off { timing: 240, channel: 1, key: 60 });
    }

    #[test]
    fn a_tempo_ramp_is_not_a_seek() {
        // 120 BPM rising by 0.45 BPM per block: the host's positions drift from the scheduler's
        // expectation by most of a sample per block, so the held note is not cut.
        let notes = [note(0.0, 3.0, 60)];
        let (mut s, mut beat, mut out) = (Scheduler::new(), 0.0, Vec::new());
        for i in 0..200 {
            let bps = (120.0 + 0.45 * i as f64) / 60.0 / 48_000.0;
            let b = Block { playing: true, beat, beats_per_sample: bps, samples: 512, feel: 1.0 };
            s.process(&notes, 0.0, 4.0, Mode::Once, &b, &mut |e| out.push((i, e)));
            // The host integrates the ramp within the block.
            beat += 512.0 * (120.0 + 0.45 * (i as f64 + 0.5)) / 60.0 / 48_000.0;
        }
        assert_eq!(out.len(), 2, "{out:?}");
        // The note ends at beat 3, not at the start of some block.
        let (i, Event::Off { timing, .. }) = out[1] else { panic!("{out:?}") };
        assert!(i > 50 && timing > 0, "cut early: {out:?}");
    }

    #[test]
    fn a_new_origin_mode_or_timeline_and_a_reset_end_sounding_notes() {
        let notes = [note(0.0, 8.0, 60)];
        let blocks = rolling(0.0, 4, BPS);
        let run_with = |change: &dyn Fn(&mut Scheduler, usize) -> (f64, Mode)| {
            let mut s = Scheduler::new();
            let mut out = Vec::new();
            for (i, b) in blocks.iter().enumerate() {
                let (origin, mode) = change(&mut s, i);
                s.process(&notes, origin, 8.0, mode, b, &mut |e| out.push((i, e)));
            }
            out
        };
        let off = (2, Event::Off { timing: 0, channel: 1, key: 60 });
        // Start bar moved: the note ends at once (and, being behind the new origin, stays off).
        let out = run_with(&|_, i| (if i < 2 { 0.0 } else { -16.0 }, Mode::Once));
        assert_eq!(out[1..], [off]);
        // Mode changed from once to loop.
        let out = run_with(&|_, i| (0.0, if i < 2 { Mode::Once } else { Mode::Loop }));
        assert_eq!(out[1], off);
        // The host reset the plugin, or the timeline was replaced.
        for silence in [Scheduler::reset, Scheduler::silence] {
            let out = run_with(&|s, i| {
                if i == 2 {
                    silence(s);
                }
                (0.0, Mode::Once)
            });
            assert_eq!(out[1], off, "{out:?}");
        }
    }

    #[test]
    fn a_crowded_block_skips_ons_but_never_offs() {
        // A note on every key of every channel, then 3000 more in one block: at most MAX_ONS
        // start per block, and every note that started gets its off.
        let mut held: Vec<PlayNote> =
            (0..16 * 128).map(|i| PlayNote::new(0.0, 0.02, (i / 128) as u8, (i % 128) as u8, 90)).collect();
        let crowd: Vec<PlayNote> =
            (0..3000).map(|i| PlayNote::new(0.03, 0.031, (i % 16) as u8, (i % 128) as u8, 90)).collect();
        held.extend(crowd);
        let mut s = Scheduler::new();
        let mut out = Vec::new();
        for b in rolling(0.0, 2, BPS) {
            s.process(&held, 0.0, 4.0, Mode::Once, &b, &mut |e| out.push(e));
        }
        s.process(
            &held,
            0.0,
            4.0,
            Mode::Once,
            &Block { playing: false, ..rolling(0.0, 3, BPS)[2] },
            &mut |e| out.push(e),
        );
        let ons = out.iter().filter(|e| matches!(e, Event::On { .. })).count();
        let offs = out.len() - ons;
        assert!(s.dropped > 0);
        assert_eq!(ons, offs, "every started note ended");
        assert!(!s.any_sounding());
    }
}
