//! The web UI, embedded in the binary in release builds (read from `ui/dist` in debug builds).

use super::AppState;
use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Response};

#[derive(rust_embed::RustEmbed)]
// Relative to this crate; in debug builds the files are read from there at run time.
#[folder = "../../ui/dist"]
#[allow_missing = true]
struct Assets;

pub async fn serve(State(state): State<AppState>, request: Request) -> Response {
    if !state.auth.is_signed_in(&state.hub, request.headers()) {
        return page(StatusCode::UNAUTHORIZED, sign_in_page(None));
    }
    let path = request.uri().path().trim_start_matches('/');
    let file = Assets::get(path).or_else(|| {
        // Client-side routes (e.g. /devices/d-...) get the app; missing assets stay 404.
        if path.starts_with("assets/") { None } else { Assets::get("index.html") }
    });
    match file {
        Some(file) => {
            let cache = if path.starts_with("assets/") { "public, max-age=31536000, immutable" } else { "no-cache" };
            (
                [
                    (header::CONTENT_TYPE, file.metadata.mimetype().to_owned()),
                    (header::CACHE_CONTROL, cache.to_owned()),
                    (header::CONTENT_SECURITY_POLICY, CSP.to_owned()),
                    (header::X_CONTENT_TYPE_OPTIONS, "nosniff".to_owned()),
                    (header::REFERRER_POLICY, "no-referrer".to_owned()),
                ],
                file.data,
            )
                .into_response()
        }
        None if Assets::get("index.html").is_none() => (StatusCode::SERVICE_UNAVAILABLE, Html(NOT_BUILT_PAGE)).into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

/// Least privilege for the page: its own scripts and styles, and connections back to this hub.
const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

/// The sign-in and invitation pages: no script at all, their own inline style, forms only to
/// this hub, never framed.
const PAGE_CSP: &str =
    "default-src 'none'; style-src 'unsafe-inline'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// A page of the hub's own (sign-in, invitation): no script, no framing. Its forms' POSTs are
/// checked to come from this hub's origin, so the referrer policy keeps the `Origin` header for
/// same-origin requests (`no-referrer` would make browsers send `Origin: null`).
pub fn page(status: StatusCode, html: String) -> Response {
    let headers = [
        (header::CONTENT_SECURITY_POLICY, PAGE_CSP),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::REFERRER_POLICY, "same-origin"),
    ];
    (status, headers, Html(html)).into_response()
}

/// The sign-in page: a member's name and password (a plain form, no script), or the owner's
/// link from `hearth open`. `problem` is said above the form.
pub fn sign_in_page(problem: Option<&str>) -> String {
    let problem = problem.map(|p| format!("<p role=\"alert\" style=\"color:#b00020\">{}</p>", escape(p))).unwrap_or_default();
    format!(
        r#"<!doctype html><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1"><title>Hearth: sign in</title>
<body style="font-family:system-ui;max-width:30rem;margin:3rem auto;padding:0 1rem;line-height:1.5">
<h1>Hearth</h1>{problem}
<form method="post" action="/login">
<p><label>Your name<br><input name="name" autocomplete="username" required maxlength="64" style="font-size:1rem;padding:.5rem;width:100%"></label></p>
<p><label>Password<br><input name="password" type="password" autocomplete="current-password" required maxlength="256" style="font-size:1rem;padding:.5rem;width:100%"></label></p>
<p><button type="submit" style="font-size:1rem;padding:.6rem 1.2rem;min-height:44px">Sign in</button></p>
</form>
<p>No password yet? Open the invitation link the hub's owner sent you. The owner can always sign in
on the hub itself with <code>hearth open</code>.</p></body>"#
    )
}

/// The page an invitation link opens: one button, which accepts it (a POST from this page).
pub fn invitation_page(code: &str) -> String {
    format!(
        r#"<!doctype html><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1"><title>Hearth: your invitation</title>
<body style="font-family:system-ui;max-width:30rem;margin:3rem auto;padding:0 1rem;line-height:1.5">
<h1>Hearth</h1>
<p>You were invited to this home's Hearth. The link works once: accepting signs this browser in,
and you may then choose a password.</p>
<form method="post" action="/invite"><input type="hidden" name="code" value="{}">
<p><button type="submit" style="font-size:1rem;padding:.6rem 1.2rem;min-height:44px">Accept the invitation</button></p>
</form></body>"#,
        escape(code)
    )
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

const NOT_BUILT_PAGE: &str = r#"<!doctype html><meta charset="utf-8"><title>Hearth</title>
<body style="font-family:system-ui;max-width:36rem;margin:4rem auto;line-height:1.5">
<h1>Hearth</h1><p>The hub is running, but this build has no web UI. Build it with
<code>npm ci &amp;&amp; npm run build</code> in <code>ui/</code> and rebuild Hearth. The API works meanwhile.</p></body>"#;
