//! `/routez`: the cluster routes. natsd does not route yet, so the list is always empty;
//! the parameters are still decoded as the reference does.

use std::time::SystemTime;

use serde::Serialize;

use super::params::{BadParam, Query};
use super::timefmt::rfc3339_nano;
use crate::server::ServerView;

/// The `/routez` document.
#[derive(Serialize)]
pub struct Routez {
    server_id: String,
    now: String,
    num_routes: usize,
    routes: Vec<Route>,
}

/// One route (none yet).
#[derive(Serialize)]
pub struct Route {}

/// Builds `/routez`; a bad `subs` value is the plain-text 400 body.
pub fn routez(view: &ServerView, query: &Query) -> Result<Routez, BadParam> {
    query.subs()?;
    Ok(Routez {
        server_id: view.settings().info.server_id.clone(),
        now: rfc3339_nano(SystemTime::now()),
        num_routes: 0,
        routes: Vec::new(),
    })
}
