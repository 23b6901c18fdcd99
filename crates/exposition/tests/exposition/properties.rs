//! Property tests: rendering random families (classic or quoted UTF-8
//! names) and parsing them back is the identity, and no input makes the
//! parser panic.

use std::fmt::Write;

use fleetdeck_exposition::{histograms, parse, Bucket, Histogram, MetricType};
use proptest::prelude::*;

use crate::same_f64;

#[derive(Debug, Clone)]
struct Series {
    labels: Vec<(String, String)>,
    value: f64,
    timestamp_ms: Option<i64>,
}

#[derive(Debug, Clone)]
struct GeneratedFamily {
    name: String,
    metric_type: MetricType,
    help: Option<String>,
    series: Vec<Series>,
}

/// How the text is laid out; none of it may change what is parsed.
#[derive(Debug, Clone, Copy)]
struct Layout {
    crlf: bool,
    padded: bool,
    /// Quote every name, even those that need no quotes.
    quote_all: bool,
}

/// A classic name (rendered bare) or, now and then, any Unicode name
/// (rendered quoted, as Prometheus 3 does).
fn metric_name() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => "[a-zA-Z_:][a-zA-Z0-9_:]{0,24}",
        1 => any_name(),
    ]
}

/// Like [`metric_name`], without `__name__`, which is reserved.
fn label_name() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => "[a-zA-Z_][a-zA-Z0-9_]{0,12}",
        1 => any_name(),
    ]
    .prop_filter("__name__ is the metric name, not a label", |name| {
        name != "__name__"
    })
}

/// A non-empty name of any characters, weighted like [`text`].
fn any_name() -> impl Strategy<Value = String> {
    prop::collection::vec(prop_oneof![tricky_char(), any::<char>()], 1..16)
        .prop_map(|chars| chars.into_iter().collect())
}

/// Whether `name` can be written without quotes, as a metric name
/// (`colon`) or a label name.
fn is_bare(name: &str, colon: bool) -> bool {
    let ok = |c: char, first: bool| {
        c.is_ascii_alphabetic() || c == '_' || (colon && c == ':') || (!first && c.is_ascii_digit())
    };
    let mut chars = name.chars();
    chars.next().is_some_and(|c| ok(c, true)) && chars.all(|c| ok(c, false))
}

/// `name` as written in the text: bare when it can be (and `quote_all` is
/// off), quoted and escaped like a label value otherwise.
fn render_name(name: &str, colon: bool, quote_all: bool) -> String {
    if is_bare(name, colon) && !quote_all {
        name.to_owned()
    } else {
        format!("\"{}\"", escape_label_value(name))
    }
}

/// Any Unicode, weighted towards the characters that need escaping or that
/// naive parsers split on.
fn text() -> impl Strategy<Value = String> {
    prop::collection::vec(prop_oneof![tricky_char(), any::<char>()], 0..24)
        .prop_map(|chars| chars.into_iter().collect())
}

fn tricky_char() -> impl Strategy<Value = char> {
    prop_oneof![
        Just('\\'),
        Just('"'),
        Just('\n'),
        Just(','),
        Just('='),
        Just('}'),
        Just('{'),
        Just(' '),
        Just('\t'),
        Just('\r'),
        Just('#'),
        Just('.'),
    ]
}

fn value() -> impl Strategy<Value = f64> {
    prop_oneof![
        any::<f64>(),
        Just(f64::NAN),
        Just(f64::INFINITY),
        Just(f64::NEG_INFINITY),
        -1e6..1e6f64,
    ]
}

fn metric_type() -> impl Strategy<Value = MetricType> {
    prop_oneof![
        Just(MetricType::Counter),
        Just(MetricType::Gauge),
        Just(MetricType::Histogram),
        Just(MetricType::Summary),
        Just(MetricType::Untyped),
    ]
}

fn series() -> impl Strategy<Value = Series> {
    (
        prop::collection::vec((label_name(), text()), 0..5),
        value(),
        prop::option::of(any::<i64>()),
    )
        .prop_map(|(mut labels, value, timestamp_ms)| {
            let mut seen = std::collections::HashSet::new();
            labels.retain(|(name, _)| seen.insert(name.clone()));
            Series {
                labels,
                value,
                timestamp_ms,
            }
        })
}

fn family() -> impl Strategy<Value = GeneratedFamily> {
    (
        metric_name(),
        metric_type(),
        // Leading blanks separate tokens and a trailing `\r` is a line
        // ending; neither can be told apart from layout in a HELP line.
        prop::option::of(
            text().prop_filter("HELP text with layout-like edges", |help| {
                !help.starts_with([' ', '\t']) && !help.ends_with('\r')
            }),
        ),
        prop::collection::vec(series(), 0..6),
    )
        .prop_map(|(name, metric_type, help, series)| GeneratedFamily {
            name,
            metric_type,
            help,
            series,
        })
}

/// Families with distinct names. Names are also kept apart once a
/// `_bucket`, `_sum`, `_count` or `_total` suffix is cut: `a` and `a_sum`
/// could be one family, and then `a_sum`'s samples before `# TYPE a
/// summary` would rightly be an error, or a negative `a_count` under
/// `# TYPE a histogram` would.
fn families() -> impl Strategy<Value = Vec<GeneratedFamily>> {
    prop::collection::vec(family(), 0..8).prop_map(|mut families| {
        let mut seen = std::collections::HashSet::new();
        families.retain(|family| {
            let base = ["_bucket", "_sum", "_count", "_total"]
                .iter()
                .find_map(|suffix| family.name.strip_suffix(suffix))
                .unwrap_or(&family.name);
            seen.insert(base.to_owned())
        });
        families
    })
}

fn escape_label_value(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

fn escape_help(help: &str) -> String {
    help.replace('\\', "\\\\").replace('\n', "\\n")
}

fn render_value(value: f64) -> String {
    if value.is_nan() {
        "NaN".to_owned()
    } else if value == f64::INFINITY {
        "+Inf".to_owned()
    } else if value == f64::NEG_INFINITY {
        "-Inf".to_owned()
    } else {
        format!("{value:?}")
    }
}

fn render(families: &[GeneratedFamily], layout: Layout) -> String {
    let eol = if layout.crlf { "\r\n" } else { "\n" };
    let pad = if layout.padded { " \t " } else { "" };
    let mut out = String::new();
    for family in families {
        let name = render_name(&family.name, true, layout.quote_all);
        let quoted = name.starts_with('"');
        if let Some(help) = &family.help {
            write!(out, "{pad}# HELP {pad}{name} {}{eol}", escape_help(help)).unwrap();
        }
        write!(
            out,
            "#{pad} TYPE {name} {pad}{}{pad}{eol}",
            family.metric_type
        )
        .unwrap();
        for series in &family.series {
            // A quoted metric name goes inside the braces, first here.
            if quoted {
                write!(out, "{pad}{{{pad}{name}{pad},").unwrap();
            } else {
                write!(out, "{pad}{name}").unwrap();
            }
            if !series.labels.is_empty() || layout.padded || quoted {
                if !quoted {
                    out.push_str(pad);
                    out.push('{');
                }
                for (label, value) in &series.labels {
                    write!(
                        out,
                        "{pad}{}{pad}={pad}\"{}\"{pad},",
                        render_name(label, false, layout.quote_all),
                        escape_label_value(value)
                    )
                    .unwrap();
                }
                if !layout.padded {
                    out.pop();
                }
                out.push('}');
            }
            write!(out, " {pad}{}", render_value(series.value)).unwrap();
            if let Some(timestamp) = series.timestamp_ms {
                write!(out, " {pad}{timestamp}").unwrap();
            }
            write!(out, "{pad}{eol}{eol}").unwrap();
        }
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn rendered_families_parse_back_exactly(
        families in families(),
        crlf in any::<bool>(),
        padded in any::<bool>(),
        quote_all in any::<bool>(),
    ) {
        let text = render(&families, Layout { crlf, padded, quote_all });
        let exposition = parse(&text);
        prop_assert!(
            exposition.errors.is_empty(),
            "correctly escaped text must parse without errors: {:?}\n{text}",
            exposition.errors
        );

        let expected_families: Vec<(&str, MetricType, Option<&str>)> = families
            .iter()
            .map(|f| (f.name.as_str(), f.metric_type, f.help.as_deref()))
            .collect();
        let parsed_families: Vec<(&str, MetricType, Option<&str>)> = exposition
            .families
            .iter()
            .map(|f| (f.name.as_str(), f.metric_type, f.help.as_deref()))
            .collect();
        prop_assert_eq!(parsed_families, expected_families, "families round-trip");

        let expected: Vec<(&str, &Series)> = families
            .iter()
            .flat_map(|f| f.series.iter().map(move |s| (f.name.as_str(), s)))
            .collect();
        prop_assert_eq!(exposition.samples.len(), expected.len(), "one sample per rendered series");
        for (sample, (name, series)) in exposition.samples.iter().zip(expected) {
            prop_assert_eq!(&sample.name, name, "names round-trip, `:` and quoted ones included");
            prop_assert_eq!(&sample.labels, &series.labels, "labels round-trip in order, unescaped");
            prop_assert!(
                same_f64(sample.value, series.value),
                "values round-trip bit for bit (NaN as NaN): {} vs {}",
                sample.value,
                series.value
            );
            prop_assert_eq!(sample.timestamp_ms, series.timestamp_ms, "timestamps round-trip");
        }
    }

    #[test]
    fn arbitrary_text_never_panics(text in text(), raw in any::<String>()) {
        let mixed = format!("m{{a=\"{text}\"}} 1\n{raw}");
        for input in [text.as_str(), raw.as_str(), mixed.as_str()] {
            let exposition = parse(input);
            let _ = histograms(&exposition);
            for error in &exposition.errors {
                prop_assert!(error.line >= 1, "line numbers are 1-based");
            }
        }
    }

    #[test]
    fn declared_histograms_never_keep_a_negative_bucket_or_count(
        buckets in prop::collection::vec(value(), 1..12),
        sum in value(),
        count in value(),
    ) {
        let mut text = "# TYPE h histogram\n".to_owned();
        for (index, bucket) in buckets.iter().enumerate() {
            writeln!(text, "h_bucket{{le=\"{index}\"}} {}", render_value(*bucket)).unwrap();
        }
        writeln!(text, "h_sum {}", render_value(sum)).unwrap();
        writeln!(text, "h_count {}", render_value(count)).unwrap();
        let exposition = parse(&text);

        // Line 1 is the TYPE; then the buckets, the sum and the count.
        let negative: Vec<usize> = buckets
            .iter()
            .chain([&sum, &count])
            .enumerate()
            .filter(|&(index, &value)| value < 0.0 && index != buckets.len())
            .map(|(index, _)| index + 2)
            .collect();
        let reported: Vec<usize> = exposition.errors.iter().map(|error| error.line).collect();
        prop_assert_eq!(
            reported,
            negative,
            "exactly the negative buckets and count are reported, on their lines; the sum may be negative"
        );
        prop_assert_eq!(
            exposition.samples.len(),
            buckets.len() + 2 - exposition.errors.len(),
            "every other sample is kept"
        );
        for histogram in histograms(&exposition) {
            prop_assert!(
                histogram
                    .buckets
                    .iter()
                    .all(|bucket| bucket.count.is_nan() || bucket.count >= 0.0)
                    && !histogram.count.is_some_and(|count| count < 0.0),
                "no negative count reaches a histogram: {:?}",
                histogram
            );
        }
    }

    #[test]
    fn quantiles_are_monotonic_and_within_the_bounds(
        mut bounds in prop::collection::btree_set(0u32..10_000, 1..12),
        increments in prop::collection::vec(0u32..100, 12),
        q1 in 0.0..=1.0f64,
        q2 in 0.0..=1.0f64,
    ) {
        let total_finite = bounds.len();
        let mut count = 0.0;
        let mut buckets: Vec<Bucket> = bounds
            .iter()
            .zip(&increments)
            .map(|(&le, &inc)| {
                count += f64::from(inc);
                Bucket { le: f64::from(le) / 100.0, count }
            })
            .collect();
        buckets.push(Bucket { le: f64::INFINITY, count: count + f64::from(increments[total_finite]) });
        let highest = f64::from(bounds.pop_last().expect("at least one bound")) / 100.0;
        let histogram = Histogram {
            name: "h".to_owned(),
            labels: Vec::new(),
            buckets,
            sum: None,
            count: None,
        };
        let (low, high) = if q1 <= q2 { (q1, q2) } else { (q2, q1) };
        if let (Some(a), Some(b)) = (histogram.quantile(low), histogram.quantile(high)) {
            prop_assert!(a <= b, "a higher q never gives a lower quantile: q{low}={a}, q{high}={b}");
            prop_assert!(
                (0.0..=highest).contains(&a) && (0.0..=highest).contains(&b),
                "quantiles stay between 0 and the highest finite bound {highest}: {a}, {b}"
            );
        }
    }
}
