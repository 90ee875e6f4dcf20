//! Connections to hosts: SSH (russh) and local.
//!
//! [`Target::resolve`] turns a host's variables (`ansible_host`, `ansible_port`,
//! `ansible_user`, `ansible_ssh_private_key_file`, `ansible_password`,
//! `ansible_connection`, `ansible_become*`, `ansible_ssh_common_args`, and their
//! `provision_*` spellings), the command line ([`ConnOptions`]) and `~/.ssh/config` into
//! everything needed to reach the host. [`Session`] is the connection itself; it
//! implements the modules' `Remote` trait. Precedence, as in Ansible: host variables
//! beat the command line (`-u`, `--private-key`, `-b`), which beats `-o` options in
//! `ansible_ssh_common_args`, which beat `~/.ssh/config`.

pub mod lock;
pub mod mux;
pub mod privilege;
pub mod shell;
pub mod known_hosts;
pub mod local;
pub mod ssh;
pub mod ssh_config;

use std::path::PathBuf;
use std::time::Duration;

use async_trait::async_trait;
use provision_modules::{ExecOutput, Remote, RemoteError};
use serde_json::{Map, Value};

use crate::diag::Diagnostic;
pub use privilege::{Become, BecomeMethod};
use ssh_config::{parse_ssh_args, HostConfig, SshConfig, StrictHostKeyChecking};

/// How to reach a host.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnKind {
    Ssh,
    Local,
}

/// Connection settings from the command line, beneath host variables.
#[derive(Debug, Clone, Default)]
pub struct ConnOptions {
    pub user: Option<String>,
    pub private_key: Option<PathBuf>,
    pub connection: Option<String>,
    pub password: Option<String>,
    pub become_: bool,
    pub become_method: Option<String>,
    pub become_user: Option<String>,
    pub become_password: Option<String>,
    pub timeout: Option<u64>,
    pub command_timeout: Option<u64>,
    pub ssh_common_args: Option<String>,
    /// `ssh_args` from the configuration (`ANSIBLE_SSH_ARGS`).
    pub ssh_args: Option<String>,
    /// Take the run lock on each host (playbook runs).
    pub lock: Option<lock::LockSpec>,
    /// `host_key_checking` from the configuration (or its environment variable).
    pub host_key_checking: Option<bool>,
    /// `control_persist` from the configuration: seconds a connection is kept for the next
    /// run (see [`mux`]); `None`: the default.
    pub control_persist: Option<u64>,
}

/// Everything needed to reach one host.
#[derive(Debug, Clone)]
pub struct Target {
    pub name: String,
    pub kind: ConnKind,
    pub address: String,
    pub port: u16,
    pub user: String,
    pub identity_files: Vec<PathBuf>,
    pub password: Option<String>,
    pub known_hosts: Vec<PathBuf>,
    pub strict: StrictHostKeyChecking,
    pub connect_timeout: Duration,
    pub command_timeout: Option<Duration>,
    pub proxy_jump: Option<Box<Target>>,
    pub become_: Option<Become>,
    /// How long the connection outlives the run for the next one (zero: it does not).
    pub control_persist: Duration,
}

fn var<'a>(vars: &'a Map<String, Value>, names: &[&str]) -> Option<&'a Value> {
    names.iter().find_map(|n| vars.get(*n)).filter(|v| !v.is_null())
}

fn var_str(vars: &Map<String, Value>, names: &[&str]) -> Option<String> {
    var(vars, names).map(|v| match v {
        Value::String(s) => s.clone(),
        // An inline `!vault` value (checked to decrypt by `Target::resolve`).
        Value::Object(m) if m.len() == 1 && m.get("__ansible_vault").is_some_and(Value::is_string) => {
            crate::vault::decrypt_inline(m["__ansible_vault"].as_str().unwrap_or_default()).unwrap_or_default()
        }
        other => other.to_string(),
    })
}

fn var_bool(vars: &Map<String, Value>, names: &[&str]) -> Option<bool> {
    var(vars, names).and_then(provision_modules::args::to_bool)
}

fn expand_tilde(p: &str) -> PathBuf {
    match p.strip_prefix("~/") {
        Some(rest) => dirs::home_dir().map_or_else(|| PathBuf::from(p), |h| h.join(rest)),
        None => PathBuf::from(p),
    }
}

/// The policy when nothing says otherwise: Ansible's `host_key_checking`, which can be
/// turned off with `ANSIBLE_HOST_KEY_CHECKING=False`.
fn default_policy() -> StrictHostKeyChecking {
    match std::env::var("ANSIBLE_HOST_KEY_CHECKING").or_else(|_| std::env::var("PROVISION_HOST_KEY_CHECKING")) {
        Ok(v) if provision_modules::args::to_bool(&Value::String(v.clone())) == Some(false) => StrictHostKeyChecking::No,
        _ => StrictHostKeyChecking::Yes,
    }
}

impl Target {
    /// Work out how to reach `name` from its variables, the command line and ssh config.
    pub fn resolve(name: &str, vars: &Map<String, Value>, opts: &ConnOptions, ssh: &SshConfig) -> Result<Target, Diagnostic> {
        for (key, v) in vars {
            if let Some(Value::String(c)) = v.as_object().filter(|m| m.len() == 1).and_then(|m| m.get("__ansible_vault")) {
                if key.starts_with("ansible_") || key.starts_with("provision_") {
                    crate::vault::decrypt_inline(c).map_err(|e| Diagnostic::new(format!("host `{name}`: `{key}`: {e}")))?;
                }
            }
        }
        let conn = var_str(vars, &["ansible_connection", "provision_connection"])
            .or_else(|| opts.connection.clone())
            .unwrap_or_else(|| "ssh".into());
        let kind = match conn.as_str() {
            "ssh" | "smart" | "paramiko" | "russh" => ConnKind::Ssh,
            "local" => ConnKind::Local,
            other => {
                return Err(Diagnostic::new(format!("host `{name}`: unknown connection type `{other}`"))
                    .with_help("provision connects with `ssh` or `local`"))
            }
        };
        let address = var_str(vars, &["ansible_host", "ansible_ssh_host", "provision_host"]).unwrap_or_else(|| name.to_string());
        // ~/.ssh/config is looked up by the name ssh would be given: the address.
        let from_config = ssh.lookup(&address);
        // The first value of an option wins, as in ssh: `ssh_args` (Ansible's base
        // options, `-C -o ControlMaster=auto -o ControlPersist=60s` by default) come last.
        let args = [
            var_str(vars, &["ansible_ssh_common_args"]).or_else(|| opts.ssh_common_args.clone()),
            var_str(vars, &["ansible_ssh_extra_args"]),
            var_str(vars, &["ansible_ssh_args"]).or_else(|| opts.ssh_args.clone()),
        ];
        let mut from_args = HostConfig::default();
        for a in args.iter().flatten() {
            let (cfg, _warnings) = parse_ssh_args(a);
            from_args = cfg.overlay(from_args);
        }
        let base = from_config.overlay(from_args);
        let port_var = match var(vars, &["ansible_port", "ansible_ssh_port", "provision_port"]) {
            Some(v) => Some(match v {
                Value::Number(n) => n.as_u64().and_then(|p| u16::try_from(p).ok()),
                Value::String(s) => s.parse::<u16>().ok(),
                _ => None,
            }
            .ok_or_else(|| Diagnostic::new(format!("host `{name}`: `ansible_port` must be a port number, got {v}")))?),
            None => None,
        };
        let user = var_str(vars, &["ansible_user", "ansible_ssh_user", "provision_user"])
            .or_else(|| opts.user.clone())
            .or_else(|| base.user.clone())
            .or_else(|| std::env::var("USER").ok())
            .unwrap_or_else(|| "root".into());
        let mut identity_files: Vec<PathBuf> = Vec::new();
        if let Some(k) = var_str(vars, &["ansible_ssh_private_key_file", "ansible_private_key_file", "provision_private_key_file"]) {
            identity_files.push(expand_tilde(&k));
        } else if let Some(k) = &opts.private_key {
            identity_files.push(k.clone());
        }
        identity_files.extend(base.identity_files.iter().cloned());
        let mut known_hosts = base.user_known_hosts_files.clone();
        if known_hosts.is_empty() {
            known_hosts = known_hosts::default_paths();
        }
        let strict = base.strict_host_key_checking.unwrap_or_else(|| match opts.host_key_checking {
            Some(false) => StrictHostKeyChecking::No,
            Some(true) => StrictHostKeyChecking::Yes,
            None => default_policy(),
        });
        let connect_timeout = Duration::from_secs(
            var(vars, &["ansible_timeout", "ansible_ssh_timeout"])
                .and_then(|v| v.as_u64().or_else(|| v.as_str().and_then(|s| s.parse().ok())))
                .or(opts.timeout)
                .or(base.connect_timeout)
                .unwrap_or(10),
        );
        let password = var_str(vars, &["ansible_password", "ansible_ssh_pass", "ansible_ssh_password", "provision_password"])
            .or_else(|| opts.password.clone());
        let become_ = if var_bool(vars, &["ansible_become", "provision_become"]).unwrap_or(opts.become_) {
            let method_text = var_str(vars, &["ansible_become_method"]).or_else(|| opts.become_method.clone()).unwrap_or_else(|| "sudo".into());
            let method = BecomeMethod::parse(&method_text).ok_or_else(|| {
                Diagnostic::new(format!("host `{name}`: unsupported become method `{method_text}`")).with_help("provision supports `sudo` and `su`")
            })?;
            Some(Become {
                method,
                user: var_str(vars, &["ansible_become_user"]).or_else(|| opts.become_user.clone()).unwrap_or_else(|| "root".into()),
                password: var_str(vars, &["ansible_become_password", "ansible_become_pass", "provision_become_password"])
                    .or_else(|| opts.become_password.clone()),
                exe: var_str(vars, &["ansible_become_exe"]),
                flags: var_str(vars, &["ansible_become_flags"]),
            })
        } else {
            None
        };
        let proxy_jump = match base.proxy_jump.as_deref() {
            None | Some("none") => None,
            Some(spec) => {
                // `[user@]host[:port]`; only the first hop of a comma list is a direct jump.
                let first = spec.split(',').next().unwrap_or(spec);
                let (juser, rest) = match first.split_once('@') {
                    Some((u, r)) => (Some(u.to_string()), r),
                    None => (None, first),
                };
                let (jhost, jport) = match rest.rsplit_once(':') {
                    Some((h, p)) if p.parse::<u16>().is_ok() => (h.to_string(), p.parse::<u16>().ok()),
                    _ => (rest.to_string(), None),
                };
                let jcfg = ssh.lookup(&jhost);
                let mut jvars = Map::new();
                jvars.insert("ansible_host".into(), Value::String(jcfg.hostname.clone().unwrap_or_else(|| jhost.clone())));
                if let Some(p) = jport.or(jcfg.port) {
                    jvars.insert("ansible_port".into(), Value::from(p));
                }
                if let Some(u) = juser.or_else(|| jcfg.user.clone()) {
                    jvars.insert("ansible_user".into(), Value::String(u));
                }
                let jopts = ConnOptions { private_key: opts.private_key.clone(), timeout: opts.timeout, host_key_checking: opts.host_key_checking, ..Default::default() };
                let mut jump = Target::resolve(&jhost, &jvars, &jopts, &SshConfig::parse(""))?;
                jump.identity_files.extend(jcfg.identity_files);
                jump.become_ = None;
                Some(Box::new(jump))
            }
        };
        Ok(Target {
            name: name.to_string(),
            kind,
            address: base.hostname.filter(|_| var(vars, &["ansible_host", "ansible_ssh_host", "provision_host"]).is_none()).unwrap_or(address),
            port: port_var.or(base.port).unwrap_or(22),
            user,
            identity_files,
            password,
            known_hosts,
            strict,
            connect_timeout,
            command_timeout: opts.command_timeout.map(Duration::from_secs),
            proxy_jump,
            become_,
            control_persist: Duration::from_secs(base.control_persist.or(opts.control_persist).unwrap_or(mux::DEFAULT_PERSIST)),
        })
    }
}

/// After Ctrl-C no new command starts (see [`crate::interrupt`]).
fn stopped() -> Result<(), RemoteError> {
    if crate::interrupt::requested() {
        return Err(RemoteError::Other(crate::interrupt::MESSAGE.into()));
    }
    Ok(())
}

/// A connection to one host, made on first use and kept for the run.
pub enum Session {
    Ssh(ssh::SshSession),
    Local(local::LocalSession),
}

impl Session {
    pub fn new(target: Target) -> Self {
        match target.kind {
            ConnKind::Ssh => Session::Ssh(ssh::SshSession::new(target)),
            ConnKind::Local => Session::Local(local::LocalSession::new(target.become_.clone(), target.command_timeout)),
        }
    }

    /// Connect and authenticate now.
    pub async fn connect(&self) -> Result<(), RemoteError> {
        match self {
            Session::Ssh(s) => s.connect().await,
            Session::Local(_) => Ok(()),
        }
    }

    pub async fn close(&self) {
        if let Session::Ssh(s) = self {
            s.close().await;
        }
    }

    /// Take the run lock on the host, once per connection (see [`lock`]). `Ok(Some(note))`
    /// when something is worth saying: we waited, broke a lock, or the host cannot lock.
    pub async fn lock(&self, spec: &lock::LockSpec) -> Result<Option<String>, RemoteError> {
        match self {
            Session::Ssh(s) => s.lock(spec).await,
            Session::Local(_) => Ok(None),
        }
    }

    /// Let go of the run lock.
    pub async fn unlock(&self) {
        if let Session::Ssh(s) = self {
            s.unlock().await;
        }
    }

    /// Drop the connection (the host is going away, e.g. rebooting): the next command
    /// connects afresh.
    pub async fn disconnect(&self) {
        if let Session::Ssh(s) = self {
            s.disconnect().await;
        }
    }

    /// Run `command` with an explicit become setting (a task's own `become`), instead
    /// of the host's.
    pub async fn exec_as(&self, command: &str, stdin: &[u8], become_: Option<&Become>) -> Result<ExecOutput, RemoteError> {
        stopped()?;
        match self {
            Session::Ssh(s) => s.exec_as(command, stdin, become_).await,
            Session::Local(l) => l.exec_as(command, stdin, become_).await,
        }
    }
}

/// A session seen through one task's settings: its `become` and `environment`.
pub struct TaskRemote<'a> {
    pub session: &'a Session,
    pub become_: Option<Become>,
    /// `export`ed before every command (the task's `environment`).
    pub environment: Vec<(String, String)>,
}

impl TaskRemote<'_> {
    fn wrap(&self, command: &str) -> String {
        if self.environment.is_empty() {
            return command.to_string();
        }
        let exports: Vec<String> =
            self.environment.iter().map(|(k, v)| format!("{k}={}", provision_modules::quote::quote(v))).collect();
        format!("export {}; {command}", exports.join(" "))
    }
}

#[async_trait]
impl Remote for TaskRemote<'_> {
    async fn exec(&self, command: &str, stdin: &[u8]) -> Result<ExecOutput, RemoteError> {
        self.session.exec_as(&self.wrap(command), stdin, self.become_.as_ref()).await
    }

    async fn exec_raw(&self, command: &str) -> Result<ExecOutput, RemoteError> {
        self.session.exec_raw(command).await
    }
}

#[async_trait]
impl Remote for Session {
    async fn exec(&self, command: &str, stdin: &[u8]) -> Result<ExecOutput, RemoteError> {
        stopped()?;
        match self {
            Session::Ssh(s) => s.exec(command, stdin).await,
            Session::Local(l) => l.exec(command, stdin).await,
        }
    }

    async fn exec_raw(&self, command: &str) -> Result<ExecOutput, RemoteError> {
        stopped()?;
        match self {
            Session::Ssh(s) => s.exec_raw(command).await,
            Session::Local(l) => l.exec_raw(command).await,
        }
    }
}
