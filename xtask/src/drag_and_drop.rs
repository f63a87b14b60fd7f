//! `cargo xtask drag-and-drop`: files dragged into and out of the standalone editor under Xvfb,
//! with a small X11 client of our own as the other application (the XDND protocol, version 5):
//! 1. as a source it offers a `.txt`: the editor refuses it while it hovers, says so in its
//!    status line, and loads nothing;
//! 2. as a source it drops a `.mid`: the editor accepts it and loads the clip (bars and tracks
//!    as `sintra inspect` reports them);
//! 3. as a target, with the pointer driven by XTEST from the editor's *Drag to a track* handle
//!    onto its window: it receives a file that reads back as the variation that plays.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use x11rb::connection::Connection;
use x11rb::protocol::xproto::{
    Atom, AtomEnum, ClientMessageEvent, ConnectionExt, CreateWindowAux, EventMask, PropMode, Rectangle,
    SelectionNotifyEvent, Window, WindowClass, BUTTON_PRESS_EVENT, BUTTON_RELEASE_EVENT, MOTION_NOTIFY_EVENT,
    SELECTION_NOTIFY_EVENT,
};
use x11rb::protocol::xtest::ConnectionExt as _;
use x11rb::protocol::Event;
use x11rb::rust_connection::RustConnection;
use x11rb::wrapper::ConnectionExt as _;
use x11rb::{CURRENT_TIME, NONE};

use crate::display::{self, x11, Editor};

/// The virtual display.
const DISPLAY: &str = ":78";
/// The clip dropped in and the one whose variation is dragged out.
const CLIP: &str = "assets/bwv227-1_4track_ts44.mid";
/// Longest wait for training and generating (a release build takes seconds).
const PATIENCE: Duration = Duration::from_secs(300);
/// Where the test's drop target sits on the screen.
const TARGET: Rectangle = Rectangle { x: 900, y: 250, width: 300, height: 300 };

x11rb::atom_manager! {
    Atoms: AtomsCookie {
        XdndAware,
        XdndSelection,
        XdndEnter,
        XdndPosition,
        XdndStatus,
        XdndLeave,
        XdndDrop,
        XdndFinished,
        XdndActionCopy,
        XdndTypeList,
        SINTRA_DROPPED,
        URI_LIST: b"text/uri-list",
    }
}

pub fn run() -> Result<(), String> {
    let root = display::root()?;
    let exe = display::build(&root, "sintra-standalone")?;
    let cli = display::build(&root, "sintra")?;
    let _xvfb = display::xvfb(DISPLAY)?;
    let work = std::env::temp_dir().join(format!("sintra-drag-and-drop-{}", std::process::id()));
    std::fs::create_dir_all(&work).map_err(|e| format!("{}: {e}", work.display()))?;
    let result = drop_in(&root, &exe, &cli, &work).and_then(|()| drag_out(&root, &exe, &cli));
    let _ = std::fs::remove_dir_all(&work);
    result
}

/// Parts 1 and 2: a `.txt` refused, a `.mid` loaded.
fn drop_in(root: &Path, exe: &Path, cli: &Path, work: &Path) -> Result<(), String> {
    let editor = Editor::start(root, exe, &["--no-train"], DISPLAY)?;
    let (window, _) = display::shown_window(DISPLAY)?;
    // Time to paint its first frame (and set its drop filter).
    std::thread::sleep(Duration::from_secs(2));

    let text = work.join("notes.txt");
    std::fs::write(&text, "not a clip").map_err(|e| format!("{}: {e}", text.display()))?;
    let (accepted, finished) = offer(window, &text, false)?;
    if accepted || finished.is_some() {
        return Err(format!("the editor accepted {} (status {accepted})", text.display()));
    }
    editor.wait_for("SinTra: refused a drop: ", Duration::from_secs(5))?;
    std::thread::sleep(Duration::from_secs(1));
    if let Some(line) = editor.logged("SinTra: loaded").first() {
        return Err(format!("a refused drop loaded something: {line}"));
    }
    println!("refused {} while it hovered, and said so", text.display());

    let clip = root.join(CLIP);
    let (accepted, finished) = offer(window, &clip, true)?;
    if !accepted || finished != Some(true) {
        return Err(format!(
            "the editor refused {} (status {accepted}, finished {finished:?})",
            clip.display()
        ));
    }
    let line = editor.wait_for("SinTra: loaded a clip of ", Duration::from_secs(20))?;
    let (bars, tracks) = inspect(cli, &clip)?;
    let want = format!("SinTra: loaded a clip of {bars} bars, {tracks} tracks");
    if !line.contains(&want) {
        return Err(format!(
            "dropped {}: the editor logged “{line}”, inspect says {bars} bars, {tracks} tracks",
            clip.display()
        ));
    }
    println!("dropped {}: loaded, {bars} bars and {tracks} tracks", clip.display());
    Ok(())
}

/// Part 3: the variation dragged from the handle onto a window of ours, twice: to a target
/// that finishes the drop, then to one that fetches the file and closes without a word (the
/// file must stay: it may have taken it).
fn drag_out(root: &Path, exe: &Path, cli: &Path) -> Result<(), String> {
    let editor = Editor::start(root, exe, &["--open", CLIP], DISPLAY)?;
    let generated = editor.wait_for("SinTra: generated", PATIENCE)?;
    let bars: u32 =
        number_before(&generated, " bars").ok_or_else(|| format!("no bar count in “{generated}”"))?;
    let (_, clip_tracks) = inspect(cli, &root.join(CLIP))?;
    let mut handle = None;
    for finish in [true, false] {
        // The layout settles once the status line has its final text; the handle's last place.
        std::thread::sleep(Duration::from_secs(2));
        handle = editor.logged("SinTra: drag handle at ").pop().or(handle);
        let at = handle.as_deref().ok_or("the editor never logged its drag handle")?;
        let got = drag_once(&editor, at, finish)?;
        let (got_bars, tracks) = inspect(cli, &got)?;
        let _ = std::fs::remove_file(&got);
        if (got_bars, tracks) != (bars, clip_tracks) {
            return Err(format!(
                "the dragged file has {got_bars} bars and {tracks} tracks; the variation {bars} bars of {clip_tracks} tracks"
            ));
        }
        let how = if finish { "finished" } else { "never finished, the file kept" };
        println!("dragged the variation out ({how}): {}, {bars} bars, {tracks} tracks", got.display());
    }
    Ok(())
}

/// One drag from the handle logged as `handle` to our target (`finish`: whether it finishes
/// the drop); the file the target got, once the editor has said it was dropped.
fn drag_once(editor: &Editor, handle: &str, finish: bool) -> Result<PathBuf, String> {
    let (x, y) = handle
        .rsplit(' ')
        .next()
        .and_then(|xy| xy.split_once(','))
        .and_then(|(x, y)| Some((x.parse::<i16>().ok()?, y.parse::<i16>().ok()?)))
        .ok_or_else(|| format!("no position in “{handle}”"))?;
    let (_, window) = display::shown_window(DISPLAY)?;
    let receiver = std::thread::spawn(move || receive(finish));
    // Time for the target's window to be shown.
    std::thread::sleep(Duration::from_secs(1));
    let from = (window.x + x, window.y + y);
    let to = (TARGET.x + TARGET.width as i16 / 2, TARGET.y + TARGET.height as i16 / 2);
    drive_pointer(from, to)?;
    let got = receiver.join().map_err(|_| "the drop target panicked")??;
    let logged = editor.wait_for("SinTra: dragged out ", Duration::from_secs(30))?;
    if !logged.ends_with(&got.display().to_string()) {
        return Err(format!("received {}, the editor logged “{logged}”", got.display()));
    }
    Ok(got)
}

/// Bars and tracks of a MIDI file, as `sintra inspect --json` reports them.
fn inspect(cli: &Path, file: &Path) -> Result<(u32, usize), String> {
    let out = std::process::Command::new(cli)
        .args(["inspect", "--json"])
        .arg(file)
        .output()
        .map_err(|e| format!("{}: {e}", cli.display()))?;
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).map_err(|e| {
        format!("sintra inspect {}: {e} ({})", file.display(), String::from_utf8_lossy(&out.stderr))
    })?;
    let bars =
        report["bars"].as_u64().ok_or_else(|| format!("sintra inspect {}: no bars", file.display()))?;
    let tracks = report["tracks"].as_array().map_or(0, Vec::len);
    Ok((bars as u32, tracks))
}

/// The number just before `unit` in `line` ("... of 16 bars" -> 16).
fn number_before(line: &str, unit: &str) -> Option<u32> {
    line.split(unit).next()?.rsplit(' ').next()?.parse().ok()
}

/// One X11 client's window of its own, the atoms, and the root.
struct Client {
    conn: RustConnection,
    atoms: Atoms,
    root: Window,
    window: Window,
}

impl Client {
    /// Connects; with `shown`, opens a window there that takes XDND drops, else a hidden one.
    fn new(shown: Option<Rectangle>) -> Result<Self, String> {
        let (conn, screen) = x11rb::connect(Some(DISPLAY)).map_err(x11)?;
        let root = conn.setup().roots[screen].root;
        let atoms = Atoms::new(&conn).map_err(x11)?.reply().map_err(x11)?;
        let window = conn.generate_id().map_err(x11)?;
        let r = shown.unwrap_or(Rectangle { x: -10, y: -10, width: 1, height: 1 });
        let class = if shown.is_some() { WindowClass::INPUT_OUTPUT } else { WindowClass::INPUT_ONLY };
        let aux = CreateWindowAux::new();
        conn.create_window(0, window, root, r.x, r.y, r.width, r.height, 0, class, 0, &aux).map_err(x11)?;
        if shown.is_some() {
            conn.change_property32(PropMode::REPLACE, window, atoms.XdndAware, AtomEnum::ATOM, &[5])
                .map_err(x11)?;
            conn.map_window(window).map_err(x11)?;
        }
        conn.flush().map_err(x11)?;
        Ok(Self { conn, atoms, root, window })
    }

    /// An XDND message to `to`: our window, then `data`.
    fn send(&self, to: Window, kind: Atom, data: [u32; 4]) -> Result<(), String> {
        let message =
            ClientMessageEvent::new(32, to, kind, [self.window, data[0], data[1], data[2], data[3]]);
        self.conn.send_event(false, to, EventMask::NO_EVENT, message).map_err(x11)?;
        self.conn.flush().map_err(x11)
    }
}

/// As an XDND source, drags `file` over the middle of `target` for a second and a half, then
/// drops it there (with `drop`, where accepted) or leaves. Returns whether the last status
/// accepted it, and how the drop finished (whether the target took it), if it was dropped.
fn offer(target: Window, file: &Path, drop: bool) -> Result<(bool, Option<bool>), String> {
    let c = Client::new(None)?;
    let a = &c.atoms;
    c.conn
        .change_property32(PropMode::REPLACE, c.window, a.XdndTypeList, AtomEnum::ATOM, &[a.URI_LIST])
        .map_err(x11)?;
    c.conn.set_selection_owner(c.window, a.XdndSelection, CURRENT_TIME).map_err(x11)?;
    let g = c.conn.get_geometry(target).map_err(x11)?.reply().map_err(x11)?;
    let xy = (((g.x + g.width as i16 / 2) as u32) << 16) | (g.y + g.height as i16 / 2) as u32;
    let uri = format!("file://{}\r\n", file.display());
    c.send(target, a.XdndEnter, [5 << 24, a.URI_LIST, 0, 0])?;
    let (mut accepted, mut finished, mut dropped) = (false, None, false);
    let start = Instant::now();
    let mut next_position = start;
    while start.elapsed() < Duration::from_secs(12) && finished.is_none() {
        let hovering = start.elapsed() < Duration::from_millis(1500);
        if hovering && Instant::now() >= next_position {
            c.send(target, a.XdndPosition, [0, xy, CURRENT_TIME, a.XdndActionCopy])?;
            next_position += Duration::from_millis(200);
        }
        if !hovering && !dropped {
            if !(drop && accepted) {
                c.send(target, a.XdndLeave, [0; 4])?;
                return Ok((accepted, None));
            }
            c.send(target, a.XdndDrop, [0, CURRENT_TIME, 0, 0])?;
            dropped = true;
        }
        while let Some(event) = c.conn.poll_for_event().map_err(x11)? {
            match event {
                Event::ClientMessage(m) if m.type_ == a.XdndStatus => {
                    accepted = m.data.as_data32()[1] & 1 == 1
                }
                Event::ClientMessage(m) if m.type_ == a.XdndFinished => {
                    finished = Some(m.data.as_data32()[1] & 1 == 1)
                }
                Event::SelectionRequest(r) => {
                    let given = if r.target == a.URI_LIST {
                        let bytes = uri.as_bytes();
                        c.conn
                            .change_property8(PropMode::REPLACE, r.requestor, r.property, a.URI_LIST, bytes)
                            .map_err(x11)?;
                        r.property
                    } else {
                        NONE
                    };
                    let notify = SelectionNotifyEvent {
                        response_type: SELECTION_NOTIFY_EVENT,
                        sequence: 0,
                        time: r.time,
                        requestor: r.requestor,
                        selection: r.selection,
                        target: r.target,
                        property: given,
                    };
                    c.conn.send_event(false, r.requestor, EventMask::NO_EVENT, notify).map_err(x11)?;
                    c.conn.flush().map_err(x11)?;
                }
                _ => {}
            }
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    Ok((accepted, finished))
}

/// As an XDND target at `TARGET`, accepts what is dragged over it and returns the file dropped
/// (`finish`: telling the source the drop is finished, as a target must, or closing without it).
fn receive(finish: bool) -> Result<PathBuf, String> {
    let c = Client::new(Some(TARGET))?;
    let a = &c.atoms;
    let (mut source, start) = (NONE, Instant::now());
    while start.elapsed() < Duration::from_secs(60) {
        let Some(event) = c.conn.poll_for_event().map_err(x11)? else {
            std::thread::sleep(Duration::from_millis(5));
            continue;
        };
        match event {
            Event::ClientMessage(m) if m.type_ == a.XdndEnter => source = m.data.as_data32()[0],
            Event::ClientMessage(m) if m.type_ == a.XdndPosition => {
                c.send(m.data.as_data32()[0], a.XdndStatus, [1, 0, 0, a.XdndActionCopy])?;
            }
            Event::ClientMessage(m) if m.type_ == a.XdndDrop => {
                let time = m.data.as_data32()[2];
                c.conn
                    .convert_selection(c.window, a.XdndSelection, a.URI_LIST, a.SINTRA_DROPPED, time)
                    .map_err(x11)?;
                c.conn.flush().map_err(x11)?;
            }
            Event::SelectionNotify(n) if n.property != NONE => {
                let reply = c.conn.get_property(true, c.window, n.property, AtomEnum::ANY, 0, 1 << 16);
                let bytes = reply.map_err(x11)?.reply().map_err(x11)?.value;
                if finish {
                    c.send(source, a.XdndFinished, [1, a.XdndActionCopy, 0, 0])?;
                    // A round trip before this connection closes: closed at once, the server
                    // could drop the message (one run in two).
                    c.conn.get_input_focus().map_err(x11)?.reply().map_err(x11)?;
                }
                let text = String::from_utf8_lossy(&bytes).into_owned();
                let path = text.lines().next().unwrap_or("").trim().trim_start_matches("file://").to_string();
                return Ok(PathBuf::from(percent_decode(&path)));
            }
            Event::SelectionNotify(_) => return Err("the editor gave no file for the drop".into()),
            _ => {}
        }
    }
    Err("nothing was dropped on the target within a minute".into())
}

/// `%20` and its kind back to bytes.
fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let (mut out, mut i) = (Vec::new(), 0);
    while i < b.len() {
        let hex = (b[i] == b'%' && i + 2 < b.len())
            .then(|| u8::from_str_radix(&s[i + 1..i + 3], 16).ok())
            .flatten();
        match hex {
            Some(v) => (out.push(v), i += 3),
            None => (out.push(b[i]), i += 1),
        };
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Presses the left button at `from`, moves the pointer to `to` in small steps as a hand
/// would, and lets go there (XTEST: the editor sees a real drag).
fn drive_pointer(from: (i16, i16), to: (i16, i16)) -> Result<(), String> {
    let c = Client::new(None)?;
    let fake = |kind: u8, detail: u8, (x, y): (i16, i16)| -> Result<(), String> {
        c.conn.xtest_fake_input(kind, detail, CURRENT_TIME, c.root, x, y, 0).map_err(x11)?;
        c.conn.flush().map_err(x11)
    };
    let pause = |ms| std::thread::sleep(Duration::from_millis(ms));
    fake(MOTION_NOTIFY_EVENT, 0, from)?;
    pause(500);
    fake(BUTTON_PRESS_EVENT, 1, from)?;
    pause(200);
    let steps = 40;
    for i in 1..=steps {
        let along = |a: i16, b: i16| a + ((b - a) as i32 * i / steps) as i16;
        fake(MOTION_NOTIFY_EVENT, 0, (along(from.0, to.0), along(from.1, to.1)))?;
        pause(30);
    }
    // Over the target a while, moving a little, as a hand does.
    for i in 0..10 {
        fake(MOTION_NOTIFY_EVENT, 0, (to.0 + i % 2, to.1))?;
        pause(50);
    }
    fake(BUTTON_RELEASE_EVENT, 1, to)?;
    // A round trip: the server has taken the release before this connection closes.
    c.conn.get_input_focus().map_err(x11)?.reply().map_err(x11)?;
    Ok(())
}
