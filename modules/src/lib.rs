//! `provision-modules`: what happens on a host, idempotently.
//!
//! A [`Module`] gets rendered arguments ([`Args`], a JSON map) and a [`Remote`] (a way
//! to run shell on the host, already wrapped in `become` by the engine), and returns a
//! [`ModuleResult`]: Ansible's return keys (`changed`, `failed`, `msg`, `rc`, `stdout`,
//! ...). Arguments are checked against each module's [`ArgSpec`] table before any host is
//! touched ([`validate`]); the same table is the module's documentation
//! (`provision doc MODULE`), so docs and validation cannot drift.
//!
//! This crate never sees a playbook, an inventory or a template.

use std::time::Duration;

use async_trait::async_trait;
use serde_json::{Map, Value};

pub mod args;
pub mod apt;
pub mod package;
pub mod service;
pub mod blockinfile;
pub mod command;
pub mod copy;
pub mod file;
pub mod group;
pub mod user;
pub mod authorized_key;
pub mod lineinfile;
pub mod ping;
pub mod quote;
pub mod replace;
pub mod util;
pub mod setup;
pub mod stat;
pub mod slurp;
pub mod fetch;
pub mod find;
pub mod sysctl;
pub mod cron;
pub mod hostname;
pub mod wait_for;
pub mod timezone;
pub mod unarchive;
pub mod git;
pub mod apt_repository;
pub mod deb822_repository;
pub mod apt_key;
pub mod sudoers;
pub mod nvidia_driver;
pub mod conda;
pub mod docker;
pub mod jupyterhub;
pub mod http;
pub mod uri;
pub mod get_url;
pub mod pip;

pub use args::{validate, ArgError, ArgSpec, ArgType};

/// Rendered module arguments, as Ansible passes them: a map of names to values.
/// Free-form text (`-a "uname -a"`) arrives under `_raw_params`.
pub type Args = Map<String, Value>;

/// What one remote command produced.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExecOutput {
    pub rc: i32,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
}

/// Why a remote command could not be run at all (as opposed to running and failing).
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum RemoteError {
    /// The host cannot be reached or the connection dropped: the host is unreachable.
    #[error("{0}")]
    Unreachable(String),
    /// The command did not finish in time.
    #[error("command timed out after {0:?}")]
    Timeout(Duration),
    /// Privilege escalation failed (wrong or missing password, sudo missing...).
    #[error("{0}")]
    Become(String),
    /// Anything else about running the command.
    #[error("{0}")]
    Other(String),
}

/// A way to run shell on one host. The engine implements it over SSH or locally, and
/// applies `become` before the command reaches the host's shell.
#[async_trait]
pub trait Remote: Send + Sync {
    /// Run `command` (a string for the host's POSIX shell) with `stdin` fed to it.
    async fn exec(&self, command: &str, stdin: &[u8]) -> Result<ExecOutput, RemoteError>;
    /// Run `command` exactly as given, without `become` or any wrapping (the `raw` module).
    async fn exec_raw(&self, command: &str) -> Result<ExecOutput, RemoteError>;
}

/// What a module reports: Ansible's result dictionary.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ModuleResult(pub Map<String, Value>);

impl ModuleResult {
    pub fn ok(changed: bool) -> Self {
        let mut m = Map::new();
        m.insert("changed".into(), Value::Bool(changed));
        ModuleResult(m)
    }
    pub fn failed(msg: impl Into<String>) -> Self {
        let mut r = ModuleResult::ok(false);
        r.set("failed", true);
        r.set("msg", msg.into());
        r
    }
    pub fn set(&mut self, key: &str, value: impl Into<Value>) -> &mut Self {
        self.0.insert(key.to_string(), value.into());
        self
    }
    pub fn changed(&self) -> bool {
        self.0.get("changed").and_then(Value::as_bool).unwrap_or(false)
    }
    pub fn is_failed(&self) -> bool {
        self.0.get("failed").and_then(Value::as_bool).unwrap_or(false)
    }
}

/// The run-time setting a module works under.
pub struct Context<'a> {
    pub remote: &'a dyn Remote,
    /// `--check`: report what would change, change nothing.
    pub check_mode: bool,
    /// `--diff`: include before/after in the result.
    pub diff: bool,
}

/// A module's own documentation, printed by `provision doc`.
pub struct ModuleDoc {
    pub name: &'static str,
    pub short: &'static str,
    pub description: &'static str,
    pub args: &'static [ArgSpec],
    /// Whether `key=value` text is a free-form command (`command`, `shell`, `raw`).
    pub free_form: bool,
    pub examples: &'static str,
    pub returns: &'static [(&'static str, &'static str)],
}

/// The reads of a loop's items, done by one command ([`Module::prefetch`]).
pub struct Prefetch {
    /// The command that reads what every item reads first.
    pub script: String,
    /// Its output, cut into the `(command, output)` pairs the items would have had from
    /// their own first reads; `None` when the output is not as expected (the items then
    /// read for themselves).
    #[allow(clippy::type_complexity)]
    pub split: Box<dyn Fn(&ExecOutput) -> Option<Vec<(String, ExecOutput)>> + Send + Sync>,
}

/// One module: validated arguments in, Ansible's result out.
#[async_trait]
pub trait Module: Send + Sync {
    fn doc(&self) -> &'static ModuleDoc;
    async fn run(&self, args: &Args, ctx: &Context<'_>) -> Result<ModuleResult, RemoteError>;

    /// For a loop: one command that does the first read of every item (`items`: their
    /// validated arguments), fewer processes on the host than N reads. The engine answers
    /// each item's command that is byte-for-byte one of the pairs from the cache (once),
    /// and forgets them all as soon as anything else is sent, so [`Module::run`] stays
    /// as it is. `None` (the default): each item reads for itself.
    fn prefetch(&self, _items: &[&Args]) -> Option<Prefetch> {
        None
    }
}

/// Every built-in module, by name.
pub fn registry() -> Vec<&'static dyn Module> {
    vec![&ping::Ping, &command::Command, &command::Shell, &command::Raw, &setup::Setup, &lineinfile::LineInFile, &blockinfile::BlockInFile, &replace::Replace, &file::File, &copy::Copy, &stat::Stat, &user::User, &group::Group, &authorized_key::AuthorizedKey, &apt::Apt, &apt::PackageFacts, &package::Package, &service::Service, &service::Systemd, &service::SystemdService, &service::ServiceFacts, &slurp::Slurp, &fetch::Fetch, &find::Find, &sysctl::Sysctl, &cron::Cron, &hostname::Hostname, &wait_for::WaitFor, &timezone::Timezone, &unarchive::Unarchive, &git::Git, &apt_repository::AptRepository, &deb822_repository::Deb822Repository, &apt_key::AptKey, &sudoers::Sudoers, &nvidia_driver::NvidiaDriver, &conda::Conda, &docker::container::DockerContainer, &docker::image::DockerImage, &docker::network::DockerNetwork, &docker::compose::DockerCompose, &docker::compose::DockerComposeV2, &jupyterhub::JupyterHub, &uri::Uri, &get_url::GetUrl, &pip::Pip]
}

/// Find a module by its name, with or without the `ansible.builtin.` (or
/// `ansible.legacy.`, `ansible.posix.`, `community.general.`, `community.docker.`) prefix.
pub fn find(name: &str) -> Option<&'static dyn Module> {
    let short = ["ansible.builtin.", "ansible.legacy.", "ansible.posix.", "community.general.", "community.docker."]
        .iter()
        .find_map(|p| name.strip_prefix(p))
        .unwrap_or(name);
    registry().into_iter().find(|m| m.doc().name == short)
}

#[cfg(test)]
mod tests {
    use super::find;

    #[test]
    fn find_takes_the_collection_prefixes() {
        for name in ["git", "ansible.builtin.git", "ansible.legacy.apt_key", "community.general.sudoers", "deb822_repository", "apt_repository"] {
            assert!(find(name).is_some(), "{name}");
        }
        assert!(find("community.general.nope").is_none());
    }
}
