//! Classic histograms reassembled from their `_bucket`, `_sum` and `_count`
//! series, and quantiles computed from them.

use std::cmp::Ordering;
use std::collections::{HashMap, HashSet};

use crate::{Exposition, MetricType};

/// One cumulative bucket of a [`Histogram`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Bucket {
    /// Inclusive upper bound, from the `le` label; `+Inf` is
    /// [`f64::INFINITY`].
    pub le: f64,
    /// Number of observations less than or equal to `le`.
    pub count: f64,
}

/// One histogram series: the buckets, sum and count sharing a label set.
#[derive(Debug, Clone, PartialEq)]
pub struct Histogram {
    /// Family name without suffix, e.g. `vllm:e2e_request_latency_seconds`.
    pub name: String,
    /// Labels shared by the series (without `le`), in the exposition order
    /// of the first series seen.
    pub labels: Vec<(String, String)>,
    /// Buckets sorted by `le`, ascending.
    pub buckets: Vec<Bucket>,
    /// Value of `<name>_sum`, if exposed.
    pub sum: Option<f64>,
    /// Value of `<name>_count`, if exposed.
    pub count: Option<f64>,
}

impl Histogram {
    /// The `q`-quantile (`0 <= q <= 1`), estimated the way PromQL's
    /// `histogram_quantile` does for classic histograms: the bucket holding
    /// rank `q * total` is found and the value is interpolated linearly
    /// within it, taking 0 as the lower bound of the first bucket.
    ///
    /// Edge cases, all as in Prometheus (which returns NaN where this
    /// returns `None`):
    ///
    /// * `q` is NaN: `None`.
    /// * `q < 0`: `Some(-Inf)`; `q > 1`: `Some(+Inf)`.
    /// * No `+Inf` bucket, fewer than two distinct bounds, or zero
    ///   observations: `None`.
    /// * The rank falls in the `+Inf` bucket: the highest finite bound.
    /// * The rank falls in the first bucket and its bound is `<= 0`: that
    ///   bound (there is no lower bound to interpolate from).
    /// * Buckets with the same bound are merged by adding their counts;
    ///   counts that differ by a relative 1e-12 are treated as equal, and
    ///   counts that decrease with a higher bound are raised to the running
    ///   maximum, so that the search for the rank stays well defined.
    /// * Any other NaN result (NaN counts, or `q = 0` with an empty first
    ///   bucket): `None`.
    pub fn quantile(&self, q: f64) -> Option<f64> {
        if q.is_nan() {
            return None;
        }
        if q < 0.0 {
            return Some(f64::NEG_INFINITY);
        }
        if q > 1.0 {
            return Some(f64::INFINITY);
        }
        let mut buckets = self.buckets.clone();
        buckets.sort_by(|a, b| a.le.total_cmp(&b.le));
        if buckets.last()?.le != f64::INFINITY {
            return None;
        }
        buckets.dedup_by(|later, kept| {
            let same = later.le == kept.le;
            if same {
                kept.count += later.count;
            }
            same
        });
        correct_precision_errors(&mut buckets, 1e-12);
        ensure_monotonic(&mut buckets);
        if buckets.len() < 2 {
            return None;
        }

        let last = buckets.len() - 1;
        let observations = buckets[last].count;
        if observations == 0.0 {
            return None;
        }
        let mut rank = q * observations;
        // First bucket (excluding +Inf) whose count reaches the rank; a NaN
        // count never reaches it, as in Prometheus.
        let b = buckets[..last].partition_point(|bucket| {
            matches!(bucket.count.partial_cmp(&rank), Some(Ordering::Less) | None)
        });
        if b == last {
            return Some(buckets[last - 1].le);
        }
        if b == 0 && buckets[0].le <= 0.0 {
            return Some(buckets[0].le);
        }
        let end = buckets[b].le;
        let mut count = buckets[b].count;
        let mut start = 0.0;
        if b > 0 {
            start = buckets[b - 1].le;
            count -= buckets[b - 1].count;
            rank -= buckets[b - 1].count;
        }
        let value = start + (end - start) * (rank / count);
        (!value.is_nan()).then_some(value)
    }
}

/// Treats counts within a relative `tolerance` of the previous one as equal
/// to it, so float noise does not look like a decrease.
fn correct_precision_errors(buckets: &mut [Bucket], tolerance: f64) {
    let Some(first) = buckets.first() else {
        return;
    };
    let mut previous = first.count;
    for bucket in &mut buckets[1..] {
        let delta = (bucket.count - previous).abs();
        if delta == 0.0 {
            continue;
        }
        if delta / bucket.count <= tolerance {
            bucket.count = previous;
        } else {
            previous = bucket.count;
        }
    }
}

/// Raises every count to the maximum of the counts before it.
fn ensure_monotonic(buckets: &mut [Bucket]) {
    let mut max = f64::NEG_INFINITY;
    for bucket in buckets {
        if bucket.count > max {
            max = bucket.count;
        } else if bucket.count < max {
            bucket.count = max;
        }
    }
}

/// A histogram's base name and its label set (without `le`), sorted.
type SeriesKey<'a> = (&'a str, Vec<(&'a str, &'a str)>);

#[derive(Clone, Copy, PartialEq, Eq)]
enum Part {
    Bucket,
    Sum,
    Count,
}

/// Groups the histogram samples of `exposition` into [`Histogram`]s, in the
/// order their first series appeared.
///
/// A family is a histogram when it is declared `# TYPE <name> histogram`, or
/// when it is untyped (no `# TYPE`, or `untyped`) but shows the histogram
/// shape: `<name>_bucket` samples with an `le` label plus `<name>_sum` and
/// `<name>_count` samples (and `<name>_bucket` itself is not declared with
/// another type).
///
/// Series are matched on their label set regardless of label order;
/// `le` is ignored on `_bucket` samples. A `_bucket` sample whose `le` is
/// missing, not a number, or NaN is left out. If a `_sum` or `_count`
/// series repeats, the last value wins.
pub fn histograms(exposition: &Exposition) -> Vec<Histogram> {
    let bases = histogram_bases(exposition);
    if bases.is_empty() {
        return Vec::new();
    }

    let mut index: HashMap<SeriesKey<'_>, usize> = HashMap::new();
    let mut out: Vec<Histogram> = Vec::new();
    for sample in &exposition.samples {
        let Some((base, part)) = split_series(&sample.name, &bases) else {
            continue;
        };
        let le = match part {
            Part::Bucket => match sample.label("le").and_then(parse_le) {
                Some(le) => le,
                None => continue,
            },
            Part::Sum | Part::Count => f64::NAN,
        };
        let shared = |(name, _): &&(String, String)| part != Part::Bucket || name != "le";

        let mut key: Vec<(&str, &str)> = sample
            .labels
            .iter()
            .filter(shared)
            .map(|(name, value)| (name.as_str(), value.as_str()))
            .collect();
        key.sort_unstable();
        let slot = *index.entry((base, key)).or_insert_with(|| {
            out.push(Histogram {
                name: base.to_owned(),
                labels: sample.labels.iter().filter(shared).cloned().collect(),
                buckets: Vec::new(),
                sum: None,
                count: None,
            });
            out.len() - 1
        });

        let histogram = &mut out[slot];
        match part {
            Part::Bucket => histogram.buckets.push(Bucket {
                le,
                count: sample.value,
            }),
            Part::Sum => histogram.sum = Some(sample.value),
            Part::Count => histogram.count = Some(sample.value),
        }
    }
    for histogram in &mut out {
        histogram.buckets.sort_by(|a, b| a.le.total_cmp(&b.le));
    }
    out
}

/// Names of the families that [`histograms`] treats as histograms.
fn histogram_bases(exposition: &Exposition) -> HashSet<&str> {
    let declared: HashMap<&str, MetricType> = exposition
        .families
        .iter()
        .map(|family| (family.name.as_str(), family.metric_type))
        .collect();
    let untyped = |name: &str| {
        declared
            .get(name)
            .is_none_or(|&kind| kind == MetricType::Untyped)
    };

    let mut bases: HashSet<&str> = declared
        .iter()
        .filter(|&(_, &kind)| kind == MetricType::Histogram)
        .map(|(&name, _)| name)
        .collect();

    let names: HashSet<&str> = exposition
        .samples
        .iter()
        .map(|sample| sample.name.as_str())
        .collect();
    let candidates: HashSet<&str> = exposition
        .samples
        .iter()
        .filter(|sample| sample.label("le").is_some())
        .filter_map(|sample| sample.name.strip_suffix("_bucket"))
        .collect();
    let shaped = candidates.into_iter().filter(|base| {
        untyped(base)
            && untyped(&format!("{base}_bucket"))
            && names.contains(format!("{base}_sum").as_str())
            && names.contains(format!("{base}_count").as_str())
    });
    bases.extend(shaped);
    bases
}

/// Splits a series name into a histogram base from `bases` and its suffix.
fn split_series<'a>(name: &'a str, bases: &HashSet<&str>) -> Option<(&'a str, Part)> {
    [
        ("_bucket", Part::Bucket),
        ("_sum", Part::Sum),
        ("_count", Part::Count),
    ]
    .into_iter()
    .find_map(|(suffix, part)| {
        name.strip_suffix(suffix)
            .filter(|base| bases.contains(base))
            .map(|base| (base, part))
    })
}

/// Parses an `le` bound; NaN is no bound.
fn parse_le(le: &str) -> Option<f64> {
    le.trim()
        .parse::<f64>()
        .ok()
        .filter(|bound| !bound.is_nan())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn histogram(buckets: &[(f64, f64)]) -> Histogram {
        Histogram {
            name: "h".to_owned(),
            labels: Vec::new(),
            buckets: buckets
                .iter()
                .map(|&(le, count)| Bucket { le, count })
                .collect(),
            sum: None,
            count: None,
        }
    }

    #[test]
    fn interpolates_linearly_inside_the_bucket() {
        let h = histogram(&[(1.0, 10.0), (2.0, 30.0), (f64::INFINITY, 40.0)]);
        assert_eq!(
            h.quantile(0.5),
            Some(1.5),
            "rank 20 is halfway through (1, 2]"
        );
        assert_eq!(h.quantile(0.125), Some(0.5), "the first bucket starts at 0");
        assert_eq!(
            h.quantile(0.0),
            Some(0.0),
            "rank 0 sits at the lower bound 0"
        );
        assert_eq!(
            h.quantile(1.0),
            Some(2.0),
            "the +Inf bucket yields the highest finite bound"
        );
    }

    #[test]
    fn out_of_range_and_degenerate_inputs() {
        let h = histogram(&[(1.0, 10.0), (f64::INFINITY, 10.0)]);
        assert_eq!(h.quantile(f64::NAN), None, "NaN q has no quantile");
        assert_eq!(
            h.quantile(-0.1),
            Some(f64::NEG_INFINITY),
            "q < 0 is -Inf in PromQL"
        );
        assert_eq!(
            h.quantile(1.1),
            Some(f64::INFINITY),
            "q > 1 is +Inf in PromQL"
        );
        assert_eq!(
            histogram(&[(1.0, 10.0), (2.0, 10.0)]).quantile(0.5),
            None,
            "without a +Inf bucket the distribution is unbounded"
        );
        assert_eq!(
            histogram(&[(f64::INFINITY, 10.0)]).quantile(0.5),
            None,
            "a lone +Inf bucket has nothing to interpolate"
        );
        assert_eq!(
            histogram(&[(1.0, 0.0), (f64::INFINITY, 0.0)]).quantile(0.5),
            None,
            "zero observations have no quantile"
        );
        assert_eq!(
            histogram(&[(1.0, 0.0), (f64::INFINITY, 4.0)]).quantile(0.0),
            None,
            "q = 0 with an empty first bucket is 0/0, NaN in PromQL"
        );
        assert_eq!(histogram(&[]).quantile(0.5), None, "no buckets at all");
    }

    #[test]
    fn non_positive_first_bound_is_returned_as_is() {
        let h = histogram(&[(-1.0, 5.0), (0.0, 6.0), (f64::INFINITY, 10.0)]);
        assert_eq!(
            h.quantile(0.1),
            Some(-1.0),
            "no lower bound to interpolate from"
        );
    }

    #[test]
    fn repairs_buckets_like_prometheus() {
        let unsorted_duplicated =
            histogram(&[(f64::INFINITY, 20.0), (2.0, 10.0), (1.0, 5.0), (1.0, 5.0)]);
        assert_eq!(
            unsorted_duplicated.quantile(0.5),
            Some(1.0),
            "duplicate bounds are summed: le=1 then holds 10, which reaches rank 10"
        );
        let decreasing = histogram(&[(1.0, 10.0), (2.0, 5.0), (3.0, 12.0), (f64::INFINITY, 20.0)]);
        assert_eq!(
            decreasing.quantile(0.55),
            Some(2.5),
            "le=2 is raised from 5 to 10, so rank 11 is halfway through (2, 3]"
        );
    }
}
