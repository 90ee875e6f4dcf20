//! `command`, `shell` and `raw`: run a command on the host.
//!
//! - `command` runs an argv: no shell features (`|`, `>`, `$VAR`) reach it, since every
//!   word is quoted.
//! - `shell` runs the text under `/bin/sh -c` (or `executable`).
//! - `raw` sends the text as it is to the login shell, with no wrapping and no become.
//!
//! `creates`/`removes` are checked in the same round trip as the command itself. In
//! check mode the command is not run (Ansible's behaviour), unless `creates`/`removes`
//! already tell that it would be skipped.

use std::time::{Instant, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use serde_json::Value;

use crate::args::{to_bool, ArgSpec, ArgType};
use crate::quote::{check_nul, join, quote};
use crate::{Args, Context, ExecOutput, Module, ModuleDoc, ModuleResult, RemoteError};
use crate::args::text;

/// Keys that `key=value` words may set in the free form of `command` and `shell`.
pub const FREE_FORM_KEYS: &[&str] =
    &["chdir", "creates", "removes", "executable", "stdin", "stdin_add_newline", "strip_empty_ends", "warn", "cmd"];

const COMMAND_ARGS: &[ArgSpec] = &[
    ArgSpec::new("cmd", ArgType::Str, "The command to run (or give it as free form)."),
    ArgSpec::new("argv", ArgType::List, "The command as a list of words; no quoting issues. Only one of `cmd`/free form and `argv`."),
    ArgSpec::new("chdir", ArgType::Path, "Change into this directory before running the command."),
    ArgSpec::new("creates", ArgType::Path, "A path: when it exists, the command is not run."),
    ArgSpec::new("removes", ArgType::Path, "A path: when it does not exist, the command is not run."),
    ArgSpec::new("stdin", ArgType::Str, "Text fed to the command's standard input."),
    ArgSpec::new("stdin_add_newline", ArgType::Bool, "Append a newline to `stdin`.").default("yes"),
    ArgSpec::new("strip_empty_ends", ArgType::Bool, "Strip trailing newlines from stdout and stderr.").default("yes"),
    ArgSpec::new("expand_argument_vars", ArgType::Bool, "Accepted for compatibility; words are never expanded by a shell here.").default("yes"),
    ArgSpec::new("executable", ArgType::Path, "Accepted for compatibility with `command`; use `shell` to choose a shell."),
    ArgSpec::new("warn", ArgType::Bool, "Ignored, as in ansible-core 2.14+."),
];

const SHELL_ARGS: &[ArgSpec] = &[
    ArgSpec::new("cmd", ArgType::Str, "The shell text to run (or give it as free form)."),
    ArgSpec::new("chdir", ArgType::Path, "Change into this directory before running the command."),
    ArgSpec::new("creates", ArgType::Path, "A path: when it exists, the command is not run."),
    ArgSpec::new("removes", ArgType::Path, "A path: when it does not exist, the command is not run."),
    ArgSpec::new("executable", ArgType::Path, "The shell to run the text with.").default("/bin/sh"),
    ArgSpec::new("stdin", ArgType::Str, "Text fed to the command's standard input."),
    ArgSpec::new("stdin_add_newline", ArgType::Bool, "Append a newline to `stdin`.").default("yes"),
    ArgSpec::new("strip_empty_ends", ArgType::Bool, "Strip trailing newlines from stdout and stderr.").default("yes"),
    ArgSpec::new("warn", ArgType::Bool, "Ignored, as in ansible-core 2.14+."),
];

const RAW_ARGS: &[ArgSpec] = &[ArgSpec::new("executable", ArgType::Path, "Run the text with this shell instead of the login shell.")];

const RETURNS: &[(&str, &str)] = &[
    ("cmd", "the command that ran (a list for `command`, a string for `shell`)"),
    ("rc", "the exit status"),
    ("stdout", "standard output, trailing newlines stripped"),
    ("stdout_lines", "stdout split into lines"),
    ("stderr", "standard error"),
    ("stderr_lines", "stderr split into lines"),
    ("start", "when the command started (control machine's clock)"),
    ("end", "when it ended"),
    ("delta", "how long it ran"),
    ("msg", "`non-zero return code` on failure, or why it did not run"),
];

static COMMAND_DOC: ModuleDoc = ModuleDoc {
    name: "command",
    short: "Run a command on the host, without a shell",
    description: "Runs the words of the command as an argv: shell operators such as `|`, `>`, `&&` and \
variables like `$HOME` are passed literally. Use `shell` for those. Always reports `changed` unless \
`creates`/`removes` skip it; in check mode it does not run.",
    args: COMMAND_ARGS,
    free_form: true,
    examples: "- name: Show the kernel\n  ansible.builtin.command: uname -a\n\n- name: Initialise once\n  ansible.builtin.command: /opt/app/init --force\n  args:\n    creates: /opt/app/.initialised\n\n# provision web -a \"uptime\"\n",
    returns: RETURNS,
};

static SHELL_DOC: ModuleDoc = ModuleDoc {
    name: "shell",
    short: "Run shell text on the host",
    description: "Runs the text under `/bin/sh -c` (or `executable`), so pipes, redirections and \
variables work. Quote user input with the `quote` filter.",
    args: SHELL_ARGS,
    free_form: true,
    examples: "- name: Count processes\n  ansible.builtin.shell: ps aux | wc -l\n",
    returns: RETURNS,
};

static RAW_DOC: ModuleDoc = ModuleDoc {
    name: "raw",
    short: "Send a command to the host's login shell as it is",
    description: "No wrapping, no quoting, no become: the text goes to the SSH server, which runs it \
with the user's login shell. Useful to bootstrap a host.",
    args: RAW_ARGS,
    free_form: true,
    examples: "- name: Bootstrap\n  ansible.builtin.raw: apt-get install -y python3\n",
    returns: &[("rc", "the exit status"), ("stdout", "standard output"), ("stderr", "standard error")],
};

pub struct Command;
pub struct Shell;
pub struct Raw;


fn flag(args: &Args, key: &str, default: bool) -> bool {
    args.get(key).and_then(to_bool).unwrap_or(default)
}

/// Python's `shlex.split` for the free form of `command`.
fn split_command(cmd: &str) -> Result<Vec<String>, String> {
    shlex::split(cmd).ok_or_else(|| format!("cannot split the command into words (unbalanced quotes?): {cmd}"))
}

const SKIP_MARK: &str = "__provision_skip_8c1d__";

/// The guard for `creates`/`removes`, run before the command in the same script.
fn guard(args: &Args) -> String {
    let mut g = String::new();
    if let Some(p) = text(args, "creates") {
        g.push_str(&format!("if [ -e {} ]; then printf %s {SKIP_MARK}c; exit 0; fi; ", quote(&p)));
    }
    if let Some(p) = text(args, "removes") {
        g.push_str(&format!("if [ ! -e {} ]; then printf %s {SKIP_MARK}r; exit 0; fi; ", quote(&p)));
    }
    g
}

/// Format a system time like Python's `str(datetime.now())`, in UTC.
pub fn timestamp(t: SystemTime) -> String {
    let d = t.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = d.as_secs() as i64;
    let (days, rem) = (secs.div_euclid(86400), secs.rem_euclid(86400));
    // Civil from days (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02}.{:06}",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        d.subsec_micros()
    )
}

fn delta(d: std::time::Duration) -> String {
    let s = d.as_secs();
    format!("{}:{:02}:{:02}.{:06}", s / 3600, s % 3600 / 60, s % 60, d.subsec_micros())
}

fn lines(s: &str) -> Value {
    Value::Array(s.lines().map(|l| Value::String(l.to_string())).collect())
}

fn decode(bytes: &[u8], strip: bool) -> String {
    let s = String::from_utf8_lossy(bytes).into_owned();
    if strip {
        s.trim_end_matches(['\r', '\n']).to_string()
    } else {
        s
    }
}

/// Run a prepared script and build Ansible's command result.
async fn run_script(cmd_value: Value, script: String, args: &Args, ctx: &Context<'_>) -> Result<ModuleResult, RemoteError> {
    if let Err(e) = check_nul(&script) {
        return Ok(ModuleResult::failed(e));
    }
    let creates = text(args, "creates");
    let removes = text(args, "removes");
    let guarded = creates.is_some() || removes.is_some();
    let mut r = ModuleResult::ok(false);
    r.set("cmd", cmd_value);
    if ctx.check_mode && !guarded {
        r.set("skipped", true);
        r.set("msg", "Command would have run if not in check mode");
        r.set("rc", 0);
        return Ok(r);
    }
    let mut stdin = text(args, "stdin").unwrap_or_default().into_bytes();
    if !stdin.is_empty() && flag(args, "stdin_add_newline", true) {
        stdin.push(b'\n');
    }
    let script = if ctx.check_mode {
        // Only find out whether the guard would skip; never run the command.
        format!("{}printf %s {SKIP_MARK}run", guard(args))
    } else {
        format!("{}{script}", guard(args))
    };
    let start = SystemTime::now();
    let clock = Instant::now();
    let out: ExecOutput = ctx.remote.exec(&script, &stdin).await?;
    let elapsed = clock.elapsed();
    let end = SystemTime::now();
    let raw_stdout = String::from_utf8_lossy(&out.stdout);
    if let Some(kind) = raw_stdout.strip_prefix(SKIP_MARK).filter(|_| out.rc == 0) {
        match kind {
            "c" => {
                let p = creates.unwrap_or_default();
                r.set("msg", format!("Did not run command since '{p}' exists"));
                r.set("stdout", format!("skipped, since {p} exists"));
            }
            "r" => {
                let p = removes.unwrap_or_default();
                r.set("msg", format!("Did not run command since '{p}' does not exist"));
                r.set("stdout", format!("skipped, since {p} does not exist"));
            }
            _ => {
                r.set("changed", true);
                r.set("msg", "Command would have run if not in check mode");
                r.set("stdout", "");
            }
        }
        r.set("rc", 0);
        return Ok(r);
    }
    let strip = flag(args, "strip_empty_ends", true);
    let stdout = decode(&out.stdout, strip);
    let stderr = decode(&out.stderr, strip);
    r.set("changed", true);
    r.set("rc", out.rc);
    r.set("stdout_lines", lines(&stdout));
    r.set("stdout", stdout);
    r.set("stderr_lines", lines(&stderr));
    r.set("stderr", stderr);
    r.set("start", timestamp(start));
    r.set("end", timestamp(end));
    r.set("delta", delta(elapsed));
    if out.rc != 0 {
        r.set("failed", true);
        r.set("msg", "non-zero return code");
    } else {
        r.set("msg", "");
    }
    Ok(r)
}

fn chdir_prefix(args: &Args) -> String {
    match text(args, "chdir") {
        Some(d) => format!("cd {} && ", quote(&d)),
        None => String::new(),
    }
}

#[async_trait]
impl Module for Command {
    fn doc(&self) -> &'static ModuleDoc {
        &COMMAND_DOC
    }

    async fn run(&self, args: &Args, ctx: &Context<'_>) -> Result<ModuleResult, RemoteError> {
        let words: Vec<String> = match (args.get("argv"), text(args, "cmd").or_else(|| text(args, "_raw_params"))) {
            (Some(Value::Array(a)), None) => a.iter().map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_string)).collect(),
            (Some(_), Some(_)) => return Ok(ModuleResult::failed("only one of 'argv' or 'cmd' (or free form) may be given")),
            (_, Some(cmd)) => match split_command(&cmd) {
                Ok(w) => w,
                Err(e) => return Ok(ModuleResult::failed(e)),
            },
            _ => vec![],
        };
        if words.is_empty() {
            return Ok(ModuleResult::failed("no command given"));
        }
        let script = format!("{}exec {}", chdir_prefix(args), join(&words));
        let cmd_value = Value::Array(words.into_iter().map(Value::String).collect());
        run_script(cmd_value, script, args, ctx).await
    }
}

#[async_trait]
impl Module for Shell {
    fn doc(&self) -> &'static ModuleDoc {
        &SHELL_DOC
    }

    async fn run(&self, args: &Args, ctx: &Context<'_>) -> Result<ModuleResult, RemoteError> {
        let Some(cmd) = text(args, "cmd").or_else(|| text(args, "_raw_params")).filter(|c| !c.trim().is_empty()) else {
            return Ok(ModuleResult::failed("no command given"));
        };
        let shell = text(args, "executable").unwrap_or_else(|| "/bin/sh".into());
        let script = format!("{}exec {} -c {}", chdir_prefix(args), quote(&shell), quote(&cmd));
        run_script(Value::String(cmd), script, args, ctx).await
    }
}

#[async_trait]
impl Module for Raw {
    fn doc(&self) -> &'static ModuleDoc {
        &RAW_DOC
    }

    async fn run(&self, args: &Args, ctx: &Context<'_>) -> Result<ModuleResult, RemoteError> {
        let Some(cmd) = text(args, "_raw_params").filter(|c| !c.trim().is_empty()) else {
            return Ok(ModuleResult::failed("no command given"));
        };
        if ctx.check_mode {
            let mut r = ModuleResult::ok(false);
            r.set("skipped", true);
            r.set("msg", "raw does not support check mode");
            return Ok(r);
        }
        let line = match text(args, "executable") {
            Some(sh) => format!("{} -c {}", quote(&sh), quote(&cmd)),
            None => cmd,
        };
        let out = ctx.remote.exec_raw(&line).await?;
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        let mut r = ModuleResult::ok(true);
        r.set("rc", out.rc);
        r.set("stdout_lines", lines(&stdout));
        r.set("stdout", stdout);
        r.set("stderr_lines", lines(&stderr));
        r.set("stderr", stderr);
        if out.rc != 0 {
            r.set("failed", true);
            r.set("msg", "non-zero return code");
        }
        Ok(r)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    /// Records the commands sent and answers from a script.
    struct Fake {
        sent: Mutex<Vec<(String, Vec<u8>)>>,
        answer: ExecOutput,
    }

    #[async_trait]
    impl crate::Remote for Fake {
        async fn exec(&self, command: &str, stdin: &[u8]) -> Result<ExecOutput, RemoteError> {
            self.sent.lock().unwrap().push((command.to_string(), stdin.to_vec()));
            Ok(self.answer.clone())
        }
        async fn exec_raw(&self, command: &str) -> Result<ExecOutput, RemoteError> {
            self.exec(command, b"").await
        }
    }

    fn fake(rc: i32, stdout: &str) -> Fake {
        Fake { sent: Mutex::new(vec![]), answer: ExecOutput { rc, stdout: stdout.as_bytes().to_vec(), stderr: vec![] } }
    }

    fn args(v: Value) -> Args {
        v.as_object().unwrap().clone()
    }

    fn block_on<F: std::future::Future>(f: F) -> F::Output {
        futures::executor::block_on(f)
    }

    #[test]
    fn command_quotes_every_word() {
        let f = fake(0, "hi\n");
        let ctx = Context { remote: &f, check_mode: false, diff: false };
        let r = block_on(Command.run(&args(serde_json::json!({"_raw_params": "echo 'a b' $HOME \"it's\"", "chdir": "/tmp/x y"})), &ctx)).unwrap();
        assert_eq!(f.sent.lock().unwrap()[0].0, "cd '/tmp/x y' && exec echo 'a b' '$HOME' 'it'\\''s'");
        assert_eq!(r.0["stdout"], "hi");
        assert_eq!(r.0["cmd"], serde_json::json!(["echo", "a b", "$HOME", "it's"]));
        assert!(r.changed());
    }

    #[test]
    fn shell_runs_under_sh_and_fails_on_nonzero() {
        let f = fake(3, "");
        let ctx = Context { remote: &f, check_mode: false, diff: false };
        let r = block_on(Shell.run(&args(serde_json::json!({"_raw_params": "exit 3"})), &ctx)).unwrap();
        assert_eq!(f.sent.lock().unwrap()[0].0, "exec /bin/sh -c 'exit 3'");
        assert!(r.is_failed());
        assert_eq!(r.0["msg"], "non-zero return code");
        assert_eq!(r.0["rc"], 3);
    }

    #[test]
    fn creates_guard_skips_in_one_round_trip() {
        let f = fake(0, &format!("{SKIP_MARK}c"));
        let ctx = Context { remote: &f, check_mode: false, diff: false };
        let r = block_on(Command.run(&args(serde_json::json!({"_raw_params": "touch /x", "creates": "/x"})), &ctx)).unwrap();
        assert_eq!(f.sent.lock().unwrap().len(), 1);
        assert!(f.sent.lock().unwrap()[0].0.starts_with("if [ -e /x ]; then"));
        assert!(!r.changed());
        assert_eq!(r.0["msg"], "Did not run command since '/x' exists");
    }

    #[test]
    fn check_mode_never_runs_the_command() {
        let f = fake(0, "");
        let ctx = Context { remote: &f, check_mode: true, diff: false };
        let r = block_on(Command.run(&args(serde_json::json!({"_raw_params": "rm -rf /x"})), &ctx)).unwrap();
        assert!(f.sent.lock().unwrap().is_empty());
        assert_eq!(r.0["skipped"], true);
    }

    #[test]
    fn stdin_gets_a_newline() {
        let f = fake(0, "");
        let ctx = Context { remote: &f, check_mode: false, diff: false };
        block_on(Command.run(&args(serde_json::json!({"_raw_params": "cat", "stdin": "hello"})), &ctx)).unwrap();
        assert_eq!(f.sent.lock().unwrap()[0].1, b"hello\n");
    }

    #[test]
    fn timestamps_look_like_python() {
        let t = UNIX_EPOCH + std::time::Duration::from_micros(1_764_367_200_123_456);
        assert_eq!(timestamp(t), "2025-11-28 22:00:00.123456");
    }
}
