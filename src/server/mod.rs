//! The running server: shared state, reactor threads, connections and delivery.

use std::io;
use std::net::SocketAddr;

use crate::options::Options;

/// Entry point: starts a server from [`Options`].
pub struct Server;

/// A running server: its bound address and the way to stop it.
pub struct ServerHandle {
    client_addr: SocketAddr,
}

impl Server {
    /// Binds the listeners and starts the reactor threads.
    pub fn start(opts: Options) -> io::Result<ServerHandle> {
        let _ = opts;
        Err(io::Error::other("not implemented yet"))
    }
}

impl ServerHandle {
    /// The address the client listener is bound to (the real port when `-p -1`).
    pub fn client_addr(&self) -> SocketAddr {
        self.client_addr
    }

    /// Stops accepting, flushes what is queued, closes every connection and joins the threads.
    pub fn shutdown(self) {}
}
