//! Dragging the variation out of the window onto a DAW track or the desktop. baseview, under the
//! editor, receives drops but cannot start a drag, so on X11 a connection of our own plays the
//! XDND source (freedesktop.org's XDND protocol, version 5) on a thread of its own while the
//! mouse button is down: it follows the pointer, offers the file as `text/uri-list` to the
//! window under it, and drops it there when the button is let go. It needs no pointer grab (the
//! editor's window holds the button's), so the pointer is read, not captured. Elsewhere (macOS,
//! Windows, Wayland without X) the handle says so and Export stays.

use std::path::PathBuf;

use crossbeam_channel::Receiver;

/// How a drag ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(not(target_os = "linux"), allow(dead_code))]
pub enum Outcome {
    /// The window under the pointer took the file and said it was done with it.
    Dropped,
    /// The button was let go over a window that refused the file (or never answered).
    Refused,
    /// The button was let go over the editor itself or over no window that takes drops.
    Cancelled,
}

/// Why dragging out cannot work here; `None` where it can.
pub fn unavailable() -> Option<&'static str> {
    if cfg!(target_os = "linux") {
        std::env::var_os("DISPLAY").is_none().then_some("needs an X11 display")
    } else {
        Some("is not available on this system yet")
    }
}

/// Starts dragging `file` (written already) from where the pointer is, with the mouse button
/// held; the outcome arrives on the receiver when the button is let go.
pub fn start(file: PathBuf) -> Receiver<Result<Outcome, String>> {
    let (tx, rx) = crossbeam_channel::bounded(1);
    std::thread::spawn(move || {
        #[cfg(target_os = "linux")]
        let outcome = xdnd::drag(&file);
        #[cfg(not(target_os = "linux"))]
        let outcome = Err(format!("dragging {} out is not available on this system", file.display()));
        let _ = tx.send(outcome);
    });
    rx
}

/// `file` as a `text/uri-list` entry: `file://` and the path, percent-encoded.
#[cfg_attr(not(target_os = "linux"), allow(dead_code))]
pub fn file_uri(file: &std::path::Path) -> String {
    let mut uri = String::from("file://");
    for &b in file.as_os_str().as_encoded_bytes() {
        if b.is_ascii_alphanumeric() || b"/-_.~".contains(&b) {
            uri.push(b as char);
        } else {
            uri.push_str(&format!("%{b:02X}"));
        }
    }
    uri + "\r\n"
}

#[cfg(target_os = "linux")]
mod xdnd {
    use std::path::Path;
    use std::time::{Duration, Instant};

    use x11rb::connection::Connection;
    use x11rb::protocol::xproto::{
        Atom, AtomEnum, ClientMessageEvent, ConnectionExt, CreateWindowAux, EventMask, KeyButMask, PropMode,
        SelectionNotifyEvent, SelectionRequestEvent, Window, WindowClass, SELECTION_NOTIFY_EVENT,
    };
    use x11rb::protocol::Event;
    use x11rb::rust_connection::RustConnection;
    use x11rb::wrapper::ConnectionExt as _;
    use x11rb::{CURRENT_TIME, NONE};

    use super::{file_uri, Outcome};

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
            TARGETS,
            URI_LIST: b"text/uri-list",
        }
    }

    /// The protocol version spoken (the newest; targets may speak older ones down to 3).
    const VERSION: u32 = 5;
    /// How often the pointer is read.
    const TICK: Duration = Duration::from_millis(10);
    /// How long a target may take to answer a drop before the drag is given up.
    const PATIENCE: Duration = Duration::from_secs(10);

    type Result<T> = std::result::Result<T, String>;

    fn x11(e: impl std::fmt::Display) -> String {
        format!("X11: {e}")
    }

    /// The source's side of one drag.
    struct Source {
        /// Our connection to the X server.
        conn: RustConnection,
        /// Its atoms.
        atoms: Atoms,
        /// The root window of the pointer's screen.
        root: Window,
        /// Our own (never mapped) window: owner of the XDND selection, sender of the messages.
        window: Window,
        /// The file offered, as a `text/uri-list`.
        uri: String,
        /// The window the drag is over (one that takes XDND drops), if any.
        target: Option<Window>,
        /// Whether the target accepts the drop, as its last status said.
        accepted: bool,
        /// A position was sent and its status has not come yet.
        waiting: bool,
        /// The last position sent (root coordinates).
        sent: Option<(i16, i16)>,
        /// The target's answer to the drop (whether it took the file), once it came.
        finished: Option<bool>,
        /// Whether a target fetched the file's URI (it has the file, whatever it answers).
        handed: bool,
    }

    /// Drags `file` from the pointer, the mouse button held, until it is let go.
    pub fn drag(file: &Path) -> Result<Outcome> {
        let (conn, screen) = x11rb::connect(None).map_err(x11)?;
        let root = conn.setup().roots[screen].root;
        let atoms = Atoms::new(&conn).map_err(x11)?.reply().map_err(x11)?;
        let window = conn.generate_id().map_err(x11)?;
        let aux = CreateWindowAux::new();
        conn.create_window(0, window, root, -10, -10, 1, 1, 0, WindowClass::INPUT_ONLY, 0, &aux)
            .map_err(x11)?;
        conn.change_property32(
            PropMode::REPLACE,
            window,
            atoms.XdndTypeList,
            AtomEnum::ATOM,
            &[atoms.URI_LIST],
        )
        .map_err(x11)?;
        conn.set_selection_owner(window, atoms.XdndSelection, CURRENT_TIME).map_err(x11)?;
        conn.flush().map_err(x11)?;
        let mut source = Source {
            conn,
            atoms,
            root,
            window,
            uri: file_uri(file),
            target: None,
            accepted: false,
            waiting: false,
            sent: None,
            finished: None,
            handed: false,
        };
        source.run()
    }

    impl Source {
        fn run(&mut self) -> Result<Outcome> {
            // The window under the pointer where the drag starts: the editor's own.
            let own = self.under()?.1;
            loop {
                self.events()?;
                let pointer = self.conn.query_pointer(self.root).map_err(x11)?.reply().map_err(x11)?;
                let (target, leaf) = self.under()?;
                self.go_over(if leaf == own { None } else { target })?;
                let at = (pointer.root_x, pointer.root_y);
                if self.target.is_some() && !self.waiting && self.sent != Some(at) {
                    self.position(at)?;
                }
                if !pointer.mask.contains(KeyButMask::BUTTON1) {
                    return self.let_go();
                }
                std::thread::sleep(TICK);
            }
        }

        /// The button is up: drop where the target accepts, else leave it.
        fn let_go(&mut self) -> Result<Outcome> {
            let Some(target) = self.target else { return Ok(Outcome::Cancelled) };
            // The status of the last position may still be on its way.
            self.wait(|s| !s.waiting)?;
            if !self.accepted {
                self.send(target, self.atoms.XdndLeave, [0; 4])?;
                return Ok(Outcome::Refused);
            }
            self.send(target, self.atoms.XdndDrop, [0, CURRENT_TIME, 0, 0])?;
            self.wait(|s| s.finished.is_some())?;
            // A target that fetched the file but never finished (closed, or its message lost)
            // may have taken it: the file stays.
            let taken = self.finished == Some(true) || (self.finished.is_none() && self.handed);
            Ok(if taken { Outcome::Dropped } else { Outcome::Refused })
        }

        /// Serves events until `done` or `PATIENCE` has passed.
        fn wait(&mut self, done: impl Fn(&Self) -> bool) -> Result<()> {
            let start = Instant::now();
            while !done(self) && start.elapsed() < PATIENCE {
                self.events()?;
                std::thread::sleep(TICK);
            }
            Ok(())
        }

        /// The outermost window under the pointer that takes XDND drops, and the innermost
        /// window under it.
        fn under(&self) -> Result<(Option<Window>, Window)> {
            let (mut w, mut aware) = (self.root, None);
            loop {
                let child = self.conn.query_pointer(w).map_err(x11)?.reply().map_err(x11)?.child;
                if child == NONE {
                    return Ok((aware, w));
                }
                if aware.is_none() && self.is_aware(child)? {
                    aware = Some(child);
                }
                w = child;
            }
        }

        fn is_aware(&self, w: Window) -> Result<bool> {
            let reply = self.conn.get_property(false, w, self.atoms.XdndAware, AtomEnum::ATOM, 0, 1);
            let reply = reply.map_err(x11)?.reply().map_err(x11)?;
            Ok(reply.value32().and_then(|mut v| v.next()).is_some_and(|version| version >= 3))
        }

        /// Leaves the window the drag was over and enters `target`, where they differ.
        fn go_over(&mut self, target: Option<Window>) -> Result<()> {
            if target == self.target {
                return Ok(());
            }
            if let Some(old) = self.target {
                self.send(old, self.atoms.XdndLeave, [0; 4])?;
            }
            (self.target, self.accepted, self.waiting, self.sent) = (target, false, false, None);
            if let Some(new) = target {
                self.send(new, self.atoms.XdndEnter, [VERSION << 24, self.atoms.URI_LIST, 0, 0])?;
            }
            Ok(())
        }

        fn position(&mut self, (x, y): (i16, i16)) -> Result<()> {
            let Some(target) = self.target else { return Ok(()) };
            let xy = ((x as u16 as u32) << 16) | y as u16 as u32;
            self.send(target, self.atoms.XdndPosition, [0, xy, CURRENT_TIME, self.atoms.XdndActionCopy])?;
            (self.waiting, self.sent) = (true, Some((x, y)));
            Ok(())
        }

        /// An XDND message to `to`: our window, then `data`.
        fn send(&self, to: Window, kind: Atom, data: [u32; 4]) -> Result<()> {
            let message =
                ClientMessageEvent::new(32, to, kind, [self.window, data[0], data[1], data[2], data[3]]);
            self.conn.send_event(false, to, EventMask::NO_EVENT, message).map_err(x11)?;
            self.conn.flush().map_err(x11)
        }

        /// Handles what came: the target's status and end, and its request for the file.
        fn events(&mut self) -> Result<()> {
            while let Some(event) = self.conn.poll_for_event().map_err(x11)? {
                match event {
                    Event::ClientMessage(m) if m.type_ == self.atoms.XdndStatus => {
                        let d = m.data.as_data32();
                        if Some(d[0]) == self.target {
                            (self.accepted, self.waiting) = (d[1] & 1 == 1, false);
                        }
                    }
                    Event::ClientMessage(m) if m.type_ == self.atoms.XdndFinished => {
                        let d = m.data.as_data32();
                        // Version 5 says whether it took the file; older targets only finish.
                        self.finished = Some(d[1] & 1 == 1 || d[2] != NONE);
                    }
                    Event::SelectionRequest(request) => self.handed |= self.answer(&request)?,
                    _ => {}
                }
            }
            Ok(())
        }

        /// Hands the file's URI to a window that asks for the selection; whether it did.
        fn answer(&self, request: &SelectionRequestEvent) -> Result<bool> {
            let property = if request.property == NONE { request.target } else { request.property };
            let (to, conn) = (request.requestor, &self.conn);
            let given = if request.target == self.atoms.URI_LIST {
                let bytes = self.uri.as_bytes();
                conn.change_property8(PropMode::REPLACE, to, property, self.atoms.URI_LIST, bytes)
                    .map_err(x11)?;
                property
            } else if request.target == self.atoms.TARGETS {
                let targets = [self.atoms.TARGETS, self.atoms.URI_LIST];
                conn.change_property32(PropMode::REPLACE, to, property, AtomEnum::ATOM, &targets)
                    .map_err(x11)?;
                property
            } else {
                NONE
            };
            let notify = SelectionNotifyEvent {
                response_type: SELECTION_NOTIFY_EVENT,
                sequence: 0,
                time: request.time,
                requestor: to,
                selection: request.selection,
                target: request.target,
                property: given,
            };
            conn.send_event(false, to, EventMask::NO_EVENT, notify).map_err(x11)?;
            conn.flush().map_err(x11)?;
            Ok(request.target == self.atoms.URI_LIST)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_path_becomes_a_file_uri() {
        let uri = file_uri(std::path::Path::new("/home/me/SinTra exports/bwv 227 (1).mid"));
        assert_eq!(uri, "file:///home/me/SinTra%20exports/bwv%20227%20%281%29.mid\r\n");
    }
}
