//! A workaround for WebKitGTK under the `C.UTF-8` locale, the default of
//! containers and minimal server installs (so of many war-room boxes).
//!
//! WebKitGTK derives `navigator.language` from the `LC_CTYPE` locale name,
//! cutting it at the dot: `C.UTF-8` becomes `"C"`, which is not a BCP 47 tag.
//! `new Intl.NumberFormat(navigator.language)` then throws `RangeError:
//! invalid language tag: C`, and the chart library does exactly that when its
//! module loads, so no chart is drawn at all. For plain `C` (and `POSIX`)
//! WebKit falls back to `en-US`, so the shell turns a `C.*` character locale
//! into `C` before GTK starts. Any real locale (`en_US.UTF-8`, `de_DE.UTF-8`)
//! is left alone.

/// The variable to set to `C`, when the effective `LC_CTYPE` locale is `C.<codeset>`.
/// `get` reads the environment; `LC_ALL` wins over `LC_CTYPE`, which wins over `LANG`.
pub fn c_codeset_override(get: impl Fn(&str) -> Option<String>) -> Option<&'static str> {
    let (var, value) = [("LC_ALL", "LC_ALL"), ("LC_CTYPE", "LC_CTYPE"), ("LANG", "LC_CTYPE")]
        .into_iter()
        .find_map(|(read, set)| get(read).filter(|v| !v.is_empty()).map(|v| (set, v)))?;
    let lower = value.to_ascii_lowercase();
    lower.starts_with("c.").then_some(var)
}

/// Applies [`c_codeset_override`] to this process (and so to the WebKit
/// processes it starts). Call first thing in `main`, before any thread exists.
pub fn avoid_c_codeset_language() {
    if cfg!(target_os = "linux") {
        if let Some(var) = c_codeset_override(|k| std::env::var(k).ok()) {
            std::env::set_var(var, "C");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env<'a>(pairs: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |k| pairs.iter().find(|(n, _)| *n == k).map(|(_, v)| v.to_string())
    }

    #[test]
    fn c_utf8_from_lang_is_overridden_through_lc_ctype() {
        assert_eq!(c_codeset_override(env(&[("LANG", "C.UTF-8")])), Some("LC_CTYPE"));
        assert_eq!(c_codeset_override(env(&[("LANG", "C.utf8")])), Some("LC_CTYPE"));
    }

    #[test]
    fn lc_all_wins_and_is_the_one_overridden() {
        assert_eq!(c_codeset_override(env(&[("LC_ALL", "C.UTF-8"), ("LANG", "en_US.UTF-8")])), Some("LC_ALL"));
        assert_eq!(c_codeset_override(env(&[("LC_ALL", "en_US.UTF-8"), ("LANG", "C.UTF-8")])), None);
    }

    #[test]
    fn real_locales_and_plain_c_are_left_alone() {
        for v in ["en_US.UTF-8", "de_DE.UTF-8", "C", "POSIX", "ca_ES.UTF-8"] {
            assert_eq!(c_codeset_override(env(&[("LANG", v)])), None, "{v} gives WebKit a valid language");
        }
        assert_eq!(c_codeset_override(env(&[])), None);
        assert_eq!(
            c_codeset_override(env(&[("LC_ALL", ""), ("LANG", "en_US.UTF-8")])),
            None,
            "an empty variable is unset"
        );
    }
}
