//! Test plugin `trap`: `match-route` panics (a wasm trap) for paths starting with `/boom`.
//! Proves the host turns a guest trap into a 500 for that request only and keeps serving
//! (`GET /ok` answers `ok`) with a fresh instance.

#[macro_use]
#[path = "../../fixture.rs"]
mod fixture;

misbehaving_plugin!(Trap, "trap");

/// Panics; with `panic = "abort"` this is an `unreachable` trap in the guest.
fn misbehave() -> ! {
    panic!("trap test plugin: deliberate panic");
}
