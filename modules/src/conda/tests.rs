//! `conda` against a fake host that answers with real conda outputs (fixtures/):
//! arguments and what the host says → the commands sent and the result.

use serde_json::json;

use super::*;
use crate::file::tests::{run_module, Fake};
use crate::ExecOutput;

const ENV_CLASSIC: &str = include_str!("fixtures/env_list_classic.json");
const ENV_ROOT: &str = include_str!("fixtures/env_list_with_root.json");
const ENV_25: &str = include_str!("fixtures/env_list_25.json");
const LIST_ZLIB: &str = include_str!("fixtures/list_zlib_zstd.json");
const LIST_PY: &str = include_str!("fixtures/list_python395.json");
const UPDATE_LINK: &str = include_str!("fixtures/update_fsl_sub.json");
const UPDATE_NOOP: &str = include_str!("fixtures/update_noop.json");

/// What the probe prints: the executable, the env list, and for an existing
/// environment its path, `conda list --json`, and the stored hash.
fn host(exe: &str, env_json: &str, env: Option<(&str, &str)>, marker: Option<&str>, file_hash: Option<&str>) -> String {
    let mut s = format!("{TAG} exe {exe}\n{TAG} envrc 0\n");
    for l in env_json.lines() {
        s.push_str(&format!("{TAG} envjson {l}\n"));
    }
    if let Some((prefix, list)) = env {
        s.push_str(&format!("{TAG} prefix {prefix}\n{TAG} listrc 0\n"));
        for l in list.lines() {
            s.push_str(&format!("{TAG} list {l}\n"));
        }
        if let Some(m) = marker {
            s.push_str(&format!("{TAG} marker {m}\n"));
        }
    }
    if let Some(h) = file_hash {
        s.push_str(&format!("{TAG} filehash {h}\n"));
    }
    s
}

fn run(a: serde_json::Value, answers: &[&str], check: bool) -> (ModuleResult, Vec<String>) {
    let fake = Fake::new(answers);
    let r = run_module(&Conda, a, &fake, check, true);
    (r, fake.commands())
}

const OPT: &str = "/opt/conda/bin/conda";

#[test]
fn version_order_follows_conda() {
    use std::cmp::Ordering::*;
    for (a, b) in [("1.1dev1", "1.1a1"), ("1.1a1", "1.1b1"), ("1.1b1", "1.1rc1"), ("1.1rc1", "1.1"), ("1.1", "1.1.post1"), ("1.9", "1.10"), ("1.26.4", "2.0")] {
        assert_eq!(compare_versions(a, b), Less, "{a} < {b}");
        assert_eq!(compare_versions(b, a), Greater, "{b} > {a}");
    }
    assert_eq!(compare_versions("1.26", "1.26.0"), Equal);
    assert_eq!(compare_versions("3.9.5", "3.9.5+local"), Equal);
}

#[test]
fn specs_and_matching() {
    let s = |t: &str| parse_spec(t).unwrap();
    assert_eq!(s("conda-forge::numpy>=1.26,<2").name, "numpy");
    assert_eq!(s("numpy>=1.26,<2").constraints, vec![(">=".to_string(), "1.26".to_string()), ("<".to_string(), "2".to_string())]);
    assert_eq!(s("numpy=1.26.4=py311h64a7726_0").build.as_deref(), Some("py311h64a7726_0"));
    assert_eq!(s("numpy 1.26.*").constraints, vec![("=".to_string(), "1.26.*".to_string())]);
    assert!(parse_spec("num py;").is_err() && parse_spec("").is_err() && parse_spec("numpy=>1").is_err());
    let ok = |spec: &str, v: &str| satisfies(&s(spec), v, "hdb3f193_3");
    assert!(ok("python", "3.9.5") && ok("python=3.9", "3.9.5") && ok("python=3.9.5", "3.9.5") && ok("python==3.9.5", "3.9.5"));
    assert!(!ok("python=3.1", "3.10.1") && !ok("python=3.10", "3.9.5") && !ok("python==3.9", "3.9.5"));
    assert!(ok("python>=3.8,<3.10", "3.9.5") && !ok("python>=3.10", "3.9.5") && ok("python!=3.9.4", "3.9.5"));
    assert!(ok("python 3.9.*", "3.9.5") && ok("python=3.9.5=hdb3f193_3", "3.9.5") && ok("python=3.9.5=h*", "3.9.5") && !ok("python=3.9.5=py*", "3.9.5"));
    assert!(ok("python~=3.9.2", "3.9.5") && !ok("python~=3.9.2", "3.10.0"));
}

#[test]
fn real_outputs_parse() {
    assert_eq!(parse_env_list(ENV_CLASSIC).unwrap(), vec!["/home/alan/miniconda3/envs/test", "/home/alan/miniconda3/envs/website"]);
    assert_eq!(parse_env_list(ENV_ROOT).unwrap().len(), 3);
    assert_eq!(parse_env_list(ENV_25).unwrap(), vec!["/opt/conda", "/opt/conda/envs/demo"]);
    let l = parse_list(LIST_ZLIB).unwrap();
    assert_eq!(l[1], Installed { name: "zstd".into(), version: "1.4.4".into(), build: "h3b9ef0a_1".into() });
    assert_eq!(parse_list(LIST_PY).unwrap()[0].version, "3.9.5");
    assert!(parse_list(r#"{"error": "EnvironmentLocationNotFound: Not a conda environment: /x"}"#).is_err());
    assert_eq!(json_changed(UPDATE_LINK), Some(true));
    assert_eq!(json_changed(UPDATE_NOOP), Some(false));
    assert_eq!(json_linked(UPDATE_LINK), vec!["fsl_sub=2.0.0"]);
}

/// The probe's shell finds named environments in the env list, the 25.x form included.
#[test]
fn the_probe_finds_environments_in_every_env_list_shape() {
    let a = crate::file::tests::args(json!({"name": "demo"}));
    let script = probe_script(&a, &Target { name: Some("demo".into()), prefix: None });
    assert!(script.contains("p=$(find_env demo)"), "{script}");
    assert!(script.contains("\"$exe\" env list --json") && script.contains("\"$exe\" list --json -p \"$p\""), "{script}");
    // Run find_env in a real shell over the fixtures, with a fake environment on disk.
    let dir = std::env::temp_dir().join(format!("provision-conda-test-{}", std::process::id()));
    let root = dir.join("opt/conda");
    std::fs::create_dir_all(root.join("envs/demo/conda-meta")).unwrap();
    std::fs::create_dir_all(root.join("envs/other/conda-meta")).unwrap();
    let locate = locate_script(&a);
    let func = &locate[locate.find("find_env()").unwrap()..];
    for fixture in [ENV_25, ENV_ROOT, &ENV_25.replace('\n', " ")] {
        let json = fixture.replace("/opt/conda", &root.display().to_string()).replace("/opt/miniconda3/envs/my-first-env", &root.join("envs/demo").display().to_string());
        let out = std::process::Command::new("sh").arg("-c").arg(format!("{func}envjson=\"$1\"\nfind_env demo")).arg("sh").arg(&json).output().unwrap();
        assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), root.join("envs/demo").display().to_string(), "{json}");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn satisfied_specs_cost_one_round_trip() {
    let answer = host(OPT, ENV_25, Some(("/opt/conda/envs/demo", LIST_PY)), None, None);
    let (r, sent) = run(json!({"name": "demo", "packages": ["python=3.9"]}), &[&answer], false);
    assert!(!r.changed() && !r.is_failed(), "{r:?}");
    assert_eq!(sent.len(), 1);
    assert_eq!(r.0["prefix"], "/opt/conda/envs/demo");
    assert_eq!(r.0["executable"], OPT);
    let (r, sent) = run(json!({"name": "demo", "python": "3.9"}), &[&answer], false);
    assert!(!r.changed() && sent.len() == 1, "{r:?}");
}

#[test]
fn missing_packages_are_installed_alone() {
    let answer = host(OPT, ENV_25, Some(("/opt/conda/envs/demo", LIST_ZLIB)), None, None);
    let a = json!({"name": "demo", "packages": ["zlib", "zstd>=1.5", "numpy=1.26"], "channels": ["conda-forge"]});
    let (r, sent) = run(a.clone(), &[&answer], true);
    assert!(r.changed() && sent.len() == 1, "{r:?}");
    assert_eq!(r.0["cmd"], "/opt/conda/bin/conda install -y -q -p /opt/conda/envs/demo -c conda-forge 'zstd>=1.5' numpy=1.26");
    assert_eq!(r.0["installed"], json!(["zstd>=1.5", "numpy=1.26"]));
    assert_eq!(r.0["diff"]["before"]["packages"], json!(["zlib=1.2.11", "zstd=1.4.4"]));
    let (r, sent) = run(a, &[&answer, "done"], false);
    assert!(r.changed() && !r.is_failed(), "{r:?}");
    assert_eq!(sent.len(), 2);
    assert!(sent[1].ends_with("set -e\n/opt/conda/bin/conda install -y -q -p /opt/conda/envs/demo -c conda-forge 'zstd>=1.5' numpy=1.26\n"), "{}", sent[1]);
}

#[test]
fn a_missing_environment_is_created() {
    let answer = host(OPT, ENV_25, None, None, None);
    let a = json!({"name": "ml", "packages": ["numpy"], "python": "3.11", "channels": "conda-forge", "override_channels": true});
    let (r, sent) = run(a.clone(), &[&answer], true);
    assert!(r.changed() && sent.len() == 1, "{r:?}");
    assert_eq!(r.0["cmd"], "/opt/conda/bin/conda create -y -q -n ml -c conda-forge --override-channels numpy python=3.11");
    assert_eq!(r.0["prefix"], "/opt/conda/envs/ml");
    let (r, sent) = run(a, &[&answer, ""], false);
    assert!(r.changed() && !r.is_failed() && sent.len() == 2, "{r:?}");
    // An empty environment.
    let (r, _) = run(json!({"prefix": "/srv/env"}), &[&answer], true);
    assert_eq!(r.0["cmd"], "/opt/conda/bin/conda create -y -q -p /srv/env");
}

#[test]
fn environment_files_are_tracked_by_hash() {
    let h = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";
    let a = json!({"name": "demo", "environment_file": "/srv/app/environment.yml"});
    // Same hash: nothing to do.
    let (r, sent) = run(a.clone(), &[&host(OPT, ENV_25, Some(("/opt/conda/envs/demo", LIST_PY)), Some(h), Some(h))], false);
    assert!(!r.changed() && !r.is_failed() && sent.len() == 1, "{r:?}");
    assert!(sent[0].contains("sha256sum < /srv/app/environment.yml") && sent[0].contains("conda-meta/provision-env.sha256"), "{}", sent[0]);
    // Changed file (or no record yet): update with --prune, then record.
    let (r, sent) = run(a.clone(), &[&host(OPT, ENV_25, Some(("/opt/conda/envs/demo", LIST_PY)), Some("old"), Some(h)), ""], false);
    assert!(r.changed() && !r.is_failed(), "{r:?}");
    assert!(sent[1].contains(&format!(
        "/opt/conda/bin/conda env update -q -p /opt/conda/envs/demo -f /srv/app/environment.yml --prune && printf '%s\\n' {h} > \"/opt/conda/envs/demo/conda-meta/provision-env.sha256.tmp\" && mv -f"
    )), "{}", sent[1]);
    // No environment yet: env create, then find it and record.
    let (r, sent) = run(a.clone(), &[&host(OPT, ENV_25, None, None, Some(h)), &format!("{TAG} prefix /root/.conda/envs/demo\n")], false);
    assert!(r.changed() && !r.is_failed(), "{r:?}");
    assert!(sent[1].contains("/opt/conda/bin/conda env create -q -n demo -f /srv/app/environment.yml && envjson=$(/opt/conda/bin/conda env list --json 2>/dev/null) && p=$(find_env demo) && { [ -n \"$p\" ] ||"), "{}", sent[1]);
    assert!(sent[1].contains("find_env() {"), "{}", sent[1]);
    assert_eq!(r.0["prefix"], "/root/.conda/envs/demo");
    // A file that is not there.
    let mut answer = host(OPT, ENV_25, None, None, None);
    answer.push_str(&format!("{TAG} nofile\n"));
    let (r, _) = run(a, &[&answer], false);
    assert!(r.is_failed() && r.0["msg"].as_str().unwrap().contains("not found on the host"), "{r:?}");
}

#[test]
fn absent() {
    let answer = host(OPT, ENV_25, Some(("/opt/conda/envs/demo", LIST_ZLIB)), None, None);
    let (r, sent) = run(json!({"name": "demo", "state": "absent", "packages": ["zstd", "numpy"]}), &[&answer, ""], false);
    assert!(r.changed() && !r.is_failed(), "{r:?}");
    assert!(sent[1].ends_with("/opt/conda/bin/conda remove -y -q -p /opt/conda/envs/demo zstd\n"), "{}", sent[1]);
    assert_eq!(r.0["removed"], json!(["zstd"]));
    let (r, sent) = run(json!({"name": "demo", "state": "absent"}), &[&answer, ""], false);
    assert!(r.changed(), "{r:?}");
    assert!(sent[1].ends_with("/opt/conda/bin/conda env remove -y -n demo\n"), "{}", sent[1]);
    let (r, sent) = run(json!({"name": "gone", "state": "absent"}), &[&host(OPT, ENV_25, None, None, None)], false);
    assert!(!r.changed() && !r.is_failed() && sent.len() == 1, "{r:?}");
    let (r, _) = run(json!({"name": "base", "state": "absent"}), &[&host(OPT, ENV_25, Some(("/opt/conda", LIST_PY)), None, None)], false);
    assert!(r.is_failed(), "{r:?}");
}

#[test]
fn latest_asks_the_solver() {
    let answer = host(OPT, ENV_25, Some(("/opt/conda/envs/demo", LIST_ZLIB)), None, None);
    let a = json!({"name": "demo", "packages": ["zlib"], "state": "latest"});
    let (r, sent) = run(a.clone(), &[&answer, UPDATE_NOOP], false);
    assert!(!r.changed() && !r.is_failed(), "{r:?}");
    assert_eq!(sent[1], "/opt/conda/bin/conda update -y --json -p /opt/conda/envs/demo zlib");
    let (r, sent) = run(a.clone(), &[&answer, UPDATE_LINK], true);
    assert!(r.changed() && sent[1].ends_with(" --dry-run"), "{sent:?}");
    assert_eq!(r.0["installed"], json!(["fsl_sub=2.0.0"]));
    let (r, _) = run(a, &[&answer, UPDATE_LINK], false);
    assert!(r.changed() && !r.is_failed(), "{r:?}");
}

#[test]
fn no_executable() {
    let none = format!("{TAG} noexe\n");
    let (r, sent) = run(json!({"name": "ml", "packages": ["numpy"]}), &[&none], false);
    assert!(r.is_failed() && sent.len() == 1, "{r:?}");
    assert!(r.0["msg"].as_str().unwrap().starts_with("no conda executable found (looked for /opt/conda/bin/conda, /opt/conda/bin/mamba"), "{r:?}");
    let (r, _) = run(json!({"name": "ml", "state": "absent"}), &[&none], false);
    assert!(!r.changed() && !r.is_failed(), "{r:?}");
    let (r, _) = run(json!({"name": "ml", "install": true}), &[&none], false);
    assert!(r.is_failed() && r.0["msg"].as_str().unwrap().contains("installer"), "{r:?}");
    // With an installer on the host: install, look again, go on.
    let with = format!("{TAG} noexe\n{TAG} installer\n");
    let a = json!({"name": "ml", "packages": ["numpy"], "install": true, "installer": "/tmp/Miniforge3.sh"});
    let (r, sent) = run(a.clone(), &[&with], true);
    assert!(r.changed() && sent.len() == 1 && r.0["cmd"] == "bash /tmp/Miniforge3.sh -b -p /opt/conda", "{r:?}");
    let fake = Fake::with(vec![
        ExecOutput { stdout: with.into_bytes(), ..Default::default() },
        ExecOutput::default(),
        ExecOutput { stdout: host(OPT, r#"{"envs": ["/opt/conda"]}"#, None, None, None).into_bytes(), ..Default::default() },
        ExecOutput::default(),
    ]);
    let r = run_module(&Conda, a, &fake, false, false);
    assert!(r.changed() && !r.is_failed(), "{r:?}");
    let sent = fake.commands();
    assert_eq!(sent[1], "bash /tmp/Miniforge3.sh -b -p /opt/conda");
    assert!(sent[3].ends_with("/opt/conda/bin/conda create -y -q -n ml numpy\n"), "{}", sent[3]);
    // A download when there is no installer file.
    let s = installer_script(&crate::file::tests::args(json!({"installer_url": "https://example.org/Miniforge3-Linux-x86_64.sh"}))).unwrap();
    assert!(s.contains("curl -fsSL -o \"$t\" https://example.org/Miniforge3-Linux-x86_64.sh") && s.contains("wget -q -O") && s.contains("bash \"$t\" -b -p /opt/conda"), "{s}");
}

#[test]
fn micromamba_runs_with_its_root_prefix() {
    let answer = host("/usr/local/bin/micromamba", r#"{"envs": []}"#, None, None, None);
    let (r, sent) = run(json!({"name": "ml", "packages": ["numpy"], "conda_prefix": "/opt/mamba"}), &[&answer, ""], false);
    assert!(r.changed() && !r.is_failed(), "{r:?}");
    assert!(sent[0].contains("*micromamba) export MAMBA_ROOT_PREFIX=\"${MAMBA_ROOT_PREFIX:-/opt/mamba}\""), "{}", sent[0]);
    assert!(sent[1].contains("export MAMBA_ROOT_PREFIX=\"${MAMBA_ROOT_PREFIX:-/opt/mamba}\"\nset -e\n/usr/local/bin/micromamba create -y -n ml numpy\n"), "{}", sent[1]);
}

#[test]
fn bad_arguments() {
    let (r, sent) = run(json!({"packages": ["numpy"]}), &[], false);
    assert!(r.is_failed() && sent.is_empty());
    let (r, _) = run(json!({"name": "a", "prefix": "/x"}), &[], false);
    assert!(r.is_failed());
    let (r, _) = run(json!({"name": "a", "packages": ["numpy=>1"]}), &[], false);
    assert!(r.is_failed());
    let (r, _) = run(json!({"name": "../x"}), &[], false);
    assert!(r.is_failed());
}
