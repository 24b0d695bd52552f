//! Who is asking ([`Caller`]), for every `/api/v1` request:
//! - scripts and the CLI send the owner token (`Authorization: Bearer ...`), kept in the data
//!   directory with owner-only permissions: the hub's founding owner;
//! - browsers carry a session: a random token in an HttpOnly, SameSite=Strict cookie, checked
//!   against the sessions the store keeps (`crate::sessions`), so that a session can be ended at
//!   once. A browser gets one from the owner's one-time code (`hearth serve` / `hearth open`),
//!   a member's invitation (`/invite`, accepted with a POST from this hub's page) or a member's
//!   name and password (`POST /login`).
//!
//! A signed-in member's requests are counted against their budget (`request_budget`): a page or
//! script calling the API back to back is held back to its turn, before its command runs, and
//! refused (429) when its turn is over a second away.
//!
//! CSRF: a cookie-authenticated request that changes anything must carry `X-Hearth-Request`;
//! a cross-site page cannot add a custom header without a CORS preflight, which is never
//! granted. WebSocket upgrades must come from this hub's own origin.

use super::AppState;
use super::limiter::{self, FailureLimiter};
use super::request_budget::{self, Refused, RequestBudget};
use crate::api::types::{ApiError, ErrorCode};
use crate::family::Caller;
use crate::hub::Hub;
use axum::Json;
use axum::extract::{ConnectInfo, FromRequestParts, Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, header, request::Parts};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use hearth_core::device::FOUNDING_OWNER;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Mutex;
use std::time::{Duration, Instant};
use subtle::ConstantTimeEq;

const COOKIE: &str = "hearth_session";
const CSRF_HEADER: &str = "x-hearth-request";
/// A sign-in link is good for 15 minutes and one use: long enough to copy it to a phone.
const CODE_LIFETIME: Duration = Duration::from_secs(15 * 60);

pub struct Auth {
    owner_token: String,
    codes: Mutex<HashMap<String, Instant>>,
    /// Wrong sign-in links per source address (see `limiter`: bounded whatever comes).
    failures: Mutex<FailureLimiter>,
    /// How fast each signed-in member may call the API (`request_budget`).
    budget: Mutex<RequestBudget<String>>,
    /// How fast each source address may ask anything (`request_budget`).
    address_budget: Mutex<RequestBudget<IpAddr>>,
    /// Served over TLS: the session cookie is marked `Secure`.
    secure: bool,
}

impl std::fmt::Debug for Auth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Auth { .. }")
    }
}

impl Auth {
    pub fn new(owner_token: String, secure: bool) -> Self {
        let now = Instant::now();
        Self {
            owner_token,
            codes: Mutex::default(),
            failures: Mutex::new(FailureLimiter::new(now)),
            budget: Mutex::new(RequestBudget::new(request_budget::MEMBER, now)),
            address_budget: Mutex::new(RequestBudget::new(request_budget::ADDRESS, now)),
            secure,
        }
    }

    /// A fresh one-time sign-in code.
    pub fn new_code(&self) -> anyhow::Result<String> {
        let code = crate::random::hex_token(16)?;
        let mut codes = self.codes.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        codes.retain(|_, expires| *expires > now);
        codes.insert(code.clone(), now + CODE_LIFETIME);
        Ok(code)
    }

    fn redeem(&self, code: &str, from: IpAddr) -> Result<(), ApiError> {
        // A code longer than any Hearth makes is wrong without looking it up.
        let valid = code.len() <= crate::api::limits::LOGIN_CODE_CHARS
            && self.codes.lock().unwrap_or_else(|p| p.into_inner()).remove(code).is_some_and(|expires| expires > Instant::now());
        if valid {
            return Ok(());
        }
        let verdict = self.failures.lock().unwrap_or_else(|p| p.into_inner()).failure(from, Instant::now());
        match verdict {
            limiter::Verdict::TooMany => {
                return Err(ApiError::new(
                    ErrorCode::TooManyRequests,
                    "too many wrong sign-in links from this address; wait a minute and use a fresh link from `hearth open`",
                ));
            }
            // One line per source and minute: a flood must not fill the log.
            limiter::Verdict::FirstRefusal => tracing::warn!(%from, "a sign-in link was refused (unknown, used or expired)"),
            limiter::Verdict::Refused => {}
        }
        Err(ApiError::new(
            ErrorCode::Unauthorized,
            "this sign-in link is unknown, already used or expired; run `hearth open` on the hub for a new one",
        ))
    }

    fn valid_token(&self, headers: &HeaderMap) -> bool {
        let Some(value) = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()) else { return false };
        let Some(token) = value.strip_prefix("Bearer ") else { return false };
        bool::from(token.trim().as_bytes().ct_eq(self.owner_token.as_bytes()))
    }

    /// Whether the request comes from the owner: the owner token, or a live session's cookie.
    pub fn is_signed_in(&self, hub: &Hub, headers: &HeaderMap) -> bool {
        self.valid_token(headers) || session_cookie(headers).is_some_and(|token| hub.check_session(token, None).is_some())
    }

    /// The `Set-Cookie` value for a new session's token.
    fn cookie(&self, token: &str) -> String {
        let secure = if self.secure { "; Secure" } else { "" };
        let max_age = crate::sessions::LIFETIME_MS / 1000;
        format!("{COOKIE}={token}; HttpOnly; SameSite=Strict; Path=/; Max-Age={max_age}{secure}")
    }

    /// The `Set-Cookie` value that removes the session cookie from the browser.
    pub(super) fn cleared_cookie(&self) -> HeaderValue {
        let secure = if self.secure { "; Secure" } else { "" };
        HeaderValue::from_str(&format!("{COOKIE}=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0{secure}"))
            .unwrap_or_else(|_| HeaderValue::from_static("hearth_session=; Path=/; Max-Age=0"))
    }
}

fn session_cookie(headers: &HeaderMap) -> Option<&str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|pair| pair.trim().strip_prefix(COOKIE).and_then(|rest| rest.strip_prefix('=')))
}

/// A live browser session, as the request that carried its cookie sees it (none for the owner
/// token).
#[derive(Debug, Clone)]
pub struct LiveSession {
    pub id: hearth_store::SessionId,
    /// Milliseconds since the epoch.
    pub expires_at: i64,
}

/// The browser session a request came with, if any.
#[derive(Debug, Clone, Default)]
pub struct Session(pub Option<LiveSession>);

impl<S: Send + Sync> FromRequestParts<S> for Session {
    type Rejection = std::convert::Infallible;
    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(Session(parts.extensions.get::<LiveSession>().cloned()))
    }
}

/// Who is asking, as the middleware established it (see [`crate::family::Caller`]).
impl<S: Send + Sync> FromRequestParts<S> for Caller {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        parts.extensions.get::<Caller>().cloned().ok_or_else(|| ApiError::new(ErrorCode::Unauthorized, "sign in first"))
    }
}

/// Middleware on every `/api/v1` route.
pub async fn require(State(state): State<AppState>, mut request: Request, next: Next) -> Response {
    let headers = request.headers();
    let from = request.extensions().get::<ConnectInfo<SocketAddr>>().map(|ConnectInfo(peer)| peer.ip());
    let caller = if state.auth.valid_token(headers) {
        // The owner token is the person at the hub's own machine (`hearth` commands, scripts).
        Caller { from, ..Caller::local_owner("cli") }
    } else if let Some(checked) = session_cookie(headers).and_then(|token| state.hub.check_session(token, from)) {
        let changes_state = !matches!(*request.method(), Method::GET | Method::HEAD | Method::OPTIONS);
        if changes_state && !headers.contains_key(CSRF_HEADER) {
            return ApiError::new(
                ErrorCode::Forbidden,
                "requests that change something must carry the X-Hearth-Request header (cross-site requests are refused)",
            )
            .into_response();
        }
        if is_websocket(headers) && !same_origin(headers) {
            return ApiError::new(ErrorCode::Forbidden, "event streams are only served to pages of this hub").into_response();
        }
        if let Err(refused) = request_budget::take_turn(state.auth.spend(&checked.member)).await {
            return too_fast(&checked.member, refused);
        }
        if let (true, Some(from)) = (checked.touch, from) {
            // Written off the request's path: at most once a minute per session.
            let (hub, id) = (state.hub.clone(), checked.id.clone());
            tokio::task::spawn_blocking(move || hub.touch_session(&id, from));
        }
        request.extensions_mut().insert(LiveSession { id: checked.id.clone(), expires_at: checked.expires_at });
        Caller { member: checked.member, origin: "web", from, session: Some(checked.id) }
    } else {
        return ApiError::new(ErrorCode::Unauthorized, "sign in first: open the link printed by `hearth serve`, run `hearth open` for a new one, or send the owner token as `Authorization: Bearer`").into_response();
    };
    request.extensions_mut().insert(caller);
    next.run(request).await
}

impl Auth {
    /// Counts one request of a signed-in member's against their budget: how long it waits for
    /// its turn, or refused.
    fn spend(&self, member: &str) -> Result<Duration, Refused> {
        self.budget.lock().unwrap_or_else(|p| p.into_inner()).spend(member, Instant::now())
    }
}

/// Every request to the web server, signed in or not, first waits for its address's turn
/// (`request_budget::ADDRESS`); one whose turn is over a second away is refused a second later.
/// (A request without a peer address, only in tests that call the router directly, is not
/// counted.)
pub async fn hold_back_by_address(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let Some(from) = request.extensions().get::<ConnectInfo<SocketAddr>>().map(|ConnectInfo(peer)| peer.ip()) else {
        return next.run(request).await;
    };
    let key = crate::source_address::budget_key(from);
    let spent = state.auth.address_budget.lock().unwrap_or_else(|p| p.into_inner()).spend(&key, Instant::now());
    let Err(refused) = request_budget::take_turn(spent).await else {
        return next.run(request).await;
    };
    if let Some(count) = refused.refused_since_last_line {
        if refused.shared {
            tracing::warn!(
                refused = count,
                "more than {} addresses or IPv6 networks at once are asking the web server too fast; refusing the excess",
                request_budget::ADDRESS.max_tracked
            );
        } else {
            tracing::warn!(
                %from,
                counted_as = %key,
                refused = count,
                "an address is asking the web server faster than {} requests a second; holding it back and refusing the excess",
                request_budget::ADDRESS.per_second
            );
        }
    }
    let words = if refused.shared {
        "Hearth is receiving too many requests from many devices at once; try again in a second."
    } else {
        "Too many requests are coming to Hearth from this device (on IPv6, from its network); try again in a second."
    };
    refusal(ApiError::new(ErrorCode::TooManyRequests, words))
}

/// A 429 with `Retry-After`: the second a refusal already waited is when to try again.
fn refusal(error: ApiError) -> Response {
    let mut response = error.into_response();
    response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(request_budget::MAX_WAIT.as_secs().max(1)));
    response
}

/// The answer to a request whose turn was too far away (sent after [`request_budget::MAX_WAIT`]):
/// 429 with `Retry-After`, in words a person reads when a page shows it; logged once a minute per
/// member at most.
fn too_fast(member: &str, refused: Refused) -> Response {
    if let Some(count) = refused.refused_since_last_line {
        tracing::warn!(
            member = if refused.shared { "(one of too many members at once)" } else { member },
            refused = count,
            "a member's browsers are calling the API faster than {} requests a second; holding them back and refusing the excess",
            request_budget::MEMBER.per_second
        );
    }
    let words = if refused.shared {
        "Too many people's Hearth pages are asking at once; try again in a second.".to_owned()
    } else {
        format!(
            "Your open Hearth pages are asking too often (over {} times a second across all your browsers). Hearth is slowing them to keep your devices responsive; try again in a second, or close some Hearth tabs.",
            request_budget::MEMBER.per_second
        )
    };
    refusal(ApiError::new(ErrorCode::TooManyRequests, words))
}

fn is_websocket(headers: &HeaderMap) -> bool {
    headers.get(header::UPGRADE).and_then(|v| v.to_str().ok()).is_some_and(|v| v.eq_ignore_ascii_case("websocket"))
}

fn same_origin(headers: &HeaderMap) -> bool {
    let host = headers.get(header::HOST).and_then(|v| v.to_str().ok());
    let origin = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok());
    match (host, origin) {
        (Some(host), Some(origin)) => origin.split_once("://").is_some_and(|(_, rest)| rest == host),
        // Non-browser clients send no Origin; browsers always do on WebSocket upgrades.
        (_, None) => true,
        _ => false,
    }
}

#[derive(Debug, Deserialize)]
pub struct LoginQuery {
    code: String,
}

/// `GET /login?code=...`: redeems a one-time code for a new session and opens the UI.
pub async fn login(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Query(q): Query<LoginQuery>,
) -> Response {
    if let Err(e) = state.auth.redeem(&q.code, peer.ip()) {
        return e.into_response();
    }
    start_session(&state, FOUNDING_OWNER.to_owned(), &headers, peer.ip(), "/").await
}

/// Starts a session for `member` and sends the browser on to `to` with its cookie.
async fn start_session(state: &AppState, member: String, headers: &HeaderMap, from: IpAddr, to: &str) -> Response {
    let user_agent = headers.get(header::USER_AGENT).map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned()).unwrap_or_default();
    let hub = state.hub.clone();
    let started = tokio::task::spawn_blocking(move || hub.sign_in(&member, &user_agent, from, "web")).await;
    match started {
        Ok(Ok(started)) => ([(header::SET_COOKIE, state.auth.cookie(&started.token))], Redirect::to(to)).into_response(),
        Ok(Err(e)) => e.into_response(),
        Err(e) => ApiError::internal(format!("cannot start a session: {e}")).into_response(),
    }
}

/// `GET /invite?code=...`: a page with one button that accepts the invitation. Opening the link
/// changes nothing: a chat app fetching it for a preview, or a page of another site loading it,
/// must not use it up nor sign anyone in.
pub async fn invite_page(Query(q): Query<LoginQuery>) -> Response {
    let code: String = q.code.chars().filter(char::is_ascii_hexdigit).take(crate::api::limits::LOGIN_CODE_CHARS).collect();
    super::ui::page(axum::http::StatusCode::OK, super::ui::invitation_page(&code))
}

#[derive(Debug, Deserialize)]
pub struct InvitationForm {
    code: String,
}

/// `POST /invite` (a form from the page above, this hub's own origin): the invitation (one use)
/// signs the browser in, and opens the page where its member may choose a password.
pub async fn invite(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    axum::Form(q): axum::Form<InvitationForm>,
) -> Response {
    if !same_origin(&headers) {
        return ApiError::new(ErrorCode::Forbidden, "accept the invitation from this hub's own page").into_response();
    }
    // Wrong codes are held back before any lookup: a flood costs no store work.
    if state.auth.failures.lock().unwrap_or_else(|p| p.into_inner()).is_over(peer.ip(), Instant::now()) {
        return ApiError::new(ErrorCode::TooManyRequests, "too many wrong links from this address; wait a minute").into_response();
    }
    let hub = state.hub.clone();
    let member = tokio::task::spawn_blocking(move || hub.redeem_invitation(&q.code)).await;
    match member {
        Ok(Ok(Some(member))) => start_session(&state, member, &headers, peer.ip(), "/#/welcome").await,
        Ok(Ok(None)) => {
            let verdict = state.auth.failures.lock().unwrap_or_else(|p| p.into_inner()).failure(peer.ip(), Instant::now());
            if verdict == limiter::Verdict::TooMany {
                return ApiError::new(ErrorCode::TooManyRequests, "too many wrong links from this address; wait a minute").into_response();
            }
            ApiError::new(ErrorCode::Unauthorized, "this invitation is unknown, already used or expired; ask for a new one").into_response()
        }
        Ok(Err(e)) => e.into_response(),
        Err(e) => ApiError::internal(format!("cannot read the invitation: {e}")).into_response(),
    }
}

#[derive(Debug, Deserialize)]
pub struct PasswordForm {
    name: String,
    password: String,
}

/// `POST /login` (a form: `name`, `password`): a member signs in with their password. Wrong
/// guesses are limited per address and per member before any hashing; the page answers the same
/// for an unknown name and a wrong password.
pub async fn password_login(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    axum::Form(form): axum::Form<PasswordForm>,
) -> Response {
    if !same_origin(&headers) {
        return ApiError::new(ErrorCode::Forbidden, "sign in from this hub's own page").into_response();
    }
    let permit = state.hub.hashing().clone().acquire_owned().await;
    let hub = state.hub.clone();
    let from = peer.ip();
    let checked = tokio::task::spawn_blocking(move || {
        let _permit = permit;
        hub.check_password(&form.name, &form.password, from)
    })
    .await;
    match checked {
        Ok(Ok(Some(member))) => start_session(&state, member, &headers, from, "/").await,
        Ok(Ok(None)) => {
            super::ui::page(axum::http::StatusCode::UNAUTHORIZED, super::ui::sign_in_page(Some("That name and password do not match.")))
        }
        Ok(Err(e)) if e.code == ErrorCode::TooManyRequests => {
            super::ui::page(axum::http::StatusCode::TOO_MANY_REQUESTS, super::ui::sign_in_page(Some(&e.message)))
        }
        Ok(Err(e)) => e.into_response(),
        Err(e) => ApiError::internal(format!("cannot check the password: {e}")).into_response(),
    }
}

#[derive(Debug, Serialize)]
pub struct LoginLink {
    pub path: String,
}

/// `POST /api/v1/login-links` (owner token): a fresh one-time sign-in path, for `hearth open`.
pub async fn new_login_link(State(state): State<AppState>, caller: Caller) -> Result<Json<LoginLink>, ApiError> {
    if caller.origin != "cli" {
        return Err(ApiError::new(ErrorCode::Forbidden, "sign-in links are made with the owner token (`hearth open`)"));
    }
    let code = state.auth.new_code().map_err(|e| ApiError::internal(format!("{e:#}")))?;
    Ok(Json(LoginLink { path: format!("/login?code={code}") }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use limiter::MAX_FAILURES_PER_MINUTE;

    fn auth() -> Auth {
        Auth::new("t".repeat(64), false)
    }

    const HOME: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(10, 0, 0, 2));
    const STRANGER: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(10, 0, 0, 66));

    #[test]
    fn codes_work_once() {
        let a = auth();
        let code = a.new_code().unwrap();
        assert!(a.redeem(&code, HOME).is_ok());
        assert_eq!(a.redeem(&code, HOME).unwrap_err().code, ErrorCode::Unauthorized);
    }

    #[test]
    fn wrong_codes_are_limited_per_address_and_never_lock_out_a_valid_code() {
        let a = auth();
        for _ in 0..MAX_FAILURES_PER_MINUTE {
            assert_eq!(a.redeem("nope", STRANGER).unwrap_err().code, ErrorCode::Unauthorized);
        }
        assert_eq!(a.redeem("nope", STRANGER).unwrap_err().code, ErrorCode::TooManyRequests);
        // The flood from one address does not stop the owner's valid link, from anywhere.
        assert!(a.redeem(&a.new_code().unwrap(), HOME).is_ok());
        assert!(a.redeem(&a.new_code().unwrap(), STRANGER).is_ok());
        assert_eq!(a.redeem("nope", HOME).unwrap_err().code, ErrorCode::Unauthorized);
    }
}
