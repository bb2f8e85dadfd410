//! The generic format end to end over HTTP: upload, download (Range, HEAD, ETag),
//! duplicates, deletes, validation, dedup, limits and concurrent publishes.

use wharf_tests::{StatusCode, TestServer, client};

pub(crate) fn put(
    server: &TestServer,
    token: &str,
    path: &str,
    body: impl Into<reqwest::blocking::Body>,
) -> reqwest::blocking::Response {
    client()
        .put(server.generic("admin", path))
        .header("Authorization", format!("token {token}"))
        .body(body)
        .send()
        .unwrap()
}

#[test]
fn upload_download_and_delete() {
    upload_download_and_delete_on(&TestServer::start());
}

/// The scenario of `upload_download_and_delete` on a server with any generic plugin
/// (`contract_compat` runs it on the 0.2 one).
pub(crate) fn upload_download_and_delete_on(server: &TestServer) {
    let t = &server.admin_token;
    assert_eq!(
        put(server, t, "tool/1.0.0/tool.tar.gz", "payload-bytes").status(),
        StatusCode::CREATED
    );
    assert_eq!(
        put(server, t, "tool/1.0.0/README.txt", "read me").status(),
        StatusCode::CREATED
    );

    let c = client();
    let res = c
        .get(server.generic("admin", "tool/1.0.0/tool.tar.gz"))
        .send()
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let etag = res.headers()["etag"].to_str().unwrap().to_string();
    assert!(res.headers().contains_key("last-modified"));
    assert_eq!(res.headers()["content-length"], "13");
    assert_eq!(res.text().unwrap(), "payload-bytes");

    // Names are case-insensitive, as in Gitea.
    let res = c
        .get(server.generic("admin", "TOOL/1.0.0/TOOL.TAR.GZ"))
        .send()
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);

    let res = c
        .head(server.generic("admin", "tool/1.0.0/tool.tar.gz"))
        .send()
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()["content-length"], "13");

    let res = c
        .get(server.generic("admin", "tool/1.0.0/tool.tar.gz"))
        .header("Range", "bytes=8-")
        .send()
        .unwrap();
    assert_eq!(res.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(res.headers()["content-range"], "bytes 8-12/13");
    assert_eq!(res.text().unwrap(), "bytes");

    let res = c
        .get(server.generic("admin", "tool/1.0.0/tool.tar.gz"))
        .header("Range", "bytes=50-")
        .send()
        .unwrap();
    assert_eq!(res.status(), StatusCode::RANGE_NOT_SATISFIABLE);

    let res = c
        .get(server.generic("admin", "tool/1.0.0/tool.tar.gz"))
        .header("If-None-Match", &etag)
        .send()
        .unwrap();
    assert_eq!(res.status(), StatusCode::NOT_MODIFIED);

    // Deleting one file keeps the version; the last file takes the version with it.
    let del = |path: &str| {
        c.delete(server.generic("admin", path))
            .header("Authorization", format!("token {t}"))
            .send()
            .unwrap()
            .status()
    };
    assert_eq!(del("tool/1.0.0/README.txt"), StatusCode::NO_CONTENT);
    assert_eq!(del("tool/1.0.0/README.txt"), StatusCode::NOT_FOUND);
    assert_eq!(
        c.get(server.generic("admin", "tool/1.0.0/tool.tar.gz"))
            .send()
            .unwrap()
            .status(),
        StatusCode::OK
    );
    assert_eq!(del("tool/1.0.0/tool.tar.gz"), StatusCode::NO_CONTENT);
    assert_eq!(
        c.get(server.generic("admin", "tool/1.0.0/tool.tar.gz"))
            .send()
            .unwrap()
            .status(),
        StatusCode::NOT_FOUND
    );

    assert_eq!(
        put(server, t, "tool/2.0.0/a.bin", "a").status(),
        StatusCode::CREATED
    );
    assert_eq!(
        put(server, t, "tool/2.0.0/b.bin", "b").status(),
        StatusCode::CREATED
    );
    assert_eq!(del("tool/2.0.0"), StatusCode::NO_CONTENT);
    assert_eq!(del("tool/2.0.0"), StatusCode::NOT_FOUND);
    assert_eq!(
        c.get(server.generic("admin", "tool/2.0.0/b.bin"))
            .send()
            .unwrap()
            .status(),
        StatusCode::NOT_FOUND
    );
}

#[test]
fn duplicates_conflict_and_identical_bytes_share_a_blob() {
    let server = TestServer::start();
    let t = &server.admin_token;
    assert_eq!(
        put(&server, t, "lib/1/file.bin", "same bytes").status(),
        StatusCode::CREATED
    );
    let dup = put(&server, t, "lib/1/FILE.bin", "other bytes");
    assert_eq!(dup.status(), StatusCode::CONFLICT);
    assert!(
        dup.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain")
    );
    assert_eq!(
        client()
            .get(server.generic("admin", "lib/1/file.bin"))
            .send()
            .unwrap()
            .text()
            .unwrap(),
        "same bytes"
    );

    let before = server.stored_blobs();
    assert_eq!(
        put(&server, t, "other/9/copy.bin", "same bytes").status(),
        StatusCode::CREATED
    );
    assert_eq!(
        server.stored_blobs(),
        before,
        "identical bytes are stored once"
    );
    assert_eq!(server.temp_files(), 0);
}

#[test]
fn invalid_names_are_refused_with_400() {
    let server = TestServer::start();
    let t = &server.admin_token;
    for path in [
        "bad%20name/1/f",
        "../1/f",
        "pkg/%20v1/f",
        "pkg/1/%20f",
        "pkg/1/..",
        "pkg/1/a%2Fb",
        "pkg/1/a%5Cb",
        "-/1/f",
        "pkg/1/a%3Fb",
    ] {
        let res = put(&server, t, path, "x");
        assert!(
            res.status() == StatusCode::BAD_REQUEST || res.status() == StatusCode::NOT_FOUND,
            "{path}: {}",
            res.status()
        );
    }
    assert_eq!(server.stored_blobs(), 0, "nothing was stored");
    assert_eq!(server.temp_files(), 0);
}

#[test]
fn unknown_owner_is_404() {
    let server = TestServer::start();
    let res = client()
        .get(server.generic("nobody", "a/1/f"))
        .send()
        .unwrap();
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
}

#[test]
fn oversized_upload_is_413_and_leaves_nothing() {
    let server = TestServer::builder().max_upload(1024).start();
    let t = &server.admin_token;
    let res = put(&server, t, "big/1/blob.bin", vec![7u8; 4096]);
    assert_eq!(res.status(), StatusCode::PAYLOAD_TOO_LARGE);

    // Without Content-Length (chunked), the limit is enforced while streaming.
    let body = reqwest::blocking::Body::new(ChunkReader(vec![1u8; 4096], 0));
    let res = put(&server, t, "big/1/stream.bin", body);
    assert_eq!(res.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(server.stored_blobs(), 0);
    assert_eq!(server.temp_files(), 0);
    assert_eq!(
        client()
            .get(server.generic("admin", "big/1/blob.bin"))
            .send()
            .unwrap()
            .status(),
        StatusCode::NOT_FOUND
    );
}

/// A reader of unknown length, so the client sends the body chunked.
struct ChunkReader(Vec<u8>, usize);

impl std::io::Read for ChunkReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = buf.len().min(self.0.len() - self.1).min(500);
        buf[..n].copy_from_slice(&self.0[self.1..self.1 + n]);
        self.1 += n;
        Ok(n)
    }
}

#[test]
fn concurrent_uploads_of_one_file_give_one_201() {
    let server = TestServer::start();
    let url = server.generic("admin", "race/1.0/file.bin");
    let token = server.admin_token.clone();
    let statuses: Vec<StatusCode> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..8)
            .map(|i| {
                let (url, token) = (url.clone(), token.clone());
                s.spawn(move || {
                    client()
                        .put(&url)
                        .header("Authorization", format!("token {token}"))
                        .body(vec![i as u8; 200_000])
                        .send()
                        .unwrap()
                        .status()
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert_eq!(
        statuses
            .iter()
            .filter(|s| **s == StatusCode::CREATED)
            .count(),
        1,
        "{statuses:?}"
    );
    assert_eq!(
        statuses
            .iter()
            .filter(|s| **s == StatusCode::CONFLICT)
            .count(),
        7,
        "{statuses:?}"
    );
    assert_eq!(server.temp_files(), 0, "losers leave no temp files");
    assert_eq!(server.kept_blobs(), 1, "only the winner's bytes are kept");
}

#[test]
fn downloads_are_counted_for_get_only() {
    let server = TestServer::start();
    put(&server, &server.admin_token, "counted/1/f.bin", "x");
    let c = client();
    for _ in 0..3 {
        c.get(server.generic("admin", "counted/1/f.bin"))
            .send()
            .unwrap()
            .bytes()
            .unwrap();
    }
    c.head(server.generic("admin", "counted/1/f.bin"))
        .send()
        .unwrap();
    // Counting happens off the request path; give it a moment.
    let mut downloads = 0;
    for _ in 0..50 {
        let v: serde_json::Value = c
            .get(format!(
                "{}/api/v1/packages/admin/generic/counted/1",
                server.url
            ))
            .send()
            .unwrap()
            .json()
            .unwrap();
        downloads = v["downloads"].as_i64().unwrap();
        if downloads == 3 {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    assert_eq!(downloads, 3);
}

#[test]
fn large_upload_streams_and_round_trips() {
    let server = TestServer::start();
    let data: Vec<u8> = (0..(24u32 << 20))
        .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
        .collect();
    let res = put(&server, &server.admin_token, "big/1/data.bin", data.clone());
    assert_eq!(res.status(), StatusCode::CREATED);
    let back = client()
        .get(server.generic("admin", "big/1/data.bin"))
        .send()
        .unwrap()
        .bytes()
        .unwrap();
    assert!(back.as_ref() == data.as_slice(), "downloaded bytes differ");
}

/// Sends `head` and then, once the server has had time to answer, `body`; returns what
/// came back on the connection before it closed or went quiet.
fn late_body(server: &TestServer, head: &str, body: &[u8]) -> std::io::Result<String> {
    use std::io::{Read, Write};
    let mut socket = std::net::TcpStream::connect(server.addr)?;
    socket.set_read_timeout(Some(std::time::Duration::from_secs(5)))?;
    socket.write_all(head.as_bytes())?;
    std::thread::sleep(std::time::Duration::from_millis(300));
    socket.write_all(body)?;
    let mut answer = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match socket.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => answer.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
            Err(e) if answer.is_empty() => return Err(e),
            Err(_) => break,
        }
        if answer.windows(4).any(|w| w == b"\r\n\r\n") && answer.ends_with(b"\n") {
            break;
        }
    }
    Ok(String::from_utf8_lossy(&answer).into_owned())
}

/// An upload refused before its body is read (here: no credentials) still gets its
/// 401, not a reset connection, when the client sends the body without waiting, and
/// the connection stays usable for the retry with credentials.
#[test]
fn a_refused_upload_is_answered_even_when_its_body_follows() {
    let server = TestServer::start();
    let body = vec![7u8; 2 << 20];
    let head = format!(
        "PUT /api/packages/admin/generic/late/1/f.bin HTTP/1.1\r\nHost: {}\r\nContent-Length: {}\r\n\r\n",
        server.addr,
        body.len()
    );
    for _ in 0..3 {
        let answer = late_body(&server, &head, &body).expect("the refusal, not a reset");
        assert!(answer.starts_with("HTTP/1.1 401"), "{answer}");
        assert!(
            !answer.to_ascii_lowercase().contains("connection: close"),
            "{answer}"
        );
    }
    // A client that waits for 100 Continue sends no body: the refusal closes instead.
    let waiting = head.replace("\r\n\r\n", "\r\nExpect: 100-continue\r\n\r\n");
    let answer = late_body(&server, &waiting, b"").unwrap();
    assert!(answer.starts_with("HTTP/1.1 401"), "{answer}");
    assert!(
        answer.to_ascii_lowercase().contains("connection: close"),
        "{answer}"
    );
}
