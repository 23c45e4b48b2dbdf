//! Scopes (RFC 6749 §3.3): space-delimited, case-sensitive tokens of
//! `%x21 / %x23-5B / %x5D-7E`; order does not matter.

use std::collections::BTreeSet;
use std::fmt;

use crate::{ErrorCode, OAuthError};

/// Longest scope token accepted.
const MAX_SCOPE_TOKEN: usize = 128;

/// A set of scope tokens, printed in a stable (sorted) order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ScopeSet(BTreeSet<String>);

impl ScopeSet {
    /// Parse a `scope` parameter; bad characters are `invalid_scope`.
    pub fn parse(raw: &str) -> Result<Self, OAuthError> {
        let mut set = BTreeSet::new();
        for token in raw.split(' ').filter(|t| !t.is_empty()) {
            verify_scope_token(token)?;
            set.insert(token.to_owned());
        }
        Ok(Self(set))
    }

    /// Build from trusted tokens, validating each.
    pub fn from_tokens<I, S>(tokens: I) -> Result<Self, OAuthError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let mut set = BTreeSet::new();
        for t in tokens {
            verify_scope_token(t.as_ref())?;
            set.insert(t.as_ref().to_owned());
        }
        Ok(Self(set))
    }

    /// Whether every token of `self` is in `other`.
    pub fn is_subset(&self, other: &ScopeSet) -> bool {
        self.0.is_subset(&other.0)
    }

    /// Whether the set holds `token`.
    pub fn contains(&self, token: &str) -> bool {
        self.0.contains(token)
    }

    /// Whether the set is empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The tokens, sorted.
    pub fn iter(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(String::as_str)
    }

    /// Tokens of `self` missing from `other`, space-delimited.
    pub fn missing_from(&self, other: &ScopeSet) -> String {
        self.0.difference(&other.0).map(String::as_str).collect::<Vec<_>>().join(" ")
    }
}

impl fmt::Display for ScopeSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        for t in &self.0 {
            if !first {
                f.write_str(" ")?;
            }
            f.write_str(t)?;
            first = false;
        }
        Ok(())
    }
}

/// RFC 6749 §3.3 `scope-token = 1*( %x21 / %x23-5B / %x5D-7E )`.
pub fn verify_scope_token(token: &str) -> Result<(), OAuthError> {
    let ok = !token.is_empty()
        && token.len() <= MAX_SCOPE_TOKEN
        && token.bytes().all(|b| b == 0x21 || (0x23..=0x5B).contains(&b) || (0x5D..=0x7E).contains(&b));
    if ok { Ok(()) } else { Err(OAuthError::new(ErrorCode::InvalidScope, "scope contains a malformed scope token")) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_and_print_is_sorted_and_deduplicated() {
        let s = ScopeSet::parse("b a  b").unwrap();
        assert_eq!(s.to_string(), "a b");
        assert_eq!(ScopeSet::parse(&s.to_string()).unwrap(), s);
    }

    #[test]
    fn forbidden_characters_are_invalid_scope() {
        for bad in ["a\"b", "a\\b", "caf\u{e9}", "tab\there", "a\u{7f}"] {
            assert_eq!(ScopeSet::parse(bad).unwrap_err().code, ErrorCode::InvalidScope, "{bad:?}");
        }
        assert_eq!(ScopeSet::parse(&"x".repeat(129)).unwrap_err().code, ErrorCode::InvalidScope);
    }

    #[test]
    fn subset_rules() {
        let all = ScopeSet::parse("items:read items:write").unwrap();
        assert!(ScopeSet::parse("items:read").unwrap().is_subset(&all));
        let wide = ScopeSet::parse("items:read admin").unwrap();
        assert!(!wide.is_subset(&all));
        assert_eq!(wide.missing_from(&all), "admin");
    }
}
