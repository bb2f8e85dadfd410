//! Connections a client holds without using them are closed (issue 19): a request head
//! that never completes, an idle keep-alive connection, an upload that stops; and an
//! absurd `Content-Length` gets 413, not hyper's 431. Over raw TCP sockets.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use wharf_tests::TestServer;

/// A server whose timeouts are all one second.
fn start() -> TestServer {
    TestServer::builder()
        .server(|s| {
            s.header_timeout_secs = 1;
            s.idle_timeout_secs = 1;
            s.body_timeout_secs = 1;
        })
        .start()
}

fn connect(server: &TestServer) -> TcpStream {
    let stream = TcpStream::connect(server.addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    stream
}

/// Everything the server sends until it closes the connection, and how long that took;
/// panics if it is still open after 10 s.
fn until_closed(stream: &mut TcpStream) -> (String, Duration) {
    let started = Instant::now();
    let mut received = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => received.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => break,
            Err(e) => panic!("still open after {:?}: {e}", started.elapsed()),
        }
    }
    (
        String::from_utf8_lossy(&received).into_owned(),
        started.elapsed(),
    )
}

#[test]
fn a_half_sent_head_is_cut() {
    let server = start();
    let mut stream = connect(&server);
    stream
        .write_all(b"GET /v2/ HTTP/1.1\r\nHost: x\r\n")
        .unwrap();
    let (_, took) = until_closed(&mut stream);
    assert!(took < Duration::from_secs(4), "{took:?}");
    // A connection that never sends a byte is cut as well.
    let (_, took) = until_closed(&mut connect(&server));
    assert!(took < Duration::from_secs(4), "{took:?}");
}

#[test]
fn an_idle_keep_alive_connection_is_closed_after_its_answer() {
    let server = start();
    let mut stream = connect(&server);
    stream
        .write_all(b"GET /api/packages/admin/generic/p/1/none HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let (received, took) = until_closed(&mut stream);
    assert!(received.starts_with("HTTP/1.1 404"), "{received}");
    assert!(took < Duration::from_secs(4), "{took:?}");
}

#[test]
fn a_stalled_upload_is_cut_and_leaves_nothing_stored() {
    let server = start();
    let mut stream = connect(&server);
    let head = format!(
        "PUT /api/packages/admin/generic/p/1/f.bin HTTP/1.1\r\nHost: x\r\n\
         Authorization: token {}\r\nContent-Length: 100000\r\n\r\n",
        server.admin_token
    );
    stream.write_all(head.as_bytes()).unwrap();
    stream.write_all(&[7u8; 1000]).unwrap();
    let (received, took) = until_closed(&mut stream);
    assert!(received.starts_with("HTTP/1.1 408"), "{received}");
    assert!(took < Duration::from_secs(4), "{took:?}");
    assert_eq!(server.stored_blobs(), 0);
    assert_eq!(server.temp_files(), 0);
    let status = wharf_tests::client()
        .get(server.generic("admin", "p/1/f.bin"))
        .send()
        .unwrap()
        .status();
    assert_eq!(status, wharf_tests::StatusCode::NOT_FOUND);
}

/// The status line the server answers a raw request head with.
fn status_of(server: &TestServer, head: &str) -> String {
    let mut stream = connect(server);
    stream.write_all(head.as_bytes()).unwrap();
    let (received, _) = until_closed(&mut stream);
    received.lines().next().unwrap_or_default().to_string()
}

#[test]
fn an_absurd_content_length_is_413() {
    let server = TestServer::start();
    for length in ["18446744073709551615", "18446744073709551614"] {
        let head = format!(
            "PUT /api/packages/admin/generic/p/1/f HTTP/1.1\r\nHost: x\r\n\
             Content-Length: {length}\r\n\r\n"
        );
        let status = status_of(&server, &head);
        assert!(status.starts_with("HTTP/1.1 413 "), "{length}: {status}");
    }
    // Longer than any u64: hyper's own 400.
    let head = "PUT /api/packages/admin/generic/p/1/f HTTP/1.1\r\nHost: x\r\n\
                Content-Length: 184467440737095516150\r\n\r\n";
    assert!(status_of(&server, head).starts_with("HTTP/1.1 400"));
    // A head that is really too large keeps its 431.
    let many: String = (0..200).map(|i| format!("X-H{i}: v\r\n")).collect();
    let head = format!("GET /v2/ HTTP/1.1\r\nHost: x\r\n{many}\r\n");
    assert!(status_of(&server, &head).starts_with("HTTP/1.1 431"));
}
