//! `skbnet ip`, `skbnet nft`, `skbnet daemon` and `skbnet script`: the
//! seed's configuration commands against a skbnet world, in iproute2's and
//! nft's syntax, spoken as netlink messages ([`skbnet::netlink`]).
//!
//! - [`host`]: a world with its memory and clock, and its netlink sockets.
//! - [`conn`]: how commands reach a world: in this process, or through the
//!   daemon's Unix socket.
//! - [`cmd`] and [`nft`]: the commands; [`show`]: printing as iproute2 does.
//! - [`ping`]: ping inside a namespace, from a ping socket.
//! - [`daemon`] and [`script`]: the two ways a world is held.

pub mod cmd;
pub mod conn;
pub mod daemon;
pub mod host;
pub mod nft;
pub mod ping;
pub mod script;
pub mod shell;
pub mod show;

use std::io::Write;
use std::process::ExitCode;

use conn::{Remote, client_socket_path};

/// This part of `skbnet help`.
pub const USAGE: &str = "\
  skbnet ip [ -n NETNS ] OBJECT COMMAND...
      iproute2's `ip` (link, address, route, netns, monitor) against the
      world of `skbnet daemon`; `skbnet ip help` lists the commands
  skbnet nft COMMAND...
      nft's commands against the daemon's world
  skbnet ping [-c N] [-i S] [-s N] [-W S] ADDRESS
  skbnet sysctl [-w] net.ipv4.{ip_forward,ip_default_ttl,icmp_echo_ignore_all}[=V]
      ping and sysctl in the daemon's initial namespace (in another one:
      `skbnet ip netns exec NS ping ...`)
  skbnet ip netns exec NS bash
      a sub-shell in NS: reads ip, nft, ping and sysctl commands from
      standard input until `exit` or its end
  skbnet sudo COMMAND...
      the same as `skbnet COMMAND...` (the seed writes `sudo nft`; a world
      is its user's, so there is nothing to raise privileges for)
";

/// The words of a command line without leading `skbnet` and `sudo` words.
///
/// `sudo` is accepted and ignored because the seed writes its nft and
/// sysctl examples with it: on Linux they need root, but a skbnet world
/// belongs to whoever runs it, so there is nothing to raise privileges
/// for (the daemon's socket is found under sudo too: see
/// [`conn::client_socket_path`]).
pub fn strip_prefixes(words: &[String]) -> &[String] {
    let mut words = words;
    while let Some(w) = words.first().filter(|w| *w == "skbnet" || *w == "sudo") {
        let _ = w;
        words = &words[1..];
    }
    words
}

/// Which command a client runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tool {
    /// `skbnet ip`.
    Ip,
    /// `skbnet nft`.
    Nft,
    /// `skbnet ping`.
    Ping,
    /// `skbnet sysctl`.
    Sysctl,
}

/// `skbnet ip|nft|ping|sysctl ...` against the daemon, in its initial namespace.
pub fn client(args: &[String], tool: Tool) -> ExitCode {
    let mut conn = Remote::new(&client_socket_path());
    let mut out = std::io::stdout().lock();
    let res = match tool {
        Tool::Ip => cmd::ip(&mut conn, "", args, &mut out),
        Tool::Nft => nft::nft(&mut conn, "", args, &mut out),
        Tool::Ping | Tool::Sysctl => {
            let word = if tool == Tool::Ping { "ping" } else { "sysctl" };
            let prog: Vec<String> = std::iter::once(word.to_string()).chain(args.iter().cloned()).collect();
            cmd::exec(&mut conn, "", &prog, &mut out)
        }
    };
    let _ = out.flush();
    match res {
        Ok(()) => ExitCode::SUCCESS,
        Err(f) => {
            if !f.text.is_empty() {
                eprintln!("{}", f.text);
            }
            ExitCode::from(f.code.max(1))
        }
    }
}
