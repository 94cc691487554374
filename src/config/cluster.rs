//! `cluster {}` (`parseCluster`).

use super::{
    apply_entry, auth, get, key, listen_to, non_empty, tls, url, Apply, Collector, Key, Step,
};
use crate::conf::Entry;
use crate::options::{ClusterOptions, Options, RoutePermissions};

/// The `cluster` key. A wrong value type inside ends the block (reported by the caller).
pub(super) fn apply(out: &mut Collector, entry: &Entry, opts: &mut Options) -> Step {
    let value = &entry.value;
    let Ok(map) = get::map(value) else {
        let message = format!(
            "Expected map to define cluster, got {}",
            value.kind.type_name()
        );
        out.error(value.error(message));
        return Ok(());
    };
    for entry in map {
        apply_entry(out, CLUSTER, entry, &mut opts.cluster)?;
    }
    Ok(())
}

/// The keys of `cluster {}`.
#[rustfmt::skip]
static CLUSTER: &[Key<ClusterOptions>] = &[
    key(&["name"],                           Apply::Str(|c, s| c.name = non_empty(s))),
    key(&["listen"],                         Apply::With(|out, e, c| listen_to(out, e, &mut c.host, &mut c.port))),
    key(&["port"],                           Apply::Int(|c, n| c.port = n)),
    key(&["host", "net"],                    Apply::Str(|c, s| c.host = non_empty(s))),
    key(&["authorization"],                  Apply::With(authorization)),
    key(&["routes"],                         Apply::With(routes)),
    key(&["tls"],                            Apply::With(tls_block)),
    key(&["cluster_advertise", "advertise"], Apply::Str(|c, s| c.advertise = non_empty(s))),
    key(&["no_advertise"],                   Apply::Bool(|c, b| c.no_advertise = b)),
    key(&["connect_retries"],                Apply::Int(|c, n| c.connect_retries = n)),
    key(&["permissions"],                    Apply::With(permissions)),
];

/// `tls`: route TLS (peers are always verified).
fn tls_block(out: &mut Collector, entry: &Entry, cluster: &mut ClusterOptions) -> Step {
    if let Some(tls) = tls::parse_checked(out, &entry.value, false) {
        cluster.tls = Some(tls);
    }
    Ok(())
}

/// `authorization`: a single user for route connections.
fn authorization(out: &mut Collector, entry: &Entry, cluster: &mut ClusterOptions) -> Step {
    let at = &entry.value;
    let auth = auth::parse(out, at)?;
    if auth.users.is_some() {
        out.error(at.error("Cluster authorization does not allow multiple users"));
        return Ok(());
    }
    if !auth.token.is_empty() {
        out.error(at.error("Cluster authorization does not support tokens"));
        return Ok(());
    }
    cluster.username = non_empty(&auth.user);
    cluster.password = non_empty(&auth.password);
    cluster.auth_timeout = auth.timeout;
    if let Some(permissions) = auth.default_permissions {
        out.warn(
            at,
            &entry.key,
            r#"setting "permissions" within cluster authorization block is deprecated"#,
        );
        // Permissions of the cluster block itself win.
        cluster.permissions.get_or_insert(RoutePermissions {
            import: permissions.publish,
            export: permissions.subscribe,
        });
    }
    Ok(())
}

/// `routes`: an array of URLs. A duplicate is a warning; the routes are kept only if all
/// of them parse.
fn routes(out: &mut Collector, entry: &Entry, cluster: &mut ClusterOptions) -> Step {
    if let Some(routes) = url::parse_urls(out, get::array(&entry.value)?, "route") {
        cluster.routes = routes.into_iter().map(|(_, route)| route).collect();
    }
    Ok(())
}

/// `permissions`: `import`/`export` (or `publish`/`subscribe`) of routes.
fn permissions(out: &mut Collector, entry: &Entry, cluster: &mut ClusterOptions) -> Step {
    let Some(permissions) = auth::parse_permissions(out, &entry.value, false) else {
        return Ok(());
    };
    if permissions.allow_responses.is_some() {
        let message = "Cluster permissions do not support dynamic responses";
        out.error(entry.value.error(message));
        return Ok(());
    }
    cluster.permissions = Some(RoutePermissions {
        import: permissions.publish,
        export: permissions.subscribe,
    });
    Ok(())
}
