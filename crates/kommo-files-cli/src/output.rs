//! What commands print: aligned tables for people, JSON for scripts, sizes and dates in words.

use std::io::Write;

use serde::Serialize;

use crate::dates::format_utc;
use crate::failure::Failure;

/// A table with a header row; columns are padded to their widest cell.
#[derive(Debug)]
pub struct Table {
    header: Vec<&'static str>,
    rows: Vec<Vec<String>>,
}

impl Table {
    pub fn new(header: &[&'static str]) -> Self {
        Self {
            header: header.to_vec(),
            rows: Vec::new(),
        }
    }

    pub fn row(&mut self, cells: Vec<String>) {
        debug_assert_eq!(cells.len(), self.header.len());
        self.rows.push(cells);
    }

    pub fn render(&self) -> String {
        let header: Vec<String> = self.header.iter().map(|h| (*h).to_owned()).collect();
        let lines: Vec<&Vec<String>> = std::iter::once(&header).chain(&self.rows).collect();
        let widths: Vec<usize> = (0..header.len())
            .map(|column| {
                lines
                    .iter()
                    .map(|cells| cells[column].chars().count())
                    .max()
                    .unwrap_or(0)
            })
            .collect();
        let mut out = String::new();
        for cells in lines {
            let mut line = String::new();
            for (column, cell) in cells.iter().enumerate() {
                if column > 0 {
                    line.push_str("  ");
                }
                line.push_str(cell);
                if column + 1 < cells.len() {
                    let padding = widths[column] - cell.chars().count();
                    line.extend(std::iter::repeat_n(' ', padding));
                }
            }
            out.push_str(line.trim_end());
            out.push('\n');
        }
        out
    }
}

/// Writes to standard output; a closed pipe (`| head`) ends the command quietly.
pub fn print(text: &str) -> Result<(), Failure> {
    let mut stdout = std::io::stdout().lock();
    match stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
    {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
            Err(Failure::io("writing to standard output", e))
        }
        _ => Ok(()),
    }
}

/// Prints `value` as pretty JSON and a newline.
pub fn print_json(value: &impl Serialize) -> Result<(), Failure> {
    let mut text = serde_json::to_string_pretty(value)
        .map_err(|e| Failure::io("encoding JSON", std::io::Error::other(e)))?;
    text.push('\n');
    print(&text)
}

/// A one-line message for people, or `{"ok": true, …}` for scripts.
pub fn print_done(json: bool, message: &str, details: serde_json::Value) -> Result<(), Failure> {
    if json {
        let mut value = serde_json::json!({ "ok": true });
        if let (Some(object), serde_json::Value::Object(details)) = (value.as_object_mut(), details)
        {
            object.extend(details);
        }
        print_json(&value)
    } else {
        print(&format!("{message}\n"))
    }
}

/// `1 file`, `3 files`.
pub fn count(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// `1.5 MiB`, `512 B`.
pub fn human_size(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

/// A Unix time as a UTC date, or `-` when the server did not say.
pub fn when(unix_seconds: Option<i64>) -> String {
    unix_seconds.map_or_else(|| "-".to_owned(), format_utc)
}

/// A file name for a terminal: control characters (which could rewrite the screen) shown as `?`.
pub fn printable(name: &str) -> String {
    name.chars()
        .map(|c| if c.is_control() { '?' } else { c })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_align_unicode_cells() {
        let mut table = Table::new(&["NAME", "SIZE"]);
        table.row(vec!["Договор.pdf".into(), "1.0 KiB".into()]);
        table.row(vec!["a".into(), "-".into()]);
        assert_eq!(
            table.render(),
            "NAME         SIZE\nДоговор.pdf  1.0 KiB\na            -\n"
        );
    }

    #[test]
    fn sizes_and_names_read_well() {
        assert_eq!(human_size(512), "512 B");
        assert_eq!(human_size(1536), "1.5 KiB");
        assert_eq!(human_size(3 << 30), "3.0 GiB");
        assert_eq!(printable("a\u{1b}[2Jb"), "a?[2Jb");
    }
}
