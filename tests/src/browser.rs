//! A real headless browser for the web UI's tests: Debian's `chromium` driven through
//! `chromedriver` (WebDriver) by fantoccini. The driver listens on a free port of
//! 127.0.0.1 and is killed when the `Browser` drops; the browser profile is a temp dir.
//!
//! `WHARF_SCREENSHOTS=DIR` makes [`Browser::screenshot`] write PNGs there (the README's
//! pictures come from `WHARF_SCREENSHOTS=docs/screenshots`); otherwise it only checks
//! that one can be taken.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::json;

pub struct Browser {
    pub client: Client,
    /// Taken by `close`; a browser dropped without it is stopped by `Drop`.
    driver: Option<Child>,
    _profile: tempfile::TempDir,
}

/// A laptop's window and a phone's.
pub const LAPTOP: (u32, u32) = (1280, 900);
pub const PHONE: (u32, u32) = (390, 844);

impl Browser {
    /// Starts chromedriver and a headless chromium; `None` (skip) when they are not
    /// installed, a failure under `CI=true`.
    pub async fn start() -> Option<Self> {
        if !crate::require_tool("chromium") || !crate::require_tool("chromedriver") {
            return None;
        }
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let driver = Command::new("chromedriver")
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver starts");
        let profile = tempfile::tempdir().unwrap();
        let capabilities = json!({
            "goog:chromeOptions": {
                "args": [
                    "--headless=new", "--no-sandbox", "--disable-gpu",
                    "--disable-dev-shm-usage", "--no-first-run",
                    format!("--window-size={},{}", LAPTOP.0, LAPTOP.1),
                    format!("--user-data-dir={}", profile.path().display()),
                ],
            }
        });
        let capabilities = match capabilities {
            serde_json::Value::Object(map) => map,
            _ => unreachable!(),
        };
        let url = format!("http://127.0.0.1:{port}");
        let deadline = Instant::now() + Duration::from_secs(20);
        let mut driver = Some(driver);
        let client = loop {
            let attempt = ClientBuilder::new(HttpConnector::new())
                .capabilities(capabilities.clone())
                .connect(&url)
                .await;
            match attempt {
                Ok(client) => break client,
                Err(e) if Instant::now() > deadline => {
                    let _ = driver.take().map(|mut d| d.kill());
                    panic!("chromedriver on {url} did not start a browser: {e}")
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(200)).await,
            }
        };
        Some(Self {
            client,
            driver,
            _profile: profile,
        })
    }

    pub async fn goto(&self, url: &str) {
        self.client.goto(url).await.expect("the page loads");
    }

    /// The text of the first element `css` finds.
    pub async fn text(&self, css: &str) -> String {
        let element = self.client.find(Locator::Css(css)).await;
        let element = element.unwrap_or_else(|e| panic!("no {css} on the page: {e}"));
        element.text().await.unwrap()
    }

    /// How many elements `css` finds.
    pub async fn count(&self, css: &str) -> usize {
        self.client.find_all(Locator::Css(css)).await.unwrap().len()
    }

    /// The whole page's visible text.
    pub async fn page_text(&self) -> String {
        self.text("body").await
    }

    /// Types `value` into the field `css`.
    pub async fn fill(&self, css: &str, value: &str) {
        let field = self.client.find(Locator::Css(css)).await.unwrap();
        field.clear().await.unwrap();
        field.send_keys(value).await.unwrap();
    }

    /// Clicks the element `css` (a link or a button) and waits for the next page.
    pub async fn click(&self, css: &str) {
        let element = self.client.find(Locator::Css(css)).await;
        let element = element.unwrap_or_else(|e| panic!("no {css} to click: {e}"));
        self.navigating(element).await;
    }

    /// Follows the link whose text is `text` and waits for the next page.
    pub async fn follow(&self, text: &str) {
        let link = self.client.find(Locator::LinkText(text)).await;
        let link = link.unwrap_or_else(|e| panic!("no link {text:?}: {e}"));
        self.navigating(link).await;
    }

    /// Clicks `element` and waits until the page it was on is gone: WebDriver's click
    /// returns before a form's answer has loaded, and reading the page then would read
    /// the old one or fail half-way.
    async fn navigating(&self, element: fantoccini::elements::Element) {
        let old = self.client.find(Locator::Css("html")).await.unwrap();
        element.click().await.unwrap();
        let deadline = Instant::now() + Duration::from_secs(20);
        while old.tag_name().await.is_ok() {
            assert!(Instant::now() < deadline, "the click did not load a page");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        // The new document exists; wait until it has loaded.
        while self.client.find(Locator::Css("footer")).await.is_err() {
            assert!(Instant::now() < deadline, "the page did not finish loading");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    pub async fn resize(&self, (width, height): (u32, u32)) {
        self.client.set_window_size(width, height).await.unwrap();
    }

    /// Takes a screenshot of the page; kept as `name.png` under `WHARF_SCREENSHOTS`.
    pub async fn screenshot(&self, name: &str) {
        let png = self.client.screenshot().await.expect("a screenshot");
        assert!(png.starts_with(b"\x89PNG"), "a PNG");
        if let Some(dir) = std::env::var_os("WHARF_SCREENSHOTS").map(PathBuf::from) {
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(dir.join(format!("{name}.png")), png).unwrap();
        }
    }

    /// Ends the browser session and the driver.
    pub async fn close(mut self) {
        let _ = self.client.clone().close().await;
        if let Some(mut driver) = self.driver.take() {
            let _ = driver.kill();
            let _ = driver.wait();
        }
    }
}

impl Drop for Browser {
    /// A test that failed before `close`: SIGTERM lets chromedriver end its browser
    /// (a SIGKILL would leave chromium running).
    fn drop(&mut self) {
        if let Some(mut driver) = self.driver.take() {
            let _ = Command::new("kill")
                .args(["-TERM", &driver.id().to_string()])
                .status();
            let _ = driver.wait();
        }
    }
}
