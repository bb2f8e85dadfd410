//! The members' documents a group's `merge` receives: which members have one
//! ([`found`]), which member answers under the dependency-confusion guard ([`first`],
//! [`first_found`]), and (feature `json`) their search pages as one page (`concat`).

use crate::{MemberDocument, Response};

/// The member's document, if it has one (a 200).
pub fn found(member: &MemberDocument) -> Option<&Response> {
    member
        .document
        .as_ref()
        .filter(|d| matches!(d.status, 0 | 200))
}

/// The first member, in priority order, whose document `has` what is asked. With
/// `guard` on (the group's `confusion-guard`, for the documents a format guards), only
/// hosted members count when one of them has it, so that an upstream cannot shadow a
/// name a hosted member owns.
pub fn first(
    members: &[MemberDocument],
    guard: bool,
    has: impl Fn(&Response) -> bool,
) -> Option<&MemberDocument> {
    let holds = |m: &&MemberDocument| found(m).is_some_and(&has);
    let guarded = guard && members.iter().filter(|m| m.hosted).any(|m| holds(&m));
    members.iter().filter(|m| m.hosted || !guarded).find(holds)
}

/// The document of the first member that has one, guarded as [`first`] says: what a
/// format that takes a document whole from one member serves.
pub fn first_found(members: &[MemberDocument], guard: bool) -> Option<&Response> {
    first(members, guard, |_| true).and_then(found)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{hosted, proxied};

    fn doc(body: &str) -> Option<Response> {
        Some(Response::new(200, "text/plain", body))
    }

    #[test]
    fn the_guard_keeps_to_hosted_members_when_one_has_the_name() {
        let members = [
            proxied("up", doc("upstream")),
            hosted("missing", Some(Response::new(404, "", ""))),
            hosted("acme", doc("private")),
        ];
        let body = |r: Option<&Response>| r.map(|r| r.body.clone());
        assert_eq!(body(first_found(&members, true)), Some(b"private".to_vec()));
        assert_eq!(
            body(first_found(&members, false)),
            Some(b"upstream".to_vec())
        );
        // What no hosted member has comes from the others, guard or not.
        let wanted = |r: &Response| r.body == b"upstream";
        assert_eq!(first(&members, true, wanted).unwrap().owner, "up");
        assert!(first_found(&members[1..2], true).is_none());
        assert!(found(&members[1]).is_none());
    }
}

#[cfg(feature = "json")]
pub use search::{Page, Shape, concat};

#[cfg(feature = "json")]
mod search {
    use std::collections::HashSet;

    use serde_json::Value;

    use super::found;
    use crate::{MemberDocument, PluginError};

    /// Where a format's search page keeps what [`concat()`] reads, as JSON pointers.
    pub struct Shape<'a> {
        /// The hits array (`/data`, `/crates`).
        pub hits: &'a str,
        /// The number of hits the query has in all (`/totalHits`, `/meta/total`).
        pub total: &'a str,
        /// A hit's name, within the hit (`/id`); empty when the hit is the name itself.
        pub name: &'a str,
    }

    /// A page made of the members'.
    #[derive(Debug, PartialEq)]
    pub struct Page {
        pub hits: Vec<Value>,
        pub total: u64,
    }

    /// The search pages of the members that have one, as one page: their hits in
    /// member order, each name once (the first member's, names compared in lower
    /// case), at most `limit` of them (0: all), and their totals added up (a name in
    /// two members counts twice there). A page that is not JSON is a 500: members'
    /// pages are rendered or rewritten by the plugin itself.
    pub fn concat(
        members: &[MemberDocument],
        shape: &Shape,
        limit: usize,
    ) -> Result<Page, PluginError> {
        let mut page = Page {
            hits: Vec::new(),
            total: 0,
        };
        let mut names = HashSet::new();
        for document in members.iter().filter_map(found) {
            let member: Value = serde_json::from_slice(&document.body).map_err(|e| {
                PluginError::internal(format!("a member's search page is not JSON: {e}"))
            })?;
            page.total += member
                .pointer(shape.total)
                .and_then(Value::as_u64)
                .unwrap_or(0);
            let hits = member.pointer(shape.hits).and_then(Value::as_array);
            for hit in hits.into_iter().flatten() {
                let name = hit
                    .pointer(shape.name)
                    .and_then(Value::as_str)
                    .unwrap_or("");
                let room = limit == 0 || page.hits.len() < limit;
                if names.insert(name.to_lowercase()) && room {
                    page.hits.push(hit.clone());
                }
            }
        }
        Ok(page)
    }

    #[cfg(test)]
    mod tests {
        use super::*;
        use crate::Response;
        use crate::testing::{hosted, proxied};
        use serde_json::json;

        const SHAPE: Shape = Shape {
            hits: "/data",
            total: "/meta/total",
            name: "/id",
        };

        fn page(ids: &[&str], total: u64) -> Option<Response> {
            let data: Vec<Value> = ids.iter().map(|id| json!({ "id": id })).collect();
            let body = json!({ "data": data, "meta": { "total": total } });
            Some(Response::json(body.to_string()))
        }

        #[test]
        fn hits_come_once_in_member_order_up_to_the_limit() {
            let members = [
                hosted("acme", page(&["A", "b"], 2)),
                proxied("up", None),
                proxied("mirror", Some(Response::new(404, "", ""))),
                hosted("more", page(&["a", "c", "d"], 9)),
            ];
            let all = concat(&members, &SHAPE, 0).unwrap();
            assert_eq!(all.total, 11);
            assert_eq!(
                all.hits,
                [
                    json!({"id":"A"}),
                    json!({"id":"b"}),
                    json!({"id":"c"}),
                    json!({"id":"d"})
                ]
            );
            assert_eq!(concat(&members, &SHAPE, 3).unwrap().hits.len(), 3);
        }

        #[test]
        fn bare_names_and_broken_pages() {
            let names = Shape { name: "", ..SHAPE };
            let members = [hosted(
                "acme",
                Some(Response::json(r#"{"data":["X","x","y"]}"#)),
            )];
            let page = concat(&members, &names, 0).unwrap();
            assert_eq!((page.hits, page.total), (vec![json!("X"), json!("y")], 0));
            let broken = [hosted("acme", Some(Response::json("<html>")))];
            assert_eq!(concat(&broken, &SHAPE, 0).unwrap_err().status, 500);
        }
    }
}
