//! Each format's share of the instance pool (`formats.NAME.max_concurrent`).
//!
//! Every plugin call holds one of its format's slots while its instance lives, and the
//! pool has room for all shares at once, so a format whose calls are slow (a plugin
//! spinning until its time limit) runs out of its own slots only; the others keep
//! theirs. A call that finds no free slot within [`QUEUE_WAIT`] is refused as busy
//! (503 with `Retry-After`) rather than queueing behind calls that may each take the
//! whole time limit.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// How long a call waits for a slot. Calls take a millisecond or two, so a burst of
/// them is absorbed well within it; slots busy for longer are held by slow calls.
const QUEUE_WAIT: Duration = Duration::from_millis(100);

/// One format's slots.
pub struct Slots {
    permits: Arc<Semaphore>,
    retry_after: Duration,
}

/// A held slot; dropping it frees the slot.
pub struct Slot(#[expect(dead_code, reason = "held for its drop")] OwnedSemaphorePermit);

impl Slots {
    /// `share` slots for calls cut at `time_limit`.
    pub fn new(share: usize, time_limit: Duration) -> Self {
        Self {
            permits: Arc::new(Semaphore::new(share.max(1))),
            // Every call holding a slot now has ended by then; whole seconds, as
            // `Retry-After` counts them.
            retry_after: Duration::from_secs(time_limit.as_millis().div_ceil(1000).max(1) as u64),
        }
    }

    /// A free slot, waiting up to [`QUEUE_WAIT`] for one; `None` when the format is busy.
    pub async fn acquire(&self) -> Option<Slot> {
        let permit = tokio::time::timeout(QUEUE_WAIT, self.permits.clone().acquire_owned());
        permit.await.ok()?.ok().map(Slot)
    }

    /// When a refused caller should try again.
    pub fn retry_after(&self) -> Duration {
        self.retry_after
    }
}

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use super::*;

    #[tokio::test]
    async fn a_full_share_refuses_quickly_and_frees_on_drop() {
        let slots = Slots::new(2, Duration::from_millis(2500));
        assert_eq!(slots.retry_after(), Duration::from_secs(3));
        let first = slots.acquire().await.expect("a free slot");
        let _second = slots.acquire().await.expect("a free slot");
        let started = Instant::now();
        assert!(slots.acquire().await.is_none(), "the share is full");
        let waited = started.elapsed();
        assert!(
            (QUEUE_WAIT..QUEUE_WAIT * 5).contains(&waited),
            "waited {waited:?}"
        );
        // A slot freed while a call waits goes to it.
        let free_soon = async {
            tokio::time::sleep(QUEUE_WAIT / 4).await;
            drop(first);
        };
        let (waited_for, ()) = tokio::join!(slots.acquire(), free_soon);
        assert!(waited_for.is_some());
        assert_eq!(
            Slots::new(1, Duration::from_millis(10)).retry_after(),
            Duration::from_secs(1)
        );
    }
}
