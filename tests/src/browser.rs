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

use fantoccini::actions::{InputSource, KeyAction, KeyActions};
use fantoccini::key::Key;
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

    /// The text of every element `css` finds.
    pub async fn texts(&self, css: &str) -> Vec<String> {
        let mut texts = Vec::new();
        for element in self.client.find_all(Locator::Css(css)).await.unwrap() {
            texts.push(element.text().await.unwrap());
        }
        texts
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

    /// Clicks `element` and waits for the next page.
    async fn navigating(&self, element: fantoccini::elements::Element) {
        self.loading(element.click()).await;
    }

    /// Does `action` (a click, a key that submits a form) and waits until the page it
    /// was on is gone: WebDriver returns before a form's answer has loaded, and reading
    /// the page then would read the old one or fail half-way.
    async fn loading<T, E: std::fmt::Debug>(&self, action: impl Future<Output = Result<T, E>>) {
        let old = self.client.find(Locator::Css("html")).await.unwrap();
        action.await.unwrap();
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

    /// Presses and releases `keys` in turn, as typing does, on the focused element.
    pub async fn keys(&self, keys: &str) {
        self.client.perform_actions(typing(keys)).await.unwrap();
    }

    /// Presses `key` (Enter on a form's field) and waits for the page it loads.
    pub async fn key_loading(&self, key: Key) {
        let typed = self.client.perform_actions(typing(&key.to_string()));
        self.loading(typed).await;
    }

    /// Presses Tab until `css` has the focus (at most `most` times); how many it took.
    pub async fn tab_to(&self, css: &str, most: usize) -> usize {
        for pressed in 1..=most {
            self.keys(&Key::Tab.to_string()).await;
            if self
                .eval_bool(&format!("return document.activeElement.matches({css:?})"))
                .await
            {
                return pressed;
            }
        }
        let focused = self.eval("return document.activeElement.outerHTML").await;
        panic!("{most} Tabs did not reach {css}; the focus is on {focused}")
    }

    /// Runs `script` (a function body that `return`s) in the page, unhindered by its CSP
    /// as WebDriver's scripts are.
    pub async fn eval(&self, script: &str) -> serde_json::Value {
        let value = self.client.execute(script, Vec::new()).await;
        value.unwrap_or_else(|e| panic!("{script}: {e}"))
    }

    pub async fn eval_bool(&self, script: &str) -> bool {
        self.eval(script).await.as_bool().expect("a boolean")
    }

    /// Clicks the Copy button of the snippet whose code `css` finds, waits until it
    /// says so, and returns what the clipboard then holds, as a paste (Ctrl+V) into a
    /// scratch field gets it: what a person copying the snippet would get.
    pub async fn copy(&self, css: &str) -> String {
        let button = format!(".snippet:has({css}) > button.copy");
        self.client
            .find(Locator::Css(&button))
            .await
            .unwrap_or_else(|e| panic!("no {button}: {e}"))
            .click()
            .await
            .unwrap();
        let copied =
            format!("return document.querySelector({button:?}).hasAttribute('data-copied')");
        let deadline = Instant::now() + Duration::from_secs(5);
        while !self.eval_bool(&copied).await {
            assert!(Instant::now() < deadline, "{button} never said Copied");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        self.eval(
            "const f = document.createElement('textarea'); f.id = 'paste-probe'; \
             document.body.append(f); f.focus(); return null",
        )
        .await;
        let control = char::from(Key::Control);
        let paste = KeyActions::new("keyboard".into())
            .then(KeyAction::Down { value: control })
            .then(KeyAction::Down { value: 'v' })
            .then(KeyAction::Up { value: 'v' })
            .then(KeyAction::Up { value: control });
        self.client.perform_actions(paste).await.unwrap();
        let pasted = self
            .eval("const f = document.getElementById('paste-probe'); f.remove(); return f.value")
            .await;
        pasted.as_str().expect("the field's text").to_string()
    }

    /// Whether the page is no wider than the window (nothing scrolls sideways).
    pub async fn fits_width(&self) -> (bool, String) {
        let sizes = self
            .eval("return [document.documentElement.scrollWidth, window.innerWidth]")
            .await;
        let (scroll, inner) = (sizes[0].as_u64().unwrap(), sizes[1].as_u64().unwrap());
        (
            scroll <= inner,
            format!("{scroll} px wide in a {inner} px window"),
        )
    }

    pub async fn resize(&self, (width, height): (u32, u32)) {
        self.client.set_window_size(width, height).await.unwrap();
    }

    /// Takes a screenshot of the page's top; kept as `name.png` under `WHARF_SCREENSHOTS`.
    pub async fn screenshot(&self, name: &str) {
        // From the top, where a reader starts (a click may have scrolled the page).
        self.eval("window.scrollTo(0, 0); return null").await;
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

/// Each character of `keys` pressed and released, as one key source's actions.
fn typing(keys: &str) -> KeyActions {
    let mut actions = KeyActions::new("keyboard".into());
    for key in keys.chars() {
        actions = actions
            .then(KeyAction::Down { value: key })
            .then(KeyAction::Up { value: key });
    }
    actions
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
