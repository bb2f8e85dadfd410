//! Maven's version order (`ComparableVersion` of Maven 3.9), for the versions of a
//! group's merged `maven-metadata.xml` and its recomputed `latest` and `release`.
//!
//! A version splits at `.`, `-` and at every change between digits and letters into
//! numbers and qualifiers; a `-` (or a qualifier after a `.`) opens a sub-list. Numbers
//! compare as numbers, qualifiers in the order `alpha < beta < milestone < rc = cr <
//! snapshot < "" = ga = final = release < sp`, any other qualifier after those,
//! alphabetically; a single `a`, `b` or `m` followed by a digit means alpha, beta,
//! milestone. Trailing zeros and empty qualifiers do not count: `1.0` = `1` = `1-ga`.
//! Comparison is case-insensitive.

use std::cmp::Ordering;

/// One parsed item.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Item {
    /// Digits without leading zeros (`""` is zero); any length.
    Int(String),
    /// A qualifier after the aliases (`cr` → `rc`, `ga` → ``).
    Str(String),
    List(Vec<Item>),
}

const QUALIFIERS: [&str; 7] = ["alpha", "beta", "milestone", "rc", "snapshot", "", "sp"];
/// Where `""` (a release) is in [`QUALIFIERS`].
const RELEASE: usize = 5;

/// Compares two versions in Maven's order.
pub fn compare(a: &str, b: &str) -> Ordering {
    compare_items(&parse(a), Some(&parse(b)))
}

fn parse(version: &str) -> Item {
    let version = version.to_ascii_lowercase();
    let mut parser = Parser {
        lists: vec![Vec::new()],
        current: 0,
    };
    let bytes = version.as_bytes();
    let (mut start, mut digits) = (0, false);
    for (i, &c) in bytes.iter().enumerate() {
        match c {
            b'.' | b'-' => {
                if i == start {
                    parser.push(Node::Int(String::new()));
                } else {
                    parser.push(item(digits, &version[start..i], false));
                }
                start = i + 1;
                if c == b'-' {
                    parser.open();
                }
            }
            b'0'..=b'9' => {
                if !digits && i > start {
                    // `1.0.0.X1` < `1.0.0-X2`: a qualifier after a dot opens a list.
                    if !parser.is_empty() {
                        parser.open();
                    }
                    parser.push(item(false, &version[start..i], true));
                    start = i;
                    parser.open();
                }
                digits = true;
            }
            _ => {
                if digits && i > start {
                    parser.push(item(true, &version[start..i], false));
                    start = i;
                    parser.open();
                }
                digits = false;
            }
        }
    }
    if version.len() > start {
        if !digits && !parser.is_empty() {
            parser.open();
        }
        parser.push(item(digits, &version[start..], false));
    }
    Item::List(parser.build(0))
}

/// A parsed token; lists are built later from [`Parser::lists`].
enum Node {
    Int(String),
    Str(String),
    List(usize),
}

fn item(digits: bool, text: &str, followed_by_digit: bool) -> Node {
    if digits {
        return Node::Int(text.trim_start_matches('0').to_string());
    }
    let text = match text {
        "a" if followed_by_digit => "alpha",
        "b" if followed_by_digit => "beta",
        "m" if followed_by_digit => "milestone",
        "ga" | "final" | "release" => "",
        "cr" => "rc",
        other => other,
    };
    Node::Str(text.to_string())
}

/// The lists being filled, by index (a list holds its sub-lists by index, so the one
/// being filled can be mutated while its parents exist).
struct Parser {
    lists: Vec<Vec<Node>>,
    current: usize,
}

impl Parser {
    fn push(&mut self, node: Node) {
        self.lists[self.current].push(node);
    }

    fn is_empty(&self) -> bool {
        self.lists[self.current].is_empty()
    }

    /// Opens a sub-list of the current list and makes it current.
    fn open(&mut self) {
        let id = self.lists.len();
        self.lists.push(Vec::new());
        self.push(Node::List(id));
        self.current = id;
    }

    /// The items of list `id`, each sub-list normalized before its parent.
    fn build(&mut self, id: usize) -> Vec<Item> {
        let nodes = std::mem::take(&mut self.lists[id]);
        let mut items: Vec<Item> = nodes
            .into_iter()
            .map(|node| match node {
                Node::Int(digits) => Item::Int(digits),
                Node::Str(text) => Item::Str(text),
                Node::List(sub) => Item::List(self.build(sub)),
            })
            .collect();
        // Trailing zeros, empty qualifiers and empty lists go, looking through
        // (non-empty) lists until another item.
        let mut i = items.len();
        while i > 0 {
            i -= 1;
            if is_null(&items[i]) {
                items.remove(i);
            } else if !matches!(items[i], Item::List(_)) {
                break;
            }
        }
        items
    }
}

fn is_null(item: &Item) -> bool {
    match item {
        Item::Int(digits) => digits.is_empty(),
        Item::Str(text) => text.is_empty(),
        Item::List(items) => items.is_empty(),
    }
}

/// A qualifier's rank: its place among the known ones, else after all of them.
fn rank(qualifier: &str) -> (usize, &str) {
    match QUALIFIERS.iter().position(|q| *q == qualifier) {
        Some(at) => (at, ""),
        None => (QUALIFIERS.len(), qualifier),
    }
}

/// `left` compared with `right`, where `None` stands for a missing item (as a
/// shorter version's end).
fn compare_items(left: &Item, right: Option<&Item>) -> Ordering {
    match (left, right) {
        (Item::Int(a), None) => {
            if a.is_empty() {
                Ordering::Equal
            } else {
                Ordering::Greater
            }
        }
        (Item::Int(a), Some(Item::Int(b))) => a.len().cmp(&b.len()).then_with(|| a.cmp(b)),
        (Item::Int(_), Some(_)) => Ordering::Greater,
        (Item::Str(a), None) => rank(a).cmp(&(RELEASE, "")),
        (Item::Str(_), Some(Item::Int(_) | Item::List(_))) => Ordering::Less,
        (Item::Str(a), Some(Item::Str(b))) => rank(a).cmp(&rank(b)),
        (Item::List(items), None) => items
            .iter()
            .map(|i| compare_items(i, None))
            .find(|o| o.is_ne())
            .unwrap_or(Ordering::Equal),
        (Item::List(_), Some(Item::Int(_))) => Ordering::Less,
        (Item::List(_), Some(Item::Str(_))) => Ordering::Greater,
        (Item::List(a), Some(Item::List(b))) => {
            for i in 0..a.len().max(b.len()) {
                let order = match (a.get(i), b.get(i)) {
                    (Some(l), r) => compare_items(l, r),
                    (None, Some(r)) => compare_items(r, None).reverse(),
                    (None, None) => Ordering::Equal,
                };
                if order.is_ne() {
                    return order;
                }
            }
            Ordering::Equal
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each version is smaller than the next (from Maven's `ComparableVersionTest`).
    fn assert_ascending(versions: &[&str]) {
        for (i, low) in versions.iter().enumerate() {
            for high in &versions[i + 1..] {
                assert_eq!(compare(low, high), Ordering::Less, "{low} < {high}");
                assert_eq!(compare(high, low), Ordering::Greater, "{high} > {low}");
            }
        }
    }

    #[test]
    fn qualifiers_in_mavens_order() {
        assert_ascending(&[
            "1-alpha2snapshot",
            "1-alpha2",
            "1-alpha-123",
            "1-beta-2",
            "1-beta123",
            "1-m2",
            "1-m11",
            "1-rc",
            "1-cr2",
            "1-rc123",
            "1-SNAPSHOT",
            "1",
            "1-sp",
            "1-sp2",
            "1-sp123",
            "1-abc",
            "1-def",
            "1-pom-1",
            "1-1-snapshot",
            "1-1",
            "1-2",
            "1-123",
        ]);
    }

    #[test]
    fn numbers_in_mavens_order() {
        assert_ascending(&[
            "2.0", "2.0.a", "2-1", "2.0.2", "2.0.123", "2.1.0", "2.1-a", "2.1b", "2.1-c", "2.1-1",
            "2.1.0.1", "2.2", "2.123", "11.a2", "11.a11", "11.b2", "11.b11", "11.m2", "11.m11",
            "11", "11.a", "11b", "11c", "11m",
        ]);
        assert_ascending(&["1.9", "1.10", "1.10.1", "10", "99999999999999999999"]);
    }

    #[test]
    fn equal_spellings() {
        for (a, b) in [
            ("1", "1.0.0"),
            ("1.0", "1-ga"),
            ("1-final", "1.release"),
            ("1-rc1", "1-cr1"),
            ("1a1", "1-alpha-1"),
            ("1.0-SNAPSHOT", "1-snapshot"),
            ("01.002", "1.2"),
        ] {
            assert_eq!(compare(a, b), Ordering::Equal, "{a} = {b}");
        }
    }
}
