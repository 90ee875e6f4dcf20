//! The person at the terminal and CI: the live status line on a terminal (a
//! pseudo-terminal from util-linux `script`), never on a pipe; prompts that never reach
//! stdout (a JSON report stays valid); prompts without a terminal.

mod common;

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

use common::*;

/// Run `provision ARGS` on a pseudo-terminal; what the terminal received.
fn on_tty(args: &[&str], env: &[(&str, &str)]) -> Option<String> {
    if !Path::new("/usr/bin/script").exists() {
        eprintln!("no /usr/bin/script: the terminal checks are skipped");
        return None;
    }
    let line = std::iter::once(env!("CARGO_BIN_EXE_provision").to_string())
        .chain(args.iter().map(|a| format!("'{a}'")))
        .collect::<Vec<_>>()
        .join(" ");
    let mut cmd = Command::new("/usr/bin/script");
    cmd.args(["-qec", &line, "/dev/null"])
        .current_dir(root())
        .env("TERM", "xterm")
        .env_remove("NO_COLOR")
        .env_remove("CLICOLOR_FORCE")
        .env_remove("CI")
        .env_remove("PROVISION_NO_PROGRESS")
        .env_remove("SSH_AUTH_SOCK");
    for (k, v) in env {
        cmd.env(k, v);
    }
    Some(String::from_utf8_lossy(&cmd.output().unwrap().stdout).into_owned())
}

const STREAM: &str = "    - name: quick\n      command: \"true\"\n    - name: stream\n      shell: \"for i in 1 2 3; do echo line$i; sleep 1; done\"\n";

#[test]
fn a_terminal_gets_the_live_line_and_streamed_output() {
    let f = fleet();
    let dir = tempdir();
    let pb = write_playbook(dir.path(), "h5", "live.yml", STREAM);
    let args = [pb.to_str().unwrap(), "-i", f.inventory.to_str().unwrap(), "-v"];
    let Some(tty) = on_tty(&args, &[("NO_COLOR", "1")]) else { return };
    // NO_COLOR: no escape sequence at all, the line redrawn with `\r` alone.
    assert!(!tty.contains('\x1b'), "escape sequences with NO_COLOR: {tty:?}");
    assert!("⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏".chars().any(|c| tty.contains(&format!("\r{c} TASK [quick] "))), "no redraw: {tty:?}");
    assert!(tty.contains("TASK [stream] ") && tty.contains("(total "), "{tty:?}");
    assert!(tty.contains("h5 …") && tty.contains("h5 ✓"), "{tty:?}");
    // `-v`: the command's lines as they came, before its result.
    let l1 = tty.find("h5 | line1").expect("streamed line1");
    let l3 = tty.find("h5 | line3").expect("streamed line3");
    let result = tty.find("changed: [h5] => {\"changed\": true, \"cmd\": \"for i").expect("the result");
    assert!(l1 < l3 && l3 < result, "{tty:?}");
    // The normal lines are whole (the status line is cleared before each), and nothing
    // is left of it at the end.
    assert!(tty.contains("\nPLAY RECAP ****"), "{tty:?}");
    let tail = tty.rsplit('\n').next().unwrap_or("");
    assert!(!tail.contains("TASK ["), "the status line is left on the screen: {tail:?}");
    // What a result line leaves on the screen: the status line blanked, then the result
    // from the first column.
    for l in tty.split('\n').filter(|l| l.contains("changed: [h5]")) {
        let parts: Vec<&str> = l.trim_end_matches('\r').split('\r').collect();
        let (last, before) = (parts[parts.len() - 1], parts.get(parts.len().wrapping_sub(2)).copied().unwrap_or(""));
        assert!(last.starts_with("changed: [h5]") && before.trim().is_empty(), "a result line mixed with the status line: {l:?}");
    }
    // With colours: redrawn with "clear line", coloured marks.
    let tty = on_tty(&args, &[]).unwrap();
    assert!(tty.contains("\r\x1b[2K") && tty.contains("TASK [stream] "), "no redraw: {tty:?}");
    let tail = tty.rsplit('\n').next().unwrap_or("");
    assert!(!tail.contains("TASK ["), "the status line is left on the screen: {tail:?}");
}

#[test]
fn a_pipe_gets_no_redraws_and_no_streaming() {
    let f = fleet();
    let dir = tempdir();
    let pb = write_playbook(dir.path(), "h5", "live.yml", STREAM);
    let run = provision([pb.to_str().unwrap(), "-i", f.inventory.to_str().unwrap(), "-v"]);
    run.expect_code(0);
    let out = run.stdout();
    assert!(!out.contains('\x1b') && !out.contains('\r'), "escape codes or redraws on a pipe: {out:?}");
    assert!(!out.contains("h5 | line1"), "streamed on a pipe: {out}");
    assert!(out.contains("\"stdout\": \"line1\\nline2\\nline3\""), "{out}");
}

#[test]
fn no_live_line_in_ci_or_with_json() {
    let f = fleet();
    let dir = tempdir();
    let pb = write_playbook(dir.path(), "h5", "q.yml", "    - name: quick\n      command: \"true\"\n");
    let inv = f.inventory.to_str().unwrap();
    let Some(ci) = on_tty(&[pb.to_str().unwrap(), "-i", inv], &[("CI", "true")]) else { return };
    assert!(ci.contains("changed: [h5]") && !ci.contains("\x1b[2K") && !ci.contains("(total "), "{ci:?}");
    let json = on_tty(&[pb.to_str().unwrap(), "-i", inv, "--output", "json"], &[]).unwrap();
    assert!(!json.contains('\x1b'), "{json:?}");
    // (The terminal also shows stderr: the run lock's warnings while other tests hold it.)
    for line in json.lines().filter(|l| !l.trim().is_empty() && !l.starts_with("[WARNING]")) {
        serde_json::from_str::<serde_json::Value>(line.trim_end_matches('\r')).unwrap_or_else(|e| panic!("{e}: {line:?}"));
    }
}

/// Run a local playbook with stdin from `input` (not a terminal).
fn local(dir: &Path, tasks: &str, head: &str, extra: &[&str], input: &str) -> (i32, String, String) {
    let pb = dir.join("pb.yml");
    std::fs::write(&pb, format!("- hosts: localhost\n  gather_facts: no\n{head}  tasks:\n{tasks}")).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_provision"))
        .args([pb.to_str().unwrap(), "-i", "localhost,", "-c", "local"])
        .args(extra)
        .env("NO_COLOR", "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    (out.status.code().unwrap_or(-1), String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned())
}

fn all_json(stdout: &str) {
    for line in stdout.lines() {
        serde_json::from_str::<serde_json::Value>(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line:?}\n{stdout}"));
    }
}

#[test]
fn step_prompts_on_stderr_and_the_json_report_stays_valid() {
    let dir = tempdir();
    let (code, out, err) = local(dir.path(), "    - name: one\n      command: \"true\"\n", "", &["--step", "--output", "json"], "y\n");
    assert_eq!(code, 0, "{out}\n{err}");
    all_json(&out);
    assert!(err.contains("Perform task: TASK: one (N)o/(y)es/(c)ontinue:"), "{err}");
    assert!(out.contains("\"status\":\"changed\""), "{out}");
}

#[test]
fn pause_without_a_terminal_does_not_wait() {
    let dir = tempdir();
    let (code, out, err) = local(dir.path(), "    - pause:\n        prompt: Continue?\n    - command: \"true\"\n", "", &["--output", "json"], "");
    assert_eq!(code, 0, "{out}\n{err}");
    all_json(&out);
    assert!(!out.contains("Continue?"), "{out}");
    assert!(err.contains("[WARNING]: Not waiting for response to prompt as stdin is not interactive"), "{err}");
}

#[test]
fn vars_prompt_without_a_terminal_uses_the_default_or_says_how() {
    let dir = tempdir();
    let with_default = "  vars_prompt:\n    - name: who\n      prompt: Who?\n      default: ann\n      private: no\n";
    let (code, out, err) = local(dir.path(), "    - debug: msg=\"hi {{ who }}\"\n", with_default, &["--output", "json"], "");
    assert_eq!(code, 0, "{out}\n{err}");
    all_json(&out);
    assert!(out.contains("hi ann"), "{out}");
    let without = "  vars_prompt:\n    - name: who\n      prompt: Who?\n      private: no\n";
    let (code, out, err) = local(dir.path(), "    - debug: msg=\"hi {{ who }}\"\n", without, &["--output", "json"], "");
    assert_eq!(code, 1, "{out}\n{err}");
    assert!(err.contains("vars_prompt `who` needs an answer and there is no terminal") && err.contains("-e who=VALUE"), "{err}");
    let (code, out, _) = local(dir.path(), "    - debug: msg=\"hi {{ who }}\"\n", without, &["--output", "json", "-e", "who=bo"], "");
    assert_eq!(code, 0);
    assert!(out.contains("hi bo"), "{out}");
}
