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
}

/// Where the capture is.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum State {
    /// Not recording.
    Idle,
    /// Waiting for the transport to play.
    Armed,
    /// Recording since `start`, until `until` (song positions in quarter notes).
    Recording { start: f64, until: f64 },
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
    /// Where the last capture ended (song position, quarter notes).
    pub last_end: Option<f64>,
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
            last_end: None,
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

    /// Called at the start of each block with the transport: starts recording on play, ends it
    /// on stop or after `bars` bars. `bar_start` is the song position of the current bar line.
    #[allow(clippy::too_many_arguments)]
    pub fn transport(
        &mut self,
        playing: bool,
        beat: f64,
        bar_start: f64,
        beats_per_bar: f64,
        bars: u32,
        tempo: f64,
        num: u8,
        den: u8,
    ) {
        match self.state {
            State::Armed if playing => {
                let until = bar_start + beats_per_bar * bars as f64;
                self.set_state(State::Recording { start: bar_start, until });
                self.stop = false;
                self.notes.store(0, Ordering::Relaxed);
                self.bars.store(1, Ordering::Relaxed);
                self.send(CaptureMsg::Start { beat: bar_start });
            }
            State::Recording { until, .. } if !playing || beat >= until || self.stop => {
                self.set_state(State::Idle);
                let end = if playing && !self.stop { until } else { beat.min(until) };
                self.stop = false;
                self.last_end = Some(end);
                self.send(CaptureMsg::End { beat: end, tempo, num, den });
            }
            State::Recording { start, .. } => {
                let bars = ((beat - start) / beats_per_bar.max(1e-9)).floor().max(0.0) as u32 + 1;
                self.bars.store(bars, Ordering::Relaxed);
            }
            _ => {}
        }
    }

    /// Records one incoming note event at song position `beat`.
    pub fn note(&mut self, beat: f64, channel: u8, key: u8, velocity: u8) {
        if let State::Recording { start, until } = self.state {
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

    #[test]
    fn records_from_play_until_the_bar_count() {
        let (tx, mut rx) = rtrb::RingBuffer::new(16);
        let mut c = Capture::new(tx);
        c.note(0.0, 0, 60, 100); // not armed: ignored
        c.arm();
        c.transport(false, 0.0, 0.0, 4.0, 2, 120.0, 4, 4); // armed, stopped
        c.transport(true, 4.5, 4.0, 4.0, 2, 120.0, 4, 4); // plays inside bar 2: starts at its bar line
        c.note(4.5, 1, 60, 100);
        c.note(5.0, 1, 60, 0);
        c.transport(true, 12.0, 12.0, 4.0, 2, 120.0, 4, 4); // two bars later: done
        c.note(12.5, 1, 62, 100); // after the end: ignored
        let got: Vec<_> = std::iter::from_fn(|| rx.pop().ok()).collect();
        assert_eq!(
            got,
            vec![
                CaptureMsg::Start { beat: 4.0 },
                CaptureMsg::Note { beat: 4.5, channel: 1, key: 60, velocity: 100 },
                CaptureMsg::Note { beat: 5.0, channel: 1, key: 60, velocity: 0 },
                CaptureMsg::End { beat: 12.0, tempo: 120.0, num: 4, den: 4 },
            ]
        );
        assert_eq!(c.state, State::Idle);
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
        c.transport(true, 0.0, 0.0, 3.0, 8, 120.0, 3, 4);
        c.transport(true, 7.0, 6.0, 3.0, 8, 120.0, 3, 4);
        assert_eq!((c.phase.load(Ordering::Relaxed), c.bars.load(Ordering::Relaxed)), (RECORDING, 3));
        c.toggle();
        c.transport(true, 7.5, 6.0, 3.0, 8, 120.0, 3, 4);
        assert_eq!(c.state, State::Idle);
        let got: Vec<_> = std::iter::from_fn(|| rx.pop().ok()).collect();
        assert_eq!(got.last(), Some(&CaptureMsg::End { beat: 7.5, tempo: 120.0, num: 3, den: 4 }));
    }

    #[test]
    fn stop_ends_and_overflow_is_counted() {
        let (tx, _rx) = rtrb::RingBuffer::new(2);
        let mut c = Capture::new(tx);
        c.arm();
        c.transport(true, 0.0, 0.0, 4.0, 8, 90.0, 3, 4);
        for i in 0..5 {
            c.note(i as f64 * 0.5, 0, 60, 80);
        }
        c.transport(false, 3.0, 0.0, 4.0, 8, 90.0, 3, 4);
        assert_eq!(c.state, State::Idle);
        // Start + 1 note fit; 4 notes and the end were dropped, never blocking.
        assert_eq!(c.overflow.load(Ordering::Relaxed), 5);
    }
}
