//! `skbnet daemon`: one world, on real time, that `skbnet ip` and `skbnet
//! nft` talk to through a Unix socket (see [`super::conn`] for the frames).
//!
//! The world lives on one thread, which owns it: each connection has a
//! reader thread that passes its frames over a channel, and a writer
//! thread that sends what the world thread queued for it. A monitor's
//! notifications are read from the world only when the previous batch has
//! gone out, so a client that reads slowly overflows its place in the
//! world's bounded event log and is told (`ENOBUFS`), as on Linux.

use std::collections::{HashMap, VecDeque};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender, SyncSender, TrySendError};
use std::time::Duration;

use skbnet::netlink::NlSock;

use super::conn::{read_frame, socket_path, write_frame};
use super::host::Host;
use super::ping::{Ping, PingArgs};

/// A frame: kind and body.
type Frame = (u8, Vec<u8>);

/// What a connection's reader tells the world thread.
enum ToWorld {
    /// A new connection, and where its frames go.
    Open(u64, SyncSender<Frame>),
    /// A frame from it.
    Frame(u64, Frame),
    /// It closed.
    Closed(u64),
}

/// A connection, on the world thread.
struct Client {
    out: SyncSender<Frame>,
    outbox: VecDeque<Frame>,
    sock: Option<NlSock>,
    monitor: bool,
    ping: Option<Ping>,
    gone: bool,
}

/// The daemon's part of `skbnet help`.
pub const USAGE: &str = "\
  skbnet daemon [--socket PATH]
      hold a world (on real time) for `skbnet ip` and `skbnet nft`, listening
      on PATH (default $SKBNET_SOCKET, else $XDG_RUNTIME_DIR/skbnet.sock,
      else /tmp/skbnet.sock); runs until killed. Clients look there too,
      and under sudo (which clears those variables) also in
      /run/user/$SUDO_UID/skbnet.sock and /tmp/skbnet.sock
";

/// `skbnet daemon [--socket PATH]`.
pub fn main(args: &[String]) -> ExitCode {
    let mut path: Option<PathBuf> = None;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--socket" => match it.next() {
                Some(p) => path = Some(PathBuf::from(p)),
                None => return fail("`--socket` needs a PATH"),
            },
            "-h" | "--help" => {
                print!("{USAGE}");
                return ExitCode::SUCCESS;
            }
            other => return fail(&format!("unknown argument `{other}`")),
        }
    }
    let path = path.unwrap_or_else(socket_path);
    if UnixStream::connect(&path).is_ok() {
        return fail(&format!("a daemon already listens on {}", path.display()));
    }
    let _ = std::fs::remove_file(&path);
    let listener = match UnixListener::bind(&path) {
        Ok(l) => l,
        Err(e) => return fail(&format!("cannot listen on {}: {e}", path.display())),
    };
    let mut host = match Host::new(false) {
        Ok(h) => h,
        Err(e) => return fail(&e),
    };
    eprintln!("skbnet daemon: listening on {}", path.display());
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || accept(listener, tx));
    run(&mut host, &rx);
    ExitCode::SUCCESS
}

fn fail(msg: &str) -> ExitCode {
    eprintln!("skbnet daemon: {msg}");
    ExitCode::from(2)
}

/// Accept connections, each with a reader and a writer thread.
fn accept(listener: UnixListener, tx: Sender<ToWorld>) {
    for (id, stream) in (1u64..).zip(listener.incoming()) {
        let Ok(stream) = stream else { continue };
        let Ok(mut writer) = stream.try_clone() else { continue };
        let (out_tx, out_rx) = mpsc::sync_channel::<Frame>(16);
        if tx.send(ToWorld::Open(id, out_tx)).is_err() {
            return;
        }
        std::thread::spawn(move || {
            for (kind, body) in out_rx {
                if write_frame(&mut writer, kind, &body).is_err() {
                    break;
                }
            }
            let _ = writer.shutdown(std::net::Shutdown::Both);
        });
        let tx = tx.clone();
        std::thread::spawn(move || {
            let mut stream = stream;
            while let Ok(Some(frame)) = read_frame(&mut stream) {
                if tx.send(ToWorld::Frame(id, frame)).is_err() {
                    return;
                }
            }
            let _ = tx.send(ToWorld::Closed(id));
        });
    }
}

/// The world thread's loop.
fn run(host: &mut Host, rx: &Receiver<ToWorld>) {
    let mut clients: HashMap<u64, Client> = HashMap::new();
    loop {
        let busy = clients.values().any(|c| !c.outbox.is_empty() || c.ping.is_some());
        let wait = host.idle_for(Duration::from_millis(if busy { 2 } else { 50 }));
        match rx.recv_timeout(wait.max(Duration::from_micros(200))) {
            Ok(m) => handle(host, &mut clients, m),
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => return,
        }
        while let Ok(m) = rx.try_recv() {
            handle(host, &mut clients, m);
        }
        host.poll();
        for c in clients.values_mut() {
            step_client(host, c);
        }
        clients.retain(|_, c| {
            if c.gone
                && let Some(p) = c.ping.as_mut()
            {
                p.abort(host);
            }
            !c.gone
        });
    }
}

/// One message from a connection.
fn handle(host: &mut Host, clients: &mut HashMap<u64, Client>, m: ToWorld) {
    let (id, (kind, body)) = match m {
        ToWorld::Open(id, out) => {
            let c = Client { out, outbox: VecDeque::new(), sock: None, monitor: false, ping: None, gone: false };
            clients.insert(id, c);
            return;
        }
        ToWorld::Closed(id) => {
            if let Some(c) = clients.get_mut(&id) {
                c.gone = true;
            }
            return;
        }
        ToWorld::Frame(id, f) => (id, f),
    };
    let Some(c) = clients.get_mut(&id) else { return };
    let reply = match (kind, &mut c.sock) {
        (b'H', None) => match host.open(&String::from_utf8_lossy(&body)) {
            Ok(s) => {
                c.sock = Some(s);
                vec![(b'O', Vec::new())]
            }
            Err(e) => vec![(b'E', e.into_bytes())],
        },
        (b'N', Some(sock)) => vec![(b'N', host.request(sock, &body)), (b'D', Vec::new())],
        (b'M', Some(sock)) => {
            let groups = body.get(..4).map_or(0, |b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]));
            for g in (1..=32).filter(|g| groups & (1 << (g - 1)) != 0) {
                let _ = host.world().netlink_subscribe(sock, g);
            }
            c.monitor = true;
            Vec::new()
        }
        (b'X', Some(sock)) => {
            let argv: Vec<String> = String::from_utf8_lossy(&body).split('\0').map(String::from).collect();
            let ns = sock.ns();
            let mut lines = Vec::new();
            let started = match argv.first().map(String::as_str) {
                Some("ping") => PingArgs::parse(&argv[1..], None)
                    .and_then(|a| Ping::start(host, ns, a, &mut |l| lines.push((b'T', l.into_bytes()))))
                    .map(|p| c.ping = Some(p)),
                Some("sysctl") => {
                    super::conn::sysctl(host, ns, &argv[1..], &mut |l| lines.push((b'T', l.into_bytes())))
                        .map(|code| lines.push((b'R', code.to_le_bytes().to_vec())))
                }
                Some(other) => {
                    Err(format!("exec of \"{other}\" failed: only ip, nft, ping and sysctl run inside a namespace"))
                }
                None => Err("No command specified".into()),
            };
            if let Err(e) = started {
                lines.push((b'E', e.into_bytes()));
            }
            lines
        }
        _ => vec![(b'E', b"protocol error".to_vec())],
    };
    c.outbox.extend(reply);
}

/// Run a client's ping, read its notifications, send what it has queued.
fn step_client(host: &mut Host, c: &mut Client) {
    if let Some(p) = c.ping.as_mut() {
        let mut lines = Vec::new();
        if let Some(status) = p.step(host, &mut |l| lines.push((b'T', l.into_bytes()))) {
            lines.push((b'R', status.to_le_bytes().to_vec()));
            c.ping = None;
        }
        c.outbox.extend(lines);
    }
    if c.monitor
        && c.outbox.is_empty()
        && let Some(sock) = c.sock.as_mut()
    {
        let b = host.events(sock);
        if !b.is_empty() {
            c.outbox.push_back((b'N', b));
        }
    }
    while let Some(f) = c.outbox.pop_front() {
        match c.out.try_send(f) {
            Ok(()) => {}
            Err(TrySendError::Full(f)) => {
                c.outbox.push_front(f);
                break;
            }
            Err(TrySendError::Disconnected(_)) => {
                c.gone = true;
                break;
            }
        }
    }
}
