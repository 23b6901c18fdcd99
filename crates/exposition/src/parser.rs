//! Hand-written byte-level scanner for the text format.
//!
//! Every position the scanner stops at is either the end of the line or an
//! ASCII byte it matched, so slicing the line there always lands on a UTF-8
//! character boundary.
//!
//! The rules follow the Prometheus project's own parsers rather than the
//! letter of the 0.0.4 document, because what FleetDeck reads is whatever
//! Prometheus accepts and what it should flag is whatever Prometheus would
//! refuse:
//!
//! * A `# HELP` or `# TYPE` line with nothing after the keyword is a plain
//!   comment, as in `expfmt` (the `prometheus/common` text parser): it
//!   declares nothing, so there is nothing to get wrong. (Prometheus's
//!   scrape-time lexer agrees for `# HELP` alone but trips on trailing
//!   blanks after it; a template that renders an empty name is the usual
//!   source, and we side with `expfmt`.)
//! * Prometheus 3 writes metric and label names outside
//!   `[a-zA-Z_:][a-zA-Z0-9_:]*` quoted (`{"http.requests",code="200"} 1`,
//!   `# TYPE "http.requests" counter`). A quoted string inside the braces
//!   that is followed by `,` or `}` is the metric name; one followed by `=`
//!   is a label name. Quoted names are unescaped like label values and keep
//!   every character, dots included.
//! * `__name__` is where Prometheus stores the metric name, so a label of
//!   that name would either be ignored or silently rename the series: both
//!   upstream parsers refuse it, and so do we.
//! * The format requires a family's `# TYPE` before its first sample, and
//!   `expfmt` refuses a late one. Accepting it would retype samples already
//!   returned, so it is reported and ignored.
//! * A classic histogram's `_bucket` and `_count` series count
//!   observations, so a negative value is corrupt data (a wrapped counter, a
//!   bad exporter) that would poison every quantile computed from it. Only
//!   `_sum` may be negative.
//!
//! The last two checks look series names up in hash tables (which series
//! were seen, which family declared a histogram). Samples of one series come
//! in runs, so that is done once per change of series name rather than once
//! per line. On `parse_bench`'s input these rules cost about 4.5% more
//! instructions in all, under a quarter of it in the hash lookups; the rest
//! is the per-label checks for quoted names and `__name__`.

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};

use crate::{Exposition, Family, MetricType, ParseError, Sample};

/// How many characters of an offending token an error message quotes.
const SNIPPET_CHARS: usize = 40;

/// The label Prometheus stores the metric name under.
const NAME_LABEL: &str = "__name__";

/// Parses a whole exposition text.
///
/// Lines may end in `\n` or `\r\n`; blank lines and comments other than
/// `# HELP` and `# TYPE` are ignored, and so are `# HELP` and `# TYPE` lines
/// with nothing after the keyword. Tokens may be surrounded by any number of
/// spaces and tabs, and a label set may end with a trailing comma. Metric
/// and label names may be quoted (`{"a.b","c.d"="v"} 1`,
/// `# HELP "a.b" text`); quoted names may hold any character.
///
/// A line that cannot be parsed is recorded in [`Exposition::errors`] and
/// parsing continues with the next line; so are a second `# TYPE` or
/// `# HELP` line for the same family, a `# TYPE` line after samples of its
/// family, a duplicated label name, a `__name__` label, an unknown type
/// keyword, and a negative `_bucket` or `_count` value in a family declared
/// `histogram`. In label values and quoted names, `\\`, `\"` and `\n` are
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

/// What the value of a series must satisfy, decided by its family's type.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Role {
    /// Anything goes.
    Free,
    /// A `_bucket` series of a family declared `histogram`: not negative.
    Bucket,
    /// The `_count` series of a family declared `histogram`: not negative.
    Count,
}

#[derive(Default)]
struct Parser<'a> {
    exposition: Exposition,
    declared: HashMap<String, Declared>,
    /// Series names of the samples accepted so far, for the `# TYPE` check.
    seen: HashSet<Cow<'a, str>>,
    /// The last accepted sample's series name and its role. Samples of one
    /// series come in runs, so this spares a lookup in `seen` and
    /// `declared` for most lines.
    last: Option<(Cow<'a, str>, Role)>,
}

impl<'a> Parser<'a> {
    fn line(&mut self, line: &'a str) -> Result<(), String> {
        let mut cursor = Cursor::new(line);
        cursor.skip_blanks();
        match cursor.peek() {
            None => Ok(()),
            Some(b'#') => {
                cursor.pos += 1;
                self.comment(cursor)
            }
            Some(_) => self.accept(sample(cursor)?),
        }
    }

    /// Checks a scanned sample against what was declared and keeps it.
    fn accept(&mut self, scanned: Scanned<'a>) -> Result<(), String> {
        let cached = match &self.last {
            Some((name, role)) if *name == scanned.name => Some(*role),
            _ => None,
        };
        let role = cached.unwrap_or_else(|| self.role(&scanned.name));
        // NaN is not negative: Prometheus stores it as it is, and so do we.
        if role != Role::Free && scanned.value < 0.0 {
            let (what, suffix) = match role {
                Role::Bucket => ("bucket count", "_bucket"),
                _ => ("observation count", "_count"),
            };
            let base = scanned.name.strip_suffix(suffix).unwrap_or(&scanned.name);
            return Err(format!(
                "negative {what} {} in histogram '{}'",
                scanned.value,
                snippet(base)
            ));
        }
        if cached.is_none() {
            self.seen.insert(scanned.name.clone());
            self.last = Some((scanned.name.clone(), role));
        }
        self.exposition.samples.push(Sample {
            name: scanned.name.into_owned(),
            labels: scanned.labels,
            value: scanned.value,
            timestamp_ms: scanned.timestamp_ms,
        });
        Ok(())
    }

    /// The role of series `name`: a bucket or count of a family declared
    /// `histogram`, or free.
    fn role(&self, name: &str) -> Role {
        let (base, role) = if let Some(base) = name.strip_suffix("_bucket") {
            (base, Role::Bucket)
        } else if let Some(base) = name.strip_suffix("_count") {
            (base, Role::Count)
        } else {
            return Role::Free;
        };
        let histogram = self.declared.get(base).is_some_and(|declared| {
            self.exposition.families[declared.index].metric_type == MetricType::Histogram
        });
        if histogram {
            role
        } else {
            Role::Free
        }
    }

    /// Whether a sample of family `name`, were it of type `metric_type`, has
    /// been accepted already. Which series belong to a family follows
    /// Prometheus: `_bucket`, `_sum` and `_count` for a histogram, `_sum`
    /// and `_count` for a summary, and a counter's name with or without
    /// `_total`.
    fn sampled(&self, name: &str, metric_type: MetricType) -> bool {
        let seen = |series: &str| self.seen.contains(series);
        let seen_with = |suffix: &str| seen(&format!("{name}{suffix}"));
        seen(name)
            || match metric_type {
                MetricType::Histogram => {
                    seen_with("_bucket") || seen_with("_sum") || seen_with("_count")
                }
                MetricType::Summary => seen_with("_sum") || seen_with("_count"),
                MetricType::Counter => match name.strip_suffix("_total") {
                    Some(base) => seen(base),
                    None => seen_with("_total"),
                },
                MetricType::Gauge | MetricType::Untyped => false,
            }
    }

    fn comment(&mut self, mut cursor: Cursor<'a>) -> Result<(), String> {
        cursor.skip_blanks();
        let keyword = cursor.token();
        if keyword != "HELP" && keyword != "TYPE" {
            return Ok(());
        }
        cursor.skip_blanks();
        if cursor.at_end() {
            // `# HELP` alone names no family: a comment, as in Prometheus.
            return Ok(());
        }
        let name: Cow<'a, str> = if cursor.eat(b'"') {
            let name = cursor
                .quoted()
                .ok_or_else(|| format!("unterminated quoted metric name after {keyword}"))?;
            if name.is_empty() {
                return Err(format!("empty metric name after {keyword}"));
            }
            if !cursor.at_end_or_blank() {
                return Err(format!(
                    "invalid character {:?} after quoted metric name",
                    cursor.next_char()
                ));
            }
            name
        } else {
            let name = cursor.metric_name();
            if name.is_empty() {
                return Err(format!(
                    "invalid metric name '{}' after {keyword}",
                    snippet(cursor.token())
                ));
            }
            if !cursor.at_end_or_blank() {
                return Err(format!(
                    "invalid character {:?} in metric name",
                    cursor.next_char()
                ));
            }
            Cow::Borrowed(name)
        };
        cursor.skip_blanks();
        if keyword == "HELP" {
            let help = unescape_help(cursor.rest());
            let family = self.family(&name, |declared| &mut declared.has_help, "HELP")?;
            family.help = Some(help);
        } else {
            let word = cursor.token();
            let metric_type = match word {
                "counter" => MetricType::Counter,
                "gauge" => MetricType::Gauge,
                "histogram" => MetricType::Histogram,
                "summary" => MetricType::Summary,
                "untyped" => MetricType::Untyped,
                "" => return Err(format!("missing type for '{}'", snippet(&name))),
                other => return Err(format!("unknown metric type '{}'", snippet(other))),
            };
            cursor.skip_blanks();
            if !cursor.at_end() {
                return Err(format!(
                    "unexpected text after type: '{}'",
                    snippet(cursor.rest())
                ));
            }
            // A repeated TYPE is reported as such even when it is also late.
            let repeated = self
                .declared
                .get(name.as_ref())
                .is_some_and(|declared| declared.has_type);
            if !repeated && self.sampled(&name, metric_type) {
                return Err(format!(
                    "TYPE line for '{}' after samples of its family",
                    snippet(&name)
                ));
            }
            let family = self.family(&name, |declared| &mut declared.has_type, "TYPE")?;
            family.metric_type = metric_type;
            // Roles depend on types. A type can only be declared before any
            // sample of its family, so no cached role can be stale; dropping
            // the cache keeps that true without relying on it.
            self.last = None;
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
            return Err(format!("duplicate {keyword} line for '{}'", snippet(name)));
        }
        *flag = true;
        Ok(&mut families[declared.index])
    }
}

/// A sample line as scanned, before the checks that depend on the lines
/// around it.
struct Scanned<'a> {
    name: Cow<'a, str>,
    labels: Vec<(String, String)>,
    value: f64,
    timestamp_ms: Option<i64>,
}

/// Where a sample's metric name came from, while its label set is read.
enum SeriesName<'a> {
    /// Unquoted, before the braces.
    Bare(&'a str),
    /// Quoted, inside the braces.
    Quoted(Cow<'a, str>),
    /// Not given yet: the line starts with `{`.
    Missing,
    /// Not given, but a `__name__` label was.
    NameLabel,
}

const RESERVED: &str = "label name '__name__' is reserved";
const NAMED_TWICE: &str = "metric name given twice";

fn sample(mut cursor: Cursor<'_>) -> Result<Scanned<'_>, String> {
    let mut name = if cursor.peek() == Some(b'{') {
        SeriesName::Missing
    } else {
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
        SeriesName::Bare(name)
    };
    let labels = if cursor.eat(b'{') {
        let labels = labels(&mut cursor, &mut name)?;
        cursor.skip_blanks();
        labels
    } else {
        Vec::new()
    };
    let name = match name {
        SeriesName::Bare(name) => Cow::Borrowed(name),
        SeriesName::Quoted(name) => name,
        SeriesName::Missing => {
            return Err("no metric name before or quoted inside the braces".to_owned())
        }
        SeriesName::NameLabel => return Err(RESERVED.to_owned()),
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

    Ok(Scanned {
        name,
        labels,
        value,
        timestamp_ms,
    })
}

/// Parses a label set after its opening `{`, through its closing `}`,
/// recording in `name` a quoted metric name found there.
fn labels<'a>(
    cursor: &mut Cursor<'a>,
    name: &mut SeriesName<'a>,
) -> Result<Vec<(String, String)>, String> {
    let mut labels: Vec<(String, String)> = Vec::new();
    loop {
        cursor.skip_blanks();
        if cursor.eat(b'}') {
            return Ok(labels);
        }
        let label: Cow<'a, str> = if cursor.eat(b'"') {
            let quoted = cursor
                .quoted()
                .ok_or_else(|| "unterminated quoted name".to_owned())?;
            cursor.skip_blanks();
            match cursor.peek() {
                // Not followed by `=`: the metric name, as in Prometheus.
                Some(b',' | b'}') => {
                    if quoted.is_empty() {
                        return Err("empty metric name".to_owned());
                    }
                    match name {
                        SeriesName::Missing => *name = SeriesName::Quoted(quoted),
                        SeriesName::Bare(_) | SeriesName::Quoted(_) | SeriesName::NameLabel => {
                            return Err(NAMED_TWICE.to_owned())
                        }
                    }
                    if cursor.eat(b',') {
                        continue;
                    }
                    cursor.pos += 1;
                    return Ok(labels);
                }
                None => return Err("unterminated label set".to_owned()),
                Some(_) => {}
            }
            if quoted.is_empty() {
                return Err("empty label name".to_owned());
            }
            quoted
        } else {
            let label = cursor.label_name();
            if label.is_empty() {
                return Err(if cursor.at_end() {
                    "unterminated label set".to_owned()
                } else {
                    format!("invalid label name at '{}'", snippet(cursor.rest()))
                });
            }
            Cow::Borrowed(label)
        };
        if label == NAME_LABEL {
            match name {
                SeriesName::Bare(_) => return Err(RESERVED.to_owned()),
                SeriesName::Quoted(_) | SeriesName::NameLabel => return Err(NAMED_TWICE.to_owned()),
                // Which error fits depends on whether a quoted name follows.
                SeriesName::Missing => *name = SeriesName::NameLabel,
            }
        }
        cursor.skip_blanks();
        if !cursor.eat(b'=') {
            return Err(format!(
                "expected '=' after label name '{}'",
                snippet(&label)
            ));
        }
        cursor.skip_blanks();
        if !cursor.eat(b'"') {
            return Err(format!(
                "expected '\"' to open the value of label '{}'",
                snippet(&label)
            ));
        }
        let value = cursor
            .quoted()
            .ok_or_else(|| "unterminated label value".to_owned())?
            .into_owned();
        if labels.iter().any(|(existing, _)| *existing == label) {
            return Err(format!("duplicate label name '{}'", snippet(&label)));
        }
        labels.push((label.into_owned(), value));
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
                    "expected ',' or '}}' after the value of label '{}'",
                    snippet(&labels[labels.len() - 1].0)
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
    /// the end is a character boundary either way. Forced inline: it is the
    /// inner loop of every token, and with more call sites the compiler
    /// stopped inlining it on its own.
    #[inline(always)]
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

    /// An unescaped quoted string (a label value or a quoted name) after
    /// its opening quote, through its closing quote; `None` if the line
    /// ends first. Borrowed from the line unless it holds an escape.
    ///
    ///
    /// It runs once per label value, so the common case (no escape) is
    /// forced inline at its three call sites and the unescaping is kept out
    /// of line. Left to itself the compiler made the whole function one
    /// call, which cost the parse about 2.5% more instructions (callgrind,
    /// on `parse_bench`'s input).
    #[inline(always)]
    fn quoted(&mut self) -> Option<Cow<'a, str>> {
        let bytes = self.line.as_bytes();
        let start = self.pos;
        let pos = start + find_quote_or_backslash(&bytes[start..])?;
        if bytes[pos] == b'"' {
            self.pos = pos + 1;
            return Some(Cow::Borrowed(&self.line[start..pos]));
        }
        self.unescape(start, pos).map(Cow::Owned)
    }

    /// The rest of [`Cursor::quoted`] for a string opened at `start` whose
    /// first backslash is at `pos`.
    #[inline(never)]
    fn unescape(&mut self, start: usize, mut pos: usize) -> Option<String> {
        let bytes = self.line.as_bytes();
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
    fn quoted_keeps_unknown_escapes_and_stops_at_the_real_quote() {
        let mut cursor = Cursor::new(r#"a\tb\"c\\\"d"} 1"#);
        assert_eq!(
            cursor.quoted().as_deref(),
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
    fn quoted_borrows_unless_it_must_unescape() {
        let mut cursor = Cursor::new(r#"name.with.dots", x="1"} 1"#);
        assert!(
            matches!(cursor.quoted(), Some(Cow::Borrowed("name.with.dots"))),
            "a quoted string without escapes is a slice of the line: no allocation per name"
        );
        assert!(
            matches!(Cursor::new(r#"a\"b" 1"#).quoted(), Some(Cow::Owned(name)) if name == "a\"b"),
            "an escape forces an owned, unescaped copy"
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
    fn quoted_without_closing_quote_is_none() {
        assert_eq!(Cursor::new(r#"abc"#).quoted(), None, "no closing quote");
        assert_eq!(
            Cursor::new(r#"abc\"#).quoted(),
            None,
            "a trailing backslash escapes nothing and the quote never comes"
        );
        assert_eq!(
            Cursor::new(r#"abc\""#).quoted(),
            None,
            "an escaped quote does not close the value"
        );
    }
}
