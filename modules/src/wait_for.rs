//! `wait_for`: wait for a port or a file to reach a state, in one remote command.
//!
//! The whole wait is one shell loop on the host (`sleep` between checks, `date +%s` for
//! the clock), so it costs one round trip however long it waits. Ports on the host itself
//! (listening sockets, and for `drained` its active connections) are read from
//! `/proc/net/tcp` and `/proc/net/tcp6` with awk, as Ansible's Linux strategy does: no
//! `ss` or `netstat` needed. Other hosts' ports need `nc -z`.

use async_trait::async_trait;
use serde_json::{Map, Value};

use crate::args::{text, ArgSpec, ArgType};
use crate::quote::quote;
use crate::util::pyre::{self, Subject};
use crate::{util, Args, Context, Module, ModuleDoc, ModuleResult, RemoteError};

pub struct WaitFor;

const ARGS: &[ArgSpec] = &[
    ArgSpec::new("host", ArgType::Str, "The host whose port to wait for, as the managed host sees it.").default("127.0.0.1"),
    ArgSpec::new("port", ArgType::Int, "The TCP port to wait for."),
    ArgSpec::new("path", ArgType::Path, "The file to wait for (mutually exclusive with `port`)."),
    ArgSpec::new(
        "state",
        ArgType::Str,
        "`started`/`present`: the port listens or the file exists; `stopped`/`absent`: it no longer does; `drained` (a port): no active \
connection to it is left.",
    )
        .default("started")
        .choices(&["started", "stopped", "present", "absent", "drained"]),
    ArgSpec::new("search_regex", ArgType::Str, "With `path`: wait until the file's content matches this regular expression."),
    ArgSpec::new("timeout", ArgType::Int, "Seconds to wait at most.").default("300"),
    ArgSpec::new("delay", ArgType::Int, "Seconds to wait before the first check.").default("0"),
    ArgSpec::new("sleep", ArgType::Int, "Seconds between checks.").default("1"),
    ArgSpec::new("connect_timeout", ArgType::Int, "Seconds one connection attempt (`nc -z`) may take.").default("5"),
    ArgSpec::new("msg", ArgType::Str, "The failure message instead of the default one."),
    ArgSpec::new("exclude_hosts", ArgType::List, "With `drained`: connections from these IP addresses (or `localhost`) do not count."),
    ArgSpec::new("active_connection_states", ArgType::List, "With `drained`: the TCP states that count as active.")
        .default("ESTABLISHED,FIN_WAIT1,FIN_WAIT2,SYN_RECV,SYN_SENT,TIME_WAIT"),
];

static DOC: ModuleDoc = ModuleDoc {
    name: "wait_for",
    short: "Waits for a condition before continuing",
    description: "Waits until a TCP port listens (or stops listening), or a file exists (optionally with content matching \
`search_regex`) or is gone, or until `timeout` seconds passed, which fails the task. The wait is one shell loop on the host: \
one round trip. Ports of the host itself (`host` 127.0.0.1, localhost, 0.0.0.0, :: or ::1) are read from `/proc/net/tcp*`; other \
hosts need `nc` on the managed host. `drained` waits until no connection to `port` whose local address is `host` (0.0.0.0: any) \
is in one of `active_connection_states`, not counting `exclude_hosts`; `host` and `exclude_hosts` must be IP addresses or \
localhost there. Never changes anything.",
    args: ARGS,
    free_form: false,
    examples: "- name: Wait for the web server\n  ansible.builtin.wait_for:\n    port: 8080\n    timeout: 60\n\n\
- name: Wait for a log line\n  ansible.builtin.wait_for:\n    path: /var/log/app.log\n    search_regex: 'started in (\\d+)ms'\n\n\
- name: Wait for a lock file to go\n  ansible.builtin.wait_for:\n    path: /var/lock/app.lock\n    state: absent\n\n\
- name: Wait until clients (but the load balancer) have left\n  ansible.builtin.wait_for:\n    host: 0.0.0.0\n    port: 80\n    state: drained\n    exclude_hosts: [10.2.1.2]\n",
    returns: &[
        ("elapsed", "seconds waited"),
        ("state", "the state waited for"),
        ("port", "the port, with `port`"),
        ("path", "the file, with `path`"),
        ("match_groups", "with `search_regex`: the groups of the match"),
        ("match_groupdict", "with `search_regex`: the named groups of the match"),
    ],
};

const TAG: &str = "__provision_wait_for_9d1a__";

fn is_local(host: &str) -> bool {
    matches!(host, "127.0.0.1" | "localhost" | "0.0.0.0" | "::1" | "::" | "")
}

/// A host's addresses as `/proc/net/tcp*` writes them: each 4-byte group of the address
/// as a little-endian hex number (`127.0.0.1` is `0100007F`). An IPv4 address also gives
/// its IPv4-mapped IPv6 form, as Ansible's `_convert_host_to_hex`. `None`: not an IP
/// address (nor localhost or empty, which is 127.0.0.1).
fn proc_hex(host: &str) -> Option<Vec<String>> {
    use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
    let ips: Vec<IpAddr> = match host {
        "" => vec![IpAddr::V4(Ipv4Addr::LOCALHOST)],
        "localhost" => vec![IpAddr::V4(Ipv4Addr::LOCALHOST), IpAddr::V6(Ipv6Addr::LOCALHOST)],
        h => vec![h.trim_start_matches('[').trim_end_matches(']').parse().ok()?],
    };
    let hex = |bytes: &[u8]| bytes.chunks(4).map(|c| format!("{:08X}", u32::from_le_bytes([c[0], c[1], c[2], c[3]]))).collect::<String>();
    let mut out = vec![];
    for ip in ips {
        match ip {
            IpAddr::V4(v4) => {
                out.push(hex(&v4.octets()));
                out.push(hex(&v4.to_ipv6_mapped().octets()));
            }
            IpAddr::V6(v6) => out.push(hex(&v6.octets())),
        }
    }
    Some(out)
}

/// Ansible's `get_connection_state_id`.
fn state_id(state: &str) -> Option<&'static str> {
    Some(match state {
        "ESTABLISHED" => "01",
        "SYN_SENT" => "02",
        "SYN_RECV" => "03",
        "FIN_WAIT1" => "04",
        "FIN_WAIT2" => "05",
        "TIME_WAIT" => "06",
        _ => return None,
    })
}

const ANY4: &str = "00000000";
const ANY6: &str = "00000000000000000000000000000000";
const MAPPED_PREFIX: &str = "0000000000000000FFFF0000";

/// An awk run over `/proc/net/tcp*` that exits 0 when no socket on `port` is in one of
/// the `states` (hex) with a local address among `ips` (or one that matches all), and a
/// remote address not among `exclude`. `listen`: a wildcard local address (a server on
/// 0.0.0.0 or ::) counts for any `ips` too.
fn proc_tcp(port: u64, states: &[&str], ips: &[String], exclude: &[String], listen: bool) -> String {
    let words = |v: &[String]| format!(" {} ", v.join(" "));
    let wild = if listen { format!(" || l[1]==\"{ANY4}\" || l[1]==\"{ANY6}\"") } else { String::new() };
    format!(
        "awk -v p={port:04X} -v st=' {st} ' -v ips='{ips}' -v ex='{ex}' 'FNR==1 {{ next }} {{ split($2, l, \":\"); split($3, r, \":\"); \
if (l[2] != p || index(st, \" \" $4 \" \") == 0 || index(ex, \" \" r[1] \" \")) next; \
if (index(ips, \" \" l[1] \" \") || (length(l[1]) == 8 && index(ips, \" {ANY4} \")) || (length(l[1]) == 32 && index(ips, \" {ANY6} \")) || \
(substr(l[1], 1, 24) == \"{MAPPED_PREFIX}\" && index(ips, \" {MAPPED_PREFIX}00000000 \")){wild}) n++ }} END {{ exit (n > 0) }}' \
$(for f in /proc/net/tcp /proc/net/tcp6; do [ -r $f ] && echo $f; done)",
        st = states.join(" "),
        ips = words(ips),
        ex = words(exclude),
    )
}

/// The shell test for "the port listens" (exit 0 when it does).
fn port_check(host: &str, port: u64, connect_timeout: u64) -> String {
    match proc_hex(host).filter(|_| is_local(host)) {
        // Listening sockets (state 0A): the test is "not none", so negate the awk.
        Some(ips) => format!("! {}", proc_tcp(port, &["0A"], &ips, &[], true)),
        None => format!("nc -z -w {connect_timeout} {} {port} >/dev/null 2>&1", quote(host)),
    }
}

fn script(check: &str, want: bool, delay: u64, timeout: u64, sleep: u64, needs_nc: bool) -> String {
    let pre = if needs_nc { format!("command -v nc >/dev/null 2>&1 || {{ echo {TAG} nonc; exit 0; }}; ") } else { String::new() };
    let cond = if want { format!("{{ {check}; }}") } else { format!("! {{ {check}; }}") };
    format!(
        "{pre}s=$(date +%s); sleep {delay}; while :; do if {cond}; then echo {TAG} ok $(( $(date +%s) - s )); exit 0; fi; \
e=$(( $(date +%s) - s )); if [ \"$e\" -ge {timeout} ]; then echo {TAG} timeout $e; exit 0; fi; sleep {sleep}; done"
    )
}

#[async_trait]
impl Module for WaitFor {
    fn doc(&self) -> &'static ModuleDoc {
        &DOC
    }

    async fn run(&self, args: &Args, ctx: &Context<'_>) -> Result<ModuleResult, RemoteError> {
        let num = |k: &str, d: u64| -> Result<u64, String> {
            match text(args, k) {
                None => Ok(d),
                Some(v) => v.trim().parse::<u64>().map_err(|_| format!("{k} must be a non-negative integer, got {v:?}")),
            }
        };
        let (timeout, delay, sleep, ct) = match (num("timeout", 300), num("delay", 0), num("sleep", 1), num("connect_timeout", 5)) {
            (Ok(a), Ok(b), Ok(c), Ok(d)) => (a, b, c.max(1), d.max(1)),
            (Err(e), ..) | (_, Err(e), ..) | (_, _, Err(e), _) | (.., Err(e)) => return Ok(ModuleResult::failed(e)),
        };
        let host = text(args, "host").unwrap_or_else(|| "127.0.0.1".into());
        let state = text(args, "state").unwrap_or_else(|| "started".into());
        let port = match text(args, "port") {
            None => None,
            Some(p) => match p.trim().parse::<u64>() {
                Ok(n) if n <= 65535 => Some(n),
                _ => return Ok(ModuleResult::failed(format!("port must be a TCP port number, got {p:?}"))),
            },
        };
        let path = text(args, "path").filter(|p| !p.is_empty());
        let regex = text(args, "search_regex").filter(|r| !r.is_empty());
        if port.is_some() && path.is_some() {
            return Ok(ModuleResult::failed("port and path parameter can not both be passed to wait_for"));
        }
        let exclude: Vec<String> = match args.get("exclude_hosts") {
            Some(Value::Array(a)) => a.iter().map(|v| v.as_str().map(str::to_string).unwrap_or_else(|| v.to_string())).collect(),
            _ => vec![],
        };
        if path.is_some() && state == "stopped" {
            return Ok(ModuleResult::failed("state=stopped should only be used for checking a port in the wait_for module"));
        }
        if path.is_some() && state == "drained" {
            return Ok(ModuleResult::failed("state=drained should only be used for checking a port in the wait_for module"));
        }
        if args.get("exclude_hosts").is_some_and(|v| !v.is_null()) && state != "drained" {
            return Ok(ModuleResult::failed("exclude_hosts should only be with state=drained"));
        }
        let mut states = vec![];
        match args.get("active_connection_states") {
            Some(Value::Array(a)) => {
                for v in a {
                    let name = v.as_str().unwrap_or_default();
                    match state_id(name) {
                        Some(id) => states.push(id),
                        None => return Ok(ModuleResult::failed(format!("unknown active_connection_state ({name}) defined"))),
                    }
                }
            }
            _ => states = vec!["01", "02", "03", "04", "05", "06"],
        }
        let drained = if state == "drained" {
            let Some(port) = port else {
                return Ok(ModuleResult::failed("state=drained needs a port"));
            };
            let Some(ips) = proc_hex(&host) else {
                return Ok(ModuleResult::failed(format!("state=drained needs host as an IP address (or localhost), got {host:?}")));
            };
            let mut ex = vec![];
            for h in &exclude {
                match proc_hex(h) {
                    Some(x) => ex.extend(x),
                    None => return Ok(ModuleResult::failed(format!("exclude_hosts must be IP addresses (or localhost), got {h:?}"))),
                }
            }
            Some(proc_tcp(port, &states, &ips, &ex, false))
        } else {
            None
        };
        if port.is_some() && regex.is_some() {
            return Ok(ModuleResult::failed("search_regex with port (reading from the socket) is not supported by provision's wait_for; use it with path"));
        }
        let want = matches!(state.as_str(), "started" | "present" | "drained");
        let compiled = match &regex {
            Some(r) => match pyre::compile(r, Subject::Multiline, false) {
                Ok(c) => Some(c),
                Err(e) => return Ok(ModuleResult::failed(e)),
            },
            None => None,
        };
        let path = match path {
            Some(p) => Some(util::expand_home(ctx.remote, &p).await?),
            None => None,
        };

        let (check, needs_nc) = match (&path, port) {
            (Some(p), _) => {
                let q = quote(p);
                match (&regex, want) {
                    // The content is matched with grep -P (or -E) in the loop, and with
                    // Python's syntax here once it is read back.
                    (Some(r), true) => (format!("[ -f {q} ] && grep $g -q -- {} {q} 2>/dev/null", quote(r)), false),
                    _ => (format!("[ -e {q} ]"), false),
                }
            }
            (None, Some(_)) if drained.is_some() => (drained.clone().unwrap_or_default(), false),
            (None, Some(port)) => (port_check(&host, port, ct), !is_local(&host)),
            (None, None) => ("false".into(), false),
        };
        // Neither port nor path: Ansible just sleeps for `timeout` seconds and succeeds.
        let sleeping_only = path.is_none() && port.is_none();
        let mut cmd = if sleeping_only {
            format!("s=$(date +%s); sleep {}; echo {TAG} ok $(( $(date +%s) - s ))", delay.max(timeout))
        } else {
            script(&check, want, delay, timeout, sleep, needs_nc)
        };
        if let (Some(p), true, Some(_)) = (&path, want, &regex) {
            cmd = format!("g=-E; echo | grep -qP '' 2>/dev/null && g=-P; {}", cmd.replacen(&format!("echo {TAG} ok $(( $(date +%s) - s )); exit 0;"), &format!("echo {TAG} ok $(( $(date +%s) - s )); head -c 1048576 {}; exit 0;", quote(p)), 1));
        }
        let out = ctx.remote.exec(&cmd, b"").await?;
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        let (first, rest) = stdout.split_once('\n').unwrap_or((stdout.as_str(), ""));
        let mut words = first.strip_prefix(&format!("{TAG} ")).unwrap_or("").split_whitespace();
        let status = words.next().unwrap_or("");
        let elapsed: u64 = words.next().and_then(|e| e.parse().ok()).unwrap_or(0);

        let mut r = ModuleResult::ok(false);
        r.set("elapsed", elapsed).set("state", state.clone());
        if let Some(p) = port {
            r.set("port", p);
        }
        if let Some(p) = &path {
            r.set("path", p.clone());
        }
        if let Some(re) = &regex {
            r.set("search_regex", re.clone());
        }
        match status {
            "ok" => {
                if let Some(c) = &compiled {
                    let mut groups = vec![];
                    let mut named = Map::new();
                    if let Some(caps) = c.regex.captures(rest.as_bytes()) {
                        for g in caps.iter().skip(1) {
                            groups.push(g.map(|m| Value::String(String::from_utf8_lossy(m.as_bytes()).into_owned())).unwrap_or(Value::Null));
                        }
                        for name in c.regex.capture_names().flatten() {
                            let v = caps.name(name).map(|m| Value::String(String::from_utf8_lossy(m.as_bytes()).into_owned())).unwrap_or(Value::Null);
                            named.insert(name.to_string(), v);
                        }
                    }
                    r.set("match_groups", groups).set("match_groupdict", named);
                }
                Ok(r)
            }
            "timeout" => {
                let msg = text(args, "msg").filter(|m| !m.is_empty()).unwrap_or_else(|| match (&path, port, &regex, want) {
                    (Some(p), _, Some(re), true) => format!("Timeout when waiting for search string {re} in {p}"),
                    (Some(p), _, _, true) => format!("Timeout when waiting for file {p}"),
                    (Some(p), _, _, false) => format!("Timeout when waiting for {p} to be absent."),
                    (None, Some(port), _, true) if state == "drained" => format!("Timeout when waiting for {host}:{port} to drain"),
                    (None, Some(port), _, true) => format!("Timeout when waiting for {host}:{port}"),
                    (None, Some(port), _, false) => format!("Timeout when waiting for {host}:{port} to stop."),
                    _ => "Timeout".into(),
                });
                r.set("failed", true).set("msg", msg);
                Ok(r)
            }
            "nonc" => Ok(ModuleResult::failed(format!(
                "cannot check {host}:{port}: ports of other hosts need `nc` on the managed host (install netcat), only local ports are checked without it",
                port = port.unwrap_or_default()
            ))),
            _ => Ok(ModuleResult::failed(format!(
                "wait_for failed (rc={}): {}",
                out.rc,
                String::from_utf8_lossy(&out.stderr).trim()
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::file::tests::{run_module, Fake};
    use serde_json::json;

    fn run(a: Value, answers: &[&str]) -> (ModuleResult, Vec<String>) {
        let fake = Fake::new(answers);
        let r = run_module(&WaitFor, a, &fake, false, false);
        (r, fake.commands())
    }

    #[test]
    fn a_local_port_is_one_loop() {
        let (r, sent) = run(json!({"port": 8080, "timeout": 5}), &[&format!("{TAG} ok 2\n")]);
        assert_eq!(sent.len(), 1);
        assert!(!sent[0].contains("ss -ltn"), "{}", sent[0]);
        assert!(sent[0].contains("/proc/net/tcp6") && sent[0].contains("-v p=1F90 -v st=' 0A '"), "{}", sent[0]);
        assert!(sent[0].contains("-v ips=' 0100007F 0000000000000000FFFF00000100007F '"), "{}", sent[0]);
        assert!(sent[0].contains("-ge 5 ]"), "{}", sent[0]);
        assert!(!r.changed() && !r.is_failed(), "{r:?}");
        assert_eq!(r.0["elapsed"], 2);
        assert_eq!(r.0["port"], 8080);
        assert_eq!(r.0["state"], "started");
    }

    #[test]
    fn timeouts_fail_like_ansible() {
        let (r, _) = run(json!({"port": 8080, "timeout": 1}), &[&format!("{TAG} timeout 1\n")]);
        assert!(r.is_failed());
        assert_eq!(r.0["msg"], "Timeout when waiting for 127.0.0.1:8080");
        let (r, _) = run(json!({"path": "/tmp/x"}), &[&format!("{TAG} timeout 300\n")]);
        assert_eq!(r.0["msg"], "Timeout when waiting for file /tmp/x");
        let (r, sent) = run(json!({"path": "/tmp/x", "state": "absent", "msg": "gone?"}), &[&format!("{TAG} timeout 3\n")]);
        assert!(sent[0].contains("! { [ -e /tmp/x ]; }"), "{}", sent[0]);
        assert_eq!(r.0["msg"], "gone?");
        let (r, _) = run(json!({"port": 22, "state": "stopped"}), &[&format!("{TAG} timeout 3\n")]);
        assert_eq!(r.0["msg"], "Timeout when waiting for 127.0.0.1:22 to stop.");
    }

    #[test]
    fn search_regex_returns_groups() {
        let (r, sent) = run(json!({"path": "/var/log/a b.log", "search_regex": "started in (\\d+)ms"}), &[&format!("{TAG} ok 0\nx\nstarted in 42ms\n")]);
        assert!(sent[0].contains("grep $g -q -- 'started in (\\d+)ms' '/var/log/a b.log'"), "{}", sent[0]);
        assert!(sent[0].contains("head -c 1048576 '/var/log/a b.log'"), "{}", sent[0]);
        assert!(!r.is_failed(), "{r:?}");
        assert_eq!(r.0["match_groups"], json!(["42"]));
    }

    #[test]
    fn remote_ports_need_nc_and_bad_arguments_fail() {
        let (r, sent) = run(json!({"host": "db.example", "port": 5432}), &[&format!("{TAG} nonc\n")]);
        assert!(sent[0].contains("nc -z -w 5 db.example 5432"), "{}", sent[0]);
        assert!(r.is_failed() && r.0["msg"].as_str().unwrap().contains("nc"));
        let (r, sent) = run(json!({"port": 1, "path": "/x"}), &[]);
        assert!(r.is_failed() && sent.is_empty());
        let (r, sent) = run(json!({"path": "/x", "state": "drained"}), &[]);
        assert!(r.is_failed() && sent.is_empty());
        let (r, sent) = run(json!({"port": 1, "exclude_hosts": ["10.0.0.1"]}), &[]);
        assert_eq!(r.0["msg"], "exclude_hosts should only be with state=drained");
        assert!(sent.is_empty());
    }

    #[test]
    fn drained_reads_proc_net_tcp() {
        assert_eq!(proc_hex("10.2.1.2").unwrap(), ["0201020A", "0000000000000000FFFF00000201020A"]);
        assert_eq!(proc_hex("::1").unwrap(), ["00000000000000000000000001000000"]);
        assert!(proc_hex("db.example").is_none());
        let (r, sent) = run(
            json!({"host": "0.0.0.0", "port": 80, "state": "drained", "exclude_hosts": ["10.2.1.2"], "timeout": 7}),
            &[&format!("{TAG} ok 3\n")],
        );
        assert!(!r.is_failed() && !r.changed(), "{r:?}");
        assert_eq!(sent.len(), 1);
        let s = &sent[0];
        assert!(s.contains("-v p=0050 -v st=' 01 04 05 03 02 06 ' -v ips=' 00000000 0000000000000000FFFF000000000000 ' -v ex=' 0201020A 0000000000000000FFFF00000201020A '"), "{s}");
        assert!(s.contains("if { awk"), "{s}");
        let (r, sent) = run(json!({"port": 8080, "state": "drained", "active_connection_states": ["ESTABLISHED"]}), &[&format!("{TAG} timeout 300\n")]);
        assert!(sent[0].contains("-v st=' 01 '"), "{}", sent[0]);
        assert_eq!(r.0["msg"], "Timeout when waiting for 127.0.0.1:8080 to drain");
        let (r, sent) = run(json!({"port": 80, "state": "drained", "active_connection_states": ["LISTEN"]}), &[]);
        assert_eq!(r.0["msg"], "unknown active_connection_state (LISTEN) defined");
        assert!(sent.is_empty());
        let (r, _) = run(json!({"host": "db.example", "port": 80, "state": "drained"}), &[]);
        assert!(r.is_failed());
    }

    /// The awk program, run here on a /proc/net/tcp sample: one ESTABLISHED connection
    /// to 127.0.0.1:8080 from 127.0.0.1:40000, and a listener.
    #[test]
    fn the_awk_program_counts_connections() {
        let dir = std::env::temp_dir().join(format!("provision-wait-for-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let tcp = dir.join("tcp");
        std::fs::write(
            &tcp,
            "  sl  local_address rem_address   st tx_queue rx_queue\n\
   0: 00000000:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1 1 0 100 0 0 10 0\n\
   1: 0100007F:1F90 0100007F:9C40 01 00000000:00000000 00:00000000 00000000     0        0 2 1 0 20 4 30 10 -1\n",
        )
        .unwrap();
        let sh = |prog: String| {
            let prog = prog.replace("$(for f in /proc/net/tcp /proc/net/tcp6; do [ -r $f ] && echo $f; done)", &tcp.display().to_string());
            std::process::Command::new("sh").arg("-c").arg(&prog).status().unwrap().success()
        };
        let local = proc_hex("127.0.0.1").unwrap();
        let all = ["01", "06"];
        assert!(!sh(proc_tcp(8080, &all, &local, &[], false)), "one connection is active");
        assert!(sh(proc_tcp(8080, &all, &local, &proc_hex("127.0.0.1").unwrap(), false)), "excluded");
        assert!(sh(proc_tcp(8080, &["06"], &local, &[], false)), "not in the states");
        assert!(sh(proc_tcp(8081, &all, &local, &[], false)), "another port");
        assert!(sh(proc_tcp(8080, &all, &proc_hex("10.0.0.1").unwrap(), &[], false)), "another local address");
        assert!(!sh(proc_tcp(8080, &all, &proc_hex("0.0.0.0").unwrap(), &[], false)), "0.0.0.0 matches all");
        // Listening: the wildcard listener serves 10.0.0.1 too.
        assert!(!sh(proc_tcp(8080, &["0A"], &proc_hex("10.0.0.1").unwrap(), &[], true)));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
