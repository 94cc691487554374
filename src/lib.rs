//! natsd: a NATS server, drop-in compatible with nats-server 2.9.
//!
//! The binary (`src/main.rs`) is a thin shell: it turns the command line into
//! [`Options`], sets up logging and runs [`Server::start`].

pub mod options;
pub mod server;

pub use options::{Options, Port};
pub use server::{Server, ServerHandle};
