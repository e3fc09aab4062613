//! Values an off-path attacker must not guess: initial sequence numbers
//! (RFC 6528), timestamp offsets, and SYN cookies (RFC 4987 §3.6, encoded
//! the way Linux's `syncookies.c` does it, with our own keyed hash).

use core::net::SocketAddrV4;

use super::seq::Seq;
use crate::hash::siphash24;
use crate::time::Instant;

/// The 4-tuple as bytes, for hashing.
fn tuple(local: SocketAddrV4, remote: SocketAddrV4, salt: u8) -> [u8; 13] {
    let mut b = [0u8; 13];
    b[0..4].copy_from_slice(&local.ip().octets());
    b[4..6].copy_from_slice(&local.port().to_be_bytes());
    b[6..10].copy_from_slice(&remote.ip().octets());
    b[10..12].copy_from_slice(&remote.port().to_be_bytes());
    b[12] = salt;
    b
}

//= https://www.rfc-editor.org/rfc/rfc6528#section-3
//# ISN = M + F(localip, localport, remoteip, remoteport, secretkey)
//# where M is the 4 microsecond timer, and F() is a pseudorandom function
//# (PRF) of the connection-id.
/// The initial sequence number of a connection.
pub fn isn(secret: &[u8; 16], local: SocketAddrV4, remote: SocketAddrV4, now: Instant) -> Seq {
    let f = siphash24(secret, &tuple(local, remote, 0)) as u32;
    Seq(f.wrapping_add((now.micros() / 4) as u32))
}

/// A per-connection offset for the timestamp clock, so TSval does not
/// reveal the host's uptime (Linux's `tsoffset`).
pub fn ts_offset(secret: &[u8; 16], local: SocketAddrV4, remote: SocketAddrV4) -> u32 {
    siphash24(secret, &tuple(local, remote, 1)) as u32
}

/// The MSS values a cookie can say, as Linux's `msstab`: the index goes in
/// the cookie's low bits.
pub const COOKIE_MSS: [u16; 4] = [536, 1300, 1440, 1460];

/// Seconds per cookie time step; a cookie is valid for [`COOKIE_MAX_AGE`] steps.
const COOKIE_STEP_SECS: u64 = 64;
/// Steps a cookie stays valid (Linux's `MAX_SYNCOOKIE_AGE`).
const COOKIE_MAX_AGE: u32 = 2;
/// The longest a cookie can stay valid.
pub const COOKIE_LIFETIME: core::time::Duration =
    core::time::Duration::from_secs(COOKIE_STEP_SECS * COOKIE_MAX_AGE as u64);
const COOKIE_BITS: u32 = 24;
const COOKIE_MASK: u32 = (1 << COOKIE_BITS) - 1;

fn cookie_count(now: Instant) -> u32 {
    (now.micros() / 1_000_000 / COOKIE_STEP_SECS) as u32
}

/// The keyed hash of a cookie: over the 4-tuple, a time step and the
/// peer's ISN, so a cookie checked with any other ISN decodes to noise.
fn cookie_hash(
    secret: &[u8; 16],
    local: SocketAddrV4,
    remote: SocketAddrV4,
    count: u32,
    peer_isn: Seq,
    which: u8,
) -> u32 {
    let mut b = [0u8; 21];
    b[..13].copy_from_slice(&tuple(local, remote, 2 + which));
    b[13..17].copy_from_slice(&count.to_le_bytes());
    b[17..].copy_from_slice(&peer_isn.0.to_le_bytes());
    siphash24(secret, &b) as u32
}

/// The initial sequence number of a SYN-ACK sent as a cookie, encoding the
/// peer's MSS (rounded down to [`COOKIE_MSS`]) and the time.
pub fn cookie(
    secret: &[u8; 16],
    local: SocketAddrV4,
    remote: SocketAddrV4,
    peer_isn: Seq,
    mss: u16,
    now: Instant,
) -> Seq {
    let idx = COOKIE_MSS.iter().rposition(|&m| m <= mss).unwrap_or(0) as u32;
    let count = cookie_count(now);
    let h1 = cookie_hash(secret, local, remote, 0, Seq(0), 0);
    let h2 = cookie_hash(secret, local, remote, count, peer_isn, 1);
    Seq(h1.wrapping_add(peer_isn.0).wrapping_add(count << COOKIE_BITS).wrapping_add(h2.wrapping_add(idx) & COOKIE_MASK))
}

/// Check the cookie in an ACK (`ack - 1` is our cookie ISN, `seq - 1` the
/// peer's ISN) and return the MSS it encodes, or `None` if it is forged or
/// too old.
pub fn check_cookie(
    secret: &[u8; 16],
    local: SocketAddrV4,
    remote: SocketAddrV4,
    peer_isn: Seq,
    our_isn: Seq,
    now: Instant,
) -> Option<u16> {
    let h1 = cookie_hash(secret, local, remote, 0, Seq(0), 0);
    let v = our_isn.0.wrapping_sub(h1).wrapping_sub(peer_isn.0);
    let count = cookie_count(now);
    let age = count.wrapping_sub(v >> COOKIE_BITS) & (u32::MAX >> COOKIE_BITS);
    if age >= COOKIE_MAX_AGE {
        return None;
    }
    let then = count.wrapping_sub(age);
    let h2 = cookie_hash(secret, local, remote, then, peer_isn, 1);
    let idx = (v & COOKIE_MASK).wrapping_sub(h2) & COOKIE_MASK;
    COOKIE_MSS.get(idx as usize).copied()
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::net::Ipv4Addr;

    fn ends() -> (SocketAddrV4, SocketAddrV4) {
        (SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, 1), 80), SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, 2), 40_000))
    }

    #[test]
    fn isns_differ_by_tuple_and_advance_with_time() {
        let (l, r) = ends();
        let k = [9; 16];
        let a = isn(&k, l, r, Instant::ZERO);
        assert_eq!(isn(&k, l, r, Instant::from_micros(400)) - a, 100, "4 us clock");
        assert_ne!(isn(&k, l, SocketAddrV4::new(*r.ip(), 40_001), Instant::ZERO), a);
        assert_ne!(isn(&[8; 16], l, r, Instant::ZERO), a, "keyed");
        assert_ne!(ts_offset(&k, l, r), ts_offset(&k, r, l));
    }

    #[test]
    fn cookies_round_trip_expire_and_resist_forgery() {
        let (l, r) = ends();
        let k = [3; 16];
        let t = Instant::from_secs(1000);
        let peer = Seq(12345);
        for (mss, want) in [(1460, 1460), (1450, 1440), (1400, 1300), (100, 536)] {
            let c = cookie(&k, l, r, peer, mss, t);
            assert_eq!(check_cookie(&k, l, r, peer, c, t + core::time::Duration::from_secs(60)), Some(want));
        }
        let c = cookie(&k, l, r, peer, 1460, t);
        assert_eq!(check_cookie(&k, l, r, peer, c, t + core::time::Duration::from_secs(200)), None, "expired");
        assert_eq!(check_cookie(&k, l, r, peer + 1, c, t), None, "another peer ISN");
        assert_eq!(check_cookie(&[4; 16], l, r, peer, c, t), None, "another secret");
        let other = SocketAddrV4::new(*r.ip(), 40_001);
        assert_eq!(check_cookie(&k, l, other, peer, c, t), None, "another tuple");
        let forged = (0..1000u32)
            .filter(|&x| check_cookie(&k, l, r, peer, Seq(x.wrapping_mul(2_654_435_761)), t).is_some())
            .count();
        assert!(forged < 3, "{forged} random values passed");
    }
}
