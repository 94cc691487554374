//! The two JSON documents of the client handshake: the server's INFO and the client's CONNECT.

use serde::Serialize;
use serde_json::Value;

/// The nats-server version whose behaviour natsd matches; clients enable features by it.
pub const COMPATIBLE_VERSION: &str = "2.9.10";
/// Protocol version announced in INFO.
pub const PROTOCOL_VERSION: u8 = 1;

/// The INFO document, fields in the reference's order (clients do not care, humans diffing do).
#[derive(Debug, Clone, Serialize)]
pub struct Info {
    pub server_id: String,
    pub server_name: String,
    pub version: &'static str,
    pub proto: u8,
    pub go: &'static str,
    pub host: String,
    pub port: u16,
    pub headers: bool,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub auth_required: bool,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub tls_required: bool,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub tls_verify: bool,
    /// TLS is offered but not required (`allow_non_tls`).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub tls_available: bool,
    pub max_payload: usize,
    #[serde(skip_serializing_if = "is_zero")]
    pub client_id: u64,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub client_ip: String,
    /// The challenge an nkey user signs (when nkey users are configured).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub nonce: String,
    /// The cluster name, when clustered.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub cluster: String,
    /// Client URLs of this server and its cluster peers (`host:port`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub connect_urls: Vec<String>,
    /// Lame duck mode: the server is about to go away.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub ldm: bool,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

impl Info {
    /// The exact INFO protocol line for one client: `INFO {json} \r\n` (note the space).
    pub fn line_for(&self, client_id: u64, client_ip: String) -> Vec<u8> {
        self.line_with_nonce(client_id, client_ip, String::new())
    }

    /// [`Info::line_for`] with the client's nonce to sign.
    pub fn line_with_nonce(&self, client_id: u64, client_ip: String, nonce: String) -> Vec<u8> {
        let info = Info {
            client_id,
            client_ip,
            nonce,
            ..self.clone()
        };
        let mut line = b"INFO ".to_vec();
        // Serializing plain strings and integers cannot fail.
        serde_json::to_writer(&mut line, &info).expect("INFO serializes");
        line.extend_from_slice(b" \r\n");
        line
    }
}

/// The options a client sets with CONNECT, with the reference's defaults.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientOpts {
    pub verbose: bool,
    pub pedantic: bool,
    pub echo: bool,
    pub headers: bool,
    pub no_responders: bool,
    pub protocol: i64,
    pub name: String,
    pub lang: String,
    pub version: String,
    pub account: String,
    pub new_account: bool,
    pub user: String,
    pub pass: String,
    pub auth_token: String,
    pub nkey: String,
    pub sig: String,
}

impl Default for ClientOpts {
    fn default() -> Self {
        ClientOpts {
            verbose: true,
            pedantic: true,
            echo: true,
            headers: false,
            no_responders: false,
            protocol: 0,
            name: String::new(),
            lang: String::new(),
            version: String::new(),
            account: String::new(),
            new_account: false,
            user: String::new(),
            pass: String::new(),
            auth_token: String::new(),
            nkey: String::new(),
            sig: String::new(),
        }
    }
}

/// Why a CONNECT document was rejected (the connection then closes without an `-ERR`).
#[derive(Debug, PartialEq, Eq)]
pub struct BadConnect;

impl ClientOpts {
    /// Applies a CONNECT document on top of the current options, as Go's `json.Unmarshal`
    /// does: keys match case-insensitively, absent or `null` keys keep their value, unknown
    /// keys are ignored, a value of the wrong type rejects the document.
    pub fn apply_connect(&mut self, json: &[u8]) -> Result<(), BadConnect> {
        let Ok(Value::Object(fields)) = serde_json::from_slice::<Value>(json) else {
            return Err(BadConnect);
        };
        for (key, value) in &fields {
            if value.is_null() {
                continue;
            }
            match key.to_ascii_lowercase().as_str() {
                "verbose" => self.verbose = as_bool(value)?,
                "pedantic" => self.pedantic = as_bool(value)?,
                "echo" => self.echo = as_bool(value)?,
                "headers" => self.headers = as_bool(value)?,
                "no_responders" => self.no_responders = as_bool(value)?,
                "new_account" => self.new_account = as_bool(value)?,
                "tls_required" => {
                    as_bool(value)?;
                }
                "protocol" => self.protocol = value.as_i64().ok_or(BadConnect)?,
                "name" => self.name = as_string(value)?,
                "lang" => self.lang = as_string(value)?,
                "version" => self.version = as_string(value)?,
                "account" => self.account = as_string(value)?,
                "user" => self.user = as_string(value)?,
                "pass" => self.pass = as_string(value)?,
                "auth_token" => self.auth_token = as_string(value)?,
                "nkey" => self.nkey = as_string(value)?,
                "sig" => self.sig = as_string(value)?,
                "jwt" => {
                    as_string(value)?;
                }
                _ => {}
            }
        }
        Ok(())
    }

    /// The quoted client descriptor of log lines: `"v1.2.3:go:myapp"` and its shorter forms.
    pub fn descriptor(&self) -> Option<String> {
        let parts: Vec<String> = [
            (!self.version.is_empty()).then(|| format!("v{}", self.version)),
            (!self.lang.is_empty()).then(|| self.lang.clone()),
            (!self.name.is_empty()).then(|| self.name.clone()),
        ]
        .into_iter()
        .flatten()
        .collect();
        (!parts.is_empty()).then(|| format!("{:?}", parts.join(":")))
    }
}

fn as_bool(value: &Value) -> Result<bool, BadConnect> {
    value.as_bool().ok_or(BadConnect)
}

fn as_string(value: &Value) -> Result<String, BadConnect> {
    value.as_str().map(str::to_string).ok_or(BadConnect)
}

/// A generated cluster name (when none is configured): 22 random letters and digits.
pub fn new_cluster_name() -> String {
    const ALPHABET: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    let mut random = [0u8; 22];
    getrandom::getrandom(&mut random).expect("the OS random source works");
    random
        .iter()
        .map(|b| ALPHABET[(*b % 62) as usize] as char)
        .collect()
}

/// A new server id: 56 characters of base32 starting with `N`, like an nkey public key.
pub fn new_server_id() -> String {
    const ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let mut random = [0u8; 55];
    getrandom::getrandom(&mut random).expect("the OS random source works");
    std::iter::once('N')
        .chain(random.iter().map(|b| ALPHABET[(b % 32) as usize] as char))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connect_defaults_and_partial_update() {
        let mut opts = ClientOpts::default();
        opts.apply_connect(b"{}").unwrap();
        assert_eq!(opts, ClientOpts::default());
        opts.apply_connect(br#"{"verbose":false,"Echo":false,"x":[1]}"#)
            .unwrap();
        assert!(!opts.verbose && !opts.echo && opts.pedantic);
        opts.apply_connect(br#"{"pedantic":null}"#).unwrap();
        assert!(!opts.verbose && opts.pedantic);
    }

    #[test]
    fn connect_rejects_wrong_types_and_bad_json() {
        let mut opts = ClientOpts::default();
        assert_eq!(opts.apply_connect(br#"{"verbose":"yes"}"#), Err(BadConnect));
        assert_eq!(opts.apply_connect(br#"{"protocol":1.5}"#), Err(BadConnect));
        assert_eq!(opts.apply_connect(b"{"), Err(BadConnect));
        assert_eq!(opts.apply_connect(b"[]"), Err(BadConnect));
    }

    #[test]
    fn descriptor_forms() {
        let mut opts = ClientOpts::default();
        assert_eq!(opts.descriptor(), None);
        opts.name = "app".into();
        assert_eq!(opts.descriptor().unwrap(), "\"app\"");
        opts.lang = "go".into();
        opts.version = "1.2.3".into();
        assert_eq!(opts.descriptor().unwrap(), "\"v1.2.3:go:app\"");
    }

    #[test]
    fn info_line_framing() {
        let info = Info {
            server_id: "NID".into(),
            server_name: "n".into(),
            version: COMPATIBLE_VERSION,
            proto: 1,
            go: "rust",
            host: "0.0.0.0".into(),
            port: 4222,
            headers: true,
            auth_required: false,
            tls_required: false,
            tls_available: false,
            tls_verify: false,
            max_payload: 1024,
            client_id: 0,
            client_ip: String::new(),
            nonce: String::new(),
            cluster: String::new(),
            connect_urls: Vec::new(),
            ldm: false,
        };
        let line = String::from_utf8(info.line_for(7, "127.0.0.1".into())).unwrap();
        assert!(line.starts_with("INFO {\"server_id\":\"NID\""));
        assert!(line.ends_with(",\"client_id\":7,\"client_ip\":\"127.0.0.1\"} \r\n"));
    }

    #[test]
    fn server_id_shape() {
        let id = new_server_id();
        assert_eq!(id.len(), 56);
        assert!(id.starts_with('N'));
        assert_ne!(id, new_server_id());
    }
}
