//! Timestamps as formats show them. Plugins have no clock: every time comes from the
//! host as seconds since the Unix epoch, and is shown in UTC.

use crate::IndexInput;

impl IndexInput {
    /// When the packages this document is rendered from last changed: the newest
    /// `modified` of its package or listed packages, 0 for none. A time of generation
    /// (Helm's `generated`) printed from this, not from `rendered-at`, keeps a document
    /// byte for byte the same while its packages are unchanged, across the host's
    /// re-renderings (a restart, another node, an evicted cache entry) too, so its ETag
    /// holds; any change to them moves it.
    pub fn changed_at(&self) -> i64 {
        let listed = self.listing.iter().map(|p| p.modified);
        let detail = self.detail.iter().map(|p| p.modified);
        listed.chain(detail).max().unwrap_or(0)
    }
}

/// A UTC calendar instant (proleptic Gregorian).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Utc {
    pub year: i64,
    pub month: u32,
    pub day: u32,
    pub hour: i64,
    pub minute: i64,
    pub second: i64,
    /// 0 = Sunday.
    pub weekday: usize,
}

impl Utc {
    pub fn from_unix(seconds: i64) -> Self {
        let days = seconds.div_euclid(86_400);
        let secs = seconds.rem_euclid(86_400);
        let (year, month, day) = civil_from_days(days);
        Self {
            year,
            month,
            day,
            hour: secs / 3600,
            minute: secs % 3600 / 60,
            second: secs % 60,
            // 1970-01-01 was a Thursday.
            weekday: (days + 4).rem_euclid(7) as usize,
        }
    }
}

/// `2024-01-02T03:04:05.000Z` (npm's `time`, JSON APIs).
pub fn iso8601(seconds: i64) -> String {
    let t = Utc::from_unix(seconds);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.000Z",
        t.year, t.month, t.day, t.hour, t.minute, t.second
    )
}

/// `yyyyMMddHHmmss` (Maven's `<lastUpdated>`).
pub fn compact(seconds: i64) -> String {
    let t = Utc::from_unix(seconds);
    format!(
        "{:04}{:02}{:02}{:02}{:02}{:02}",
        t.year, t.month, t.day, t.hour, t.minute, t.second
    )
}

/// An RFC 9110 IMF-fixdate, for `Last-Modified`.
pub fn http_date(seconds: i64) -> String {
    const DAYS: [&str; 7] = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let t = Utc::from_unix(seconds);
    format!(
        "{}, {:02} {} {:04} {:02}:{:02}:{:02} GMT",
        DAYS[t.weekday],
        t.day,
        MONTHS[t.month as usize - 1],
        t.year,
        t.hour,
        t.minute,
        t.second
    )
}

/// Howard Hinnant's days-to-civil algorithm.
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iso8601_instants() {
        assert_eq!(iso8601(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(iso8601(951_782_400), "2000-02-29T00:00:00.000Z");
        assert_eq!(iso8601(1_795_662_495), "2026-11-26T03:08:15.000Z");
        assert_eq!(iso8601(-1), "1969-12-31T23:59:59.000Z");
    }

    #[test]
    fn compact_instants() {
        assert_eq!(compact(0), "19700101000000");
        assert_eq!(compact(951_782_400), "20000229000000");
        assert_eq!(compact(-1), "19691231235959");
    }

    #[test]
    fn a_document_changes_when_its_packages_do() {
        use crate::testing::{index_input, package, request};
        let spec = crate::IndexSpec {
            pkg: None,
            view: String::new(),
            params: Vec::new(),
            digest_of: None,
            listing: None,
        };
        let mut input = index_input(request(crate::Method::Get, "/"), spec, None);
        assert_eq!(input.changed_at(), 0, "nothing listed");
        let modified_at = |modified| crate::PackageDetail {
            modified,
            ..package("a", Vec::new())
        };
        input.listing = vec![modified_at(30), modified_at(50), modified_at(40)];
        assert_eq!(input.changed_at(), 50);
        input.listing.clear();
        input.detail = Some(modified_at(7));
        assert_eq!(input.changed_at(), 7);
    }

    #[test]
    fn http_dates() {
        assert_eq!(http_date(0), "Thu, 01 Jan 1970 00:00:00 GMT");
        // RFC 9110's own example.
        assert_eq!(http_date(784_111_777), "Sun, 06 Nov 1994 08:49:37 GMT");
        assert_eq!(http_date(-86_400), "Wed, 31 Dec 1969 00:00:00 GMT");
    }
}
