//! Prometheus text-format metrics (exposition format 0.0.4), kept by hand: a few
//! counters do not justify an exporter with its own HTTP stack.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

/// Counters of one server.
#[derive(Default)]
pub struct Metrics {
    /// By route, then status: counting a request allocates only for a new route.
    requests: Mutex<BTreeMap<String, BTreeMap<u16, u64>>>,
    tokens: Mutex<BTreeMap<(&'static str, &'static str), u64>>,
    token_errors: Mutex<BTreeMap<&'static str, u64>>,
    introspections: [AtomicU64; 2],
    revocations: AtomicU64,
    login_failures: AtomicU64,
}

impl Metrics {
    /// Count a request to `route` answered with `status`.
    pub fn request(&self, route: &str, status: u16) {
        if let Ok(mut m) = self.requests.lock() {
            match m.get_mut(route) {
                Some(by_status) => *by_status.entry(status).or_default() += 1,
                None => {
                    m.insert(route.to_owned(), BTreeMap::from([(status, 1)]));
                }
            }
        }
    }

    /// Count an issued access token.
    pub fn token_issued(&self, grant: &'static str, format: &'static str) {
        if let Ok(mut m) = self.tokens.lock() {
            *m.entry((grant, format)).or_default() += 1;
        }
    }

    /// Count a refused token request by error code.
    pub fn token_error(&self, code: &'static str) {
        if let Ok(mut m) = self.token_errors.lock() {
            *m.entry(code).or_default() += 1;
        }
    }

    /// Count an introspection by result.
    pub fn introspection(&self, active: bool) {
        self.introspections[usize::from(active)].fetch_add(1, Ordering::Relaxed);
    }

    /// Count a revocation that changed something.
    pub fn revocation(&self) {
        self.revocations.fetch_add(1, Ordering::Relaxed);
    }

    /// Count a failed password check (password grant or login page).
    pub fn login_failure(&self) {
        self.login_failures.fetch_add(1, Ordering::Relaxed);
    }

    /// Render the text exposition format.
    pub fn render(&self) -> String {
        let mut out = String::new();
        out.push_str("# HELP latchkey_http_requests_total HTTP requests by route and status.\n");
        out.push_str("# TYPE latchkey_http_requests_total counter\n");
        if let Ok(m) = self.requests.lock() {
            for (route, status, n) in m.iter().flat_map(|(r, s)| s.iter().map(move |(s, n)| (r, s, n))) {
                let _ = writeln!(out, "latchkey_http_requests_total{{route=\"{route}\",status=\"{status}\"}} {n}");
            }
        }
        out.push_str("# HELP latchkey_tokens_issued_total Access tokens issued by grant type and format.\n");
        out.push_str("# TYPE latchkey_tokens_issued_total counter\n");
        if let Ok(m) = self.tokens.lock() {
            for ((grant, format), n) in m.iter() {
                let _ = writeln!(out, "latchkey_tokens_issued_total{{grant_type=\"{grant}\",format=\"{format}\"}} {n}");
            }
        }
        out.push_str("# HELP latchkey_token_errors_total Refused token requests by OAuth error code.\n");
        out.push_str("# TYPE latchkey_token_errors_total counter\n");
        if let Ok(m) = self.token_errors.lock() {
            for (code, n) in m.iter() {
                let _ = writeln!(out, "latchkey_token_errors_total{{error=\"{code}\"}} {n}");
            }
        }
        out.push_str("# HELP latchkey_introspections_total Introspection requests by result.\n");
        out.push_str("# TYPE latchkey_introspections_total counter\n");
        for (i, label) in ["false", "true"].iter().enumerate() {
            let n = self.introspections[i].load(Ordering::Relaxed);
            let _ = writeln!(out, "latchkey_introspections_total{{active=\"{label}\"}} {n}");
        }
        out.push_str("# HELP latchkey_revocations_total Tokens revoked.\n");
        out.push_str("# TYPE latchkey_revocations_total counter\n");
        let _ = writeln!(out, "latchkey_revocations_total {}", self.revocations.load(Ordering::Relaxed));
        out.push_str("# HELP latchkey_login_failures_total Failed password checks.\n");
        out.push_str("# TYPE latchkey_login_failures_total counter\n");
        let _ = writeln!(out, "latchkey_login_failures_total {}", self.login_failures.load(Ordering::Relaxed));
        out
    }
}
