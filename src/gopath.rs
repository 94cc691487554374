//! Go's lexical path functions with Unix rules: `filepath.Clean` (the same as `path.Clean` for
//! `/`-separated paths), `filepath.Dir` and `filepath.Join`. `conf` resolves include paths with
//! them to exactly the names the reference opens and prints; `monitor` cleans its base path.
//! Note that Go's `Join` makes an absolute path relative to the base (`Join("/etc", "/x")` is
//! `/etc/x`).

/// `filepath.Clean`: the shortest lexically equivalent path.
pub fn clean(path: &str) -> String {
    if path.is_empty() {
        return ".".to_string();
    }
    let rooted = path.starts_with('/');
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                if parts.last().is_some_and(|last| *last != "..") {
                    parts.pop();
                } else if !rooted {
                    parts.push("..");
                }
            }
            name => parts.push(name),
        }
    }
    let joined = parts.join("/");
    if rooted {
        format!("/{joined}")
    } else if joined.is_empty() {
        ".".to_string()
    } else {
        joined
    }
}

/// `filepath.Dir`: everything but the last element, cleaned.
pub fn dir(path: &str) -> String {
    match path.rfind('/') {
        Some(slash) => clean(&path[..=slash]),
        None => ".".to_string(),
    }
}

/// `filepath.Join(base, name)`: the non-empty elements joined and cleaned.
pub fn join(base: &str, name: &str) -> String {
    match (base.is_empty(), name.is_empty()) {
        (true, true) => String::new(),
        (false, true) => clean(base),
        (true, false) => clean(name),
        (false, false) => clean(&format!("{base}/{name}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clean_matches_go() {
        let cases = [
            ("", "."),
            (".", "."),
            ("a/b", "a/b"),
            ("a//b/", "a/b"),
            ("./a/./b", "a/b"),
            ("a/../b", "b"),
            ("a/../..", ".."),
            ("../a/..", ".."),
            ("/..", "/"),
            ("/a/../../b", "/b"),
            ("//a", "/a"),
        ];
        for (input, want) in cases {
            assert_eq!(clean(input), want, "clean({input:?})");
        }
    }

    #[test]
    fn dir_matches_go() {
        assert_eq!(dir("t.conf"), ".");
        assert_eq!(dir(""), ".");
        assert_eq!(dir("/a/b.conf"), "/a");
        assert_eq!(dir("/b.conf"), "/");
        assert_eq!(dir("a/b/"), "a/b");
        assert_eq!(dir("./x/y.conf"), "x");
    }

    #[test]
    fn join_matches_go() {
        assert_eq!(join(".", "inc.conf"), "inc.conf");
        assert_eq!(join(".", "./sub/../sub/nope.conf"), "sub/nope.conf");
        assert_eq!(join("/etc/nats", "a.conf"), "/etc/nats/a.conf");
        // Go joins absolute paths under the base (✓run: 'open tmp/cq/sub/inc.conf').
        assert_eq!(join(".", "/tmp/cq/sub/inc.conf"), "tmp/cq/sub/inc.conf");
        assert_eq!(join("/etc", "/x.conf"), "/etc/x.conf");
        assert_eq!(join("sub", ""), "sub");
        assert_eq!(join("", ""), "");
        assert_eq!(join("", "a/./b"), "a/b");
    }
}
