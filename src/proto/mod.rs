//! The NATS client, cluster route and leafnode wire protocols.
//!
//! [`parser`] turns the bytes a client, a route or a leafnode connection
//! sends into operations
//! ([`Op`]) without copying them: every operation borrows its subject,
//! arguments and payload from the connection's read buffer. The parser
//! reproduces nats-server 2.9's byte-level behaviour, including which byte
//! triggers which error.

pub mod parser;

pub use parser::{Frame, LeafArgs, Op, ParseError, Parsed, Parser, RoutedArgs};
