//! `/routez`: the cluster's routes, with their remote interest on request (`subs=1` lists
//! subjects, `subs=detail` the entries with `sid` = `account subject [queue]`).

use std::time::SystemTime;

use serde::Serialize;

use super::params::{BadParam, Query, SubsOption};
use super::subsz::{sub_lists, SubDetail};
use super::timefmt::{rfc3339_nano, rtt, uptime};
use crate::options::SubjectPermission;
use crate::server::{RouteView, ServerView};

/// The `/routez` document.
#[derive(Serialize)]
pub struct Routez {
    server_id: String,
    now: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    import: Option<SubjectPermission>,
    #[serde(skip_serializing_if = "Option::is_none")]
    export: Option<SubjectPermission>,
    num_routes: usize,
    routes: Vec<RouteJson>,
}

/// One route (the reference's `RouteInfo`, in its field order).
#[derive(Serialize)]
struct RouteJson {
    rid: u64,
    remote_id: String,
    did_solicit: bool,
    is_configured: bool,
    ip: String,
    port: u16,
    start: String,
    last_activity: String,
    rtt: String,
    uptime: String,
    idle: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    import: Option<SubjectPermission>,
    #[serde(skip_serializing_if = "Option::is_none")]
    export: Option<SubjectPermission>,
    pending_size: u64,
    in_msgs: u64,
    out_msgs: u64,
    in_bytes: u64,
    out_bytes: u64,
    subscriptions: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    subscriptions_list: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    subscriptions_list_detail: Option<Vec<SubDetail>>,
}

impl RouteJson {
    fn of(route: RouteView, now: SystemTime, subs: SubsOption) -> RouteJson {
        let c = route.conn;
        let since = |t: SystemTime| now.duration_since(t).unwrap_or_default();
        let (list, detail) = sub_lists(&c.subs, subs, false);
        RouteJson {
            rid: c.cid,
            remote_id: route.remote_id,
            did_solicit: route.meta.did_solicit,
            is_configured: route.meta.is_configured,
            ip: c.ip.to_string(),
            port: c.port,
            start: rfc3339_nano(c.start),
            last_activity: rfc3339_nano(c.last_activity),
            rtt: rtt(c.rtt),
            uptime: uptime(since(c.start)),
            idle: uptime(since(c.last_activity)),
            import: route.meta.import,
            export: route.meta.export,
            pending_size: c.pending_bytes,
            in_msgs: c.in_msgs,
            out_msgs: c.out_msgs,
            in_bytes: c.in_bytes,
            out_bytes: c.out_bytes,
            subscriptions: c.subscriptions,
            subscriptions_list: list,
            subscriptions_list_detail: detail,
        }
    }
}

/// Builds `/routez`; a bad `subs` value is the plain-text 400 body.
pub fn routez(view: &dyn ServerView, query: &Query) -> Result<Routez, BadParam> {
    let subs = query.subs()?;
    let now = SystemTime::now();
    let routes: Vec<RouteJson> = view
        .routes(subs != SubsOption::None)
        .into_iter()
        .map(|r| RouteJson::of(r, now, subs))
        .collect();
    let (import, export) = view.route_permissions();
    Ok(Routez {
        server_id: view.settings().info.server_id.clone(),
        now: rfc3339_nano(now),
        import,
        export,
        num_routes: routes.len(),
        routes,
    })
}
