//! The HTML package of a reviewer with 1,000 items, rendered by headless
//! Chromium: the screenshot shows the chart of grants per month, then the
//! table's header band and its striped rows.
//!
//! Chromium comes from Debian's `chromium` package. Without it the test
//! reports that it was skipped, unless `CI` is set, where it fails.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use idaudit_store::{AppRow, AppUserRow, DirectorySnapshot, Store, UserRow};

use crate::{EMOJI, SCRIPT};

/// The header background and the even-row stripe of `package.html`.
const HEADER: [u8; 3] = [0xdd, 0xe3, 0xea];
const STRIPE: [u8; 3] = [0xf6, 0xf8, 0xfa];
/// The bar colour of the charts.
const BAR: [u8; 3] = [0x3b, 0x6e, 0xa5];
const ITEMS: usize = 1000;

fn find_chromium() -> Option<PathBuf> {
    ["/usr/bin/chromium", "/usr/bin/chromium-browser"]
        .iter()
        .map(PathBuf::from)
        .find(|path| path.exists())
}

/// Builds a store with one manager whose 100 reports each have 10 apps,
/// which makes 1,000 items for one reviewer.
fn store_with_items(folder: &Path) -> Store {
    let mut store = Store::open(folder.join("idaudit.db")).unwrap();
    let now = idaudit_store::format_time(chrono::Utc::now());
    let mut users = vec![UserRow {
        id: "00uboss".to_string(),
        status: "ACTIVE".to_string(),
        login: "boss@example.com".to_string(),
        last_login: Some(now.clone()),
        raw: "{}".to_string(),
        ..UserRow::default()
    }];
    for index in 0..ITEMS / 10 {
        let first = if index % 10 == 0 { SCRIPT } else { EMOJI };
        users.push(UserRow {
            id: format!("00u{index:04}"),
            status: "ACTIVE".to_string(),
            login: format!("user{index:04}@example.com"),
            first_name: Some(first.to_string()),
            manager_id: Some("00uboss".to_string()),
            last_login: Some(now.clone()),
            raw: "{}".to_string(),
            ..UserRow::default()
        });
    }
    let apps: Vec<AppRow> = (0..10)
        .map(|index| AppRow {
            id: format!("0oa{index}"),
            name: format!("app{index}"),
            label: format!("App {index}"),
            status: "ACTIVE".to_string(),
            raw: "{}".to_string(),
            ..AppRow::default()
        })
        .collect();
    // The second half of the users got their access over the twelve months
    // of 2025, for the chart above the table. The dates widen the table's
    // "Granted" column, so rows wrap to three lines and the screenshot is
    // 3,200 pixels high to show 20 of them below the chart.
    let mut app_users = Vec::new();
    for (app_index, app) in apps.iter().enumerate() {
        for (user_index, user) in users.iter().skip(1).enumerate() {
            let month = (app_index + user_index) % 12 + 1;
            let created =
                (user_index >= ITEMS / 20).then(|| format!("2025-{month:02}-15T09:00:00.000Z"));
            app_users.push(AppUserRow {
                app_id: app.id.clone(),
                user_id: user.id.clone(),
                scope: "USER".to_string(),
                created,
                raw: "{}".to_string(),
                ..AppUserRow::default()
            });
        }
    }
    let snapshot = DirectorySnapshot {
        users,
        apps,
        app_users,
        ..DirectorySnapshot::default()
    };
    store.replace_directory("org", &snapshot).unwrap();
    store
}

/// Runs Chromium for at most 90 s and returns whether it wrote the screenshot.
fn screenshot(chromium: &Path, page: &Path, png: &Path, profile: &Path) -> bool {
    let mut child = Command::new(chromium)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--hide-scrollbars",
            "--window-size=1280,3200",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg(format!("--screenshot={}", png.display()))
        .arg(format!("file://{}", page.display()))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(90) {
        if child.try_wait().unwrap().is_some() {
            return png.exists();
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    false
}

/// Decodes an RGB or RGBA PNG into rows of RGB pixels.
fn decode(path: &Path) -> Vec<Vec<[u8; 3]>> {
    let decoder = png::Decoder::new(std::fs::File::open(path).unwrap());
    let mut reader = decoder.read_info().unwrap();
    let mut buffer = vec![0; reader.output_buffer_size()];
    let info = reader.next_frame(&mut buffer).unwrap();
    let channels = match info.color_type {
        png::ColorType::Rgb => 3,
        png::ColorType::Rgba => 4,
        other => panic!("unexpected PNG colour type {other:?}"),
    };
    assert_eq!(info.bit_depth, png::BitDepth::Eight);
    buffer[..info.buffer_size()]
        .chunks(info.line_size)
        .map(|line| {
            line.chunks(channels)
                .map(|pixel| [pixel[0], pixel[1], pixel[2]])
                .collect()
        })
        .collect()
}

/// Returns the runs of consecutive pixel rows that have at least 200
/// pixels of `colour`, as (first row, height). Text in the cells leaves
/// enough background on every pixel row of a table row, while the 1-pixel
/// borders between table rows end a run.
fn bands(image: &[Vec<[u8; 3]>], colour: [u8; 3]) -> Vec<(usize, usize)> {
    let mut runs: Vec<(usize, usize)> = Vec::new();
    for (y, row) in image.iter().enumerate() {
        let matching = row.iter().filter(|pixel| **pixel == colour).count();
        if matching < 200 {
            continue;
        }
        match runs.last_mut() {
            Some((start, height)) if *start + *height == y => *height += 1,
            _ => runs.push((y, 1)),
        }
    }
    runs
}

#[test]
fn html_package_renders_in_chromium() {
    let Some(chromium) = find_chromium() else {
        assert!(
            std::env::var_os("CI").is_none(),
            "chromium is missing: CI installs Debian's `chromium` package"
        );
        eprintln!("skipped: chromium is not installed (apt-get install chromium)");
        return;
    };
    let folder = tempfile::tempdir().unwrap();
    let mut store = store_with_items(folder.path());
    let started = idaudit_review::start_campaign(&mut store, "org", "Q4", &[]).unwrap();
    assert_eq!(started.items, ITEMS as u64);
    let out = folder.path().join("packages");
    let (_, packages) = idaudit_review::export_campaign(&store, Some(started.id), &out).unwrap();
    assert_eq!(packages.len(), 1);
    assert_eq!(packages[0].items, ITEMS);

    let png = folder.path().join("page.png");
    let profile = folder.path().join("chromium-profile");
    assert!(
        screenshot(&chromium, &packages[0].html, &png, &profile),
        "chromium wrote no screenshot"
    );
    let image = decode(&png);
    assert_eq!(image.len(), 3200, "screenshot height");
    assert_eq!(image[0].len(), 1280, "screenshot width");

    // The header is one band of its colour, and the striped rows follow it.
    let header = bands(&image, HEADER);
    assert_eq!(header.len(), 1, "header bands: {header:?}");
    let (header_top, header_height) = header[0];
    assert!(header_height >= 15, "header band {header_height} px high");
    // The chart of grants per month is drawn above the table.
    let chart_pixels = image[..header_top]
        .iter()
        .flatten()
        .filter(|pixel| **pixel == BAR)
        .count();
    assert!(
        chart_pixels > 1000,
        "{chart_pixels} chart bar pixels above the table"
    );
    let stripes = bands(&image, STRIPE);
    let below: Vec<_> = stripes
        .iter()
        .filter(|(top, _)| *top > header_top + header_height)
        .collect();
    assert!(
        below.len() >= 20,
        "{} striped rows visible: {below:?}",
        below.len()
    );
    assert!(
        below.iter().all(|(_, height)| (10..200).contains(height)),
        "striped rows of unexpected height: {below:?}"
    );
    // Stripes alternate with white rows, so each starts well after the last ended.
    assert!(
        below
            .windows(2)
            .all(|pair| pair[1].0 > pair[0].0 + pair[0].1 + 5),
        "stripes do not alternate: {below:?}"
    );
}
