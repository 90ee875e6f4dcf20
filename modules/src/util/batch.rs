//! Several probes in one command, with one `stat` and one `sha1sum` for all of them.
//!
//! A loop of N items of a file module sends N probes, each with its own `stat` and
//! `sha1sum` processes (about 1.5 ms of the host's CPU each). A batch runs the probes'
//! shell parts (builtins) one after another, with a placeholder line where each `stat`
//! or `sha1sum` output would be and the paths collected in `"$@"`; then one `stat` for
//! every path and one `sha1sum` for every regular file. [`split`] puts their lines in
//! place of the placeholders: for each probe, the very bytes it would have printed alone.
//!
//! Any surprise (a `stat` or `sha1sum` that fails, a message on stderr, a line count that
//! does not match) gives no answer at all: the items then probe as usual.

use crate::ExecOutput;

use super::MARK;

/// Where a deferred `stat` line goes: `STAT J KIND` (`J`: the path's number in its probe).
pub(crate) const STAT: &str = "__provision_batch_4d9e__ stat";
/// Where a deferred `sha1sum` line goes.
pub(crate) const SUM: &str = "__provision_batch_4d9e__ sum";
/// Ends the output of one probe.
const END: &str = "__provision_batch_4d9e__ end";
/// Between the `stat` lines and the `sha1sum` lines.
const SUMS: &str = "__provision_batch_4d9e__ sums";

/// What the one `stat` prints per path. Names of users and groups have no `:` (nor a
/// newline), so the fields split cleanly.
const FORMAT: &str = "%h:%i:%d:%X:%Y:%a:%u:%g:%s:%U:%G";

/// The command that runs `parts` (probes made with `defer`) in order, then `stat` and
/// `sha1sum` once each.
pub(crate) fn script(parts: &[String]) -> String {
    let mut s = String::from("set --; K=");
    for part in parts {
        s.push_str("; ");
        s.push_str(part);
        s.push_str(&format!("; echo {END}"));
    }
    // `K` holds the kinds of the paths in `"$@"`, in order: the files among them are
    // checksummed (the loop's list is expanded before `set` changes it).
    s.push_str(&format!(
        "; if [ $# -gt 0 ]; then stat -c '{FORMAT}' -- \"$@\" || exit 90; fi; echo {SUMS}; \
n=$#; for q in \"$@\"; do k=${{K%% *}}; K=${{K#* }}; if [ \"$k\" = file ]; then set -- \"$@\" \"$q\"; fi; done; shift $n; \
if [ $# -gt 0 ]; then sha1sum -- \"$@\" || exit 91; fi"
    ));
    s
}

/// `stat_line` (a `stat -c` format) with the fields of one path.
fn render(stat_line: &str, f: &[&[u8]]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    let mut chars = stat_line.bytes();
    while let Some(c) = chars.next() {
        if c != b'%' {
            out.push(c);
            continue;
        }
        let field = match chars.next()? {
            b'h' => f[0],
            b'i' => f[1],
            b'd' => f[2],
            b'X' => f[3],
            b'Y' => f[4],
            b'a' => f[5],
            b'u' => f[6],
            b'g' => f[7],
            b's' => f[8],
            b'U' => f[9],
            b'G' => f[10],
            b'%' => b"%",
            _ => return None,
        };
        out.extend_from_slice(field);
    }
    Some(out)
}

fn lines(b: &[u8]) -> Vec<&[u8]> {
    b.split_inclusive(|&c| c == b'\n').collect()
}

/// What [`script`] printed, as the output of each probe run alone: `stat_lines[t][j]` is
/// the `stat_line` of path `j` of probe `t`. `None` when anything is not as expected.
pub(crate) fn split(out: &ExecOutput, stat_lines: &[Vec<String>]) -> Option<Vec<ExecOutput>> {
    if out.rc != 0 || !out.stderr.is_empty() {
        return None;
    }
    let all = lines(&out.stdout);
    let end = format!("{END}\n");
    let sums_at = all.iter().position(|l| *l == format!("{SUMS}\n").as_bytes())?;
    let (head, tail) = all.split_at(sums_at);
    let last_end = head.iter().rposition(|l| *l == end.as_bytes())?;
    let mut stats = head[last_end + 1..].iter();
    let mut sums = tail[1..].iter();
    let stat_mark = format!("{STAT} ");
    let sum_mark = format!("{SUM}\n");
    let mut outputs = vec![];
    let mut current = vec![];
    for line in &head[..=last_end] {
        if *line == end.as_bytes() {
            outputs.push(ExecOutput { rc: 0, stdout: std::mem::take(&mut current), stderr: vec![] });
        } else if let Some(rest) = line.strip_prefix(stat_mark.as_bytes()) {
            // `J KIND`, then the fields of the next `stat` line.
            let rest = std::str::from_utf8(rest).ok()?.trim_end_matches('\n');
            let (j, kind) = rest.split_once(' ')?;
            let stat_line = stat_lines.get(outputs.len())?.get(j.parse::<usize>().ok()?)?;
            let fields = stats.next()?.strip_suffix(b"\n")?;
            let f: Vec<&[u8]> = fields.split(|&c| c == b':').collect();
            if f.len() != 11 {
                return None;
            }
            if !stat_line.is_empty() {
                current.extend(render(stat_line, &f)?);
                current.push(b'\n');
            }
            current.extend_from_slice(format!("{MARK} {kind} ").as_bytes());
            current.extend_from_slice(&[f[5], f[9], f[10], f[6], f[7], f[8]].join(&b' '));
            current.push(b'\n');
        } else if *line == sum_mark.as_bytes() {
            // `sha1sum -- FILE` prints `HASH  NAME` (`\HASH  NAME` for a name it escapes);
            // alone, the probe's `sha1sum < FILE` printed `HASH  -`.
            let l = sums.next()?.strip_suffix(b"\n")?;
            let l = l.strip_prefix(b"\\").unwrap_or(l);
            let hash = l.get(..40).filter(|h| h.iter().all(u8::is_ascii_hexdigit))?;
            current.extend_from_slice(format!("{MARK}sum ").as_bytes());
            current.extend_from_slice(hash);
            current.extend_from_slice(b"  -\n");
        } else {
            current.extend_from_slice(line);
        }
    }
    if stats.next().is_some() || sums.next().is_some() || outputs.len() != stat_lines.len() {
        return None;
    }
    Some(outputs)
}
