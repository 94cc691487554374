//! Subject rules on raw bytes (spec §4).
//!
//! A subject is a sequence of tokens separated by `.`. In a subscription, a token that is
//! exactly `*` matches any single token and a token that is exactly `>` (allowed only as the
//! last token) matches one or more tokens. `*` or `>` inside a longer token are ordinary
//! characters. Tokens of a publish subject are always literal, so a publish subject `foo.*`
//! is reached by subscriptions `foo.*` and `foo.>` but not by `foo.bar`.

/// Token separator.
const SEP: u8 = b'.';
/// Single-token wildcard.
const PWC: &[u8] = b"*";
/// Multi-token (tail) wildcard.
const FWC: &[u8] = b">";

/// Splits a subject into its tokens (an empty subject yields one empty token).
fn tokens(s: &[u8]) -> impl Iterator<Item = &[u8]> {
    s.split(|&b| b == SEP)
}

/// Whether a byte is whitespace that may not appear in a subject.
fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r' | 0x0c)
}

/// Whether a token is non-empty and free of whitespace.
fn is_valid_token(t: &[u8]) -> bool {
    !t.is_empty() && !t.iter().copied().any(is_space)
}

/// Whether a token is a whole-token wildcard (`*` or `>`).
fn is_wildcard(t: &[u8]) -> bool {
    t == PWC || t == FWC
}

/// Whether `s` is a valid SUB subject: non-empty, no empty or whitespace-containing token,
/// and a whole-token `>` only as the last token.
pub fn is_valid_subject(s: &[u8]) -> bool {
    let mut seen_fwc = false;
    for t in tokens(s) {
        if seen_fwc || !is_valid_token(t) {
            return false;
        }
        seen_fwc = t == FWC;
    }
    true
}

/// Whether `s` is a valid literal (pedantic PUB) subject: valid and without any token equal to
/// `*` or `>`.
pub fn is_valid_literal_subject(s: &[u8]) -> bool {
    tokens(s).all(|t| is_valid_token(t) && !is_wildcard(t))
}

/// Whether `s` contains no whole-token wildcard, so that as a pattern it matches only itself.
/// Says nothing about validity: `foo..bar` is literal.
pub fn is_literal(s: &[u8]) -> bool {
    !tokens(s).any(is_wildcard)
}

/// Whether a publish subject has an empty token (or is empty); such subjects match nothing.
pub fn has_empty_token(s: &[u8]) -> bool {
    s.first().is_none_or(|&b| b == SEP)
        || s.last() == Some(&SEP)
        || s.windows(2).any(|w| w == [SEP, SEP])
}

/// Whether subscription `pattern` matches publish subject `subject`.
///
/// `*` matches exactly one token and `>` one or more tokens; every token of `subject` is
/// literal. A subject with an empty token matches nothing. `pattern` is expected to be valid
/// (see [`is_valid_subject`]); for an invalid pattern a `>` token is still taken as matching
/// the rest of the subject.
pub fn matches(pattern: &[u8], subject: &[u8]) -> bool {
    if has_empty_token(subject) {
        return false;
    }
    let mut subj = tokens(subject);
    for p in tokens(pattern) {
        if p == FWC {
            return subj.next().is_some();
        }
        match subj.next() {
            Some(s) if p == PWC || p == s => {}
            _ => return false,
        }
    }
    subj.next().is_none()
}

/// Whether every subject `subject` matches is also matched by `test` (both may have
/// wildcards): `foo.*` is a subset of `>`, `*.*` and `foo.*`, not of `foo.bar`. The
/// reference's `subjectIsSubsetMatch`, quirk included: a `test` token that merely starts
/// with `*` counts as `*`.
pub fn is_subset_match(subject: &[u8], test: &[u8]) -> bool {
    let (subject, test): (Vec<&[u8]>, Vec<&[u8]>) =
        (tokens(subject).collect(), tokens(test).collect());
    for (i, &t2) in test.iter().enumerate() {
        let Some(&t1) = subject.get(i) else {
            return false;
        };
        if t2.is_empty() {
            return false;
        }
        if t2 == FWC {
            return true;
        }
        if t1.is_empty() || t1 == FWC || (t1 == PWC && t2 != PWC) {
            return false;
        }
        if t1 != PWC && t2[0] != PWC[0] && t1 != t2 {
            return false;
        }
    }
    subject.len() == test.len()
}

/// Whether some literal subject matches both `a` and `b` (the reference's
/// `SubjectsCollide`, which looks only at the first byte of each token when either has a
/// wildcard).
pub fn subjects_collide(a: &[u8], b: &[u8]) -> bool {
    if a == b {
        return true;
    }
    let (ta, tb): (Vec<&[u8]>, Vec<&[u8]>) = (tokens(a).collect(), tokens(b).collect());
    let has = |ts: &[&[u8]], wc: &[u8]| ts.contains(&wc);
    let (fwc_a, fwc_b) = (has(&ta, FWC), has(&tb, FWC));
    let (literal_a, literal_b) = (!fwc_a && !has(&ta, PWC), !fwc_b && !has(&tb, PWC));
    match (literal_a, literal_b) {
        (true, true) => return false,
        (true, false) => return is_subset_match(a, b),
        (false, true) => return is_subset_match(b, a),
        (false, false) => {}
    }
    if (ta.len() < tb.len() && !fwc_a) || (tb.len() < ta.len() && !fwc_b) {
        return false;
    }
    let can_match = |t1: &[u8], t2: &[u8]| match (t1.first(), t2.first()) {
        (Some(&c1), Some(&c2)) => [c1, c2].iter().any(|c| [PWC[0], FWC[0]].contains(c)) || t1 == t2,
        _ => false,
    };
    ta.iter().zip(&tb).all(|(t1, t2)| can_match(t1, t2))
}

/// Number of tokens in `s` (0 for an empty subject).
pub fn token_count(s: &[u8]) -> usize {
    if s.is_empty() {
        0
    } else {
        s.iter().filter(|&&b| b == SEP).count() + 1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn valid_subjects() {
        for s in [
            "foo",
            "foo.bar",
            "*",
            ">",
            "foo.*",
            "foo.>",
            "*.bar",
            "*.*.>",
            "b*r",
            ">x",
            "foo.>x",
            "x>.bar",
            "foo.**",
            "foo.>>",
            "$SYS.>",
            "_INBOX.abc.123",
            "a-b_c:d",
        ] {
            assert!(is_valid_subject(s.as_bytes()), "{s}");
        }
    }

    #[test]
    fn invalid_subjects() {
        for s in [
            "",
            ".",
            "..",
            "foo..bar",
            ".foo",
            "foo.",
            "foo.>.bar",
            ">.foo",
            ">.>",
            "foo bar",
            "foo\tbar",
            "foo.\r",
            "\n",
            "a.\x0cb",
            " ",
            "foo.*.",
        ] {
            assert!(!is_valid_subject(s.as_bytes()), "{s:?}");
        }
    }

    #[test]
    fn literal_subjects() {
        for s in ["foo", "foo.bar", "b*r", ">x", "foo.**", "a.b.c.d"] {
            assert!(is_valid_literal_subject(s.as_bytes()), "{s}");
        }
        for s in [
            "", "*", ">", "foo.*", "foo.>", "*.bar", "foo..bar", ".foo", "foo.", "a b",
        ] {
            assert!(!is_valid_literal_subject(s.as_bytes()), "{s:?}");
        }
    }

    #[test]
    fn is_literal_ignores_validity() {
        assert!(is_literal(b"foo.bar"));
        assert!(is_literal(b"foo..bar"));
        assert!(is_literal(b"b*r.>x"));
        assert!(!is_literal(b"foo.*"));
        assert!(!is_literal(b">"));
    }

    #[test]
    fn empty_tokens() {
        for s in ["", ".", "foo.", ".foo", "foo..bar"] {
            assert!(has_empty_token(s.as_bytes()), "{s:?}");
        }
        for s in ["foo", "foo.bar", "*", "a.b.c"] {
            assert!(!has_empty_token(s.as_bytes()), "{s:?}");
        }
    }

    #[test]
    fn literal_matching() {
        assert!(matches(b"foo", b"foo"));
        assert!(matches(b"foo.bar", b"foo.bar"));
        assert!(!matches(b"foo.bar", b"foo"));
        assert!(!matches(b"foo", b"foo.bar"));
        assert!(!matches(b"foo.bar", b"foo.baz"));
        assert!(!matches(b"foo.bar", b"foo.bar.baz"));
    }

    #[test]
    fn pwc_matching() {
        assert!(matches(b"*", b"foo"));
        assert!(!matches(b"*", b"foo.bar"));
        assert!(matches(b"foo.*", b"foo.bar"));
        assert!(!matches(b"foo.*", b"foo"));
        assert!(!matches(b"foo.*", b"foo.bar.baz"));
        assert!(matches(b"*.bar", b"foo.bar"));
        assert!(matches(b"*.*", b"a.b"));
        assert!(matches(b"foo.*.baz", b"foo.bar.baz"));
        assert!(!matches(b"foo.*.baz", b"foo.bar.bax"));
    }

    #[test]
    fn fwc_matching() {
        assert!(matches(b">", b"foo"));
        assert!(matches(b">", b"foo.bar.baz"));
        assert!(matches(b"foo.>", b"foo.bar"));
        assert!(matches(b"foo.>", b"foo.bar.baz"));
        assert!(!matches(b"foo.>", b"foo"));
        assert!(!matches(b"foo.>", b"bar.baz"));
        assert!(matches(b"*.>", b"a.b"));
        assert!(!matches(b"*.>", b"a"));
        assert!(matches(b"foo.*.>", b"foo.a.b.c"));
    }

    #[test]
    fn wildcards_inside_tokens_are_literal() {
        assert!(matches(b"b*r", b"b*r"));
        assert!(!matches(b"b*r", b"bar"));
        assert!(!matches(b"foo.>x", b"foo.bar"));
        assert!(matches(b"foo.>x", b"foo.>x"));
    }

    #[test]
    fn publish_wildcards_are_literal() {
        assert!(matches(b"foo.*", b"foo.*"));
        assert!(matches(b"foo.>", b"foo.*"));
        assert!(!matches(b"foo.bar", b"foo.*"));
        assert!(matches(b"foo.*", b"foo.>"));
        assert!(!matches(b"foo.bar", b"foo.>"));
        assert!(!matches(b"foo.bar.baz", b"foo.>"));
    }

    #[test]
    fn subjects_with_empty_tokens_match_nothing() {
        assert!(!matches(b">", b""));
        assert!(!matches(b">", b"foo..bar"));
        assert!(!matches(b"foo.*", b"foo."));
        assert!(!matches(b"*.foo", b".foo"));
        assert!(!matches(b"foo..bar", b"foo..bar"));
    }

    #[test]
    fn subset_matches() {
        // The reference's TestIsSubsetMatch.
        for (subject, test, result) in [
            ("foo.*", ">", true),
            ("foo.*", "*.*", true),
            ("foo.*", "foo.*", true),
            ("foo.*", "foo.bar", false),
            ("foo.>", ">", true),
            ("foo.>", "*.>", true),
            ("foo.>", "foo.>", true),
            ("foo.>", "foo.bar", false),
            ("foo..bar", "foo.*", false),
            ("foo.*", "foo..bar", false),
            // And a few more.
            ("foo.bar", "foo.bar", true),
            ("foo.bar", "foo.*", true),
            ("foo.bar", "foo", false),
            ("foo", "foo.bar", false),
            ("foo.bar.baz", "foo.>", true),
            ("foo", "foo.>", false),
            ("foo.bar", "foo.*x", true),
        ] {
            assert_eq!(
                is_subset_match(subject.as_bytes(), test.as_bytes()),
                result,
                "{subject} in {test}"
            );
        }
    }

    #[test]
    fn colliding_subjects() {
        // The reference's TestSublistSubjectCollide.
        assert!(!subjects_collide(b"foo.*", b"foo.*.bar.>"));
        assert!(!subjects_collide(b"foo.*.bar.>", b"foo.*"));
        assert!(subjects_collide(b"foo.*", b"foo.foo"));
        assert!(subjects_collide(b"foo.*", b"*.foo"));
        assert!(subjects_collide(b"foo.bar.>", b"*.bar.foo"));
        // And a few more.
        assert!(subjects_collide(b"q", b"q"));
        assert!(!subjects_collide(b"q", b"r"));
        assert!(subjects_collide(b"foo.bar", b"foo.>"));
        assert!(subjects_collide(b">", b"foo.bar"));
        assert!(!subjects_collide(b"foo.*", b"bar.*"));
        assert!(subjects_collide(b"a.>", b"*.b.c"));
        assert!(!subjects_collide(b"a.*", b"*.b.c"));
    }

    #[test]
    fn token_counts() {
        assert_eq!(token_count(b""), 0);
        assert_eq!(token_count(b"foo"), 1);
        assert_eq!(token_count(b"foo.bar"), 2);
        assert_eq!(token_count(b"foo.bar.>"), 3);
        assert_eq!(token_count(b"foo..bar"), 3);
        assert_eq!(token_count(b"."), 2);
    }
}
