//! Client protocol, byte for byte: every op, every single-node -ERR of protocol.md §3 and the
//! §7 transcripts. Each test runs against the reference `nats-server` (when installed) and
//! natsd.

mod common;

use std::time::Duration;

use common::{check, for_each_server, Limits, Transcript, Wire};

/// CONNECT with verbose off (no `+OK` noise).
const QUIET: &str = "CONNECT {\"verbose\":false}\r\n";
/// CONNECT with verbose off and headers on.
const QUIET_HEADERS: &str = "CONNECT {\"verbose\":false,\"headers\":true}\r\n";
const OK: &str = "+OK\r\n";
const ERR_UNKNOWN_OP: &str = "-ERR 'Unknown Protocol Operation'\r\n";

fn t() -> Transcript {
    Transcript::new()
}

fn defaults() -> Limits {
    Limits::default()
}

/// One connection per input, each answered by `err` (if any) and a close.
fn each_closes(inputs: &[&[u8]], err: Option<&str>) -> Transcript {
    let mut t = t();
    for (i, input) in inputs.iter().enumerate() {
        t = t.conn(i).send(input);
        if let Some(e) = err {
            t = t.expect(e);
        }
        t = t.expect_closed();
    }
    t
}

// ---------------------------------------------------------------- INFO

#[test]
fn info_on_connect() {
    for_each_server(&defaults(), |s| {
        let mut a = s.connect();
        let info = a.read_info();
        assert_eq!(info["proto"], 1);
        assert_eq!(info["headers"], true);
        assert_eq!(info["max_payload"], 1048576);
        assert_eq!(info["host"], "127.0.0.1");
        assert_eq!(info["port"], s.addr().port());
        assert_eq!(info["client_ip"], "127.0.0.1");
        let id = info["server_id"].as_str().expect("server_id");
        assert!(id.len() == 56 && id.starts_with('N'), "server_id {id}");
        assert_eq!(info["server_name"], info["server_id"]);
        for absent in [
            "auth_required",
            "tls_required",
            "nonce",
            "connect_urls",
            "ldm",
        ] {
            assert!(info.get(absent).is_none(), "{absent} in {info}");
        }
        // client_id grows with each connection.
        let mut b = s.connect();
        let next = b.read_info();
        assert!(next["client_id"].as_u64() > info["client_id"].as_u64());
        // INFO comes first, unasked; nothing follows it: the next bytes are the answer to
        // a PING.
        b.send(b"PING\r\n");
        b.expect(b"PONG\r\n");
    });
}

// ---------------------------------------------------------------- §7 transcripts

#[test]
fn plain_pub_sub() {
    check(
        &defaults(),
        &t().send(QUIET)
            .send("SUB foo 1\r\n")
            .send("PUB foo 5\r\nhello\r\n")
            .expect("MSG foo 1 5\r\nhello\r\n")
            .send("PUB foo bar 2\r\nhi\r\n")
            .expect("MSG foo 1 bar 2\r\nhi\r\n")
            .send("PUB other 2\r\nhi\r\n")
            .ping_pong(),
    );
}

#[test]
fn pub_sub_between_connections() {
    check(
        &defaults(),
        &t().conn(1)
            .send(QUIET)
            .send("SUB foo.* 7\r\n")
            .ping_pong()
            .conn(0)
            .send(QUIET)
            .send("PUB foo.bar _INBOX.1 3\r\nabc\r\n")
            .ping_pong()
            .conn(1)
            .expect("MSG foo.bar 7 _INBOX.1 3\r\nabc\r\n")
            .ping_pong(),
    );
}

#[test]
fn telnet_style_bare_lf_lower_case() {
    check(
        &defaults(),
        &t().send("sub foo 1\n")
            .expect(OK)
            .send("pub foo 2\nhi\r\n")
            .expect("+OK\r\nMSG foo 1 2\r\nhi\r\n")
            .send("ping\n")
            .expect("PONG\r\n")
            .send("Pub foo 1\r\nx\r\n")
            .expect("+OK\r\nMSG foo 1 1\r\nx\r\n")
            .send("uNsUb 1\n")
            .expect(OK)
            .send("pUb foo 1\nx\r\n")
            .expect(OK)
            .ping_pong(),
    );
}

#[test]
fn verbose_ok_ordering() {
    check(
        &defaults(),
        &t().send("CONNECT {\"verbose\":true}\r\n")
            .expect(OK)
            .send("SUB foo 1\r\n")
            .expect(OK)
            .send("PUB foo 2\r\nhi\r\n")
            .expect("+OK\r\nMSG foo 1 2\r\nhi\r\n")
            .send("UNSUB 1\r\n")
            .expect(OK)
            .send("PUB foo 2\r\nhi\r\n")
            .expect(OK)
            .ping_pong()
            // CONNECT {} keeps the default verbose=true.
            .send("CONNECT {}\r\n")
            .expect(OK),
    );
}

#[test]
fn headers_hmsg_and_stripped_msg() {
    check(
        &defaults(),
        &t().conn(0)
            .send(QUIET_HEADERS)
            .send("SUB foo 1\r\n")
            .ping_pong()
            .conn(1)
            .send(QUIET)
            .send("SUB foo 1\r\n")
            .ping_pong()
            .conn(0)
            .send("HPUB foo rep 18 20\r\nNATS/1.0\r\nA: B\r\n\r\nhi\r\n")
            .expect("HMSG foo 1 rep 18 20\r\nNATS/1.0\r\nA: B\r\n\r\nhi\r\n")
            .send("HPUB foo 12 12\r\nNATS/1.0\r\n\r\n\r\n")
            .expect("HMSG foo 1 12 12\r\nNATS/1.0\r\n\r\n\r\n")
            // A plain PUB reaches a headers subscriber as MSG.
            .send("PUB foo 2\r\nok\r\n")
            .expect("MSG foo 1 2\r\nok\r\n")
            .ping_pong()
            .conn(1)
            .expect("MSG foo 1 rep 2\r\nhi\r\n")
            .expect("MSG foo 1 0\r\n\r\n")
            .expect("MSG foo 1 2\r\nok\r\n")
            .ping_pong(),
    );
}

#[test]
fn no_responders_503() {
    check(
        &defaults(),
        &t().send("CONNECT {\"verbose\":false,\"headers\":true,\"no_responders\":true}\r\n")
            .send("SUB _INBOX.x 1\r\nPUB svc _INBOX.x 0\r\n\r\n")
            .expect("HMSG _INBOX.x 1 16 16\r\nNATS/1.0 503\r\n\r\n\r\n")
            // A wildcard sub of the publisher matches the reply too.
            .send("SUB _INBOX.* 2\r\nUNSUB 1\r\nPUB svc _INBOX.y 2\r\nhi\r\n")
            .expect("HMSG _INBOX.y 2 16 16\r\nNATS/1.0 503\r\n\r\n\r\n")
            // No sub of the publisher matches the reply: nothing.
            .send("PUB svc other.reply 0\r\n\r\n")
            .ping_pong()
            // A responder exists: the request is delivered, no 503.
            .send("SUB svc 3\r\nPUB svc _INBOX.z 1\r\nq\r\n")
            .expect("MSG svc 3 _INBOX.z 1\r\nq\r\n")
            .ping_pong(),
    );
}

#[test]
fn queue_group_one_delivery_per_message() {
    const N: usize = 60;
    for_each_server(&defaults(), |s| {
        let members: Vec<Wire> = (0..3)
            .map(|_| {
                let mut w = s.connect();
                w.read_info();
                w.send(b"CONNECT {\"verbose\":false}\r\nSUB foo grp 1\r\nPING\r\n");
                w.expect(b"PONG\r\n");
                w
            })
            .collect();
        let mut plain = s.connect();
        plain.read_info();
        plain.send(b"CONNECT {\"verbose\":false}\r\nSUB foo 9\r\nSUB foo other 8\r\nPING\r\n");
        plain.expect(b"PONG\r\n");

        let mut publisher = s.connect();
        publisher.read_info();
        publisher.send(QUIET.as_bytes());
        publisher.send(&b"PUB foo 1\r\nx\r\n".repeat(N));
        publisher.send(b"PING\r\n");
        publisher.expect(b"PONG\r\n");

        let mut total = 0;
        for mut m in members {
            m.send(b"PING\r\n");
            let got = m.read_until(|b| b.ends_with(b"PONG\r\n").then_some(b.len()));
            let msgs = got.len() / b"MSG foo 1 1\r\nx\r\n".len();
            let expected = [b"MSG foo 1 1\r\nx\r\n".repeat(msgs), b"PONG\r\n".to_vec()].concat();
            assert_eq!(got, expected, "member got {}", common::esc(&got));
            assert!(msgs > 0, "a member got nothing of {N}: not random");
            total += msgs;
        }
        assert_eq!(total, N, "queue group deliveries");
        // A plain sub and a queue sub on the same connection each get every message.
        plain.send(b"PING\r\n");
        let got = plain.read_until(|b| b.ends_with(b"PONG\r\n").then_some(b.len()));
        let (to_plain, to_queue) = (&b"MSG foo 9 1\r\nx\r\n"[..], &b"MSG foo 8 1\r\nx\r\n"[..]);
        let (mut rest, mut counts) = (&got[..got.len() - 6], (0, 0));
        while !rest.is_empty() {
            if let Some(r) = rest.strip_prefix(to_plain) {
                (rest, counts.0) = (r, counts.0 + 1);
            } else if let Some(r) = rest.strip_prefix(to_queue) {
                (rest, counts.1) = (r, counts.1 + 1);
            } else {
                panic!("unexpected {}", common::esc(rest));
            }
        }
        assert_eq!(
            counts,
            (N, N),
            "plain sub and one-member group on one connection"
        );
    });
}

#[test]
fn auto_unsubscribe_counts_earlier_deliveries() {
    check(
        &defaults(),
        &t().send(QUIET)
            .send("SUB foo 1\r\nPUB foo 1\r\na\r\n")
            .expect("MSG foo 1 1\r\na\r\n")
            .send("UNSUB 1 2\r\n")
            .send("PUB foo 1\r\nb\r\nPUB foo 1\r\nc\r\nPUB foo 1\r\nd\r\n")
            .expect("MSG foo 1 1\r\nb\r\n")
            .ping_pong()
            // UNSUB with max before any delivery.
            .send("SUB bar 2\r\nUNSUB 2 1\r\nPUB bar 1\r\ne\r\nPUB bar 1\r\nf\r\n")
            .expect("MSG bar 2 1\r\ne\r\n")
            .ping_pong(),
    );
}

#[test]
fn unsub_max_not_above_delivered_unsubscribes_now() {
    check(
        &defaults(),
        &t().send(QUIET)
            .send("SUB foo 1\r\nPUB foo 1\r\na\r\nPUB foo 1\r\nb\r\n")
            .expect("MSG foo 1 1\r\na\r\nMSG foo 1 1\r\nb\r\n")
            .send("UNSUB 1 2\r\nPUB foo 1\r\nc\r\n")
            .ping_pong()
            .send("SUB bar 2\r\nPUB bar 1\r\na\r\n")
            .expect("MSG bar 2 1\r\na\r\n")
            .send("UNSUB 2 1\r\nPUB bar 1\r\nb\r\n")
            .ping_pong()
            // max 0 and a non-numeric max (-1) also unsubscribe at once.
            .send("SUB baz 3\r\nUNSUB 3 0\r\nSUB baz 4\r\nUNSUB 4 x\r\nPUB baz 1\r\nc\r\n")
            .ping_pong(),
    );
}

#[test]
fn echo_false() {
    check(
        &defaults(),
        &t().conn(1)
            .send(QUIET)
            .send("SUB foo 1\r\n")
            .ping_pong()
            .conn(0)
            .send("CONNECT {\"verbose\":false,\"echo\":false}\r\n")
            .send("SUB foo 1\r\nPUB foo 2\r\nhi\r\n")
            .ping_pong()
            .conn(1)
            .expect("MSG foo 1 2\r\nhi\r\n")
            // Echo is per publisher: conn 1 still gets its own message.
            .send("PUB foo 3\r\nyou\r\n")
            .expect("MSG foo 1 3\r\nyou\r\n")
            .ping_pong()
            .conn(0)
            .expect("MSG foo 1 3\r\nyou\r\n")
            .ping_pong(),
    );
}

#[test]
fn duplicate_sid_ignored() {
    check(
        &defaults(),
        &t().send("SUB foo 1\r\n")
            .expect(OK)
            .send("SUB bar 1\r\n")
            .expect(OK)
            .send("PUB bar 1\r\nx\r\n")
            .expect(OK)
            .send("PUB foo 1\r\ny\r\n")
            .expect("+OK\r\nMSG foo 1 1\r\ny\r\n")
            .ping_pong(),
    );
}

#[test]
fn sid_is_any_token() {
    check(
        &defaults(),
        &t().send(QUIET)
            .send("SUB foo abc.def\r\nSUB bar *>x\r\n")
            .send("PUB foo 2\r\nhi\r\nPUB bar 0\r\n\r\n")
            .expect("MSG foo abc.def 2\r\nhi\r\nMSG bar *>x 0\r\n\r\n")
            .send("UNSUB abc.def\r\nPUB foo 2\r\nhi\r\n")
            .ping_pong(),
    );
}

#[test]
fn queue_name_is_any_token() {
    // One group at a time: the order in which distinct groups are served is not defined.
    let mut t = t();
    for (sid, queue) in ["*", "a..b", ">"].iter().enumerate() {
        t = t
            .send(format!("SUB foo {queue} {sid}\r\n"))
            .expect(OK)
            .send("PUB foo 1\r\nx\r\n")
            .expect(format!("+OK\r\nMSG foo {sid} 1\r\nx\r\n"))
            .send(format!("UNSUB {sid}\r\n"))
            .expect(OK);
    }
    check(&defaults(), &t.ping_pong());
}

#[test]
fn wildcard_subscriptions() {
    check(
        &defaults(),
        &t().send(QUIET)
            .send("SUB foo.* 1\r\nSUB foo.> 2\r\nSUB * 3\r\n")
            .send("PUB foo.a.b 1\r\nx\r\n")
            .expect("MSG foo.a.b 2 1\r\nx\r\n")
            .send("PUB foo 1\r\ny\r\n")
            .expect("MSG foo 3 1\r\ny\r\n")
            .send("PUB bar.baz 1\r\nz\r\n")
            .ping_pong(),
    );
}

#[test]
fn pub_zero_bytes() {
    check(
        &defaults(),
        &t().send(QUIET)
            .send("SUB foo 1\r\nPUB foo 0\r\n\r\nPUB foo r 0\r\n\r\n")
            .expect("MSG foo 1 0\r\n\r\nMSG foo 1 r 0\r\n\r\n")
            .ping_pong(),
    );
}

#[test]
fn payload_containing_crlf() {
    check(
        &defaults(),
        &t().send(QUIET)
            .send("SUB foo 1\r\nPUB foo 6\r\na\r\nb\r\n\r\n")
            .expect("MSG foo 1 6\r\na\r\nb\r\n\r\n")
            // A payload split across writes: the server waits for the rest.
            .send("PUB foo 8\r\nPING\r\n")
            .silence(100)
            .send("ab\r\n")
            .expect("MSG foo 1 8\r\nPING\r\nab\r\n")
            .ping_pong(),
    );
}

#[test]
fn tabs_and_multiple_spaces() {
    check(
        &defaults(),
        &t().send(QUIET)
            .send("SUB\t foo \t 1 \r\n")
            .send("PUB \tfoo\t\t3\r\nabc\r\n")
            .expect("MSG foo 1 3\r\nabc\r\n")
            .send("PUB  foo   r\t3 \r\nabc\r\n")
            .expect("MSG foo 1 r 3\r\nabc\r\n")
            .send("UNSUB\t 1\t\r\nPUB foo 3\r\nabc\r\n")
            .ping_pong(),
    );
}

#[test]
fn connect_without_space() {
    check(
        &defaults(),
        &t().send("CONNECT{\"verbose\":false}\r\n")
            .send("SUB foo 1\r\nPUB foo 1\r\nx\r\n")
            .expect("MSG foo 1 1\r\nx\r\n")
            .ping_pong(),
    );
}

#[test]
fn ping_suffix_ignored() {
    check(
        &defaults(),
        &t().send("PINGX\r\n")
            .expect("PONG\r\n")
            .send("PING foo\r\n")
            .expect("PONG\r\n")
            .send("ping\r\r\n")
            .expect("PONG\r\n")
            .send("PiNg\n")
            .expect("PONG\r\n"),
    );
}

#[test]
fn client_pong_ok_info_ignored() {
    check(
        &defaults(),
        &t().send("PONG\r\n+OK\r\nINFO {\"x\":1}\r\nPONGany\r\n+OKay\r\n")
            .ping_pong(),
    );
}

#[test]
fn unsub_unknown_sid_ok() {
    check(
        &defaults(),
        &t().send("UNSUB 99\r\n")
            .expect(OK)
            .send("UNSUB 99 5\r\n")
            .expect(OK)
            .ping_pong(),
    );
}

// ---------------------------------------------------------------- -ERR, connection closed

#[test]
fn err_unknown_op() {
    check(
        &defaults(),
        &each_closes(
            &[b"FOO\r\n", b"SUBSCRIBE foo 1\r\n", b"x"],
            Some(ERR_UNKNOWN_OP),
        ),
    );
}

#[test]
fn err_empty_line() {
    check(
        &defaults(),
        &each_closes(&[b"\r\n", b"\n"], Some(ERR_UNKNOWN_OP))
            .conn(2)
            .send("PING\r\n\r\n")
            .expect("PONG\r\n")
            .expect(ERR_UNKNOWN_OP)
            .expect_closed(),
    );
}

#[test]
fn err_bad_byte_after_payload() {
    check(
        &defaults(),
        &each_closes(
            &[
                b"PUB foo 2\r\nhiX\r\n",
                b"PUB foo 2\r\nhi\n",
                b"PUB foo 2\r\nhi\rX",
                b"CONNECT {\"headers\":true,\"verbose\":false}\r\nHPUB foo 12 12\r\nNATS/1.0\r\n\r\nXX",
            ],
            Some(ERR_UNKNOWN_OP),
        ),
    );
}

#[test]
fn err_msg_from_client() {
    check(
        &defaults(),
        &each_closes(
            &[b"MSG foo 1 2\r\nhi\r\n", b"msg foo 1 2\r\nhi\r\n"],
            Some(ERR_UNKNOWN_OP),
        ),
    );
}

#[test]
fn err_route_ops_from_client() {
    check(
        &defaults(),
        &each_closes(
            &[
                b"RS+ $G foo\r\n",
                b"RS- $G foo\r\n",
                b"RMSG $G foo 1\r\nx\r\n",
                b"LS+ foo\r\n",
                b"A+ foo\r\n",
            ],
            Some(ERR_UNKNOWN_OP),
        ),
    );
}

#[test]
fn err_hmsg_from_client() {
    check(
        &defaults(),
        &each_closes(
            &[b"HMSG foo 1 12 12\r\nNATS/1.0\r\n\r\n\r\n"],
            Some(ERR_UNKNOWN_OP),
        ),
    );
}

#[test]
fn err_missing_space_after_verb() {
    check(
        &defaults(),
        &each_closes(
            &[
                b"PUBfoo 1\r\nx\r\n",
                b"SUBfoo 1\r\n",
                b"UNSUB\r\n",
                b"HPUBfoo 12 12\r\n",
                b"PUB\r\n",
            ],
            Some(ERR_UNKNOWN_OP),
        ),
    );
}

#[test]
fn err_max_control_line() {
    let limits = Limits {
        max_control_line: Some(64),
        ..defaults()
    };
    let at_limit = format!("SUB {} 1\r\n", "a".repeat(62)); // arg is exactly 64 bytes
    let over = format!("SUB {} 1\r\n", "a".repeat(63));
    check(
        &limits,
        &t().send(&at_limit)
            .expect(OK)
            .send(&over)
            .expect("-ERR 'maximum control line exceeded'\r\n")
            .expect_closed(),
    );
}

#[test]
fn err_max_control_line_default_4096() {
    let at_limit = format!("PUB {} 1\r\nx\r\n", "a".repeat(4094));
    let over = format!("PUB {} 1\r\nx\r\n", "a".repeat(4095));
    check(
        &defaults(),
        &t().send(&at_limit)
            .expect(OK)
            .send(&over)
            .expect("-ERR 'maximum control line exceeded'\r\n")
            .expect_closed(),
    );
}

#[test]
fn err_max_control_line_unterminated() {
    let limits = Limits {
        max_control_line: Some(64),
        ..defaults()
    };
    let long = format!("SUB {}", "a".repeat(100));
    let long_connect = format!("CONNECT {{\"name\":\"{}", "a".repeat(100));
    check(
        &limits,
        &each_closes(
            &[long.as_bytes(), long_connect.as_bytes()],
            Some("-ERR 'maximum control line exceeded'\r\n"),
        ),
    );
}

#[test]
fn err_max_payload() {
    let limits = Limits {
        max_payload: Some(16),
        ..defaults()
    };
    let infos = check(
        &limits,
        &t().send(QUIET)
            .send("SUB foo 1\r\nPUB foo 16\r\n0123456789abcdef\r\n")
            .expect("MSG foo 1 16\r\n0123456789abcdef\r\n")
            .send("PUB foo 17\r\n")
            .expect("-ERR 'Maximum Payload Violation'\r\n")
            .expect_closed()
            .conn(1)
            .send(QUIET_HEADERS)
            .send("HPUB foo 12 17\r\n")
            .expect("-ERR 'Maximum Payload Violation'\r\n")
            .expect_closed(),
    );
    for run in infos {
        assert_eq!(run[&0].json["max_payload"], 16);
    }
}

#[test]
fn err_max_connections() {
    let limits = Limits {
        max_connections: Some(1),
        ..defaults()
    };
    check(
        &limits,
        &t().conn(0)
            .ping_pong()
            .conn(1)
            .expect("-ERR 'maximum connections exceeded'\r\n")
            .expect_closed()
            .conn(0)
            .ping_pong(),
    );
}

#[test]
fn err_invalid_client_protocol() {
    check(
        &defaults(),
        &each_closes(
            &[
                b"CONNECT {\"protocol\":2}\r\n",
                b"CONNECT {\"protocol\":-1}\r\n",
            ],
            Some("-ERR 'invalid client protocol'\r\n"),
        )
        .conn(2)
        .send("CONNECT {\"protocol\":1}\r\n")
        .expect(OK),
    );
}

#[test]
fn err_no_responders_requires_headers() {
    check(
        &defaults(),
        &each_closes(
            &[
                b"CONNECT {\"no_responders\":true}\r\n",
                b"CONNECT {\"no_responders\":true,\"headers\":false}\r\n",
            ],
            Some("-ERR 'no responders requires headers support'\r\n"),
        ),
    );
}

#[test]
fn err_account_in_connect() {
    check(
        &defaults(),
        &each_closes(
            &[
                b"CONNECT {\"account\":\"A\"}\r\n",
                b"CONNECT {\"new_account\":true}\r\n",
            ],
            Some("-ERR 'Authorization Violation'\r\n"),
        )
        .conn(2)
        .send("CONNECT {\"account\":\"\",\"new_account\":false}\r\n")
        .expect(OK),
    );
}

#[test]
fn err_stale_connection() {
    let limits = Limits {
        ping_interval: Some(Duration::from_secs(1)),
        ping_max: Some(2),
        ..defaults()
    };
    check(
        &limits,
        &t().expect("PING\r\n")
            .expect("PING\r\n")
            .expect("-ERR 'Stale Connection'\r\n")
            .expect_closed(),
    );
}

// ---------------------------------------------------------------- -ERR, connection kept

#[test]
fn err_invalid_subject() {
    check(
        &defaults(),
        &t().send("SUB foo..bar 1\r\n")
            .expect("-ERR 'Invalid Subject'\r\n")
            .send("SUB .foo 1\r\n")
            .expect("-ERR 'Invalid Subject'\r\n")
            .send("SUB foo. 1\r\n")
            .expect("-ERR 'Invalid Subject'\r\n")
            .send("SUB foo.>.bar 1\r\n")
            .expect("-ERR 'Invalid Subject'\r\n")
            // Wildcard characters inside a longer token are literal.
            .send("SUB b*r 1\r\n")
            .expect(OK)
            .send("SUB >x 2\r\n")
            .expect(OK)
            .send("PUB b*r 1\r\nx\r\n")
            .expect("+OK\r\nMSG b*r 1 1\r\nx\r\n")
            .ping_pong(),
    );
}

#[test]
fn err_invalid_publish_subject_still_delivered() {
    check(
        &defaults(),
        &t().send("SUB foo.* 1\r\n")
            .expect(OK)
            .send("PUB foo.* 2\r\nhi\r\n")
            .expect("-ERR 'Invalid Publish Subject'\r\n+OK\r\nMSG foo.* 1 2\r\nhi\r\n")
            .send("PUB foo..bar 1\r\nx\r\n")
            .expect("-ERR 'Invalid Publish Subject'\r\n+OK\r\n")
            .ping_pong()
            // Not pedantic: no check.
            .send("CONNECT {\"pedantic\":false}\r\n")
            .expect(OK)
            .send("PUB foo.* 2\r\nhi\r\n")
            .expect("+OK\r\nMSG foo.* 1 2\r\nhi\r\n"),
    );
}

#[test]
fn err_gr_publish_prefix() {
    check(
        &defaults(),
        &t().send("SUB _GR_.> 1\r\n")
            .expect(OK)
            .send("PUB _GR_.x 2\r\nhi\r\n")
            .expect("-ERR 'Permissions Violation for Publish to \"_GR_.x\"'\r\n")
            .ping_pong()
            // The check wants more than the bare prefix (and is case-sensitive).
            .send("PUB _GR_. 1\r\nx\r\n")
            .expect("-ERR 'Invalid Publish Subject'\r\n+OK\r\n")
            .send("SUB _gr_.x 2\r\nPUB _gr_.x 1\r\nx\r\n")
            .expect("+OK\r\n+OK\r\nMSG _gr_.x 2 1\r\nx\r\n"),
    );
}

#[test]
fn err_reserved_reply_prefixes() {
    let violation =
        |r: &str| format!("-ERR 'Permissions Violation for Publish with Reply of \"{r}\"'\r\n");
    check(
        &defaults(),
        &t().send("SUB foo 1\r\n")
            .expect(OK)
            .send("PUB foo _R_.x 2\r\nhi\r\n")
            .expect(violation("_R_.x"))
            .send("PUB foo $JS.ACK.x 2\r\nhi\r\n")
            .expect(violation("$JS.ACK.x"))
            .send("PUB foo _GR_.x 2\r\nhi\r\n")
            .expect(violation("_GR_.x"))
            // `_R_.` alone is reserved; `$JS.ACK.` and `_GR_.` need more after the prefix.
            .send("PUB foo _R_. 2\r\nhi\r\n")
            .expect(violation("_R_."))
            .send("PUB foo $JS.ACK. 1\r\nx\r\n")
            .expect("+OK\r\nMSG foo 1 $JS.ACK. 1\r\nx\r\n")
            .send("PUB foo _GR_. 1\r\nx\r\n")
            .expect("+OK\r\nMSG foo 1 _GR_. 1\r\nx\r\n")
            .ping_pong(),
    );
}

#[test]
fn err_max_subscriptions() {
    let limits = Limits {
        max_subscriptions: Some(1),
        ..defaults()
    };
    check(
        &limits,
        &t().send("SUB foo 1\r\n")
            .expect(OK)
            .send("SUB bar 2\r\n")
            .expect("-ERR 'maximum subscriptions exceeded'\r\n")
            .send("PUB bar 1\r\nx\r\n")
            .expect(OK)
            .ping_pong()
            .send("UNSUB 1\r\nSUB bar 3\r\n")
            .expect("+OK\r\n+OK\r\n")
            .send("PUB bar 1\r\nx\r\n")
            .expect("+OK\r\nMSG bar 3 1\r\nx\r\n"),
    );
}

/// The limit is checked before the sid: at the limit, a SUB that repeats a sid (which
/// would change nothing) is refused too.
#[test]
fn err_max_subscriptions_repeated_sid() {
    let limits = Limits {
        max_subscriptions: Some(1),
        ..defaults()
    };
    check(
        &limits,
        &t().send("SUB foo 1\r\n")
            .expect(OK)
            .send("SUB foo 1\r\n")
            .expect("-ERR 'maximum subscriptions exceeded'\r\n")
            .send("PUB foo 1\r\nx\r\n")
            .expect("+OK\r\nMSG foo 1 1\r\nx\r\n")
            .ping_pong(),
    );
}

#[test]
fn err_max_sub_tokens() {
    let limits = Limits {
        max_sub_tokens: Some(3),
        ..defaults()
    };
    check(
        &limits,
        &t().send("SUB a.b.c 1\r\n")
            .expect(OK)
            .send("SUB a.b.c.d 2\r\n")
            .expect(
                "-ERR 'Permissions Violation for Subscription to \"a.b.c.d\", too many tokens'\r\n",
            )
            .send("PUB a.b.c 1\r\nx\r\n")
            .expect("+OK\r\nMSG a.b.c 1 1\r\nx\r\n"),
    );
}

// ---------------------------------------------------------------- silent closes

#[test]
fn silent_close_wrong_arg_count() {
    check(
        &defaults(),
        &each_closes(
            &[
                b"PUB foo\r\n",
                b"PUB foo r 1 2\r\n",
                b"SUB foo\r\n",
                b"SUB foo q 1 x\r\n",
                b"UNSUB 1 2 3\r\n",
                b"CONNECT {\"headers\":true,\"verbose\":false}\r\nHPUB foo 12\r\n",
                b"CONNECT {\"headers\":true,\"verbose\":false}\r\nHPUB foo r x 12 12\r\n",
            ],
            None,
        ),
    );
}

#[test]
fn silent_close_bad_sizes() {
    check(
        &defaults(),
        &each_closes(
            &[
                b"PUB foo x\r\n",
                b"PUB foo -1\r\n",
                b"PUB foo 99999999999999999999\r\n",
                b"CONNECT {\"headers\":true,\"verbose\":false}\r\nHPUB foo 14 12\r\n",
                b"CONNECT {\"headers\":true,\"verbose\":false}\r\nHPUB foo x 12\r\n",
            ],
            None,
        ),
    );
}

#[test]
fn silent_close_bad_connect_json() {
    check(
        &defaults(),
        &each_closes(
            &[
                b"CONNECT {\r\n",
                b"CONNECT {\"verbose\":\"yes\"}\r\n",
                b"CONNECT []\r\n",
                b"CONNECT \r\n",
            ],
            None,
        ),
    );
}

#[test]
fn silent_close_hpub_without_headers() {
    check(
        &defaults(),
        &each_closes(
            &[
                b"HPUB foo 12 14\r\nNATS/1.0\r\n\r\nhi\r\n",
                b"CONNECT {\"headers\":false,\"verbose\":false}\r\nHPUB foo 12 14\r\nNATS/1.0\r\n\r\nhi\r\n",
            ],
            None,
        ),
    );
}

#[test]
fn silent_close_client_err() {
    check(
        &defaults(),
        &each_closes(
            &[
                b"-ERR 'oops'\r\n",
                b"CONNECT {\"verbose\":false}\r\n-ERR x\r\n",
            ],
            None,
        ),
    );
}

// ---------------------------------------------------------------- output queued before a close

/// Answers queued before an error (or the end of the client's input) are written before
/// the connection closes, as the reference writes them: `+OK` and `PONG` in the same read as
/// the operation that closes it.
#[test]
fn queued_output_is_written_before_a_close() {
    check(
        &defaults(),
        &t()
            // Verbose by default: the SUB's +OK, then an HPUB without headers granted.
            .send("SUB foo 1\r\nHPUB foo 12 14\r\nNATS/1.0\r\n\r\nhi\r\n")
            .expect(OK)
            .expect_closed()
            // A parser error after a PING in the same read.
            .conn(1)
            .send("PING\r\nPUB foo x\r\n")
            .expect("PONG\r\n")
            .expect_closed()
            .conn(2)
            .send("PING\r\nPUB foo 1\r\nxyz\r\n")
            .expect(format!("PONG\r\n{ERR_UNKNOWN_OP}"))
            .expect_closed()
            // A bad CONNECT, a client's -ERR.
            .conn(3)
            .send(format!("{QUIET}PING\r\nCONNECT {{\r\n"))
            .expect("PONG\r\n")
            .expect_closed()
            .conn(4)
            .send("PING\r\n-ERR 'x'\r\n")
            .expect("PONG\r\n")
            .expect_closed()
            // The end of the client's input right after a PING.
            .conn(5)
            .send("PING\r\nSUB foo 1\r\n")
            .end_input()
            .expect("PONG\r\n+OK\r\n")
            .expect_closed(),
    );
}

// ---------------------------------------------------------------- INFO from a client

/// A client's INFO is decoded and dropped; one that does not decode closes the connection
/// without an -ERR. The arguments run from the first byte after the verb that is not a
/// blank, even a line end.
#[test]
fn client_info_must_decode() {
    check(
        &defaults(),
        &t().send("INFO {\"server_id\":\"x\"}\r\nINFO null\r\nINFO\n{}\r\n")
            .ping_pong()
            .conn(1)
            .send(format!("{QUIET}PING\r\nINFO {{bad\r\n"))
            .expect("PONG\r\n")
            .expect_closed()
            .conn(2)
            .send("INFO\r\n")
            .expect_closed()
            .conn(3)
            .send("INFO 7\r\n")
            .expect_closed(),
    );
}

// ---------------------------------------------------------------- pedantic, read by read

/// A pedantic client's invalid publish subject is answered at the end of the control
/// line, and once more when the read that ended the line did not hold the whole message
/// (the reference checks the line again as it keeps it for the message).
#[test]
fn pedantic_subject_answered_per_read() {
    let invalid = "-ERR 'Invalid Publish Subject'\r\n";
    check(
        &defaults(),
        &t().send("SUB foo.* 1\r\n")
            .expect(OK)
            .send("PUB foo.* 2\r\n")
            .expect(format!("{invalid}{invalid}"))
            .send("hi\r\n")
            .expect("+OK\r\nMSG foo.* 1 2\r\nhi\r\n")
            // The line in two reads: its end is the read that counts.
            .send("PUB foo.")
            .send("* 1\r\n")
            .expect(format!("{invalid}{invalid}"))
            .send("x\r\n")
            .expect("+OK\r\nMSG foo.* 1 1\r\nx\r\n")
            .ping_pong()
            // A message that ends badly: the line's answer comes before the error.
            .conn(1)
            .send("PUB foo.* 2\r\nhixx")
            .expect(format!("{invalid}{ERR_UNKNOWN_OP}"))
            .expect_closed()
            .conn(2)
            .send(format!("{QUIET_HEADERS}HPUB foo.> 12 14\r\n"))
            .expect(format!("{invalid}{invalid}"))
            .send("NATS/1.0\r\n\r\nhi\r\n")
            .ping_pong(),
    );
}

// ---------------------------------------------------------------- no responders

/// The 503 for a request nobody took goes to the requester's plain subscription on the
/// reply subject; a queue subscription does not get it.
#[test]
fn no_responders_skips_queue_subscriptions() {
    let connect = "CONNECT {\"verbose\":false,\"headers\":true,\"no_responders\":true}\r\n";
    check(
        &defaults(),
        &t().send(format!("{connect}SUB r q 1\r\nPUB foo r 0\r\n\r\n"))
            .ping_pong()
            .send("SUB r 2\r\nPUB foo r 0\r\n\r\n")
            .expect("HMSG r 2 16 16\r\nNATS/1.0 503\r\n\r\n\r\n")
            .ping_pong(),
    );
}
