//! A minimal HTTP/1.1 client for the monitoring endpoints: one request per connection,
//! chunked bodies decoded.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use serde_json::Value;

/// One HTTP response.
pub struct Http {
    pub status: u16,
    pub headers: BTreeMap<String, String>,
    pub body: String,
}

impl Http {
    pub fn header(&self, name: &str) -> &str {
        self.headers.get(name).map_or("", String::as_str)
    }

    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }
}

/// Sends `method path` on a fresh connection (`Connection: close`) and reads the answer,
/// de-chunking it if needed.
pub fn request_on(mut stream: impl Read + Write, method: &str, path: &str) -> Http {
    let head = format!("{method} {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
    stream.write_all(head.as_bytes()).expect("send request");
    let mut raw = Vec::new();
    // A TLS peer may end without close_notify: keep what arrived.
    let _ = stream.read_to_end(&mut raw);
    let text = String::from_utf8(raw).expect("UTF-8 response");
    let (head, body) = text.split_once("\r\n\r\n").expect("header end");
    let mut lines = head.lines();
    let status = lines.next().expect("status line")[9..12]
        .parse()
        .expect("status");
    let headers: BTreeMap<String, String> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let body = match headers.get("transfer-encoding").map(String::as_str) {
        Some("chunked") => dechunk(body),
        _ => body.to_string(),
    };
    Http {
        status,
        headers,
        body,
    }
}

fn dechunk(mut body: &str) -> String {
    let mut out = String::new();
    loop {
        let (size, rest) = body.split_once("\r\n").expect("chunk size");
        let size = usize::from_str_radix(size.trim(), 16).expect("hex chunk size");
        if size == 0 {
            return out;
        }
        out.push_str(&rest[..size]);
        body = &rest[size + 2..];
    }
}

/// GETs `path` from `addr` over plain HTTP.
pub fn get(addr: SocketAddr, path: &str) -> Http {
    let stream = TcpStream::connect(addr).expect("connect to the monitor");
    stream.set_read_timeout(Some(Duration::from_secs(10))).ok();
    request_on(stream, "GET", path)
}

/// The JSON type of a value: integers and other numbers apart (Go tools decode into int64).
pub fn json_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
        Value::Number(_) => "float",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// Every key path with its type, descending into objects and every array element (the
/// union of the elements' keys: lists from Go maps have no fixed order).
pub fn shape(v: &Value, path: &str, out: &mut BTreeMap<String, &'static str>) {
    match v {
        Value::Object(map) => {
            for (key, value) in map {
                let here = format!("{path}.{key}");
                out.insert(here.clone(), json_type(value));
                shape(value, &here, out);
            }
        }
        Value::Array(items) => {
            for item in items {
                shape(item, &format!("{path}[]"), out);
            }
        }
        _ => {}
    }
}
