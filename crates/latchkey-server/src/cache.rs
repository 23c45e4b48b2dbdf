//! Small per-node caches with a time bound: clients, and resolved access tokens.
//!
//! Each entry is trusted for at most the cache's `ttl`, which is the bound on how late
//! a change made elsewhere (another node, the admin CLI) is seen here. Changes made
//! through this node take effect at once: [`ShortCache::invalidate_all`] moves the
//! cache to a new generation, and an entry from an older generation is never served,
//! even one whose database read began before the change and was inserted after it.

use std::borrow::Borrow;
use std::collections::HashMap;
use std::hash::Hash;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// A bounded map whose entries expire after `ttl`.
pub struct ShortCache<K, V> {
    ttl: Duration,
    max: usize,
    inner: Mutex<Inner<K, V>>,
}

struct Inner<K, V> {
    generation: u64,
    entries: HashMap<K, (Instant, u64, V)>,
}

/// The generation an entry is read under: take it before the database read, give it
/// back with the value to [`ShortCache::insert`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Generation(u64);

impl<K: Hash + Eq, V: Clone> ShortCache<K, V> {
    /// A cache of at most `max` entries, each trusted for `ttl`; a zero `ttl` caches
    /// nothing.
    pub fn new(ttl: Duration, max: usize) -> Self {
        Self { ttl, max, inner: Mutex::new(Inner { generation: 0, entries: HashMap::new() }) }
    }

    /// The cached value, if fresh; otherwise the generation to insert a fresh read under.
    pub fn get<Q>(&self, key: &Q) -> Result<V, Generation>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let Ok(inner) = self.inner.lock() else { return Err(Generation(u64::MAX)) };
        match inner.entries.get(key) {
            Some((at, generation, v)) if *generation == inner.generation && at.elapsed() < self.ttl => Ok(v.clone()),
            _ => Err(Generation(inner.generation)),
        }
    }

    /// Remember `value`, read from the database under `generation`. Dropped if the
    /// cache was invalidated since: the read may predate the change.
    pub fn insert(&self, key: K, value: V, generation: Generation) {
        if self.ttl.is_zero() {
            return;
        }
        let Ok(mut inner) = self.inner.lock() else { return };
        if generation.0 != inner.generation {
            return;
        }
        if inner.entries.len() >= self.max {
            // Full: drop what is stale; if that frees too little, start over (a flood of
            // distinct keys cannot grow memory past `max`).
            let (current, ttl) = (inner.generation, self.ttl);
            inner.entries.retain(|_, (at, g, _)| *g == current && at.elapsed() < ttl);
            if inner.entries.len() >= self.max / 2 {
                inner.entries.clear();
            }
        }
        inner.entries.insert(key, (Instant::now(), generation.0, value));
    }

    /// Forget everything: a change made through this node is seen at once.
    pub fn invalidate_all(&self) {
        if let Ok(mut inner) = self.inner.lock() {
            inner.generation += 1;
            inner.entries.clear();
        }
    }

    /// How many entries are held (fresh or not).
    pub fn len(&self) -> usize {
        self.inner.lock().map(|i| i.entries.len()).unwrap_or(0)
    }

    /// Whether nothing is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fresh_entry_is_served_and_an_old_one_is_not() {
        let c: ShortCache<String, u32> = ShortCache::new(Duration::from_millis(50), 10);
        let g = c.get("a").unwrap_err();
        c.insert("a".into(), 1, g);
        assert_eq!(c.get("a"), Ok(1));
        std::thread::sleep(Duration::from_millis(60));
        assert!(c.get("a").is_err(), "expired after ttl");
    }

    #[test]
    fn a_read_that_began_before_an_invalidation_is_never_served() {
        let c: ShortCache<String, u32> = ShortCache::new(Duration::from_secs(60), 10);
        let before = c.get("a").unwrap_err();
        c.invalidate_all(); // a revocation commits while the read is in flight
        c.insert("a".into(), 1, before);
        assert!(c.get("a").is_err(), "the stale read was dropped");
        let after = c.get("a").unwrap_err();
        c.insert("a".into(), 2, after);
        assert_eq!(c.get("a"), Ok(2));
    }

    #[test]
    fn invalidation_drops_what_is_held() {
        let c: ShortCache<String, u32> = ShortCache::new(Duration::from_secs(60), 10);
        let g = c.get("a").unwrap_err();
        c.insert("a".into(), 1, g);
        c.invalidate_all();
        assert!(c.get("a").is_err());
        assert!(c.is_empty());
    }

    #[test]
    fn zero_ttl_caches_nothing() {
        let c: ShortCache<String, u32> = ShortCache::new(Duration::ZERO, 10);
        let g = c.get("a").unwrap_err();
        c.insert("a".into(), 1, g);
        assert!(c.get("a").is_err());
        assert!(c.is_empty());
    }

    #[test]
    fn a_flood_of_keys_stays_within_the_bound() {
        let c: ShortCache<u32, u32> = ShortCache::new(Duration::from_secs(60), 100);
        for i in 0..10_000 {
            let g = c.get(&i).unwrap_err();
            c.insert(i, i, g);
            assert!(c.len() <= 100);
        }
        assert_eq!(c.get(&9_999), Ok(9_999), "the newest entry is held");
    }
}
