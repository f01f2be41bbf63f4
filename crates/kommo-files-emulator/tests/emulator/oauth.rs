//! OAuth 2.0: integrations, the consent redirect, `POST /oauth2/access_token` with both grants,
//! lifetimes on the emulator clock, rotation, revocation, and the control API for integrations.

use std::time::Duration;

use kommo_files_emulator::{
    Emulator, EmulatorBuilder, Integration, IssuedTokens, RateClock, Scope, DEFAULT_TOKEN,
};
use serde_json::{json, Value};

use crate::common::{Answer, Api};

const CLIENT: &str = "5f7e3f4a-9c61-4a57-9f0e-2b1d6c8e0a11";
const SECRET: &str = "s3cr3t-K3y";
/// A redirect URI with `:` (port) and a query of its own.
const REDIRECT: &str = "https://integration.example.test:8443/oauth/callback?x=1";

const HOUR: u64 = 60 * 60;
const DAY: u64 = 24 * HOUR;

fn builder() -> EmulatorBuilder {
    Emulator::builder().integration(Integration::new(CLIENT, SECRET, REDIRECT))
}

fn start() -> Api {
    Api::with(builder())
}

/// POSTs a JSON body to the token endpoint.
fn token_request(api: &Api, body: Value) -> Answer {
    let body = body.to_string().into_bytes();
    api.send("POST", &api.emu.oauth_token_url(), None, Some(&body))
}

fn exchange_code(api: &Api, code: &str) -> Answer {
    token_request(
        api,
        json!({
            "client_id": CLIENT,
            "client_secret": SECRET,
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": REDIRECT,
        }),
    )
}

fn refresh(api: &Api, refresh_token: &str) -> Answer {
    token_request(
        api,
        json!({
            "client_id": CLIENT,
            "client_secret": SECRET,
            "grant_type": "refresh_token",
            "refresh_token": refresh_token,
            "redirect_uri": REDIRECT,
        }),
    )
}

/// `GET /api/v4/account` with `token`: its status.
fn account_status(api: &Api, token: &str) -> u16 {
    let url = format!("{}/api/v4/account", api.emu.account_url());
    api.send("GET", &url, Some(token), None).status
}

/// `GET /v1.0/files` on the drive host with `token`: its status (204: no files, authorized).
fn drive_status(api: &Api, token: &str) -> u16 {
    let url = format!("{}/v1.0/files", api.emu.drive_url());
    api.send("GET", &url, Some(token), None).status
}

fn base64url_decode(text: &str) -> Vec<u8> {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let (mut out, mut acc, mut bits) = (Vec::new(), 0u32, 0);
    for c in text.bytes() {
        let value = ALPHABET
            .iter()
            .position(|&a| a == c)
            .unwrap_or_else(|| panic!("not base64url: {text}")) as u32;
        acc = (acc << 6) | value;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    out
}

/// Header and payload of a JWT-shaped token (three non-empty base64url segments).
fn jwt(token: &str) -> (Value, Value) {
    let segments: Vec<&str> = token.split('.').collect();
    assert_eq!(segments.len(), 3, "{token}");
    assert!(segments.iter().all(|s| !s.is_empty()), "{token}");
    let decode = |s: &str| serde_json::from_slice::<Value>(&base64url_decode(s)).unwrap();
    assert!(!base64url_decode(segments[2]).is_empty());
    (decode(segments[0]), decode(segments[1]))
}

/// A 400 or 401 with Kommo's OAuth problem body; returns the hint.
fn assert_problem(answer: &Answer, status: u16) -> String {
    assert_eq!(answer.status, status, "{}", answer.text());
    let body = answer.json();
    assert_eq!(body["status"], status);
    assert_eq!(
        body["type"],
        "https://developers.kommo.com/v3/errors/OAuthProblemJson"
    );
    assert!(body["title"].is_string() && body["detail"].is_string());
    body["hint"].as_str().unwrap().to_owned()
}

#[test]
fn a_code_is_exchanged_for_a_jwt_pair_that_works_on_both_hosts() {
    let api = start();
    let code = api.emu.authorization_code(CLIENT);
    let answer = exchange_code(&api, &code);
    assert_eq!(answer.status, 200, "{}", answer.text());
    assert!(answer.content_type.starts_with("application/json"));
    let body = answer.json();
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 86_400);
    let server_time = body["server_time"].as_i64().unwrap();
    let access = body["access_token"].as_str().unwrap();
    assert!(!body["refresh_token"].as_str().unwrap().is_empty());

    let (header, claims) = jwt(access);
    assert_eq!(header["typ"], "JWT");
    assert_eq!(claims["aud"], CLIENT);
    assert_eq!(claims["jti"], header["jti"]);
    assert_eq!(claims["iat"], server_time);
    assert_eq!(claims["nbf"], server_time);
    assert_eq!(claims["exp"], server_time + 86_400);
    assert_eq!(claims["sub"], "581651");
    assert_eq!(claims["account_id"], 31_000_001);
    assert_eq!(claims["scopes"], json!(["crm", "files", "files_delete"]));

    assert_eq!(account_status(&api, access), 200);
    assert_eq!(drive_status(&api, access), 204);
    let record = api.emu.requests()[0].clone();
    assert_eq!(
        (record.method.as_str(), record.path.as_str(), record.status),
        ("POST", "/oauth2/access_token", Some(200))
    );
}

#[test]
fn a_refresh_rotates_the_pair_and_the_old_refresh_token_is_refused() {
    let api = start();
    let first = api.emu.issue_tokens(CLIENT);
    let answer = refresh(&api, &first.refresh_token);
    assert_eq!(answer.status, 200, "{}", answer.text());
    let second = answer.json();
    let new_access = second["access_token"].as_str().unwrap();
    let new_refresh = second["refresh_token"].as_str().unwrap();
    assert_ne!(new_access, first.access_token);
    assert_ne!(new_refresh, first.refresh_token);

    // The new access token works; the old one too, until its own expiry.
    assert_eq!(account_status(&api, new_access), 200);
    assert_eq!(account_status(&api, &first.access_token), 200);
    // The old refresh token is used up.
    let hint = assert_problem(&refresh(&api, &first.refresh_token), 400);
    assert!(hint.contains("revoked"), "{hint}");
    // The new one rotates again.
    assert_eq!(refresh(&api, new_refresh).status, 200);
    // A test can count refreshes in the request log.
    let refreshes = api
        .emu
        .requests()
        .iter()
        .filter(|r| r.path == "/oauth2/access_token")
        .count();
    assert_eq!(refreshes, 3);

    // The old access token expires on its own schedule.
    api.emu.advance_clock(Duration::from_secs(DAY));
    assert_eq!(account_status(&api, &first.access_token), 401);
}

#[test]
fn codes_are_single_use_and_live_20_minutes() {
    let api = start();
    let code = api.emu.authorization_code(CLIENT);
    assert_eq!(exchange_code(&api, &code).status, 200);
    assert_problem(&exchange_code(&api, &code), 400);

    let young = api.emu.authorization_code(CLIENT);
    let old = api.emu.authorization_code(CLIENT);
    api.emu.advance_clock(Duration::from_secs(19 * 60));
    assert_eq!(exchange_code(&api, &young).status, 200);
    api.emu.advance_clock(Duration::from_secs(60));
    let hint = assert_problem(&exchange_code(&api, &old), 400);
    assert!(hint.contains("expired"), "{hint}");
    // An unknown client's shortcut code is refused too.
    let stray = api.emu.authorization_code("no-such-client");
    assert_problem(&exchange_code(&api, &stray), 400);
}

#[test]
fn access_tokens_expire_after_24_hours() {
    let api = start();
    let tokens: IssuedTokens = api.emu.issue_tokens(CLIENT);
    assert_eq!(tokens.expires_in, 86_400);
    assert_eq!(tokens.expires_at, tokens.server_time + 86_400);
    api.emu.advance_clock(Duration::from_secs(23 * HOUR));
    assert_eq!(account_status(&api, &tokens.access_token), 200);
    api.emu.advance_clock(Duration::from_secs(HOUR));
    assert_eq!(account_status(&api, &tokens.access_token), 401);
    assert_eq!(drive_status(&api, &tokens.access_token), 401);
    // The refresh token still gets a working pair.
    let answer = refresh(&api, &tokens.refresh_token);
    assert_eq!(answer.status, 200, "{}", answer.text());
    let access = answer.json()["access_token"].as_str().unwrap().to_owned();
    assert_eq!(account_status(&api, &access), 200);
}

#[test]
fn unused_refresh_tokens_expire_after_90_days() {
    let api = start();
    let early = api.emu.issue_tokens(CLIENT);
    let late = api.emu.issue_tokens(CLIENT);
    api.emu.advance_clock(Duration::from_secs(89 * DAY));
    assert_eq!(refresh(&api, &early.refresh_token).status, 200);
    api.emu.advance_clock(Duration::from_secs(DAY));
    let hint = assert_problem(&refresh(&api, &late.refresh_token), 400);
    assert!(hint.contains("expired"), "{hint}");
}

#[test]
fn wrong_credentials_and_malformed_requests_are_400() {
    let api = start();
    let code = api.emu.authorization_code(CLIENT);
    let base = json!({
        "client_id": CLIENT,
        "client_secret": SECRET,
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": REDIRECT,
    });
    let with = |key: &str, value: Value| {
        let mut body = base.clone();
        body[key] = value;
        body
    };
    let cases = [
        with("client_secret", json!("wrong")),
        with("client_id", json!("someone-else")),
        with(
            "redirect_uri",
            json!("https://integration.example.test/other"),
        ),
        with("redirect_uri", Value::Null),
        with("grant_type", json!("password")),
        with("grant_type", Value::Null),
        with("code", json!(12)),
    ];
    for body in cases {
        let answer = token_request(&api, body.clone());
        assert_problem(&answer, 400);
        assert_eq!(answer.content_type, "application/problem+json", "{body}");
    }
    for raw in [&b"not json"[..], b"[]", b""] {
        let answer = api.send("POST", &api.emu.oauth_token_url(), None, Some(raw));
        assert_problem(&answer, 400);
    }
    // A code of a request with the wrong secret was not spent: the exchange still works.
    assert_eq!(token_request(&api, base.clone()).status, 200);
    // A refresh token refused for a wrong redirect URI.
    let tokens = api.emu.issue_tokens(CLIENT);
    let mut body = json!({
        "client_id": CLIENT,
        "client_secret": SECRET,
        "grant_type": "refresh_token",
        "refresh_token": tokens.refresh_token,
        "redirect_uri": "https://elsewhere.test/cb",
    });
    assert_problem(&token_request(&api, body.clone()), 400);
    body["client_secret"] = json!("wrong");
    body["redirect_uri"] = json!(REDIRECT);
    assert_problem(&token_request(&api, body.clone()), 400);
    // Neither refusal spent it.
    body["client_secret"] = json!(SECRET);
    assert_eq!(token_request(&api, body).status, 200);
}

#[test]
fn form_encoded_token_requests_are_accepted() {
    // OAuth client libraries (league/oauth2-client in the PHP SDK) send forms, not JSON.
    let api = start();
    let code = api.emu.authorization_code(CLIENT);
    let enc = |s: &str| {
        s.bytes()
            .map(|b| {
                if b.is_ascii_alphanumeric() {
                    char::from(b).to_string()
                } else {
                    format!("%{b:02X}")
                }
            })
            .collect::<String>()
    };
    let body = format!(
        "client_id={}&client_secret={}&grant_type=authorization_code&code={}&redirect_uri={}",
        enc(CLIENT),
        enc(SECRET),
        enc(&code),
        enc(REDIRECT)
    );
    let request = http::Request::post(api.emu.oauth_token_url())
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body(body.into_bytes())
        .unwrap();
    let mut response = api.agent.run(request).unwrap();
    assert_eq!(response.status(), 200);
    let body: Value = serde_json::from_slice(&response.body_mut().read_to_vec().unwrap()).unwrap();
    assert_eq!(body["token_type"], "Bearer");
}

#[test]
fn server_time_can_be_left_out() {
    let api = Api::with(builder().oauth_server_time(false));
    let answer = exchange_code(&api, &api.emu.authorization_code(CLIENT));
    assert_eq!(answer.status, 200);
    assert!(answer.json().get("server_time").is_none());
    api.emu.update_config(|b| b.oauth_server_time = true);
    let answer = exchange_code(&api, &api.emu.authorization_code(CLIENT));
    assert!(answer.json()["server_time"].is_i64());
}

#[test]
fn a_revoked_integration_gets_401_until_approved_again() {
    let api = start();
    let tokens = api.emu.issue_tokens(CLIENT);
    let code = api.emu.authorization_code(CLIENT);
    assert_eq!(account_status(&api, &tokens.access_token), 200);
    assert!(api.emu.revoke_integration(CLIENT));
    assert!(!api.emu.revoke_integration("no-such-client"));
    assert!(api.emu.integrations()[0].revoked);

    assert_eq!(account_status(&api, &tokens.access_token), 401);
    assert_eq!(drive_status(&api, &tokens.access_token), 401);
    assert_problem(&refresh(&api, &tokens.refresh_token), 401);
    assert_problem(&exchange_code(&api, &code), 401);
    // Other tokens are not concerned.
    assert_eq!(account_status(&api, &api.token()), 200);

    // Consent again: new tokens work, the old ones stay void.
    let fresh = api.emu.issue_tokens(CLIENT);
    assert!(!api.emu.integrations()[0].revoked);
    assert_eq!(account_status(&api, &fresh.access_token), 200);
    assert_eq!(account_status(&api, &tokens.access_token), 401);
    assert_problem(&refresh(&api, &tokens.refresh_token), 401);
}

#[test]
fn scopes_and_user_of_the_integration_carry_over_to_its_tokens() {
    let api = Api::with(
        Emulator::builder().integration(
            Integration::new(CLIENT, SECRET, REDIRECT)
                .with_scopes([Scope::Files])
                .with_user_id(777),
        ),
    );
    let tokens = api.emu.issue_tokens(CLIENT);
    assert_eq!(jwt(&tokens.access_token).1["scopes"], json!(["files"]));
    assert_eq!(jwt(&tokens.access_token).1["sub"], "777");
    assert_eq!(drive_status(&api, &tokens.access_token), 204);
    assert_eq!(account_status(&api, &tokens.access_token), 403);
}

#[test]
fn consent_redirects_with_code_state_and_referer() {
    let api = start();
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(0)
        .build()
        .into();
    let url = format!(
        "{}/oauth?client_id={CLIENT}&state=st%20ate%261&mode=post_message",
        api.emu.account_url()
    );
    let response = agent.get(&url).call().unwrap();
    assert_eq!(response.status(), 302);
    let location = response.headers()["location"].to_str().unwrap().to_owned();
    let (base, query) = location.split_once("?x=1&").unwrap();
    assert_eq!(base, "https://integration.example.test:8443/oauth/callback");
    let pairs: Vec<(&str, &str)> = query
        .split('&')
        .map(|p| p.split_once('=').unwrap())
        .collect();
    let get = |k: &str| pairs.iter().find(|(key, _)| *key == k).unwrap().1;
    assert_eq!(get("state"), "st%20ate%261");
    let referer = api.emu.account_url().trim_start_matches("http://");
    assert_eq!(get("referer"), referer.replace(':', "%3A"));
    // The code is a real one.
    assert_eq!(exchange_code(&api, get("code")).status, 200);

    let unknown = format!("{}/oauth?client_id=nope&state=1", api.emu.account_url());
    assert_eq!(agent.get(&unknown).call().unwrap().status(), 400);
    let missing = format!("{}/oauth", api.emu.account_url());
    assert_eq!(agent.get(&missing).call().unwrap().status(), 400);
}

#[test]
fn the_token_endpoint_is_rate_limited_like_the_account_host() {
    let api = Api::with(builder().rate_limit(Some(2)).rate_clock(RateClock::Manual));
    let statuses: Vec<u16> = (0..3)
        .map(|_| exchange_code(&api, &api.emu.authorization_code(CLIENT)).status)
        .collect();
    assert_eq!(statuses, [200, 200, 429]);
    api.emu.advance_clock(Duration::from_secs(1));
    assert_eq!(
        exchange_code(&api, &api.emu.authorization_code(CLIENT)).status,
        200
    );
}

#[test]
fn the_default_token_is_shaped_like_a_long_lived_token() {
    let api = Api::start();
    assert_eq!(api.token(), DEFAULT_TOKEN);
    let (header, claims) = jwt(DEFAULT_TOKEN);
    assert_eq!(header["alg"], "RS256");
    let iat = claims["iat"].as_i64().unwrap();
    assert_eq!(claims["nbf"], iat);
    // Five years, with a leap day in between.
    assert_eq!(
        claims["exp"].as_i64().unwrap() - iat,
        (5 * 365 + 1) * 86_400
    );
    assert_eq!(claims["account_id"], 31_000_001);
    assert_eq!(claims["scopes"], json!(["crm", "files", "files_delete"]));
    assert!(claims["aud"].is_string() && claims["jti"].is_string());
    // Configured tokens never expire in the emulator, whatever their claims say.
    api.emu.advance_clock(Duration::from_secs(10 * 365 * DAY));
    assert_eq!(account_status(&api, DEFAULT_TOKEN), 200);
}

#[test]
fn integrations_over_the_control_api() {
    let api = Api::start();
    let control = |method: &str, path: &str, body: Option<Value>| {
        let url = format!("{}/__emulator/{path}", api.emu.account_url());
        let body = body.map(|b| b.to_string().into_bytes());
        api.send(method, &url, None, body.as_deref())
    };
    assert_eq!(control("GET", "integrations", None).json(), json!([]));
    let added = control(
        "POST",
        "integrations",
        Some(json!({
            "client_id": CLIENT,
            "client_secret": SECRET,
            "redirect_uri": REDIRECT,
            "scopes": ["crm", "files"],
        })),
    );
    assert_eq!(added.status, 201, "{}", added.text());
    let list = control("GET", "integrations", None).json();
    assert_eq!(
        list,
        json!([{
            "client_id": CLIENT,
            "redirect_uri": REDIRECT,
            "scopes": ["crm", "files"],
            "user_id": 581_651,
            "revoked": false,
        }])
    );
    assert!(!list.to_string().contains(SECRET));

    let code = control("POST", &format!("integrations/{CLIENT}/code"), None).json();
    assert_eq!(
        exchange_code(&api, code["code"].as_str().unwrap()).status,
        200
    );
    let tokens = control("POST", &format!("integrations/{CLIENT}/tokens"), None).json();
    let access = tokens["access_token"].as_str().unwrap().to_owned();
    assert_eq!(tokens["expires_in"], 86_400);
    assert_eq!(account_status(&api, &access), 200);

    let revoked = control("POST", &format!("integrations/{CLIENT}/revoke"), None);
    assert_eq!(revoked.status, 204);
    assert_eq!(
        control("GET", "integrations", None).json()[0]["revoked"],
        true
    );
    assert_eq!(account_status(&api, &access), 401);
    for action in ["revoke", "code", "tokens"] {
        let path = format!("integrations/nope/{action}");
        assert_eq!(control("POST", &path, None).status, 404, "{action}");
    }
    let bad = control("POST", "integrations", Some(json!({ "client_id": "x" })));
    assert_eq!(bad.status, 400);
    let empty = json!({ "client_id": "x", "client_secret": "", "redirect_uri": "https://a.test" });
    assert_eq!(control("POST", "integrations", Some(empty)).status, 400);
}
