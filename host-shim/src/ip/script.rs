//! `skbnet script FILE`: a file of `ip`, `nft`, `ping` and `sysctl` commands run in a
//! fresh world of this process, on virtual time, printed as a terminal
//! session would show them.
//!
//! Lines are split as a shell splits them (quotes, backslash escapes,
//! `#` comments); a line ending in `\` goes on on the next, and so does a
//! line with an unclosed `{` (nft's multi-line chains). A leading `skbnet`
//! or `sudo` is dropped, so the seed's examples run as written. `sleep S`
//! moves virtual time. `ip netns exec NS bash` (or `sh`) runs the lines
//! that follow in NS, until `exit`, as bash reading the script from its
//! standard input would. The script stops at the first failing command
//! unless `-k` is given. A `ping` without `-c` sends 4 requests.

use std::io::{self, Write};
use std::process::ExitCode;

use super::cmd::{self, Fail};
use super::conn::{Local, run_program};
use super::host::Host;
use skbnet::time::Instant;

/// The script's part of `skbnet help`.
pub const USAGE: &str = "\
  skbnet script [-q] [-k] FILE
      run FILE's `ip`, `nft` and `ping` commands (as after `skbnet`) in a
      fresh world of this process, on virtual time; `-` reads standard input
      -q   do not echo each command before its output
      -k   keep going after a failing command
";

/// `skbnet script [-q] [-k] FILE`.
pub fn main(args: &[String]) -> ExitCode {
    let (mut echo, mut keep_going, mut file) = (true, false, None);
    for a in args {
        match a.as_str() {
            "-q" => echo = false,
            "-k" => keep_going = true,
            "-h" | "--help" => {
                print!("{USAGE}");
                return ExitCode::SUCCESS;
            }
            f if file.is_none() => file = Some(f.to_string()),
            other => {
                eprintln!("skbnet script: unexpected argument `{other}`");
                return ExitCode::from(2);
            }
        }
    }
    let Some(file) = file else {
        eprintln!("skbnet script: which FILE?\n\n{USAGE}");
        return ExitCode::from(2);
    };
    let text = if file == "-" { io::read_to_string(io::stdin()) } else { std::fs::read_to_string(&file) };
    let text = match text {
        Ok(t) => t,
        Err(e) => {
            eprintln!("skbnet script: {file}: {e}");
            return ExitCode::from(2);
        }
    };
    let mut host = match Host::new(true) {
        Ok(h) => h,
        Err(e) => {
            eprintln!("skbnet script: {e}");
            return ExitCode::from(2);
        }
    };
    run(&mut host, &text, echo, keep_going, &mut io::stdout().lock())
}

/// Run a script's text on `host`, printing to `out` (errors to stderr).
pub fn run(host: &mut Host, text: &str, echo: bool, keep_going: bool, out: &mut dyn Write) -> ExitCode {
    let mut local = Local::new(host);
    let mut status = ExitCode::SUCCESS;
    // Inside `ip netns exec NS bash`: the namespace the lines run in.
    let mut sub: Option<String> = None;
    for (line_no, line) in commands(text) {
        let words = match split(&line) {
            Ok(w) => w,
            Err(e) => {
                eprintln!("skbnet script: line {line_no}: {e}");
                return ExitCode::from(2);
            }
        };
        let words = super::strip_prefixes(&words);
        if words.is_empty() {
            continue;
        }
        if echo {
            let prefix = if matches!(words[0].as_str(), "ip" | "nft") { "skbnet " } else { "" };
            match &sub {
                Some(ns) => writeln!(out, "{ns}# {}", words.join(" ")),
                None => writeln!(out, "$ {prefix}{}", words.join(" ")),
            }
            .unwrap_or(());
        }
        if let [ip, netns, exec, ns, sh] = words
            && (ip.as_str(), netns.as_str(), exec.as_str()) == ("ip", "netns", "exec")
            && matches!(sh.as_str(), "bash" | "sh")
        {
            sub = Some(ns.clone());
            continue;
        }
        if sub.is_some() && words[0] == "exit" {
            sub = None;
            continue;
        }
        let res = run_one(&mut local, sub.as_deref().unwrap_or(""), words, out);
        for (i, bytes) in local.drain() {
            let mut text = Vec::new();
            cmd::print_events(&bytes, &mut local.monitors[i].1, &mut text);
            for l in String::from_utf8_lossy(&text).lines() {
                let _ = writeln!(out, "[monitor] {l}");
            }
        }
        let _ = out.flush();
        if let Err(f) = res {
            if !f.text.is_empty() {
                eprintln!("{}", f.text);
            }
            eprintln!("skbnet script: line {line_no}: exit status {}", f.code);
            status = ExitCode::from(f.code.max(1));
            if !keep_going {
                return status;
            }
        }
    }
    status
}

/// One command, in namespace `ns` (`""`: the initial one).
fn run_one(local: &mut Local<'_>, ns: &str, words: &[String], out: &mut dyn Write) -> Result<(), Fail> {
    match words[0].as_str() {
        "ip" => cmd::ip(local, ns, &words[1..], out),
        "nft" => super::nft::nft(local, ns, &words[1..], out),
        "ping" | "sysctl" => {
            let code = local
                .with_host(|host| {
                    run_program(host, ns, words, Some(4), &mut |l| {
                        let _ = writeln!(out, "{l}");
                    })
                })
                .map_err(|e| Fail { code: 1, text: e })?;
            if code == 0 { Ok(()) } else { Err(Fail { code: code as u8, text: String::new() }) }
        }
        "sleep" => {
            let s: f64 = words
                .get(1)
                .and_then(|s| s.parse().ok())
                .filter(|s: &f64| s.is_finite() && *s >= 0.0)
                .ok_or(Fail::usage("sleep: invalid time interval"))?;
            local.with_host(|host| {
                let t = host.now().saturating_add(std::time::Duration::from_secs_f64(s));
                host.advance_to(t.max(Instant::ZERO));
            });
            Ok(())
        }
        other => {
            Err(Fail { code: 127, text: format!("{other}: command not found (scripts run ip, nft, ping, sleep)") })
        }
    }
}

/// The script's commands with their line numbers: continuation lines
/// joined, blank lines and comments dropped.
pub fn commands(text: &str) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut start = 0;
    for (i, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if cur.is_empty() {
            start = i + 1;
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
        }
        let (body, cont) = match line.strip_suffix('\\') {
            Some(b) if !b.ends_with('\\') => (b, true),
            _ => (line, false),
        };
        if !cur.is_empty() {
            cur.push(' ');
        }
        cur.push_str(body.trim());
        let open = cur.matches('{').count() > cur.matches('}').count();
        if !cont && !open {
            out.push((start, std::mem::take(&mut cur)));
        }
    }
    if !cur.trim().is_empty() {
        out.push((start, cur));
    }
    out
}

/// Split a command line as a shell does: white space separates words,
/// quotes group, a backslash takes the next character as it is, `#` at
/// the start of a word comments out the rest.
pub fn split(line: &str) -> Result<Vec<String>, String> {
    let mut words = Vec::new();
    let mut cur = String::new();
    let mut in_word = false;
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                cur.push(chars.next().ok_or("a line may not end in a lone backslash")?);
                in_word = true;
            }
            '\'' | '"' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some(q) if q == c => break,
                        Some('\\') if c == '"' => cur.push(chars.next().ok_or("unterminated quote")?),
                        Some(x) => cur.push(x),
                        None => return Err("unterminated quote".into()),
                    }
                }
            }
            '#' if !in_word => break,
            c if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut cur));
                    in_word = false;
                }
            }
            c => {
                cur.push(c);
                in_word = true;
            }
        }
    }
    if in_word {
        words.push(cur);
    }
    Ok(words)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_like_a_shell() {
        assert_eq!(
            split("ip addr add  10.0.0.1/24 dev eth0 # c").unwrap(),
            ["ip", "addr", "add", "10.0.0.1/24", "dev", "eth0"]
        );
        assert_eq!(split(r#"nft add rule ip nat postrouting oif "eth0" masquerade"#).unwrap()[7], "eth0");
        assert_eq!(split(r"priority 0 \; policy").unwrap(), ["priority", "0", ";", "policy"]);
        assert_eq!(split("a 'b c' \"d\\\"e\"").unwrap(), ["a", "b c", "d\"e"]);
        assert!(split("a 'b").is_err());
    }

    #[test]
    fn joins_continued_and_braced_lines() {
        let text = "# setup\n\nip netns add ns1\nnft add chain ip nat postrouting {\n    type nat hook postrouting priority 100\\;\n}\nip link \\\n  show\n";
        let c = commands(text);
        assert_eq!(c[0], (3, "ip netns add ns1".to_string()));
        assert_eq!(
            c[1],
            (4, "nft add chain ip nat postrouting { type nat hook postrouting priority 100\\; }".to_string())
        );
        assert_eq!(c[2], (7, "ip link show".to_string()));
    }
}
