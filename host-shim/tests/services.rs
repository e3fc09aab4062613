//! The services (`skbnet_host_shim::services`) in one process: namespace
//! `b` runs them, namespace `a` talks to them through skbnet's own sockets
//! over two simulated NICs and a link, with a virtual clock. Echo and
//! discard over TCP and UDP, the HTTP status page (parsed, its counters
//! compared with the stack's), 404, pipelining, many clients at once, slow,
//! oversized and abandoned requests, the client's push and pull with their
//! digests, and iperf3's protocol driven step by step by a client written
//! here from the protocol (normal, reverse with two streams, bidirectional,
//! a busy server, refused parameters). Every test ends with the services
//! shut down, the world shut down and the pool checked to be free.

use std::cell::RefCell;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::time::Duration;

use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use skbnet::netns::{NsId, SmallWorldStorage, World};
use skbnet::skb::{BufInfo, Head, OwnerSlot, PoolParts, SkbPool};
use skbnet::socket::{Errno, Shutdown, SockId, SockType};
use skbnet::tcp::TcpState;
use skbnet::time::Instant;
use skbnet::wire::MacAddr;
use skbnet_host_shim::services::{Client, Direction, Limits, Service, Services, push_bytes};
use skbnet_nic_sim::link::{Link, LinkConfig, NoTap, Side};
use skbnet_nic_sim::nic::{NicConfig, SimNic};
use skbnet_nic_sim::port::LinkPort;

/// The clients' namespace.
const A_IP: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
/// The services' namespace.
const B_IP: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 2);

type TestLink = Link<1024, 1514, NoTap>;
type TestNic<'l> = SimNic<256, 256, 66_000, LinkPort<'l, 1024, 1514, NoTap>>;

/// Pool memory on the heap.
struct Mem {
    heads: Vec<Head>,
    info: Vec<BufInfo>,
    data: Vec<u8>,
    owners: Vec<OwnerSlot>,
}

impl Mem {
    fn new(bufs: usize) -> Mem {
        Mem {
            heads: vec![Head::EMPTY; bufs * 2],
            info: vec![BufInfo::EMPTY; bufs],
            data: vec![0; bufs * 2048],
            owners: vec![OwnerSlot::EMPTY; 256],
        }
    }

    fn pool(&mut self) -> SkbPool<'_> {
        SkbPool::from_parts(PoolParts {
            heads: &mut self.heads,
            info: &mut self.info,
            data: &mut self.data,
            owners: &mut self.owners,
            buf_size: 2048,
        })
        .expect("pool")
    }
}

/// The world, its two namespaces, the clock, and the services in `b`.
struct Net<'w, 'l> {
    w: World<'w>,
    a: NsId,
    b: NsId,
    now: Instant,
    link: &'l RefCell<TestLink>,
    svc: Services,
}

/// Build the world, start `which` in `b` with `limits`, run `f`, stop the
/// services, let the connections finish, shut the world down and check
/// that the pool is free. Runs on a thread with a large stack: the link and
/// the NICs are built in place.
fn with_net<R: Send>(which: &[Service], limits: Limits, f: impl FnOnce(&mut Net<'_, '_>) -> R + Send) -> R {
    std::thread::scope(|s| {
        std::thread::Builder::new()
            .stack_size(256 << 20)
            .spawn_scoped(s, move || net_body(which, limits, f))
            .expect("thread")
            .join()
            .unwrap_or_else(|e| std::panic::resume_unwind(e))
    })
}

fn net_body<R>(which: &[Service], limits: Limits, f: impl FnOnce(&mut Net<'_, '_>) -> R) -> R {
    let mut mem = Mem::new(2048);
    // 100 Mb/s and 100 us each way: a second of iperf3 is 12 MB to simulate.
    let cfg = LinkConfig { rate_bps: 100_000_000, delay: Duration::from_micros(100), ..LinkConfig::ethernet() };
    let link = Box::new(RefCell::new(TestLink::new(cfg, 1, NoTap)));
    let nic = |mac: u8, side| {
        Box::new(TestNic::new(NicConfig::ethernet(MacAddr([2, 0, 0, 0, 0, mac])), LinkPort::new(&link, side)))
    };
    let (mut nic_a, mut nic_b) = (nic(1, Side::A), nic(2, Side::B));
    let mut ws = Box::new(SmallWorldStorage::new());
    let mut w = World::new(&mut ws, mem.pool(), *b"services-test-k!").expect("world");
    let (a, b) = (w.add_netns("a").expect("ns a"), w.add_netns("b").expect("ns b"));
    for (ns, nic, ip) in [(a, &mut *nic_a, A_IP), (b, &mut *nic_b, B_IP)] {
        let i = w.add_device(ns, "eth0", nic).expect("device");
        w.set_link_up(i, true).expect("up");
        w.add_addr(i, ip, 24).expect("addr");
    }
    let svc = Services::start_with(&mut w, b, which, limits).expect("services start");
    let mut net = Net { w, a, b, now: Instant::ZERO, link: &link, svc };
    let r = f(&mut net);
    net.svc.shutdown(&mut net.w);
    net.advance(Duration::from_secs(5));
    net.w.shutdown();
    let st = net.w.pool_ref().stats();
    assert!(st.is_idle(), "pool not free at the end: {st:?}");
    assert_eq!(st.bad_handles, 0, "stale handles used");
    r
}

fn sa(ip: Ipv4Addr, port: u16) -> SocketAddr {
    SocketAddr::V4(SocketAddrV4::new(ip, port))
}

/// `n` bytes of the pseudo-random sequence the client pushes.
fn pattern(n: usize) -> Vec<u8> {
    push_bytes(n as u64).collect()
}

impl Net<'_, '_> {
    /// Poll the world and the services until `done` or `limit` of virtual
    /// time; the clock jumps to the next deadline. True when `done`.
    fn run(&mut self, limit: Duration, mut done: impl FnMut(&mut World<'_>, Instant) -> bool) -> bool {
        let end = self.now + limit;
        loop {
            self.w.poll(self.now);
            self.svc.poll(&mut self.w, self.now);
            if done(&mut self.w, self.now) {
                return true;
            }
            if self.now >= end {
                return false;
            }
            let next = [self.w.poll_at(), self.link.borrow().poll_at(), self.svc.poll_at()]
                .into_iter()
                .flatten()
                .min()
                .unwrap_or(end);
            self.now = next.max(self.now + Duration::from_micros(1)).min(end).min(self.now + Duration::from_secs(1));
        }
    }

    fn advance(&mut self, d: Duration) {
        self.run(d, |_, _| false);
    }

    /// A TCP connection from `a` to the services' `port`, established.
    fn connect(&mut self, port: u16) -> SockId {
        let c = self.w.socket(self.a, SockType::Tcp).expect("socket");
        assert_eq!(self.w.connect(c, sa(B_IP, port)), Err(Errno::InProgress));
        let ok = self.run(Duration::from_secs(5), |w, _| w.events(c).is_ok_and(|e| e.writable || e.error));
        assert!(ok && !self.w.events(c).unwrap().error, "connect to port {port} failed");
        c
    }

    /// Send all of `data` on `c`.
    fn send(&mut self, c: SockId, data: &[u8]) {
        let mut sent = 0;
        let ok = self.run(Duration::from_secs(10), |w, _| {
            while sent < data.len() {
                match w.sendmsg(c, &data[sent..], None) {
                    Ok(n) => sent += n,
                    Err(Errno::WouldBlock) => break,
                    Err(e) => panic!("send: {e:?}"),
                }
            }
            sent == data.len()
        });
        assert!(ok, "could send only {sent} of {} bytes", data.len());
    }

    /// Read exactly `n` bytes from `c`.
    fn read_exact(&mut self, c: SockId, n: usize) -> Vec<u8> {
        let mut got = Vec::new();
        let mut buf = vec![0; 65_536];
        let ok = self.run(Duration::from_secs(10), |w, _| {
            while got.len() < n {
                let want = (n - got.len()).min(buf.len());
                match w.recvmsg(c, &mut buf[..want]) {
                    Ok(m) if m.len == 0 => panic!("end of stream after {} of {n} bytes", got.len()),
                    Ok(m) => got.extend_from_slice(&buf[..m.len]),
                    Err(Errno::WouldBlock) => break,
                    Err(e) => panic!("recv: {e:?}"),
                }
            }
            got.len() == n
        });
        assert!(ok, "read only {} of {n} bytes", got.len());
        got
    }

    /// Read from `c` until the peer closes, within `limit`.
    fn read_to_eof(&mut self, c: SockId, limit: Duration) -> Vec<u8> {
        let mut got = Vec::new();
        let mut buf = vec![0; 65_536];
        let ok = self.run(limit, |w, _| {
            loop {
                match w.recvmsg(c, &mut buf) {
                    Ok(m) if m.len == 0 => return true,
                    Ok(m) => got.extend_from_slice(&buf[..m.len]),
                    Err(Errno::WouldBlock) => return false,
                    Err(e) => panic!("recv: {e:?}"),
                }
            }
        });
        assert!(ok, "no end of stream within {limit:?} ({} bytes read)", got.len());
        got
    }

    /// One request on a fresh connection, its answer read to the close.
    fn http(&mut self, request: &[u8]) -> Vec<Response> {
        responses(&self.http_raw(request))
    }

    /// What a request on a fresh connection brought, to the close.
    fn http_raw(&mut self, request: &[u8]) -> Vec<u8> {
        let c = self.connect(80);
        self.send(c, request);
        let raw = self.read_to_eof(c, Duration::from_secs(10));
        self.w.close(c).expect("close");
        raw
    }
}

/// An HTTP response, parsed by the test.
#[derive(Debug)]
struct Response {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Response {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    fn text(&self) -> String {
        String::from_utf8(self.body.clone()).expect("utf-8 body")
    }
}

/// Every response in `raw`, each framed by its `Content-Length`.
fn responses(raw: &[u8]) -> Vec<Response> {
    responses_to(raw, &[])
}

/// [`responses`], where those numbered in `heads` answer `HEAD`: no body.
fn responses_to(mut raw: &[u8], heads: &[usize]) -> Vec<Response> {
    let mut out = Vec::new();
    while !raw.is_empty() {
        let end = raw.windows(4).position(|w| w == b"\r\n\r\n").expect("a whole head") + 4;
        let head = std::str::from_utf8(&raw[..end]).expect("utf-8 head");
        let mut lines = head.split("\r\n");
        let status_line = lines.next().unwrap();
        let mut words = status_line.splitn(3, ' ');
        assert_eq!(words.next(), Some("HTTP/1.1"), "{status_line}");
        let status = words.next().unwrap().parse().expect("status code");
        let headers: Vec<(String, String)> = lines
            .filter(|l| !l.is_empty())
            .map(|l| {
                let (n, v) = l.split_once(':').expect("header");
                (n.to_string(), v.trim().to_string())
            })
            .collect();
        let mut r = Response { status, headers, body: Vec::new() };
        let mut len: usize = r.header("content-length").expect("Content-Length").parse().unwrap();
        if heads.contains(&out.len()) {
            len = 0;
        }
        r.body = raw[end..end + len].to_vec();
        raw = &raw[end + len..];
        out.push(r);
    }
    out
}

/// The value of counter `name` on the status page's text.
fn counter(page: &str, name: &str) -> Option<u64> {
    page.lines().find_map(|l| {
        let mut w = l.split_whitespace();
        (w.next() == Some(name)).then(|| w.next().and_then(|v| v.parse().ok())).flatten()
    })
}

#[test]
fn tcp_echo_returns_every_byte_then_closes() {
    with_net(&[Service::Echo], Limits::default(), |n| {
        let data = pattern(300_000);
        let c = n.connect(7);
        let mut sent = 0;
        let mut got = Vec::new();
        let mut buf = vec![0; 65_536];
        let mut shut = false;
        let ok = n.run(Duration::from_secs(30), |w, _| {
            while sent < data.len() {
                match w.sendmsg(c, &data[sent..], None) {
                    Ok(k) => sent += k,
                    Err(Errno::WouldBlock) => break,
                    Err(e) => panic!("send: {e:?}"),
                }
            }
            if sent == data.len() && !shut {
                w.shutdown_socket(c, Shutdown::Write).unwrap();
                shut = true;
            }
            loop {
                match w.recvmsg(c, &mut buf) {
                    Ok(m) if m.len == 0 => return true,
                    Ok(m) => got.extend_from_slice(&buf[..m.len]),
                    Err(Errno::WouldBlock) => return false,
                    Err(e) => panic!("recv: {e:?}"),
                }
            }
        });
        assert!(ok, "echo did not end: {} of {} back", got.len(), data.len());
        assert!(got == data, "the echo differs from what was sent");
        n.w.close(c).unwrap();
        let st = n.svc.stats().echo_tcp;
        assert_eq!((st.accepted, st.bytes_in, st.bytes_out, st.errors), (1, 300_000, 300_000, 0));
        assert_eq!(st.active, 0);
    });
}

#[test]
fn udp_echo_answers_each_datagram_and_discard_none() {
    with_net(&[Service::Echo, Service::Discard], Limits::default(), |n| {
        let u = n.w.socket(n.a, SockType::Udp).unwrap();
        // One byte, a full frame, and one the stack must fragment and reassemble both ways.
        for len in [1, 1400, 3000] {
            let d = pattern(len);
            n.w.sendmsg(u, &d, Some(sa(B_IP, 7))).unwrap();
            let mut buf = vec![0; 4096];
            let mut got = None;
            n.run(Duration::from_secs(2), |w, _| {
                got = w.recvmsg(u, &mut buf).ok();
                got.is_some()
            });
            let m = got.expect("an echo");
            assert_eq!((m.from, &buf[..m.len]), (SocketAddrV4::new(B_IP, 7), &d[..]));
        }
        n.w.sendmsg(u, b"into the void", Some(sa(B_IP, 9))).unwrap();
        let mut buf = [0; 64];
        let answered = n.run(Duration::from_millis(200), |w, _| w.recvmsg(u, &mut buf).is_ok());
        assert!(!answered, "discard answered");
        n.w.close(u).unwrap();
        let st = n.svc.stats();
        assert_eq!((st.echo_udp.requests, st.echo_udp.bytes_in, st.echo_udp.bytes_out), (3, 4401, 4401));
        assert_eq!((st.discard_udp.requests, st.discard_udp.bytes_in, st.discard_udp.bytes_out), (1, 13, 0));
    });
}

#[test]
fn udp_echo_ignores_the_ports_of_other_small_services() {
    with_net(&[Service::Echo], Limits::default(), |n| {
        let u = n.w.socket(n.a, SockType::Udp).unwrap();
        n.w.bind(u, sa(Ipv4Addr::UNSPECIFIED, 19)).unwrap();
        n.w.sendmsg(u, b"chargen says hi", Some(sa(B_IP, 7))).unwrap();
        let mut buf = [0; 64];
        assert!(!n.run(Duration::from_millis(200), |w, _| w.recvmsg(u, &mut buf).is_ok()), "echo answered port 19");
        n.w.close(u).unwrap();
        assert_eq!(n.svc.stats().echo_udp.errors, 1);
    });
}

#[test]
fn the_client_pushes_to_discard_with_the_digest_of_what_it_sent() {
    with_net(&[Service::Discard], Limits::default(), |n| {
        const N: u64 = 1 << 20;
        let mut c = Client::connect(&mut n.w, n.a, SocketAddrV4::new(B_IP, 9), Direction::Push(N)).unwrap();
        let mut out = None;
        n.run(Duration::from_secs(30), |w, now| {
            out = c.poll(w, now);
            out.is_some()
        });
        let report = out.expect("the push ended").expect("the push succeeded");
        assert_eq!(report.bytes, N);
        let want: [u8; 32] = Sha256::digest(push_bytes(N).collect::<Vec<u8>>()).into();
        assert_eq!(report.sha256, want);
        assert!(report.goodput_bps() > 1e6, "{report}");
        assert!(report.to_string().starts_with(&format!("pushed {N} bytes to 10.0.0.2:9 in ")), "{report}");
        // The service's connection ends when it reads our FIN.
        n.advance(Duration::from_millis(100));
        let st = n.svc.stats().discard_tcp;
        assert_eq!((st.accepted, st.bytes_in, st.bytes_out, st.active, st.errors), (1, N, 0, 0, 0));
    });
}

#[test]
fn the_client_pulls_until_the_end_with_the_digest_of_what_came() {
    with_net(&[], Limits::default(), |n| {
        // A source in b: accepts one connection, sends 700 000 bytes, closes.
        let data = pattern(700_000);
        let l = n.w.socket(n.b, SockType::Tcp).unwrap();
        n.w.bind(l, sa(Ipv4Addr::UNSPECIFIED, 6000)).unwrap();
        n.w.listen(l, 1).unwrap();
        let mut c = Client::connect(&mut n.w, n.a, SocketAddrV4::new(B_IP, 6000), Direction::Pull).unwrap();
        let (mut s, mut sent, mut closed, mut out) = (None, 0, false, None);
        n.run(Duration::from_secs(30), |w, now| {
            if s.is_none() {
                s = w.accept(l).ok().map(|(s, _)| s);
            }
            if let Some(s) = s {
                while sent < data.len() {
                    match w.sendmsg(s, &data[sent..], None) {
                        Ok(k) => sent += k,
                        Err(_) => break,
                    }
                }
                if sent == data.len() && !closed {
                    w.close(s).unwrap();
                    closed = true;
                }
            }
            out = c.poll(w, now);
            out.is_some()
        });
        n.w.close(l).unwrap();
        let report = out.expect("the pull ended").expect("the pull succeeded");
        assert_eq!(report.bytes, 700_000);
        let want: [u8; 32] = Sha256::digest(&data).into();
        assert_eq!(report.sha256, want, "{report}");
    });
}

#[test]
fn the_client_reports_a_refused_connection() {
    with_net(&[], Limits::default(), |n| {
        let mut c = Client::connect(&mut n.w, n.a, SocketAddrV4::new(B_IP, 4444), Direction::Pull).unwrap();
        let mut out = None;
        n.run(Duration::from_secs(5), |w, now| {
            out = c.poll(w, now);
            out.is_some()
        });
        let e = out.expect("an outcome").expect_err("no listener there");
        assert_eq!((e.during, e.errno, e.bytes), ("connect", Errno::ConnRefused, 0));
    });
}

#[test]
fn the_status_page_shows_the_namespace_as_the_stack_counts_it() {
    with_net(&Service::ALL, Limits::default(), |n| {
        // Some traffic first, so the counters have something to show.
        let u = n.w.socket(n.a, SockType::Udp).unwrap();
        n.w.sendmsg(u, b"ping", Some(sa(B_IP, 7))).unwrap();
        n.advance(Duration::from_millis(10));
        n.w.close(u).unwrap();

        let r = n.http(b"GET / HTTP/1.1\r\nHost: 10.0.0.2\r\nConnection: close\r\n\r\n");
        assert_eq!(r.len(), 1);
        let r = &r[0];
        assert_eq!(r.status, 200);
        assert_eq!(r.header("content-type"), Some("text/html; charset=utf-8"));
        assert_eq!(r.header("connection"), Some("close"));
        let html = r.text();
        for want in [
            "<h1>skbnet: namespace b</h1>".to_string(),
            "services echo,discard,http,iperf".to_string(),
            "inet 10.0.0.2/24".to_string(),
            format!("{:<11} {:>8} {:>8} {:<21}", "State", "Recv-Q", "Send-Q", "Local Address:Port"),
            // A listener's queues are its accept queue and its backlog, as in `ss`.
            format!("{:<11} {:>8} {:>8} {:<21} 0.0.0.0:*", "LISTEN", 0, 16, "0.0.0.0:80"),
            format!("{:<11} {:>8} {:>8} {:<21} 0.0.0.0:*", "LISTEN", 0, 16, "0.0.0.0:5201"),
            // The request was read; the page is not yet sent when it is made.
            format!("{:<11} {:>8} {:>8} {:<21} 10.0.0.1:", "ESTAB", 0, 0, "10.0.0.2:80"),
            "sockstat: TCP: inuse".to_string(),
            "buffers ".to_string(),
            "IpInReceives".to_string(),
            "UdpInDatagrams".to_string(),
            "TcpPassiveOpens".to_string(),
            "echo/udp".to_string(),
        ] {
            assert!(html.contains(&want), "the page lacks {want:?}:\n{html}");
        }

        let r = n.http(b"GET /status.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
        assert_eq!((r[0].status, r[0].header("content-type")), (200, Some("text/plain; charset=utf-8")));
        let text = r[0].text();
        let stats = *n.w.stats(n.b).unwrap();
        // What the page said is what the stack counted (the page was made a
        // little earlier: never more, and the closed-loop counters equal).
        let shown = |name| counter(&text, name).unwrap_or_else(|| panic!("no {name} in\n{text}"));
        assert_eq!(shown("TcpPassiveOpens"), 2);
        assert_eq!(stats.tcp.PassiveOpens, 2);
        assert_eq!(shown("UdpInDatagrams"), stats.udp.InDatagrams);
        assert!(shown("IpInReceives") <= stats.ip.InReceives && shown("IpInReceives") > 5);
        assert!(shown("TcpInSegs") <= stats.tcp.InSegs);
        assert!(text.contains("== drops by reason\n"));
        assert_eq!(counter(&text, "http/tcp"), Some(2), "accepted connections:\n{text}");
    });
}

#[test]
fn head_404_405_and_pipelined_requests_are_answered_in_order() {
    with_net(&[Service::Http], Limits::default(), |n| {
        let raw = n.http_raw(
            b"GET /nope HTTP/1.1\r\nHost: x\r\n\r\n\
              HEAD / HTTP/1.1\r\nHost: x\r\n\r\n\
              POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n\
              GET /status.txt?fresh=1 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        );
        let r = responses_to(&raw, &[1]);
        let got: Vec<(u16, Option<&str>)> = r.iter().map(|r| (r.status, r.header("connection"))).collect();
        assert_eq!(
            got,
            [(404, Some("keep-alive")), (200, Some("keep-alive")), (405, Some("keep-alive")), (200, Some("close"))]
        );
        assert_eq!(r[0].text(), "404 Not Found\n");
        assert!(r[1].body.is_empty(), "HEAD has no body");
        assert!(r[1].header("content-length").unwrap().parse::<usize>().unwrap() > 100);
        assert_eq!(r[2].header("allow"), Some("GET, HEAD"));
        assert!(r[3].text().starts_with("skbnet: namespace b\n"));
        let st = n.svc.stats().http;
        assert_eq!((st.accepted, st.requests, st.errors), (1, 4, 0));
    });
}

#[test]
fn http_1_0_closes_unless_asked_and_bad_requests_get_400() {
    with_net(&[Service::Http], Limits::default(), |n| {
        let r = n.http(b"GET /status.txt HTTP/1.0\r\n\r\n");
        assert_eq!((r[0].status, r[0].header("connection")), (200, Some("close")));
        let r = n.http(b"GET / HTTP/9.9\r\n\r\n");
        assert_eq!(r[0].status, 505);
        let r = n.http(b"hello there\r\n\r\n");
        assert_eq!((r[0].status, r[0].header("connection")), (400, Some("close")));
        let r = n.http(b"GET / HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello");
        assert_eq!(r[0].status, 413);
    });
}

#[test]
fn many_clients_at_once_are_all_served_within_the_connection_bound() {
    let limits = Limits { conns: 4, ..Limits::default() };
    with_net(&[Service::Http], limits, |n| {
        // Twelve clients, three times the bound: the rest wait in the backlog.
        let socks: Vec<SockId> = (0..12).map(|_| n.connect(80)).collect();
        for &c in &socks {
            n.send(c, b"GET /status.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
        }
        let mut raw = vec![Vec::new(); socks.len()];
        let mut eof = vec![false; socks.len()];
        // Never more than four at a time.
        for _ in 0..20 {
            n.advance(Duration::from_micros(100));
            assert!(n.svc.stats().http.active <= 4);
        }
        let mut buf = vec![0; 65_536];
        let ok = n.run(Duration::from_secs(20), |w, _| {
            for (i, &c) in socks.iter().enumerate() {
                while !eof[i] {
                    match w.recvmsg(c, &mut buf) {
                        Ok(m) if m.len == 0 => eof[i] = true,
                        Ok(m) => raw[i].extend_from_slice(&buf[..m.len]),
                        Err(Errno::WouldBlock) => break,
                        Err(e) => panic!("recv: {e:?}"),
                    }
                }
            }
            eof.iter().all(|&e| e)
        });
        for c in socks {
            n.w.close(c).unwrap();
        }
        assert!(ok, "not every client was answered");
        for r in &raw {
            let r = responses(r);
            assert_eq!(r.len(), 1);
            assert_eq!(r[0].status, 200);
        }
        let st = n.svc.stats().http;
        assert_eq!((st.accepted, st.requests, st.errors), (12, 12, 0));
    });
}

#[test]
fn a_slow_request_is_served_and_an_abandoned_or_oversized_one_is_not() {
    with_net(&[Service::Http], Limits::default(), |n| {
        // One byte every 100 ms: 6 s for the whole request, within the 10 s allowed.
        let c = n.connect(80);
        for b in b"GET /status.txt HTTP/1.1\r\nHost: slow\r\nConnection: close\r\n\r\n".chunks(1) {
            n.send(c, b);
            n.advance(Duration::from_millis(100));
        }
        let r = responses(&n.read_to_eof(c, Duration::from_secs(5)));
        assert_eq!(r[0].status, 200);
        n.w.close(c).unwrap();

        // Half a request, then nothing: 408 after 10 s, and the close.
        let c = n.connect(80);
        n.send(c, b"GET / HTTP/1.1\r\nHost: x\r\n");
        let before = n.now;
        let r = responses(&n.read_to_eof(c, Duration::from_secs(15)));
        assert_eq!((r[0].status, r[0].header("connection")), (408, Some("close")));
        assert!(n.now - before >= Duration::from_secs(10));
        n.w.close(c).unwrap();

        // A head beyond 8 KiB: 431.
        let mut big = b"GET / HTTP/1.1\r\n".to_vec();
        while big.len() < 9000 {
            big.extend_from_slice(
                b"X-Filler: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n",
            );
        }
        big.extend_from_slice(b"\r\n");
        let r = n.http(&big);
        assert_eq!(r[0].status, 431);

        // A keep-alive connection left idle is closed after 30 s, quietly.
        let c = n.connect(80);
        let before = n.now;
        assert!(n.read_to_eof(c, Duration::from_secs(40)).is_empty());
        assert!(n.now - before >= Duration::from_secs(30));
        n.w.close(c).unwrap();
        let st = n.svc.stats().http;
        assert_eq!((st.accepted, st.requests, st.active), (4, 1, 0));
        assert_eq!(st.errors, 2, "the 408 and the 431");
    });
}

#[test]
fn starting_twice_on_one_namespace_names_the_port_in_use() {
    with_net(&[Service::Http], Limits::default(), |n| {
        let before = n.w.tcp_sockstat(n.b).inuse;
        let e = Services::start(&mut n.w, n.b, &[Service::Echo, Service::Http]).err().expect("port 80 is taken");
        assert_eq!((e.service, e.port, e.call, e.errno), (Service::Http, 80, "bind", Errno::AddrInUse));
        assert_eq!(e.to_string(), "http service: bind on tcp port 80: AddrInUse");
        // The echo sockets it had opened are closed again.
        assert_eq!(n.w.tcp_sockstat(n.b).inuse, before);
        assert_eq!(n.svc.running(), [Service::Http]);
    });
}

// --- iperf3, from the protocol ---------------------------------------------

const COOKIE: &[u8; 37] = b"skbnetservicestestcookie0123456789ab\0";
const PARAM_EXCHANGE: u8 = 9;
const CREATE_STREAMS: u8 = 10;
const TEST_START: u8 = 1;
const TEST_RUNNING: u8 = 2;
const TEST_END: u8 = 4;
const EXCHANGE_RESULTS: u8 = 13;
const DISPLAY_RESULTS: u8 = 14;
const IPERF_DONE: u8 = 16;
const ACCESS_DENIED: u8 = 0xff;
const SERVER_ERROR: u8 = 0xfe;

/// A JSON document as iperf3 frames it: 32-bit big-endian length first.
fn framed(v: &Value) -> Vec<u8> {
    let s = v.to_string();
    let mut out = (s.len() as u32).to_be_bytes().to_vec();
    out.extend_from_slice(s.as_bytes());
    out
}

impl Net<'_, '_> {
    /// A framed JSON document from `c`.
    fn read_doc(&mut self, c: SockId) -> Value {
        let len = u32::from_be_bytes(self.read_exact(c, 4).try_into().unwrap()) as usize;
        serde_json::from_slice(&self.read_exact(c, len)).expect("JSON")
    }

    /// Control connection, cookie, parameters: up to `CREATE_STREAMS`.
    fn iperf_begin(&mut self, params: Value) -> SockId {
        let ctrl = self.connect(5201);
        self.send(ctrl, COOKIE);
        assert_eq!(self.read_exact(ctrl, 1), [PARAM_EXCHANGE]);
        self.send(ctrl, &framed(&params));
        assert_eq!(self.read_exact(ctrl, 1), [CREATE_STREAMS]);
        ctrl
    }

    /// Open `n` streams with the cookie; the test starts.
    fn iperf_streams(&mut self, ctrl: SockId, n: usize) -> Vec<SockId> {
        let streams = (0..n)
            .map(|_| {
                let s = self.connect(5201);
                self.send(s, COOKIE);
                s
            })
            .collect();
        assert_eq!(self.read_exact(ctrl, 2), [TEST_START, TEST_RUNNING]);
        streams
    }

    /// For `d`: send as fast as the sockets take on `tx`, read everything
    /// on `rx`. Bytes sent on each of `tx` and received on each of `rx`.
    fn iperf_data(&mut self, tx: &[SockId], rx: &[SockId], d: Duration) -> (Vec<u64>, Vec<u64>) {
        let block = pattern(128 * 1024);
        let mut buf = vec![0; 65_536];
        let (mut sent, mut got) = (vec![0u64; tx.len()], vec![0u64; rx.len()]);
        self.run(d, |w, _| {
            for (i, &s) in tx.iter().enumerate() {
                while let Ok(k) = w.sendmsg(s, &block, None) {
                    sent[i] += k as u64;
                }
            }
            for (i, &s) in rx.iter().enumerate() {
                while let Ok(m) = w.recvmsg(s, &mut buf) {
                    assert!(m.len > 0, "a stream ended during the test");
                    got[i] += m.len as u64;
                }
            }
            false
        });
        // What was sent arrives (TCP delivers it) before the client says TEST_END.
        let ok = self.run(Duration::from_secs(5), |w, _| {
            tx.iter().all(|&s| w.tcp_info(s).is_ok_and(|i| i.unsent == 0 && i.in_flight == 0))
        });
        assert!(ok, "the client's data was not all acknowledged");
        (sent, got)
    }

    /// `TEST_END`, the results both ways, `DISPLAY_RESULTS`, `IPERF_DONE`,
    /// and the server's close. The server's results.
    fn iperf_end(&mut self, ctrl: SockId, client_results: Value) -> Value {
        self.send(ctrl, &[TEST_END]);
        assert_eq!(self.read_exact(ctrl, 1), [EXCHANGE_RESULTS]);
        self.send(ctrl, &framed(&client_results));
        let results = self.read_doc(ctrl);
        assert_eq!(self.read_exact(ctrl, 1), [DISPLAY_RESULTS]);
        self.send(ctrl, &[IPERF_DONE]);
        assert!(self.read_to_eof(ctrl, Duration::from_secs(5)).is_empty());
        self.w.close(ctrl).unwrap();
        results
    }
}

/// The client's results, as iperf3 sends them.
fn client_results(ids_bytes: &[(u64, u64)]) -> Value {
    let streams: Vec<Value> = ids_bytes
        .iter()
        .map(|&(id, bytes)| {
            json!({"id": id, "bytes": bytes, "retransmits": 0, "jitter": 0, "errors": 0, "packets": 0,
                   "start_time": 0, "end_time": 1.0})
        })
        .collect();
    json!({"cpu_util_total": 1.0, "cpu_util_user": 0.5, "cpu_util_system": 0.5, "sender_has_retransmits": 1,
           "congestion_used": "cubic", "streams": streams})
}

/// The (id, bytes, end_time) of each stream in the server's results.
fn server_streams(r: &Value) -> Vec<(u64, u64, f64)> {
    for key in ["cpu_util_total", "cpu_util_user", "cpu_util_system", "sender_has_retransmits"] {
        assert!(r.get(key).is_some_and(Value::is_number), "results lack {key}: {r}");
    }
    let streams = r["streams"].as_array().expect("streams");
    streams
        .iter()
        .map(|s| {
            for key in ["id", "bytes", "retransmits", "jitter", "errors", "packets"] {
                assert!(s.get(key).is_some_and(Value::is_number), "a stream lacks {key}: {s}");
            }
            (s["id"].as_u64().unwrap(), s["bytes"].as_u64().unwrap(), s["end_time"].as_f64().unwrap())
        })
        .collect()
}

fn params(parallel: usize, extra: Value) -> Value {
    let mut p = json!({"tcp": true, "omit": 0, "time": 1, "num": 0, "blockcount": 0, "parallel": parallel,
                       "len": 131072, "pacing_timer": 1000, "client_version": "3.12"});
    for (k, v) in extra.as_object().unwrap() {
        p[k] = v.clone();
    }
    p
}

#[test]
fn iperf3_client_to_server_counts_every_byte() {
    with_net(&[Service::Iperf], Limits::default(), |n| {
        let ctrl = n.iperf_begin(params(1, json!({})));
        let s = n.iperf_streams(ctrl, 1);
        let (sent, _) = n.iperf_data(&s, &[], Duration::from_millis(300));
        assert!(sent[0] > 1_000_000, "only {} bytes in 300 ms", sent[0]);
        let r = n.iperf_end(ctrl, client_results(&[(1, sent[0])]));
        assert_eq!(r["sender_has_retransmits"], json!(-1), "a receiver has no retransmits: {r}");
        let got = server_streams(&r);
        assert_eq!(got.len(), 1);
        let (id, bytes, end) = got[0];
        assert_eq!((id, bytes), (1, sent[0]));
        assert!((0.3..7.0).contains(&end), "end_time {end}");
        assert!(r.get("server_output_text").is_none());
        n.w.close(s[0]).unwrap();
        let st = n.svc.stats();
        assert_eq!((st.iperf.requests, st.iperf.errors, st.iperf.accepted), (1, 0, 2));
        let t = st.last_iperf.expect("a summary");
        assert_eq!(
            (t.streams, t.reverse, t.bytes_received, t.bytes_sent, t.client_bytes),
            (1, false, sent[0], 0, sent[0])
        );
    });
}

/// Regression: `iperf3 -c ADDR -n 2M` hands all its bytes to the socket
/// and says `TEST_END` while many are still in flight. The server closed
/// the stream with nothing unread; the closed socket went on queueing the
/// late bytes for nobody until its window was shut, and the client
/// retransmitted into it until the connection was reset by hand. Now the
/// late data resets the stream at once, as Linux does, and nothing is left.
#[test]
fn iperf3_with_a_byte_count_leaves_no_stream_stuck_on_a_full_window() {
    with_net(&[Service::Iperf], Limits::default(), |n| {
        let total = 2usize << 20;
        let ctrl = n.iperf_begin(params(1, json!({"time": 0, "num": total})));
        let s = n.iperf_streams(ctrl, 1)[0];
        n.send(s, &pattern(total));
        let left = n.w.tcp_info(s).unwrap();
        assert!(left.unsent + left.in_flight > 64 * 1024, "the test needs bytes in flight at TEST_END: {left:?}");
        n.iperf_end(ctrl, client_results(&[(1, total as u64)]));
        n.advance(Duration::from_secs(1));
        let open: Vec<_> =
            n.w.tcp_table(n.b).filter(|e| !matches!(e.state, TcpState::Listen | TcpState::TimeWait)).collect();
        assert!(open.is_empty(), "the server still holds a stream a second after the test: {open:?}");
        let c = n.w.tcp_info(s).unwrap();
        assert_eq!((c.state, c.unsent, c.in_flight), (TcpState::Closed, 0, 0), "the client's stream: {c:?}");
        assert_eq!(n.w.stats(n.b).unwrap().tcp_ext.TCPAbortOnData, 1);
        n.w.close(s).unwrap();
    });
}

#[test]
fn iperf3_reverse_with_two_streams_sends_on_both_with_ids_1_and_3() {
    with_net(&[Service::Iperf], Limits::default(), |n| {
        let ctrl = n.iperf_begin(params(2, json!({"reverse": true, "get_server_output": 1})));
        let s = n.iperf_streams(ctrl, 2);
        let (_, got) = n.iperf_data(&[], &s, Duration::from_millis(300));
        assert!(got.iter().all(|&g| g > 500_000), "too little received: {got:?}");
        let r = n.iperf_end(ctrl, client_results(&[(1, got[0]), (3, got[1])]));
        assert_eq!(r["sender_has_retransmits"], json!(0));
        let streams = server_streams(&r);
        let ids: Vec<u64> = streams.iter().map(|s| s.0).collect();
        assert_eq!(ids, [1, 3]);
        for (i, &(_, bytes, _)) in streams.iter().enumerate() {
            // The server counts what its sockets took; the client read a bit less.
            assert!(bytes >= got[i] && bytes < got[i] + (4 << 20), "stream {i}: sent {bytes}, received {}", got[i]);
        }
        let text = r["server_output_text"].as_str().expect("server output");
        assert!(text.starts_with("skbnet iperf3 service: test from 10.0.0.1:"), "{text}");
        for c in s {
            n.w.close(c).unwrap();
        }
        let t = n.svc.stats().last_iperf.unwrap();
        assert_eq!((t.streams, t.reverse, t.bytes_received), (2, true, 0));
        assert_eq!(t.bytes_sent, streams[0].1 + streams[1].1);
    });
}

#[test]
fn iperf3_bidirectional_receives_on_the_first_streams_and_sends_on_the_rest() {
    with_net(&[Service::Iperf], Limits::default(), |n| {
        let ctrl = n.iperf_begin(params(1, json!({"bidirectional": true})));
        let s = n.iperf_streams(ctrl, 2);
        let (sent, got) = n.iperf_data(&s[..1], &s[1..], Duration::from_millis(300));
        assert!(sent[0] > 100_000 && got[0] > 100_000, "sent {sent:?}, got {got:?}");
        let r = n.iperf_end(ctrl, client_results(&[(1, sent[0]), (3, got[0])]));
        let streams = server_streams(&r);
        assert_eq!((streams[0].0, streams[0].1), (1, sent[0]));
        assert_eq!(streams[1].0, 3);
        assert!(streams[1].1 >= got[0]);
        for c in s {
            n.w.close(c).unwrap();
        }
    });
}

#[test]
fn iperf3_turns_away_a_second_client_and_parameters_it_cannot_honour() {
    with_net(&[Service::Iperf], Limits::default(), |n| {
        let ctrl = n.iperf_begin(params(1, json!({})));
        // A second client while the first one's test is being set up.
        let other = n.connect(5201);
        n.send(other, b"another-client-cookie-0123456789abcd\0");
        assert_eq!(n.read_to_eof(other, Duration::from_secs(5)), [ACCESS_DENIED]);
        n.w.close(other).unwrap();
        let s = n.iperf_streams(ctrl, 1);
        let (sent, _) = n.iperf_data(&s, &[], Duration::from_millis(200));
        let r = n.iperf_end(ctrl, client_results(&[(1, sent[0])]));
        assert_eq!(server_streams(&r)[0].1, sent[0]);
        n.w.close(s[0]).unwrap();

        // UDP: EPROTONOSUPPORT with iperf3's IEPROTOCOL (131).
        let refused = |n: &mut Net<'_, '_>, p: Value| {
            let ctrl = n.connect(5201);
            n.send(ctrl, COOKIE);
            assert_eq!(n.read_exact(ctrl, 1), [PARAM_EXCHANGE]);
            n.send(ctrl, &framed(&p));
            let answer = n.read_to_eof(ctrl, Duration::from_secs(5));
            n.w.close(ctrl).unwrap();
            answer
        };
        let mut want = vec![SERVER_ERROR];
        want.extend_from_slice(&131i32.to_be_bytes());
        want.extend_from_slice(&93i32.to_be_bytes());
        assert_eq!(refused(n, json!({"udp": true, "time": 1, "parallel": 1})), want);
        // More streams than the limit: IENUMSTREAMS (6).
        let mut want = vec![SERVER_ERROR];
        want.extend_from_slice(&6i32.to_be_bytes());
        want.extend_from_slice(&0i32.to_be_bytes());
        assert_eq!(refused(n, params(9, json!({}))), want);
        // Parameters announced beyond 64 KiB: the server hangs up without reading them.
        let ctrl = n.connect(5201);
        n.send(ctrl, COOKIE);
        assert_eq!(n.read_exact(ctrl, 1), [PARAM_EXCHANGE]);
        n.send(ctrl, &(128u32 << 10).to_be_bytes());
        assert!(n.read_to_eof(ctrl, Duration::from_secs(5)).is_empty());
        n.w.close(ctrl).unwrap();
        // The server is free again afterwards.
        let ctrl = n.iperf_begin(params(1, json!({})));
        let s = n.iperf_streams(ctrl, 1);
        n.iperf_end(ctrl, client_results(&[(1, 0)]));
        n.w.close(s[0]).unwrap();
        let st = n.svc.stats();
        assert_eq!(st.iperf.requests, 2);
        assert_eq!(st.iperf.errors, 4, "the busy refusal and three bad parameter sets");
    });
}

#[test]
fn iperf3_ends_a_test_whose_client_falls_silent() {
    with_net(&[Service::Iperf], Limits::default(), |n| {
        // A client that never sends its parameters is dropped after 10 s.
        let ctrl = n.connect(5201);
        n.send(ctrl, COOKIE);
        assert_eq!(n.read_exact(ctrl, 1), [PARAM_EXCHANGE]);
        assert!(n.read_to_eof(ctrl, Duration::from_secs(12)).is_empty());
        n.w.close(ctrl).unwrap();
        // A client that never says TEST_END gets SERVER_TERMINATE after its
        // time, plus ten seconds.
        let ctrl = n.iperf_begin(params(1, json!({"time": 2})));
        let s = n.iperf_streams(ctrl, 1);
        let start = n.now;
        assert_eq!(n.read_to_eof(ctrl, Duration::from_secs(15)), [11]);
        assert!(n.now - start >= Duration::from_secs(12));
        n.w.close(ctrl).unwrap();
        n.w.close(s[0]).unwrap();
        assert_eq!(n.svc.stats().iperf.errors, 2);
        assert_eq!(n.svc.stats().iperf.active, 0);
    });
}

#[test]
fn shutdown_tells_a_running_iperf3_client_and_closes_everything() {
    let (ctrl_got, pool_after) = with_net(&Service::ALL, Limits::default(), |n| {
        let ctrl = n.iperf_begin(params(1, json!({"time": 5})));
        let s = n.iperf_streams(ctrl, 1);
        let e = n.connect(7);
        n.send(e, b"x");
        assert_eq!(n.read_exact(e, 1), b"x");
        n.svc.shutdown(&mut n.w);
        assert!(n.svc.running().is_empty());
        let got = n.read_to_eof(ctrl, Duration::from_secs(5));
        assert!(n.read_to_eof(e, Duration::from_secs(5)).is_empty());
        for c in [ctrl, s[0], e] {
            n.w.close(c).unwrap();
        }
        n.advance(Duration::from_secs(3));
        // Nobody listens any more.
        let c = n.w.socket(n.a, SockType::Tcp).unwrap();
        let _ = n.w.connect(c, sa(B_IP, 80));
        n.run(Duration::from_secs(2), |w, _| w.events(c).is_ok_and(|e| e.error || e.hangup));
        assert_eq!(n.w.connect(c, sa(B_IP, 80)), Err(Errno::ConnRefused));
        n.w.close(c).unwrap();
        (got, n.w.tcp_sockstat(n.b))
    });
    assert_eq!(ctrl_got, [11], "SERVER_TERMINATE");
    assert_eq!(pool_after.inuse, 0, "b holds no TCP socket: {pool_after:?}");
}
