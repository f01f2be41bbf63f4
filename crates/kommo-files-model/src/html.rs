//! HTML error pages (a blocked account's 403, a proxy's 502) summed up in a few words: raw
//! markup in a message helps nobody.

use http::StatusCode;

/// An HTML body in a few words, or `None` when the body is not HTML.
pub(crate) fn summary(body: &[u8], status: StatusCode) -> Option<String> {
    let reason = status.canonical_reason();
    looks_like_html(body).then(|| {
        format!(
            "{} (an HTML page)",
            html_summary(body, status.as_u16(), reason)
        )
    })
}

/// Whether a body is markup rather than JSON or text.
fn looks_like_html(body: &[u8]) -> bool {
    let text = String::from_utf8_lossy(&body[..body.len().min(512)]);
    let text = text.trim_start_matches(['\u{feff}', ' ', '\t', '\r', '\n']);
    let mut chars = text.chars();
    chars.next() == Some('<')
        && chars
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '!' || c == '?')
}

/// At most this many characters of an HTML page's summary.
const SUMMARY_CHARS: usize = 80;

/// An HTML page in a few words: its `<title>`, unless that only repeats the status (then the
/// first words of its visible text), trimmed to about 80 characters.
fn html_summary(body: &[u8], code: u16, reason: Option<&str>) -> String {
    let page = String::from_utf8_lossy(body);
    let title = element_text(&page, "title").unwrap_or_default();
    let says_only_status = |text: &str| {
        let code = code.to_string();
        let reason = reason.unwrap_or("").to_ascii_lowercase();
        text.to_ascii_lowercase()
            .replace(&code, " ")
            .replace(&reason, " ")
            .split(|c: char| !c.is_alphanumeric())
            .all(|word| word.is_empty() || word == "error" || word == "http")
    };
    let summary = if !title.is_empty() && !says_only_status(&title) {
        title
    } else {
        let visible = visible_text(&page);
        let visible = visible
            .strip_prefix(title.as_str())
            .map_or(visible.as_str(), str::trim_start)
            .to_owned();
        if visible.is_empty() || says_only_status(&visible) {
            title
        } else {
            visible
        }
    };
    match summary.is_empty() {
        true => "an HTML page".to_owned(),
        false => shorten(&summary, SUMMARY_CHARS),
    }
}

/// The text of the first `<tag>` element, its entities decoded and its spaces collapsed.
fn element_text(page: &str, tag: &str) -> Option<String> {
    let lower = page.to_ascii_lowercase();
    let open = lower.find(&format!("<{tag}"))?;
    let start = open + lower[open..].find('>')? + 1;
    let end = start + lower[start..].find(&format!("</{tag}"))?;
    Some(collapse(&decode_entities(&strip_tags(&page[start..end]))))
}

/// What a browser would show of the page's body: no head, scripts, styles, comments or tags.
fn visible_text(page: &str) -> String {
    let mut text = page.to_owned();
    for (open, close) in [
        ("<head", "</head>"),
        ("<script", "</script>"),
        ("<style", "</style>"),
        ("<!--", "-->"),
    ] {
        text = remove_between(&text, open, close);
    }
    collapse(&decode_entities(&strip_tags(&text)))
}

/// `text` without every span from `open` to `close` (ASCII, any case).
fn remove_between(text: &str, open: &str, close: &str) -> String {
    let lower = text.to_ascii_lowercase();
    let mut out = String::with_capacity(text.len());
    let mut at = 0;
    while let Some(found) = lower[at..].find(open) {
        let start = at + found;
        out.push_str(&text[at..start]);
        out.push(' ');
        at = match lower[start..].find(close) {
            Some(end) => start + end + close.len(),
            None => text.len(),
        };
    }
    out.push_str(&text[at..]);
    out
}

/// Tags become spaces.
fn strip_tags(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut in_tag = false;
    for c in text.chars() {
        match (in_tag, c) {
            (false, '<') => in_tag = true,
            (true, '>') => {
                in_tag = false;
                out.push(' ');
            }
            (false, c) => out.push(c),
            (true, _) => {}
        }
    }
    out
}

fn decode_entities(text: &str) -> String {
    text.replace("&nbsp;", " ")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&apos;", "'")
        .replace("&amp;", "&")
}

/// One line: runs of whitespace (and control characters) become one space.
fn collapse(text: &str) -> String {
    text.split(|c: char| c.is_whitespace() || c.is_control())
        .filter(|word| !word.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

/// At most `max` characters, cut at a word when one ends close enough, with `…` when cut.
fn shorten(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let cut: String = text.chars().take(max - 1).collect();
    let cut = match cut.rfind(' ') {
        Some(space) if space > max / 2 => &cut[..space],
        _ => cut.as_str(),
    };
    format!("{}…", cut.trim_end())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn html_pages_are_summed_up_by_title_or_first_words() {
        let emulator = b"<!DOCTYPE html>\n<html><head><title>403 Forbidden</title></head><body>\
            <h1>403 Forbidden</h1><p>Your account has been blocked for exceeding the API request \
            limits.</p></body></html>\n";
        assert_eq!(
            html_summary(emulator, 403, Some("Forbidden")),
            "Your account has been blocked for exceeding the API request limits."
        );
        let nginx = b"<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n\
            <center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx/1.25.3</center>\r\n\
            </body>\r\n</html>";
        assert_eq!(
            html_summary(nginx, 502, Some("Bad Gateway")),
            "nginx/1.25.3"
        );
        let titled = b"<html><head><title>Account suspended &amp; locked</title>\
            <style>body{color:red}</style></head><body><p>x</p></body></html>";
        assert_eq!(
            html_summary(titled, 403, Some("Forbidden")),
            "Account suspended & locked"
        );
        let long = format!(
            "<html><body><script>var a = '<p>';</script><p>{}</p></body></html>",
            "word ".repeat(40)
        );
        let summary = html_summary(long.as_bytes(), 500, Some("Internal Server Error"));
        assert!(
            summary.ends_with('…') && summary.chars().count() <= SUMMARY_CHARS,
            "{summary}"
        );
        assert!(summary.starts_with("word word"), "{summary}");
        let bare = b"<html><head><title>403 Forbidden</title></head></html>";
        assert_eq!(html_summary(bare, 403, Some("Forbidden")), "403 Forbidden");
        assert_eq!(html_summary(b"<html></html>", 502, None), "an HTML page");
        assert!(looks_like_html(b"  <!doctype html><p>x"));
        assert!(looks_like_html(b"<html>"));
        assert!(!looks_like_html(b"{\"title\":\"<b>\"}"));
        assert!(!looks_like_html(
            b"Internal error: upstream said <nonsense>"
        ));
    }
}
