//! `docker_image`: an image built, loaded, pulled or removed with the CLI.
//!
//! One round trip reads `docker image inspect NAME:TAG` and, for `source: build`, a hash
//! of the build context computed on the host (`find -type f` in byte order, `sha256sum`
//! of every file, then of that list: names and contents). The image is built with the
//! label `provision.context` holding that hash combined with the Dockerfile name, build
//! args and target; it is rebuilt only when the label differs (or `force_source`).

use async_trait::async_trait;
use serde_json::{json, Value};

use super::{at, failure, parse_probe, string_map, tagged_lines, Found, Probe, NO_DOCKER, TAG};
use crate::args::{text, to_bool, ArgSpec, ArgType};
use crate::quote::{join, quote};
use crate::{Args, Context, Module, ModuleDoc, ModuleResult, RemoteError};

pub struct DockerImage;

pub(crate) const CONTEXT_LABEL: &str = "provision.context";

const ARGS: &[ArgSpec] = &[
    ArgSpec::new("name", ArgType::Str, "Image name (`repo/name`, or `name:tag`, whose tag wins over `tag`).").required(),
    ArgSpec::new("tag", ArgType::Str, "Tag of the image.").default("latest"),
    ArgSpec::new(
        "source",
        ArgType::Str,
        "Where the image comes from with `state: present`: `build` (from `build.path`), `load` (from the tarball `load_path`), \
`pull` (from a registry), `local` (must already exist).",
    )
    .choices(&["build", "load", "pull", "local"]),
    ArgSpec::new("build", ArgType::Dict, "With `source: build`: `path` (the context directory on the host, required), `dockerfile` \
(relative to `path`), `args` (build args: visible in argv and in the image history, never use them for secrets), `pull` \
(refresh the base image), `nocache`, `network`, `target`."),
    ArgSpec::new("load_path", ArgType::Path, "With `source: load`: the image tarball on the host (`docker save` output)."),
    ArgSpec::new("force_source", ArgType::Bool, "Build, load or pull even when the image exists (a build reports a change only \
when the image ID changes).")
    .default("no"),
    ArgSpec::new("force_tag", ArgType::Bool, "Accepted for compatibility (tags are always set by the build).").default("no"),
    ArgSpec::new("force_absent", ArgType::Bool, "With `state: absent`: remove the image even if other tags or stopped containers use it.").default("no"),
    ArgSpec::new("state", ArgType::Str, "`present` or `absent`.").default("present").choices(&["present", "absent"]),
    ArgSpec::new("push", ArgType::Bool, "Not supported (no registry): must be `false`.").default("no"),
];

static DOC: ModuleDoc = ModuleDoc {
    name: "docker_image",
    short: "Manage Docker images",
    description: "Builds, loads, pulls or removes an image with the `docker` CLI. For `source: build` the build context is hashed \
on the host and kept as the image label `provision.context`: the image is rebuilt when the context (file names and contents), \
the Dockerfile name, the build args or the target change, and not otherwise (unlike Ansible, which rebuilds only with \
`force_source`). `.dockerignore` is not applied to the hash, so an ignored file that changes also rebuilds. Nothing to change \
is one round trip. `push` and `archive_path` are not supported.",
    args: ARGS,
    free_form: false,
    examples: "- name: Build the app image on the host\n  community.docker.docker_image:\n    name: ptest-httpd\n    tag: latest\n    \
source: build\n    build:\n      path: /srv/app\n      args:\n        VERSION: \"1.4\"\n\n- name: Load an image saved with docker save\n  \
community.docker.docker_image:\n    name: app:1.4\n    source: load\n    load_path: /tmp/app.tar\n\n- name: Remove it\n  \
community.docker.docker_image:\n    name: app\n    tag: \"1.4\"\n    state: absent\n",
    returns: &[
        ("image", "the image as `docker image inspect` describes it after the task (`{}` once removed)"),
        ("actions", "what was done: `Built image NAME:TAG from PATH`, `Loaded image ...`, `Pulled image ...`, `Removed image ...`"),
        ("diff", "with `--diff`: `before` and `after` (`exists`, `context` hash)"),
    ],
};

/// `name` and `tag`, with a tag inside `name` winning.
fn full_name(args: &Args) -> String {
    let name = text(args, "name").unwrap_or_default();
    let last = name.rsplit('/').next().unwrap_or("");
    if last.contains(':') || name.contains('@') {
        name
    } else {
        format!("{name}:{}", text(args, "tag").filter(|t| !t.is_empty()).unwrap_or_else(|| "latest".into()))
    }
}

struct Build {
    path: String,
    dockerfile: Option<String>,
    args: Vec<(String, String)>,
    pull: bool,
    nocache: bool,
    network: Option<String>,
    target: Option<String>,
}

fn parse_build(v: Option<&Value>) -> Result<Build, String> {
    let Some(Value::Object(b)) = v else { return Err("`source: build` needs `build` with a `path`".into()) };
    let s = |k: &str| b.get(k).and_then(|v| v.as_str().map(str::to_string));
    let path = s("path").filter(|p| !p.is_empty()).ok_or("`build.path` is required")?;
    Ok(Build {
        path,
        dockerfile: s("dockerfile"),
        args: string_map(b.get("args"), "build.args")?,
        pull: b.get("pull").and_then(to_bool).unwrap_or(false),
        nocache: b.get("nocache").and_then(to_bool).unwrap_or(false),
        network: s("network"),
        target: s("target"),
    })
}

impl Build {
    /// The label value: the host's context hash with what else makes the build differ.
    fn label(&self, context_hash: &str) -> String {
        let canon = json!([context_hash, self.dockerfile, self.args, self.target]);
        crate::util::sha1_hex(canon.to_string().as_bytes())
    }

    fn hash_script(&self) -> String {
        format!(
            "if [ -d {p} ]; then echo \"{TAG} ctx $(cd {p} && find . -type f -print0 | LC_ALL=C sort -z | xargs -0 -r sha256sum | sha256sum | cut -d' ' -f1)\"; \
else echo '{TAG} ctx missing'; fi",
            p = quote(&self.path)
        )
    }

    fn command(&self, image: &str, label: &str) -> String {
        let mut a: Vec<String> = vec!["build".into(), "-q".into(), "-t".into(), image.into(), "--label".into(), format!("{CONTEXT_LABEL}={label}")];
        if let Some(f) = &self.dockerfile {
            a.extend(["-f".into(), f.clone()]);
        }
        for (k, v) in &self.args {
            a.extend(["--build-arg".into(), format!("{k}={v}")]);
        }
        if self.pull {
            a.push("--pull".into());
        }
        if self.nocache {
            a.push("--no-cache".into());
        }
        if let Some(n) = &self.network {
            a.extend(["--network".into(), n.clone()]);
        }
        if let Some(t) = &self.target {
            a.extend(["--target".into(), t.clone()]);
        }
        a.push(".".into());
        format!("cd {} && docker {}", quote(&self.path), join(&a))
    }
}

#[async_trait]
impl Module for DockerImage {
    fn doc(&self) -> &'static ModuleDoc {
        &DOC
    }

    async fn run(&self, args: &Args, ctx: &Context<'_>) -> Result<ModuleResult, RemoteError> {
        let image = full_name(args);
        let absent = text(args, "state").as_deref() == Some("absent");
        let force = args.get("force_source").and_then(to_bool).unwrap_or(false);
        if args.get("push").and_then(to_bool) == Some(true) {
            return Ok(ModuleResult::failed("`push` is not supported by this docker_image"));
        }
        let source = text(args, "source");
        if !absent && source.is_none() {
            return Ok(ModuleResult::failed("state is present but all of the following are missing: source"));
        }
        let build = match source.as_deref() {
            Some("build") if !absent => match parse_build(args.get("build")) {
                Ok(b) => Some(b),
                Err(e) => return Ok(ModuleResult::failed(e)),
            },
            _ => None,
        };
        let load_path = text(args, "load_path");
        if source.as_deref() == Some("load") && !absent && load_path.is_none() {
            return Ok(ModuleResult::failed("`source: load` needs `load_path`"));
        }
        let mut probe = Probe::new().inspect("i", "image", &image);
        if let Some(b) = &build {
            probe = probe.raw(&b.hash_script());
        }
        let out = ctx.remote.exec(&probe.script(), b"").await?;
        let Some(found) = parse_probe(&out.stdout) else { return Ok(ModuleResult::failed(NO_DOCKER)) };
        let current = match found.get("i") {
            Some(Found::Present(v)) => Some(v.clone()),
            Some(Found::Absent) => None,
            Some(Found::Error(e)) => return Ok(ModuleResult::failed(format!("cannot inspect image {image}: {e}"))),
            None => return Ok(ModuleResult::failed(format!("cannot inspect image {image}: {}", String::from_utf8_lossy(&out.stderr).trim()))),
        };
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        let mut steps: Vec<String> = Vec::new();
        let mut actions: Vec<String> = Vec::new();
        let mut diff = (json!({"exists": current.is_some()}), json!({"exists": !absent}));
        // A forced build changes something only if the image ID changes: known after it.
        let mut compare_ids = false;
        if absent {
            if current.is_some() {
                let f = if args.get("force_absent").and_then(to_bool) == Some(true) { "-f " } else { "" };
                steps.push(format!("docker rmi {f}{}", quote(&image)));
                actions.push(format!("Removed image {image}"));
            }
        } else {
            match source.as_deref().unwrap_or("") {
                "build" => {
                    let b = build.as_ref().expect("build parsed for source build");
                    let ctx_hash = tagged_lines(&stdout, "ctx").first().map(|s| s.trim().to_string()).unwrap_or_default();
                    if ctx_hash == "missing" || ctx_hash.is_empty() {
                        return Ok(ModuleResult::failed(format!("build context {} is not a directory on the host", b.path)));
                    }
                    let label = b.label(&ctx_hash);
                    let have = current.as_ref().map(|c| at(c, &["Config", "Labels", CONTEXT_LABEL]).as_str().unwrap_or("").to_string());
                    diff.0["context"] = json!(have);
                    diff.1["context"] = json!(label);
                    let stale = have.as_deref() != Some(label.as_str());
                    if stale || force {
                        compare_ids = !stale;
                        steps.push(b.command(&image, &label));
                        actions.push(format!("Built image {image} from {}", b.path));
                    }
                }
                "load" => {
                    if current.is_none() || force {
                        let p = load_path.clone().unwrap_or_default();
                        steps.push(format!("docker load -i {}", quote(&p)));
                        actions.push(format!("Loaded image {image} from {p}"));
                        compare_ids = current.is_some();
                    }
                }
                "pull" => {
                    if current.is_none() || force {
                        steps.push(format!("docker pull {}", quote(&image)));
                        actions.push(format!("Pulled image {image}"));
                        compare_ids = current.is_some();
                    }
                }
                _ => {
                    if current.is_none() {
                        return Ok(ModuleResult::failed(format!("cannot find the image {image} locally (source: local)")));
                    }
                }
            }
        }
        let changed = !steps.is_empty();
        let mut r = ModuleResult::ok(changed);
        r.set("actions", json!(actions));
        if ctx.diff && changed {
            r.set("diff", json!({"before": diff.0, "after": diff.1}));
        }
        if !changed || ctx.check_mode {
            r.set("image", current.clone().unwrap_or_else(|| json!({})));
            return Ok(r);
        }
        let mut script = String::from("set -e; ");
        for s in &steps {
            script.push_str(&format!("( {s} ) >/dev/null; "));
        }
        script.push_str("set +e; ");
        if !absent {
            script.push_str(&Probe::new().inspect("i", "image", &image).script());
        }
        let out = ctx.remote.exec(script.trim_end(), b"").await?;
        if out.rc != 0 {
            return Ok(ModuleResult::failed(failure(&format!("docker_image {image}"), &out)));
        }
        let after = parse_probe(&out.stdout).and_then(|f| f.get("i").cloned());
        let after = match (absent, after) {
            (true, _) => json!({}),
            (false, Some(Found::Present(v))) => v,
            (false, _) => return Ok(ModuleResult::failed(format!("image {image} is not on the host after: {}", actions.join(", ")))),
        };
        if compare_ids {
            let old_id = current.as_ref().and_then(|c| c["Id"].as_str());
            if old_id == after["Id"].as_str() {
                r.set("changed", false);
                r.0.remove("diff");
            }
        }
        r.set("image", after);
        Ok(r)
    }
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::{self, absent, line, one};
    use super::*;
    use crate::file::tests::{run_module, Fake};

    fn run(a: Value, answers: &[&str], check: bool) -> (ModuleResult, Vec<String>) {
        let fake = Fake::new(answers);
        let r = run_module(&DockerImage, a, &fake, check, true);
        (r, fake.commands())
    }

    fn task() -> Value {
        json!({"name": "ptest-httpd", "source": "build", "build": {"path": "/tmp/ctx", "args": {"V": 1}}})
    }

    fn built_with(label: &str) -> Value {
        let mut i = one(fixtures::IMAGE);
        i["Config"]["Labels"][CONTEXT_LABEL] = json!(label);
        i
    }

    fn label_for(ctx: &str) -> String {
        parse_build(task().get("build")).unwrap().label(ctx)
    }

    #[test]
    fn an_unchanged_context_is_one_round_trip() {
        let answer = format!("{}{TAG} ctx abc123\n", line("i", &built_with(&label_for("abc123"))));
        let (r, sent) = run(task(), &[&answer], false);
        assert!(!r.changed() && !r.is_failed(), "{r:?}");
        assert_eq!(sent.len(), 1);
        assert!(sent[0].contains("_pi i image inspect --format '{{json .}}' ptest-httpd:latest"), "{}", sent[0]);
        assert!(sent[0].contains("cd /tmp/ctx && find . -type f -print0 | LC_ALL=C sort -z | xargs -0 -r sha256sum | sha256sum"), "{}", sent[0]);
        assert_eq!(r.0["image"]["RepoTags"], json!(["ptest-httpd:latest"]));
    }

    #[test]
    fn a_changed_context_rebuilds() {
        let answer = format!("{}{TAG} ctx def456\n", line("i", &built_with(&label_for("abc123"))));
        let (r, sent) = run(task(), &[&answer], true);
        assert!(r.changed() && sent.len() == 1);
        assert_eq!(r.0["diff"]["after"]["context"], json!(label_for("def456")));
        let (r, sent) = run(task(), &[&answer, &line("i", &one(fixtures::IMAGE))], false);
        assert!(r.changed() && !r.is_failed(), "{r:?}");
        assert_eq!(
            sent[1],
            format!(
                "set -e; ( cd /tmp/ctx && docker build -q -t ptest-httpd:latest --label provision.context={} --build-arg V=1 . ) >/dev/null; set +e; {}",
                label_for("def456"),
                Probe::new().inspect("i", "image", "ptest-httpd:latest").script()
            )
        );
        assert_eq!(r.0["actions"], json!(["Built image ptest-httpd:latest from /tmp/ctx"]));
    }

    #[test]
    fn a_missing_context_fails() {
        let answer = format!("{}{TAG} ctx missing\n", absent("i"));
        let (r, _) = run(task(), &[&answer], false);
        assert!(r.is_failed() && r.0["msg"].as_str().unwrap().contains("not a directory"), "{r:?}");
    }

    #[test]
    fn load_pull_local_and_absent() {
        let (r, sent) = run(json!({"name": "app:1.4", "source": "load", "load_path": "/tmp/app.tar"}), &[&absent("i"), &line("i", &one(fixtures::IMAGE))], false);
        assert!(r.changed() && !r.is_failed(), "{r:?}");
        assert!(sent[1].starts_with("set -e; ( docker load -i /tmp/app.tar ) >/dev/null;"), "{}", sent[1]);
        let (r, sent) = run(json!({"name": "app", "tag": "1.4", "source": "pull"}), &[&line("i", &one(fixtures::IMAGE))], false);
        assert!(!r.changed() && sent.len() == 1);
        let (r, _) = run(json!({"name": "app", "source": "local"}), &[&absent("i")], false);
        assert!(r.is_failed());
        let (r, sent) = run(json!({"name": "app", "state": "absent"}), &[&line("i", &one(fixtures::IMAGE)), ""], false);
        assert!(r.changed() && sent[1].starts_with("set -e; ( docker rmi app:latest ) >/dev/null; set +e;"), "{}", sent[1]);
        let (r, _) = run(json!({"name": "app"}), &[], false);
        assert!(r.is_failed());
    }
}
