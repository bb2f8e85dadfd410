//! Test plugin `spin`: `match-route` loops forever for paths starting with `/boom`.
//! Proves the host's fuel/epoch limit interrupts a guest that never returns, and that
//! the format keeps serving (`GET /ok` answers `ok`) afterwards.

#[macro_use]
#[path = "../../fixture.rs"]
mod fixture;

misbehaving_plugin!(Spin, "spin");

/// Counts forever; `black_box` keeps the optimizer from removing the loop.
fn misbehave() -> ! {
    let mut counter: u64 = 0;
    loop {
        counter = std::hint::black_box(counter.wrapping_add(1));
    }
}
