//! Safe, unique local names for exported files. A name from the account is anything its users
//! typed: `../x`, `/etc/passwd`, `con`, control characters, 300 bytes of it. Each becomes one
//! plain file name inside the export folder, and two files of the same name never share one.

use std::collections::BTreeSet;

/// Bytes a name may take before a uniqueness suffix and the download's temporary suffix
/// (file systems allow 255).
const MAX_NAME_BYTES: usize = 180;

/// Names Windows reserves whatever the extension (refused on a shared or synced folder).
const RESERVED: [&str; 22] = [
    "con", "prn", "aux", "nul", "com1", "com2", "com3", "com4", "com5", "com6", "com7", "com8",
    "com9", "lpt1", "lpt2", "lpt3", "lpt4", "lpt5", "lpt6", "lpt7", "lpt8", "lpt9",
];

/// One file name, safe on Linux, macOS and Windows: no separator, no control character, no
/// `..`, no trailing dot or space, no leading dot (`_` goes before it: the export's own
/// temporary files start with one), no reserved device name (`_` before it too), not empty,
/// at most [`MAX_NAME_BYTES`] bytes with its extension kept.
pub fn safe_name(raw: &str) -> String {
    let mut name: String = raw
        .chars()
        .map(|c| match c {
            '/' | '\\' | ':' | '*' | '?' | '"' | '<' | '>' | '|' => '_',
            c if c.is_control() => '_',
            c => c,
        })
        .collect();
    name = name
        .trim_start_matches(' ')
        .trim_end_matches([' ', '.'])
        .to_owned();
    if name.is_empty() {
        name = "file".to_owned();
    }
    // Hidden (and the export's own temporary files start with a dot), as `download` does.
    if name.starts_with('.') {
        name.insert(0, '_');
    }
    let stem = name
        .split('.')
        .next()
        .unwrap_or_default()
        .to_ascii_lowercase();
    if RESERVED.contains(&stem.trim_end()) {
        name.insert(0, '_');
    }
    truncate(&name, MAX_NAME_BYTES)
}

/// `name` cut to `max` bytes at a character boundary, keeping a short extension.
fn truncate(name: &str, max: usize) -> String {
    if name.len() <= max {
        return name.to_owned();
    }
    let (stem, extension) = split_extension(name);
    let extension = if extension.len() <= 16 { extension } else { "" };
    let mut cut = max - extension.len();
    while !stem.is_char_boundary(cut.min(stem.len())) {
        cut -= 1;
    }
    format!("{}{extension}", &stem[..cut.min(stem.len())])
}

/// `("report", ".pdf")`; a name without a dot (or only a leading one) has no extension.
fn split_extension(name: &str) -> (&str, &str) {
    match name.rfind('.') {
        Some(at) if at > 0 => name.split_at(at),
        _ => (name, ""),
    }
}

/// Hands out names unique within one folder, compared without case (two files differing only
/// by case would be one on macOS and Windows).
#[derive(Debug, Default)]
pub struct Names {
    taken: BTreeSet<String>,
}

impl Names {
    /// Marks `name` as taken (a name an earlier run gave, a reserved one).
    pub fn reserve(&mut self, name: &str) {
        self.taken.insert(name.to_lowercase());
    }

    /// A safe name for `raw` no one has: `contract.pdf`, then `contract (2).pdf`, …
    pub fn unique(&mut self, raw: &str) -> String {
        let safe = safe_name(raw);
        let (stem, extension) = split_extension(&safe);
        let mut candidate = safe.clone();
        let mut n = 1;
        while self.taken.contains(&candidate.to_lowercase()) {
            n += 1;
            candidate = format!("{stem} ({n}){extension}");
        }
        self.taken.insert(candidate.to_lowercase());
        candidate
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostile_names_become_plain_file_names() {
        let cases = [
            ("../x", "_.._x"),
            ("/etc/passwd", "_etc_passwd"),
            ("..", "file"),
            ("", "file"),
            ("   ", "file"),
            (".bashrc", "_.bashrc"),
            ("trailing. . ", "trailing"),
            ("con", "_con"),
            ("CON.txt", "_CON.txt"),
            ("lpt9.pdf", "_lpt9.pdf"),
            ("console.txt", "console.txt"),
            ("a\nb\u{0}c\u{7f}.txt", "a_b_c_.txt"),
            ("C:\\Windows\\x.dll", "C__Windows_x.dll"),
            ("what?<>|*\".txt", "what______.txt"),
            ("report.pdf", "report.pdf"),
            ("résumé.pdf", "résumé.pdf"),
        ];
        for (raw, safe) in cases {
            assert_eq!(safe_name(raw), safe, "{raw:?}");
        }
    }

    #[test]
    fn long_names_keep_their_extension_and_char_boundaries() {
        let long = format!("{}.pdf", "é".repeat(300));
        let safe = safe_name(&long);
        assert!(safe.len() <= MAX_NAME_BYTES, "{}", safe.len());
        assert!(safe.ends_with(".pdf"));
        let no_ext = "x".repeat(1000);
        assert_eq!(safe_name(&no_ext).len(), MAX_NAME_BYTES);
    }

    #[test]
    fn names_are_unique_without_case() {
        let mut names = Names::default();
        names.reserve("manifest.json");
        assert_eq!(names.unique("contract.pdf"), "contract.pdf");
        assert_eq!(names.unique("contract.pdf"), "contract (2).pdf");
        assert_eq!(names.unique("Contract.PDF"), "Contract (3).PDF");
        assert_eq!(names.unique("manifest.json"), "manifest (2).json");
        assert_eq!(names.unique("README"), "README");
        assert_eq!(names.unique("readme"), "readme (2)");
    }
}
