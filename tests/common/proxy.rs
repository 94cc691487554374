//! A fault-injecting TCP proxy for route connections, std threads and sockets only.
//!
//! A [`Proxy`] stands in front of one server's route port: the server advertises the
//! proxy's address and every peer's `routes` point at it, so every route to that server
//! passes through it. Each connection is identified by the server that dialled it (the
//! `name` in its first line, the route CONNECT), so one route can be cut without touching
//! the others ([`Proxy::cut`], [`Proxy::reset`], [`Proxy::heal`]), and all of them can be slowed down
//! ([`Proxy::throttle`]).

use std::collections::{HashMap, HashSet};
use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

/// Bytes forwarded per read (and per pause when throttled).
const CHUNK: usize = 16 * 1024;

/// Bytes forwarded per pause when throttled: small, so that a throttled route is slow
/// rather than only late.
const THROTTLED_CHUNK: usize = 2 * 1024;

/// A proxy listening on a random local port and forwarding to `upstream`. Dropping it
/// closes every connection through it.
pub struct Proxy {
    addr: SocketAddr,
    shared: Arc<Shared>,
}

/// What the proxy's threads share.
struct Shared {
    upstream: SocketAddr,
    links: Mutex<Links>,
    /// Pause before forwarding each chunk, in microseconds (0: none).
    pause_us: AtomicU64,
    closed: AtomicBool,
}

/// The open connections and the diallers refused.
#[derive(Default)]
struct Links {
    next: u64,
    open: HashMap<u64, Link>,
    /// Server ids whose connections are cut (closed, and refused when they dial again).
    refused: HashSet<String>,
}

/// One proxied connection: its two sockets, the dialler's server id once known, and
/// whether its bytes are being dropped.
struct Link {
    ends: [TcpStream; 2],
    dialler: Option<String>,
    dropping: Arc<AtomicBool>,
}

impl Link {
    fn close(&self) {
        for end in &self.ends {
            let _ = end.shutdown(Shutdown::Both);
        }
    }
}

impl Proxy {
    /// Starts a proxy on 127.0.0.1 (random port) to `upstream`.
    pub fn start(upstream: SocketAddr) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind proxy");
        let addr = listener.local_addr().expect("proxy address");
        let shared = Arc::new(Shared {
            upstream,
            links: Mutex::new(Links::default()),
            pause_us: AtomicU64::new(0),
            closed: AtomicBool::new(false),
        });
        let acceptor = Arc::clone(&shared);
        thread::spawn(move || accept_loop(&acceptor, &listener));
        Proxy { addr, shared }
    }

    /// The address peers dial.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Cuts the route from server `dialler`: from now on its connections' bytes are
    /// dropped (the sender believes them delivered), and new connections from it are
    /// closed as soon as it names itself, until [`Proxy::heal`]. See [`Proxy::reset`].
    pub fn cut(&self, dialler: &str) {
        let mut links = self.shared.lock();
        links.refused.insert(dialler.to_string());
        for link in links.open.values() {
            if link.dialler.as_deref() == Some(dialler) {
                link.dropping.store(true, Ordering::SeqCst);
            }
        }
    }

    /// Closes both sides of every connection dialled by server `dialler`.
    pub fn reset(&self, dialler: &str) {
        for link in self.shared.lock().open.values() {
            if link.dialler.as_deref() == Some(dialler) {
                link.close();
            }
        }
    }

    /// Lets server `dialler` connect again after [`Proxy::cut`].
    pub fn heal(&self, dialler: &str) {
        self.shared.lock().refused.remove(dialler);
    }

    /// Slows every connection down: at most 2 KiB forwarded per `pause` in each direction
    /// (`Duration::ZERO`: full speed again).
    pub fn throttle(&self, pause: Duration) {
        let us = u64::try_from(pause.as_micros()).expect("pause fits");
        self.shared.pause_us.store(us, Ordering::SeqCst);
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.shared.closed.store(true, Ordering::SeqCst);
        // Wake the acceptor so that it sees `closed`.
        let _ = TcpStream::connect(self.addr);
        for link in self.shared.lock().open.values() {
            link.close();
        }
    }
}

impl Shared {
    fn lock(&self) -> std::sync::MutexGuard<'_, Links> {
        self.links.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Records a new link; returns its id and its drop flag.
    fn register(&self, down: &TcpStream, up: &TcpStream) -> Option<(u64, Arc<AtomicBool>)> {
        let ends = [down.try_clone().ok()?, up.try_clone().ok()?];
        let dropping = Arc::new(AtomicBool::new(false));
        let mut links = self.lock();
        let id = links.next;
        links.next += 1;
        let link = Link {
            ends,
            dialler: None,
            dropping: Arc::clone(&dropping),
        };
        links.open.insert(id, link);
        Some((id, dropping))
    }

    /// Names link `id`'s dialler; false if that dialler is refused.
    fn identify(&self, id: u64, dialler: String) -> bool {
        let mut links = self.lock();
        let refused = links.refused.contains(&dialler);
        if let Some(link) = links.open.get_mut(&id) {
            link.dialler = Some(dialler);
        }
        !refused
    }

    /// Closes link `id` (both sockets) and forgets it.
    fn close(&self, id: u64) {
        if let Some(link) = self.lock().open.remove(&id) {
            link.close();
        }
    }

    fn pause(&self) -> Duration {
        Duration::from_micros(self.pause_us.load(Ordering::SeqCst))
    }
}

/// Accepts connections until the proxy is dropped, each served on its own threads.
fn accept_loop(shared: &Arc<Shared>, listener: &TcpListener) {
    for down in listener.incoming() {
        if shared.closed.load(Ordering::SeqCst) {
            return;
        }
        let Ok(down) = down else { continue };
        let shared = Arc::clone(shared);
        thread::spawn(move || serve(&shared, down));
    }
}

/// Connects `down` to the upstream server (or closes it, if that is down) and forwards
/// both ways until either side closes.
fn serve(shared: &Arc<Shared>, down: TcpStream) {
    let Ok(up) = TcpStream::connect(shared.upstream) else {
        return;
    };
    for s in [&down, &up] {
        let _ = s.set_nodelay(true);
    }
    let Some((id, dropping)) = shared.register(&down, &up) else {
        return;
    };
    let (Ok(up_reader), Ok(down_writer)) = (up.try_clone(), down.try_clone()) else {
        shared.close(id);
        return;
    };
    let back = Arc::clone(shared);
    let back_dropping = Arc::clone(&dropping);
    thread::spawn(move || pump(&back, id, &back_dropping, up_reader, down_writer, false));
    pump(shared, id, &dropping, down, up, true);
}

/// Forwards `from` to `to` chunk by chunk, honouring the throttle and the drop flag, until
/// either side closes; then closes the link. With `sniff`, the first line names the
/// dialler (a route CONNECT's `name`), and a refused dialler's link is closed at once.
fn pump(
    shared: &Shared,
    id: u64,
    dropping: &AtomicBool,
    mut from: TcpStream,
    mut to: TcpStream,
    sniff: bool,
) {
    let mut buf = vec![0; CHUNK];
    let mut head = sniff.then(Vec::new);
    loop {
        let pause = shared.pause();
        let want = if pause.is_zero() {
            CHUNK
        } else {
            THROTTLED_CHUNK
        };
        let n = match from.read(&mut buf[..want]) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        if let Some(first) = head.as_mut() {
            first.extend_from_slice(&buf[..n]);
            if let Some(name) = dialler_name(first) {
                if !shared.identify(id, name) {
                    break;
                }
                head = None;
            }
        }
        if dropping.load(Ordering::SeqCst) {
            continue;
        }
        if !pause.is_zero() {
            thread::sleep(pause);
        }
        if to.write_all(&buf[..n]).is_err() {
            break;
        }
    }
    shared.close(id);
}

/// The `name` of a route CONNECT once its line is complete (`""` for any other first
/// line, so that it is not waited for forever).
fn dialler_name(head: &[u8]) -> Option<String> {
    let end = head.windows(2).position(|w| w == b"\r\n")?;
    let line = String::from_utf8_lossy(&head[..end]);
    let json = line.strip_prefix("CONNECT ").unwrap_or("{}");
    let connect: serde_json::Value = serde_json::from_str(json).unwrap_or_default();
    Some(connect["name"].as_str().unwrap_or_default().to_string())
}
