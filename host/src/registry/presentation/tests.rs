use axum::body::Body;
use http::header;

use super::*;
use crate::db::tokens::Scope;
use crate::registry::testing::TestRegistry;

/// An npm publish of `app@1.0.0` as the npm client sends it: the manifest with a
/// license, a homepage and a dependency, the README at the top level, the tarball.
fn npm_publish() -> String {
    use base64::Engine;
    use sha1::Digest;
    let tarball = b"not really a tarball";
    let manifest = serde_json::json!({
        "name": "app",
        "version": "1.0.0",
        "license": "MIT",
        "homepage": "https://example.com/app",
        "dependencies": { "left-pad": "^1.3.0" },
        "dist": { "shasum": hex::encode(sha1::Sha1::digest(tarball)) },
    });
    serde_json::json!({
        "name": "app",
        "readme": "# app\n\nDoes things.",
        "dist-tags": { "latest": "1.0.0" },
        "versions": { "1.0.0": manifest },
        "_attachments": { "app-1.0.0.tgz": {
            "data": base64::engine::general_purpose::STANDARD.encode(tarball),
            "length": tarball.len(),
        }},
    })
    .to_string()
}

async fn put(t: &TestRegistry, token: &str, path: &str, content_type: &str, body: String) {
    let request = TestRegistry::request("PUT", path, Some(token))
        .header(header::CONTENT_TYPE, content_type)
        .body(Body::from(body))
        .unwrap();
    let response = t.send(request).await;
    assert!(response.status().is_success(), "{path}: {response:?}");
}

/// Guards the page boundary end to end for a published npm package: the plugin's
/// snippets carry this registry's mount URL and the version, its fields come from the
/// stored manifest, and the README is the text npm sent.
#[tokio::test]
async fn a_published_npm_package_is_described_by_its_plugin() {
    let t = TestRegistry::open();
    let token = t.user("alice", Scope::Write);
    let body = npm_publish();
    put(
        &t,
        &token,
        "/api/packages/alice/npm/app",
        "application/json",
        body,
    )
    .await;

    let view = t
        .registry
        .describe_package("alice", "npm", "app", None, "http://pages.test/")
        .await
        .unwrap()
        .expect("npm describes its packages");
    assert_eq!(view.version, "1.0.0");
    let code = |snippets: &[Snippet]| {
        snippets
            .iter()
            .map(|s| s.code.as_str())
            .collect::<Vec<_>>()
            .join("\n")
    };
    assert!(
        code(&view.setup).contains("http://pages.test/api/packages/alice/npm/"),
        "{view:?}"
    );
    assert!(
        code(&view.install).contains("npm install app@1.0.0"),
        "{view:?}"
    );
    assert!(view.fields.contains(&Field {
        label: "License".into(),
        value: FieldValue::Text("MIT".into()),
    }));
    assert!(view.fields.contains(&Field {
        label: "Homepage".into(),
        value: FieldValue::Link("https://example.com/app".into()),
    }));
    let readme = view.readme.expect("the README npm sent");
    assert!(
        readme.markdown && readme.text.starts_with("# app"),
        "{readme:?}"
    );

    let missing = t
        .registry
        .describe_package("alice", "npm", "app", Some("9.9.9"), "http://pages.test")
        .await;
    assert!(matches!(missing, Err(Error::NotFound(_))), "{missing:?}");
    let nobody = t
        .registry
        .describe_package("nobody", "npm", "app", None, "http://pages.test")
        .await;
    assert!(matches!(nobody, Err(Error::NotFound(_))), "{nobody:?}");
}

/// Guards the README read from a file of the version: a generic package's uploaded
/// `README.md` is read from the store, whole; a version without one has none.
#[tokio::test]
async fn a_readme_file_of_the_version_is_read_from_the_store() {
    let t = TestRegistry::open();
    let token = t.user("alice", Scope::Write);
    let base = "/api/packages/alice/generic/tool";
    put(
        &t,
        &token,
        &format!("{base}/1.0/tool.bin"),
        "",
        "bin".into(),
    )
    .await;
    put(
        &t,
        &token,
        &format!("{base}/1.0/README.md"),
        "",
        "# Tool\n".into(),
    )
    .await;
    put(
        &t,
        &token,
        &format!("{base}/2.0/tool.bin"),
        "",
        "bin".into(),
    )
    .await;

    let describe = |version: &'static str| {
        t.registry.describe_package(
            "alice",
            "generic",
            "tool",
            Some(version),
            "http://wharf.test",
        )
    };
    let one = describe("1.0").await.unwrap().expect("generic has pages");
    let readme = Readme {
        markdown: true,
        text: "# Tool\n".into(),
    };
    assert_eq!(one.readme, Some(readme));
    assert!(
        one.install[0].code.contains("/generic/tool/1.0/tool.bin"),
        "{one:?}"
    );
    let two = describe("2.0").await.unwrap().expect("generic has pages");
    assert_eq!(two.readme, None);
}

/// A README too large or not UTF-8 is not shown, and a link that is not a web URL is
/// shown as text, whatever the plugin says.
#[test]
fn readmes_and_links_are_bounded() {
    assert_eq!(
        readme(api::Markup::Plain, vec![b'a'; MAX_README as usize + 1]),
        None
    );
    assert_eq!(readme(api::Markup::Plain, vec![0xff, 0xfe]), None);
    assert_eq!(readme(api::Markup::Markdown, b" \n".to_vec()), None);
    let link = |url: &str| {
        field(api::Field {
            label: "Homepage".into(),
            value: api::FieldValue::Link(url.into()),
        })
        .value
    };
    assert_eq!(
        link("HTTPS://x.test"),
        FieldValue::Link("HTTPS://x.test".into())
    );
    assert_eq!(
        link("javascript:alert(1)"),
        FieldValue::Text("javascript:alert(1)".into())
    );
}
