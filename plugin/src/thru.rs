//! MIDI thru on the audio thread: with thru on, every event that comes in goes out unchanged
//! (notes, pedal and other CCs, pitch bend, pressure); with it off, nothing does, except the
//! note-off of a note that was passed on, so switching thru off never leaves a note hanging.

use nice_plug::prelude::NoteEvent;

/// Events other than the note-offs of held notes passed per block; more are dropped.
const PASSED: usize = 2048;
/// Room for a block: the passed events, an off for each, and an off for every key that could
/// be held from before (16 channels x 128 keys). Note-offs of passed notes always fit.
const CAPACITY: usize = 2 * PASSED + 16 * 128;

pub struct Thru {
    /// This block's events to pass on; capacity reserved in `new`, never grown.
    events: Vec<NoteEvent<()>>,
    /// Events of this block other than the held notes' offs.
    passed: usize,
    /// Per channel and key: a note-on went out and its note-off has not yet.
    held: [[bool; 128]; 16],
}

impl Thru {
    /// Allocates the event buffer; call off the audio thread.
    pub fn new() -> Self {
        Self { events: Vec::with_capacity(CAPACITY), passed: 0, held: [[false; 128]; 16] }
    }

    /// Starts a block.
    pub fn begin(&mut self) {
        self.events.clear();
        self.passed = 0;
    }

    /// Takes one incoming event: passes it when `thru` is on; a note-off of a note that went
    /// out always.
    pub fn take(&mut self, event: NoteEvent<()>, thru: bool) {
        match event {
            NoteEvent::NoteOff { channel, key, .. } => {
                let held = match (channel.number(), key.number()) {
                    (Some(c), Some(k)) => std::mem::take(&mut self.held[c as usize & 15][k as usize & 127]),
                    _ => true, // A wildcard off ends whatever it matches.
                };
                if (thru || held) && self.events.len() < CAPACITY {
                    self.events.push(event);
                }
            }
            _ if !thru || self.passed == PASSED => {}
            NoteEvent::NoteOn { channel, key, .. } => {
                if let (Some(c), Some(k)) = (channel.number(), key.number()) {
                    self.held[c as usize & 15][k as usize & 127] = true;
                }
                self.passed += 1;
                self.events.push(event);
            }
            _ => {
                self.passed += 1;
                self.events.push(event);
            }
        }
    }

    /// This block's events, in the order they came.
    pub fn events(&self) -> &[NoteEvent<()>] {
        &self.events
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use nice_plug::midi::{Channel, Key, VoiceID};

    fn on(timing: u32, key: u8) -> NoteEvent<()> {
        NoteEvent::NoteOn {
            timing,
            voice_id: VoiceID::Wildcard,
            channel: Channel::Number(0),
            key: Key::Number(key),
            velocity: 0.5,
        }
    }

    fn off(timing: u32, key: u8) -> NoteEvent<()> {
        NoteEvent::NoteOff {
            timing,
            voice_id: VoiceID::Wildcard,
            channel: Channel::Number(0),
            key: Key::Number(key),
            velocity: 0.0,
        }
    }

    #[test]
    fn everything_passes_unchanged_with_thru_on() {
        let mut t = Thru::new();
        let events = [
            on(0, 60),
            NoteEvent::MidiCC { timing: 1, channel: 0, cc: 64, value: 1.0 },
            NoteEvent::MidiCC { timing: 2, channel: 0, cc: 1, value: 0.5 },
            NoteEvent::MidiPitchBend { timing: 3, channel: 0, value: 0.75 },
            NoteEvent::MidiChannelPressure { timing: 4, channel: 0, pressure: 0.25 },
            NoteEvent::PolyPressure {
                timing: 5,
                voice_id: VoiceID::Wildcard,
                channel: Channel::Number(0),
                key: Key::Number(60),
                pressure: 0.5,
            },
            off(6, 60),
        ];
        t.begin();
        for e in events {
            t.take(e, true);
        }
        assert_eq!(t.events(), events);
    }

    #[test]
    fn the_off_of_a_passed_note_passes_after_thru_goes_off() {
        let mut t = Thru::new();
        t.begin();
        t.take(on(0, 60), true);
        t.begin();
        t.take(on(0, 62), false); // not passed
        t.take(NoteEvent::MidiCC { timing: 1, channel: 0, cc: 64, value: 1.0 }, false);
        t.take(off(2, 62), false);
        t.take(off(3, 60), false); // passed before: its off goes out
        assert_eq!(t.events(), [off(3, 60)]);
        t.begin();
        t.take(off(4, 60), false); // only once
        assert!(t.events().is_empty());
    }

    #[test]
    fn a_crowded_block_keeps_every_off_of_a_passed_note() {
        let mut t = Thru::new();
        t.begin();
        for i in 0..3 * PASSED {
            t.take(on(0, (i % 128) as u8), true);
            t.take(off(1, (i % 128) as u8), i % 2 == 0);
        }
        let ons = t.events().iter().filter(|e| matches!(e, NoteEvent::NoteOn { .. })).count();
        let offs = t.events().len() - ons;
        assert_eq!(ons, PASSED);
        assert!(offs >= ons, "every passed note ended: {ons} ons, {offs} offs");
    }
}
