//! Damaging Standard MIDI Files on purpose: where each event's delta time sits in the bytes,
//! and rewriting one.
#![allow(dead_code)]

use crate::common::midi;

/// Where one event's delta time sits in the bytes of a Standard MIDI File.
#[derive(Clone, Copy, Debug)]
pub struct Delta {
    /// Offset of the delta time's first byte.
    pub at: usize,
    /// Its length in bytes (a variable-length quantity, 1 to 4).
    pub len: usize,
    /// Offset of its track chunk (`MTrk`, then the 4-byte length).
    pub chunk: usize,
    /// The event is a note-on with a velocity above 0.
    pub note_on: bool,
}

fn read_vlq(bytes: &[u8], mut i: usize) -> (u32, usize) {
    let mut v = 0u32;
    loop {
        let b = bytes[i];
        i += 1;
        v = (v << 7) | (b & 0x7f) as u32;
        if b < 0x80 {
            return (v, i);
        }
    }
}

/// The delta time of every event in every track chunk of a valid file, in file order.
pub fn deltas(bytes: &[u8]) -> Vec<Delta> {
    let mut out = Vec::new();
    for (chunk, end) in track_chunks(bytes) {
        let (mut i, mut running) = (chunk + 8, 0u8);
        while i < end {
            let at = i;
            i = read_vlq(bytes, i).1;
            let len = i - at;
            let status = bytes[i];
            let mut note_on = false;
            if status == 0xff {
                let (n, j) = read_vlq(bytes, i + 2);
                i = j + n as usize;
            } else if status == 0xf0 || status == 0xf7 {
                let (n, j) = read_vlq(bytes, i + 1);
                i = j + n as usize;
            } else {
                if status & 0x80 != 0 {
                    running = status;
                    i += 1;
                }
                let data = if matches!(running & 0xf0, 0xc0 | 0xd0) { 1 } else { 2 };
                note_on = running & 0xf0 == 0x90 && bytes[i + 1] > 0;
                i += data;
            }
            out.push(Delta { at, len, chunk, note_on });
        }
    }
    out
}

/// `bytes` with the delta time `d` set to `value` (below 2^28), the chunk length fixed.
pub fn with_delta(bytes: &[u8], d: Delta, value: u32) -> Vec<u8> {
    assert!(value < 1 << 28);
    let mut vlq = vec![(value & 0x7f) as u8];
    let mut v = value >> 7;
    while v > 0 {
        vlq.insert(0, (v & 0x7f) as u8 | 0x80);
        v >>= 7;
    }
    let mut out = [&bytes[..d.at], &vlq[..], &bytes[d.at + d.len..]].concat();
    grow_chunk(&mut out, d.chunk, vlq.len() as i64 - d.len as i64);
    out
}

/// A real piece with the delta time of one note-on in its third track chunk (the second voice)
/// made huge (2^25 - 1 ticks, written 0x8F 0xFF 0xFF 0x7F): that note and all after it in
/// the track land thousands of bars away.
pub fn with_huge_delta(file: &str) -> Vec<u8> {
    let bytes = std::fs::read(midi(file)).unwrap();
    let all = deltas(&bytes);
    let chunks: Vec<usize> = {
        let mut c: Vec<usize> = all.iter().map(|d| d.chunk).collect();
        c.dedup();
        c
    };
    let d = *all.iter().filter(|d| d.chunk == chunks[2] && d.note_on).nth(20).expect("a 21st note-on");
    with_delta(&bytes, d, 0x1ff_ffff)
}

/// The track chunks of a valid file: (offset of the chunk, offset just after its body).
pub fn track_chunks(bytes: &[u8]) -> Vec<(usize, usize)> {
    let be32 = |i: usize| u32::from_be_bytes(bytes[i..i + 4].try_into().unwrap()) as usize;
    let mut out = Vec::new();
    let mut chunk = 8 + be32(4);
    while chunk + 8 <= bytes.len() {
        let end = chunk + 8 + be32(chunk + 4);
        if &bytes[chunk..chunk + 4] == b"MTrk" {
            out.push((chunk, end));
        }
        chunk = end;
    }
    out
}

/// Adds `by` to the length of the chunk at `chunk`.
pub fn grow_chunk(bytes: &mut [u8], chunk: usize, by: i64) {
    let len = u32::from_be_bytes(bytes[chunk + 4..chunk + 8].try_into().unwrap());
    bytes[chunk + 4..chunk + 8].copy_from_slice(&((len as i64 + by) as u32).to_be_bytes());
}
