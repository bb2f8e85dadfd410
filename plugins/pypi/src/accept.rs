//! Content negotiation of the simple API (PEP 691): the same URLs serve HTML (PEP 503)
//! or JSON, chosen by the `Accept` header (pip ≥ 22.2 asks for JSON first), or by a
//! `?format=` query parameter naming a content type. Anything unrecognized gets
//! `text/html`, the form every client understands.

/// The serializations of a simple page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flavor {
    /// `text/html`, the PEP 503 page.
    Html,
    /// The same page labelled `application/vnd.pypi.simple.v1+html`.
    HtmlV1,
    /// `application/vnd.pypi.simple.v1+json`.
    Json,
}

impl Flavor {
    pub fn content_type(self) -> &'static str {
        match self {
            Flavor::Html => "text/html; charset=utf-8",
            Flavor::HtmlV1 => "application/vnd.pypi.simple.v1+html",
            Flavor::Json => "application/vnd.pypi.simple.v1+json",
        }
    }

    /// The name used in the index params (and so in the host's cache key).
    pub fn as_str(self) -> &'static str {
        match self {
            Flavor::Html => "html",
            Flavor::HtmlV1 => "html-v1",
            Flavor::Json => "json",
        }
    }

    pub fn from_name(name: &str) -> Self {
        match name {
            "json" => Flavor::Json,
            "html-v1" => Flavor::HtmlV1,
            _ => Flavor::Html,
        }
    }

    /// The flavor a media type asks for, if it asks for one.
    fn of_media_type(media_type: &str) -> Option<Self> {
        match media_type.to_ascii_lowercase().as_str() {
            "application/vnd.pypi.simple.v1+json" | "application/vnd.pypi.simple.latest+json" => {
                Some(Flavor::Json)
            }
            "application/vnd.pypi.simple.v1+html" | "application/vnd.pypi.simple.latest+html" => {
                Some(Flavor::HtmlV1)
            }
            "text/html" | "text/*" | "*/*" => Some(Flavor::Html),
            _ => None,
        }
    }
}

/// The flavor for a request's `?format=` and `Accept`: the format parameter when it
/// names a known type, else the acceptable flavor of highest quality (the first on
/// ties), else HTML.
pub fn choose(format: Option<&str>, accept: Option<&str>) -> Flavor {
    if let Some(flavor) = format.and_then(Flavor::of_media_type) {
        return flavor;
    }
    let mut best: Option<(f32, Flavor)> = None;
    for entry in accept.unwrap_or_default().split(',') {
        let mut params = entry.split(';').map(str::trim);
        let Some(flavor) = params.next().and_then(Flavor::of_media_type) else {
            continue;
        };
        let quality = params
            .filter_map(|p| p.strip_prefix("q="))
            .find_map(|q| q.parse::<f32>().ok())
            .unwrap_or(1.0);
        if quality > 0.0 && best.is_none_or(|(q, _)| quality > q) {
            best = Some((quality, flavor));
        }
    }
    best.map_or(Flavor::Html, |(_, flavor)| flavor)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pip_gets_json_and_browsers_html() {
        let pip = "application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html; q=0.1, text/html; q=0.01";
        assert_eq!(choose(None, Some(pip)), Flavor::Json);
        let browser = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8";
        assert_eq!(choose(None, Some(browser)), Flavor::Html);
        assert_eq!(choose(None, None), Flavor::Html);
        assert_eq!(choose(None, Some("application/xml")), Flavor::Html);
    }

    #[test]
    fn quality_decides_and_zero_refuses() {
        let html_first =
            "application/vnd.pypi.simple.v1+json;q=0.2, application/vnd.pypi.simple.latest+html";
        assert_eq!(choose(None, Some(html_first)), Flavor::HtmlV1);
        let no_json = "application/vnd.pypi.simple.v1+json;q=0, text/html;q=0.5";
        assert_eq!(choose(None, Some(no_json)), Flavor::Html);
        let tie = "application/vnd.pypi.simple.latest+json, text/html";
        assert_eq!(choose(None, Some(tie)), Flavor::Json);
    }

    #[test]
    fn the_format_parameter_wins() {
        let json = Some("application/vnd.pypi.simple.v1+json");
        assert_eq!(choose(json, Some("text/html")), Flavor::Json);
        assert_eq!(
            choose(
                Some("nonsense"),
                Some("application/vnd.pypi.simple.v1+json")
            ),
            Flavor::Json
        );
    }

    #[test]
    fn names_round_trip() {
        for flavor in [Flavor::Html, Flavor::HtmlV1, Flavor::Json] {
            assert_eq!(Flavor::from_name(flavor.as_str()), flavor);
        }
    }
}
