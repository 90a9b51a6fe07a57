//! Builds the web app in `ui/` with Vite into `OUT_DIR/ui`, gzips each text asset, and writes
//! `OUT_DIR/assets.rs`: a table of `include_bytes!` entries the crate serves from memory.
//!
//! It reruns only when the app's sources change. `npm ci` runs when `ui/node_modules` is
//! missing or older than `ui/package-lock.json`. Without npm the binary still builds: it then
//! serves a page saying how to build the app, and cargo prints a warning.
//! `KEEL_UI_DIST=<dir>` embeds an already built app instead (for packagers).

use std::fmt::Write as _;
use std::fs::{self, File};
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Inputs of the UI build, relative to `ui/`.
const INPUTS: &[&str] = &[
    "src",
    "convex",
    "public",
    "index.html",
    "package.json",
    "package-lock.json",
    "vite.config.ts",
    "tsconfig.json",
];

/// Smaller files are not worth a gzip variant.
const GZIP_MIN_BYTES: usize = 1024;

fn main() {
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("set by cargo"));
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("set by cargo"));
    let ui = manifest.join("../../ui");
    for input in INPUTS {
        println!("cargo:rerun-if-changed={}", ui.join(input).display());
    }
    println!("cargo:rerun-if-env-changed=KEEL_UI_DIST");

    let dist = match std::env::var_os("KEEL_UI_DIST") {
        Some(dir) => PathBuf::from(dir),
        None => {
            let dist = out.join("ui");
            if npm_available() {
                build_ui(&ui, &dist);
            } else {
                println!(
                    "cargo:warning=npm not found: the web app is not built; keel will serve a page saying so. Install Node 20 and npm, then rebuild."
                );
                write_placeholder(&dist);
            }
            dist
        }
    };
    compress(&dist);
    write_table(&dist, &out.join("assets.rs"));
}

fn npm_available() -> bool {
    Command::new("npm")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

fn build_ui(ui: &Path, dist: &Path) {
    // Cargo may run this script for several profiles at once; one `npm ci` at a time.
    let lock = File::create(ui.join(".build.lock")).expect("creating ui/.build.lock");
    lock.lock().expect("locking ui/.build.lock");
    if needs_install(ui) {
        run(
            Command::new("npm")
                .args(["ci", "--no-audit", "--no-fund", "--loglevel=error"])
                .current_dir(ui),
            "npm ci in ui/",
        );
    }
    run(
        Command::new("node")
            .arg("node_modules/vite/bin/vite.js")
            .args(["build", "--emptyOutDir", "--logLevel", "warn", "--outDir"])
            .arg(dist)
            .current_dir(ui),
        "vite build in ui/",
    );
}

fn needs_install(ui: &Path) -> bool {
    let installed = modified(&ui.join("node_modules/.package-lock.json"));
    let wanted = modified(&ui.join("package-lock.json"));
    match (installed, wanted) {
        (Some(installed), Some(wanted)) => installed < wanted,
        _ => true,
    }
}

fn modified(path: &Path) -> Option<std::time::SystemTime> {
    fs::metadata(path).and_then(|m| m.modified()).ok()
}

fn run(command: &mut Command, what: &str) {
    let output = command.output().unwrap_or_else(|e| panic!("{what}: {e}"));
    if !output.status.success() {
        panic!(
            "{what} failed ({}):\n{}\n{}",
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }
}

fn write_placeholder(dist: &Path) {
    fs::create_dir_all(dist).expect("creating the placeholder folder");
    fs::write(
        dist.join("index.html"),
        "<!doctype html><html lang=\"en\"><meta charset=\"utf-8\"><title>Keel</title>\
         <body style=\"font-family:system-ui;padding:2rem\"><h1>Keel is running</h1>\
         <p>This binary was built without its web app because npm was not found. Install \
         Node 20 and npm, then run <code>cargo build</code> again.</p>\
         <p>The API is at <code>/api</code>; health at <code>/healthz</code>.</p>\
         <script id=\"keel-config\" type=\"application/json\">{}</script></body></html>",
    )
    .expect("writing the placeholder page");
}

/// Writes `name.gz` beside each text asset worth compressing.
fn compress(dist: &Path) {
    for path in files(dist) {
        if path.extension().is_some_and(|e| e == "gz") || mime(&path).is_none_or(|m| !m.1) {
            continue;
        }
        let body = fs::read(&path).expect("reading an asset");
        if body.len() < GZIP_MIN_BYTES {
            continue;
        }
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        encoder.write_all(&body).expect("gzip");
        let gz = encoder.finish().expect("gzip");
        if gz.len() < body.len() {
            fs::write(gz_path(&path), gz).expect("writing a .gz asset");
        }
    }
}

fn gz_path(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(".gz");
    PathBuf::from(name)
}

fn write_table(dist: &Path, target: &Path) {
    let mut table = String::from("&[\n");
    let mut paths = files(dist);
    paths.sort();
    for path in paths {
        if path.extension().is_some_and(|e| e == "gz") {
            continue;
        }
        let Some((mime, _)) = mime(&path) else {
            println!(
                "cargo:warning=web app: {} has an unknown type, not embedded",
                path.display()
            );
            continue;
        };
        let url = format!(
            "/{}",
            path.strip_prefix(dist)
                .expect("under dist")
                .to_string_lossy()
                .replace('\\', "/")
        );
        let gz = gz_path(&path);
        let gzip = if gz.exists() {
            format!("Some(include_bytes!({:?}))", gz.display().to_string())
        } else {
            "None".to_owned()
        };
        let _ = writeln!(
            table,
            "    Asset {{ path: {url:?}, mime: {mime:?}, body: include_bytes!({:?}), gzip: {gzip} }},",
            path.display().to_string()
        );
    }
    table.push(']');
    fs::write(target, table).expect("writing assets.rs");
}

fn files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let Ok(entries) = fs::read_dir(dir) else {
        return out;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(files(&path));
        } else {
            out.push(path);
        }
    }
    out
}

/// The `Content-Type` of what Vite emits, and whether it is worth compressing.
fn mime(path: &Path) -> Option<(&'static str, bool)> {
    let ext = path.extension()?.to_str()?;
    Some(match ext {
        "html" => ("text/html; charset=utf-8", true),
        "js" | "mjs" => ("text/javascript; charset=utf-8", true),
        "css" => ("text/css; charset=utf-8", true),
        "json" | "map" => ("application/json", true),
        "webmanifest" => ("application/manifest+json", true),
        "svg" => ("image/svg+xml", true),
        "txt" => ("text/plain; charset=utf-8", true),
        "png" => ("image/png", false),
        "ico" => ("image/x-icon", false),
        "woff2" => ("font/woff2", false),
        _ => return None,
    })
}
