//! The central area: the piano roll (the clip, then the variation that plays) with bar lines,
//! numbers and the host's playhead, and the loss curve of each training stage. The geometry
//! comes from `roll::layout`; this file only paints it and turns mouse input into view changes.

use std::sync::atomic::Ordering;

use egui::{pos2, vec2, Align2, Color32, FontId, Rect, RichText, Sense, Stroke, Ui};

use super::App;
use crate::engine::Command;
use crate::params::PlayMode;
use crate::project::bar_quarters;
use crate::roll::{self, fit_pitches, generated_bar_at, layout, Generated, View};

/// One colour per track (wrapping after eight).
const PALETTE: [Color32; 8] = [
    Color32::from_rgb(110, 170, 255),
    Color32::from_rgb(255, 150, 90),
    Color32::from_rgb(120, 220, 140),
    Color32::from_rgb(230, 120, 200),
    Color32::from_rgb(240, 220, 100),
    Color32::from_rgb(130, 220, 230),
    Color32::from_rgb(200, 160, 255),
    Color32::from_rgb(220, 220, 220),
];

/// Stage colours of the loss plot, coarse to fine.
const STAGES: [Color32; 3] =
    [Color32::from_rgb(110, 170, 255), Color32::from_rgb(255, 170, 80), Color32::from_rgb(120, 220, 140)];

/// Height of the ruler above the roll: bar numbers, then each generated bar's closeness.
const STRIP: f32 = 30.0;
/// Top of the closeness marks in the ruler.
const MARKS_TOP: f32 = 16.0;

pub fn track_colour(k: usize) -> Color32 {
    PALETTE[k % PALETTE.len()]
}

/// A small filled circle in the text flow (the default fonts have no symbol glyphs).
pub fn swatch(ui: &mut Ui, colour: Color32) {
    let (rect, _) = ui.allocate_exact_size(vec2(10.0, 10.0), Sense::hover());
    ui.painter().circle_filled(rect.center(), 5.0, colour);
}

pub fn main_area(app: &mut App, ui: &mut Ui) {
    ui.horizontal(|ui| {
        ui.label(RichText::new("Piano roll").strong());
        if ui.button("Fit").on_hover_text("Show the clip and all generated bars").clicked() {
            app.view = None;
        }
        if let Some(v) = app.view.as_mut() {
            if ui.button("−").on_hover_text("Zoom out").clicked() {
                v.zoom(0.5, v.width / 2.0);
            }
            if ui.button("+").on_hover_text("Zoom in").clicked() {
                v.zoom(2.0, v.width / 2.0);
            }
        }
        ui.checkbox(&mut app.follow, "Follow playhead");
        drag_handle(app, ui);
        redraw_buttons(app, ui);
        ui.label(RichText::new("wheel or drag: scroll · Ctrl + wheel: zoom").weak());
    });
    let avail = ui.available_size();
    let curves = !app.link.monitor.lock().curves.is_empty();
    let loss_height = if curves { (avail.y * 0.3).clamp(110.0, 220.0) } else { 0.0 };
    roll(app, ui, vec2(avail.x, (avail.y - loss_height - 8.0).max(80.0)));
    if curves {
        ui.add_space(6.0);
        loss(app, ui, vec2(avail.x, loss_height));
    }
    let hovered = ui.input(|i| i.raw.hovered_files.iter().filter_map(|f| f.path.clone()).collect::<Vec<_>>());
    if !hovered.is_empty() {
        let area = ui.max_rect();
        ui.painter().rect_filled(area, 4.0, Color32::from_black_alpha(180));
        let text = if hovered.iter().any(|p| super::files::is_midi(p)) {
            "Drop a MIDI file to load it"
        } else {
            "Only MIDI files (.mid) can be dropped here"
        };
        ui.painter().text(
            area.center(),
            Align2::CENTER_CENTER,
            text,
            FontId::proportional(22.0),
            Color32::WHITE,
        );
    }
}

/// The handle to drag the variation that plays out onto a DAW track or the desktop (the file
/// *Export* writes, with the clip before it where *Start the file with the clip* is on).
fn drag_handle(app: &mut App, ui: &mut Ui) {
    if let Some(why) = super::drag_out::unavailable() {
        ui.label(RichText::new(format!("Dragging out {why}: use Export")).weak());
        return;
    }
    let project = &app.link.engine.shared.project;
    let can = project.variations().get(app.picked()).is_some_and(|v| !v.notes.is_empty());
    let label = if app.dragging.is_some() { "Dragging…" } else { "Drag to a track" };
    let handle = egui::Button::new(label).sense(Sense::drag());
    let response = ui
        .add_enabled(can && app.dragging.is_none(), handle)
        .on_hover_text("Drag the variation that plays onto a DAW track or the desktop (as Export writes it)");
    if response.drag_started() {
        app.drag_out();
    }
    // Where it is, for whoever drives the window (the drag-and-drop test).
    let at = response.rect.center();
    if can && app.handle_at != Some(at) {
        app.handle_at = Some(at);
        nice_plug::nice_log!("SinTra: drag handle at {:.0},{:.0}", at.x, at.y);
    }
}

/// *Redraw* for the bars selected on the ruler, and its undo.
fn redraw_buttons(app: &mut App, ui: &mut Ui) {
    // While the transport plays too: the new bars replace the old ones where they play.
    let idle =
        !app.link.engine.shared.status.lock().is_busy() && app.link.engine.shared.info.lock().is_some();
    let can_undo = app.link.engine.shared.project.lock().undo.is_some();
    // Named as the roll numbers them: from the clip's first bar.
    let clip_bars = app.link.engine.shared.project.lock().clip.as_ref().map_or(0, |c| c.bars());
    let named = app.selection.map(|(a, b)| (a + clip_bars, b + clip_bars));
    let (label, hint) = match named {
        Some((a, b)) if a == b => (format!("Redraw bar {a}"), "Draws this bar again; the others stay"),
        Some((a, b)) => (format!("Redraw bars {a}–{b}"), "Draws these bars again; the others stay"),
        None => ("Redraw…".to_string(), "Select generated bars on the ruler above the roll first"),
    };
    let enabled = idle && app.selection.is_some_and(|(_, last)| last <= app.sampled_bars);
    if ui.add_enabled(enabled, egui::Button::new(label.as_str())).on_hover_text(hint).clicked() {
        if let Some((first, last)) = app.selection {
            match app.link.engine.send(Command::Redraw { first, last }) {
                Ok(()) => app.say(label.replace("Redraw", "Redrawing"), false),
                Err(e) => app.say(e, true),
            }
        }
    }
    if ui.add_enabled(idle && can_undo, egui::Button::new("Undo redraw")).clicked() {
        if let Err(e) = app.link.engine.send(Command::UndoRedraw) {
            app.say(e, true);
        }
    }
}

/// A closeness's colour on the ruler: blue far from the clip, orange near a copy.
fn closeness_colour(c: f32) -> Color32 {
    let t = c.clamp(0.0, 1.0);
    let mix = |a: u8, b: u8| (a as f32 + (b as f32 - a as f32) * t) as u8;
    Color32::from_rgb(mix(70, 250), mix(110, 150), mix(200, 60))
}

/// The playhead in roll beats, from the audio thread's position.
fn playhead(app: &App, clip_len: f64, generated_len: f64) -> Option<f64> {
    let shared = &app.link.engine.shared;
    let placed = app.params.start_bar.value() > 0 || app.params.project.origin().is_finite();
    let timeline = placed.then(|| f64::from_bits(shared.playhead.load(Ordering::Relaxed)));
    let looping = app.params.mode.value() == PlayMode::Loop;
    roll::playhead(shared.playing.load(Ordering::Relaxed), timeline, clip_len, generated_len, looping)
}

fn roll(app: &mut App, ui: &mut Ui, size: egui::Vec2) {
    let (response, painter) = ui.allocate_painter(size, Sense::click_and_drag());
    let rect = response.rect;
    painter.rect_filled(rect, 4.0, Color32::from_gray(22));
    let shared = app.link.engine.shared.clone();
    // One lock for the clip and the variations (they share it: taking it twice would deadlock).
    let project = shared.project.lock();
    let Some(clip) = project.clip.as_ref() else {
        let text = "Your clip appears here.\n\nArm capture and play it in the host, or load a MIDI file.";
        painter.text(rect.center(), Align2::CENTER_CENTER, text, FontId::proportional(16.0), Color32::GRAY);
        return;
    };
    let variations = &project.variations;
    let picked = app.picked();
    let gen = variations.get(picked).map_or_else(Generated::default, |v| Generated {
        notes: &v.notes,
        length: v.length,
        closeness: &v.closeness,
    });
    let (generated, generated_len) = (gen.notes, gen.length);
    let bar = bar_quarters(clip);
    let clip_len = clip.bars() as f64 * bar;
    let area = Rect::from_min_max(rect.min + vec2(0.0, STRIP), rect.max);

    // Fit the view when there is something new to show (or when asked to).
    let signature = (clip.bars(), (generated_len * 4.0) as u64 + picked as u64 * 1_000_003);
    if app.view.is_none() || app.fitted != signature {
        let (low, high) = fit_pitches(clip, generated);
        let beats = (clip_len + generated_len).max(4.0 * bar);
        app.view =
            Some(View { first_beat: 0.0, beats, low, high, width: area.width(), height: area.height() });
        app.fitted = signature;
    }
    app.selection = roll::selection_after(app.selection, app.selected_in, generated_len);
    app.selected_in = generated_len;
    app.sampled_bars = (generated_len / bar).round() as u32;
    let view = app.view.as_mut().expect("fitted above");
    (view.width, view.height) = (area.width(), area.height());

    if let Some(pointer) = response.hover_pos() {
        let (scroll, zoom) = ui.input(|i| (i.smooth_scroll_delta, i.zoom_delta()));
        if zoom != 1.0 {
            view.zoom(zoom as f64, pointer.x - area.left());
        } else if scroll != egui::Vec2::ZERO {
            view.scroll(-(scroll.x + scroll.y));
            app.follow = false;
        }
    }
    // On the ruler a click or a drag selects generated bars; below it a drag scrolls.
    let on_ruler = ui.input(|i| i.pointer.press_origin()).is_some_and(|p| p.y < area.top());
    let bar_at = |x: f32| generated_bar_at(clip, generated_len, view, x - area.left());
    if on_ruler && (response.clicked() || response.drag_started()) {
        let bar = response.interact_pointer_pos().and_then(|p| bar_at(p.x));
        app.anchor = bar;
        app.selection = match (bar, app.selection) {
            (Some(b), Some(s)) if response.clicked() && s == (b, b) => None,
            (Some(b), _) => Some((b, b)),
            (None, _) => None,
        };
    } else if on_ruler && response.dragged() {
        let bar = response.interact_pointer_pos().and_then(|p| bar_at(p.x));
        if let (Some(a), Some(b)) = (app.anchor, bar) {
            app.selection = Some((a.min(b), a.max(b)));
        }
    } else if response.dragged() {
        view.scroll(-response.drag_delta().x);
        app.follow = false;
    }
    let head = playhead(app, clip_len, generated_len);
    let view = app.view.as_mut().expect("fitted above");
    if let (true, Some(h)) = (app.follow, head) {
        if h < view.first_beat || h > view.first_beat + view.beats * 0.9 {
            view.first_beat = (h - view.beats * 0.1).max(0.0);
        }
    }
    let view = *view;
    let roll = layout(clip, gen, &view, head);
    let to_screen = |x: f32| area.left() + x;
    let painter = painter.with_clip_rect(rect);

    // The generated region, shaded, with its name.
    let gen_left =
        to_screen(((clip_len - view.first_beat) / view.beats) as f32 * view.width).max(area.left());
    if generated_len > 0.0 && gen_left < area.right() {
        let shade = Rect::from_min_max(pos2(gen_left, area.top()), area.max);
        painter.rect_filled(shade, 0.0, Color32::from_rgb(30, 34, 44));
        let label = format!("generated · variation {} of {}", picked + 1, variations.len());
        painter.text(
            shade.left_top() + vec2(6.0, 4.0),
            Align2::LEFT_TOP,
            label,
            FontId::proportional(12.0),
            Color32::GRAY,
        );
    }
    // Octave lines with their C.
    let row = view.height / (view.high - view.low + 1) as f32;
    for pitch in (view.low..=view.high).filter(|p| p % 12 == 0) {
        let y = area.top() + (view.high - pitch) as f32 * row + row;
        painter.line_segment(
            [pos2(area.left(), y), pos2(area.right(), y)],
            Stroke::new(1.0, Color32::from_gray(40)),
        );
        let name = format!("C{}", pitch as i32 / 12 - 1);
        painter.text(
            pos2(area.left() + 3.0, y - 2.0),
            Align2::LEFT_BOTTOM,
            name,
            FontId::monospace(10.0),
            Color32::from_gray(110),
        );
    }
    // Bar lines and numbers.
    for b in &roll.bars {
        let x = to_screen(b.x);
        painter.line_segment(
            [pos2(x, area.top()), pos2(x, area.bottom())],
            Stroke::new(1.0, Color32::from_gray(58)),
        );
        painter.text(
            pos2(x + 3.0, rect.top() + 2.0),
            Align2::LEFT_TOP,
            b.number,
            FontId::proportional(11.0),
            Color32::from_gray(160),
        );
    }
    // The ruler's generated bars: their closeness, and the selection across the roll.
    let hover = response.hover_pos().filter(|p| p.y < area.top());
    for m in &roll.marks {
        let (x0, x1) = (to_screen(m.x), to_screen(m.x + m.w));
        let mark =
            Rect::from_min_max(pos2(x0 + 1.0, rect.top() + MARKS_TOP), pos2(x1 - 1.0, area.top() - 3.0));
        if let Some(c) = m.closeness {
            painter.rect_filled(mark, 2.0, closeness_colour(c).gamma_multiply(0.85));
            if mark.width() > 34.0 {
                let text = format!("{c:.2}");
                painter.text(
                    mark.center(),
                    Align2::CENTER_CENTER,
                    text,
                    FontId::proportional(9.5),
                    Color32::BLACK,
                );
            }
            if hover.is_some_and(|p| p.x >= x0 && p.x < x1) {
                let bar = m.bar + clip.bars();
                let tip =
                    format!("bar {bar}: match {c:.2} with the clip (1 = a copy); click or drag to select");
                response.clone().on_hover_text_at_pointer(tip);
            }
        }
        if app.selection.is_some_and(|(a, b)| (a..=b).contains(&m.bar)) {
            let column = Rect::from_min_max(pos2(x0, rect.top() + MARKS_TOP), pos2(x1, area.bottom()));
            painter.rect_filled(column, 0.0, Color32::from_rgba_unmultiplied(255, 255, 255, 18));
            painter.rect_stroke(mark, 2.0, Stroke::new(1.5, Color32::WHITE), egui::StrokeKind::Outside);
        }
    }
    // Notes: the clip solid, the generated bars lighter with an outline.
    for n in &roll.notes {
        let r = Rect::from_min_size(pos2(to_screen(n.x), area.top() + n.y), vec2(n.w, n.h.max(2.0)))
            .shrink2(vec2(0.5, 0.5));
        let colour = track_colour(n.track);
        if n.generated {
            painter.rect_filled(r, 2.0, colour.gamma_multiply(0.55));
            painter.rect_stroke(r, 2.0, Stroke::new(1.0, colour), egui::StrokeKind::Inside);
        } else {
            painter.rect_filled(r, 2.0, colour);
        }
    }
    if let Some(x) = roll.playhead {
        let x = to_screen(x);
        painter.line_segment([pos2(x, rect.top()), pos2(x, area.bottom())], Stroke::new(2.0, Color32::WHITE));
    }
}

/// Loss against epoch, one line per stage, on a log scale.
fn loss(app: &App, ui: &mut Ui, size: egui::Vec2) {
    let (response, painter) = ui.allocate_painter(size, Sense::hover());
    let rect = response.rect;
    painter.rect_filled(rect, 4.0, Color32::from_gray(22));
    let curves = app.link.monitor.lock().curves.clone();
    let points = curves.iter().flatten();
    let epochs = points.clone().map(|p| p[0]).fold(1.0, f64::max);
    let (lo, hi) = points.fold((f64::MAX, f64::MIN), |(lo, hi), p| {
        let l = p[1].max(1e-4).log10();
        (lo.min(l), hi.max(l))
    });
    let (lo, hi) = (lo.floor(), hi.ceil().max(lo.floor() + 1.0));
    let plot = rect.shrink2(vec2(44.0, 22.0)).translate(vec2(14.0, 6.0));
    let at = |epoch: f64, loss: f64| {
        let y = (loss.max(1e-4).log10() - lo) / (hi - lo);
        pos2(plot.left() + (epoch / epochs) as f32 * plot.width(), plot.bottom() - y as f32 * plot.height())
    };
    // Decades on the y axis.
    let mut decade = lo;
    while decade <= hi {
        let y = at(1.0, 10f64.powf(decade)).y;
        painter.line_segment(
            [pos2(plot.left(), y), pos2(plot.right(), y)],
            Stroke::new(1.0, Color32::from_gray(45)),
        );
        let label = format!("{}", 10f64.powf(decade));
        painter.text(
            pos2(plot.left() - 4.0, y),
            Align2::RIGHT_CENTER,
            label,
            FontId::monospace(10.0),
            Color32::GRAY,
        );
        decade += 1.0;
    }
    let mut legend = pos2(plot.left(), rect.top() + 4.0);
    let title = "Training loss per stage (log scale)";
    legend.x = painter
        .text(legend, Align2::LEFT_TOP, title, FontId::proportional(12.0), Color32::LIGHT_GRAY)
        .right()
        + 16.0;
    for (k, curve) in curves.iter().enumerate() {
        let colour = STAGES[k % STAGES.len()];
        if curve.len() > 1 {
            painter.line(curve.iter().map(|p| at(p[0], p[1])).collect(), Stroke::new(2.0, colour));
        }
        if let Some(last) = curve.last() {
            painter.circle_filled(at(last[0], last[1]), 3.0, colour);
            let text = format!("stage {}: {:.3} at epoch {}", k + 1, last[1], last[0]);
            legend.x =
                painter.text(legend, Align2::LEFT_TOP, text, FontId::proportional(12.0), colour).right()
                    + 16.0;
        }
    }
    painter.text(
        plot.right_bottom() + vec2(0.0, 4.0),
        Align2::RIGHT_TOP,
        "epoch",
        FontId::proportional(11.0),
        Color32::GRAY,
    );
}
