//! A schema's text and name, and byte offset → line/column conversion for diagnostics.

use std::ops::Range;

/// The text of one schema file and the name it is reported under (usually its path).
#[derive(Clone, Debug)]
pub(crate) struct Source {
    name: String,
    text: String,
    line_starts: Vec<usize>,
}

/// A resolved position: 1-based line and column (in characters, as rustc counts them).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Position {
    pub line: usize,
    pub column: usize,
}

impl Source {
    /// Wraps a file's text.
    pub(crate) fn new(name: &str, text: &str) -> Self {
        let mut line_starts = vec![0];
        line_starts.extend(text.match_indices('\n').map(|(i, _)| i + 1));
        Source {
            name: name.to_owned(),
            text: text.to_owned(),
            line_starts,
        }
    }

    /// The name the file is reported under.
    pub(crate) fn name(&self) -> &str {
        &self.name
    }

    /// The whole text.
    pub(crate) fn text(&self) -> &str {
        &self.text
    }

    /// Clamps `offset` into the text and onto a character boundary.
    fn clamp(&self, offset: usize) -> usize {
        let mut o = offset.min(self.text.len());
        while !self.text.is_char_boundary(o) {
            o -= 1;
        }
        o
    }

    /// The 0-based line index containing `offset`.
    fn line_index(&self, offset: usize) -> usize {
        match self.line_starts.binary_search(&offset) {
            Ok(i) => i,
            Err(i) => i.saturating_sub(1),
        }
    }

    /// Line and column of a byte offset.
    pub(crate) fn position(&self, offset: usize) -> Position {
        let offset = self.clamp(offset);
        let line = self.line_index(offset);
        let start = self.line_starts[line];
        Position {
            line: line + 1,
            column: self.text[start..offset].chars().count() + 1,
        }
    }

    /// The text of 1-based line `line`, without its line break.
    pub(crate) fn line_text(&self, line: usize) -> &str {
        let Some(&start) = self.line_starts.get(line.saturating_sub(1)) else {
            return "";
        };
        let end = self
            .line_starts
            .get(line)
            .map_or(self.text.len(), |&next| next);
        self.text[start..end].trim_end_matches(['\n', '\r'])
    }

    /// The text a span covers, clamped to the file and cut at the end of the span's first line.
    pub(crate) fn snippet(&self, span: &Range<usize>) -> &str {
        let start = self.clamp(span.start);
        let end = self.clamp(span.end.max(start));
        let s = &self.text[start..end];
        s.split('\n').next().unwrap_or("").trim_end_matches('\r')
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions() {
        let s = Source::new("x.toml", "ab\ncdé\nf");
        assert_eq!(s.position(0), Position { line: 1, column: 1 });
        assert_eq!(s.position(3), Position { line: 2, column: 1 });
        assert_eq!(s.position(7), Position { line: 2, column: 4 });
        assert_eq!(s.position(8), Position { line: 3, column: 1 });
        assert_eq!(s.position(99), Position { line: 3, column: 2 });
        assert_eq!(s.line_text(2), "cdé");
        assert_eq!(s.line_text(9), "");
        assert_eq!(s.snippet(&(3..9)), "cdé");
        assert_eq!(s.snippet(&(6..7)), "é");
    }
}
