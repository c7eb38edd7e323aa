//! The console in a real browser: headless Chromium (Debian's `chromium`)
//! driven through `chromedriver` (Debian's `chromium-driver`) against the
//! real `activator serve`. `.ci/run` installs both; without them this test
//! fails, it never skips.
//!
//! Screenshots of every page, at 1280×800 and 390×844, are written to
//! `target/console-screenshots/`.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use license_tests::service::{Served, token};
use license_tests::{Install, Vendor, workspace};

const SECRET: &str = "sk-console-secret-93e1b7";
const SIZES: [(u32, u32); 2] = [(1280, 800), (390, 844)];

struct Driver {
    child: Child,

    _profile: tempfile::TempDir,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// Starts chromedriver and a headless Chromium session.
async fn browser() -> (Driver, Client) {
    let port = free_port();
    let child = Command::new("chromedriver")
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("chromedriver (Debian's chromium-driver package; .ci/run installs it)");
    let url = format!("http://127.0.0.1:{port}");
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "chromedriver did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    let profile = tempfile::tempdir().unwrap();
    let chromium =
        ["/usr/bin/chromium", "/usr/bin/chromium-browser"].into_iter().find(|p| std::path::Path::new(p).exists());
    let mut options = serde_json::json!({
        "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-quic",
                 "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--lang=en-US", "--window-size=1280,800",
                 format!("--user-data-dir={}", profile.path().display())],
        "prefs": {"intl.accept_languages": "en-US,en"},
    });
    if let Some(path) = chromium {
        options["binary"] = path.into();
    }
    let mut caps = serde_json::Map::new();
    caps.insert("goog:chromeOptions".into(), options);
    let client = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
        .capabilities(caps)
        .connect(&url)
        .await
        .expect("a Chromium session");
    (Driver { child, _profile: profile }, client)
}

fn shots() -> PathBuf {
    let dir = workspace().join("target/console-screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Screenshots of the page as it is, at both sizes.
async fn snap(c: &Client, name: &str) {
    for (w, h) in SIZES {
        c.set_window_size(w, h).await.unwrap();
        tokio::time::sleep(Duration::from_millis(150)).await;
        let png = c.screenshot().await.unwrap();
        assert!(png.starts_with(b"\x89PNG"), "a PNG");
        std::fs::write(shots().join(format!("{name}-{w}x{h}.png")), png).unwrap();
    }
    c.set_window_size(1280, 800).await.unwrap();
}

async fn text(c: &Client, css: &str) -> String {
    c.wait()
        .at_most(Duration::from_secs(10))
        .for_element(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("{css}: {e}"))
        .text()
        .await
        .unwrap()
}

/// Waits until `css` matches an element whose text contains `needle`.
async fn until_text(c: &Client, css: &str, needle: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Ok(e) = c.find(Locator::Css(css)).await
            && let Ok(t) = e.text().await
            && t.contains(needle)
        {
            return t;
        }
        assert!(
            Instant::now() < deadline,
            "{css} never said {needle:?}; page: {}",
            c.source().await.unwrap_or_default()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn attr(c: &Client, css: &str, name: &str) -> String {
    let e = c.wait().at_most(Duration::from_secs(10)).for_element(Locator::Css(css)).await.unwrap();
    e.attr(name).await.unwrap().unwrap_or_default()
}

async fn type_into(c: &Client, css: &str, value: &str) {
    let e = c.find(Locator::Css(css)).await.unwrap();
    e.clear().await.unwrap();
    e.send_keys(value).await.unwrap();
}

/// The license as an e-mail client quotes it: a greeting, `> ` before every
/// line, CRLF line ends.
fn mangled(armored: &str) -> String {
    let mut out = String::from("On Tue, the vendor wrote:\r\n");
    for line in armored.lines() {
        out.push_str("> ");
        out.push_str(line);
        out.push_str("\r\n");
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operator_signs_in_activates_through_the_dialog_and_sees_the_license() {
    let vendor = Vendor::new();
    let install = Install::new(&vendor);
    let admin = token(&install.state, "admin");
    let collector = token(&install.state, "collector");
    let served = Served::start(&install.state, &[]);
    let license_file = vendor.dir.path().join("console.lic");
    let license = vendor.issue(&["--plan", "pay_as_you_go", "--out", license_file.to_str().unwrap()]);
    assert!(license.contains("wrote license"), "{license}");
    let armored = std::fs::read_to_string(&license_file).unwrap();

    let (_driver, c) = browser().await;
    c.goto(&format!("{}/console/", served.base)).await.unwrap();
    until_text(&c, "h1", "Sign in").await;
    snap(&c, "1-sign-in").await;
    type_into(&c, "#token", &admin).await;
    c.find(Locator::Css("#signin-submit")).await.unwrap().click().await.unwrap();
    until_text(&c, "#ov-state", "Community edition").await;
    assert_eq!(attr(&c, "#ov-state", "data-state").await, "community");
    snap(&c, "2-overview-community").await;

    // The activation dialog.
    c.find(Locator::Css("#nav-activate")).await.unwrap().click().await.unwrap();
    c.wait().for_element(Locator::Css("#license")).await.unwrap();
    c.find(Locator::Css("#license")).await.unwrap().send_keys(&mangled(&armored)).await.unwrap();
    type_into(&c, "#ak", "AKID-CONSOLE").await;
    type_into(&c, "#sk", SECRET).await;
    // A real token typed in is refused inline, before anything is sent.
    type_into(&c, "#gateway", "https://gw.example.com/v1/write?token=tkn_live_0123456789").await;
    let refusal = until_text(&c, "#gw-bad", "token").await;
    assert!(refusal.to_lowercase().contains("placeholder") || refusal.contains("{}"), "{refusal}");
    c.execute("document.getElementById('gateway').scrollIntoView({block: 'center'})", vec![]).await.unwrap();
    snap(&c, "3-activate-gateway-refused").await;
    // %7B%7D is the placeholder, percent-encoded; whitespace is flagged.
    type_into(&c, "#gateway", "https://gw.example.com/v1/write?token=%7B%7D").await;
    until_text(&c, "#gw-ok", "?token={}").await;
    type_into(&c, "#gateway", "https://gw.example.com/v1/write?token={} ").await;
    until_text(&c, "#gw-space", "whitespace").await;
    type_into(&c, "#gateway", "https://gw.example.com/v1/write?token={}").await;
    until_text(&c, "#gw-ok", "https://gw.example.com/v1/write?token={}").await;
    snap(&c, "4-activate-ready").await;
    c.find(Locator::Css("#activate-submit")).await.unwrap().click().await.unwrap();

    // The overview shows what the CLI says.
    until_text(&c, "#ov-state", "Active").await;
    let status = install.run(&["status", "--json"], None).json();
    let l = &status["license"];
    assert_eq!(text(&c, "#ov-edition").await, status["edition"].as_str().unwrap());
    assert_eq!(text(&c, "#ov-plan").await, l["plan"].as_str().unwrap());
    assert_eq!(text(&c, "#ov-region").await, l["region"].as_str().unwrap());
    assert_eq!(text(&c, "#ov-engine").await, l["engine"].as_str().unwrap());
    assert_eq!(text(&c, "#ov-account").await, l["account"].as_str().unwrap());
    assert!(text(&c, "#ov-license").await.starts_with(l["id"].as_str().unwrap()));
    assert_eq!(attr(&c, "#ov-expires time", "datetime").await, l["expires_at"].as_str().unwrap());
    assert_eq!(attr(&c, "#ov-activated time", "datetime").await, l["activated_at"].as_str().unwrap());
    assert!(attr(&c, "#ov-expires time", "title").await.ends_with("(UTC)"), "UTC on hover");
    let remaining = text(&c, "#ov-remaining").await;
    let days = l["remaining_seconds"].as_i64().unwrap() / 86_400;
    assert!(remaining.starts_with(&format!("{days} days")), "{remaining} vs {days} days");
    assert!(text(&c, "#ov-packages").await.contains("data_service: api.s1.small (qps 2500)"));
    assert!(text(&c, "#ov-quotas").await.contains("processing_units 40"));
    assert_eq!(text(&c, "#ov-gateway").await, "https://gw.example.com/v1/write?token={}");
    assert_eq!(status["credentials"]["access_key"], "AKID-CONSOLE");
    // The secret key is nowhere in the page, and the session cookie is out of script's reach.
    let source = c.source().await.unwrap();
    assert!(!source.contains(SECRET), "the secret key is in the page");
    assert!(!source.contains(&admin), "the admin token is in the page");
    assert_eq!(c.execute("return document.cookie", vec![]).await.unwrap(), serde_json::json!(""));
    let render = c.execute("return document.body.dataset.renderMs", vec![]).await.unwrap();
    println!("the overview rendered in {render} ms after its data arrived");
    snap(&c, "5-overview-active").await;

    // Switch the language.
    c.find(Locator::Css("#lang")).await.unwrap().click().await.unwrap();
    until_text(&c, "#nav-overview", "概览").await;
    until_text(&c, "#ov-state", "正常").await;
    snap(&c, "6-overview-zh-CN").await;
    // What the API says comes in Chinese too: the gateway's refusal, its
    // notes, and an error with its hint.
    c.find(Locator::Css("#nav-activate")).await.unwrap().click().await.unwrap();
    c.wait().for_element(Locator::Css("#gateway")).await.unwrap();
    type_into(&c, "#gateway", "https://gw.example.com/v1/write?token=tkn_live_0123456789").await;
    let refusal = until_text(&c, "#gw-bad", "真实令牌").await;
    assert!(refusal.contains("`{}`"), "{refusal}");
    type_into(&c, "#gateway", "https://gw.example.com/v1/write?token=%7B%7D").await;
    until_text(&c, "#gw-check", "被识别为占位符").await;
    c.find(Locator::Css("#license")).await.unwrap().send_keys("lic1.AAAA").await.unwrap();
    type_into(&c, "#gateway", "https://gw.example.com/v1/write?token={}").await;
    until_text(&c, "#gw-ok", "?token={}").await;
    c.find(Locator::Css("#activate-submit")).await.unwrap().click().await.unwrap();
    let error = until_text(&c, "#error", "许可证").await;
    assert!(error.contains("处理建议"), "the hint, in Chinese: {error}");
    assert!(error.contains("这不是格式正确的许可证") && error.contains("完整许可证"), "{error}");
    snap(&c, "6b-activate-error-zh-CN").await;
    c.find(Locator::Css("#nav-overview")).await.unwrap().click().await.unwrap();
    c.find(Locator::Css("#lang")).await.unwrap().click().await.unwrap();
    until_text(&c, "#nav-overview", "Overview").await;

    // Usage: collectors check in, the chart and the seats.
    for id in ["dk-1", "dk-2", "dk-3"] {
        served.send("POST", &format!("/v1/collectors/{id}/checkin"), Some(&collector), None).expect(200);
    }
    c.find(Locator::Css("#nav-usage")).await.unwrap().click().await.unwrap();
    c.wait().for_element(Locator::Css("#usage-chart rect.bar")).await.unwrap();
    assert_eq!(text(&c, "#active-now").await, "3");
    // 3 processing units at 6 CNY: the day's charge, and the minimum as a line.
    let table = text(&c, "#usage-table").await;
    assert!(table.contains("18.00 CNY"), "{table}");
    c.find(Locator::Css("#usage-chart line.min")).await.expect("the minimum drawn as a line");
    snap(&c, "7-usage").await;

    // Air gap: the request as a QR code.
    c.find(Locator::Css("#nav-airgap")).await.unwrap().click().await.unwrap();
    c.wait().for_element(Locator::Css("#request-qr")).await.unwrap().click().await.unwrap();
    c.wait().for_element(Locator::Css("#qr-img")).await.unwrap();
    c.find(Locator::Css("#deactivate")).await.unwrap().click().await.unwrap();
    until_text(&c, "#deactivate-confirm", "can never be activated here again").await;
    snap(&c, "8-air-gap").await;

    // History.
    c.find(Locator::Css("#nav-history")).await.unwrap().click().await.unwrap();
    until_text(&c, "#history", l["id"].as_str().unwrap()).await;
    snap(&c, "9-history").await;

    // Signing out ends the session.
    c.find(Locator::Css("#signout")).await.unwrap().click().await.unwrap();
    until_text(&c, "h1", "Sign in").await;
    c.goto(&format!("{}/console/#/overview", served.base)).await.unwrap();
    until_text(&c, "h1", "Sign in").await;
    let log = served.log_text();
    assert!(!log.contains(SECRET) && !log.contains(&admin), "{log}");
    c.close().await.unwrap();
    for n in ["1-sign-in", "5-overview-active", "9-history"] {
        for (w, h) in SIZES {
            assert!(shots().join(format!("{n}-{w}x{h}.png")).exists());
        }
    }
    println!("screenshots in {}", shots().display());
}
