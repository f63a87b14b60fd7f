//! Drawing some bars of an earlier generation again: every other bar stays note for note, the
//! bars before are followed (the model's memory goes on from them as if it had drawn them) and
//! the last bar drawn is chosen to lead into the kept bar after it.

use std::sync::atomic::{AtomicBool, Ordering};

use super::{keep, to_clip_from, GenerateError, GenerateOptions, Generator};
use crate::clip::{Clip, Note, Track};
use crate::model_file::SintraModel;

/// Why bars could not be drawn again.
#[derive(Debug, thiserror::Error)]
pub enum RedrawError {
    /// The earlier file does not fit the model or the bars asked for.
    #[error("{0}")]
    Input(String),
    /// Sampling stopped.
    #[error(transparent)]
    Generate(#[from] GenerateError),
}

/// `prev` (bars `generate` drew from `model`, after the model's clip when `clip_first`) with its
/// bars `first..=last` (1-based, the file's own numbering) drawn again with `opts`; each new
/// bar is handed to `on_bar` as it comes.
pub fn redraw(
    model: &SintraModel,
    opts: &GenerateOptions,
    prev: &Clip,
    (first, last): (u32, u32),
    clip_first: bool,
    cancel: &AtomicBool,
    on_bar: &mut (dyn FnMut(usize) + Send),
) -> Result<Clip, RedrawError> {
    let clip = &model.meta.clip;
    let spb = clip.meta.steps_per_bar();
    if prev.meta.steps_per_bar() != spb {
        return Err(RedrawError::Input(format!(
            "its bars are {} sixteenths long, the model's {}",
            prev.meta.steps_per_bar(),
            spb
        )));
    }
    let aligned = align(clip, prev)?;
    let total = aligned.bars();
    let skip = if clip_first { model.meta.bars } else { 0 };
    if first == 0 || first > last || last > total || first <= skip {
        let from = skip + 1;
        return Err(RedrawError::Input(format!(
            "bars {first}:{last} are not among its generated bars {from}:{total}"
        )));
    }
    let tokens = keep::bar_tokens(&aligned, total, &model.meta.dictionary());
    let pool = rayon::ThreadPoolBuilder::new().num_threads(2).build().map_err(candle_core::Error::wrap);
    let drawn = pool.map_err(GenerateError::from)?.install(|| {
        let mut gen = Generator::new(model, opts.clone())?;
        for bar in &tokens[skip as usize..first as usize - 1] {
            gen.follow(bar)?;
        }
        let mut drawn = Vec::new();
        for b in first..=last {
            if cancel.load(Ordering::Relaxed) {
                return Err(GenerateError::Cancelled);
            }
            if b == last && last < total {
                gen.lead_into(&tokens[last as usize]);
            }
            drawn.push(gen.next_bar()?);
            on_bar(drawn.len() - 1);
        }
        Ok::<_, GenerateError>(drawn)
    })?;
    let new = to_clip_from(model, &drawn, false, opts.keep.as_ref(), (first - 1 - skip) as usize);
    let (from, to) = ((first - 1) * spb, last * spb);
    let tracks = aligned
        .tracks
        .iter()
        .zip(&new.tracks)
        .map(|(old, new)| {
            let mut notes: Vec<Note> = old
                .notes
                .iter()
                .filter(|n| n.start < from || n.start >= to)
                .map(|&n| if n.start < from { Note { end: n.end.min(from), ..n } } else { n })
                .collect();
            notes.extend(new.notes.iter().map(|&n| Note { start: n.start + from, end: n.end + from, ..n }));
            notes.sort_by_key(|n| (n.start, n.pitch));
            Track { notes, ..old.clone() }
        })
        .collect();
    Ok(Clip { meta: aligned.meta.clone(), tracks })
}

/// `prev`'s notes on the model's tracks: each from `prev`'s track of the same name or, when
/// the names differ and the counts agree, in order (a track `generate` left silent is not in
/// the file at all).
fn align(clip: &Clip, prev: &Clip) -> Result<Clip, RedrawError> {
    let by_name = prev.tracks.iter().all(|t| clip.tracks.iter().any(|c| c.name == t.name));
    if !by_name && prev.tracks.len() != clip.tracks.len() {
        return Err(RedrawError::Input(format!(
            "its tracks are not the model's ({} tracks named differently, the model has {})",
            prev.tracks.len(),
            clip.tracks.len()
        )));
    }
    let tracks = clip
        .tracks
        .iter()
        .enumerate()
        .map(|(k, c)| {
            let from =
                if by_name { prev.tracks.iter().find(|t| t.name == c.name) } else { prev.tracks.get(k) };
            Track { notes: from.map_or_else(Vec::new, |t| t.notes.clone()), ..c.clone() }
        })
        .collect();
    Ok(Clip { meta: prev.meta.clone(), tracks })
}

/// Whether `file` holds `model`'s clip and then more bars (`generate --include-clip`).
pub fn starts_with_clip(model: &SintraModel, file: &Clip) -> bool {
    let Ok(file) = align(&model.meta.clip, file) else { return false };
    let (clip, bars) = (&model.meta.clip, model.meta.bars);
    let end = bars * clip.meta.steps_per_bar();
    file.tracks.iter().zip(&clip.tracks).all(|(f, c)| {
        let head: Vec<&Note> = f.notes.iter().filter(|n| n.start < end).collect();
        let want: Vec<&Note> = c.notes.iter().filter(|n| n.start < end).collect();
        head == want
    }) && file.bars() > bars
}
