//! natsd: a NATS server, drop-in compatible with nats-server 2.9.
//!
//! The binary (`src/main.rs`) is a thin shell: it turns the command line into
//! [`Options`] (`cli`), sets up logging (`logging`) and runs [`Server::start`].
//! `proto`, `subject`, `sublist` and `transform` are leaves with no I/O; `server` puts them to work;
//! `monitor` serves HTTP monitoring from a read-only view of the server.
//!
//! A configuration file goes through three modules: `conf` (the language: text → value tree),
//! `config` (the keys: value tree → [`Options`]) and `configure` (command line + file →
//! [`Options`], at start, for `-t` and on reload).

pub mod auth;
pub mod cli;
pub mod conf;
pub mod config;
pub mod configure;
pub mod creds;
pub mod dn;
pub mod gofmt;
pub mod gopath;
pub mod gostrconv;
pub mod hostport;
pub mod logging;
pub mod monitor;
pub mod nkeys;
pub mod notify;
pub mod options;
pub mod permissions;
pub mod process;
pub mod proto;
pub mod rng;
pub mod route_url;
pub mod server;
pub mod signal_cmd;
pub mod subject;
pub mod sublist;
pub mod tls;
pub mod transform;
pub mod x509;

pub use options::{Options, RANDOM_PORT};
pub use server::{Server, ServerHandle};
