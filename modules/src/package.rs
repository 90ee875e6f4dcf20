//! `package`: install or remove packages with whatever package manager the host has.
//!
//! The apt probe script itself reports when a host has no dpkg and which manager it has
//! instead, so dispatching costs no extra round trip: on Debian-like hosts this is `apt`;
//! elsewhere the task fails with "package manager X is not supported yet".

use async_trait::async_trait;
use serde_json::Value;

use crate::apt;
use crate::args::{ArgSpec, ArgType};
use crate::{Args, Context, Module, ModuleDoc, ModuleResult, RemoteError};

pub struct Package;

const ARGS: &[ArgSpec] = &[
    ArgSpec::new("name", ArgType::List, "Packages to manage; `name=version` pins a version (apt).").required(),
    ArgSpec::new("state", ArgType::Str, "`present`/`installed`, `latest`, or `absent`/`removed`.")
        .required()
        .choices(&["present", "installed", "latest", "absent", "removed"]),
    ArgSpec::new("use", ArgType::Str, "The package manager to use; `auto` detects it.").default("auto"),
    ArgSpec::new("update_cache", ArgType::Bool, "Passed to the package manager (apt: `apt-get update` first).").aliases(&["update-cache"]),
];

static DOC: ModuleDoc = ModuleDoc {
    name: "package",
    short: "Generic OS package manager",
    description: "Installs or removes packages with the host's package manager, detected in the same round \
trip as the package query. Only apt (Debian, Ubuntu) is supported so far; other managers fail with a clear message.",
    args: ARGS,
    free_form: false,
    examples: "- name: Install ntpdate\n  ansible.builtin.package:\n    name: ntpdate\n    state: present\n",
    returns: &[("changed", "whether packages were installed or removed"), ("stdout", "the package manager's output")],
};

#[async_trait]
impl Module for Package {
    fn doc(&self) -> &'static ModuleDoc {
        &DOC
    }

    async fn run(&self, args: &Args, ctx: &Context<'_>) -> Result<ModuleResult, RemoteError> {
        let manager = args.get("use").and_then(Value::as_str).unwrap_or("auto");
        if !matches!(manager, "auto" | "apt") {
            return Ok(ModuleResult::failed(format!("package manager {manager} is not supported yet")));
        }
        let mut apt_args = Args::new();
        for key in ["name", "update_cache"] {
            if let Some(v) = args.get(key) {
                apt_args.insert(key.into(), v.clone());
            }
        }
        let state = match args.get("state").and_then(Value::as_str).unwrap_or("present") {
            "installed" => "present",
            "removed" => "absent",
            s => s,
        };
        apt_args.insert("state".into(), state.into());
        let spec = apt::Apt.doc();
        let apt_args = match crate::validate(spec.name, spec.args, &apt_args, &[]) {
            Ok(a) => a,
            Err(e) => return Ok(ModuleResult::failed(e.message)),
        };
        let out = ctx.remote.exec(&apt::probe_script(&apt_args, ctx.check_mode), b"").await?;
        apt::run_apt(&apt_args, ctx, &out).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::apt::tests::run;
    use serde_json::json;

    #[test]
    fn dispatches_to_apt_in_one_round_trip() {
        let (r, sent) = run(&Package, json!({"name": "tree", "state": "installed"}), false, &[(0, "__cache 1\n__pkg tree install ok installed 2.1\n")]);
        assert_eq!(sent.len(), 1);
        assert!(sent[0].contains("command -v dpkg-query"));
        assert!(!r.changed());
        let (r, sent) = run(&Package, json!({"name": "tree", "state": "removed"}), false, &[(0, "__cache 1\n__pkg tree install ok installed 2.1\n"), (0, "")]);
        assert!(r.changed());
        assert!(sent[1].ends_with("remove -- tree"));
    }

    #[test]
    fn other_managers_are_not_supported_yet() {
        let (r, _) = run(&Package, json!({"name": "tree", "state": "present"}), false, &[(0, "__nodpkg apk\n")]);
        assert!(r.is_failed());
        assert!(r.0["msg"].as_str().unwrap().contains("package manager apk is not supported yet"));
        let (r, sent) = run(&Package, json!({"name": "tree", "state": "present", "use": "dnf"}), false, &[]);
        assert!(r.is_failed() && sent.is_empty());
    }
}
