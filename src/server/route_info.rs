//! The documents of the route handshake: a server's route INFO and a dialling server's
//! CONNECT, with nats-server 2.9's field names and order.

use serde::{Deserialize, Serialize};

use crate::options::SubjectPermission;

/// Route protocol level: 2, accounts in RS+/RS-/RMSG.
pub const ROUTE_PROTOCOL: i32 = 2;

/// A route INFO, sent by both ends (and gossiped to announce a new server).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct RouteInfo {
    pub server_id: String,
    pub server_name: String,
    pub version: String,
    pub proto: i32,
    pub go: String,
    pub host: String,
    pub port: u16,
    pub headers: bool,
    #[serde(skip_serializing_if = "is_false")]
    pub auth_required: bool,
    #[serde(skip_serializing_if = "is_false")]
    pub tls_required: bool,
    #[serde(skip_serializing_if = "is_false")]
    pub tls_verify: bool,
    pub max_payload: usize,
    /// `nats-route://host:port/`: where to dial this server (set with `advertise`, or by the
    /// server that gossips the INFO).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub ip: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub nonce: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub cluster: String,
    #[serde(skip_serializing_if = "is_false")]
    pub cluster_dynamic: bool,
    /// The sender's own client URLs (`host:port`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub connect_urls: Vec<String>,
    /// Lame duck mode.
    #[serde(skip_serializing_if = "is_false")]
    pub ldm: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub import: Option<SubjectPermission>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub export: Option<SubjectPermission>,
    /// Understands the leaf-node-origin ops (never set by natsd).
    #[serde(skip_serializing_if = "is_false")]
    pub lnoc: bool,
    /// The sender's leafnode URL (`host:port`), unless `leafnodes.no_advertise`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub leafnode_urls: Vec<String>,
}

impl RouteInfo {
    /// `INFO {json} \r\n` (the first INFO of a route ends with a space, as the reference's).
    pub fn first_line(&self) -> Vec<u8> {
        self.line(b" \r\n")
    }

    /// `INFO {json}\r\n`, as a gossiped INFO is written.
    pub fn gossip_line(&self) -> Vec<u8> {
        self.line(b"\r\n")
    }

    fn line(&self, end: &[u8]) -> Vec<u8> {
        let mut line = b"INFO ".to_vec();
        serde_json::to_writer(&mut line, self).expect("route INFO serializes");
        line.extend_from_slice(end);
        line
    }
}

/// The CONNECT a dialling server sends first.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct RouteConnect {
    pub echo: bool,
    pub verbose: bool,
    pub pedantic: bool,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub user: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub pass: String,
    pub tls_required: bool,
    pub headers: bool,
    /// The dialling server's id.
    pub name: String,
    pub cluster: String,
    #[serde(skip_serializing_if = "is_false")]
    pub cluster_dynamic: bool,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub gateway: String,
    /// Set only by clients that dialled the route port by mistake.
    #[serde(skip_serializing)]
    pub lang: String,
}

impl RouteConnect {
    /// `CONNECT {json}\r\n`.
    pub fn line(&self) -> Vec<u8> {
        let mut line = b"CONNECT ".to_vec();
        serde_json::to_writer(&mut line, self).expect("route CONNECT serializes");
        line.extend_from_slice(b"\r\n");
        line
    }
}

fn is_false(b: &bool) -> bool {
    !*b
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_reference_info_and_writes_the_same_fields() {
        let text = br#"{"server_id":"NB","server_name":"A","version":"2.9.10","proto":2,"go":"go1.19.8","host":"127.0.0.1","port":43573,"headers":true,"max_payload":1048576,"nonce":"qR","cluster":"C1","connect_urls":["127.0.0.1:52935"],"lnoc":true,"jetstream":true}"#;
        let info: RouteInfo = serde_json::from_slice(text).unwrap();
        assert_eq!(
            (info.server_id.as_str(), info.port, info.lnoc),
            ("NB", 43573, true)
        );
        assert_eq!(info.connect_urls, ["127.0.0.1:52935"]);
        let line = RouteInfo {
            lnoc: false,
            ..info
        }
        .first_line();
        let line = String::from_utf8(line).unwrap();
        assert!(
            line.starts_with("INFO {\"server_id\":\"NB\",\"server_name\":\"A\""),
            "{line}"
        );
        assert!(
            line.ends_with(",\"cluster\":\"C1\",\"connect_urls\":[\"127.0.0.1:52935\"]} \r\n"),
            "{line}"
        );
    }

    #[test]
    fn connect_line_and_a_client_on_the_route_port() {
        let connect = RouteConnect {
            echo: true,
            user: "ru".into(),
            pass: "rp".into(),
            headers: true,
            name: "NC".into(),
            cluster: "C1".into(),
            ..RouteConnect::default()
        };
        assert_eq!(
            String::from_utf8(connect.line()).unwrap(),
            "CONNECT {\"echo\":true,\"verbose\":false,\"pedantic\":false,\"user\":\"ru\",\"pass\":\"rp\",\"tls_required\":false,\"headers\":true,\"name\":\"NC\",\"cluster\":\"C1\"}\r\n"
        );
        let client: RouteConnect =
            serde_json::from_slice(br#"{"verbose":false,"lang":"go","version":"1.0"}"#).unwrap();
        assert_eq!(client.lang, "go");
    }
}
