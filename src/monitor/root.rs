//! The `/` index page: a small HTML page linking the endpoints, relative to the base path.
//! The reference's page also links `/jsz` and `/gatewayz`, which natsd does not serve;
//! those links are left out.

/// The endpoints the index links to, with their labels, in the reference's order.
const LINKS: [(&str, &str); 8] = [
    ("varz", "General"),
    ("connz", "Connections"),
    ("accountz", "Accounts"),
    ("accstatz", "Account Stats"),
    ("subsz", "Subscriptions"),
    ("routez", "Routes"),
    ("leafz", "LeafNodes"),
    ("healthz", "Health Probe"),
];

/// The page for a server at `base_path` (`""` or `/foo`).
pub fn page(base_path: &str, version: &str) -> String {
    let base = base_path.trim_start_matches('/');
    let prefix = if base.is_empty() {
        String::new()
    } else {
        format!("{base}/")
    };
    let mut links = String::new();
    for (i, (path, label)) in LINKS.iter().enumerate() {
        let class = if i + 1 == LINKS.len() {
            " class=last"
        } else {
            ""
        };
        links.push_str(&format!("\t<a href=./{prefix}{path}{class}>{label}</a>\n"));
    }
    format!(
        "<html lang=\"en\">\n\t<head>\n\t<title>natsd monitoring</title>\n\
         \t<style type=\"text/css\">\n\
         \t\tbody {{ font-family: sans-serif; margin: 2em; }}\n\
         \t\ta {{ display: block; margin: 0.3em 0; font-size: 1.2em; }}\n\
         \t\t.version {{ font-size: 0.9em; color: #666; }}\n\
         \t</style>\n\t</head>\n\t<body>\n\
         \t<h1>natsd</h1>\n\
         \t<span class='version'>v{version}</span>\n\
         \t<br/>\n{links}\
         \t<a href=https://docs.nats.io/running-a-nats-service/nats_admin/monitoring class=\"help\">Help</a>\n\
         \t</body>\n</html>\n"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_follow_the_base_path() {
        let plain = page("", "2.9.10");
        assert!(plain.contains("<a href=./varz>General</a>"));
        assert!(plain.contains("<a href=./healthz class=last>Health Probe</a>"));
        assert!(plain.contains("<a href=./routez>Routes</a>\n\t<a href=./leafz>LeafNodes</a>\n"));
        let based = page("/foo", "2.9.10");
        assert!(based.contains("<a href=./foo/connz>Connections</a>"));
        assert_eq!(based.matches("<a href=./foo/").count(), LINKS.len());
    }

    #[test]
    fn links_only_to_served_endpoints() {
        for (path, _) in LINKS {
            assert!(
                super::super::Endpoint::named(&format!("/{path}")).is_some(),
                "{path}"
            );
        }
        assert!(!page("", "2.9.10").contains("jsz"));
    }
}
