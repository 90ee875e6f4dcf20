//! `slurp`: a file's content from the host, base64-encoded, in one round trip.

use async_trait::async_trait;
use serde_json::Value;

use crate::args::{text, ArgSpec, ArgType};
use crate::quote::quote;
use crate::{util, Args, Context, Module, ModuleDoc, ModuleResult, RemoteError};

pub struct Slurp;

const ARGS: &[ArgSpec] = &[ArgSpec::new("src", ArgType::Path, "The file on the host to fetch. Must be a file, not a directory.").required().aliases(&["path"])];

static DOC: ModuleDoc = ModuleDoc {
    name: "slurp",
    short: "Slurps a file from remote nodes",
    description: "Reads a file on the host and returns its content base64-encoded (decode it with the `b64decode` filter). \
Changes nothing; one round trip. Meant for small files: the whole content travels in the result.",
    args: ARGS,
    free_form: false,
    examples: "- name: Read the SSH host key\n  ansible.builtin.slurp:\n    src: /etc/ssh/ssh_host_ed25519_key.pub\n  register: hostkey\n\n\
- name: Show it\n  ansible.builtin.debug:\n    msg: \"{{ hostkey.content | b64decode }}\"\n",
    returns: &[("content", "the file's content, base64-encoded"), ("encoding", "always `base64`"), ("source", "the path that was read")],
};

const TAG: &str = "__provision_slurp_5c2e__";

fn script(path: &str) -> String {
    format!(
        "p={}; if [ ! -e \"$p\" ]; then echo {TAG} absent; exit 0; fi; if [ -d \"$p\" ]; then echo {TAG} dir; exit 0; fi; \
if [ ! -r \"$p\" ]; then echo {TAG} unreadable; exit 0; fi; echo {TAG} ok; base64 < \"$p\"",
        quote(path)
    )
}

#[async_trait]
impl Module for Slurp {
    fn doc(&self) -> &'static ModuleDoc {
        &DOC
    }

    async fn run(&self, args: &Args, ctx: &Context<'_>) -> Result<ModuleResult, RemoteError> {
        let Some(src) = text(args, "src").filter(|s| !s.is_empty()) else {
            return Ok(ModuleResult::failed("missing required argument `src` for module `slurp`"));
        };
        let src = util::expand_home(ctx.remote, &src).await?;
        let out = ctx.remote.exec(&script(&src), b"").await?;
        let stdout = String::from_utf8_lossy(&out.stdout);
        let mut lines = stdout.lines();
        let status = lines.next().and_then(|l| l.strip_prefix(&format!("{TAG} "))).unwrap_or("");
        let msg = match status {
            "absent" => format!("file not found: {src}"),
            "dir" => format!("source is a directory and must be a file: {src}"),
            "unreadable" => format!("file is not readable: {src}"),
            "ok" if out.rc == 0 => {
                let content: String = lines.flat_map(|l| l.chars()).filter(|c| !c.is_whitespace()).collect();
                let mut r = ModuleResult::ok(false);
                r.set("content", content).set("encoding", "base64").set("source", Value::String(src));
                return Ok(r);
            }
            _ => format!("cannot read {src}: {}", String::from_utf8_lossy(&out.stderr).trim()),
        };
        Ok(ModuleResult::failed(msg))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::file::tests::{run_module, Fake};
    use crate::ExecOutput;
    use serde_json::json;

    fn run(a: Value, answers: Vec<ExecOutput>) -> (ModuleResult, Vec<String>) {
        let fake = Fake::with(answers);
        let r = run_module(&Slurp, a, &fake, false, false);
        (r, fake.commands())
    }

    fn ok(s: &str) -> ExecOutput {
        ExecOutput { rc: 0, stdout: s.as_bytes().to_vec(), stderr: vec![] }
    }

    #[test]
    fn reads_a_file_in_one_round_trip() {
        let (r, sent) = run(json!({"path": "/etc/my host"}), vec![ok(&format!("{TAG} ok\naGVsbG8K\nd29y\n"))]);
        assert_eq!(sent.len(), 1);
        assert!(sent[0].starts_with("p='/etc/my host'; "), "{}", sent[0]);
        assert!(sent[0].contains("base64 < \"$p\""));
        assert!(!r.changed() && !r.is_failed());
        assert_eq!(r.0["content"], "aGVsbG8Kd29y");
        assert_eq!(r.0["encoding"], "base64");
        assert_eq!(r.0["source"], "/etc/my host");
    }

    #[test]
    fn missing_and_directories_fail() {
        let (r, _) = run(json!({"src": "/nope"}), vec![ok(&format!("{TAG} absent\n"))]);
        assert!(r.is_failed());
        assert!(r.0["msg"].as_str().unwrap().contains("not found"));
        let (r, _) = run(json!({"src": "/etc"}), vec![ok(&format!("{TAG} dir\n"))]);
        assert!(r.is_failed());
    }

    #[test]
    fn src_is_required() {
        let (r, sent) = run(json!({}), vec![]);
        assert!(r.is_failed());
        assert!(sent.is_empty());
    }
}
