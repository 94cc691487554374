//! `/leafz`: the open leafnode links, both those accepted from leafs and those dialled to
//! hubs, as nats-server 2.9 lists them: `subs=1` adds their interest (subjects only),
//! `acc=<name>` keeps the links bound to that account.

use std::time::SystemTime;

use serde::Serialize;

use super::params::{BadParam, Query, SubsOption};
use super::subsz::sub_lists;
use super::timefmt::{rfc3339_nano, rtt};
use crate::server::{LeafView, ServerView};

/// The `/leafz` document (the reference's `Leafz`).
#[derive(Serialize)]
pub struct Leafz {
    server_id: String,
    now: String,
    leafnodes: usize,
    /// `null` when there are none, as Go marshals a nil slice.
    leafs: Option<Vec<LeafJson>>,
}

/// One link (the reference's `LeafInfo`, in its field order).
#[derive(Serialize)]
struct LeafJson {
    account: String,
    ip: String,
    port: u16,
    rtt: String,
    in_msgs: u64,
    out_msgs: u64,
    in_bytes: u64,
    out_bytes: u64,
    subscriptions: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    subscriptions_list: Option<Vec<String>>,
}

impl LeafJson {
    fn of(leaf: LeafView, subs: SubsOption) -> LeafJson {
        let c = leaf.conn;
        let (subscriptions_list, _) = sub_lists(&c.subs, subs, false);
        LeafJson {
            account: leaf.account.to_string(),
            ip: c.ip.to_string(),
            port: c.port,
            rtt: rtt(c.rtt),
            in_msgs: c.in_msgs,
            out_msgs: c.out_msgs,
            in_bytes: c.in_bytes,
            out_bytes: c.out_bytes,
            subscriptions: c.subscriptions,
            subscriptions_list,
        }
    }
}

/// Builds `/leafz`; a `subs` value that is not a boolean is the plain-text 400 body.
pub fn leafz(view: &dyn ServerView, query: &Query) -> Result<Leafz, BadParam> {
    let subs = match query.bool("subs")? {
        true => SubsOption::Subjects,
        false => SubsOption::None,
    };
    let account = query.get("acc");
    let leafs: Vec<LeafJson> = view
        .leafs(subs == SubsOption::Subjects)
        .into_iter()
        .filter(|leaf| account.is_empty() || *leaf.account == *account)
        .map(|leaf| LeafJson::of(leaf, subs))
        .collect();
    Ok(Leafz {
        server_id: view.settings().info.server_id.clone(),
        now: rfc3339_nano(SystemTime::now()),
        leafnodes: leafs.len(),
        leafs: (!leafs.is_empty()).then_some(leafs),
    })
}
