//! Scenario errors: every one names the file, the line and column, and the field.

use std::cell::OnceCell;
use std::fmt;

/// A problem with a scenario file. Displayed as
/// `scenarios/partition.toml:12:8: field "network.drop": expected a probability in [0, 1], found 1.5`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ScenarioError {
    pub file: String,
    /// 1-based; 0 when the problem has no place in the file (it could not be read, say).
    pub line: usize,
    pub column: usize,
    /// The dotted path of the field, empty when the problem is the file as a whole.
    pub field: String,
    pub message: String,
}

impl fmt::Display for ScenarioError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file)?;
        if self.line > 0 {
            write!(f, ":{}:{}", self.line, self.column)?;
        }
        if !self.field.is_empty() {
            write!(f, ": field \"{}\"", self.field)?;
        }
        write!(f, ": {}", self.message)
    }
}

/// Maps byte offsets of a source text to 1-based lines and columns.
///
/// The offsets where lines start are found once, on the first look-up, so placing every fault
/// of a file costs a binary search each, not a scan from the start of the file (which made
/// reading a scenario quadratic in its number of faults).
#[derive(Debug, Clone)]
pub struct Source<'a> {
    pub file: &'a str,
    pub text: &'a str,
    line_starts: OnceCell<Vec<usize>>,
}

impl<'a> Source<'a> {
    pub fn new(file: &'a str, text: &'a str) -> Self {
        Source {
            file,
            text,
            line_starts: OnceCell::new(),
        }
    }

    fn line_starts(&self) -> &[usize] {
        self.line_starts.get_or_init(|| {
            std::iter::once(0)
                .chain(self.text.match_indices('\n').map(|(i, _)| i + 1))
                .collect()
        })
    }

    /// The 1-based line and column of byte `offset` (clamped to the text).
    pub fn line_column(&self, offset: usize) -> (usize, usize) {
        let mut offset = offset.min(self.text.len());
        while !self.text.is_char_boundary(offset) {
            offset -= 1;
        }
        let starts = self.line_starts();
        // The last line starting at or before `offset`; there is always one, at 0.
        let index = starts.partition_point(|&start| start <= offset) - 1;
        let column = self.text[starts[index]..offset].chars().count() + 1;
        (index + 1, column)
    }

    /// An error at byte `offset`.
    pub fn error_at(
        &self,
        offset: usize,
        field: &str,
        message: impl Into<String>,
    ) -> ScenarioError {
        let (line, column) = self.line_column(offset);
        ScenarioError {
            file: self.file.to_string(),
            line,
            column,
            field: field.to_string(),
            message: message.into(),
        }
    }

    /// An error about the whole file.
    pub fn error(&self, field: &str, message: impl Into<String>) -> ScenarioError {
        ScenarioError {
            file: self.file.to_string(),
            line: 0,
            column: 0,
            field: field.to_string(),
            message: message.into(),
        }
    }

    /// The offset of `key = ...` inside table `[section]` (or of the header itself when `key` is
    /// empty or not found), for errors found after the table was read as a whole.
    pub fn locate_key(&self, section: &str, key: &str) -> usize {
        let mut in_section = section.is_empty();
        let mut header_offset = 0;
        let mut offset = 0;
        for line in self.text.split_inclusive('\n') {
            let trimmed = line.trim_start();
            if trimmed.starts_with('[') {
                let name = trimmed
                    .trim_start_matches('[')
                    .split(']')
                    .next()
                    .unwrap_or("")
                    .trim();
                in_section = name == section;
                if in_section {
                    header_offset = offset + (line.len() - trimmed.len());
                }
            } else if in_section && !key.is_empty() {
                let candidate = trimmed
                    .split(['=', '.'])
                    .next()
                    .unwrap_or("")
                    .trim()
                    .trim_matches('"');
                if candidate == key {
                    return offset + (line.len() - trimmed.len());
                }
            }
            offset += line.len();
        }
        header_offset
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_and_columns_are_one_based() {
        let s = Source::new("f.toml", "a = 1\nbb = 2\n");
        assert_eq!(s.line_column(0), (1, 1));
        assert_eq!(s.line_column(6), (2, 1));
        assert_eq!(s.line_column(9), (2, 4));
        assert_eq!(s.line_column(999), (3, 1));
    }

    /// The line index agrees with counting newlines from the start, at every offset of texts
    /// with empty lines, multi-byte characters and no final newline.
    #[test]
    fn the_line_index_agrees_with_counting_from_the_start() {
        for text in ["", "\n", "a", "a\n\nbé = 1\n[t]\nx = \"ü\"", "\n\n\nz"] {
            let s = Source::new("f.toml", text);
            for offset in 0..=text.len() + 2 {
                let mut at = offset.min(text.len());
                while !text.is_char_boundary(at) {
                    at -= 1;
                }
                let before = &text[..at];
                let line = before.matches('\n').count() + 1;
                let column = before.rsplit('\n').next().unwrap_or("").chars().count() + 1;
                assert_eq!(
                    s.line_column(offset),
                    (line, column),
                    "{text:?} at {offset}"
                );
            }
        }
    }

    #[test]
    fn locates_keys_inside_their_section() {
        let text = "x = 1\n[protocol]\nname = \"raft\"\nfoo = 3\n[checks]\nfoo = 4\n";
        let s = Source::new("f.toml", text);
        assert_eq!(s.line_column(s.locate_key("protocol", "foo")).0, 4);
        assert_eq!(s.line_column(s.locate_key("checks", "foo")).0, 6);
        assert_eq!(s.line_column(s.locate_key("checks", "bar")).0, 5);
    }

    #[test]
    fn display_names_file_line_and_field() {
        let e = Source::new("s.toml", "a\nb = 1.5").error_at(
            2,
            "network.drop",
            "expected a probability in [0, 1], found 1.5",
        );
        assert_eq!(
            e.to_string(),
            "s.toml:2:1: field \"network.drop\": expected a probability in [0, 1], found 1.5"
        );
    }
}
