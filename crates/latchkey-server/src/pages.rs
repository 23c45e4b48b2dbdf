//! Server-rendered HTML for the login, consent and error pages (minijinja, auto-escaped).
//! Templates are built in and can be overridden file by file from `[ui] templates_dir`.

use std::path::Path;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use minijinja::Environment;

use crate::context::StartError;

const TEMPLATES: &[(&str, &str)] = &[
    ("base.html", include_str!("../templates/base.html")),
    ("login.html", include_str!("../templates/login.html")),
    ("consent.html", include_str!("../templates/consent.html")),
    ("error.html", include_str!("../templates/error.html")),
];

/// The page templates.
pub struct Pages {
    env: Environment<'static>,
}

impl Pages {
    /// Built-in templates, each replaced by `dir/<name>` when that file exists.
    pub fn load(dir: Option<&Path>) -> Result<Self, StartError> {
        let mut env = Environment::new();
        for (name, builtin) in TEMPLATES {
            let source = match dir.map(|d| d.join(name)).filter(|p| p.is_file()) {
                Some(path) => std::fs::read_to_string(&path)
                    .map_err(|e| StartError::Secret(format!("cannot read template {}: {e}", path.display())))?,
                None => (*builtin).to_owned(),
            };
            env.add_template_owned(*name, source)
                .map_err(|e| StartError::Keys(format!("template {name} does not parse: {e}")))?;
        }
        Ok(Self { env })
    }

    /// Render `name` with `ctx` as an HTML response with `status` and the headers every
    /// authorization page needs (RFC 9700 §4.16 clickjacking, §4.2.4 referrer).
    pub fn render(&self, name: &str, status: StatusCode, ctx: minijinja::Value) -> Response {
        let body = match self.env.get_template(name).and_then(|t| t.render(ctx)) {
            Ok(b) => b,
            Err(e) => {
                tracing::error!(error = %e, template = name, "template failed");
                return (StatusCode::INTERNAL_SERVER_ERROR, "template error").into_response();
            }
        };
        let mut res = (status, Html(body)).into_response();
        secure_page_headers(res.headers_mut());
        res
    }

    /// The error page: shown, never redirected, when the client cannot be trusted.
    pub fn error(&self, status: StatusCode, error: &latchkey_core::OAuthError) -> Response {
        self.render(
            "error.html",
            status,
            minijinja::context! { error => error.code.as_str(), description => error.description.as_ref() },
        )
    }
}

/// Headers for every HTML page and every redirect from the authorization endpoint.
pub fn secure_page_headers(h: &mut axum::http::HeaderMap) {
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'",
        ),
    );
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
}
