//! OAuth 2.0 without I/O: both grants' requests (snapshots), the token answer in its variants,
//! the consent redirect with every way it can be wrong, and when a refresh is due.

mod support;

use std::time::Duration;

use kommo_files_model::oauth::{
    self, account_from_referer, authorize_url, parse_redirect, refresh_due, ConsentMode, OAuthApp,
    RedirectError, RefreshDue, RefreshToken, TokenError, TokenKind, TokenSet,
};
use kommo_files_model::{AccessToken, BaseUrl};
use serde_json::json;
use support::{render_request, response, snap};

fn app() -> OAuthApp {
    OAuthApp::new(
        "2b3c8e4a-client",
        "client-secret-value",
        "https://integration.example/oauth/callback",
    )
}

fn account() -> BaseUrl {
    BaseUrl::parse("https://example.kommo.com").unwrap()
}

#[test]
fn request_code_exchange() {
    let request = oauth::code_exchange_request(&account(), &app(), " def50200code ");
    snap!("request_code_exchange", render_request(&request));
}

#[test]
fn request_refresh() {
    let request = oauth::refresh_request(&account(), &app(), &RefreshToken::new("def50200refresh"));
    snap!("request_refresh", render_request(&request));
}

const ANSWER: &str = r#"{
  "token_type": "Bearer",
  "expires_in": 86400,
  "access_token": "eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9.eyJleHAiOjE3MDAwODY0MDB9.c2ln",
  "refresh_token": "def50200refresh",
  "server_time": 1700000000
}"#;

fn render(set: &TokenSet) -> serde_json::Value {
    json!({
        "kind": format!("{:?}", set.kind()),
        "access_token": set.access().expose(),
        "refresh_token": set.refresh().map(|r| r.expose()),
        "expires_at": set.expires_at(),
        "issued_at": set.issued(),
        "debug": format!("{set:?}"),
    })
}

#[test]
fn response_token() {
    let set = oauth::parse_token_response(&response(200, ANSWER), 1_699_990_000).unwrap();
    snap!("response_token", render(&set));
    assert_eq!(set.kind(), TokenKind::OAuth);
}

#[test]
fn the_expiry_comes_from_server_time_else_from_now() {
    let without_time = ANSWER.replace(",\n  \"server_time\": 1700000000", "");
    let set = oauth::parse_token_response(&response(200, &without_time), 1_600_000_000).unwrap();
    assert_eq!(set.expires_at(), Some(1_600_086_400));
    assert_eq!(set.issued(), Some(1_600_000_000));
    // A string number is tolerated, as loosely typed servers send them.
    let as_text = ANSWER.replace("86400", "\"3600\"");
    let set = oauth::parse_token_response(&response(200, &as_text), 0).unwrap();
    assert_eq!(set.expires_at(), Some(1_700_003_600));
}

#[test]
fn a_refused_grant_keeps_the_raw_body() {
    let body = r#"{"hint":"Authorization code has been revoked","title":"Bad request","type":"https://developers.kommo.com/v3/errors/OAuthProblemJson","status":400,"detail":"The provided authorization grant is invalid"}"#;
    let error = oauth::parse_token_response(&response(400, body), 0).unwrap_err();
    let TokenError::Refused(api) = &error else {
        panic!("{error:?}")
    };
    assert_eq!(api.status(), 400);
    assert_eq!(api.body().as_ref(), body.as_bytes());
    assert!(error.to_string().contains("invalid"), "{error}");
    // Whatever shape: plain text, HTML, nothing.
    for body in ["", "Bad Request", "<html><title>Oops</title></html>"] {
        let error = oauth::parse_token_response(&response(400, body), 0).unwrap_err();
        assert!(matches!(error, TokenError::Refused(_)), "{body:?}");
    }
}

#[test]
fn a_malformed_answer_never_quotes_its_tokens() {
    let cases = [
        ("not json: access-secret", "."),
        (
            r#"{"token_type":"MAC","expires_in":1,"access_token":"access-secret","refresh_token":"r"}"#,
            "token_type",
        ),
        (
            r#"{"expires_in":86400,"refresh_token":"access-secret"}"#,
            "access_token",
        ),
        (
            r#"{"expires_in":86400,"access_token":"access secret","refresh_token":"r"}"#,
            "access_token",
        ),
        (
            r#"{"expires_in":86400,"access_token":"access-secret"}"#,
            "refresh_token",
        ),
        (
            r#"{"expires_in":0,"access_token":"access-secret","refresh_token":"r"}"#,
            "expires_in",
        ),
        (
            r#"{"expires_in":"soon","access_token":"access-secret","refresh_token":"r"}"#,
            "expires_in",
        ),
        (
            r#"{"access_token":"access-secret","refresh_token":"r"}"#,
            "expires_in",
        ),
        (
            r#"{"expires_in":10,"server_time":-1,"access_token":"access-secret","refresh_token":"r"}"#,
            "server_time",
        ),
        (
            r#"{"expires_in":["access-secret"],"access_token":"a","refresh_token":"r"}"#,
            ".",
        ),
    ];
    for (body, path) in cases {
        let error = oauth::parse_token_response(&response(200, body), 0).unwrap_err();
        let TokenError::Malformed { path: got, .. } = &error else {
            panic!("{body}: {error:?}")
        };
        assert_eq!(got, path, "{body}");
        assert!(!error.to_string().contains("secret"), "{error}");
        assert!(!format!("{error:?}").contains("secret"), "{error:?}");
    }
}

#[test]
fn a_huge_lifetime_saturates() {
    let body = r#"{"expires_in":9223372036854775807,"server_time":1700000000,"access_token":"a","refresh_token":"r"}"#;
    let set = oauth::parse_token_response(&response(200, body), 0).unwrap();
    assert_eq!(set.expires_at(), Some(i64::MAX));
}

#[test]
fn a_token_set_round_trips_through_its_stored_form() {
    let set = oauth::parse_token_response(&response(200, ANSWER), 0).unwrap();
    assert_eq!(TokenSet::from_json(&set.to_json()).unwrap(), set);
    let long_lived = TokenSet::long_lived(AccessToken::new("opaque").unwrap());
    assert_eq!(
        TokenSet::from_json(&long_lived.to_json()).unwrap(),
        long_lived
    );
    for damaged in [
        "",
        "{}",
        r#"{"format":"other/9","access_token":"a"}"#,
        r#"{"format":"kommo-files-token-set/1","access_token":"a b secret"}"#,
        r#"{"format":"kommo-files-token-set/1","access_token":"a","refresh_token":" "}"#,
        r#"{"format":"kommo-files-token-set/1","access_token":7}"#,
    ] {
        let error = TokenSet::from_json(damaged).unwrap_err();
        assert!(!error.to_string().contains("secret"), "{error}");
    }
}

#[test]
fn a_long_lived_jwt_knows_its_expiry() {
    // {"exp":1900000000,"iat":1700000000}
    let token = AccessToken::new("h.eyJleHAiOjE5MDAwMDAwMDAsImlhdCI6MTcwMDAwMDAwMH0.s").unwrap();
    assert_eq!(token.jwt_expiry(), Some(1_900_000_000));
    let set = TokenSet::long_lived(token);
    assert_eq!(set.kind(), TokenKind::LongLived);
    assert_eq!(set.expires_at(), Some(1_900_000_000));
    assert_eq!(set.issued(), Some(1_700_000_000));
    assert_eq!(
        TokenSet::long_lived(AccessToken::new("opaque").unwrap()).expires_at(),
        None
    );
}

#[test]
fn authorize_url_for_kommo_and_an_emulator() {
    let kommo = BaseUrl::parse("https://www.kommo.com").unwrap();
    assert_eq!(
        authorize_url(&kommo, "id", "a b&c", ConsentMode::Popup),
        "https://www.kommo.com/oauth?client_id=id&state=a%20b%26c&mode=popup"
    );
    let emulator = BaseUrl::parse("http://127.0.0.1:4010").unwrap();
    assert_eq!(
        authorize_url(&emulator, "id", "s", ConsentMode::PostMessage),
        "http://127.0.0.1:4010/oauth?client_id=id&state=s&mode=post_message"
    );
}

#[test]
fn redirect_urls() {
    let ok = parse_redirect(
        "https://integration.example/cb?code=def%2B50&state=s%201&referer=Acme.Kommo.com&from_widget=1#x",
        "s 1",
    )
    .unwrap();
    assert_eq!(ok.code.expose(), "def+50");
    assert_eq!(ok.account.as_str(), "https://acme.kommo.com");
    assert!(!format!("{ok:?}").contains("def+50"));
    // Only the query, as a user may paste it.
    let ok = parse_redirect("code=c&state=s&referer=127.0.0.1:4010", "s").unwrap();
    assert_eq!(ok.account.as_str(), "http://127.0.0.1:4010");

    let cases: [(&str, RedirectError); 9] = [
        (
            "https://x/cb?code=c&state=other&referer=a.kommo.com",
            RedirectError::StateMismatch,
        ),
        (
            "https://x/cb?code=c&referer=a.kommo.com",
            RedirectError::StateMismatch,
        ),
        (
            "https://x/cb?state=s&referer=a.kommo.com",
            RedirectError::MissingCode,
        ),
        (
            "https://x/cb?code=&state=s&referer=a.kommo.com",
            RedirectError::MissingCode,
        ),
        ("https://x/cb?code=c&state=s", RedirectError::MissingReferer),
        (
            "https://x/cb?code=c&state=s&referer=evil.example",
            RedirectError::ForeignReferer("evil.example".into()),
        ),
        (
            "https://x/cb?code=c&state=s&referer=a.kommo.com.evil.example",
            RedirectError::ForeignReferer("a.kommo.com.evil.example".into()),
        ),
        (
            "https://x/cb?code=c&state=s&referer=a.kommo.com%40evil.example",
            RedirectError::ForeignReferer("a.kommo.com@evil.example".into()),
        ),
        (
            "https://x/cb?error=access_denied&state=s",
            RedirectError::Denied("access_denied".into()),
        ),
    ];
    for (url, expected) in cases {
        assert_eq!(parse_redirect(url, "s").unwrap_err(), expected, "{url}");
    }
    // An empty expected state never matches (a login always sends one).
    assert_eq!(
        parse_redirect("code=c&state=&referer=a.kommo.com", "").unwrap_err(),
        RedirectError::StateMismatch
    );
}

#[test]
fn referers_only_name_account_hosts() {
    for (referer, account) in [
        ("acme.kommo.com", "https://acme.kommo.com"),
        ("https://acme.amocrm.com/", "https://acme.amocrm.com"),
        ("acme-2.amocrm.ru", "https://acme-2.amocrm.ru"),
        ("localhost:9", "http://localhost:9"),
        ("https://[::1]:8443", "https://[::1]:8443"),
    ] {
        assert_eq!(
            account_from_referer(referer).unwrap().as_str(),
            account,
            "{referer}"
        );
    }
    for referer in [
        "kommo.com",
        ".kommo.com",
        "a.b.kommo.com",
        "acme.kommo.com:8443",
        "http://acme.kommo.com",
        "acme.kommo.com/path",
        "user@acme.kommo.com",
        "acmekommo.com",
        "127.0.0.1.nip.io",
        "",
    ] {
        assert!(account_from_referer(referer).is_err(), "{referer}");
    }
}

#[test]
fn refresh_decisions() {
    let access = AccessToken::new("current").unwrap();
    let set = TokenSet::new(access.clone(), Some(RefreshToken::new("r")), Some(100_000))
        .issued_at(Some(13_600));
    let margin = Duration::from_secs(300);
    // (now, rejected token, decision)
    let older = AccessToken::new("older").unwrap();
    let table: [(i64, Option<&AccessToken>, Option<RefreshDue>); 7] = [
        (50_000, None, None),
        (99_699, None, None),
        (99_700, None, Some(RefreshDue::Expiring)),
        (100_000, None, Some(RefreshDue::Expiring)),
        (200_000, None, Some(RefreshDue::Expiring)),
        (50_000, Some(&access), Some(RefreshDue::Rejected)),
        (200_000, Some(&older), None),
    ];
    for (now, rejected, due) in table {
        assert_eq!(refresh_due(&set, now, margin, rejected), due, "now {now}");
    }
    // A token living 10 s is refreshed half-way, not at once: no refresh storm.
    let short = TokenSet::new(access.clone(), None, Some(1_010)).issued_at(Some(1_000));
    assert_eq!(refresh_due(&short, 1_004, margin, None), None);
    assert_eq!(
        refresh_due(&short, 1_005, margin, None),
        Some(RefreshDue::Expiring)
    );
    // No expiry known: only a 401 makes a refresh due.
    let unknown = TokenSet::new(access, None, None);
    assert_eq!(refresh_due(&unknown, i64::MAX, margin, None), None);
}
