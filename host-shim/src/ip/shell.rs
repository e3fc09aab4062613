//! `ip netns exec NS bash` (or `sh`): a sub-shell in namespace NS, as the
//! seed uses one to run several commands there without the `ip netns exec`
//! prefix.
//!
//! It is not a real shell: it reads the commands `skbnet` knows (`ip`,
//! `nft`, `ping`, `sysctl`, each with or without a leading `skbnet` or
//! `sudo`) from standard input, one a line, split as a shell splits them,
//! and runs them in NS until `exit` or the end of the input. Its exit
//! status is the last command's, as bash's is. A prompt (`NS# `, on
//! stderr) is shown only when standard input is a terminal, so piped input
//! gives only the commands' output.

use std::io::{self, IsTerminal, Write};

use super::cmd::{self, Fail, Res};
use super::conn::Conn;

/// Longest line read, in bytes: longer ones are refused.
const LINE_MAX: usize = 64 * 1024;

/// Where the sub-shell's lines come from: appends one line to the buffer
/// and returns its length (0 at the end), as `BufRead::read_line`.
pub type ReadLine<'r> = dyn FnMut(&mut String) -> io::Result<usize> + 'r;

/// Read a line of standard input, taking its lock only for that line (so
/// a shell started from this shell reads the same input).
pub fn stdin_line(buf: &mut String) -> io::Result<usize> {
    io::stdin().read_line(buf)
}

/// Run the sub-shell in `ns`, reading lines from `input` and printing to
/// `out`; errors go to stderr.
pub fn shell(conn: &mut dyn Conn, ns: &str, input: &mut ReadLine<'_>, out: &mut dyn Write) -> Res {
    let prompt = std::io::stdin().is_terminal();
    let mut status: Res = Ok(());
    let mut line = String::new();
    loop {
        if prompt {
            eprint!("{ns}# ");
        }
        line.clear();
        match input(&mut line) {
            Ok(0) => break,
            Ok(n) if n > LINE_MAX => {
                eprintln!("skbnet shell: line too long");
                status = Err(Fail { code: 2, text: String::new() });
                continue;
            }
            Ok(_) => {}
            Err(e) => return Err(Fail { code: 1, text: format!("skbnet shell: {e}") }),
        }
        let words = match super::script::split(&line) {
            Ok(w) => w,
            Err(e) => {
                eprintln!("skbnet shell: {e}");
                status = Err(Fail { code: 2, text: String::new() });
                continue;
            }
        };
        let words = super::strip_prefixes(&words);
        let Some(first) = words.first() else { continue };
        if first == "exit" {
            let code = words.get(1).and_then(|c| c.parse::<u8>().ok());
            return match code {
                Some(0) => Ok(()),
                Some(c) => Err(Fail { code: c, text: String::new() }),
                None => status,
            };
        }
        status = match first.as_str() {
            "ip" | "nft" | "ping" | "sysctl" => cmd::exec(conn, ns, words, out),
            "bash" | "sh" => shell(conn, ns, input, out),
            other => Err(Fail {
                code: 127,
                text: format!("skbnet shell: {other}: command not found (this shell runs ip, nft, ping and sysctl)"),
            }),
        };
        let _ = out.flush();
        if let Err(f) = &status
            && !f.text.is_empty()
        {
            eprintln!("{}", f.text);
        }
    }
    status.map_err(|f| Fail { code: f.code, text: String::new() })
}
