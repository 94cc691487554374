//! A seeded, grammar-based generator of client sessions for the differential test
//! (tests/differential.rs), and the steps that shrink a session.
//!
//! A [`Session`] is a list of operations as raw bytes: CONNECT with random options,
//! SUB/UNSUB/PUB/HPUB/PING/PONG with valid and invalid subjects, sizes that match the payload
//! or not, headers, mixed-case verbs, `\n` or `\r\n`, client-sent INFO and server-only verbs,
//! and garbage. Each operation carries cut points: the client sends the bytes between two
//! cuts in a write of their own, after a short pause, so the server sees them in separate
//! reads. The same seed gives the same sessions.

use natsd::rng::Rng;

use super::Limits;

/// The limits classes: one server of each implementation runs per class.
pub fn limits_classes() -> Vec<(&'static str, Limits)> {
    let small = Limits {
        max_payload: Some(64),
        max_control_line: Some(64),
        ..Limits::default()
    };
    let few_subs = Limits {
        max_subscriptions: Some(2),
        max_sub_tokens: Some(2),
        ..Limits::default()
    };
    vec![
        ("default", Limits::default()),
        ("small", small),
        ("few_subs", few_subs),
    ]
}

/// One operation: its bytes and the offsets in them (ascending, at most `bytes.len()`)
/// where the client starts a new write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Op {
    pub bytes: Vec<u8>,
    pub cuts: Vec<usize>,
}

/// A client session: the limits class of the server it runs against, and its operations.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    pub class: usize,
    pub ops: Vec<Op>,
}

impl Session {
    /// The bytes to send, one element per write.
    pub fn pieces(&self) -> Vec<Vec<u8>> {
        let mut pieces = vec![Vec::new()];
        for op in &self.ops {
            let mut last = 0;
            for &cut in &op.cuts {
                pieces
                    .last_mut()
                    .expect("never empty")
                    .extend_from_slice(&op.bytes[last..cut]);
                pieces.push(Vec::new());
                last = cut;
            }
            pieces
                .last_mut()
                .expect("never empty")
                .extend_from_slice(&op.bytes[last..]);
        }
        pieces.retain(|p| !p.is_empty());
        pieces
    }

    /// Smaller sessions to try, simplest first: without a run of operations, without a cut,
    /// without a run of bytes of one operation.
    pub fn shrink_candidates(&self) -> Vec<Session> {
        let mut out = self.without_op_runs();
        out.extend(self.without_cuts());
        out.extend(self.without_byte_runs());
        out
    }

    fn without_op_runs(&self) -> Vec<Session> {
        runs(self.ops.len())
            .map(|(start, len)| {
                let mut s = self.clone();
                s.ops.drain(start..start + len);
                s
            })
            .collect()
    }

    fn without_cuts(&self) -> Vec<Session> {
        let mut out = Vec::new();
        for (i, op) in self.ops.iter().enumerate() {
            for c in 0..op.cuts.len() {
                let mut s = self.clone();
                s.ops[i].cuts.remove(c);
                out.push(s);
            }
        }
        out
    }

    fn without_byte_runs(&self) -> Vec<Session> {
        let mut out = Vec::new();
        for (i, op) in self.ops.iter().enumerate() {
            for (start, len) in runs(op.bytes.len()) {
                let mut s = self.clone();
                let op = &mut s.ops[i];
                op.bytes.drain(start..start + len);
                let end = start + len;
                for cut in &mut op.cuts {
                    if *cut >= end {
                        *cut -= len;
                    } else if *cut > start {
                        *cut = start;
                    }
                }
                op.cuts.dedup();
                out.push(s);
            }
        }
        out
    }
}

/// Runs `(start, len)` of `n` items to drop: halves first, then quarters, ... down to
/// single items.
fn runs(n: usize) -> impl Iterator<Item = (usize, usize)> {
    let sizes = std::iter::successors((n > 0).then_some(n.div_ceil(2)), |&s| {
        (s > 1).then_some(s / 2)
    });
    sizes.flat_map(move |size| {
        (0..n)
            .step_by(size)
            .map(move |start| (start, size.min(n - start)))
    })
}

/// Generates session `index` of `seed`.
pub fn generate(seed: u64, index: u64) -> Session {
    let mut g = Gen {
        rng: Rng::new(seed ^ index.wrapping_mul(0xD6E8_FEB8_6659_FD93)),
    };
    let class = g.rng.below(limits_classes().len());
    let count = 1 + g.rng.below(12);
    let mut ops = Vec::with_capacity(count + 1);
    if g.rng.chance(90) {
        ops.push(g.connect());
    }
    for _ in 0..count {
        ops.push(g.op());
    }
    let ops = ops.into_iter().map(|bytes| g.cut(bytes)).collect();
    Session { class, ops }
}

/// Subject tokens: few, so that publishes often meet subscriptions.
const TOKENS: &[&str] = &["foo", "bar", "a", "_INBOX", "$SYS", "x-1"];
/// Malformed or wildcard subjects.
const ODD_SUBJECTS: &[&str] = &[
    "foo.*",
    "foo.>",
    "*",
    ">",
    "foo.>.bar",
    "fo*o",
    "f>",
    "foo..bar",
    ".foo",
    "foo.",
    ".",
    "*.bar",
    "foo\tbar",
    "foo bar",
    "_GR_.x.y",
    "$MQTT.sub.x",
    "$JS.API.x",
];
/// Bytes garbage is made of.
const GARBAGE: &[u8] = b"PUBSINGOK+-ERpubsing {}\"019 \t\r\n\r\n.*>\x00\xff\xc3";

/// The session grammar, drawing from its random stream.
struct Gen {
    rng: Rng,
}

impl Gen {
    /// One operation after the first.
    fn op(&mut self) -> Vec<u8> {
        match self.rng.below(100) {
            0..=24 => self.publish(),
            25..=41 => self.sub(),
            42..=53 => self.hpub(),
            54..=61 => self.unsub(),
            62..=73 => self.line("PING", &[]),
            74..=77 => self.line("PONG", &[]),
            78..=81 => self.connect(),
            82..=84 => self.client_info(),
            85..=88 => self.server_only_op(),
            _ => self.garbage(),
        }
    }

    /// A verb, as written, or in lower or mixed case.
    fn verb(&mut self, verb: &str) -> String {
        match self.rng.below(10) {
            0 => verb.to_ascii_lowercase(),
            1 => verb
                .chars()
                .map(|c| {
                    if self.rng.chance(50) {
                        c.to_ascii_lowercase()
                    } else {
                        c
                    }
                })
                .collect(),
            _ => verb.to_string(),
        }
    }

    /// The blanks between arguments.
    fn sep(&mut self) -> &'static str {
        if self.rng.chance(90) {
            " "
        } else {
            self.rng.pick(&["  ", "\t", " \t"])
        }
    }

    /// A line end: `\r\n` mostly, else `\n`.
    fn eol(&mut self) -> &'static str {
        if self.rng.chance(85) {
            "\r\n"
        } else {
            "\n"
        }
    }

    /// `verb args...` and a line end.
    fn line(&mut self, verb: &str, args: &[String]) -> Vec<u8> {
        let mut s = self.verb(verb);
        for a in args {
            s.push_str(self.sep());
            s.push_str(a);
        }
        s.push_str(self.eol());
        s.into_bytes()
    }

    /// A subject: mostly one to three plain tokens, sometimes a wildcard or a malformed one.
    fn subject(&mut self) -> String {
        if self.rng.chance(15) {
            return self.rng.pick(ODD_SUBJECTS).to_string();
        }
        let n = 1 + self.rng.below(3);
        let tokens: Vec<&str> = (0..n).map(|_| self.rng.pick(TOKENS)).collect();
        tokens.join(".")
    }

    /// A subscription subject: wildcards are common here.
    fn sub_subject(&mut self) -> String {
        match self.rng.below(10) {
            0 => "foo.*".to_string(),
            1 => ">".to_string(),
            2 => format!("{}.>", self.rng.pick(TOKENS)),
            _ => self.subject(),
        }
    }

    fn sid(&mut self) -> String {
        self.rng.pick(&["1", "2", "3", "10"]).to_string()
    }

    /// Between zero and two more or fewer arguments than the grammar wants, now and then.
    fn args_mangled(&mut self, mut args: Vec<String>) -> Vec<String> {
        match self.rng.below(25) {
            0 if !args.is_empty() => {
                args.remove(self.rng.below(args.len()));
            }
            1 => args.push(self.sid()),
            _ => {}
        }
        args
    }

    fn sub(&mut self) -> Vec<u8> {
        let mut args = vec![self.sub_subject()];
        if self.rng.chance(20) {
            args.push(self.rng.pick(&["q", "g1"]).to_string());
        }
        args.push(self.sid());
        let args = self.args_mangled(args);
        self.line("SUB", &args)
    }

    fn unsub(&mut self) -> Vec<u8> {
        let mut args = vec![self.sid()];
        if self.rng.chance(30) {
            args.push(self.rng.pick(&["0", "1", "2", "x", "-1"]).to_string());
        }
        let args = self.args_mangled(args);
        self.line("UNSUB", &args)
    }

    /// A payload: short mostly, sometimes around the small class's 64-byte limit, now
    /// and then larger than the reference's first read buffer (512 bytes).
    fn payload(&mut self) -> Vec<u8> {
        let len = match self.rng.below(40) {
            0..=3 => 60 + self.rng.below(10),
            4..=7 => 0,
            8 => 500 + self.rng.below(1500),
            _ => self.rng.below(16),
        };
        (0..len)
            .map(|_| {
                *self
                    .rng
                    .pick(&[&b'h', &b'i', &b' ', &b'\r', &b'\n', &b'.', &b'7'])
            })
            .collect()
    }

    /// The size written for `len` bytes: right mostly, else off by one, malformed or huge.
    fn size(&mut self, len: usize) -> String {
        match self.rng.below(40) {
            0 => (len + 1).to_string(),
            1 if len > 0 => (len - 1).to_string(),
            2 => self
                .rng
                .pick(&["x", "-1", "1x", "99999999999999999999"])
                .to_string(),
            3 => "2000000".to_string(),
            _ => len.to_string(),
        }
    }

    /// Optional reply subject (often one the session may subscribe to).
    fn reply(&mut self) -> Option<String> {
        self.rng.chance(30).then(|| match self.rng.below(3) {
            0 => "foo.r".to_string(),
            _ => self.subject(),
        })
    }

    /// What follows a payload: its `\r\n` mostly.
    fn trailer(&mut self) -> &'static [u8] {
        match self.rng.below(30) {
            0 => b"\n",
            1 => b"xx",
            2 => b"",
            _ => b"\r\n",
        }
    }

    fn publish(&mut self) -> Vec<u8> {
        let payload = self.payload();
        let mut args = vec![self.subject()];
        args.extend(self.reply());
        args.push(self.size(payload.len()));
        let args = self.args_mangled(args);
        let mut bytes = self.line("PUB", &args);
        bytes.extend_from_slice(&payload);
        bytes.extend_from_slice(self.trailer());
        bytes
    }

    /// A header block: well formed mostly, a status line, or garbage.
    fn headers(&mut self) -> Vec<u8> {
        let text = match self.rng.below(8) {
            0 => "NATS/1.0 503\r\n\r\n",
            1 => "XXX\r\n\r\n",
            2 => "NATS/1.0\r\n",
            3 => "",
            _ => "NATS/1.0\r\nK: v\r\n\r\n",
        };
        text.as_bytes().to_vec()
    }

    fn hpub(&mut self) -> Vec<u8> {
        let headers = self.headers();
        let payload = self.payload();
        let total = headers.len() + payload.len();
        let mut args = vec![self.subject()];
        args.extend(self.reply());
        args.push(self.size(headers.len()));
        args.push(match self.rng.below(20) {
            0 => (headers.len().saturating_sub(1)).to_string(),
            _ => self.size(total),
        });
        let args = self.args_mangled(args);
        let mut bytes = self.line("HPUB", &args);
        bytes.extend_from_slice(&headers);
        bytes.extend_from_slice(&payload);
        bytes.extend_from_slice(self.trailer());
        bytes
    }

    /// CONNECT with a random subset of options, or a malformed document.
    fn connect(&mut self) -> Vec<u8> {
        if self.rng.chance(5) {
            let doc = self.rng.pick(&["{", "{\"verbose\":tru}", "[]", "x", "{}}"]);
            return self.line("CONNECT", &[doc.to_string()]);
        }
        let mut fields: Vec<String> = Vec::new();
        for key in ["verbose", "pedantic", "headers", "echo", "no_responders"] {
            if self.rng.chance(50) {
                fields.push(format!("\"{key}\":{}", self.rng.chance(50)));
            }
        }
        if self.rng.chance(40) {
            let protocol = self.rng.pick(&["0", "1", "1", "2", "-1", "\"1\""]);
            fields.push(format!("\"protocol\":{protocol}"));
        }
        if self.rng.chance(30) {
            fields.push(r#""lang":"rust","version":"1.0","name":"gen""#.to_string());
        }
        if self.rng.chance(10) {
            fields.push(r#""unknown":[1,{"a":null}]"#.to_string());
        }
        let doc = format!("{{{}}}", fields.join(","));
        self.line("CONNECT", &[doc])
    }

    /// INFO from the client: a document, a malformed one, or none.
    fn client_info(&mut self) -> Vec<u8> {
        let arg = self.rng.pick(&["{}", "{\"server_id\":\"x\"}", "{bad", "x"]);
        self.line("INFO", &[arg.to_string()])
    }

    /// Operations only a server or a route sends, and an empty line.
    fn server_only_op(&mut self) -> Vec<u8> {
        let op = self.rng.pick(&[
            "+OK\r\n",
            "-ERR 'x'\r\n",
            "MSG foo 1 2\r\nhi\r\n",
            "RS+ $G foo\r\n",
            "\r\n",
            "LS+ foo\r\n",
        ]);
        op.as_bytes().to_vec()
    }

    /// One to eight bytes of noise.
    fn garbage(&mut self) -> Vec<u8> {
        let len = 1 + self.rng.below(8);
        (0..len)
            .map(|_| GARBAGE[self.rng.below(GARBAGE.len())])
            .collect()
    }

    /// Cut points for `bytes`: none mostly, else one or two.
    fn cut(&mut self, bytes: Vec<u8>) -> Op {
        let mut cuts = Vec::new();
        if self.rng.chance(25) {
            for _ in 0..1 + self.rng.below(2) {
                cuts.push(self.rng.below(bytes.len() + 1));
            }
        }
        cuts.sort_unstable();
        cuts.dedup();
        Op { bytes, cuts }
    }
}
