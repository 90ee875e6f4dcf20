//! The command line, with Ansible's flag spellings. Definitions only: `main` wires them.
//!
//! `provision` takes three shapes, told apart by their first word:
//! - `provision inventory ...` and `provision doc ...`: subcommands;
//! - `provision PATTERN -m MODULE [-a ARGS]` or `provision PATTERN -a CMD`: ad-hoc;
//! - `provision PLAYBOOK...`: playbooks.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// Options shared by ad-hoc runs and playbooks: what `ansible` and `ansible-playbook` take.
#[derive(Args, Debug, Clone, Default)]
pub struct Common {
    /// Inventory: a file, a directory, or a comma-separated host list (`a,b,`). Repeatable.
    #[arg(short = 'i', long = "inventory", value_name = "INVENTORY")]
    pub inventory: Vec<String>,

    /// Further limit the selected hosts to this pattern (or `@file` of host names).
    #[arg(short = 'l', long = "limit", value_name = "SUBSET")]
    pub limit: Option<String>,

    /// Connect as this user (host variables like `ansible_user` win over it).
    #[arg(short = 'u', long = "user", value_name = "REMOTE_USER")]
    pub user: Option<String>,

    /// Run operations with become (sudo by default).
    #[arg(short = 'b', long = "become")]
    pub become_: bool,

    /// The privilege escalation method: `sudo` or `su`.
    #[arg(long = "become-method", value_name = "METHOD")]
    pub become_method: Option<String>,

    /// Become this user (default root).
    #[arg(long = "become-user", value_name = "USER")]
    pub become_user: Option<String>,

    /// Ask for the become password (once) on the terminal.
    #[arg(short = 'K', long = "ask-become-pass")]
    pub ask_become_pass: bool,

    /// Read the become password from this file (its first line).
    #[arg(long = "become-password-file", value_name = "FILE")]
    pub become_password_file: Option<PathBuf>,

    /// Ask for the SSH password (once) on the terminal.
    #[arg(short = 'k', long = "ask-pass")]
    pub ask_pass: bool,

    /// Read the SSH password from this file (its first line).
    #[arg(long = "connection-password-file", value_name = "FILE")]
    pub connection_password_file: Option<PathBuf>,

    /// Use this private key file to authenticate.
    #[arg(long = "private-key", visible_alias = "key-file", value_name = "FILE")]
    pub private_key: Option<PathBuf>,

    /// How many hosts to work on at once (default 50, or `forks` from the configuration).
    #[arg(short = 'f', long = "forks", value_name = "FORKS")]
    pub forks: Option<usize>,

    /// Connection timeout in seconds (default 10).
    #[arg(short = 'T', long = "timeout", value_name = "SECONDS")]
    pub timeout: Option<u64>,

    /// Give up on a remote command after this many seconds.
    #[arg(long = "task-timeout", value_name = "SECONDS")]
    pub task_timeout: Option<u64>,

    /// Extra variables: `k=v k2=v2`, JSON/YAML, or `@file`. Repeatable; they win over all others.
    #[arg(short = 'e', long = "extra-vars", value_name = "EXTRA_VARS")]
    pub extra_vars: Vec<String>,

    /// The connection type: `ssh` (default) or `local`.
    #[arg(short = 'c', long = "connection", value_name = "CONNECTION")]
    pub connection: Option<String>,

    /// SSH options for every host, as for OpenSSH (`-o StrictHostKeyChecking=accept-new`).
    #[arg(long = "ssh-common-args", value_name = "ARGS", allow_hyphen_values = true)]
    pub ssh_common_args: Option<String>,

    /// Don't change anything; predict what would change.
    #[arg(short = 'C', long = "check")]
    pub check: bool,

    /// Show the differences in files and templates.
    #[arg(short = 'D', long = "diff")]
    pub diff: bool,

    /// More output; repeat for more (-vvvv shows connection debugging).
    #[arg(short = 'v', long = "verbose", action = clap::ArgAction::Count)]
    pub verbose: u8,

    #[command(flatten)]
    pub vault: VaultSecretArgs,
}

/// Where vault passwords come from: what `ansible-playbook` and `ansible-vault` take.
#[derive(Args, Debug, Clone, Default)]
pub struct VaultSecretArgs {
    /// A vault identity: `[LABEL@]SOURCE`, SOURCE a password file, an executable that prints
    /// the password, or `prompt`. Repeatable.
    #[arg(long = "vault-id", value_name = "VAULT_ID")]
    pub vault_id: Vec<String>,

    /// Read the vault password from this file (run it if it is executable). Repeatable.
    #[arg(long = "vault-password-file", visible_alias = "vault-pass-file", value_name = "FILE")]
    pub vault_password_file: Vec<PathBuf>,

    /// Ask for the vault password (once) on the terminal.
    #[arg(short = 'J', long = "ask-vault-pass", visible_alias = "ask-vault-password")]
    pub ask_vault_pass: bool,
}

/// `provision PATTERN -m MODULE -a ARGS` or `provision PLAYBOOK...`.
#[derive(Parser, Debug)]
#[command(
    name = "provision",
    version,
    about = "Agentless configuration management that speaks Ansible's language",
    long_about = "Runs Ansible playbooks and ad-hoc modules over one SSH connection per host.\n\n\
  provision PATTERN -m MODULE [-a ARGS]   run a module on the matching hosts\n\
  provision PATTERN -a \"CMD\"              run a command on the matching hosts\n\
  provision PLAYBOOK...                   run playbooks\n\
  provision inventory --list|--graph      show the inventory\n\
  provision doc [--list] [MODULE]         show a module's documentation\n\
  provision vault ACTION ...              encrypt and decrypt with Ansible Vault\n\
  provision config dump|view|list         show the configuration in effect\n\
  provision completions bash|zsh|fish     print shell completions\n\
  provision man                           print the man page\n\
  provision report merge REPORT...        combine JSON reports (--output json) into one recap",

    after_help = "Exit status: 0 all ok, 1 bad input or flags, 2 a host failed, 4 a host was unreachable, 99 interrupted (Ctrl-C)."
)]
pub struct Cli {
    /// A host pattern (ad-hoc, with -m or -a), or playbook files.
    #[arg(value_name = "PATTERN|PLAYBOOK", required = true)]
    pub targets: Vec<String>,

    /// The module to run ad-hoc (default `command` when -a is given).
    #[arg(short = 'm', long = "module-name", value_name = "MODULE")]
    pub module: Option<String>,

    /// The module's arguments: `key=value ...`, JSON, or a command line for command/shell/raw.
    #[arg(short = 'a', long = "args", value_name = "ARGS", allow_hyphen_values = true)]
    pub args: Option<String>,

    /// One line per host.
    #[arg(short = 'o', long = "one-line")]
    pub one_line: bool,

    /// List the hosts that would run, and do nothing else.
    #[arg(long = "list-hosts")]
    pub list_hosts: bool,

    /// Check playbooks for errors, and do nothing else.
    #[arg(long = "syntax-check")]
    pub syntax_check: bool,

    /// List the tasks that would run, and do nothing else.
    #[arg(long = "list-tasks")]
    pub list_tasks: bool,

    /// List the tags in the playbooks, and do nothing else.
    #[arg(long = "list-tags")]
    pub list_tags: bool,

    /// Only run plays and tasks tagged with these (comma-separated, repeatable).
    #[arg(short = 't', long = "tags", value_name = "TAGS")]
    pub tags: Vec<String>,

    /// Skip plays and tasks tagged with these (comma-separated, repeatable).
    #[arg(long = "skip-tags", value_name = "TAGS")]
    pub skip_tags: Vec<String>,

    /// Start the playbook at the task with this name.
    #[arg(long = "start-at-task", value_name = "NAME")]
    pub start_at_task: Option<String>,

    /// Confirm each task before running it.
    #[arg(long = "step")]
    pub step: bool,

    /// Run handlers even when a task failed.
    #[arg(long = "force-handlers")]
    pub force_handlers: bool,

    /// Wait this long for another run's lock on a host, then fail naming the holder (0: fail at once).
    #[arg(long = "lock-wait", value_name = "SECONDS", default_value_t = 300)]
    pub lock_wait: u64,

    /// End the process holding a host's run lock (a run that is gone), then take it.
    #[arg(long = "break-lock")]
    pub break_lock: bool,

    /// Do not take the run lock on the hosts.
    #[arg(long = "no-lock", conflicts_with_all = ["lock_wait", "break_lock"])]
    pub no_lock: bool,

    /// What stdout shows: `human` (Ansible's output) or `json` (one JSON object per event
    /// and line; docs/report-schema.md).
    #[arg(long = "output", value_name = "FORMAT", value_enum, default_value_t = OutputFormat::Human)]
    pub output: OutputFormat,

    /// Also write a JUnit XML report to FILE (one testsuite per play, one testcase per task
    /// and host), at the end of the run, also when it fails.
    #[arg(long = "junit", value_name = "FILE")]
    pub junit: Option<PathBuf>,

    /// Also write a Markdown summary of what changed (or would change, with --check) per
    /// host, with diffs, to FILE.
    #[arg(long = "summary", value_name = "FILE")]
    pub summary: Option<PathBuf>,

    /// Only the hosts of shard K of N (1 <= K <= N), after host selection and --limit; the
    /// split depends only on the inventory names, so it is the same on every machine.
    #[arg(long = "shard", value_name = "K/N")]
    pub shard: Option<String>,

    /// Run the playbooks twice over the same connections; fail (exit 2) naming every task
    /// that reports a change the second time.
    #[arg(long = "verify-idempotent")]
    pub verify_idempotent: bool,

    /// The recap adds each host's total task time and the 10 slowest tasks.
    #[arg(long = "profile")]
    pub profile: bool,

    #[command(flatten)]
    pub common: Common,
}

/// `--output`: what stdout shows.
#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OutputFormat {
    /// Ansible's default output, for a person.
    #[default]
    Human,
    /// Newline-delimited JSON, one object per event.
    Json,
}

/// `provision report`: work with `--output json` reports.
#[derive(Parser, Debug)]
#[command(name = "provision report", about = "Work with JSON reports of runs (--output json)")]
pub struct ReportCli {
    #[command(subcommand)]
    pub command: ReportCommand,
}

#[derive(clap::Subcommand, Debug)]
pub enum ReportCommand {
    /// Combine the reports of several runs (e.g. the shards of one run) into one PLAY
    /// RECAP; the exit status is that of one run over all their hosts.
    Merge {
        /// JSON-lines reports written by `--output json`.
        #[arg(value_name = "REPORT", required = true)]
        files: Vec<PathBuf>,
        /// Also write one JUnit XML report of all of them.
        #[arg(long = "junit", value_name = "FILE")]
        junit: Option<PathBuf>,
    },
}

/// `provision inventory`: what `ansible-inventory` shows.
#[derive(Parser, Debug)]
#[command(name = "provision inventory", about = "Show the inventory as provision reads it (ansible-inventory)")]
pub struct InventoryCli {
    /// Every group and host with their variables, as JSON (or YAML with --yaml).
    #[arg(long = "list", conflicts_with_all = ["graph", "host"])]
    pub list: bool,

    /// The group tree, from `all` or from GROUP.
    #[arg(long = "graph", conflicts_with = "host")]
    pub graph: bool,

    /// One host's variables.
    #[arg(long = "host", value_name = "HOST")]
    pub host: Option<String>,

    /// YAML instead of JSON (with --list or --host).
    #[arg(short = 'y', long = "yaml")]
    pub yaml: bool,

    /// With --graph: show variables too.
    #[arg(long = "vars")]
    pub vars: bool,

    /// With --graph: the group to start from.
    #[arg(value_name = "GROUP")]
    pub group: Option<String>,

    /// Inventory: a file, a directory, or a comma-separated host list. Repeatable.
    #[arg(short = 'i', long = "inventory", value_name = "INVENTORY")]
    pub inventory: Vec<String>,

    /// Limit the hosts shown to this pattern.
    #[arg(short = 'l', long = "limit", value_name = "SUBSET")]
    pub limit: Option<String>,

    #[command(flatten)]
    pub vault: VaultSecretArgs,
}

/// `provision doc`: a module's own documentation.
#[derive(Parser, Debug)]
#[command(name = "provision doc", about = "Show a module's documentation (ansible-doc)")]
pub struct DocCli {
    /// List every module with its summary.
    #[arg(short = 'l', long = "list")]
    pub list: bool,

    /// The module to document.
    #[arg(value_name = "MODULE")]
    pub module: Option<String>,
}

/// `provision config`: the settings in effect (ansible-config).
#[derive(Parser, Debug)]
#[command(name = "provision config", bin_name = "provision config", about = "Show the configuration in effect (ansible-config)")]
pub struct ConfigCli {
    #[command(subcommand)]
    pub action: ConfigAction,
}

#[derive(Subcommand, Debug)]
pub enum ConfigAction {
    /// Every setting with its value and where it came from (file:line, env, default).
    Dump {
        /// Only the settings that differ from the defaults.
        #[arg(long = "only-changed", visible_alias = "changed-only")]
        only_changed: bool,
    },
    /// The configuration file in use, as it is written.
    View,
    /// The settings provision knows, with their ansible.cfg sections and environment variables.
    List,
}

/// `provision vault`: what `ansible-vault` does.
#[derive(Parser, Debug)]
#[command(
    name = "provision vault",
    bin_name = "provision vault",
    about = "Encrypt and decrypt files and strings with Ansible Vault (ansible-vault)",
    after_help = "Exit status: 0 done, 1 an error (a wrong password, a file that cannot be read), 5 bad options (no password given)."
)]
pub struct VaultCli {
    #[command(subcommand)]
    pub action: VaultAction,
}

/// Options of the vault actions that write vaulted text.
#[derive(Args, Debug, Clone, Default)]
pub struct VaultEncryptArgs {
    /// The vault id (label) to encrypt with, when several are given.
    #[arg(long = "encrypt-vault-id", value_name = "ENCRYPT_VAULT_ID")]
    pub encrypt_vault_id: Option<String>,
}

#[derive(Subcommand, Debug)]
pub enum VaultAction {
    /// Create a new encrypted file in $EDITOR.
    Create {
        #[arg(value_name = "FILE")]
        file: PathBuf,
        /// Open the editor even when stdout is not a terminal.
        #[arg(long = "skip-tty-check")]
        skip_tty_check: bool,
        #[command(flatten)]
        enc: VaultEncryptArgs,
        #[command(flatten)]
        secrets: VaultSecretArgs,
    },
    /// Edit an encrypted file in $EDITOR (decrypted in a private temporary file).
    Edit {
        #[arg(value_name = "FILE", required = true)]
        files: Vec<PathBuf>,
        #[command(flatten)]
        secrets: VaultSecretArgs,
    },
    /// Show the decrypted content of encrypted files.
    View {
        #[arg(value_name = "FILE", required = true)]
        files: Vec<PathBuf>,
        #[command(flatten)]
        secrets: VaultSecretArgs,
    },
    /// Encrypt files in place (or stdin to stdout).
    Encrypt {
        #[arg(value_name = "FILE")]
        files: Vec<PathBuf>,
        /// Write to this file (`-` for stdout) instead of in place.
        #[arg(long = "output", value_name = "OUTPUT_FILE")]
        output: Option<PathBuf>,
        #[command(flatten)]
        enc: VaultEncryptArgs,
        #[command(flatten)]
        secrets: VaultSecretArgs,
    },
    /// Decrypt files in place (or stdin to stdout).
    Decrypt {
        #[arg(value_name = "FILE")]
        files: Vec<PathBuf>,
        /// Write to this file (`-` for stdout) instead of in place.
        #[arg(long = "output", value_name = "OUTPUT_FILE")]
        output: Option<PathBuf>,
        #[command(flatten)]
        secrets: VaultSecretArgs,
    },
    /// Encrypt files again with a new password.
    Rekey {
        #[arg(value_name = "FILE", required = true)]
        files: Vec<PathBuf>,
        /// The new vault password file.
        #[arg(long = "new-vault-password-file", value_name = "NEW_VAULT_PASSWORD_FILE")]
        new_vault_password_file: Option<PathBuf>,
        /// The new vault identity, `[LABEL@]SOURCE`.
        #[arg(long = "new-vault-id", value_name = "NEW_VAULT_ID")]
        new_vault_id: Option<String>,
        #[command(flatten)]
        enc: VaultEncryptArgs,
        #[command(flatten)]
        secrets: VaultSecretArgs,
    },
    /// Encrypt strings as `!vault |` YAML values to paste into vars files and playbooks.
    #[command(name = "encrypt_string", alias = "encrypt-string")]
    EncryptString {
        /// The strings; `-` (or none) reads stdin.
        #[arg(value_name = "STRING")]
        strings: Vec<String>,
        /// The variable name for each string, in order.
        #[arg(short = 'n', long = "name", value_name = "NAME")]
        name: Vec<String>,
        /// The variable name for the string read from stdin.
        #[arg(long = "stdin-name", value_name = "NAME")]
        stdin_name: Option<String>,
        /// Ask for the string on the terminal.
        #[arg(short = 'p', long = "prompt")]
        prompt: bool,
        /// Write to this file (`-` for stdout).
        #[arg(long = "output", value_name = "OUTPUT_FILE")]
        output: Option<PathBuf>,
        #[command(flatten)]
        enc: VaultEncryptArgs,
        #[command(flatten)]
        secrets: VaultSecretArgs,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn adhoc_flags_parse_like_ansible() {
        let cli = Cli::try_parse_from(["provision", "all", "-m", "ping", "-i", "a.yml", "-i", "b,c,", "-f", "5", "-vvv", "-b", "-K"]).unwrap();
        assert_eq!(cli.targets, ["all"]);
        assert_eq!(cli.module.as_deref(), Some("ping"));
        assert_eq!(cli.common.inventory, ["a.yml", "b,c,"]);
        assert_eq!(cli.common.forks, Some(5));
        assert_eq!(cli.common.verbose, 3);
        assert!(cli.common.become_ && cli.common.ask_become_pass);
    }

    #[test]
    fn report_flags() {
        let cli = Cli::try_parse_from(["provision", "site.yml", "--output", "json", "--junit", "j.xml", "--shard", "2/3", "--profile"]).unwrap();
        assert_eq!(cli.output, OutputFormat::Json);
        assert_eq!(cli.shard.as_deref(), Some("2/3"));
        assert!(cli.profile && !cli.verify_idempotent);
        assert!(Cli::try_parse_from(["provision", "site.yml", "--output", "xml"]).is_err());
        let r = ReportCli::try_parse_from(["provision report", "merge", "a.jsonl", "b.jsonl", "--junit", "o.xml"]).unwrap();
        let ReportCommand::Merge { files, junit } = r.command;
        assert_eq!(files.len(), 2);
        assert!(junit.is_some());
    }

    #[test]
    fn forks_default_comes_from_the_configuration() {
        let cli = Cli::try_parse_from(["provision", "dev", "-a", "uname -a"]).unwrap();
        assert_eq!(cli.common.forks, None);
        assert_eq!(cli.args.as_deref(), Some("uname -a"));
    }

    #[test]
    fn args_may_start_with_a_dash() {
        let cli = Cli::try_parse_from(["provision", "all", "-m", "shell", "-a", "-x"]).unwrap();
        assert_eq!(cli.args.as_deref(), Some("-x"));
    }
}
