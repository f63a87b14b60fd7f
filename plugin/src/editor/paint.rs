//! The central area: the piano roll (the clip, then the variation that plays) with bar lines,
//! numbers and the host's playhead, and the loss curve of each training stage. The geometry
//! comes from `roll::layout`; this file only paints it and turns mouse input into view changes.

use std::sync::atomic::Ordering;

use egui::{pos2, vec2, Align2, Color32, FontId, Rect, RichText, Sense, Stroke, Ui};

use super::App;
use crate::params::PlayMode;
use crate::project::bar_quarters;
use crate::roll::{self, fit_pitches, layout, View};

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

/// Height of the bar-number strip above the roll.
const STRIP: f32 = 18.0;

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
    if ui.input(|i| !i.raw.hovered_files.is_empty()) {
        let area = ui.max_rect();
        ui.painter().rect_filled(area, 4.0, Color32::from_black_alpha(180));
        let text = "Drop a MIDI file to load it";
        ui.painter().text(
            area.center(),
            Align2::CENTER_CENTER,
            text,
            FontId::proportional(22.0),
            Color32::WHITE,
        );
    }
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
    let (generated, generated_len) =
        variations.get(picked).map_or((&[][..], 0.0), |v| (&v.notes[..], v.length));
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
    if response.dragged() {
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
    let roll = layout(clip, generated, &view, head);
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
