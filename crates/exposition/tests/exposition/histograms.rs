//! Grouping of `_bucket`/`_sum`/`_count` series into histograms.

use fleetdeck_exposition::{histograms, parse, Bucket, Histogram};

use crate::labels;

fn bounds(histogram: &Histogram) -> Vec<(f64, f64)> {
    histogram
        .buckets
        .iter()
        .map(|&Bucket { le, count }| (le, count))
        .collect()
}

#[test]
fn series_are_grouped_by_labels_and_buckets_sorted() {
    let text = r#"# TYPE lat histogram
lat_bucket{path="/a",le="+Inf"} 4
lat_bucket{path="/b",le="1"} 1
lat_bucket{path="/a",le="0.5"} 1
lat_bucket{path="/a",le="1"} 3
lat_bucket{path="/b",le="+Inf"} 2
lat_sum{path="/a"} 2.5
lat_count{path="/a"} 4
lat_count{path="/b"} 2
lat_sum{path="/b"} 0.75
other 1
"#;
    let all = histograms(&parse(text));
    assert_eq!(all.len(), 2, "one histogram per label set");
    assert_eq!(
        (all[0].name.as_str(), &all[0].labels),
        ("lat", &labels(&[("path", "/a")])),
        "first series seen comes first, without `le`"
    );
    assert_eq!(
        bounds(&all[0]),
        [(0.5, 1.0), (1.0, 3.0), (f64::INFINITY, 4.0)],
        "buckets sorted by bound, whatever the exposition order"
    );
    assert_eq!(
        (all[0].sum, all[0].count),
        (Some(2.5), Some(4.0)),
        "sum and count of /a"
    );
    assert_eq!(
        (all[1].sum, all[1].count, all[1].buckets.len()),
        (Some(0.75), Some(2.0), 2),
        "sum, count and buckets of /b"
    );
}

#[test]
fn label_order_does_not_split_a_series() {
    let text = r#"# TYPE h histogram
h_bucket{a="1",b="2",le="+Inf"} 1
h_bucket{le="1",b="2",a="1"} 1
h_sum{b="2",a="1"} 0.5
h_count{a="1",b="2"} 1
"#;
    let all = histograms(&parse(text));
    assert_eq!(
        all.len(),
        1,
        "the same label set in another order is the same series"
    );
    assert_eq!(
        all[0].labels,
        labels(&[("a", "1"), ("b", "2")]),
        "first-seen order"
    );
    assert_eq!(all[0].buckets.len(), 2, "both buckets");
    assert_eq!(all[0].sum, Some(0.5), "sum matched regardless of order");
}

#[test]
fn untyped_histogram_shape_is_recognised() {
    let shaped = "u_bucket{le=\"1\"} 1\nu_bucket{le=\"+Inf\"} 2\nu_sum 3\nu_count 2\n";
    let all = histograms(&parse(shaped));
    assert_eq!(
        all.len(),
        1,
        "bucket + sum + count without # TYPE is a histogram"
    );
    assert_eq!(
        all[0].quantile(0.5),
        Some(1.0),
        "rank 1 is the top of the first bucket"
    );

    let no_sum = "u_bucket{le=\"1\"} 1\nu_bucket{le=\"+Inf\"} 2\nu_count 2\n";
    assert!(
        histograms(&parse(no_sum)).is_empty(),
        "an untyped family needs the full _bucket/_sum/_count shape"
    );

    let counter = "# TYPE c_bucket counter\nc_bucket{le=\"1\"} 1\nc_sum 1\nc_count 1\n";
    assert!(
        histograms(&parse(counter)).is_empty(),
        "a declared counter named *_bucket is not a histogram"
    );

    let gauge = "# TYPE g gauge\ng_bucket{le=\"1\"} 1\ng_sum 1\ng_count 1\n";
    assert!(
        histograms(&parse(gauge)).is_empty(),
        "a declared gauge is not a histogram"
    );
}

#[test]
fn summaries_and_bad_bounds_are_not_buckets() {
    let text = r#"# TYPE s summary
s{quantile="0.5"} 1
s_sum 3
s_count 2
# TYPE h histogram
h_bucket{le="nope"} 1
h_bucket{le="NaN"} 1
h_bucket{x="1"} 1
h_bucket{le=" 2 "} 1
h_bucket{le="+Inf"} 2
"#;
    let all = histograms(&parse(text));
    assert_eq!(all.len(), 1, "the summary is not a histogram");
    assert_eq!(
        bounds(&all[0]),
        [(2.0, 1.0), (f64::INFINITY, 2.0)],
        "buckets without a numeric, non-NaN `le` are left out"
    );
    assert_eq!(
        (all[0].sum, all[0].count),
        (None, None),
        "no _sum/_count exposed"
    );
}
