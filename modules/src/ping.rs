//! `ping`: prove that a host can be reached, logged in to, and run shell.
//!
//! Unlike Ansible's ping, which needs Python on the host, this runs one `echo` through
//! the host's shell (and through `become`, when asked), in one round trip.

use async_trait::async_trait;
use serde_json::Value;

use crate::args::{ArgSpec, ArgType};
use crate::{Args, Context, Module, ModuleDoc, ModuleResult, RemoteError};

pub struct Ping;

const ARGS: &[ArgSpec] = &[ArgSpec::new("data", ArgType::Str, "Data to return in `ping`. If `crash`, the module fails.").default("pong")];

static DOC: ModuleDoc = ModuleDoc {
    name: "ping",
    short: "Try to connect to the host, verify a usable shell and return `pong`",
    description: "A trivial test module: it logs in, runs one shell command (through become when asked) \
and returns `pong` on success. It needs nothing on the host but a POSIX shell.",
    args: ARGS,
    free_form: false,
    examples: "- name: Check that every host answers\n  ansible.builtin.ping:\n\n# provision all -m ping\n",
    returns: &[("ping", "the value of `data` (`pong` by default)")],
};

#[async_trait]
impl Module for Ping {
    fn doc(&self) -> &'static ModuleDoc {
        &DOC
    }

    async fn run(&self, args: &Args, ctx: &Context<'_>) -> Result<ModuleResult, RemoteError> {
        let data = args.get("data").and_then(Value::as_str).unwrap_or("pong").to_string();
        if data == "crash" {
            return Ok(ModuleResult::failed("boom"));
        }
        let out = ctx.remote.exec("echo pong", b"").await?;
        if out.rc != 0 || String::from_utf8_lossy(&out.stdout).trim() != "pong" {
            let mut r = ModuleResult::failed(format!(
                "the host's shell did not answer: rc={} stderr={}",
                out.rc,
                String::from_utf8_lossy(&out.stderr).trim()
            ));
            r.set("rc", out.rc);
            return Ok(r);
        }
        let mut r = ModuleResult::ok(false);
        r.set("ping", data);
        Ok(r)
    }
}
