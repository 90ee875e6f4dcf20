//! `reboot` and `wait_for_connection`: the two modules that are about the connection
//! itself, so the engine runs them (a module on the host cannot wait for its own host).
//!
//! `reboot` reads the host's boot identity, asks it to reboot, drops the connection,
//! then reconnects until the identity has changed and `test_command` succeeds. The
//! identity is `/proc/sys/kernel/random/boot_id` (what Ansible reads) together with the
//! start time of PID 1: a container shares its kernel's boot_id with the machine, so a
//! restarted container host is only told apart by its new init process.

use std::time::{Duration, Instant};

use provision_modules::{ArgSpec, ArgType, ModuleDoc, Remote, RemoteError};
use serde_json::{json, Map, Value};

use crate::connection::TaskRemote;

const REBOOT_ARGS: &[ArgSpec] = &[
    ArgSpec::new("msg", ArgType::Str, "Message shown to logged-in users before the reboot.").default("Reboot initiated by provision"),
    ArgSpec::new("pre_reboot_delay", ArgType::Int, "Seconds to wait before rebooting (rounded down to minutes by `shutdown`; under 60 is now).").default("0"),
    ArgSpec::new("post_reboot_delay", ArgType::Int, "Seconds to wait after the host is back, before `test_command`.").default("0"),
    ArgSpec::new("reboot_timeout", ArgType::Int, "Seconds to wait for the host to go down and come back and pass `test_command`.").default("600"),
    ArgSpec::new("connect_timeout", ArgType::Int, "Seconds one connection attempt may take while waiting (default: the connection's own)."),
    ArgSpec::new("test_command", ArgType::Str, "A command that must succeed on the rebooted host before it counts as back.").default("whoami"),
    ArgSpec::new("boot_time_command", ArgType::Str, "A command whose output changes with every boot (default: boot_id and PID 1's start time)."),
    ArgSpec::new("reboot_command", ArgType::Str, "The command that reboots the host (default: `shutdown -r MINUTES \"MSG\"`)."),
    ArgSpec::new("search_paths", ArgType::List, "Accepted; `shutdown` is looked up on the host's PATH."),
];

pub static REBOOT_DOC: ModuleDoc = ModuleDoc {
    name: "reboot",
    short: "Reboot a machine and wait for it to come back",
    description: "Reboots the host, waits for it to go down and come back up, reconnects and runs `test_command` \
before the play goes on. The boot is recognised by a change of `boot_time_command`'s output: by default the kernel's \
boot_id together with the start time of PID 1, so that a container host (which shares the kernel's boot_id) is \
recognised too. In check mode nothing happens and the task reports changed.",
    args: REBOOT_ARGS,
    free_form: false,
    examples: "- name: Reboot for the new kernel\n  ansible.builtin.reboot:\n    msg: Rebooting for the kernel update\n    reboot_timeout: 900\n",
    returns: &[("rebooted", "true when the host was rebooted"), ("elapsed", "seconds from the reboot command until the host was back")],
};

const WFC_ARGS: &[ArgSpec] = &[
    ArgSpec::new("delay", ArgType::Int, "Seconds to wait before the first attempt.").default("0"),
    ArgSpec::new("sleep", ArgType::Int, "Seconds between attempts.").default("1"),
    ArgSpec::new("timeout", ArgType::Int, "Seconds to wait in all.").default("600"),
    ArgSpec::new("connect_timeout", ArgType::Int, "Seconds one attempt may take.").default("5"),
];

pub static WAIT_FOR_CONNECTION_DOC: ModuleDoc = ModuleDoc {
    name: "wait_for_connection",
    short: "Wait until the host can be reached and runs commands",
    description: "Connects to the host (afresh, whatever connection the run had) and runs a trivial command, \
again and again until that works or `timeout` runs out. No Python is needed on the host: where Ansible runs its \
`ping` module, this runs `true` through the same connection and become settings as other tasks.",
    args: WFC_ARGS,
    free_form: false,
    examples: "- name: Wait for the host to come up\n  ansible.builtin.wait_for_connection:\n    delay: 5\n    timeout: 300\n",
    returns: &[("elapsed", "seconds until the host answered")],
};

const DEFAULT_BOOT_TIME: &str = "cat /proc/sys/kernel/random/boot_id; cut -d' ' -f22 /proc/1/stat";

fn int(args: &Map<String, Value>, key: &str, default: u64) -> u64 {
    args.get(key)
        .and_then(|v| v.as_u64().or_else(|| v.as_str().and_then(|s| s.trim().parse().ok())))
        .unwrap_or(default)
}

fn text(args: &Map<String, Value>, key: &str) -> Option<String> {
    args.get(key).map(|v| match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    })
}

fn failed(msg: String, elapsed: Option<u64>) -> Map<String, Value> {
    let mut r = Map::new();
    r.insert("changed".into(), Value::Bool(false));
    r.insert("failed".into(), Value::Bool(true));
    r.insert("msg".into(), Value::String(msg));
    if let Some(e) = elapsed {
        r.insert("elapsed".into(), json!(e));
    }
    r
}

/// Run `command` on a fresh connection within `limit`; Ok(stdout) when it exits 0.
async fn try_command(remote: &TaskRemote<'_>, command: &str, limit: Duration) -> Result<String, String> {
    match tokio::time::timeout(limit, async {
        remote.session.connect().await?;
        remote.exec(command, b"").await
    })
    .await
    {
        Err(_) => Err(format!("timed out after {}s", limit.as_secs())),
        Ok(Err(e)) => Err(e.to_string()),
        Ok(Ok(out)) if out.rc == 0 => Ok(String::from_utf8_lossy(&out.stdout).trim().to_string()),
        Ok(Ok(out)) => Err(format!("rc={}: {}", out.rc, String::from_utf8_lossy(&out.stderr).trim())),
    }
}

/// `reboot`, with the task's remote (become and environment applied).
pub async fn reboot(remote: &TaskRemote<'_>, args: &Map<String, Value>, check: bool) -> Map<String, Value> {
    if check {
        let mut r = Map::new();
        r.insert("changed".into(), Value::Bool(true));
        r.insert("rebooted".into(), Value::Bool(true));
        r.insert("elapsed".into(), json!(0));
        return r;
    }
    let timeout = Duration::from_secs(int(args, "reboot_timeout", 600).max(1));
    let attempt = Duration::from_secs(int(args, "connect_timeout", 10).max(1));
    let boot_cmd = text(args, "boot_time_command").unwrap_or_else(|| DEFAULT_BOOT_TIME.to_string());
    let test_cmd = text(args, "test_command").unwrap_or_else(|| "whoami".into());
    let before = match try_command(remote, &boot_cmd, attempt.max(Duration::from_secs(30))).await {
        Ok(b) if !b.is_empty() => b,
        Ok(_) => return failed(format!("`{boot_cmd}` printed nothing: cannot tell when the host has rebooted"), None),
        Err(e) => return failed(format!("cannot read the boot identity with `{boot_cmd}`: {e}"), None),
    };
    let msg = text(args, "msg").unwrap_or_else(|| "Reboot initiated by provision".into());
    let minutes = int(args, "pre_reboot_delay", 0) / 60;
    let command = text(args, "reboot_command").unwrap_or_else(|| format!("shutdown -r {minutes} {}", provision_modules::quote::quote(&msg)));
    // The host may drop the connection before answering: that is the reboot happening.
    let start = Instant::now();
    let detached = format!("nohup sh -c {} >/dev/null 2>&1 &", provision_modules::quote::quote(&format!("sleep 1; {command}")));
    match tokio::time::timeout(Duration::from_secs(30), remote.exec(&detached, b"")).await {
        Ok(Ok(out)) if out.rc != 0 => {
            return failed(format!("Reboot command failed (rc={}): {}", out.rc, String::from_utf8_lossy(&out.stderr).trim()), None)
        }
        Ok(Err(RemoteError::Become(e))) => return failed(e, None),
        _ => {}
    }
    tokio::time::sleep(Duration::from_secs(int(args, "pre_reboot_delay", 0) % 60 + minutes * 60 + 2)).await;
    remote.session.disconnect().await;
    // Down and up again: the boot identity changes.
    let mut last = String::new();
    loop {
        if start.elapsed() > timeout {
            return failed(format!("Timed out waiting for the host to reboot ({}s): {last}", timeout.as_secs()), Some(start.elapsed().as_secs()));
        }
        match try_command(remote, &boot_cmd, attempt).await {
            Ok(now) if !now.is_empty() && now != before => break,
            Ok(_) => {
                last = "the host has not rebooted yet".into();
                remote.session.disconnect().await;
            }
            Err(e) => {
                last = e;
                remote.session.disconnect().await;
            }
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    tokio::time::sleep(Duration::from_secs(int(args, "post_reboot_delay", 0))).await;
    loop {
        match try_command(remote, &test_cmd, attempt).await {
            Ok(_) => break,
            Err(e) if start.elapsed() > timeout => {
                return failed(format!("Timed out waiting for `{test_cmd}` to succeed after the reboot: {e}"), Some(start.elapsed().as_secs()))
            }
            Err(_) => tokio::time::sleep(Duration::from_secs(1)).await,
        }
    }
    let mut r = Map::new();
    r.insert("changed".into(), Value::Bool(true));
    r.insert("rebooted".into(), Value::Bool(true));
    r.insert("elapsed".into(), json!(start.elapsed().as_secs()));
    r
}

/// `wait_for_connection`: reconnect until a trivial command runs.
pub async fn wait_for_connection(remote: &TaskRemote<'_>, args: &Map<String, Value>) -> Map<String, Value> {
    let start = Instant::now();
    tokio::time::sleep(Duration::from_secs(int(args, "delay", 0))).await;
    let timeout = Duration::from_secs(int(args, "timeout", 600));
    let attempt = Duration::from_secs(int(args, "connect_timeout", 5).max(1));
    let pause = Duration::from_secs(int(args, "sleep", 1));
    loop {
        match try_command(remote, "true", attempt).await {
            Ok(_) => {
                let mut r = Map::new();
                r.insert("changed".into(), Value::Bool(false));
                r.insert("elapsed".into(), json!(start.elapsed().as_secs()));
                return r;
            }
            Err(e) => {
                if start.elapsed() + pause > timeout {
                    return failed(format!("timed out waiting for connection: {e}"), Some(start.elapsed().as_secs()));
                }
                remote.session.disconnect().await;
                tokio::time::sleep(pause).await;
            }
        }
    }
}

/// Whether `action` is one of these connection modules.
pub fn is_connection_module(action: &str) -> bool {
    matches!(action, "reboot" | "wait_for_connection")
}
