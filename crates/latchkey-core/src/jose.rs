//! JOSE for RFC 9068 access tokens: key generation, signing, the public JWK Set, and
//! verification.
//!
//! Signing uses `aws-lc-rs` key pairs parsed once (the JOSE crate re-parses the PKCS#8
//! key on every call, which halves ES256 throughput); the compact serialization is the
//! few lines below. Verification uses `jsonwebtoken`, with the algorithm pinned by our
//! own key, never taken from the token header (RFC 8725 §3.1).

use std::collections::HashMap;
use std::fmt;

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rsa::KeySize;
use aws_lc_rs::signature::{
    ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, Ed25519KeyPair, KeyPair, RSA_PKCS1_SHA256, RsaKeyPair,
};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, DecodingKey, Validation, jwk::Jwk};
use serde::{Deserialize, Serialize};

use crate::secret::{Secret, random_bytes};
use crate::token::AccessTokenClaims;

/// The `typ` of RFC 9068 access tokens.
pub const AT_JWT_TYP: &str = "at+jwt";

/// Signing algorithms latchkey issues tokens with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum SigningAlg {
    /// Ed25519 (RFC 8037); the default: fast and with no parameter choices to get wrong.
    EdDSA,
    /// ECDSA P-256 with SHA-256.
    ES256,
    /// RSASSA-PKCS1-v1_5 with SHA-256, 2048-bit keys.
    RS256,
}

impl SigningAlg {
    /// Parse the JOSE name.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "EdDSA" => Some(Self::EdDSA),
            "ES256" => Some(Self::ES256),
            "RS256" => Some(Self::RS256),
            _ => None,
        }
    }

    /// The JOSE name, as in the header and the JWKS.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::EdDSA => "EdDSA",
            Self::ES256 => "ES256",
            Self::RS256 => "RS256",
        }
    }

    fn jwt_algorithm(self) -> Algorithm {
        match self {
            Self::EdDSA => Algorithm::EdDSA,
            Self::ES256 => Algorithm::ES256,
            Self::RS256 => Algorithm::RS256,
        }
    }
}

impl fmt::Display for SigningAlg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A key could not be generated or parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyError(pub &'static str);

impl fmt::Display for KeyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

impl std::error::Error for KeyError {}

/// A fresh key id: 96 random bits, URL-safe.
pub fn new_kid() -> String {
    URL_SAFE_NO_PAD.encode(random_bytes::<12>())
}

/// Generate a private key for `alg`, as PKCS#8 DER.
pub fn generate_private_key(alg: SigningAlg) -> Result<Secret<Vec<u8>>, KeyError> {
    let der = match alg {
        SigningAlg::EdDSA => Ed25519KeyPair::generate()
            .and_then(|k| k.to_pkcs8())
            .map(|d| d.as_ref().to_vec())
            .map_err(|_| KeyError("Ed25519 key generation failed"))?,
        SigningAlg::ES256 => EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING)
            .and_then(|k| k.to_pkcs8v1())
            .map(|d| d.as_ref().to_vec())
            .map_err(|_| KeyError("P-256 key generation failed"))?,
        SigningAlg::RS256 => RsaKeyPair::generate(KeySize::Rsa2048)
            .map_err(|_| KeyError("RSA key generation failed"))
            .and_then(|k| k.as_der().map(|d| d.as_ref().to_vec()).map_err(|_| KeyError("RSA key encoding failed")))?,
    };
    Ok(Secret::new(der))
}

enum Pair {
    Ed(Ed25519KeyPair),
    Ec(EcdsaKeyPair),
    Rsa(RsaKeyPair),
}

/// A parsed private key that signs access tokens.
pub struct SigningKey {
    kid: String,
    alg: SigningAlg,
    pair: Pair,
    header_b64: String,
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SigningKey({} {})", self.alg, self.kid)
    }
}

#[derive(Serialize)]
struct JwsHeader<'a> {
    alg: &'a str,
    typ: &'a str,
    kid: &'a str,
}

impl SigningKey {
    /// Parse a PKCS#8 private key.
    pub fn from_pkcs8(kid: &str, alg: SigningAlg, der: &[u8]) -> Result<Self, KeyError> {
        let pair = match alg {
            SigningAlg::EdDSA => {
                Pair::Ed(Ed25519KeyPair::from_pkcs8(der).map_err(|_| KeyError("not an Ed25519 PKCS#8 key"))?)
            }
            SigningAlg::ES256 => Pair::Ec(
                EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, der)
                    .map_err(|_| KeyError("not a P-256 PKCS#8 key"))?,
            ),
            SigningAlg::RS256 => Pair::Rsa(RsaKeyPair::from_pkcs8(der).map_err(|_| KeyError("not an RSA PKCS#8 key"))?),
        };
        let header = JwsHeader { alg: alg.as_str(), typ: AT_JWT_TYP, kid };
        let header_b64 = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&header).map_err(|_| KeyError("header"))?);
        Ok(Self { kid: kid.to_owned(), alg, pair, header_b64 })
    }

    /// The key id.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The algorithm.
    pub fn alg(&self) -> SigningAlg {
        self.alg
    }

    /// The public key as a JWK (RFC 7517), with `kid`, `alg` and `use: "sig"`.
    pub fn public_jwk(&self) -> serde_json::Value {
        let b64 = |b: &[u8]| URL_SAFE_NO_PAD.encode(b);
        let mut jwk = match &self.pair {
            Pair::Ed(k) => serde_json::json!({"kty": "OKP", "crv": "Ed25519", "x": b64(k.public_key().as_ref())}),
            Pair::Ec(k) => {
                // Uncompressed SEC1 point: 0x04 || X || Y.
                let p = k.public_key().as_ref();
                serde_json::json!({"kty": "EC", "crv": "P-256", "x": b64(&p[1..33]), "y": b64(&p[33..65])})
            }
            Pair::Rsa(k) => {
                let pk = k.public_key();
                serde_json::json!({"kty": "RSA",
                    "n": b64(pk.modulus().big_endian_without_leading_zero()),
                    "e": b64(pk.exponent().big_endian_without_leading_zero())})
            }
        };
        jwk["kid"] = self.kid.clone().into();
        jwk["alg"] = self.alg.as_str().into();
        jwk["use"] = "sig".into();
        jwk
    }

    /// Sign claims as a compact JWS with `typ: at+jwt` (RFC 9068 §2.1).
    pub fn sign_jwt<T: Serialize>(&self, claims: &T) -> Result<String, KeyError> {
        let payload = serde_json::to_vec(claims).map_err(|_| KeyError("claims do not serialize"))?;
        let mut out = String::with_capacity(self.header_b64.len() + payload.len() * 4 / 3 + 360);
        out.push_str(&self.header_b64);
        out.push('.');
        URL_SAFE_NO_PAD.encode_string(&payload, &mut out);
        let signature = match &self.pair {
            Pair::Ed(k) => k.sign(out.as_bytes()).as_ref().to_vec(),
            Pair::Ec(k) => k
                .sign(&aws_lc_rs::rand::SystemRandom::new(), out.as_bytes())
                .map_err(|_| KeyError("ECDSA signing failed"))?
                .as_ref()
                .to_vec(),
            Pair::Rsa(k) => {
                let mut sig = vec![0; k.public_modulus_len()];
                k.sign(&RSA_PKCS1_SHA256, &aws_lc_rs::rand::SystemRandom::new(), out.as_bytes(), &mut sig)
                    .map_err(|_| KeyError("RSA signing failed"))?;
                sig
            }
        };
        out.push('.');
        URL_SAFE_NO_PAD.encode_string(&signature, &mut out);
        Ok(out)
    }
}

/// Why a JWT was not accepted. Deliberately coarse: the reason is logged, the client
/// only learns `invalid_token` / `active: false`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JwtRejection {
    /// Not a compact JWS, or undecodable header or claims.
    Malformed,
    /// `typ` is not `at+jwt` (RFC 9068 §4), or a `crit` header we do not understand.
    WrongType,
    /// No published key has this `kid`.
    UnknownKey,
    /// The header `alg` is not the algorithm of the key (alg confusion, `none`).
    WrongAlgorithm,
    /// The signature does not verify.
    BadSignature,
    /// `iss` is not the expected issuer.
    WrongIssuer,
    /// `aud` does not contain the expected audience.
    WrongAudience,
    /// `exp` has passed.
    Expired,
    /// `nbf` or `iat` lies in the future beyond the allowed skew.
    NotYetValid,
}

impl fmt::Display for JwtRejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = match self {
            Self::Malformed => "malformed token",
            Self::WrongType => "token is not an RFC 9068 access token",
            Self::UnknownKey => "token is signed by an unknown key",
            Self::WrongAlgorithm => "token algorithm does not match its key",
            Self::BadSignature => "token signature is invalid",
            Self::WrongIssuer => "token issuer is not trusted",
            Self::WrongAudience => "token audience does not match",
            Self::Expired => "token has expired",
            Self::NotYetValid => "token is not yet valid",
        };
        f.write_str(s)
    }
}

impl std::error::Error for JwtRejection {}

/// Most bytes of a `kid` we look up (RFC 8725 §3.10: `kid` is untrusted input).
const MAX_KID_LEN: usize = 128;

/// Public keys that verify access tokens, by `kid`.
#[derive(Default)]
pub struct VerifyingKeys {
    keys: HashMap<String, (Algorithm, DecodingKey)>,
}

impl fmt::Debug for VerifyingKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "VerifyingKeys({:?})", self.keys.keys().collect::<Vec<_>>())
    }
}

/// What a verifier expects of a token beyond its signature.
#[derive(Debug, Clone)]
pub struct Expectations<'a> {
    /// Required `iss`.
    pub issuer: &'a str,
    /// When set, `aud` must contain it.
    pub audience: Option<&'a str>,
    /// Now, in seconds since the epoch.
    pub now: i64,
    /// Allowed clock skew in seconds for `exp`, `nbf` and `iat`.
    pub leeway: i64,
}

impl VerifyingKeys {
    /// Keys from JWKs (objects with `kid`, `alg` and key material). Keys with an
    /// algorithm we do not support are skipped, never guessed.
    pub fn from_jwks<'a>(jwks: impl IntoIterator<Item = &'a serde_json::Value>) -> Self {
        let mut keys = HashMap::new();
        for value in jwks {
            let (Some(kid), Some(alg)) = (
                value.get("kid").and_then(|k| k.as_str()),
                value.get("alg").and_then(|a| a.as_str()).and_then(SigningAlg::parse),
            ) else {
                continue;
            };
            let Ok(jwk) = serde_json::from_value::<Jwk>(value.clone()) else { continue };
            let Ok(key) = DecodingKey::from_jwk(&jwk) else { continue };
            if kid.len() <= MAX_KID_LEN {
                keys.insert(kid.to_owned(), (alg.jwt_algorithm(), key));
            }
        }
        Self { keys }
    }

    /// Whether a key with this `kid` is known.
    pub fn contains(&self, kid: &str) -> bool {
        self.keys.contains_key(kid)
    }

    /// Number of keys.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Whether there are no keys.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// Verify an RFC 9068 access token: header, signature by a known key with that
    /// key's algorithm, then `iss`, `aud`, `exp`, `nbf`.
    pub fn verify(&self, token: &str, want: &Expectations<'_>) -> Result<AccessTokenClaims, JwtRejection> {
        let header = jsonwebtoken::decode_header(token).map_err(|_| JwtRejection::Malformed)?;
        let typ_ok = header
            .typ
            .as_deref()
            .is_some_and(|t| t.eq_ignore_ascii_case(AT_JWT_TYP) || t.eq_ignore_ascii_case("application/at+jwt"));
        if !typ_ok || header.crit.is_some() {
            return Err(JwtRejection::WrongType);
        }
        let kid = header.kid.as_deref().filter(|k| k.len() <= MAX_KID_LEN).ok_or(JwtRejection::UnknownKey)?;
        let (alg, key) = self.keys.get(kid).ok_or(JwtRejection::UnknownKey)?;
        if header.alg != *alg {
            return Err(JwtRejection::WrongAlgorithm);
        }
        let mut validation = Validation::new(*alg);
        // Time and audience are checked below against `want`, so tests can pin the clock.
        validation.validate_exp = false;
        validation.validate_aud = false;
        validation.required_spec_claims.clear();
        let data = jsonwebtoken::decode::<AccessTokenClaims>(token, key, &validation).map_err(|e| match e.kind() {
            jsonwebtoken::errors::ErrorKind::InvalidSignature => JwtRejection::BadSignature,
            _ => JwtRejection::Malformed,
        })?;
        let claims = data.claims;
        if claims.iss != want.issuer {
            return Err(JwtRejection::WrongIssuer);
        }
        if want.audience.is_some_and(|aud| !claims.aud.contains(aud)) {
            return Err(JwtRejection::WrongAudience);
        }
        if claims.exp <= want.now - want.leeway {
            return Err(JwtRejection::Expired);
        }
        if claims.nbf.is_some_and(|nbf| nbf > want.now + want.leeway) || claims.iat > want.now + want.leeway {
            return Err(JwtRejection::NotYetValid);
        }
        Ok(claims)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::token::Audience;

    fn claims(exp: i64) -> AccessTokenClaims {
        AccessTokenClaims {
            iss: "https://as.example".into(),
            sub: "svc".into(),
            aud: Audience::One("https://api.example".into()),
            exp,
            iat: 1000,
            nbf: None,
            jti: "j1".into(),
            client_id: "svc".into(),
            scope: "items:read".into(),
            username: None,
            grant_id: None,
        }
    }

    fn want(now: i64) -> Expectations<'static> {
        Expectations { issuer: "https://as.example", audience: Some("https://api.example"), now, leeway: 0 }
    }

    #[test]
    fn sign_then_verify_round_trips_for_every_algorithm() {
        for alg in [SigningAlg::EdDSA, SigningAlg::ES256, SigningAlg::RS256] {
            let der = generate_private_key(alg).unwrap();
            let key = SigningKey::from_pkcs8("k1", alg, der.expose()).unwrap();
            let token = key.sign_jwt(&claims(2000)).unwrap();
            let keys = VerifyingKeys::from_jwks([&key.public_jwk()]);
            assert_eq!(keys.verify(&token, &want(1500)).unwrap(), claims(2000), "{alg}");
            assert_eq!(keys.verify(&token, &want(2000)).unwrap_err(), JwtRejection::Expired);
        }
    }

    #[test]
    fn wrong_issuer_audience_key_and_tampering_are_rejected() {
        let der = generate_private_key(SigningAlg::EdDSA).unwrap();
        let key = SigningKey::from_pkcs8("k1", SigningAlg::EdDSA, der.expose()).unwrap();
        let keys = VerifyingKeys::from_jwks([&key.public_jwk()]);
        let token = key.sign_jwt(&claims(2000)).unwrap();
        let mut w = want(1500);
        w.issuer = "https://evil.example";
        assert_eq!(keys.verify(&token, &w).unwrap_err(), JwtRejection::WrongIssuer);
        let mut w = want(1500);
        w.audience = Some("https://other.example");
        assert_eq!(keys.verify(&token, &w).unwrap_err(), JwtRejection::WrongAudience);
        assert_eq!(VerifyingKeys::default().verify(&token, &want(1500)).unwrap_err(), JwtRejection::UnknownKey);
        let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
        let forged = claims(9999);
        parts[1] = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&forged).unwrap());
        assert_eq!(keys.verify(&parts.join("."), &want(1500)).unwrap_err(), JwtRejection::BadSignature);
    }

    #[test]
    fn none_and_hmac_with_public_key_are_rejected() {
        let der = generate_private_key(SigningAlg::EdDSA).unwrap();
        let key = SigningKey::from_pkcs8("k1", SigningAlg::EdDSA, der.expose()).unwrap();
        let keys = VerifyingKeys::from_jwks([&key.public_jwk()]);
        let body = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&claims(2000)).unwrap());
        for alg in ["none", "HS256"] {
            let header = URL_SAFE_NO_PAD.encode(format!(r#"{{"alg":"{alg}","typ":"at+jwt","kid":"k1"}}"#));
            let token = format!("{header}.{body}.c2ln");
            assert!(keys.verify(&token, &want(1500)).is_err(), "{alg}");
        }
        let jwt_typ = URL_SAFE_NO_PAD.encode(r#"{"alg":"EdDSA","typ":"JWT","kid":"k1"}"#);
        assert_eq!(keys.verify(&format!("{jwt_typ}.{body}.c2ln"), &want(1500)).unwrap_err(), JwtRejection::WrongType);
    }
}
