//! End-to-end tests of the configuration language: value trees, positions,
//! variables, includes, every error message, and robustness.
//!
//! "✓ref" marks expectations checked against the reference binary
//! (nats-server v2.9.10, `nats-server -t -c file`).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::rng::Rng;

use super::{
    parse_file, parse_file_from, parse_str, ConfError, Kind, Map, MemoryFiles, Pos, Value,
    MAX_DOCUMENTS, MAX_NESTING,
};

// ----- helpers ----------------------------------------------------------------

fn parse(text: &str) -> Map {
    parse_str(text, Path::new("t.conf")).unwrap_or_else(|err| panic!("{text:?}: {err}"))
}

fn error(text: &str) -> String {
    match parse_str(text, Path::new("t.conf")) {
        Ok(map) => panic!("{text:?} parsed: {map:?}"),
        Err(err) => err.to_string(),
    }
}

#[track_caller]
fn get<'m>(map: &'m Map, key: &str) -> &'m Kind {
    match map.get(key) {
        Some(value) => &value.kind,
        None => panic!("no key {key:?} in {map:?}"),
    }
}

#[track_caller]
fn submap<'m>(map: &'m Map, key: &str) -> &'m Map {
    match get(map, key) {
        Kind::Map(inner) => inner,
        other => panic!("{key:?} is not a map: {other:?}"),
    }
}

#[track_caller]
fn array<'m>(map: &'m Map, key: &str) -> &'m [Value] {
    match get(map, key) {
        Kind::Array(items) => items,
        other => panic!("{key:?} is not an array: {other:?}"),
    }
}

fn kinds(values: &[Value]) -> Vec<Kind> {
    values.iter().map(|value| value.kind.clone()).collect()
}

fn string(text: &str) -> Kind {
    Kind::String(text.to_string())
}

/// `(line, col)` of a value.
fn at(value: &Value) -> (usize, usize) {
    (value.pos.line, value.pos.col)
}

fn key_at(map: &Map, key: &str) -> (usize, usize) {
    at(map.get(key).expect("key present"))
}

/// Sets an environment variable for the rest of the test run. Every test
/// uses its own names, so parallel tests do not interfere.
fn set_env(name: &str, value: &str) {
    std::env::set_var(name, value);
}

/// A fresh directory under the system temp dir, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> Self {
        let path =
            std::env::temp_dir().join(format!("natsd-conf-test-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).expect("create temp dir");
        TempDir(path)
    }

    fn write(&self, name: &str, text: &str) -> PathBuf {
        let path = self.0.join(name);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).expect("create dir");
        }
        std::fs::write(&path, text).expect("write file");
        path
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

// ----- lexical forms ------------------------------------------------------------

#[test]
fn key_value_separators_and_terminators() {
    let map = parse("a = 1\nb: 2\nc 3\nd:4\ne\t=\t5; f = 6, g = 7 # c\nh = 8 // c\n");
    for (key, want) in [
        ("a", 1),
        ("b", 2),
        ("c", 3),
        ("d", 4),
        ("e", 5),
        ("f", 6),
        ("g", 7),
        ("h", 8),
    ] {
        assert_eq!(get(&map, key), &Kind::Int(want), "{key}");
    }
    let keys: Vec<_> = map.iter().map(|entry| entry.key.as_str()).collect();
    assert_eq!(keys, ["a", "b", "c", "d", "e", "f", "g", "h"], "file order");
}

#[test]
fn simple_top_level() {
    // parse_test.go TestSimpleTopLevel
    let map = parse("foo='1'; bar=2.2; baz=true; boo=22");
    assert_eq!(get(&map, "foo"), &string("1"));
    assert_eq!(get(&map, "bar"), &Kind::Float(2.2));
    assert_eq!(get(&map, "baz"), &Kind::Bool(true));
    assert_eq!(get(&map, "boo"), &Kind::Int(22));
}

#[test]
fn comments_everywhere() {
    let map = parse(
        "# top\n// top\na { # in map\n  b = 1 # after value\n  // slashes\n  c = [ # in array\n    1 // after element\n    2\n  ]\n}\n",
    );
    let a = submap(&map, "a");
    assert_eq!(get(a, "b"), &Kind::Int(1));
    assert_eq!(kinds(array(a, "c")), [Kind::Int(1), Kind::Int(2)]);
}

#[test]
fn quoted_and_unusual_keys() {
    let map = parse("\"quoted key\" = 1\n'single' = 2\na.b-c$d = 3\nPORT = 4\nport = 5\n");
    assert_eq!(get(&map, "quoted key"), &Kind::Int(1));
    assert_eq!(get(&map, "single"), &Kind::Int(2));
    assert_eq!(get(&map, "a.b-c$d"), &Kind::Int(3));
    // Keys are case-sensitive in the tree.
    assert_eq!(get(&map, "PORT"), &Kind::Int(4));
    assert_eq!(get(&map, "port"), &Kind::Int(5));
}

#[test]
fn key_glued_to_brace_is_one_key() {
    // ✓ref: `cluster{port: 1}` is the key "cluster{port".
    let map = parse("cluster{port: 1}");
    assert_eq!(get(&map, "cluster{port"), &Kind::Int(1));
}

#[test]
fn json_files() {
    // ✓ref
    let map = parse("{ \"port\": 4222, \"debug\": true }");
    assert_eq!(get(&map, "port"), &Kind::Int(4222));
    assert_eq!(get(&map, "debug"), &Kind::Bool(true));
    let map = parse("{\n  \"port\": 4222,\n  \"cluster\": {\"routes\": [\"a\", \"b\"]}\n}\n");
    assert_eq!(get(&map, "port"), &Kind::Int(4222));
    assert_eq!(
        kinds(array(submap(&map, "cluster"), "routes")),
        [string("a"), string("b")]
    );
    let map = parse("{\n  \"jetstream\": {\n    \"store_dir\": \"/tmp/nats\"\n    \"max_mem\": 1000000,\n  },\n  \"port\": 4222\n}\n");
    assert_eq!(
        get(submap(&map, "jetstream"), "max_mem"),
        &Kind::Int(1_000_000)
    );
}

// ----- value types ------------------------------------------------------------------

#[test]
fn strings() {
    let map = parse(concat!(
        "dq = \"a\\tb\\nc\\rd\\\"e\\\\f\\x41\"\n",
        "sq = 'raw \\t $x'\n",
        "bare = nats-route://u:p@127.0.0.1:4245\n",
        "esc = x\\x41y\n",
        "multi = \"line1\nline2\"\n",
        "empty = \"\"\n",
        "dollar = \"$x\"\n",
        "quoted_bool = \"true\"\n",
        "ip = 127.0.0.1:4222\n",
        "digits = 4222a\n",
        "dur = 30s\n",
        "utf8 = \"h\u{e9}llo \u{1F600}\"\n",
        "hex = \"\\xc3\\xa9\"\n",
    ));
    assert_eq!(get(&map, "dq"), &string("a\tb\nc\rd\"e\\fA"));
    assert_eq!(get(&map, "sq"), &string("raw \\t $x"));
    assert_eq!(
        get(&map, "bare"),
        &string("nats-route://u:p@127.0.0.1:4245")
    );
    assert_eq!(get(&map, "esc"), &string("xAy"));
    assert_eq!(get(&map, "multi"), &string("line1\nline2"));
    assert_eq!(get(&map, "empty"), &string(""));
    assert_eq!(get(&map, "dollar"), &string("$x"));
    assert_eq!(get(&map, "quoted_bool"), &string("true"));
    assert_eq!(get(&map, "ip"), &string("127.0.0.1:4222"));
    assert_eq!(get(&map, "digits"), &string("4222a"));
    assert_eq!(get(&map, "dur"), &string("30s"));
    assert_eq!(get(&map, "utf8"), &string("h\u{e9}llo \u{1F600}"));
    assert_eq!(get(&map, "hex"), &string("\u{e9}"));
}

#[test]
fn sample_with_raw_multiline_string() {
    // parse_test.go TestSample3
    let map = parse(
        "foo  {\n  expr = '(true == \"false\")'\n  text = 'This is a multi-line\ntext block.'\n}\n",
    );
    let foo = submap(&map, "foo");
    assert_eq!(get(foo, "expr"), &string("(true == \"false\")"));
    assert_eq!(
        get(foo, "text"),
        &string("This is a multi-line\ntext block.")
    );
}

#[test]
fn invalid_utf8_becomes_replacement_characters() {
    let dir = TempDir::new("utf8");
    let path = dir.0.join("bin.conf");
    std::fs::write(&path, b"a = \"x\xffy\"\nb = \\xff\n").expect("write");
    let map = parse_file(&path).expect("parses");
    assert_eq!(get(&map, "a"), &string("x\u{FFFD}y"));
    assert_eq!(get(&map, "b"), &string("\u{FFFD}"));
}

#[test]
fn block_strings() {
    let map = parse("a (\n  line one\n  (nested) )\n)\nb = 1\n");
    assert_eq!(get(&map, "a"), &string("\n  line one\n  (nested) )\n"));
    assert_eq!(get(&map, "b"), &Kind::Int(1));
    // ✓ref: at end of input the closing ')' is part of the value.
    assert_eq!(get(&parse("a (\nfoo\n)"), "a"), &string("\nfoo\n)"));
    assert_eq!(get(&parse("a = ()\n)\n"), "a"), &string(")\n"));
}

#[test]
fn numbers() {
    let map = parse("a = 0\nb = -5\nc = 1.5\nd = -0.25\ne = 9223372036854775807\nf = 1k\ng = 1KB\nh = 2mib\ni = -1m\nj = 1.0\n");
    assert_eq!(get(&map, "a"), &Kind::Int(0));
    assert_eq!(get(&map, "b"), &Kind::Int(-5));
    assert_eq!(get(&map, "c"), &Kind::Float(1.5));
    assert_eq!(get(&map, "d"), &Kind::Float(-0.25));
    assert_eq!(get(&map, "e"), &Kind::Int(i64::MAX));
    // ✓ref: 1k = 1000, 1KB = 1024, 2mib = 2097152
    assert_eq!(get(&map, "f"), &Kind::Int(1000));
    assert_eq!(get(&map, "g"), &Kind::Int(1024));
    assert_eq!(get(&map, "h"), &Kind::Int(2_097_152));
    assert_eq!(get(&map, "i"), &Kind::Int(-1_000_000));
    assert_eq!(get(&map, "j"), &Kind::Float(1.0));
}

#[test]
fn convenient_numbers_sample() {
    // parse_test.go TestConvenientNumbers
    let map = parse("k = 8k\nkb = 4kb\nki = 3ki\nkib = 4ki\nm = 1m\nmb = 2MB\nmi = 2Mi\nmib = 64MiB\ng = 2g\ngb = 22GB\ngi = 22Gi\ngib = 22GiB\ntb = 22TB\nti = 22Ti\ntib = 22TiB\npb = 22PB\npi = 22Pi\npib = 22PiB\n");
    let want: [(&str, i64); 18] = [
        ("k", 8_000),
        ("kb", 4 << 10),
        ("ki", 3 << 10),
        ("kib", 4 << 10),
        ("m", 1_000_000),
        ("mb", 2 << 20),
        ("mi", 2 << 20),
        ("mib", 64 << 20),
        ("g", 2_000_000_000),
        ("gb", 22 << 30),
        ("gi", 22 << 30),
        ("gib", 22 << 30),
        ("tb", 22 << 40),
        ("ti", 22 << 40),
        ("tib", 22 << 40),
        ("pb", 22 << 50),
        ("pi", 22 << 50),
        ("pib", 22 << 50),
    ];
    for (key, value) in want {
        assert_eq!(get(&map, key), &Kind::Int(value), "{key}");
    }
}

#[test]
fn size_suffix_corner_cases() {
    // ✓ref: `2m` is an integer (2000000), `30s`/`1h`/`500ms` are strings.
    let map = parse("a = 2m\nb = 1h\nc = 500ms\nd = 1kx\ne = 3Mbs\n");
    assert_eq!(get(&map, "a"), &Kind::Int(2_000_000));
    assert_eq!(get(&map, "b"), &string("1h"));
    assert_eq!(get(&map, "c"), &string("500ms"));
    assert_eq!(get(&map, "d"), &string("1kx"));
    assert_eq!(get(&map, "e"), &string("3Mbs"));
    // ✓ref: an unknown suffix sets no value at all.
    let map = parse("max_payload = 1kbb\nport = 1\n");
    assert!(map.get("max_payload").is_none());
    assert_eq!(get(&map, "port"), &Kind::Int(1));
}

#[test]
fn dropped_value_leaves_its_key_pending() {
    // Reference quirk: the key of a dropped value stays on the key stack, so
    // the enclosing map ends up under that key.
    let map = parse("x { a = 1kbb }\n");
    assert!(map.get("x").is_none());
    assert_eq!(get(&map, "a"), &Kind::Map(Map::new()));
}

#[test]
fn booleans() {
    // parse_test.go TestBools, plus the other words and cases.
    let map = parse("a=true\nb=TRUE\nc=yes\nd=on\ne=Yes\nf=ON\ng=false\nh=no\ni=off\nj=OFF\nk='true'\nl=truthy\n");
    for key in ["a", "b", "c", "d", "e", "f"] {
        assert_eq!(get(&map, key), &Kind::Bool(true), "{key}");
    }
    for key in ["g", "h", "i", "j"] {
        assert_eq!(get(&map, key), &Kind::Bool(false), "{key}");
    }
    assert_eq!(get(&map, "k"), &string("true"));
    assert_eq!(get(&map, "l"), &string("truthy"));
    // An escape makes it a string.
    assert_eq!(get(&parse("a = tru\\x65"), "a"), &string("true"));
}

#[test]
fn datetimes() {
    // parse_test.go TestSample5
    let map = parse("\n  now = 2016-05-04T18:53:41Z\n  gmt = false\n\n");
    let Kind::Datetime(now) = get(&map, "now") else {
        panic!("not a datetime");
    };
    assert_eq!(now.to_string(), "2016-05-04T18:53:41Z");
    assert_eq!((now.year, now.month, now.day), (2016, 5, 4));
    assert_eq!((now.hour, now.minute, now.second), (18, 53, 41));
    assert_eq!(get(&map, "gmt"), &Kind::Bool(false));
}

#[test]
fn arrays() {
    let map = parse("a = [1, 'two', 3.0, true, [4, 5], {six: 6}]\nb = [\n  1\n  2,\n  3\n]\nc = [a,b,]\nd = []\ne = [1,2]\n");
    let a = array(&map, "a");
    assert_eq!(a.len(), 6);
    assert_eq!(
        kinds(&a[..4]),
        [
            Kind::Int(1),
            string("two"),
            Kind::Float(3.0),
            Kind::Bool(true)
        ]
    );
    assert!(
        matches!(&a[4].kind, Kind::Array(inner) if kinds(inner) == [Kind::Int(4), Kind::Int(5)])
    );
    assert!(matches!(&a[5].kind, Kind::Map(inner) if get(inner, "six") == &Kind::Int(6)));
    assert_eq!(
        kinds(array(&map, "b")),
        [Kind::Int(1), Kind::Int(2), Kind::Int(3)]
    );
    // ✓ref: trailing comma allowed.
    assert_eq!(kinds(array(&map, "c")), [string("a"), string("b")]);
    assert!(array(&map, "d").is_empty());
    // Superset of 2.9 (config.md §4.3): an integer may touch the ']'.
    assert_eq!(kinds(array(&map, "e")), [Kind::Int(1), Kind::Int(2)]);
}

#[test]
fn maps() {
    // parse_test.go TestSample1 / TestSample2 / TestSample4
    let map = parse("foo  {\n  host {\n    ip   = '127.0.0.1'\n    port = 4242\n  }\n  servers = [ \"a.com\", \"b.com\", \"c.com\"]\n}\n");
    let host = submap(submap(&map, "foo"), "host");
    assert_eq!(get(host, "ip"), &string("127.0.0.1"));
    assert_eq!(get(host, "port"), &Kind::Int(4242));
    assert_eq!(array(submap(&map, "foo"), "servers").len(), 3);

    let cluster = parse(
        "cluster {\n  port: 4244\n\n  authorization {\n    user: route_user\n    password: top_secret\n    timeout: 1\n  }\n\n  # comment\n  // comment\n\n  routes = [\n    nats-route://foo:bar@apcera.me:4245\n    nats-route://foo:bar@apcera.me:4246\n  ]\n}\n",
    );
    let cluster = submap(&cluster, "cluster");
    assert_eq!(
        get(submap(cluster, "authorization"), "timeout"),
        &Kind::Int(1)
    );
    assert_eq!(
        kinds(array(cluster, "routes")),
        [
            string("nats-route://foo:bar@apcera.me:4245"),
            string("nats-route://foo:bar@apcera.me:4246")
        ]
    );

    let map = parse("  array [\n    { abc: 123 }\n    { xyz: \"word\" }\n  ]\n");
    let items = array(&map, "array");
    assert!(matches!(&items[0].kind, Kind::Map(m) if get(m, "abc") == &Kind::Int(123)));
    assert!(matches!(&items[1].kind, Kind::Map(m) if get(m, "xyz") == &string("word")));

    // ✓ref: separators, trailing comma, empty map.
    let map = parse("a { b = 1; c = 2, d = 3\n e 4, }\nf {}\ng = {\n}\n");
    let a = submap(&map, "a");
    assert_eq!(a.len(), 4);
    assert!(submap(&map, "f").is_empty() && submap(&map, "g").is_empty());
}

#[test]
fn duplicate_keys_last_wins() {
    let map = parse("a = 1\nb = 2\na = 3\n");
    assert_eq!(get(&map, "a"), &Kind::Int(3));
    assert_eq!(key_at(&map, "a"), (3, 1));
    let keys: Vec<_> = map.iter().map(|entry| entry.key.as_str()).collect();
    assert_eq!(keys, ["a", "b"]);
}

#[test]
fn map_key_without_value_takes_the_map() {
    // Reference quirk: `x {a }` leaves key "a" without a value; the map
    // closing then pops "a" and the map is stored under it.
    let map = parse("x {a }\n");
    assert_eq!(get(&map, "a"), &Kind::Map(Map::new()));
}

#[test]
fn trailing_brace_lines_are_tolerated() {
    // v2.9.25 TestParseWithTrailingBracketsAreValid
    assert!(parse("{}").is_empty());
    parse("\n{\n# comments in the body\n}\n");
    assert!(parse("\naccounts { users = [{}]}\n}\n")
        .get("accounts")
        .is_some());
    parse("{\n  accounts { users = [{}]}\n}\n");
}

#[test]
fn empty_documents() {
    // v2.9.25 TestParseWithNoValuesEmptyConfigsAreValid
    for text in ["", "\n\n\n   ", "\n  # just comments\n  # still valid.\n"] {
        assert!(parse(text).is_empty());
    }
}

// ----- positions ------------------------------------------------------------

#[test]
fn key_positions_follow_the_reference_quirk() {
    // ✓ref: 0-based column on line 1, 1-based on later lines.
    let map = parse("  foo: 1\n   bar: 2\nbaz: 3\n\"q\" = 4\n");
    assert_eq!(key_at(&map, "foo"), (1, 2));
    assert_eq!(key_at(&map, "bar"), (2, 4));
    assert_eq!(key_at(&map, "baz"), (3, 1));
    assert_eq!(key_at(&map, "q"), (4, 2)); // after the opening quote
    let value = map.get("foo").expect("foo");
    assert_eq!(value.pos.file.as_ref(), Path::new("t.conf"));
    assert_eq!(value.error("boom").to_string(), "t.conf:1:2: boom");
}

#[test]
fn nested_keys_point_at_the_inner_key() {
    // ✓ref: `cluster {\n  foo: 1\n}` reports foo at 2:3.
    let map = parse("cluster {\n  foo: 1\n}\n");
    assert_eq!(key_at(&map, "cluster"), (1, 0));
    assert_eq!(key_at(submap(&map, "cluster"), "foo"), (2, 3));
}

#[test]
fn array_element_positions() {
    // ✓ref: positions of "Expected user entry to be a map/struct" errors.
    let text = "authorization {\n  users = [ \"a\\x41b\", x\\ty, \"q\nr\", 2016-01-02T15:04:05Z, 1.5, -3, 1k, 127.0.0.1, true, 'sq', (\nblock\n)\n]\n}";
    let map = parse(text);
    let users = array(submap(&map, "authorization"), "users");
    let positions: Vec<_> = users.iter().map(at).collect();
    assert_eq!(
        positions,
        [
            (2, 17),
            (2, 24),
            (3, 30),
            (3, 5),
            (3, 27),
            (3, 32),
            (3, 36),
            (3, 40),
            (3, 51),
            (3, 58),
            (5, 64)
        ]
    );
    // ✓ref: a map element sits just after its '}', a variable after its '$'.
    let map = parse("a=1\nauthorization {\n users = [\n {\n user: a\n  }, $a\n ]\n}\n");
    let users = array(submap(&map, "authorization"), "users");
    assert_eq!(at(&users[0]), (6, 4));
    assert_eq!(at(&users[1]), (6, 7));
}

// ----- variables ----------------------------------------------------------------

#[test]
fn simple_and_nested_variables() {
    // parse_test.go TestSimpleVariable / TestNestedVariable
    let map = parse("\n  index = 22\n  foo = $index\n");
    assert_eq!(get(&map, "foo"), &Kind::Int(22));
    let map =
        parse("\n  index = 22\n  nest {\n    index = 11\n    foo = $index\n  }\n  bar = $index\n");
    assert_eq!(get(submap(&map, "nest"), "foo"), &Kind::Int(11));
    assert_eq!(get(&map, "bar"), &Kind::Int(22));
}

#[test]
fn variables_skip_arrays_and_see_outer_maps() {
    let map = parse("x = 1\na { b = [ $x, { c = $x } ] }\n");
    let b = array(submap(&map, "a"), "b");
    assert_eq!(b[0].kind, Kind::Int(1));
    assert!(matches!(&b[1].kind, Kind::Map(m) if get(m, "c") == &Kind::Int(1)));
}

#[test]
fn variables_only_see_earlier_keys() {
    // ✓ref: `$p` inside an array of maps does not see the sibling map's key.
    assert_eq!(
        error("a = [ {p = 1}, $p ]"),
        "variable reference for 'p' on line 1 can not be found"
    );
    assert_eq!(
        error("a = $b\nb = 1\n"),
        "variable reference for 'b' on line 1 can not be found"
    );
    // v2.12 TestVarReferencesSelf
    assert_eq!(
        error("A: $A"),
        "variable reference for 'A' on line 1 can not be found"
    );
}

#[test]
fn variable_names_are_case_sensitive() {
    // ✓ref
    assert_eq!(
        error("X = 4333\nport: $x\n"),
        "variable reference for 'x' on line 2 can not be found"
    );
}

#[test]
fn variable_values_are_copies_with_their_nested_positions() {
    let map = parse("P = { user: a }\nx = $P\n");
    let x = map.get("x").expect("x");
    assert_eq!(at(x), (2, 1));
    let Kind::Map(inner) = &x.kind else {
        panic!("not a map")
    };
    assert_eq!(
        key_at(inner, "user"),
        (1, 6),
        "nested keys keep their definition"
    );
}

#[test]
fn chained_variables() {
    // v2.12 TestVarReferencesVar
    let map = parse("\n  A: 7890\n  B: $A\n  C: $B\n  port: $C\n");
    assert_eq!(get(&map, "port"), &Kind::Int(7890));
}

#[test]
fn used_variables_are_marked() {
    let map = parse("x = 1\ny = 2\nport = $x\nc { z = 3, w = $z }\n");
    assert!(map.entry("x").expect("x").used_as_variable);
    assert!(!map.entry("y").expect("y").used_as_variable);
    assert!(!map.entry("port").expect("port").used_as_variable);
    assert!(submap(&map, "c").entry("z").expect("z").used_as_variable);
}

#[test]
fn bcrypt_hashes_are_not_variables() {
    // parse_test.go TestBcryptVariable; ✓ref
    let map = parse("password: $2a$11$ooo");
    assert_eq!(get(&map, "password"), &string("$2a$11$ooo"));
    // Quoted "$x" is a literal (✓ref).
    assert_eq!(get(&parse("a = \"$x\"\nb = '$y'"), "b"), &string("$y"));
}

#[test]
fn environment_variables_are_parsed_as_values() {
    set_env("NATSD_CONF_T_INT", "22");
    set_env("NATSD_CONF_T_STR", "xyz");
    set_env("NATSD_CONF_T_SIZE", "3Gyz");
    set_env("NATSD_CONF_T_QUOTED", "'3xyz'");
    set_env("NATSD_CONF_T_BOOL", "true");
    set_env("NATSD_CONF_T_SPACED", "\"a b\"");
    set_env("NATSD_CONF_T_ARRAY", "[1, 2 ]");
    set_env("NATSD_CONF_T_MAP", "{port: 1}");
    set_env("NATSD_CONF_T_EMPTY", "");
    let map = parse(concat!(
        "a = $NATSD_CONF_T_INT\n",
        "b = $NATSD_CONF_T_STR\n",
        "c = $NATSD_CONF_T_SIZE\n",
        "d = $NATSD_CONF_T_QUOTED\n",
        "e = $NATSD_CONF_T_BOOL\n",
        "f = $NATSD_CONF_T_SPACED\n",
        "g = $NATSD_CONF_T_ARRAY\n",
        "h = $NATSD_CONF_T_MAP\n",
        "i = $NATSD_CONF_T_EMPTY\n",
    ));
    assert_eq!(get(&map, "a"), &Kind::Int(22));
    assert_eq!(get(&map, "b"), &string("xyz"));
    assert_eq!(get(&map, "c"), &string("3Gyz"));
    assert_eq!(get(&map, "d"), &string("3xyz"));
    assert_eq!(get(&map, "e"), &Kind::Bool(true));
    assert_eq!(get(&map, "f"), &string("a b"));
    assert_eq!(kinds(array(&map, "g")), [Kind::Int(1), Kind::Int(2)]);
    assert_eq!(get(submap(&map, "h"), "port"), &Kind::Int(1));
    assert_eq!(get(&map, "i"), &string(""));
}

#[test]
fn environment_values_are_located_at_the_reference() {
    set_env("NATSD_CONF_T_LOC", "{ port: [1] }");
    let map = parse("x = 1\n  users = [ $NATSD_CONF_T_LOC ]\n");
    let users = array(&map, "users");
    assert_eq!(at(&users[0]), (2, 14));
    let Kind::Map(inner) = &users[0].kind else {
        panic!("not a map")
    };
    let port = inner.get("port").expect("port");
    assert_eq!(at(port), (2, 14));
    let Kind::Array(items) = &port.kind else {
        panic!("not an array")
    };
    assert_eq!(at(&items[0]), (2, 14));
}

#[test]
fn environment_variables_reference_each_other_but_not_the_file() {
    // v2.12 TestEnvVarReferencesEnvVar / TestEnvVarReferencesVar
    set_env("NATSD_CONF_T_CHAIN_A", "$NATSD_CONF_T_CHAIN_B");
    set_env("NATSD_CONF_T_CHAIN_B", "$NATSD_CONF_T_CHAIN_C");
    set_env("NATSD_CONF_T_CHAIN_C", "7890");
    assert_eq!(
        get(&parse("port: $NATSD_CONF_T_CHAIN_A"), "port"),
        &Kind::Int(7890)
    );
    set_env("NATSD_CONF_T_TO_FILE", "$P");
    assert_eq!(
        error("P: 8080\nport: $NATSD_CONF_T_TO_FILE\n"),
        "variable reference for 'NATSD_CONF_T_TO_FILE' on line 2 could not be parsed: \
         variable reference for 'P' on line 1 can not be found"
    );
}

#[test]
fn environment_parse_errors() {
    // ✓ref
    set_env("NATSD_CONF_T_BAD", "1 2");
    assert_eq!(
        error("port: $NATSD_CONF_T_BAD"),
        "variable reference for 'NATSD_CONF_T_BAD' on line 1 could not be parsed: \
         Parse error on line 1: 'Expected a top-level value to end with a new line, \
         comment or EOF, but got '2' instead.'"
    );
    // ✓ref: a value that parses to nothing is "not found".
    set_env("NATSD_CONF_T_KBB", "1kbb");
    assert_eq!(
        error("port: $NATSD_CONF_T_KBB"),
        "variable reference for 'NATSD_CONF_T_KBB' on line 1 can not be found"
    );
    // v2.12 TestEnvVarInclude
    set_env("NATSD_CONF_T_INC", "include x");
    assert!(error("TEST: $NATSD_CONF_T_INC")
        .contains("Expected a top-level value to end with a new line, comment or EOF"));
    // ✓ref: files included from an environment value use ParseFile wording.
    set_env("NATSD_CONF_T_INCMAP", "{ include natsd-conf-no-such.conf }");
    assert_eq!(
        error("port: $NATSD_CONF_T_INCMAP"),
        "variable reference for 'NATSD_CONF_T_INCMAP' on line 1 could not be parsed: \
         error parsing include file 'natsd-conf-no-such.conf', error opening config file: \
         open natsd-conf-no-such.conf: no such file or directory"
    );
}

#[test]
fn environment_cycles_are_errors() {
    // 2.9.10 recurses forever; the v2.12 wording is used (config.md §2).
    set_env("NATSD_CONF_T_SELF", "$NATSD_CONF_T_SELF");
    assert_eq!(
        error("x: $NATSD_CONF_T_SELF"),
        "variable reference for 'NATSD_CONF_T_SELF' on line 1 could not be parsed: \
         variable reference for 'NATSD_CONF_T_SELF' on line 1 could not be parsed: \
         variable reference cycle for 'NATSD_CONF_T_SELF'"
    );
    set_env("NATSD_CONF_T_CYC_A", "$NATSD_CONF_T_CYC_B");
    set_env("NATSD_CONF_T_CYC_B", "[ $NATSD_CONF_T_CYC_A ]");
    let message = error("\n x: $NATSD_CONF_T_CYC_A");
    assert!(
        message.starts_with(
            "variable reference for 'NATSD_CONF_T_CYC_A' on line 2 could not be parsed: "
        ),
        "{message}"
    );
    assert!(
        message.ends_with("variable reference cycle for 'NATSD_CONF_T_CYC_A'"),
        "{message}"
    );
}

#[test]
fn unknown_variable() {
    // parse_test.go TestMissingVariable; ✓ref
    assert_eq!(
        error("foo=$NATSD_CONF_T_UNSET_VARIABLE"),
        "variable reference for 'NATSD_CONF_T_UNSET_VARIABLE' on line 1 can not be found"
    );
    assert_eq!(
        error("\n\na = [ $NOPE_NATSD_CONF ]"),
        "variable reference for 'NOPE_NATSD_CONF' on line 3 can not be found"
    );
}

// ----- include --------------------------------------------------------------

#[test]
fn include_relative_to_the_including_file() {
    let dir = TempDir::new("include-relative");
    dir.write("sub/s.conf", "S = 5\nfoo: 1\ninclude deeper/d.conf\n");
    dir.write("sub/deeper/d.conf", "\n  bar: 2\n");
    let main = dir.write("main.conf", "port: 1\ninclude sub/s.conf\nbaz = $S\n");
    let map = parse_file(&main).expect("parses");
    assert_eq!(get(&map, "foo"), &Kind::Int(1));
    assert_eq!(get(&map, "bar"), &Kind::Int(2));
    assert_eq!(
        get(&map, "baz"),
        &Kind::Int(5),
        "includer sees included keys"
    );
    assert!(map.entry("S").expect("S").used_as_variable);
    // Positions name the included file (joined like Go's filepath.Join).
    let bar = map.get("bar").expect("bar");
    assert_eq!(
        bar.pos.file.as_ref(),
        dir.0.join("sub/deeper/d.conf").as_path()
    );
    assert_eq!(at(bar), (2, 3));
    assert_eq!(
        map.get("port").expect("port").pos.file.as_ref(),
        main.as_path()
    );
}

#[test]
fn include_quoted_and_inside_maps() {
    // parse_test.go TestIncludes / TestIncludeVariablesWithChecks
    let dir = TempDir::new("include-maps");
    dir.write(
        "includes/passwords.conf",
        "ALICE_PASS: $2a$10$UHR6GhotWhpLsKtVP0/i6.Nh9.fuY73cWjLoJjb2sKT8KISBcUW5q\nBOB_PASS: $2a$11$dZM98SpGeI7dCFFGSpt.JObQcix8YHml4TBUZoge9R1uxnMIln5ly\n",
    );
    let main = dir.write(
        "main.conf",
        "\nauthorization {\n\n  include \"./includes/passwords.conf\"\n\n  CAROL_PASS: foo\n\n  users = [\n   {user: alice, password: $ALICE_PASS}\n   {user: bob,   password: $BOB_PASS}\n   {user: carol, password: $CAROL_PASS}\n  ]\n}\n",
    );
    let map = parse_file(&main).expect("parses");
    let auth = submap(&map, "authorization");
    assert_eq!(key_at(auth, "ALICE_PASS"), (1, 0));
    assert_eq!(key_at(auth, "BOB_PASS"), (2, 1));
    assert_eq!(key_at(auth, "CAROL_PASS"), (6, 3));
    let users = array(auth, "users");
    assert!(matches!(&users[1].kind, Kind::Map(m)
        if get(m, "password") == &string("$2a$11$dZM98SpGeI7dCFFGSpt.JObQcix8YHml4TBUZoge9R1uxnMIln5ly")));
    assert!(auth.entry("CAROL_PASS").expect("carol").used_as_variable);
    assert!(auth.entry("ALICE_PASS").expect("alice").used_as_variable);
}

#[test]
fn included_file_cannot_see_the_includers_variables() {
    // ✓ref
    let dir = TempDir::new("include-scope");
    dir.write("inc.conf", "\n  bar: $P\n");
    let main = dir.write("main.conf", "P = 5\ninclude inc.conf\n");
    let message = parse_file(&main).expect_err("fails").to_string();
    assert_eq!(
        message,
        "error parsing include file 'inc.conf', variable reference for 'P' on line 2 can not be found"
    );
}

#[test]
fn include_errors_name_the_included_file() {
    // ✓ref: lexer errors are wrapped; the inner message has no file name.
    let dir = TempDir::new("include-errors");
    dir.write("sub/inc.conf", "port: 1\nfoo: [1,\n");
    let main = dir.write("h.conf", "include sub/inc.conf\n");
    assert_eq!(
        parse_file(&main).expect_err("fails").to_string(),
        "error parsing include file 'sub/inc.conf', Parse error on line 3: 'Expected an array \
         value terminator \",\" or an array terminator \"]\", but got '\0' instead.'"
    );
    // A dangling key names the included file by its joined path.
    dir.write("sub/key.conf", "port");
    let main = dir.write("k.conf", "include ./sub/../sub/key.conf\n");
    let joined = dir.0.join("sub/key.conf");
    assert_eq!(
        parse_file(&main).expect_err("fails").to_string(),
        format!(
            "error parsing include file './sub/../sub/key.conf', config is invalid ({}:1:4)",
            joined.display()
        )
    );
}

#[test]
fn include_of_missing_file_or_directory() {
    // ✓ref: paths are printed joined to the includer's directory.
    assert_eq!(
        error("include natsd-conf-nope.conf"),
        "error parsing include file 'natsd-conf-nope.conf', open natsd-conf-nope.conf: no such file or directory"
    );
    assert_eq!(
        error("include ./sub/../natsd-conf-nope.conf"),
        "error parsing include file './sub/../natsd-conf-nope.conf', open natsd-conf-nope.conf: no such file or directory"
    );
    let dir = TempDir::new("include-dir");
    dir.write("sub/x.conf", "");
    let main = dir.write("main.conf", "include sub\n");
    assert_eq!(
        parse_file(&main).expect_err("fails").to_string(),
        format!(
            "error parsing include file 'sub', read {}: is a directory",
            dir.0.join("sub").display()
        )
    );
}

#[test]
fn includes_read_from_memory_files() {
    // The same names and messages as on disk: paths are joined to the includer's directory.
    let mut files = MemoryFiles::new();
    files.insert("etc/main.conf", "port: 1\ninclude sub/s.conf\nbaz = $S\n");
    files.insert("etc/sub/s.conf", "S = 5\ninclude ../missing.conf\n");
    assert_eq!(
        parse_file_from(Path::new("etc/main.conf"), &files)
            .expect_err("fails")
            .to_string(),
        "error parsing include file 'sub/s.conf', error parsing include file \
         '../missing.conf', open etc/missing.conf: no such file or directory"
    );
    files.insert("etc/missing.conf", "\n  bar: 2\n");
    let map = parse_file_from(Path::new("etc/main.conf"), &files).expect("parses");
    assert_eq!(get(&map, "baz"), &Kind::Int(5));
    let bar = map.get("bar").expect("bar");
    assert_eq!(bar.pos.file.as_ref(), Path::new("etc/missing.conf"));
    assert_eq!(at(bar), (2, 3));
    assert_eq!(
        parse_file_from(Path::new("nope.conf"), &files)
            .expect_err("fails")
            .to_string(),
        "open nope.conf: no such file or directory"
    );
}

#[test]
fn absolute_include_paths_are_joined_like_go() {
    // ✓ref: Go's filepath.Join puts an absolute include under the directory.
    let dir = TempDir::new("include-absolute");
    let target = dir.write("x.conf", "a = 1\n");
    let text = format!("include {}\n", target.display());
    let origin = dir.0.join("main.conf");
    let message = parse_str(&text, &origin).expect_err("fails").to_string();
    let joined = format!("{}{}", dir.0.display(), target.display());
    assert_eq!(
        message,
        format!(
            "error parsing include file '{}', open {joined}: no such file or directory",
            target.display()
        )
    );
}

#[test]
fn include_cycles_hit_the_document_limit() {
    // The reference recurses until it crashes; we stop at MAX_DOCUMENTS.
    let dir = TempDir::new("include-cycle");
    let main = dir.write("m.conf", "include m.conf\n");
    let message = parse_file(&main).expect_err("fails").to_string();
    let prefix = "error parsing include file 'm.conf', ".repeat(MAX_DOCUMENTS + 1);
    assert_eq!(
        message,
        format!("{prefix}includes nested deeper than {MAX_DOCUMENTS} levels")
    );
}

#[test]
fn include_inserts_into_the_enclosing_map() {
    let dir = TempDir::new("include-into-map");
    dir.write("q.conf", "Q = 7\nport = $Q\n");
    let main = dir.write(
        "m.conf",
        "include q.conf\nhttp_port: $Q\ncluster {\n  include \"q.conf\"\n}\n",
    );
    let map = parse_file(&main).expect("parses");
    assert_eq!(get(&map, "http_port"), &Kind::Int(7));
    assert_eq!(get(submap(&map, "cluster"), "port"), &Kind::Int(7));
    assert!(
        submap(&map, "cluster")
            .entry("Q")
            .expect("Q")
            .used_as_variable
    );
}

#[test]
fn missing_main_file() {
    // ✓ref: `nats-server: open nope.conf: no such file or directory`
    let err = parse_file(Path::new("natsd-conf-missing.conf")).expect_err("fails");
    assert_eq!(err.pos, None);
    assert_eq!(
        err.to_string(),
        "open natsd-conf-missing.conf: no such file or directory"
    );
}

// ----- error messages -------------------------------------------------------------

/// Inputs and the exact error the reference prints for them (without the
/// `nats-server: ` prefix). All ✓ref (nats-server v2.9.10).
const REFERENCE_ERRORS: &[(&str, &str)] = &[
    ("port: 4222 xx", "Parse error on line 1: 'Expected a top-level value to end with a new line, comment or EOF, but got 'x' instead.'"),
    ("server_name: abc def", "Parse error on line 1: 'Expected a top-level value to end with a new line, comment or EOF, but got 'd' instead.'"),
    ("a = [1,,2]", "Parse error on line 1: 'Unexpected array value terminator ','.'"),
    ("a = [,1]", "Parse error on line 1: 'Unexpected array value terminator ','.'"),
    ("a [ /x ]", "Parse error on line 1: 'Unexpected array value terminator ','.'"),
    ("a { b: 1", "Parse error on line 1: 'Expected a map value terminator \",\" or a map terminator \"}\", but got '\0' instead.'"),
    ("a { b: 1 c", "Parse error on line 1: 'Expected a map value terminator \",\" or a map terminator \"}\", but got 'c' instead.'"),
    ("a [1", "Parse error on line 1: 'Expected an array value terminator \",\" or an array terminator \"]\", but got '\0' instead.'"),
    ("a = [1 x]", "Parse error on line 1: 'Expected an array value terminator \",\" or an array terminator \"]\", but got 'x' instead.'"),
    ("a { b: 1,", "Parse error on line 1: 'Unexpected EOF processing map.'"),
    ("a { b: , }", "Parse error on line 1: 'Unexpected map value terminator \",\".'"),
    ("a { = }", "Parse error on line 1: 'Unexpected key separator '='.'"),
    ("a { b: 1 ] }", "Parse error on line 1: 'Expected a map value terminator \",\" or a map terminator \"}\", but got ']' instead.'"),
    ("a { ] }", "Parse error on line 1: 'Unexpected array end ']' processing map.'"),
    ("a { 'b: 1 }", "Parse error on line 1: 'Unexpected EOF processing quoted map key.'"),
    ("a { \"b: 1 }", "Parse error on line 1: 'Unexpected EOF processing double quoted map key.'"),
    ("a { b", "Parse error on line 1: 'Unexpected EOF processing map key.'"),
    ("= 1", "Parse error on line 1: 'Unexpected key separator '=''"),
    (" :foo = 22", "Parse error on line 1: 'Unexpected key separator ':''"),
    ("k =\n1", "Parse error on line 2: 'Expected value but found new line'"),
    ("k = \"abc", "Parse error on line 1: 'Unexpected EOF.'"),
    ("k = 'abc", "Parse error on line 1: 'Unexpected EOF.'"),
    ("/x = 1", "Parse error on line 1: 'Unexpected EOF.'"),
    ("port: 1\n\0garbage", "Parse error on line 2: 'Unexpected EOF.'"),
    ("k = (\nabc\n", "Parse error on line 3: 'Unexpected EOF processing block.'"),
    ("k = \"\\q\"", "Parse error on line 1: 'Invalid escape character 'q'. Only the following escape characters are allowed: \\xXX, \\t, \\n, \\r, \\\", \\\\.'"),
    ("k = \\q", "Parse error on line 1: 'Invalid escape character 'q'. Only the following escape characters are allowed: \\xXX, \\t, \\n, \\r, \\\", \\\\.'"),
    ("k = \"\\x\"", "Parse error on line 1: 'Expected two hexadecimal digits after '\\x', but got 'x\"''"),
    ("k = \"\\xZZ\"", "Parse error on line 1: 'Expected two hexadecimal digits after '\\x', but got 'ZZ''"),
    ("k = \"\\x", "Parse error on line 1: 'Expected two hexadecimal digits after '\\x', but got '\\x''"),
    ("k = xyz\\x\n", "Parse error on line 2: 'Expected two hexadecimal digits after '\\x', but hit end of line'"),
    ("k = .5", "Parse error on line 1: 'Floats must start with a digit'"),
    ("k = -.5", "Parse error on line 1: 'Floats must start with a digit, not '.'.'"),
    ("k = -x", "Parse error on line 1: 'Expected a digit but got 'x'.'"),
    ("k = 1.", "Parse error on line 1: 'Floats must have a digit after the '.', but got '\0' instead.'"),
    ("k = 1.x", "Parse error on line 1: 'Floats must have a digit after the '.', but got 'x' instead.'"),
    ("k = 201-01-02T15:04:05Z", "Parse error on line 1: 'All ISO8601 dates must be in full Zulu form.'"),
    ("k = 2016-01-02 15:04:05Z", "Parse error on line 1: 'Expected 'T' in ISO8601 datetime, but found ' ' instead.'"),
    ("k = 2016-01-0xT15:04:05Z", "Parse error on line 1: 'Expected digit in ISO8601 datetime, but found 'x' instead.'"),
    ("k = 2016-13-02T15:04:05Z", "expected Zulu formatted DateTime, but got '2016-13-02T15:04:05Z'"),
    ("k = 2016-02-30T15:04:05Z", "expected Zulu formatted DateTime, but got '2016-02-30T15:04:05Z'"),
    ("k = 99999999999999999999", "integer '99999999999999999999' is out of the range"),
    ("k = -99999999999999999999", "integer '-99999999999999999999' is out of the range"),
    ("include [x]", "Parse error on line 1: 'Expected include value but found start of an array'"),
    ("include {x}", "Parse error on line 1: 'Expected include value but found start of a map'"),
    ("include (x)", "Parse error on line 1: 'Expected include value but found start of a block'"),
    ("include 1x", "Parse error on line 1: 'Expected include value but found start of a number'"),
    ("include -x", "Parse error on line 1: 'Expected include value but found start of a number'"),
    ("include \\x", "Parse error on line 1: 'Expected include value but found escape sequence'"),
    ("include \n x", "Parse error on line 2: 'Expected include value but found new line'"),
    ("include 'abc", "Parse error on line 1: 'Unexpected EOF in quoted include'"),
    ("include \"abc", "Parse error on line 1: 'Unexpected EOF in double quoted include'"),
    ("include = x", "error parsing include file '=', open =: no such file or directory"),
    ("a: [\"x\"y]", "Parse error on line 1: 'Expected an array value terminator \",\" or an array terminator \"]\", but got 'y' instead.'"),
    ("port: 4222\n}\nfoo: 1", "Parse error on line 3: 'Expected a top-level value to end with a new line, comment or EOF, but got '1' instead.'"),
];

#[test]
fn reference_error_messages() {
    for (text, want) in REFERENCE_ERRORS {
        assert_eq!(error(text), *want, "input {text:?}");
        let err = parse_str(text, Path::new("t.conf")).expect_err("fails");
        assert!(err.pos.is_none(), "language errors carry no position");
    }
}

#[test]
fn float_out_of_range() {
    let big = format!("1{}.5", "0".repeat(400));
    assert_eq!(
        error(&format!("k = {big}")),
        format!("float '{big}' is out of the range")
    );
}

#[test]
fn key_without_value_at_end_of_input() {
    // 2.9.10 accepts these silently; v2.9.25 wording (config.md §1.2).
    let cases = [
        ("port", "config is invalid (t.conf:1:4)"),
        ("port ", "config is invalid (t.conf:1:5)"),
        ("port = \"", "config is invalid (t.conf:1:8)"),
        ("port = \"ab\\t", "config is invalid (t.conf:1:9)"),
        ("include", "config is invalid (t.conf:1:7)"),
        // v2.9.25 TestParseWithNoValuesAreInvalid
        (
            "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
            "config is invalid (t.conf:1:41)",
        ),
        ("     aaaaaaaaaaaaaaaaaaaaaaaaaaa         ", "config is invalid (t.conf:1:41)"),
        (
            "\n          \t\t# comments\n         \t\t# more\n         \t\taaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\n                        ",
            "config is invalid (t.conf:5:25)",
        ),
        ("\n                        a,a,a,a,a,a,a,a,a,a,a\n                        ", "config is invalid (t.conf:3:25)"),
    ];
    for (text, want) in cases {
        assert_eq!(error(text), want, "input {text:?}");
    }
    // A value that is only an empty unquoted string is fine (✓ref).
    assert_eq!(get(&parse("port ="), "port"), &string(""));
}

#[test]
fn errors_stop_at_the_first_one() {
    // The variable error on line 1 wins over the lexer error on line 2.
    assert_eq!(
        error("a = $NATSD_CONF_T_NOWHERE\nb = [1,,2]\n"),
        "variable reference for 'NATSD_CONF_T_NOWHERE' on line 1 can not be found"
    );
}

#[test]
fn conf_error_constructors() {
    let pos = Pos {
        file: Arc::from(Path::new("a.conf")),
        line: 2,
        col: 1,
    };
    let err = ConfError::at(pos.clone(), "bad");
    assert_eq!(err.pos, Some(pos));
    assert_eq!(err.to_string(), "a.conf:2:1: bad");
    assert_eq!(ConfError::new("plain").to_string(), "plain");
}

// ----- limits and robustness ------------------------------------------------------

#[test]
fn nesting_limit() {
    let ok = format!("a = {}{}", "[".repeat(MAX_NESTING), "]".repeat(MAX_NESTING));
    assert!(parse_str(&ok, Path::new("t.conf")).is_ok());
    let deep = format!("a = {}", "[".repeat(100_000));
    assert_eq!(
        error(&deep),
        format!("Parse error on line 1: 'Maps and arrays nested deeper than {MAX_NESTING} levels'")
    );
    let maps = "a { ".repeat(MAX_NESTING + 1);
    assert!(error(&maps).contains("nested deeper than"));
}

#[test]
fn nesting_limit_counts_environment_values() {
    let depth = MAX_NESTING / 2 + 1;
    set_env(
        "NATSD_CONF_T_DEEP",
        &format!("{}{}", "[".repeat(depth), "]".repeat(depth)),
    );
    let text = format!(
        "a = {}$NATSD_CONF_T_DEEP{}",
        "[".repeat(depth),
        "]".repeat(depth)
    );
    assert!(error(&text).contains("nested deeper than"));
}

#[test]
fn variable_copies_are_bounded() {
    // Each line doubles the previous value: 2^40 values if unchecked.
    let mut text = String::from("v0 = [1, 2]\n");
    for i in 1..=40 {
        text.push_str(&format!("v{i} = [$v{prev}, $v{prev}]\n", prev = i - 1));
    }
    let message = error(&text);
    assert!(
        message.ends_with("could not be parsed: variable references copy more than 1000000 values"),
        "{message}"
    );
    // The limit holds for the whole configuration, not for each document: an include cycle
    // copying 900 000 values per file held 32 × 900 000 values (3 GB) before it failed at
    // the 32nd include. Found with the `config` fuzz target (out of memory).
    let mut files = MemoryFiles::new();
    files.insert("main.conf", "include a.conf\n");
    files.insert(
        "a.conf",
        "x=[1,1,1,1,1,1,1,1,1,1]\n\
         y=[$x,$x,$x,$x,$x,$x,$x,$x,$x,$x]\n\
         z=[$y,$y,$y,$y,$y,$y,$y,$y,$y,$y]\n\
         w=[$z,$z,$z,$z,$z,$z,$z,$z,$z,$z]\n\
         v=[$w,$w,$w,$w,$w,$w,$w,$w,$w,$w]\n\
         u=[$v,$v,$v,$v,$v,$v,$v]\n\
         include a.conf\n",
    );
    let message = parse_file_from(Path::new("main.conf"), &files)
        .expect_err("fails")
        .to_string();
    assert_eq!(
        message,
        "error parsing include file 'a.conf', error parsing include file 'a.conf', variable \
         reference for 'w' on line 5 could not be parsed: variable references copy more than \
         1000000 values"
    );
    // Copying a deep value into a deep place cannot exceed the nesting limit.
    let half = MAX_NESTING / 2 + 1;
    let text = format!(
        "deep = {}{}\n{} x = $deep",
        "[".repeat(half),
        "]".repeat(half),
        "m { ".repeat(half)
    );
    assert_eq!(
        error(&text),
        format!(
            "variable reference for 'deep' on line 2 could not be parsed: \
             maps and arrays nested deeper than {MAX_NESTING} levels"
        )
    );
}

const SEEDS: &[&str] = &[
    "port: 4222\nhost = 0.0.0.0\ndebug true; trace: off\n",
    "cluster {\n  listen: 127.0.0.1:6222\n  routes = [\n    nats-route://a:b@h:1 # c\n  ]\n}\n",
    "authorization { users = [ {user: a, password: \"\\x41\\t\"}, {user: b} ] timeout: 0.5 }",
    "a = (\nblock\n)\nb = 2016-05-04T18:53:41Z\nc = 64MiB\nd = -1.5\ne = $a\n",
    "{ \"port\": 4222, \"x\": [1, 2, {\"y\": 'z'}] }\n}\n",
    "include 'natsd-fuzz-none.conf'\nm { include x.conf }\n",
    "x = $2a$11$abc\ny: $HOME\nz = 'q'\n// end",
];

const ALPHABET: &[u8] = b"{}[]()\"'\\$#/=:;, \n\r\t0123456789.-+kKmMbBiIxXtTeZaz\0\xff\xc3\xa9";

fn mutate(rng: &mut Rng, input: &[u8]) -> Vec<u8> {
    let mut out = input.to_vec();
    for _ in 0..=rng.below(6) {
        let byte = ALPHABET[rng.below(ALPHABET.len())];
        let at = rng.below(out.len() + 1);
        match rng.below(3) {
            0 => out.insert(at, byte),
            1 if at < out.len() => {
                out.remove(at);
            }
            _ if at < out.len() => out[at] = byte,
            _ => out.push(byte),
        }
    }
    out
}

fn random_input(rng: &mut Rng) -> Vec<u8> {
    let len = rng.below(64);
    (0..len)
        .map(|_| ALPHABET[rng.below(ALPHABET.len())])
        .collect()
}

#[test]
fn no_panics_or_hangs_on_random_input() {
    let (done, finished) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let dir = TempDir::new("fuzz");
        let origin = dir.0.join("fuzz.conf");
        let mut rng = Rng::new(0x9E37_79B9_7F4A_7C15);
        for case in 0..6000 {
            let input = if case % 4 == 0 {
                random_input(&mut rng)
            } else {
                mutate(&mut rng, SEEDS[case % SEEDS.len()].as_bytes())
            };
            std::fs::write(&origin, &input).expect("write");
            // Any Ok or Err is fine; a panic fails the test.
            let from_file = parse_file(&origin);
            if let Ok(text) = std::str::from_utf8(&input) {
                let from_str = parse_str(text, &origin);
                assert_eq!(from_file, from_str, "input {text:?}");
            }
        }
        drop(dir); // before reporting: the process may exit right after
        done.send(()).expect("report");
    });
    finished
        .recv_timeout(std::time::Duration::from_secs(120))
        .expect("fuzz run finished without panicking or hanging");
}
