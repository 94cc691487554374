//! The documents of the leafnode handshake: the hub's INFO and the leaf's CONNECT, with
//! nats-server 2.9's field names and order (leafnodes.md §2).

use serde::{Deserialize, Serialize};

/// Leafnode INFO protocol level.
pub const LEAF_PROTOCOL: i32 = 1;

fn is_false(b: &bool) -> bool {
    !*b
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// A hub's INFO to a leaf: the first (with a nonce), the answer to CONNECT
/// (`connect_info`), and the async ones when the hub's cluster changes.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct LeafInfo {
    pub server_id: String,
    pub server_name: String,
    pub version: String,
    pub proto: i32,
    pub go: String,
    pub host: String,
    pub port: u16,
    pub headers: bool,
    /// Always true from a hub (a CONNECT is required even without authorization).
    #[serde(skip_serializing_if = "is_false")]
    pub auth_required: bool,
    #[serde(skip_serializing_if = "is_false")]
    pub tls_required: bool,
    #[serde(skip_serializing_if = "is_false")]
    pub tls_verify: bool,
    pub max_payload: usize,
    /// `host:port` of the hub's leafnode listener.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub ip: String,
    /// The connection's id at the hub: never 0 (a leaf takes 0 for "wrong port").
    #[serde(skip_serializing_if = "is_zero")]
    pub client_id: u64,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub nonce: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub cluster: String,
    /// The hub answers CONNECT with an INFO (`connect_info`).
    #[serde(skip_serializing_if = "is_false")]
    pub info_on_connect: bool,
    /// This INFO answers the leaf's CONNECT.
    #[serde(skip_serializing_if = "is_false")]
    pub connect_info: bool,
    /// The hub's leaf URLs and its cluster peers' (`host:port`). Absent: not a leafnode
    /// port.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub leafnode_urls: Option<Vec<String>>,
    /// The hub-side account the leaf is bound to.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub remote_account: String,
}

impl LeafInfo {
    /// `INFO {json} \r\n` (every INFO a hub sends a leaf ends with a space).
    pub fn line(&self) -> Vec<u8> {
        let mut line = b"INFO ".to_vec();
        // Plain strings, numbers and lists of strings: serializing cannot fail.
        serde_json::to_writer(&mut line, self).expect("leaf INFO serializes");
        line.extend_from_slice(b" \r\n");
        line
    }
}

/// A leaf's CONNECT (`leafConnectInfo`), and what a hub reads from it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct LeafConnect {
    pub version: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub jwt: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub sig: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub user: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub pass: String,
    pub tls_required: bool,
    pub server_id: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub name: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub cluster: String,
    #[serde(skip_serializing_if = "is_false")]
    pub headers: bool,
    /// Subjects the hub must not send this leaf (its `deny_imports`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub deny_pub: Vec<String>,
    /// Set by a misdirected gateway.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub gateway: String,
    /// Set by a client that dialled the leafnode port (never sent by a leaf).
    #[serde(skip_serializing)]
    pub lang: String,
    /// The remote asks to be the hub (`hub: true`, refused by natsd's configuration).
    #[serde(skip_serializing_if = "is_false")]
    pub is_hub: bool,
}

impl LeafConnect {
    /// `CONNECT {json}\r\n`.
    pub fn line(&self) -> Vec<u8> {
        let mut line = b"CONNECT ".to_vec();
        serde_json::to_writer(&mut line, self).expect("leaf CONNECT serializes");
        line.extend_from_slice(b"\r\n");
        line
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connect_has_the_reference_fields_in_order() {
        let connect = LeafConnect {
            version: "2.9.10".into(),
            user: "lu".into(),
            pass: "lp".into(),
            server_id: "NLEAF".into(),
            name: "LEAF".into(),
            cluster: "LEAF".into(),
            headers: true,
            ..LeafConnect::default()
        };
        assert_eq!(
            String::from_utf8(connect.line()).unwrap(),
            "CONNECT {\"version\":\"2.9.10\",\"user\":\"lu\",\"pass\":\"lp\",\
             \"tls_required\":false,\"server_id\":\"NLEAF\",\"name\":\"LEAF\",\
             \"cluster\":\"LEAF\",\"headers\":true}\r\n"
        );
        let read: LeafConnect =
            serde_json::from_str(r#"{"lang":"go","version":"1","user":"x"}"#).unwrap();
        assert_eq!((read.lang.as_str(), read.user.as_str()), ("go", "x"));
    }

    #[test]
    fn info_lists_leafnode_urls_even_when_it_is_the_only_one() {
        let info = LeafInfo {
            server_id: "NHUB".into(),
            proto: LEAF_PROTOCOL,
            auth_required: true,
            client_id: 5,
            info_on_connect: true,
            leafnode_urls: Some(vec!["127.0.0.1:7422".into()]),
            ..LeafInfo::default()
        };
        let line = String::from_utf8(info.line()).unwrap();
        assert!(line.ends_with(
            "\"client_id\":5,\"info_on_connect\":true,\"leafnode_urls\":[\"127.0.0.1:7422\"]} \r\n"
        ));
        let read: LeafInfo = serde_json::from_str(r#"{"server_id":"X"}"#).unwrap();
        assert_eq!(read.leafnode_urls, None);
    }
}
