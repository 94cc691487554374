//! A user's publish and subscribe permissions, applied as nats-server 2.9 applies them:
//! no allow list means everything is allowed, a deny match always wins, subscribe entries
//! may name a queue (`"subject queue"`), and a wildcard subscription that reaches into
//! denied subjects gets those messages filtered out at delivery.

use std::sync::Arc;

use crate::options::{Permissions, ResponsePermission, SubjectPermission};
use crate::subject;

/// One permission entry: a subject pattern and, for subscribe entries, an optional queue.
#[derive(Debug)]
struct Entry {
    subject: Box<[u8]>,
    queue: Option<Box<[u8]>>,
}

impl Entry {
    fn parse(text: &str) -> Entry {
        let mut fields = text.split_whitespace();
        let subject = fields.next().unwrap_or("").as_bytes().into();
        let queue = fields.next().map(|q| q.as_bytes().into());
        Entry { subject, queue }
    }
}

/// The entries matching a subject: whether a plain entry did, and the queue entries that did.
fn evaluate<'a>(entries: &'a [Entry], subject: &[u8]) -> (bool, Vec<&'a [u8]>) {
    let mut plain = false;
    let mut queues = Vec::new();
    for entry in entries
        .iter()
        .filter(|e| subject::matches(&e.subject, subject))
    {
        match &entry.queue {
            Some(queue) => queues.push(&**queue),
            None => plain = true,
        }
    }
    (plain, queues)
}

/// The reference's `queueMatches`: a queue entry may itself be a wildcard pattern.
fn queue_matches(queue: &[u8], entries: &[&[u8]]) -> bool {
    entries.iter().any(|q| subject::matches(q, queue))
}

/// Allow and deny lists for one direction.
#[derive(Debug, Default)]
struct Rules {
    /// `None`: everything is allowed (unless denied).
    allow: Option<Vec<Entry>>,
    deny: Vec<Entry>,
}

impl Rules {
    fn new(permission: Option<&SubjectPermission>) -> Rules {
        let parse = |list: &Vec<String>| list.iter().map(|s| Entry::parse(s)).collect();
        Rules {
            allow: permission.and_then(|p| p.allow.as_ref()).map(parse),
            deny: permission
                .and_then(|p| p.deny.as_ref())
                .map(parse)
                .unwrap_or_default(),
        }
    }

    /// The reference's `canSubscribe` / `pubAllowed` logic for one subject (and queue).
    fn allows(&self, subject: &[u8], queue: Option<&[u8]>) -> bool {
        let mut allowed = true;
        if let Some(allow) = &self.allow {
            let (plain, queues) = evaluate(allow, subject);
            allowed = plain;
            if let (Some(queue), false) = (queue, queues.is_empty()) {
                allowed = queue_matches(queue, &queues);
            }
        }
        if allowed && !self.deny.is_empty() {
            let (plain, queues) = evaluate(&self.deny, subject);
            allowed = !plain;
            if let (Some(queue), false) = (queue, queues.is_empty()) {
                allowed = !queue_matches(queue, &queues);
            }
        }
        allowed
    }
}

/// A user's compiled permissions.
#[derive(Debug, Default)]
pub struct UserPermissions {
    publish: Rules,
    subscribe: Rules,
    /// Plain subscribe-deny patterns, shared with wildcard subscriptions as their filter.
    delivery_deny: Option<Arc<[Box<[u8]>]>>,
    /// `allow_responses`: replies to requests received may be published.
    responses: Option<ResponsePermission>,
}

impl UserPermissions {
    /// Compiles a `permissions` block.
    pub fn new(permissions: &Permissions) -> UserPermissions {
        let subscribe = Rules::new(permissions.subscribe.as_ref());
        let deny: Vec<Box<[u8]>> = subscribe
            .deny
            .iter()
            .filter(|e| e.queue.is_none())
            .map(|e| e.subject.clone())
            .collect();
        UserPermissions {
            publish: Rules::new(permissions.publish.as_ref()),
            delivery_deny: (!deny.is_empty()).then(|| deny.into()),
            responses: permissions.allow_responses.clone(),
            subscribe,
        }
    }

    /// May the user publish to `subject`?
    pub fn can_publish(&self, subject: &[u8]) -> bool {
        self.publish.allows(subject, None)
    }

    /// `allow_responses`, when set: the reply subjects of requests this user receives may
    /// be published to, `max_msgs` times within `expires`.
    pub fn responses(&self) -> Option<&ResponsePermission> {
        self.responses.as_ref()
    }

    /// May the user subscribe to `subject` (in `queue`)?
    pub fn can_subscribe(&self, subject: &[u8], queue: Option<&[u8]>) -> bool {
        self.subscribe.allows(subject, queue)
    }

    /// For a permitted wildcard subscription that overlaps denied subjects: the patterns
    /// whose messages must not be delivered to it.
    pub fn delivery_filter(&self, sub_subject: &[u8]) -> Option<Arc<[Box<[u8]>]>> {
        let deny = self.delivery_deny.as_ref()?;
        let wildcard = sub_subject
            .split(|&b| b == b'.')
            .any(|t| t == b"*" || t == b">");
        let overlaps = deny
            .iter()
            .any(|d| subject::matches(sub_subject, d) || subject::matches(d, sub_subject));
        (wildcard && overlaps).then(|| deny.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(items: &[&str]) -> Option<Vec<String>> {
        Some(items.iter().map(|s| s.to_string()).collect())
    }

    fn perms(publish: SubjectPermission, subscribe: SubjectPermission) -> UserPermissions {
        UserPermissions::new(&Permissions {
            publish: Some(publish),
            subscribe: Some(subscribe),
            ..Permissions::default()
        })
    }

    #[test]
    fn seed_requestor_can_request_and_read_its_inbox() {
        let requestor = perms(
            SubjectPermission {
                allow: list(&["req.foo", "req.bar"]),
                deny: None,
            },
            SubjectPermission {
                allow: list(&["_INBOX.>"]),
                deny: None,
            },
        );
        assert!(requestor.can_publish(b"req.foo"));
        assert!(!requestor.can_publish(b"req.baz"));
        assert!(requestor.can_subscribe(b"_INBOX.abc", None));
        assert!(requestor.can_subscribe(b"_INBOX.*", None));
        assert!(!requestor.can_subscribe(b"req.foo", None));
        assert!(!requestor.can_subscribe(b">", None));
    }

    #[test]
    fn deny_wins_and_filters_wildcard_deliveries() {
        let user = perms(
            SubjectPermission {
                allow: None,
                deny: list(&["secret.>"]),
            },
            SubjectPermission {
                allow: None,
                deny: list(&["secret.>"]),
            },
        );
        assert!(user.can_publish(b"public.x"));
        assert!(!user.can_publish(b"secret.x"));
        assert!(!user.can_subscribe(b"secret.x", None));
        assert!(user.can_subscribe(b">", None));
        let filter = user
            .delivery_filter(b">")
            .expect("a wildcard reaching secret.>");
        assert!(filter.iter().any(|d| subject::matches(d, b"secret.plans")));
        assert!(user.delivery_filter(b"public.*").is_none());
        assert!(user.delivery_filter(b"public.x").is_none());
    }

    #[test]
    fn queue_qualified_entries() {
        let user = perms(
            SubjectPermission::default(),
            SubjectPermission {
                allow: list(&["work", "jobs workers"]),
                deny: None,
            },
        );
        assert!(user.can_subscribe(b"work", None));
        assert!(user.can_subscribe(b"work", Some(b"any")));
        assert!(user.can_subscribe(b"jobs", Some(b"workers")));
        assert!(!user.can_subscribe(b"jobs", Some(b"others")));
        assert!(!user.can_subscribe(b"jobs", None));
    }
}
