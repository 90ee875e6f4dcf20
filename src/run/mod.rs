//! The runner: which hosts, in what order, with which connection, and what they said.
//!
//! [`adhoc`] runs one module on many hosts: every host's target is resolved first (so a
//! bad variable stops the run before any host is touched), then hosts run concurrently
//! on tokio tasks, at most `forks` at a time, each over its own [`Session`]. A host that
//! cannot be reached is reported at once and never holds up the others. Results are
//! handed to the output sink as they arrive.

pub mod actions;
pub mod loops;
pub mod play;
pub mod prefetch;
pub mod reboot;
pub mod shard;

use std::time::Duration;

use futures::stream::{self, StreamExt};
use provision_modules::{Args, Context, Module, ModuleResult, RemoteError};
use serde_json::{Map, Value};

use crate::connection::{ssh_config::SshConfig, ConnOptions, Session, Target};
use crate::diag::Diagnostic;
use crate::inventory::Inventory;
use crate::output::{Event, Human, Outcome};

/// One ad-hoc run: a module and its arguments, for a list of hosts.
pub struct Adhoc<'a> {
    pub hosts: Vec<String>,
    pub module_name: String,
    pub module: &'static dyn Module,
    pub args: Args,
    pub forks: usize,
    pub check: bool,
    pub diff: bool,
    pub extra_vars: &'a Map<String, Value>,
    pub conn: &'a ConnOptions,
}

/// What happened, host by host.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Stats {
    pub ok: usize,
    pub changed: usize,
    pub failed: usize,
    pub unreachable: usize,
}

impl Stats {
    /// Ansible's exit status: 4 if a host was unreachable, else 2 if one failed, else 0.
    pub fn exit_code(&self) -> i32 {
        if self.unreachable > 0 {
            4
        } else if self.failed > 0 {
            2
        } else {
            0
        }
    }
}

/// The variables a host runs with: inventory, then extra vars on top.
pub fn host_vars(inv: &Inventory, host: &str, extra: &Map<String, Value>) -> Map<String, Value> {
    let mut vars = inv.host_vars(host).unwrap_or_default();
    vars.insert("groups".into(), Value::Object(inv.groups_map()));
    for (k, v) in extra {
        vars.insert(k.clone(), v.clone());
    }
    vars
}

/// Run one module ad-hoc on every host; results go to `out` as they come.
pub async fn adhoc(inv: &Inventory, run: &Adhoc<'_>, out: &Human) -> Result<Stats, Diagnostic> {
    let ssh = SshConfig::load_default();
    // The playbook engine's templar: Ansible's filters, tests and lookups in ad-hoc args too.
    let cwd = std::env::current_dir().unwrap_or_default();
    let templar = crate::template::Templar::new(&cwd);
    // Resolve everything first: a mistake in any host's variables stops the run here.
    let mut jobs = Vec::with_capacity(run.hosts.len());
    for host in &run.hosts {
        let vars = host_vars(inv, host, run.extra_vars);
        let target = Target::resolve(host, &vars, run.conn, &ssh)?;
        let args = match templar.render_value(&Value::Object(run.args.clone()), &vars, std::slice::from_ref(&cwd)) {
            Ok(Value::Object(m)) => m.into_iter().filter(|(_, v)| v.as_str() != Some(crate::template::OMIT)).collect(),
            Ok(_) => Args::new(),
            Err(e) => return Err(Diagnostic::new(format!("host `{host}`: {e}"))),
        };
        jobs.push((target, args));
    }
    let mut stats = Stats::default();
    let mut results = stream::iter(jobs)
        .map(|(target, args)| async move {
            let name = target.name.clone();
            let session = Session::new(target);
            let outcome = match session.connect().await {
                Err(e) => Err(e),
                Ok(()) => {
                    let ctx = Context { remote: &session, check_mode: run.check, diff: run.diff };
                    run.module.run(&args, &ctx).await
                }
            };
            session.close().await;
            (name, outcome)
        })
        .buffer_unordered(run.forks.max(1));
    while let Some((host, outcome)) = results.next().await {
        let result: Result<ModuleResult, String> = match outcome {
            Ok(r) => Ok(r),
            Err(RemoteError::Unreachable(msg)) => Err(msg),
            Err(RemoteError::Timeout(d)) => Ok(ModuleResult::failed(format!("The command timed out after {}", fmt_duration(d)))),
            Err(RemoteError::Become(msg)) | Err(RemoteError::Other(msg)) => Ok(ModuleResult::failed(msg)),
        };
        match &result {
            Err(msg) => {
                stats.unreachable += 1;
                out.emit(&Event::HostResult { host: &host, module: &run.module_name, outcome: Outcome::Unreachable(msg) });
            }
            Ok(r) => {
                if r.is_failed() {
                    stats.failed += 1;
                } else if r.changed() {
                    stats.changed += 1;
                } else {
                    stats.ok += 1;
                }
                out.emit(&Event::HostResult { host: &host, module: &run.module_name, outcome: Outcome::Done(&r.0) });
            }
        }
    }
    Ok(stats)
}

fn fmt_duration(d: Duration) -> String {
    format!("{} seconds", d.as_secs_f64())
}

/// The modules the playbook loader validates against: the `provision-modules` registry.
pub struct Catalog;

/// The one catalog.
pub static CATALOG: Catalog = Catalog;

/// `template`: rendered on the control machine, then written by `copy`.
const TEMPLATE_ARGS: &[provision_modules::ArgSpec] = {
    use provision_modules::{ArgSpec as A, ArgType as T};
    provision_modules::arg_table![
        A::new("src", T::Path, "The Jinja2 template on the control machine (looked up in templates/).").required(),
        A::new("dest", T::Path, "Where to write the result on the host.").required(),
        A::new("backup", T::Bool, "Keep a copy of the old file.").default("no"),
        A::new("force", T::Bool, "Replace a file whose content differs.").default("yes"),
        A::new("validate", T::Str, "A command to check the new file (`%s` is its path) before it replaces the old."),
        A::new("newline_sequence", T::Str, "Accepted; files are written with \\n."),
        A::new("trim_blocks", T::Bool, "Accepted; blocks are trimmed."),
        A::new("lstrip_blocks", T::Bool, "Accepted."),
        A::new("output_encoding", T::Str, "Accepted; output is UTF-8."),
        A::new("follow", T::Bool, "Accepted."),
        ; provision_modules::args::FILE_ATTRS
    ]
};

/// `provision doc template`.
pub static TEMPLATE_DOC: provision_modules::ModuleDoc = provision_modules::ModuleDoc {
    name: "template",
    short: "Render a Jinja2 template on the control machine and write it to the host",
    description: "The template is looked up in the role's templates/, then beside the playbook; it is \
rendered with the host's variables and facts (plus `ansible_managed`, `template_path`, \
`template_host`), then written by `copy`: compared by checksum first, written atomically, with \
mode, owner, group, backup and validate. `--check --diff` shows the change before it is made.",
    args: TEMPLATE_ARGS,
    free_form: false,
    examples: "- name: Configure nginx\n  ansible.builtin.template:\n    src: nginx.conf.j2\n    dest: /etc/nginx/nginx.conf\n    mode: \"0644\"\n    validate: nginx -t -c %s\n",
    returns: &[("dest", "the file written"), ("checksum", "SHA-1 of the rendered content"), ("src", "the template used"), ("changed", "whether the file changed")],
};

/// Modules the engine provides on top of the registry's.
pub static ENGINE_DOCS: [&provision_modules::ModuleDoc; 3] = [&TEMPLATE_DOC, &reboot::REBOOT_DOC, &reboot::WAIT_FOR_CONNECTION_DOC];

/// The documentation of a module the engine provides (not in the registry).
pub fn engine_doc(name: &str) -> Option<&'static provision_modules::ModuleDoc> {
    let short = crate::playbook::keywords::short_name(name);
    ENGINE_DOCS.iter().copied().find(|d| d.name == short)
}

impl crate::playbook::ModuleCatalog for Catalog {
    fn exists(&self, name: &str) -> bool {
        provision_modules::find(name).is_some() || engine_doc(name).is_some()
    }

    fn names(&self) -> Vec<&'static str> {
        let mut n: Vec<&'static str> = provision_modules::registry().iter().map(|m| m.doc().name).collect();
        n.extend(ENGINE_DOCS.iter().map(|d| d.name));
        n
    }

    fn free_form_keys(&self, name: &str) -> Option<Vec<&'static str>> {
        let m = provision_modules::find(name)?;
        if !m.doc().free_form {
            return None;
        }
        Some(if m.doc().name == "raw" { vec!["executable"] } else { provision_modules::command::FREE_FORM_KEYS.to_vec() })
    }

    fn is_string_arg(&self, name: &str, arg: &str) -> bool {
        let short = crate::playbook::keywords::short_name(name);
        let specs: &[provision_modules::ArgSpec] = if let Some(d) = engine_doc(short) {
            d.args
        } else if let Some(m) = provision_modules::find(short) {
            m.doc().args
        } else {
            return false;
        };
        specs.iter().any(|s| (s.name == arg || s.aliases.contains(&arg)) && matches!(s.kind, provision_modules::ArgType::Str | provision_modules::ArgType::Path))
    }

    fn check_args(&self, name: &str, args: &Map<String, Value>) -> Result<(), (Option<String>, String, Option<String>)> {
        if let Some(d) = engine_doc(name) {
            return provision_modules::validate(d.name, d.args, args, &[]).map(|_| ()).map_err(|e| (e.argument, e.message, e.hint));
        }
        let Some(m) = provision_modules::find(name) else { return Ok(()) };
        let doc = m.doc();
        provision_modules::validate(doc.name, doc.args, args, &["_raw_params"]).map(|_| ()).map_err(|e| (e.argument, e.message, e.hint))
    }
}
