//! Go's lexical path functions with Unix rules: `filepath.Clean` (the same as `path.Clean` for
//! `/`-separated paths), `filepath.Dir` and `filepath.Join`. `conf` resolves include paths with
//! them to exactly the names the reference opens and prints; `monitor` cleans its base path.
//! Note that Go's `Join` makes an absolute path relative to the base (`Join("/etc", "/x")` is
//! `/etc/x`). Plus nats-server's `expandPath` (`os.ExpandEnv`, then a leading `~`), which the
//! configuration applies to a leafnode remote's credentials file.

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

/// nats-server's `expandPath`: environment variables expanded as Go's `os.ExpandEnv` does,
/// then a leading `~` replaced by `$HOME` (Go's `Join`, so `~user/x` is `$HOME/user/x`). The
/// error is the reference's when `HOME` is unset or empty and the path needs it.
pub fn expand_path(path: &str) -> Result<String, String> {
    expand_path_with(path, &|name| {
        std::env::var_os(name).map(|value| value.to_string_lossy().into_owned())
    })
}

/// [`expand_path`] with the environment read through `getenv`.
fn expand_path_with(path: &str, getenv: &dyn Fn(&str) -> Option<String>) -> Result<String, String> {
    let path = expand_env(path, getenv);
    let Some(rest) = path.strip_prefix('~') else {
        return Ok(path);
    };
    match getenv("HOME").filter(|home| !home.is_empty()) {
        Some(home) => Ok(join(&home, rest)),
        None => Err("failed to get home dir, require $HOME".to_string()),
    }
}

/// Go's `os.Expand`: `$name` and `${name}` replaced by `getenv(name)` (empty when unset); a
/// `$` not followed by a name stays, bad `${` syntax is dropped.
fn expand_env(text: &str, getenv: &dyn Fn(&str) -> Option<String>) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(dollar) = rest.find('$') {
        out.push_str(&rest[..dollar]);
        let after = &rest[dollar + 1..];
        let (name, width) = shell_name(after);
        match (name, width) {
            ("", 0) => out.push('$'),
            ("", _) => {}
            (name, _) => out.push_str(&getenv(name).unwrap_or_default()),
        }
        rest = &after[width..];
    }
    out.push_str(rest);
    out
}

/// Go's `getShellName`: the variable name at the start of `text` (just after a `$`) and how
/// many bytes to skip; an empty name with a non-zero width is bad syntax.
fn shell_name(text: &str) -> (&str, usize) {
    let bytes = text.as_bytes();
    match bytes {
        [] => ("", 0),
        [b'{', special, b'}', ..] if is_shell_special(*special) => (&text[1..2], 3),
        [b'{', ..] => match text[1..].find('}') {
            Some(0) => ("", 2),
            Some(end) => (&text[1..=end], end + 2),
            None => ("", 1),
        },
        [first, ..] if is_shell_special(*first) => (&text[..1], 1),
        _ => {
            let len = bytes
                .iter()
                .take_while(|&&c| c == b'_' || c.is_ascii_alphanumeric())
                .count();
            (&text[..len], len)
        }
    }
}

/// Go's `isShellSpecialVar`: `*#$@!?-` and the digits.
fn is_shell_special(c: u8) -> bool {
    c.is_ascii_digit() || b"*#$@!?-".contains(&c)
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

    #[test]
    fn expand_env_matches_go() {
        let getenv = |name: &str| match name {
            "HOME" => Some("/home/n".to_string()),
            "A" | "1" => Some(format!("<{name}>")),
            _ => None,
        };
        let cases = [
            ("plain", "plain"),
            ("$A/x", "<A>/x"),
            ("${A}x", "<A>x"),
            ("$Ax", ""),
            ("$NOPE/x", "/x"),
            ("$1a", "<1>a"),
            ("${1}", "<1>"),
            ("a$", "a$"),
            ("a$/b", "a$/b"),
            ("${}x", "x"),
            ("${A", "A"),
            ("$$", ""),
            ("é$A", "é<A>"),
        ];
        for (input, want) in cases {
            assert_eq!(expand_env(input, &getenv), want, "{input:?}");
        }
    }

    #[test]
    fn expand_path_home() {
        let home = |name: &str| (name == "HOME").then(|| "/home/n".to_string());
        assert_eq!(
            expand_path_with("~/a.creds", &home).unwrap(),
            "/home/n/a.creds"
        );
        assert_eq!(expand_path_with("~", &home).unwrap(), "/home/n");
        assert_eq!(expand_path_with("$HOME/./a", &home).unwrap(), "/home/n/./a");
        assert_eq!(expand_path_with("a/~", &home).unwrap(), "a/~");
        let none = |_: &str| None;
        assert_eq!(
            expand_path_with("~/a", &none),
            Err("failed to get home dir, require $HOME".to_string())
        );
        assert_eq!(expand_path_with("/a", &none).unwrap(), "/a");
    }
}
