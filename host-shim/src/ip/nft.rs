//! The `nft` command: the command line goes to the world as text in an
//! `SKBNET_NFT` message, and what the world's rule set prints comes back.

use std::io::Write;

use skbnet::netlink::family::NftMsg;
use skbnet::netlink::msg::messages;
use skbnet::netlink::uapi::*;

use super::cmd::{Fail, Res, build};
use super::conn::Conn;
use super::show::failure;

/// `nft ARGS...` in namespace `ns`.
pub fn nft(conn: &mut dyn Conn, ns: &str, args: &[String], out: &mut dyn Write) -> Res {
    if args.is_empty() {
        return Err(Fail::usage("Usage: nft COMMAND (add, delete, flush, list ...)"));
    }
    let cmd = args.join(" ");
    let req = build(SKBNET_NFT, NLM_F_ACK, |w| NftMsg { cmd: Some(&cmd), output: None }.emit(w));
    let bytes = conn.netlink(ns, &req).map_err(|e| Fail { code: 1, text: e })?;
    let mut err = None;
    let mut printed = false;
    for m in messages(&bytes).flatten() {
        match m.header.ty {
            SKBNET_NFT => {
                if let Some(text) = NftMsg::parse(m.payload).ok().and_then(|x| x.output) {
                    let _ = out.write_all(text.as_bytes());
                    printed = true;
                }
            }
            NLMSG_ERROR => {
                if let Some(f) = failure(&m.header, m.payload) {
                    err.get_or_insert(f);
                }
            }
            _ => {}
        }
    }
    let _ = out.flush();
    match err {
        None => Ok(()),
        // The world printed nft's report of the error (the command, the
        // offending word underlined).
        Some(_) if printed => Err(Fail { code: 1, text: String::new() }),
        Some(f) if f.msg.is_empty() => {
            Err(Fail { code: 1, text: format!("Error: {}", super::show::strerror(f.errno)) })
        }
        Some(f) => Err(Fail { code: 1, text: format!("Error: {}", f.msg) }),
    }
}
