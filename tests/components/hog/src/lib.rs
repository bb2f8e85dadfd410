//! Test plugin `hog`: `match-route` allocates memory without bound for paths starting
//! with `/boom`. Proves the host's linear-memory cap stops a guest (the failed
//! allocation aborts) and that the format keeps serving (`GET /ok` answers `ok`).

#[macro_use]
#[path = "../../fixture.rs"]
mod fixture;

misbehaving_plugin!(Hog, "hog");

/// Hoards 1 MiB buffers of non-zero bytes (so every page is touched) until allocation fails.
fn misbehave() -> ! {
    let mut hoard: Vec<Vec<u8>> = Vec::new();
    loop {
        hoard.push(vec![0xA5; 1 << 20]);
        std::hint::black_box(&mut hoard);
    }
}
