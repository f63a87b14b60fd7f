//! Recording the notes the host plays into the plugin, on the audio thread: every note on/off
//! goes into a pre-allocated single-producer queue with its song position in quarter notes;
//! the engine thread turns them into a clip. Nothing here allocates, locks or blocks.

use std::sync::atomic::{AtomicU32, AtomicU8, Ordering};
use std::sync::Arc;

/// What the audio thread tells the engine about a capture.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum CaptureMsg {
    /// Recording started at this song position (quarter notes, on a bar line).
    Start { beat: f64 },
    /// A note on (velocity > 0) or off (velocity 0).
    Note { beat: f64, channel: u8, key: u8, velocity: u8 },
    /// Recording ended at this position; the host's tempo and meter.
    End { beat: f64, tempo: f64, num: u8, den: u8 },
    /// Recording reached a bar line: every note before it has been sent. The host's tempo and
    /// meter at the start, as `End` (the engine learns from the bars so far).
    Bar { beat: f64, tempo: f64, num: u8, den: u8 },
}

/// Where the capture is.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum State {
    /// Not recording.
    Idle,
    /// Waiting for the transport to play.
    Armed,
    /// Recording since `start`, until `until`; the last block played up to `reached` (song
    /// positions in quarter notes).
    Recording { start: f64, until: f64, reached: f64 },
}

/// The host's transport in one block, as the capture needs it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Position {
    /// Song position at the block's first sample, in quarter notes.
    pub beat: f64,
    /// Quarter notes per sample.
    pub beats_per_sample: f64,
    /// Samples in the block.
    pub samples: u32,
    /// Song position of the current bar line.
    pub bar_start: f64,
    /// Quarter notes per bar.
    pub beats_per_bar: f64,
    /// Tempo and meter.
    pub tempo: f64,
    pub num: u8,
    pub den: u8,
    /// The host is in its pre-roll or count-in.
    pub preroll: bool,
}

impl Position {
    /// Song position just after the block.
    pub fn end(&self) -> f64 {
        self.beat + self.samples as f64 * self.beats_per_sample
    }

    /// Whether this block does not follow on from a block that ended at `expected`: a seek or
    /// a loop jump (see [`jumped`]).
    pub fn jumped_from(&self, expected: f64) -> bool {
        jumped(expected, self.beat, self.beats_per_sample)
    }
}

/// Whether a block at song position `beat` does not follow on from one that ended at
/// `expected`: a seek or a loop jump. The slack is a sample's worth of beats or, if more, half
/// a thousandth of a beat: tempo ramps move the host's position by a fraction of a sample per
/// block, and Ardour reports positions in 1920ths of a beat.
pub fn jumped(expected: f64, beat: f64, beats_per_sample: f64) -> bool {
    (beat - expected).abs() > beats_per_sample.max(1.0 / 960.0)
}

/// The song position of the bar line at or before `beat`: the host's, moved by whole bars
/// when it does not lie within a bar of `beat` (Ardour's VST3 host reports the next bar line),
/// or counted from the song's start when the host gives none.
pub fn bar_line(beat: f64, host: Option<f64>, beats_per_bar: f64) -> f64 {
    let b = host.filter(|b| b.is_finite()).unwrap_or(0.0);
    b + ((beat - b) / beats_per_bar + 1e-9).floor() * beats_per_bar
}

/// The audio thread's side of capturing.
pub struct Capture {
    /// Current state.
    pub state: State,
    /// Queue to the engine; allocated with the plugin.
    queue: rtrb::Producer<CaptureMsg>,
    /// Messages lost to a full queue (reported, never waited for).
    pub overflow: Arc<AtomicU32>,
    /// Notes recorded in the current capture, for display.
    pub notes: Arc<AtomicU32>,
    /// Bars begun in the current capture, for display.
    pub bars: Arc<AtomicU32>,
    /// The state for display: [`IDLE`], [`ARMED`] or [`RECORDING`].
    pub phase: Arc<AtomicU8>,
    /// Where the last capture started and ended (song positions, quarter notes).
    pub last_capture: Option<(f64, f64)>,
    /// Tempo and meter when the capture under way started.
    meter: (f64, u8, u8),
    /// The editor asked to end the recording at the next block.
    stop: bool,
}

/// [`Capture::phase`] values.
pub const IDLE: u8 = 0;
pub const ARMED: u8 = 1;
pub const RECORDING: u8 = 2;

impl Capture {
    pub fn new(queue: rtrb::Producer<CaptureMsg>) -> Self {
        Self {
            state: State::Idle,
            queue,
            overflow: Arc::default(),
            notes: Arc::default(),
            bars: Arc::default(),
            phase: Arc::default(),
            last_capture: None,
            meter: (120.0, 4, 4),
            stop: false,
        }
    }

    fn set_state(&mut self, state: State) {
        self.state = state;
        let phase = match state {
            State::Idle => IDLE,
            State::Armed => ARMED,
            State::Recording { .. } => RECORDING,
        };
        self.phase.store(phase, Ordering::Relaxed);
    }

    fn send(&mut self, msg: CaptureMsg) {
        if self.queue.push(msg).is_err() {
            self.overflow.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Arms the capture (from the parameter's rising edge).
    pub fn arm(&mut self) {
        if self.state == State::Idle {
            self.set_state(State::Armed);
        }
    }

    /// The editor's capture button: arms when idle, disarms when armed, and ends a recording
    /// at the next block (keeping what was played).
    pub fn toggle(&mut self) {
        match self.state {
            State::Idle => self.set_state(State::Armed),
            State::Armed => self.set_state(State::Idle),
            State::Recording { .. } => self.stop = true,
        }
    }

    /// Called at the start of each block with the transport (`None`: the host gives no song
    /// position, so nothing can be placed in time). Starts recording at the current bar line
    /// when the transport plays (not in a pre-roll or count-in); ends it on stop, on a jump
    /// (a host loop must not record its second pass over the first), when the host's position
    /// goes away, or after `bars` bars. The end is where the last playing block ended: a host
    /// that returns to the start on stop reports that position in the stopping block.
    pub fn transport(&mut self, playing: bool, pos: Option<&Position>, bars: u32) {
        match (self.state, pos) {
            (State::Armed, Some(p)) if playing && p.beat >= 0.0 && !p.preroll => {
                let start = p.bar_start;
                let until = start + p.beats_per_bar * bars as f64;
                self.set_state(State::Recording { start, until, reached: p.end() });
                self.meter = (p.tempo, p.num, p.den);
                self.stop = false;
                self.notes.store(0, Ordering::Relaxed);
                self.bars.store(1, Ordering::Relaxed);
                self.send(CaptureMsg::Start { beat: start });
            }
            (State::Recording { start, until, reached }, _) => {
                let going = pos.filter(|p| playing && !p.jumped_from(reached) && p.beat < until);
                match going {
                    Some(p) if !self.stop => {
                        self.set_state(State::Recording { start, until, reached: p.end() });
                        let bars = ((p.beat - start) / p.beats_per_bar.max(1e-9)).floor().max(0.0) as u32 + 1;
                        if bars > self.bars.swap(bars, Ordering::Relaxed) {
                            let (tempo, num, den) = self.meter;
                            let beat = start + (bars - 1) as f64 * p.beats_per_bar;
                            self.send(CaptureMsg::Bar { beat, tempo, num, den });
                        }
                    }
                    _ => {
                        self.set_state(State::Idle);
                        let end = reached.min(until);
                        self.stop = false;
                        self.last_capture = Some((start, end));
                        let (tempo, num, den) = self.meter;
                        self.send(CaptureMsg::End { beat: end, tempo, num, den });
                    }
                }
            }
            _ => {}
        }
    }

    /// Records one incoming note event at song position `beat`.
    pub fn note(&mut self, beat: f64, channel: u8, key: u8, velocity: u8) {
        if let State::Recording { start, until, .. } = self.state {
            if beat >= start && beat < until {
                if velocity > 0 {
                    self.notes.fetch_add(1, Ordering::Relaxed);
                }
                self.send(CaptureMsg::Note { beat, channel, key, velocity });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A block of half a quarter note at song position `beat` in 4/4 (or 3/4 with `bpb` 3).
    fn at(beat: f64, bpb: f64) -> Position {
        Position {
            beat,
            beats_per_sample: 0.5 / 512.0,
            samples: 512,
            bar_start: (beat / bpb).floor() * bpb,
            beats_per_bar: bpb,
            tempo: 120.0,
            num: bpb as u8,
            den: 4,
            preroll: false,
        }
    }

    /// Plays blocks from `from` to `to` (exclusive), half a quarter each.
    fn roll(c: &mut Capture, from: f64, to: f64, bars: u32) {
        let mut beat = from;
        while beat < to {
            c.transport(true, Some(&at(beat, 4.0)), bars);
            beat += 0.5;
        }
    }

    fn drain(rx: &mut rtrb::Consumer<CaptureMsg>) -> Vec<CaptureMsg> {
        std::iter::from_fn(|| rx.pop().ok()).collect()
    }

    #[test]
    fn records_from_play_until_the_bar_count() {
        let (tx, mut rx) = rtrb::RingBuffer::new(16);
        let mut c = Capture::new(tx);
        c.note(0.0, 0, 60, 100); // not armed: ignored
        c.arm();
        c.transport(false, Some(&at(0.0, 4.0)), 2); // armed, stopped
        roll(&mut c, 4.5, 5.0, 2); // plays inside bar 2: starts at its bar line
        c.note(4.5, 1, 60, 100);
        c.note(5.0, 1, 60, 0);
        roll(&mut c, 5.0, 12.5, 2); // two bars later: done
        c.note(12.5, 1, 62, 100); // after the end: ignored
        assert_eq!(
            drain(&mut rx),
            vec![
                CaptureMsg::Start { beat: 4.0 },
                CaptureMsg::Note { beat: 4.5, channel: 1, key: 60, velocity: 100 },
                CaptureMsg::Note { beat: 5.0, channel: 1, key: 60, velocity: 0 },
                // The second bar begins: the first is complete.
                CaptureMsg::Bar { beat: 8.0, tempo: 120.0, num: 4, den: 4 },
                CaptureMsg::End { beat: 12.0, tempo: 120.0, num: 4, den: 4 },
            ]
        );
        assert_eq!((c.state, c.last_capture), (State::Idle, Some((4.0, 12.0))));
        assert_eq!(c.notes.load(Ordering::Relaxed), 1);
    }

    #[test]
    fn toggle_arms_disarms_and_ends_a_recording() {
        let (tx, mut rx) = rtrb::RingBuffer::new(16);
        let mut c = Capture::new(tx);
        c.toggle();
        assert_eq!(c.phase.load(Ordering::Relaxed), ARMED);
        c.toggle();
        assert_eq!((c.state, c.phase.load(Ordering::Relaxed)), (State::Idle, IDLE));
        c.toggle();
        let mut beat = 0.0;
        while beat < 7.5 {
            c.transport(true, Some(&at(beat, 3.0)), 8);
            beat += 0.5;
        }
        assert_eq!((c.phase.load(Ordering::Relaxed), c.bars.load(Ordering::Relaxed)), (RECORDING, 3));
        c.toggle();
        c.transport(true, Some(&at(7.5, 3.0)), 8);
        assert_eq!(c.state, State::Idle);
        assert_eq!(drain(&mut rx).last(), Some(&CaptureMsg::End { beat: 7.5, tempo: 120.0, num: 3, den: 4 }));
    }

    #[test]
    fn a_host_loop_ends_the_capture_at_the_jump() {
        let (tx, mut rx) = rtrb::RingBuffer::new(64);
        let mut c = Capture::new(tx);
        c.arm();
        roll(&mut c, 0.0, 8.0, 8);
        c.note(7.0, 0, 60, 100);
        // The host loops from beat 8 back to 0: the second pass is not recorded over the first.
        c.transport(true, Some(&at(0.0, 4.0)), 8);
        c.note(0.0, 0, 64, 100);
        let got = drain(&mut rx);
        assert_eq!(got.last(), Some(&CaptureMsg::End { beat: 8.0, tempo: 120.0, num: 4, den: 4 }));
        assert_eq!(got.iter().filter(|m| matches!(m, CaptureMsg::Note { .. })).count(), 1);
        assert_eq!(c.last_capture, Some((0.0, 8.0)));
    }

    #[test]
    fn stop_with_return_to_start_ends_where_playing_ended() {
        let (tx, mut rx) = rtrb::RingBuffer::new(16);
        let mut c = Capture::new(tx);
        c.arm();
        roll(&mut c, 16.0, 22.0, 8);
        // The stopping block already reports the start position the host returned to.
        c.transport(false, Some(&at(16.0, 4.0)), 8);
        assert_eq!(
            drain(&mut rx).last(),
            Some(&CaptureMsg::End { beat: 22.0, tempo: 120.0, num: 4, den: 4 })
        );
        assert_eq!(c.last_capture, Some((16.0, 22.0)));
    }

    #[test]
    fn pre_roll_and_missing_positions_record_nothing() {
        let (tx, mut rx) = rtrb::RingBuffer::new(16);
        let mut c = Capture::new(tx);
        c.arm();
        // A count-in: negative positions, or flagged as pre-roll, stays armed.
        roll(&mut c, -4.0, 0.0, 8);
        c.transport(true, Some(&Position { preroll: true, ..at(0.0, 4.0) }), 8);
        c.transport(true, None, 8);
        assert_eq!(c.state, State::Armed);
        assert!(drain(&mut rx).is_empty());
        // Recording starts at the first real bar; the host's position going away ends it.
        roll(&mut c, 0.0, 2.0, 8);
        c.transport(true, None, 8);
        let got = drain(&mut rx);
        assert_eq!(got[0], CaptureMsg::Start { beat: 0.0 });
        assert_eq!(got.last(), Some(&CaptureMsg::End { beat: 2.0, tempo: 120.0, num: 4, den: 4 }));
    }

    #[test]
    fn bar_lines_come_from_the_host_moved_by_whole_bars() {
        assert_eq!(bar_line(5.5, Some(4.0), 4.0), 4.0);
        assert_eq!(bar_line(0.0, Some(4.0), 4.0), 0.0, "Ardour reports the next bar line");
        assert_eq!(bar_line(8.0, Some(3.0), 4.0), 7.0, "a 3/4 bar opened the song");
        assert_eq!(bar_line(7.0, None, 3.0), 6.0);
        // Ardour's positions come in 1920ths of a beat: a block may start that far off.
        assert!(!jumped(0.0427083, 0.0426667, 120.0 / 60.0 / 48_000.0));
        assert!(jumped(16.0, 0.0, 120.0 / 60.0 / 48_000.0));
    }

    #[test]
    fn stop_ends_and_overflow_is_counted() {
        let (tx, _rx) = rtrb::RingBuffer::new(2);
        let mut c = Capture::new(tx);
        c.arm();
        c.transport(true, Some(&at(0.0, 4.0)), 8);
        for i in 0..5 {
            c.note(i as f64 * 0.1, 0, 60, 80);
        }
        c.transport(false, Some(&at(0.5, 4.0)), 8);
        assert_eq!(c.state, State::Idle);
        // Start + 1 note fit; 4 notes and the end were dropped, never blocking.
        assert_eq!(c.overflow.load(Ordering::Relaxed), 5);
    }
}
