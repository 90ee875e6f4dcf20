//! `jupyterhub` against a fake host: arguments and what the host reports → the commands
//! sent and the result.

use serde_json::{json, Value};

use super::render::*;
use super::*;
use crate::file::tests::{args, run_module, Fake};
use crate::ExecOutput;

/// The settings the module works with: arguments validated as the engine does first.
fn settings(a: Value) -> Settings {
    let valid = crate::validate("jupyterhub", ARGS, &args(a), &[]).expect("valid arguments");
    Settings::from_args(&valid).expect("valid settings")
}

/// What the host answers to the read for a hub set up as `a` asks, with `edit` applied.
fn host_for(a: Value, edit: impl FnOnce(&mut String)) -> String {
    let s = settings(a);
    let mut out = format!("{TAG} vdir\n{TAG} etcdir\n{TAG} venv\n");
    for (n, v) in [("jupyterhub", "5.2.1"), ("jupyterlab", "4.3.4"), ("Jupyter_Server", "2.15.0"), ("jupyterhub-idle-culler", "1.4.0")] {
        out.push_str(&format!("{TAG} pkg {n} {v}\n"));
    }
    out.push_str(&format!("{TAG} proxy /usr/bin/configurable-http-proxy\n"));
    for d in s.debs() {
        out.push_str(&format!("{TAG} deb {d} ii \n"));
    }
    out.push_str(&format!("{TAG} cfgsum {}\n", sha1_hex(config_text(&s).as_bytes())));
    out.push_str(&format!("{TAG} unitsum {}\n", sha1_hex(unit_text(&s).as_bytes())));
    out.push_str(&format!("{TAG} enabled enabled\n{TAG} active active\n"));
    edit(&mut out);
    out
}

fn bare_host() -> String {
    format!("{TAG} deb python3-venv un \n{TAG} enabled \n{TAG} active inactive\n")
}

fn run(a: Value, answers: Vec<ExecOutput>, check: bool, diff: bool) -> (ModuleResult, Vec<String>, Vec<Vec<u8>>) {
    let fake = Fake::with(answers);
    let r = run_module(&JupyterHub, a, &fake, check, diff);
    let sent = fake.sent.lock().unwrap().clone();
    (r, sent.iter().map(|(c, _)| c.clone()).collect(), sent.into_iter().map(|(_, i)| i).collect())
}

fn ok(stdout: &str) -> ExecOutput {
    ExecOutput { rc: 0, stdout: stdout.as_bytes().to_vec(), stderr: vec![] }
}

#[test]
fn nothing_to_do_is_one_round_trip() {
    let a = json!({"admin_users": ["alice"], "allowed_users": "alice,bob"});
    let (r, sent, _) = run(a.clone(), vec![ok(&host_for(a, |_| {}))], false, false);
    assert!(!r.changed() && !r.is_failed(), "{r:?}");
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert_eq!(r.0["version"], "5.2.1");
    assert_eq!(r.0["url"], "http://127.0.0.1:8000/");
    assert_eq!(r.0["config_path"], "/etc/jupyterhub/jupyterhub_config.py");
    assert_eq!(r.0["unit"], "jupyterhub.service");
    // The read: venv packages, proxy, prerequisites, checksums, unit state; no content without --diff.
    for part in ["v=/opt/jupyterhub/venv;", "importlib.metadata", "command -v configurable-http-proxy", "dpkg-query -W", "python3-venv node-configurable-http-proxy", "systemctl is-enabled jupyterhub.service", "systemctl is-active jupyterhub.service"] {
        assert!(sent[0].contains(part), "{part} not in {}", sent[0]);
    }
    assert!(!sent[0].contains("content"), "{}", sent[0]);
}

#[test]
fn a_bare_host_gets_everything_in_order() {
    let answers = vec![ok(&bare_host()), ok(&format!("{TAG} version 5.2.1\n")), ok(""), ok(""), ok(&format!("{TAG} up\n"))];
    let (r, sent, stdin) = run(json!({"admin_users": ["alice"]}), answers, false, true);
    assert!(r.changed() && !r.is_failed(), "{r:?}");
    assert_eq!(sent.len(), 5, "{sent:?}");
    // python3-venv first; Debian's proxy in the background while uv fills the venv.
    let install = &sent[1];
    let at = |part: &str| install.find(part).unwrap_or_else(|| panic!("{part} not in {install}"));
    assert!(install.contains("apt-get install -y -q --no-install-recommends -o DPkg::Lock::Timeout=120 \"$@\""), "{install}");
    assert!(install.contains("apt-get update -q"), "{install}");
    let order = [
        at("ai venv python3-venv; "),
        at("( ai proxy node-configurable-http-proxy ) & bg=$!; "),
        at("python3 -m venv \"$v\"; "),
        at("[ -x \"$v/bin/uv\" ] || \"$v/bin/pip\" install -q --disable-pip-version-check --progress-bar off uv; "),
        at("UV_NATIVE_TLS=1 \"$v/bin/uv\" pip install -q --compile-bytecode --python \"$v/bin/python\" jupyterhub jupyterlab; "),
        at("wait $bg; "),
    ];
    assert!(order.windows(2).all(|w| w[0] < w[1]), "{install}");
    assert!(!install.contains("npm"), "{install}");
    // The config: written atomically with mode 0640 after it compiles.
    assert!(sent[2].starts_with("mkdir -p /etc/jupyterhub && set -e; p=/etc/jupyterhub/jupyterhub_config.py;"), "{}", sent[2]);
    assert!(sent[2].contains("chmod 0640 \"$t\""), "{}", sent[2]);
    assert!(sent[2].contains("/opt/jupyterhub/venv/bin/python -c 'import sys; compile(open(sys.argv[1]).read()"), "{}", sent[2]);
    let config = String::from_utf8(crate::util::unframed(&stdin[2]).to_vec()).unwrap();
    assert!(config.contains("c.Authenticator.admin_users = {\"alice\"}\n"), "{config}");
    assert!(sent[3].contains("p=/etc/systemd/system/jupyterhub.service;"), "{}", sent[3]);
    let unit = String::from_utf8(crate::util::unframed(&stdin[3]).to_vec()).unwrap();
    assert!(unit.contains("ExecStart=/opt/jupyterhub/venv/bin/jupyterhub -f /etc/jupyterhub/jupyterhub_config.py\n"), "{unit}");
    assert!(unit.contains("Environment=PATH=/opt/jupyterhub/venv/bin:/usr/local/bin:"), "{unit}");
    assert!(unit.contains("WorkingDirectory=/etc/jupyterhub\n") && unit.contains("User=root\n"), "{unit}");
    assert!(sent[4].starts_with("systemctl daemon-reload && systemctl enable -q jupyterhub.service && systemctl restart jupyterhub.service || exit 1; "), "{}", sent[4]);
    assert!(sent[4].contains("http://127.0.0.1:8000/hub/login 120"), "{}", sent[4]);
    assert_eq!(r.0["version"], "5.2.1");
    assert_eq!(r.0["diff"]["before"], "");
    assert_eq!(r.0["diff"]["after"], config);
    let msg = r.0["msg"].as_str().unwrap();
    assert!(msg.contains("created the venv /opt/jupyterhub/venv") && msg.ends_with("enabled; started"), "{msg}");
}

#[test]
fn check_mode_predicts_a_port_change_and_sends_only_the_read() {
    let old = json!({"admin_users": ["alice"]});
    let current = format!("{}{TAG} content\n{}", host_for(old.clone(), |_| {}), config_text(&settings(old)));
    let (r, sent, _) = run(json!({"admin_users": ["alice"], "port": 8010}), vec![ok(&current)], true, true);
    assert!(r.changed() && !r.is_failed(), "{r:?}");
    assert_eq!(sent.len(), 1);
    assert!(sent[0].ends_with("; if [ -f \"$cfg\" ]; then echo __provision_jupyterhub_8c1d__ content; cat \"$cfg\"; fi"), "{}", sent[0]);
    assert!(r.0["diff"]["before"].as_str().unwrap().contains("c.JupyterHub.port = 8000\n"));
    assert!(r.0["diff"]["after"].as_str().unwrap().contains("c.JupyterHub.port = 8010\n"));
    assert_eq!(r.0["url"], "http://127.0.0.1:8010/");
    assert_eq!(r.0["version"], "5.2.1");
    assert_eq!(r.0["msg"], "would be: wrote /etc/jupyterhub/jupyterhub_config.py; restarted");
}

#[test]
fn a_config_change_rewrites_and_restarts_without_reload() {
    let old = json!({"admin_users": ["alice"]});
    let answers = vec![ok(&host_for(old, |_| {})), ok(""), ok(&format!("{TAG} up\n"))];
    let (r, sent, _) = run(json!({"admin_users": ["alice", "carol"]}), answers, false, false);
    assert!(r.changed() && !r.is_failed(), "{r:?}");
    assert_eq!(sent.len(), 3, "{sent:?}");
    assert!(sent[1].contains("p=/etc/jupyterhub/jupyterhub_config.py"));
    assert!(sent[2].starts_with("systemctl restart jupyterhub.service || exit 1; "), "{}", sent[2]);
    assert!(!r.0.contains_key("diff"));
}

#[test]
fn a_stopped_hub_is_started_and_a_dead_one_reported() {
    let a = json!({});
    let stopped = host_for(a.clone(), |h| *h = h.replace("active active", "active failed"));
    let (r, sent, _) = run(a.clone(), vec![ok(&stopped), ok(&format!("{TAG} up\n"))], false, false);
    assert!(r.changed() && !r.is_failed() && sent.len() == 2, "{r:?} {sent:?}");
    let down = ExecOutput { rc: 0, stdout: format!("{TAG} down the service stopped (failed); last answer: refused\n{TAG} log ImportError: boom\n").into_bytes(), stderr: vec![] };
    let (r, _, _) = run(a, vec![ok(&stopped), down], false, false);
    assert!(r.is_failed() && r.changed(), "{r:?}");
    assert_eq!(r.0["msg"], "JupyterHub did not answer 200 at http://127.0.0.1:8000/hub/login within 120 s: the service stopped (failed); last answer: refused");
    assert_eq!(r.0["journal"], "ImportError: boom");
    // timeout 0: started, not waited for.
    let (r, sent, _) = run(json!({"timeout": 0}), vec![ok(&stopped), ok("")], false, false);
    assert!(r.changed() && !r.is_failed(), "{r:?}");
    assert_eq!(sent[1], "systemctl restart jupyterhub.service");
}

#[test]
fn missing_and_mismatched_packages_are_installed_into_the_venv() {
    let a = json!({"installer": "pip", "version": "5.2.0", "pip_packages": ["oauthenticator", "jupyter_server==2.15.0"], "idle_culler": {"enabled": true, "timeout": 600}});
    let h = host_for(a.clone(), |_| {});
    let (r, sent, _) = run(a.clone(), vec![ok(&h)], true, false);
    assert!(r.changed());
    assert_eq!(r.0["version"], "5.2.0", "check mode reports the pinned version");
    assert_eq!(r.0["msg"], "would be: pip installed jupyterhub==5.2.0 oauthenticator; restarted");
    assert_eq!(sent.len(), 1);
    let answers = vec![ok(&h), ok(&format!("{TAG} version 5.2.0\n")), ok(&format!("{TAG} up\n"))];
    let (r, sent, _) = run(a, answers, false, false);
    assert!(r.changed() && !r.is_failed(), "{r:?}");
    assert!(sent[1].contains("\"$v/bin/pip\" install -q --disable-pip-version-check --progress-bar off jupyterhub==5.2.0 oauthenticator;"), "{}", sent[1]);
    assert!(!sent[1].contains("/bin/uv"), "{}", sent[1]);
    assert!(!sent[1].contains("apt-get") && !sent[1].contains("python3 -m venv"), "{}", sent[1]);
    assert_eq!(r.0["version"], "5.2.0");
}

#[test]
fn npm_proxy_needs_nodejs_and_npm() {
    let a = json!({"proxy": "npm"});
    let h = host_for(a.clone(), |h| *h = h.replace(&format!("{TAG} proxy /usr/bin/configurable-http-proxy\n"), "").replace(&format!("{TAG} deb npm ii \n"), ""));
    let (r, sent, _) = run(a, vec![ok(&h), ok(&format!("{TAG} version 5.2.1\n"))], false, false);
    assert!(r.changed() && !r.is_failed(), "{r:?}");
    assert!(sent[0].contains("python3-venv nodejs npm 2>/dev/null"), "{}", sent[0]);
    assert!(sent[1].contains("( ai proxy npm && { npm install -g --no-fund --no-audit --loglevel=error configurable-http-proxy"), "{}", sent[1]);
    assert!(!sent[1].contains("ai venv") && !sent[1].contains("/bin/uv"), "{}", sent[1]);
    assert_eq!(sent.len(), 2, "a new proxy binary alone does not restart the hub: {sent:?}");
}

#[test]
fn a_config_that_does_not_compile_fails_and_names_extra_config() {
    let a = json!({"extra_config": "c.Spawner.mem_limit = ("});
    let h = host_for(json!({}), |_| {});
    let bad = ExecOutput { rc: 1, stdout: vec![], stderr: b"  File \"/etc/jupyterhub/jupyterhub_config.py\", line 14\nSyntaxError: '(' was never closed\n".to_vec() };
    let (r, sent, _) = run(a, vec![ok(&h), bad], false, false);
    assert!(r.is_failed(), "{r:?}");
    assert_eq!(sent.len(), 2);
    let msg = r.0["msg"].as_str().unwrap();
    assert!(msg.starts_with("writing /etc/jupyterhub/jupyterhub_config.py (it must compile: check `extra_config`) failed (rc=1)") && msg.contains("SyntaxError"), "{msg}");
}

#[test]
fn absent_stops_disables_and_removes() {
    let a = json!({"state": "absent"});
    let h = host_for(json!({}), |_| {});
    let (r, sent, _) = run(a.clone(), vec![ok(&h), ok("")], false, false);
    assert!(r.changed() && !r.is_failed(), "{r:?}");
    assert!(!sent[0].contains("dpkg-query"), "{}", sent[0]);
    assert_eq!(sent[1], "systemctl stop jupyterhub.service 2>/dev/null; systemctl disable -q jupyterhub.service 2>/dev/null; rm -f /etc/systemd/system/jupyterhub.service /etc/jupyterhub/jupyterhub_config.py && systemctl daemon-reload");
    let gone = format!("{TAG} vdir\n{TAG} venv\n{TAG} enabled \n{TAG} active inactive\n");
    let (r, sent, _) = run(a, vec![ok(&gone)], false, false);
    assert!(!r.changed() && sent.len() == 1, "{r:?}");
    let (r, sent, _) = run(json!({"state": "absent", "purge": true}), vec![ok(&gone), ok("")], false, false);
    assert!(r.changed() && sent[1].ends_with("&& rm -rf /opt/jupyterhub/venv /etc/jupyterhub"), "{sent:?}");
}

#[test]
fn config_text_follows_the_arguments() {
    let s = settings(json!({
        "port": "8443", "ip": "10.0.0.5", "admin_users": ["zoe", "mal", "zoe"], "allowed_users": ["kaylee"], "allow_all": false,
        "spawner": "systemd", "authenticator": "dummy", "ssl_cert": "/etc/ssl/hub.crt", "ssl_key": "/etc/ssl/hub.key",
        "idle_culler": {"timeout": 900}, "default_url": "/tree", "extra_config": "c.Spawner.mem_limit = '4G'"
    }));
    let c = config_text(&s);
    for line in [
        "c = get_config()  # noqa: F821\n",
        "c.JupyterHub.ip = \"10.0.0.5\"\n",
        "c.JupyterHub.port = 8443\n",
        "c.JupyterHub.authenticator_class = \"jupyterhub.auth.DummyAuthenticator\"\n",
        "c.JupyterHub.spawner_class = \"systemdspawner.SystemdSpawner\"\n",
        "c.JupyterHub.ssl_cert = \"/etc/ssl/hub.crt\"\n",
        "c.Authenticator.admin_users = {\"mal\", \"zoe\"}\n",
        "c.Authenticator.allowed_users = {\"kaylee\"}\n",
        "c.Authenticator.allow_all = False\n",
        "c.Spawner.default_url = \"/tree\"\n",
        "\"command\": [\"/opt/jupyterhub/venv/bin/python\", \"-m\", \"jupyterhub_idle_culler\", \"--timeout=900\"],\n",
        "\n# extra_config\nc.Spawner.mem_limit = '4G'\n",
    ] {
        assert!(c.contains(line), "{line:?} not in\n{c}");
    }
    assert_eq!(s.url(), "https://10.0.0.5:8443/");
    let names: Vec<String> = s.requirements().into_iter().map(|r| r.spec).collect();
    assert_eq!(names, ["jupyterhub", "jupyterlab", "jupyterhub-idle-culler", "jupyterhub-systemdspawner"]);
    // Defaults: PAM, LocalProcessSpawner, all interfaces, nobody listed, no culler.
    let c = config_text(&settings(json!({})));
    assert!(c.contains("c.JupyterHub.ip = \"\"\n") && c.contains("c.Authenticator.admin_users = set()\n"), "{c}");
    assert!(c.contains("jupyterhub.auth.PAMAuthenticator") && c.contains("jupyterhub.spawner.LocalProcessSpawner"), "{c}");
    assert!(!c.contains("allowed_users") && !c.contains("idle") && !c.contains("ssl"), "{c}");
    // User names cannot break out of their string.
    let c = config_text(&settings(json!({"admin_users": ["a\"b\\c\nimport os"]})));
    assert!(c.contains("c.Authenticator.admin_users = {\"a\\\"b\\\\c\\nimport os\"}\n"), "{c}");
}

#[test]
fn requirements_parse_names_and_pins() {
    let r = Requirement::parse("Jupyter_Server[extra]==2.15.0");
    assert_eq!((r.name.as_str(), r.pin.as_deref()), ("jupyter-server", Some("2.15.0")));
    assert!(r.satisfied_by(Some("2.15.0")) && !r.satisfied_by(Some("2.14.0")) && !r.satisfied_by(None));
    let r = Requirement::parse("oauthenticator>=16");
    assert_eq!((r.name.as_str(), r.pin.as_deref()), ("oauthenticator", None));
    assert!(r.satisfied_by(Some("1.0")));
    assert_eq!(Requirement::parse("pkg==1.*").pin, None);
    let reqs = settings(json!({"version": ">=5,<6", "pip_packages": ["jupyterlab==4.3.4"]})).requirements();
    assert_eq!(reqs.iter().map(|r| r.spec.as_str()).collect::<Vec<_>>(), ["jupyterhub>=5,<6", "jupyterlab==4.3.4"]);
}

#[test]
fn bad_arguments_fail_before_any_command() {
    for (a, msg) in [
        (json!({"venv": "relative/venv"}), "`venv` must be an absolute path"),
        (json!({"venv": "/opt/my venv"}), "`venv` must be an absolute path"),
        (json!({"ssl_cert": "/etc/ssl/a.crt"}), "`ssl_cert` and `ssl_key` go together"),
        (json!({"pip_packages": ["--index-url=http://x"]}), "`pip_packages` takes requirement specifiers"),
        (json!({"port": 70000}), "`port` must be between 1 and 65535"),
        (json!({"spawner": "docker spawner"}), "`spawner` must be one of local, localprocess, systemd or a dotted Python class name"),
        (json!({"idle_culler": {"enabled": true, "every": 5}}), "`idle_culler` takes `enabled` and `timeout`"),
        (json!({"proxy": "pip"}), "value of `proxy` must be one of: distro, npm, none"),
    ] {
        let (r, sent, _) = run(a.clone(), vec![], false, false);
        assert!(r.is_failed() && sent.is_empty(), "{a}: {r:?}");
        assert!(r.0["msg"].as_str().unwrap().starts_with(msg), "{a}: {}", r.0["msg"]);
    }
}
