//! `cargo xtask screenshots`: the standalone editor under Xvfb, one PNG per main state.

use std::path::Path;
use std::time::Duration;

use x11rb::connection::Connection;
use x11rb::protocol::xproto::{ConnectionExt, ImageFormat};

use crate::display::{self, x11, Editor};

/// The virtual display.
const DISPLAY: &str = ":77";
/// The clip the trained and generated states learn.
const CLIP: &str = "assets/bwv227-1_4track_ts44.mid";
/// Longest wait for a state (training in a release build takes seconds).
const PATIENCE: Duration = Duration::from_secs(300);

/// One screenshot: its name, the standalone's options, the log line that says it is there,
/// and how long to let the window paint after it.
struct Shot {
    name: &'static str,
    args: &'static [&'static str],
    ready: Option<&'static str>,
    settle: Duration,
}

const SHOTS: [Shot; 5] = [
    Shot { name: "empty", args: &[], ready: None, settle: Duration::from_secs(3) },
    // Mid-training: a second into the second stage, the first stage's curve complete.
    Shot {
        name: "training",
        args: &["--open", CLIP, "--no-generate"],
        ready: Some("SinTra: training stage 2 of 3"),
        settle: Duration::from_secs(1),
    },
    Shot {
        name: "trained",
        args: &["--open", CLIP, "--no-generate"],
        ready: Some("SinTra: trained in"),
        settle: Duration::from_secs(3),
    },
    Shot {
        name: "generated",
        args: &["--open", CLIP],
        ready: Some("SinTra: generated"),
        settle: Duration::from_secs(3),
    },
    // A producer's controls: the bass kept, bars 5-8 selected for a redraw, each generated
    // bar's closeness to the clip on the ruler.
    Shot {
        name: "producer",
        args: &["--open", CLIP, "--keep", "4", "--select", "5:8"],
        ready: Some("SinTra: generated"),
        settle: Duration::from_secs(3),
    },
];

pub fn run() -> Result<(), String> {
    let root = display::root()?;
    let exe = display::build(&root, "sintra-standalone")?;
    let out = root.join("target/screenshots");
    std::fs::create_dir_all(&out).map_err(|e| format!("{}: {e}", out.display()))?;
    let _xvfb = display::xvfb(DISPLAY)?;
    for shot in &SHOTS {
        let path = out.join(format!("{}.png", shot.name));
        take(&root, &exe, shot, &path)?;
        println!("wrote {}", path.display());
    }
    Ok(())
}

/// Starts the standalone, waits for the state, saves its window.
fn take(root: &Path, exe: &Path, shot: &Shot, path: &Path) -> Result<(), String> {
    let editor = Editor::start(root, exe, shot.args, DISPLAY)?;
    if let Some(marker) = shot.ready {
        editor.wait_for(marker, PATIENCE).map_err(|e| format!("{}: {e}", shot.name))?;
    }
    // Time to map the window and paint the state.
    std::thread::sleep(shot.settle);
    capture(path)
}

/// Saves the largest window on the display as a PNG.
fn capture(path: &Path) -> Result<(), String> {
    let (conn, screen) = x11rb::connect(Some(DISPLAY)).map_err(x11)?;
    let root = conn.setup().roots[screen].root;
    let (_, g) = display::largest_window(&conn, screen)?;
    let image = conn
        .get_image(ImageFormat::Z_PIXMAP, root, g.x, g.y, g.width, g.height, !0)
        .map_err(x11)?
        .reply()
        .map_err(x11)?;
    // Depth 24 in 32-bit little-endian pixels: B, G, R, unused.
    let rgb: Vec<u8> = image.data.chunks_exact(4).flat_map(|p| [p[2], p[1], p[0]]).collect();
    // A window that never painted is one flat colour; the editor has hundreds.
    let colours: std::collections::HashSet<&[u8]> = rgb.chunks_exact(3).collect();
    if colours.len() < 50 {
        return Err(format!(
            "{}: the window shows {} colours: it did not paint",
            path.display(),
            colours.len()
        ));
    }
    let file = std::fs::File::create(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut png = png::Encoder::new(std::io::BufWriter::new(file), g.width as u32, g.height as u32);
    png.set_color(png::ColorType::Rgb);
    png.set_depth(png::BitDepth::Eight);
    let mut writer = png.write_header().map_err(|e| format!("{}: {e}", path.display()))?;
    writer.write_image_data(&rgb).map_err(|e| format!("{}: {e}", path.display()))
}
