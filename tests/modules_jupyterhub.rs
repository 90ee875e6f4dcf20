//! `jupyterhub` against a real host (h1 of the lab fleet): install from Debian and PyPI,
//! run under systemd, answer on /hub/login, and let a PAM user log in. Needs
//! `tests/fleet/fleet up`, and PyPI reachable from the host.
//!
//! One test does the whole sequence (the first install downloads JupyterHub and
//! JupyterLab: minutes); the venv and the service are left in place, so a rerun is fast.

mod common;

use std::time::Instant;

use common::*;

const HOST: &str = "h1";
const USER: &str = "ptest-hubuser";
const PASSWORD: &str = "ptest-Hub-pass-7";
const PORT: u16 = 8000;

/// Run shell on the test host (ad hoc); returns the exit status and the output.
fn on_host(cmd: &str) -> (i32, String) {
    let f = fleet();
    let run = provision([HOST, "-i", f.inventory.to_str().unwrap(), "-m", "shell", "-a", cmd]);
    (run.code(), format!("{}{}", run.stdout(), run.stderr()))
}

/// A task that sets the hub up as the test wants it, with `extra` argument lines.
fn hub_task(extra: &str) -> String {
    format!(
        "    - jupyterhub:\n        port: {PORT}\n        admin_users: [{USER}]\n        allowed_users: [{USER}]\n        idle_culler:\n          enabled: yes\n          timeout: 600\n        timeout: 180\n{extra}      register: hub\n\
\x20   - assert:\n        that:\n          - hub.url == 'http://127.0.0.1:{PORT}/'\n          - hub.config_path == '/etc/jupyterhub/jupyterhub_config.py'\n          - hub.unit == 'jupyterhub.service'\n          - hub.version is not none or ansible_check_mode\n"
    )
}

fn try_login(password: &str) -> String {
    use base64::Engine;
    // Sent encoded: the script's quotes and `=` would not survive `-a` free form.
    let code = base64::engine::general_purpose::STANDARD.encode(hub_login_script(PORT, USER, password));
    let (rc, out) = on_host(&format!("python3 -c \"import base64; exec(base64.b64decode('{code}'))\""));
    assert_eq!(rc, 0, "{out}");
    out
}

#[test]
fn jupyterhub_installs_runs_and_lets_a_pam_user_log_in() {
    let (rc, out) = on_host(&format!(
        "id -u {USER} >/dev/null 2>&1 || useradd -m -s /bin/bash {USER}; echo '{USER}:{PASSWORD}' | chpasswd"
    ));
    assert_eq!(rc, 0, "{out}");
    let dir = tempdir();
    // Start from a host without the service (the venv, if a run left one, stays).
    let reset = write_playbook(dir.path(), HOST, "reset.yml", "    - jupyterhub:\n        state: absent\n");
    let f = fleet();
    provision([reset.to_str().unwrap(), "-i", f.inventory.to_str().unwrap()]).expect_code(0);

    let hub = write_playbook(dir.path(), HOST, "hub.yml", &hub_task(""));
    play_on(HOST, &hub, true, 1);
    let first = Instant::now();
    play_on(HOST, &hub, false, 1);
    let first = first.elapsed();
    let second = Instant::now();
    let run = play_with(HOST, &hub, &["-v"], 0);
    let second = second.elapsed();
    eprintln!("jupyterhub: first run {first:?}, second run {second:?}\n{}", run.stdout());

    // Check mode predicts a change of port or admins and changes nothing.
    let port = write_playbook(dir.path(), HOST, "port.yml", &hub_task("").replace(&format!("port: {PORT}"), "port: 8010").replace(&format!("'http://127.0.0.1:{PORT}/'"), "'http://127.0.0.1:8010/'"));
    play_on(HOST, &port, true, 1);
    let admins = write_playbook(dir.path(), HOST, "admins.yml", &hub_task("").replace(&format!("admin_users: [{USER}]"), "admin_users: [root]"));
    let run = play_with(HOST, &admins, &["--check", "--diff"], 1);
    assert!(run.stdout().contains("+c.Authenticator.admin_users = {\"root\"}"), "{}", run.stdout());
    play_on(HOST, &hub, false, 0);
    let (_, out) = on_host("grep -E '^c.JupyterHub.port|^c.Authenticator.admin_users' /etc/jupyterhub/jupyterhub_config.py; stat -c %a /etc/jupyterhub/jupyterhub_config.py; systemctl is-active jupyterhub");
    assert!(out.contains(&format!("c.JupyterHub.port = {PORT}\n")) && out.contains(&format!("admin_users = {{\"{USER}\"}}")), "{out}");
    assert!(out.contains("640\n") && out.contains("active"), "{out}");
    // The idle culler runs as a hub-managed service, from the venv.
    let (_, out) = on_host("pgrep -af jupyterhub_idle_culler");
    assert!(out.contains("/opt/jupyterhub/venv/bin/python -m jupyterhub_idle_culler --timeout=600"), "{out}");

    // The hub answers from the host, and a PAM user logs in through it.
    let out = try_login(PASSWORD);
    eprintln!("login: {out}");
    assert!(out.contains("GET 200"), "{out}");
    assert!(out.contains("POST 302"), "{out}");
    assert!(out.contains("jupyterhub-session-id") || out.contains("jupyterhub-hub-login"), "{out}");
    let out = try_login("wrong-password");
    assert!(out.contains("GET 200") && !out.contains("POST 302") && !out.contains("jupyterhub-hub-login"), "{out}");
}
