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
                    .map_err(|e| StartError::Templates(format!("cannot read {}: {e}", path.display())))?,
                None => (*builtin).to_owned(),
            };
            env.add_template_owned(*name, source)
                .map_err(|e| StartError::Templates(format!("{name} does not parse: {e}")))?;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_template_in_the_folder_replaces_the_builtin_one_and_values_are_escaped() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("error.html"), "<p>custom: {{ description }}</p>").unwrap();
        let pages = Pages::load(Some(dir.path())).unwrap();
        let e = latchkey_core::OAuthError::invalid_request("<script>alert(1)</script>");
        let res = pages.error(StatusCode::BAD_REQUEST, &e);
        assert_eq!(res.headers()[header::X_FRAME_OPTIONS], "DENY");
        let body = futures_body(res);
        assert!(body.starts_with("<p>custom: "), "{body}");
        assert!(!body.contains("<script>"), "auto-escaped: {body}");
        // The other pages keep the built-in templates.
        let login = Pages::load(Some(dir.path())).unwrap().render(
            "login.html",
            StatusCode::OK,
            minijinja::context! { client_name => "X", request_id => "r", csrf_token => "c", action => "/a" },
        );
        assert!(futures_body(login).contains("name=\"csrf_token\" value=\"c\""));
    }

    fn futures_body(res: Response) -> String {
        let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
        let bytes = rt.block_on(axum::body::to_bytes(res.into_body(), 1 << 20)).unwrap();
        String::from_utf8(bytes.to_vec()).unwrap()
    }
}
