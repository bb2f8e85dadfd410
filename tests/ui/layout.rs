//! The accessible basics every page must have, checked in the browser on the page it
//! shows: nothing wider than the window (a phone's included), a label for every
//! field, and headings in order (one `h1`, no level skipped).

use wharf_tests::browser::Browser;

/// Every form control a person fills in that has no label (neither a `<label>` nor an
/// `aria-label`), as markup.
const UNLABELED: &str = "return Array.from(document.querySelectorAll(\
     'input:not([type=hidden]), select, textarea'))\
     .filter(e => e.labels.length === 0 && !e.getAttribute('aria-label'))\
     .map(e => e.outerHTML)";

/// The innermost elements reaching past the window's right edge, as the start of
/// their markup: what made a page scroll sideways.
const TOO_WIDE: &str = "return Array.from(document.querySelectorAll('body *'))\
     .filter(e => e.getBoundingClientRect().right > window.innerWidth + 1)\
     .filter(e => !Array.from(e.children).some(c => c.getBoundingClientRect().right > window.innerWidth + 1))\
     .map(e => e.outerHTML.slice(0, 160))";

/// The levels of the page's headings, in document order.
const HEADINGS: &str = "return Array.from(document.querySelectorAll('h1, h2, h3, h4, h5, h6'))\
     .map(h => Number(h.tagName[1]))";

/// Checks the page the browser shows; `what` names it in failures.
pub async fn check(browser: &Browser, what: &str) {
    let (fits, sizes) = browser.fits_width().await;
    if !fits {
        let wide = browser.eval(TOO_WIDE).await;
        panic!("{what} scrolls sideways: {sizes}; too wide: {wide:#}");
    }
    let unlabeled = browser.eval(UNLABELED).await;
    assert_eq!(
        unlabeled,
        serde_json::json!([]),
        "{what}: fields without a label"
    );
    let levels: Vec<u64> = browser
        .eval(HEADINGS)
        .await
        .as_array()
        .expect("a list")
        .iter()
        .map(|l| l.as_u64().unwrap())
        .collect();
    assert_eq!(
        levels.first(),
        Some(&1),
        "{what} starts with its h1: {levels:?}"
    );
    assert_eq!(
        levels.iter().filter(|l| **l == 1).count(),
        1,
        "{what} has one h1: {levels:?}"
    );
    for pair in levels.windows(2) {
        assert!(
            pair[1] <= pair[0] + 1,
            "{what} skips a heading level: {levels:?}"
        );
    }
}

/// Whether the focused element shows that it has the focus (an outline of some width),
/// as keyboard users need.
pub async fn focus_is_visible(browser: &Browser) -> bool {
    browser
        .eval_bool(
            "const s = getComputedStyle(document.activeElement); \
             return s.outlineStyle !== 'none' && parseFloat(s.outlineWidth) > 0",
        )
        .await
}
