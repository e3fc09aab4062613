//! How the `ip` and `nft` commands reach a world: in this process (a
//! script's world) or through the daemon's Unix socket.
//!
//! On the socket, each frame is a little-endian u32 length (of what
//! follows), a kind byte and a body:
//!
//! | kind | from   | body |
//! |------|--------|------|
//! | `H`  | client | namespace name (empty: the initial one); answered `O` or `E` |
//! | `N`  | both   | netlink messages: requests, or their replies |
//! | `D`  | daemon | the replies to the last `N` are complete |
//! | `M`  | client | join groups (u32 mask, as `nl_groups`): notifications follow as `N` frames |
//! | `X`  | client | run a program in the namespace: arguments separated by NUL |
//! | `T`  | daemon | a line the program printed |
//! | `R`  | daemon | the program ended: its exit status (i32) |
//! | `O`  | daemon | hello accepted |
//! | `E`  | daemon | an error, as text |

use std::io::{self, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};

use skbnet::netlink::NlSock;

use super::host::Host;
use super::ping::{Ping, PingArgs};

/// The socket the daemon listens on: `$SKBNET_SOCKET`, else
/// `$XDG_RUNTIME_DIR/skbnet.sock`, else `/tmp/skbnet.sock`.
pub fn socket_path() -> PathBuf {
    socket_candidates(&|k| std::env::var_os(k)).swap_remove(0)
}

/// The socket a client talks to: the first of [`socket_candidates`] that
/// exists, else the daemon's default. `sudo` resets the environment
/// (`SKBNET_SOCKET` and `XDG_RUNTIME_DIR` are gone) but sets `SUDO_UID`,
/// so `sudo skbnet nft ...` still finds a daemon its user started, in
/// `/run/user/$SUDO_UID/skbnet.sock`, or the fixed `/tmp/skbnet.sock`.
pub fn client_socket_path() -> PathBuf {
    let all = socket_candidates(&|k| std::env::var_os(k));
    pick_socket(all, &|p| p.exists())
}

/// Where a daemon may listen, most specific first, from the environment
/// `env` gives.
pub fn socket_candidates(env: &dyn Fn(&str) -> Option<std::ffi::OsString>) -> Vec<PathBuf> {
    let mut all = Vec::new();
    if let Some(p) = env("SKBNET_SOCKET").filter(|p| !p.is_empty()) {
        all.push(PathBuf::from(p));
    }
    if let Some(d) = env("XDG_RUNTIME_DIR").filter(|d| !d.is_empty()) {
        all.push(PathBuf::from(d).join("skbnet.sock"));
    }
    let sudo_uid = env("SUDO_UID").and_then(|u| u.to_str().and_then(|u| u.parse::<u32>().ok()));
    if let Some(uid) = sudo_uid {
        all.push(PathBuf::from(format!("/run/user/{uid}/skbnet.sock")));
    }
    all.push(PathBuf::from("/tmp/skbnet.sock"));
    all
}

/// The first of `all` that `exists`, else the first.
pub fn pick_socket(mut all: Vec<PathBuf>, exists: &dyn Fn(&Path) -> bool) -> PathBuf {
    match all.iter().position(|p| exists(p)) {
        Some(i) => all.swap_remove(i),
        None => all.swap_remove(0),
    }
}

/// Largest frame accepted.
pub const FRAME_MAX: usize = 1 << 20;

/// Write one frame.
pub fn write_frame(w: &mut impl Write, kind: u8, body: &[u8]) -> io::Result<()> {
    let len = u32::try_from(body.len() + 1).map_err(|_| io::Error::other("frame too big"))?;
    let mut buf = Vec::with_capacity(body.len() + 5);
    buf.extend_from_slice(&len.to_le_bytes());
    buf.push(kind);
    buf.extend_from_slice(body);
    w.write_all(&buf)
}

/// Read one frame; `None` at the end of the stream.
pub fn read_frame(r: &mut impl Read) -> io::Result<Option<(u8, Vec<u8>)>> {
    let mut len = [0u8; 4];
    match r.read_exact(&mut len) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(e),
    }
    let len = u32::from_le_bytes(len) as usize;
    if len == 0 || len > FRAME_MAX {
        return Err(io::Error::other("bad frame length"));
    }
    let mut body = vec![0u8; len];
    r.read_exact(&mut body)?;
    let kind = body.remove(0);
    Ok(Some((kind, body)))
}

/// A way to a world.
pub trait Conn {
    /// Send netlink requests as a socket of namespace `ns`; every reply,
    /// dumps to their end.
    fn netlink(&mut self, ns: &str, req: &[u8]) -> Result<Vec<u8>, String>;
    /// Run `argv` (only `ping` exists) in namespace `ns`, printing what it
    /// prints; its exit status.
    fn exec(&mut self, ns: &str, argv: &[String], out: &mut dyn FnMut(String)) -> Result<i32, String>;
    /// Listen to `groups` of namespace `ns`, handing each buffer of
    /// notifications to `each` while it returns true. In a script this
    /// only starts listening: what comes is printed after each command.
    fn monitor(&mut self, ns: &str, groups: u32, each: &mut dyn FnMut(&[u8]) -> bool) -> Result<(), String>;
}

/// The world of this process (`skbnet script`).
pub struct Local<'h> {
    host: &'h mut Host,
    /// Sockets of `ip monitor` commands: their notifications are printed
    /// after each command.
    pub monitors: Vec<(NlSock, super::show::Names)>,
}

impl<'h> Local<'h> {
    /// A connection to `host`.
    pub fn new(host: &'h mut Host) -> Local<'h> {
        Local { host, monitors: Vec::new() }
    }

    /// Run `f` on the world.
    pub fn with_host<R>(&mut self, f: impl FnOnce(&mut Host) -> R) -> R {
        f(self.host)
    }

    /// The notifications each monitor has waiting.
    pub fn drain(&mut self) -> Vec<(usize, Vec<u8>)> {
        let mut got = Vec::new();
        for (i, (sock, _)) in self.monitors.iter_mut().enumerate() {
            // Bounded: each round reads what is left, at most the log.
            for _ in 0..64 {
                let b = self.host.events(sock);
                if b.is_empty() {
                    break;
                }
                got.push((i, b));
            }
        }
        got
    }
}

impl Conn for Local<'_> {
    fn netlink(&mut self, ns: &str, req: &[u8]) -> Result<Vec<u8>, String> {
        let mut sock = self.host.open(ns)?;
        Ok(self.host.request(&mut sock, req))
    }

    fn exec(&mut self, ns: &str, argv: &[String], out: &mut dyn FnMut(String)) -> Result<i32, String> {
        run_program(self.host, ns, argv, Some(4), out)
    }

    fn monitor(&mut self, ns: &str, groups: u32, _each: &mut dyn FnMut(&[u8]) -> bool) -> Result<(), String> {
        let mut sock = self.host.open(ns)?;
        for g in 1..=32 {
            if groups & (1 << (g - 1)) != 0 {
                self.host.world().netlink_subscribe(&mut sock, g).map_err(|e| e.to_string())?;
            }
        }
        let names = super::show::Names::load(self, ns);
        self.monitors.push((sock, names));
        Ok(())
    }
}

/// Run a program to its end on `host` (virtual time jumps to each wake-up).
pub fn run_program(
    host: &mut Host,
    ns: &str,
    argv: &[String],
    default_count: Option<u32>,
    out: &mut dyn FnMut(String),
) -> Result<i32, String> {
    let id = if ns.is_empty() { skbnet::netns::NsId::INIT } else { host.open(ns)?.ns() };
    match argv.first().map(String::as_str) {
        Some("ping") => {
            let args = PingArgs::parse(&argv[1..], default_count)?;
            let mut p = Ping::start(host, id, args, out)?;
            // Bounded by the count (a script's ping always has one).
            for _ in 0..1_000_000 {
                if let Some(status) = p.step(host, out) {
                    return Ok(status);
                }
                host.advance_to(p.wake_at());
            }
            p.abort(host);
            Ok(1)
        }
        Some("sysctl") => {
            let code = sysctl(host, id, &argv[1..], out)?;
            Ok(code)
        }
        Some(other) => Err(format!("exec of \"{other}\" failed: only ip, nft, ping and sysctl run inside a namespace")),
        None => Err("No command specified".into()),
    }
}

/// `sysctl [-w] NAME[=VALUE]...` for a namespace's IPv4 settings.
pub fn sysctl(
    host: &mut Host,
    ns: skbnet::netns::NsId,
    args: &[String],
    out: &mut dyn FnMut(String),
) -> Result<i32, String> {
    let w = host.world();
    let mut s = w.sysctl(ns).ok_or("sysctl: no such namespace")?;
    let mut shown = 0;
    for a in args.iter().filter(|a| *a != "-w" && *a != "-q") {
        let (key, value) = match a.split_once('=') {
            Some((k, v)) => (k.trim(), Some(v.trim())),
            None => (a.as_str(), None),
        };
        let key = key.replace('/', ".");
        let flag = |v: &str| match v {
            "0" => Ok(false),
            "1" => Ok(true),
            _ => Err(format!("sysctl: setting key \"{key}\": Invalid argument")),
        };
        let num = |v: &str| v.parse::<u32>().map_err(|_| format!("sysctl: setting key \"{key}\": Invalid argument"));
        let now = match (key.as_str(), value) {
            ("net.ipv4.ip_forward", Some(v)) => {
                s.ip_forward = flag(v)?;
                u32::from(s.ip_forward)
            }
            ("net.ipv4.ip_forward", None) => u32::from(s.ip_forward),
            ("net.ipv4.ip_default_ttl", Some(v)) => {
                s.default_ttl = u8::try_from(num(v)?).ok().filter(|t| *t > 0).ok_or("sysctl: ttl must be 1..=255")?;
                u32::from(s.default_ttl)
            }
            ("net.ipv4.ip_default_ttl", None) => u32::from(s.default_ttl),
            ("net.ipv4.icmp_echo_ignore_all", Some(v)) => {
                s.icmp_echo_ignore_all = flag(v)?;
                u32::from(s.icmp_echo_ignore_all)
            }
            ("net.ipv4.icmp_echo_ignore_all", None) => u32::from(s.icmp_echo_ignore_all),
            _ => {
                return Err(format!(
                    "sysctl: cannot stat /proc/sys/{}: No such file or directory",
                    key.replace('.', "/")
                ));
            }
        };
        out(format!("{key} = {now}"));
        shown += 1;
    }
    if shown == 0 {
        return Err("sysctl: no variables specified".into());
    }
    w.set_sysctl(ns, s).map_err(|e| format!("sysctl: {e:?}"))?;
    Ok(0)
}

/// The daemon's world, through its socket (`skbnet ip` and `skbnet nft`).
pub struct Remote {
    path: PathBuf,
}

impl Remote {
    /// A connection to the daemon listening on `path`.
    pub fn new(path: &Path) -> Remote {
        Remote { path: path.to_path_buf() }
    }

    /// Connect and say which namespace this connection speaks for.
    fn hello(&self, ns: &str) -> Result<UnixStream, String> {
        let mut s = UnixStream::connect(&self.path).map_err(|e| {
            format!("cannot reach the skbnet daemon at {}: {e} (start it with `skbnet daemon`)", self.path.display())
        })?;
        write_frame(&mut s, b'H', ns.as_bytes()).map_err(|e| e.to_string())?;
        match read_frame(&mut s).map_err(|e| e.to_string())? {
            Some((b'O', _)) => Ok(s),
            Some((b'E', msg)) => Err(String::from_utf8_lossy(&msg).into_owned()),
            _ => Err("the daemon closed the connection".into()),
        }
    }
}

impl Conn for Remote {
    fn netlink(&mut self, ns: &str, req: &[u8]) -> Result<Vec<u8>, String> {
        let mut s = self.hello(ns)?;
        write_frame(&mut s, b'N', req).map_err(|e| e.to_string())?;
        let mut replies = Vec::new();
        loop {
            match read_frame(&mut s).map_err(|e| e.to_string())? {
                Some((b'N', b)) => replies.extend_from_slice(&b),
                Some((b'D', _)) => return Ok(replies),
                Some((b'E', msg)) => return Err(String::from_utf8_lossy(&msg).into_owned()),
                Some(_) => return Err("unexpected frame from the daemon".into()),
                None => return Err("the daemon closed the connection".into()),
            }
        }
    }

    fn exec(&mut self, ns: &str, argv: &[String], out: &mut dyn FnMut(String)) -> Result<i32, String> {
        let mut s = self.hello(ns)?;
        write_frame(&mut s, b'X', argv.join("\0").as_bytes()).map_err(|e| e.to_string())?;
        loop {
            match read_frame(&mut s).map_err(|e| e.to_string())? {
                Some((b'T', line)) => out(String::from_utf8_lossy(&line).into_owned()),
                Some((b'R', code)) => {
                    let b: [u8; 4] = code.try_into().map_err(|_| "bad exit status from the daemon")?;
                    return Ok(i32::from_le_bytes(b));
                }
                Some((b'E', msg)) => return Err(String::from_utf8_lossy(&msg).into_owned()),
                Some(_) => return Err("unexpected frame from the daemon".into()),
                None => return Err("the daemon closed the connection".into()),
            }
        }
    }

    fn monitor(&mut self, ns: &str, groups: u32, each: &mut dyn FnMut(&[u8]) -> bool) -> Result<(), String> {
        let mut s = self.hello(ns)?;
        write_frame(&mut s, b'M', &groups.to_le_bytes()).map_err(|e| e.to_string())?;
        loop {
            match read_frame(&mut s).map_err(|e| e.to_string())? {
                Some((b'N', b)) => {
                    if !each(&b) {
                        return Ok(());
                    }
                }
                Some((b'E', msg)) => return Err(String::from_utf8_lossy(&msg).into_owned()),
                Some(_) => return Err("unexpected frame from the daemon".into()),
                None => return Ok(()),
            }
        }
    }
}

#[cfg(test)]
mod socket_tests {
    use super::*;
    use std::ffi::OsString;

    fn env(vars: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<OsString> {
        move |k| vars.iter().find(|(n, _)| *n == k).map(|(_, v)| OsString::from(v))
    }

    #[test]
    fn sudo_without_the_environment_still_finds_the_user_s_daemon() {
        // The user's shell: the daemon listens in the runtime directory.
        let user = socket_candidates(&env(&[("XDG_RUNTIME_DIR", "/run/user/1000")]));
        assert_eq!(user[0], PathBuf::from("/run/user/1000/skbnet.sock"));
        // Under sudo: XDG_RUNTIME_DIR and SKBNET_SOCKET are gone, SUDO_UID is set.
        let sudo = socket_candidates(&env(&[("SUDO_UID", "1000")]));
        assert_eq!(sudo, [PathBuf::from("/run/user/1000/skbnet.sock"), PathBuf::from("/tmp/skbnet.sock")]);
        let found = pick_socket(sudo.clone(), &|p| p == Path::new("/run/user/1000/skbnet.sock"));
        assert_eq!(found, user[0]);
        // A daemon started without a runtime directory (or as root) is on the fixed path.
        assert_eq!(pick_socket(sudo, &|p| p == Path::new("/tmp/skbnet.sock")), PathBuf::from("/tmp/skbnet.sock"));
        // SKBNET_SOCKET wins when set; nothing there: the first is named.
        let all = socket_candidates(&env(&[("SKBNET_SOCKET", "/x/s.sock"), ("XDG_RUNTIME_DIR", "/r")]));
        assert_eq!(pick_socket(all, &|_| false), PathBuf::from("/x/s.sock"));
        assert_eq!(socket_candidates(&env(&[])), [PathBuf::from("/tmp/skbnet.sock")]);
    }
}
