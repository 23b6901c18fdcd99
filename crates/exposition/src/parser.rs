//! Hand-written byte-level scanner for the text format.
//!
//! Every position the scanner stops at is either the end of the line or an
//! ASCII byte it matched, so slicing the line there always lands on a UTF-8
//! character boundary.

use std::collections::HashMap;

use crate::{Exposition, Family, MetricType, ParseError, Sample};

/// How many characters of an offending token an error message quotes.
const SNIPPET_CHARS: usize = 40;

/// Parses a whole exposition text.
///
/// Lines may end in `\n` or `\r\n`; blank lines and comments other than
/// `# HELP` and `# TYPE` are ignored. Tokens may be surrounded by any number
/// of spaces and tabs, and a label set may end with a trailing comma.
///
/// A line that cannot be parsed is recorded in [`Exposition::errors`] and
/// parsing continues with the next line; so are a second `# TYPE` or
/// `# HELP` line for the same family, a duplicated label name, and an
/// unknown type keyword. In label values, `\\`, `\"` and `\n` are
/// unescaped; in `# HELP` text, `\\` and `\n` are. Any other backslash is
/// kept as it is, like Prometheus itself does.
///
/// This function never panics, whatever the input.
pub fn parse(text: &str) -> Exposition {
    let mut parser = Parser::default();
    for (index, line) in text.split('\n').enumerate() {
        let line = line.strip_suffix('\r').unwrap_or(line);
        if let Err(message) = parser.line(line) {
            parser
                .exposition
                .errors
                .push(ParseError::new(index + 1, message, line));
        }
    }
    parser.exposition
}

/// What has been declared so far for one family.
struct Declared {
    /// Index into [`Exposition::families`].
    index: usize,
    has_type: bool,
    has_help: bool,
}

#[derive(Default)]
struct Parser {
    exposition: Exposition,
    declared: HashMap<String, Declared>,
}

impl Parser {
    fn line(&mut self, line: &str) -> Result<(), String> {
        let mut cursor = Cursor::new(line);
        cursor.skip_blanks();
        match cursor.peek() {
            None => Ok(()),
            Some(b'#') => {
                cursor.pos += 1;
                self.comment(cursor)
            }
            Some(_) => {
                let sample = sample(cursor)?;
                self.exposition.samples.push(sample);
                Ok(())
            }
        }
    }

    fn comment(&mut self, mut cursor: Cursor<'_>) -> Result<(), String> {
        cursor.skip_blanks();
        let keyword = cursor.token();
        if keyword != "HELP" && keyword != "TYPE" {
            return Ok(());
        }
        cursor.skip_blanks();
        let name = cursor.metric_name();
        if name.is_empty() {
            return Err(if cursor.at_end() {
                format!("missing metric name after {keyword}")
            } else {
                format!(
                    "invalid metric name '{}' after {keyword}",
                    snippet(cursor.token())
                )
            });
        }
        if !cursor.at_end_or_blank() {
            return Err(format!(
                "invalid character {:?} in metric name",
                cursor.next_char()
            ));
        }
        cursor.skip_blanks();
        if keyword == "HELP" {
            let help = unescape_help(cursor.rest());
            let family = self.family(name, |declared| &mut declared.has_help, "HELP")?;
            family.help = Some(help);
        } else {
            let word = cursor.token();
            let metric_type = match word {
                "counter" => MetricType::Counter,
                "gauge" => MetricType::Gauge,
                "histogram" => MetricType::Histogram,
                "summary" => MetricType::Summary,
                "untyped" => MetricType::Untyped,
                "" => return Err(format!("missing type for '{name}'")),
                other => return Err(format!("unknown metric type '{}'", snippet(other))),
            };
            cursor.skip_blanks();
            if !cursor.at_end() {
                return Err(format!(
                    "unexpected text after type: '{}'",
                    snippet(cursor.rest())
                ));
            }
            let family = self.family(name, |declared| &mut declared.has_type, "TYPE")?;
            family.metric_type = metric_type;
        }
        Ok(())
    }

    /// The family `name`, created if needed, after checking through `seen`
    /// that its `keyword` line has not been given before.
    fn family(
        &mut self,
        name: &str,
        seen: fn(&mut Declared) -> &mut bool,
        keyword: &str,
    ) -> Result<&mut Family, String> {
        let families = &mut self.exposition.families;
        let declared = self.declared.entry(name.to_owned()).or_insert_with(|| {
            families.push(Family {
                name: name.to_owned(),
                metric_type: MetricType::Untyped,
                help: None,
            });
            Declared {
                index: families.len() - 1,
                has_type: false,
                has_help: false,
            }
        });
        let flag = seen(declared);
        if *flag {
            return Err(format!("duplicate {keyword} line for '{name}'"));
        }
        *flag = true;
        Ok(&mut families[declared.index])
    }
}

fn sample(mut cursor: Cursor<'_>) -> Result<Sample, String> {
    let name = cursor.metric_name();
    if name.is_empty() {
        return Err(format!("invalid metric name '{}'", snippet(cursor.token())));
    }
    if !cursor.at_end_or_blank() && cursor.peek() != Some(b'{') {
        return Err(format!(
            "invalid character {:?} in metric name",
            cursor.next_char()
        ));
    }
    cursor.skip_blanks();
    let labels = if cursor.eat(b'{') {
        let labels = labels(&mut cursor)?;
        cursor.skip_blanks();
        labels
    } else {
        Vec::new()
    };

    let value = cursor.token();
    if value.is_empty() {
        return Err("missing value".to_owned());
    }
    let value = value
        .parse::<f64>()
        .map_err(|_| format!("invalid value '{}'", snippet(value)))?;

    cursor.skip_blanks();
    let timestamp_ms = if cursor.at_end() {
        None
    } else {
        let timestamp = cursor.token();
        let timestamp = timestamp
            .parse::<i64>()
            .map_err(|_| format!("invalid timestamp '{}'", snippet(timestamp)))?;
        cursor.skip_blanks();
        if !cursor.at_end() {
            return Err(format!(
                "unexpected text after timestamp: '{}'",
                snippet(cursor.rest())
            ));
        }
        Some(timestamp)
    };

    Ok(Sample {
        name: name.to_owned(),
        labels,
        value,
        timestamp_ms,
    })
}

/// Parses a label set after its opening `{`, through its closing `}`.
fn labels(cursor: &mut Cursor<'_>) -> Result<Vec<(String, String)>, String> {
    let mut labels: Vec<(String, String)> = Vec::new();
    loop {
        cursor.skip_blanks();
        if cursor.eat(b'}') {
            return Ok(labels);
        }
        let name = cursor.label_name();
        if name.is_empty() {
            return Err(if cursor.at_end() {
                "unterminated label set".to_owned()
            } else {
                format!("invalid label name at '{}'", snippet(cursor.rest()))
            });
        }
        cursor.skip_blanks();
        if !cursor.eat(b'=') {
            return Err(format!("expected '=' after label name '{name}'"));
        }
        cursor.skip_blanks();
        if !cursor.eat(b'"') {
            return Err(format!("expected '\"' to open the value of label '{name}'"));
        }
        let value = cursor
            .label_value()
            .ok_or_else(|| "unterminated label value".to_owned())?;
        if labels.iter().any(|(existing, _)| existing == name) {
            return Err(format!("duplicate label name '{name}'"));
        }
        labels.push((name.to_owned(), value));
        cursor.skip_blanks();
        match cursor.peek() {
            Some(b',') => cursor.pos += 1,
            Some(b'}') => {
                cursor.pos += 1;
                return Ok(labels);
            }
            None => return Err("unterminated label set".to_owned()),
            Some(_) => {
                return Err(format!(
                    "expected ',' or '}}' after the value of label '{name}'"
                ))
            }
        }
    }
}

/// Unescapes `# HELP` text: `\\` and `\n`; other backslashes stay.
fn unescape_help(text: &str) -> String {
    if !text.contains('\\') {
        return text.to_owned();
    }
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.clone().next() {
            Some('\\') => {
                out.push('\\');
                chars.next();
            }
            Some('n') => {
                out.push('\n');
                chars.next();
            }
            _ => out.push('\\'),
        }
    }
    out
}

/// At most [`SNIPPET_CHARS`] characters of `text`, for error messages.
fn snippet(text: &str) -> &str {
    match text.char_indices().nth(SNIPPET_CHARS) {
        Some((cut, _)) => &text[..cut],
        None => text,
    }
}

/// Byte classes, one bit each, looked up in [`CLASSES`].
const METRIC_CHAR: u8 = 1; // [a-zA-Z0-9_:]
const LABEL_CHAR: u8 = 2; // [a-zA-Z0-9_]
const DIGIT: u8 = 4; // [0-9]: continues a name but cannot start one
const BLANK: u8 = 8; // space or tab

static CLASSES: [u8; 256] = classes();

const fn classes() -> [u8; 256] {
    let mut table = [0; 256];
    let mut byte = 0;
    while byte < 256 {
        let b = byte as u8;
        let mut class = 0;
        if b.is_ascii_alphanumeric() || b == b'_' {
            class |= METRIC_CHAR | LABEL_CHAR;
        }
        if b == b':' {
            class |= METRIC_CHAR;
        }
        if b.is_ascii_digit() {
            class |= DIGIT;
        }
        if b == b' ' || b == b'\t' {
            class |= BLANK;
        }
        table[byte] = class;
        byte += 1;
    }
    table
}

fn class(byte: u8) -> u8 {
    CLASSES[usize::from(byte)]
}

/// Index of the first `"` or `\\` in `bytes`, looked for eight bytes at a
/// time: label values are the bulk of an exposition.
fn find_quote_or_backslash(bytes: &[u8]) -> Option<usize> {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGHS: u64 = 0x8080_8080_8080_8080;
    // High bit of each byte of `word` equal to `byte`. Bytes above the
    // lowest match may be flagged spuriously, so only the lowest flag counts.
    let flags = |word: u64, byte: u8| {
        let zeroed = word ^ (ONES * u64::from(byte));
        zeroed.wrapping_sub(ONES) & !zeroed & HIGHS
    };
    let mut chunks = bytes.chunks_exact(8);
    let mut offset = 0;
    for chunk in &mut chunks {
        let mut word = [0; 8];
        word.copy_from_slice(chunk);
        let word = u64::from_le_bytes(word);
        let found = flags(word, b'"') | flags(word, b'\\');
        if found != 0 {
            return Some(offset + found.trailing_zeros() as usize / 8);
        }
        offset += 8;
    }
    chunks
        .remainder()
        .iter()
        .position(|&byte| byte == b'"' || byte == b'\\')
        .map(|index| offset + index)
}

/// A position in one line.
struct Cursor<'a> {
    line: &'a str,
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn new(line: &'a str) -> Self {
        Cursor { line, pos: 0 }
    }

    fn peek(&self) -> Option<u8> {
        self.line.as_bytes().get(self.pos).copied()
    }

    fn at_end(&self) -> bool {
        self.pos >= self.line.len()
    }

    fn at_end_or_blank(&self) -> bool {
        self.peek().is_none_or(|byte| class(byte) & BLANK != 0)
    }

    /// The character at the cursor, for error messages.
    fn next_char(&self) -> char {
        self.rest().chars().next().unwrap_or(' ')
    }

    fn rest(&self) -> &'a str {
        &self.line[self.pos..]
    }

    fn eat(&mut self, byte: u8) -> bool {
        let matched = self.peek() == Some(byte);
        self.pos += usize::from(matched);
        matched
    }

    fn skip_blanks(&mut self) {
        self.take(BLANK, true);
    }

    /// Consumes the bytes that are (`member`) or are not (`!member`) in
    /// `classes` and returns them. Every class holds only ASCII bytes, so
    /// the end is a character boundary either way.
    fn take(&mut self, classes: u8, member: bool) -> &'a str {
        let start = self.pos;
        let rest = &self.line.as_bytes()[start..];
        let len = rest
            .iter()
            .position(|&byte| (class(byte) & classes != 0) != member)
            .unwrap_or(rest.len());
        self.pos += len;
        &self.line[start..self.pos]
    }

    /// Everything up to the next blank or the end of the line.
    fn token(&mut self) -> &'a str {
        self.take(BLANK, false)
    }

    /// A name made of `classes` bytes, not starting with a digit, or `""`.
    fn name(&mut self, classes: u8) -> &'a str {
        match self.peek() {
            Some(byte) if class(byte) & (classes | DIGIT) == classes => self.take(classes, true),
            _ => "",
        }
    }

    /// A metric name, or `""` if none starts here.
    fn metric_name(&mut self) -> &'a str {
        self.name(METRIC_CHAR)
    }

    /// A label name, or `""` if none starts here.
    fn label_name(&mut self) -> &'a str {
        self.name(LABEL_CHAR)
    }

    /// An unescaped label value after its opening quote, through its closing
    /// quote; `None` if the line ends first.
    fn label_value(&mut self) -> Option<String> {
        let bytes = self.line.as_bytes();
        let start = self.pos;
        let mut pos = start + find_quote_or_backslash(&bytes[start..])?;
        if bytes[pos] == b'"' {
            self.pos = pos + 1;
            return Some(self.line[start..pos].to_owned());
        }

        let mut value = String::with_capacity(pos - start + 16);
        value.push_str(&self.line[start..pos]);
        while pos < bytes.len() {
            match bytes[pos] {
                b'"' => {
                    self.pos = pos + 1;
                    return Some(value);
                }
                b'\\' => {
                    match bytes.get(pos + 1)? {
                        b'\\' => value.push('\\'),
                        b'"' => value.push('"'),
                        b'n' => value.push('\n'),
                        // Unknown escape: keep the backslash and go on with
                        // the character after it as ordinary text.
                        _ => {
                            value.push('\\');
                            pos += 1;
                            continue;
                        }
                    }
                    pos += 2;
                }
                _ => {
                    let run = find_quote_or_backslash(&bytes[pos..])
                        .map_or(bytes.len(), |offset| pos + offset);
                    value.push_str(&self.line[pos..run]);
                    pos = run;
                }
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn help_unescapes_only_backslash_and_newline() {
        assert_eq!(
            unescape_help(r"a\\b\nc\td\"),
            "a\\b\nc\\td\\",
            "\\\\ and \\n are the only HELP escapes; other backslashes stay"
        );
    }

    #[test]
    fn snippet_cuts_on_a_character_boundary() {
        let long = "é".repeat(100);
        assert_eq!(
            snippet(&long).chars().count(),
            SNIPPET_CHARS,
            "multi-byte characters must not be split"
        );
    }

    #[test]
    fn label_value_keeps_unknown_escapes_and_stops_at_the_real_quote() {
        let mut cursor = Cursor::new(r#"a\tb\"c\\\"d"} 1"#);
        assert_eq!(
            cursor.label_value().as_deref(),
            Some("a\\tb\"c\\\"d"),
            "only \\\\, \\\" and \\n are escapes; the value ends at the first unescaped quote"
        );
        assert_eq!(
            cursor.rest(),
            "} 1",
            "the cursor must sit after the closing quote"
        );
    }

    #[test]
    fn quote_search_finds_the_first_match_at_every_offset() {
        for len in 0..40 {
            for at in 0..len {
                for special in [b'"', b'\\'] {
                    // Bytes that differ from the specials by one bit, and
                    // zero bytes, are where a word-at-a-time search can slip.
                    let mut bytes: Vec<u8> = (0..len)
                        .map(|i| [b'#', b'\\' ^ 1, 0, 0xff][i % 4])
                        .collect();
                    bytes[at] = special;
                    if at + 1 < len {
                        bytes[at + 1] = b'"';
                    }
                    assert_eq!(
                        find_quote_or_backslash(&bytes),
                        Some(at),
                        "the first special byte wins, wherever it sits in a word: {bytes:?}"
                    );
                }
            }
            let none = vec![b'a'; len];
            assert_eq!(find_quote_or_backslash(&none), None, "no special byte");
        }
    }

    #[test]
    fn label_value_without_closing_quote_is_none() {
        assert_eq!(
            Cursor::new(r#"abc"#).label_value(),
            None,
            "no closing quote"
        );
        assert_eq!(
            Cursor::new(r#"abc\"#).label_value(),
            None,
            "a trailing backslash escapes nothing and the quote never comes"
        );
        assert_eq!(
            Cursor::new(r#"abc\""#).label_value(),
            None,
            "an escaped quote does not close the value"
        );
    }
}
