//! The `skbnet` command: runs the stack on a Linux host.

mod demo;
mod ip;
mod tun;

use std::process::ExitCode;

use skbnet::skb::{BUF_INFO_BYTES, HEAD_BYTES, OWNER_BYTES};

const USAGE_HEAD: &str = "\
skbnet: a no_std TCP/IP stack built like Linux's, run on a host

usage:
  skbnet pool-budget HEADS BUFS SIZE OWNERS
      print the RAM an sk_buff pool of that shape costs in firmware
";

const USAGE_TAIL: &str = "\
  skbnet help
      this text
";

/// The whole usage text.
fn usage() -> String {
    format!(
        "{USAGE_HEAD}{}{}{}{}{}{USAGE_TAIL}",
        demo::USAGE,
        tun::USAGE,
        ip::USAGE,
        ip::daemon::USAGE,
        ip::script::USAGE
    )
}

fn main() -> ExitCode {
    let all: Vec<String> = std::env::args().skip(1).collect();
    // `skbnet sudo nft ...` is the seed's `sudo nft ...`: see `ip::strip_prefixes`.
    let args = ip::strip_prefixes(&all);
    match args.first().map(String::as_str) {
        Some("pool-budget") => pool_budget(&args[1..]),
        Some("demo") => demo::main(&args[1..]),
        Some("ip") => ip::client(&args[1..], ip::Tool::Ip),
        Some("nft") => ip::client(&args[1..], ip::Tool::Nft),
        Some("ping") => ip::client(&args[1..], ip::Tool::Ping),
        Some("sysctl") => ip::client(&args[1..], ip::Tool::Sysctl),
        Some("daemon") => ip::daemon::main(&args[1..]),
        Some("script") => ip::script::main(&args[1..]),
        Some("tun") => tun::main(&args[1..]),
        None | Some("help" | "--help" | "-h") => {
            print!("{}", usage());
            ExitCode::SUCCESS
        }
        Some(other) => {
            eprintln!("skbnet: unknown command `{other}`\n\n{}", usage());
            ExitCode::from(2)
        }
    }
}

/// The RAM formula of `skbnet::skb::PoolStorage`, for sizes given at run time.
fn pool_budget(args: &[String]) -> ExitCode {
    let nums: Result<Vec<usize>, _> = args.iter().map(|a| a.parse::<usize>()).collect();
    let Ok([heads, bufs, size, owners]) = nums.as_deref().map(<[usize; 4]>::try_from).unwrap_or(Ok([0; 4])) else {
        eprintln!("skbnet pool-budget: want four numbers: HEADS BUFS SIZE OWNERS\n\n{}", usage());
        return ExitCode::from(2);
    };
    if heads == 0 || bufs == 0 || owners == 0 || size < 64 {
        eprintln!("skbnet pool-budget: HEADS, BUFS and OWNERS must be at least 1, SIZE at least 64");
        return ExitCode::from(2);
    }
    let total = heads * HEAD_BYTES + bufs * (size + BUF_INFO_BYTES) + owners * OWNER_BYTES;
    println!("heads   {heads:>6} x {HEAD_BYTES:>5} B = {:>9} B", heads * HEAD_BYTES);
    println!("buffers {bufs:>6} x {:>5} B = {:>9} B", size + BUF_INFO_BYTES, bufs * (size + BUF_INFO_BYTES));
    println!("owners  {owners:>6} x {OWNER_BYTES:>5} B = {:>9} B", owners * OWNER_BYTES);
    println!("total                     {total:>9} B ({:.1} KiB)", total as f64 / 1024.0);
    ExitCode::SUCCESS
}
