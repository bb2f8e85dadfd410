//! Single flight: concurrent callers with one key share one computation. The last
//! caller to leave (finished or dropped) removes the key, so a later call computes
//! anew, and a leader dropped half-way hands the work to the next waiter.

use std::collections::HashMap;
use std::future::Future;
use std::hash::Hash;
use std::sync::{Arc, Mutex};

use tokio::sync::OnceCell;

pub struct SingleFlight<K, V> {
    running: Mutex<HashMap<K, Arc<OnceCell<V>>>>,
}

impl<K, V> Default for SingleFlight<K, V> {
    fn default() -> Self {
        Self {
            running: Mutex::new(HashMap::new()),
        }
    }
}

impl<K: Eq + Hash + Clone, V: Clone> SingleFlight<K, V> {
    /// `work`'s value, or that of the call with this key already under way.
    pub async fn run<F, Fut>(&self, key: K, work: F) -> V
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = V>,
    {
        let cell = lock(&self.running).entry(key.clone()).or_default().clone();
        let _leave = Leave {
            flights: self,
            key,
            cell: Some(cell.clone()),
        };
        cell.get_or_init(work).await.clone()
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        lock(&self.running).len()
    }
}

struct Leave<'a, K: Eq + Hash, V> {
    flights: &'a SingleFlight<K, V>,
    key: K,
    cell: Option<Arc<OnceCell<V>>>,
}

impl<K: Eq + Hash, V> Drop for Leave<'_, K, V> {
    fn drop(&mut self) {
        let Some(cell) = self.cell.take() else { return };
        // Clones are made and dropped under this lock, so the count is exact: the map's
        // and the caller's own `cell` in `run` are the other two.
        let mut running = lock(&self.flights.running);
        let ours = running
            .get(&self.key)
            .is_some_and(|c| Arc::ptr_eq(c, &cell));
        let last = Arc::strong_count(&cell) == 3;
        drop(cell);
        if ours && last {
            running.remove(&self.key);
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|p| p.into_inner())
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    #[tokio::test]
    async fn concurrent_calls_share_one_computation_and_leave_no_key() {
        let flights = Arc::new(SingleFlight::<&str, usize>::default());
        let runs = Arc::new(AtomicUsize::new(0));
        let calls = (0..20).map(|_| {
            let (flights, runs) = (flights.clone(), runs.clone());
            tokio::spawn(async move {
                flights
                    .run("k", || async {
                        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                        runs.fetch_add(1, Ordering::SeqCst) + 7
                    })
                    .await
            })
        });
        for call in calls.collect::<Vec<_>>() {
            assert_eq!(call.await.unwrap(), 7);
        }
        assert_eq!(runs.load(Ordering::SeqCst), 1);
        assert_eq!(flights.len(), 0);
        assert_eq!(flights.run("k", || async { 9 }).await, 9, "computed anew");
    }
}
