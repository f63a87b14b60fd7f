//! Drawing bars of a variation again (`Command::Redraw`): the variation as a clip on the
//! model's tracks, `sintra_core::generate::redraw`, and back to notes with each bar's closeness.

use std::sync::atomic::AtomicBool;

use sintra_core::clip::Clip;
use sintra_core::eval::bar_closeness;
use sintra_core::generate::{redraw, GenerateOptions};
use sintra_core::model_file::SintraModel;

use crate::project::{grid_note, play_note, Variation};
use crate::scheduler::PlayNote;

/// `v` with its bars `first..=last` (1-based) drawn again with `opts`.
pub fn redraw_variation(
    model: &SintraModel,
    opts: &GenerateOptions,
    v: &Variation,
    (first, last): (u32, u32),
) -> Result<Variation, String> {
    let clip = as_clip(model, v);
    let bars = clip.bars().max((v.length / bar_quarters(model)).round() as u32);
    if first == 0 || first > last || last > bars {
        return Err(format!("bars {first}-{last} are not in the variation's 1-{bars}"));
    }
    let cancel = AtomicBool::new(false);
    let new =
        redraw(model, opts, &clip, (first, last), false, &cancel, &mut |_| {}).map_err(|e| e.to_string())?;
    let grid = model.meta.clip.meta.grid;
    let mut notes: Vec<PlayNote> =
        new.tracks.iter().flat_map(|t| t.notes.iter().map(|n| play_note(n, t.channel, grid))).collect();
    notes.sort_by(|a, b| a.start.total_cmp(&b.start).then(a.key.cmp(&b.key)));
    let closeness = bar_closeness(&model.meta.clip, &new).into_iter().map(|(m, _)| m as f32).collect();
    Ok(Variation { notes, length: v.length, closeness })
}

/// Length of one of the model's bars in quarter notes.
fn bar_quarters(model: &SintraModel) -> f64 {
    model.meta.clip.meta.bar_quarters()
}

/// A variation's notes on the model's tracks (by MIDI channel), on its grid, nudges and all.
pub fn as_clip(model: &SintraModel, v: &Variation) -> Clip {
    let template = &model.meta.clip;
    let mut clip = Clip { meta: template.meta.clone(), tracks: template.tracks.clone() };
    clip.meta.pickup = None;
    clip.tracks.iter_mut().for_each(|t| t.notes.clear());
    for n in &v.notes {
        let Some(t) = clip.tracks.iter_mut().find(|t| t.channel == n.channel) else { continue };
        t.notes.push(grid_note(n, clip.meta.grid, 0, 1.0));
    }
    clip.tracks.iter_mut().for_each(|t| t.notes.sort_by_key(|n| (n.start, n.pitch)));
    clip
}
