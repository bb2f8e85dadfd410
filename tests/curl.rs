//! The README's curl examples, run with the real curl against a real server.

use wharf_tests::{TestServer, curl, require_tool};

#[test]
fn readme_curl_examples_work() {
    if !require_tool("curl") {
        return;
    }
    let server = TestServer::start();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("tool-1.0.0.tar.gz");
    std::fs::write(&file, vec![42u8; 300_000]).unwrap();
    let url = server.generic("admin", "tool/1.0.0/tool-1.0.0.tar.gz");
    let auth = format!("Authorization: token {}", server.admin_token);

    let (code, _) = curl(&["--upload-file", file.to_str().unwrap(), "-H", &auth, &url]);
    assert_eq!(code, "201");
    let (code, _) = curl(&["--upload-file", file.to_str().unwrap(), "-H", &auth, &url]);
    assert_eq!(code, "409");

    let out = dir.path().join("downloaded");
    let (code, _) = curl(&["-o", out.to_str().unwrap(), &url]);
    assert_eq!(code, "200");
    assert_eq!(std::fs::read(&out).unwrap(), std::fs::read(&file).unwrap());

    // Resume a partial download, as `curl -C -` does.
    std::fs::write(&out, &std::fs::read(&file).unwrap()[..100_000]).unwrap();
    let (code, _) = curl(&["-C", "-", "-o", out.to_str().unwrap(), &url]);
    assert_eq!(code, "206");
    assert_eq!(std::fs::read(&out).unwrap(), std::fs::read(&file).unwrap());

    let (code, _) = curl(&[
        "-u",
        &format!("admin:{}", server.admin_token),
        "-X",
        "DELETE",
        &url,
    ]);
    assert_eq!(code, "204");
    let (code, body) = curl(&[&url]);
    assert_eq!(code, "404", "{body}");
}
