//! The ML project's servers built on the lab fleet by `playbooks/site.yml` (h1 DEV,
//! h2 TRAIN, h3 PROD, h4 DATA; the lab's role variables are in tests/fleet/lab-vars.yml):
//! the first run from the hosts as the fleet made them, then what each server must do —
//! JupyterHub's login through the hub, the research environment's imports, a prediction
//! through nginx, `dvc push` from DEV landing on DATA and `dvc pull` on TRAIN — then a
//! second run that changes nothing, and `--check --diff` after a template change that
//! predicts exactly that change. One test: the steps depend on each other.

mod common;

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::*;

const SERVERS: [&str; 4] = ["h1", "h2", "h3", "h4"];

fn on(host: &str, cmd: &str) -> (i32, String) {
    let f = fleet();
    let run = provision([host, "-i", f.inventory.to_str().unwrap(), "-m", "shell", "-a", cmd]);
    (run.code(), format!("{}{}", run.stdout(), run.stderr()))
}

/// Run Python on a host, sent base64-encoded (quotes survive).
fn python_on(host: &str, code: &str) -> (i32, String) {
    use base64::Engine;
    let b64 = base64::engine::general_purpose::STANDARD.encode(code);
    on(host, &format!("python3 -c \"import base64; exec(base64.b64decode('{b64}'))\""))
}

fn site(extra: &[&str], env: &[(&str, &str)]) -> Run {
    let f = fleet();
    let mut args = vec!["playbooks/site.yml".to_string(), "-i".into(), f.inventory.display().to_string()];
    args.extend(extra.iter().map(|s| s.to_string()));
    provision_in(&root(), &args, env)
}

/// `ssh -N -R 22044:127.0.0.1:<DATA's port>` into `host`: DATA's sshd appears on the
/// host's loopback, through the control machine (never container addresses).
fn tunnel(host: usize, data: usize) -> Child {
    let f = fleet();
    Command::new("ssh")
        .args(["-N", "-o", "BatchMode=yes", "-o", "ExitOnForwardFailure=yes", "-o", "StrictHostKeyChecking=yes"])
        .arg("-o")
        .arg(format!("UserKnownHostsFile={}", f.known_hosts.display()))
        .arg("-i")
        .arg(&f.key)
        .args(["-p", &port(host).to_string(), "-R", &format!("22044:127.0.0.1:{}", port(data)), "root@127.0.0.1"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("ssh for the tunnel")
}


fn recaps(out: &str) -> Vec<(String, (usize, usize, usize))> {
    SERVERS.iter().map(|h| (h.to_string(), recap_of(out, h))).collect()
}

#[test]
fn site_builds_the_ml_servers_and_a_second_run_changes_nothing() {
    // 1. From the hosts as they are: everything gets built.
    let first = site(&[], &[]);
    eprintln!("site.yml, first run: {:.1} s", first.elapsed.as_secs_f64());
    assert_eq!(first.code(), 0, "first run\n{}\n{}", first.stdout(), first.stderr());
    for (h, (_, _, failed)) in recaps(&first.stdout()) {
        assert_eq!(failed, 0, "{h} failed:\n{}", first.stdout());
    }

    // 2. DEV: the hub's login page answers, and a team member logs in through the hub.
    let (rc, out) = python_on("h1", &hub_login_script(8000, "team-alice", "team-alice-pass"));
    assert_eq!(rc, 0, "{out}");
    assert!(out.contains("GET 200"), "{out}");
    assert!(out.contains("POST 302"), "the login is accepted: {out}");
    assert!(out.contains("jupyterhub-session-id"), "{out}");

    // 3. TRAIN (and DEV): the research environment imports numpy and scikit-learn.
    for h in ["h1", "h2"] {
        let (rc, out) = on(h, "/opt/envs/research/bin/python -c 'import numpy, sklearn; print(\"imports\", numpy.__version__, sklearn.__version__)'");
        assert_eq!(rc, 0, "{h}: {out}");
        assert!(out.contains("imports"), "{h}: {out}");
    }

    // 4. PROD: a prediction through nginx, the static files, the container's health.
    let (rc, out) = on("h3", "curl -fsS 127.0.0.1/predict && echo && curl -fsS -X POST -H 'Content-Type: application/json' -d '{\"features\": [[6.7, 3.0, 5.2, 2.3]]}' 127.0.0.1/predict && echo && curl -fsS 127.0.0.1/static/index.html");
    assert_eq!(rc, 0, "{out}");
    assert!(out.contains("\"prediction\": [0]") && out.contains("setosa"), "GET /predict: {out}");
    assert!(out.contains("virginica"), "POST /predict: {out}");
    assert!(out.contains("<h1>ML API</h1>"), "static files: {out}");

    // 5. dvc: push from DEV lands on DATA, pull on TRAIN gets it back.
    let mut tunnels = vec![tunnel(1, 4), tunnel(2, 4)];
    std::thread::sleep(Duration::from_secs(2));
    let marker = format!("dataset made at {:?}", std::time::SystemTime::now());
    let (rc, out) = on(
        "h1",
        &format!(
            "cd /srv/ml-project && sudo -u mlops sh -c 'mkdir -p data && printf \"%s\\n\" \"{marker}\" > data/train.csv && dvc add -q data/train.csv && dvc push -q && cat data/train.csv.dvc'"
        ),
    );
    assert_eq!(rc, 0, "dvc push from h1: {out}");
    let pushed = out.clone();
    let md5 = out.lines().find_map(|l| l.trim().strip_prefix("- md5: ").or_else(|| l.trim().strip_prefix("md5: "))).map(str::to_string);
    let md5 = md5.unwrap_or_else(|| panic!("no md5 in the .dvc file: {out}"));
    let (rc, out) = on("h4", &format!("find /srv/dvc-storage -type f -path '*{}*' | head -1 | xargs cat", &md5[2..]));
    assert_eq!(rc, 0, "{out}");
    assert!(out.contains(&marker), "the file is on DATA: {out}");
    // The .dvc file as DEV wrote it (what git would carry), then `dvc pull` on TRAIN.
    let dvc_file: String = pushed.lines().skip_while(|l| !l.starts_with("outs:")).map(|l| format!("{l}\n")).collect();
    let b64 = {
        use base64::Engine;
        base64::engine::general_purpose::STANDARD.encode(&dvc_file)
    };
    let (rc, out) = on(
        "h2",
        &format!(
            "cd /srv/ml-project && sudo -u mlops sh -c 'mkdir -p data && echo {b64} | base64 -d > data/train.csv.dvc && rm -f data/train.csv && dvc pull data/train.csv.dvc && cat data/train.csv'"
        ),
    );
    for t in &mut tunnels {
        let _ = t.kill();
        let _ = t.wait();
    }
    assert_eq!(rc, 0, "dvc pull on h2: {out}");
    assert!(out.contains(&marker), "pulled on TRAIN: {out}");

    // 6. Again: nothing changes anywhere.
    let second = site(&[], &[]);
    eprintln!("site.yml, second run: {:.1} s", second.elapsed.as_secs_f64());
    assert_eq!(second.code(), 0, "{}\n{}", second.stdout(), second.stderr());
    for (h, (_, changed, failed)) in recaps(&second.stdout()) {
        assert_eq!((changed, failed), (0, 0), "{h} on the second run:\n{}", second.stdout());
    }

    // 7. A template changes: --check --diff predicts exactly that change (and the
    //    handler it notifies), and changes nothing.
    let dir = tempdir();
    let roles = dir.path().join("roles");
    copy_dir(&root().join("roles/ml_api"), &roles.join("ml_api"));
    let tpl = roles.join("ml_api/templates/ml_api.nginx.conf.j2");
    let text = std::fs::read_to_string(&tpl).unwrap().replace("    location / {", "    # a reviewed change\n    location / {");
    std::fs::write(&tpl, text).unwrap();
    let check = site(&["--check", "--diff", "--limit", "prod"], &[("PROVISION_ROLES_PATH", roles.to_str().unwrap())]);
    assert_eq!(check.code(), 0, "{}\n{}", check.stdout(), check.stderr());
    let out = check.stdout();
    assert_eq!(recap_of(&out, "h3").1, 2, "the template task and its handler:\n{out}");
    assert!(out.contains("+    # a reviewed change"), "{out}");
    let (_, conf) = on("h3", "grep -c 'a reviewed change' /etc/nginx/sites-available/ml_api.conf || true");
    assert!(conf.trim_end().ends_with('0'), "check mode changed nothing: {conf}");
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let p = e.path();
        if p.is_dir() {
            copy_dir(&p, &to.join(e.file_name()));
        } else {
            std::fs::copy(&p, to.join(e.file_name())).unwrap();
        }
    }
}
