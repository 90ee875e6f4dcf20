//! The live status line of a playbook run on a terminal: under the normal output, the
//! current task, each host's state in it (`h1 ✓ h2 … h3 ✗`) and the elapsed time,
//! redrawn in place a few times a second.
//!
//! It is only ever on when stdout is a terminal and the output is the human one (not
//! `--output json`), and not with `TERM=dumb`, `CI` set, `--step` or `PROVISION_NO_PROGRESS`.
//! So output to a pipe or file (CI logs) is byte for byte what it was: no redraws and no
//! escape sequences. The line is cleared before every normal line is printed (the
//! printer goes through [`print_stdout`]) and at the end of the run. With `NO_COLOR` it
//! is still shown, without colours and without any escape sequence (redrawn with `\r`
//! and blanked with spaces).
//!
//! With `-v`, the output of `command`/`shell`/`raw`/`script` tasks is streamed line by line
//! as it arrives, prefixed with the host name ([`stream`]), fed by the connection layer's
//! output tap (`connection::privilege::TAP`).
//!
//! Drawn with the `console` crate (already used for colours and terminal checks) rather
//! than `indicatif`: one line of text with per-host marks, cleared around our own prints,
//! needs only "clear line" and the terminal's width, not progress bars.

use std::collections::HashMap;
use std::io::Write;
use std::sync::{Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant};

use console::Style;
use indexmap::IndexMap;

use super::events::{Event, Sink};
use super::playbook::Status;

/// A host's state in the current task.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mark {
    Running,
    Done(Status),
}

#[derive(Default)]
struct State {
    enabled: bool,
    /// Whether the status line is on the screen now (the cursor at its end).
    drawn: bool,
    color: bool,
    /// Stream command output (`-v`).
    stream: bool,
    task: Option<String>,
    task_start: Option<Instant>,
    run_start: Option<Instant>,
    play_hosts: Vec<String>,
    /// Hosts out of the play (failed, unreachable): not waited for in later tasks.
    gone: Vec<String>,
    marks: IndexMap<String, Mark>,
    /// Streamed output not yet ended by a newline, per host and stream.
    partial: HashMap<(String, bool), Vec<u8>>,
    frame: usize,
    /// A prompt is waiting for an answer: no drawing.
    suspended: bool,
    /// Columns of the line on the screen (to blank it without escape sequences).
    shown_width: usize,
}

fn state() -> MutexGuard<'static, State> {
    static STATE: OnceLock<Mutex<State>> = OnceLock::new();
    STATE.get_or_init(|| Mutex::new(State::default())).lock().unwrap_or_else(|e| e.into_inner())
}

/// Should this run show the live line? `stdout_is_term`: stdout is a terminal; `human`:
/// the human output (not JSON); `step`: `--step` (its prompts own the terminal).
pub fn wanted(stdout_is_term: bool, human: bool, step: bool) -> bool {
    let env = |k: &str| std::env::var_os(k).is_some_and(|v| !v.is_empty());
    stdout_is_term
        && human
        && !step
        && !env("CI")
        && !env("PROVISION_NO_PROGRESS")
        && std::env::var("TERM").map_or(true, |t| t != "dumb")
}

/// Turn the live line on (the caller checked [`wanted`]); `stream`: `-v`, stream the
/// output of commands. A thread redraws the elapsed time until [`finish`].
pub fn enable(stream: bool) {
    {
        let mut s = state();
        if s.enabled {
            return;
        }
        s.enabled = true;
        s.stream = stream;
        s.color = console::colors_enabled();
        s.run_start = Some(Instant::now());
    }
    std::thread::spawn(|| loop {
        std::thread::sleep(Duration::from_millis(250));
        let mut s = state();
        if !s.enabled {
            break;
        }
        s.frame += 1;
        if s.task.is_some() {
            draw(&mut s);
        }
    });
}

/// Is the live line on?
pub fn enabled() -> bool {
    state().enabled
}

/// Are command outputs streamed (live line on, `-v`)?
pub fn streaming() -> bool {
    let s = state();
    s.enabled && s.stream
}

/// Clear the line and turn it off for good (end of the run).
pub fn finish() {
    let mut s = state();
    erase(&mut s);
    s.enabled = false;
    s.task = None;
}

/// The live line stays off the screen while this lives (a prompt waits for an answer).
pub struct Suspended;

pub fn suspend() -> Suspended {
    let mut s = state();
    erase(&mut s);
    s.suspended = true;
    Suspended
}

impl Drop for Suspended {
    fn drop(&mut self) {
        state().suspended = false;
    }
}

/// Take the status line off the screen (before something else is written, or a prompt).
pub fn clear() {
    erase(&mut state());
}

/// With colours, "clear line"; without (`NO_COLOR`), no escape sequence at all: the line
/// is blanked with spaces.
fn erase(s: &mut State) {
    if s.drawn {
        let mut out = std::io::stdout().lock();
        if s.color {
            let _ = out.write_all(b"\r\x1b[2K");
        } else {
            let _ = write!(out, "\r{}\r", " ".repeat(s.shown_width));
        }
        let _ = out.flush();
        s.drawn = false;
    }
}

/// Print a line on stdout: under the live line's care when it is on, plainly otherwise.
pub fn print_stdout(text: &str) {
    let mut s = state();
    erase(&mut s);
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{text}");
    let _ = out.flush();
    drop(out);
    if s.enabled && s.task.is_some() {
        draw(&mut s);
    }
}

/// Print a line on stderr without breaking the live line.
pub fn stderr_line(text: &str) {
    let mut s = state();
    erase(&mut s);
    let _ = writeln!(std::io::stderr(), "{text}");
    if s.enabled && s.task.is_some() {
        draw(&mut s);
    }
}

/// Output of a command on `host` as it arrives (`out`: stdout): printed line by line,
/// prefixed with the host.
pub fn stream(host: &str, out: bool, data: &[u8]) {
    let mut s = state();
    if !(s.enabled && s.stream) {
        return;
    }
    let buf = s.partial.entry((host.to_string(), out)).or_default();
    buf.extend_from_slice(data);
    let mut lines = Vec::new();
    while let Some(i) = buf.iter().position(|&b| b == b'\n') {
        let line: Vec<u8> = buf.drain(..=i).collect();
        lines.push(String::from_utf8_lossy(&line).trim_end_matches(['\n', '\r']).to_string());
    }
    if lines.is_empty() {
        return;
    }
    let prefix = if out { format!("{host} | ") } else { format!("{host} ! ") };
    let prefix = if s.color { Style::new().dim().force_styling(true).apply_to(prefix).to_string() } else { prefix };
    erase(&mut s);
    let mut o = std::io::stdout().lock();
    for l in lines {
        let _ = writeln!(o, "{prefix}{l}");
    }
    let _ = o.flush();
    drop(o);
    draw(&mut s);
}

/// The rest of a host's streamed output that had no final newline.
fn flush_partial(s: &mut State, host: &str) {
    for out in [true, false] {
        if let Some(rest) = s.partial.remove(&(host.to_string(), out)).filter(|r| !r.is_empty()) {
            let text = String::from_utf8_lossy(&rest).to_string();
            erase(s);
            let _ = writeln!(std::io::stdout(), "{host} {} {text}", if out { '|' } else { '!' });
        }
    }
}

fn secs(d: Duration) -> String {
    let t = d.as_secs();
    if t >= 60 {
        format!("{}m{:02}s", t / 60, t % 60)
    } else {
        format!("{t}s")
    }
}

/// The text of the status line (without colour when `color` is false), at most `width`
/// columns.
fn render(s: &State, width: usize) -> String {
    let Some(task) = &s.task else { return String::new() };
    let paint = |st: Style, t: &str| if s.color { st.force_styling(true).apply_to(t).to_string() } else { t.to_string() };
    let mark = |m: &Mark| match m {
        Mark::Running => paint(Style::new().dim(), "…"),
        Mark::Done(Status::Ok) => paint(Style::new().green(), "✓"),
        Mark::Done(Status::Changed) => paint(Style::new().yellow(), "✓"),
        Mark::Done(Status::Skipped) => paint(Style::new().cyan(), "-"),
        Mark::Done(Status::Failed) | Mark::Done(Status::Unreachable) => paint(Style::new().red(), "✗"),
    };
    const SPIN: [&str; 10] = ["⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"];
    let task_time = s.task_start.map(|t| secs(t.elapsed())).unwrap_or_default();
    let total = s.run_start.map(|t| secs(t.elapsed())).unwrap_or_default();
    let head = format!("{} {task} {task_time} (total {total})", SPIN[s.frame % SPIN.len()]);
    let each: Vec<String> = s.marks.iter().map(|(h, m)| format!("{h} {}", mark(m))).collect();
    let per_host = each.join("  ");
    let line = format!("{head} │ {per_host}");
    if console::measure_text_width(&line) <= width {
        return line;
    }
    // Too many hosts for one line: counts.
    let count = |f: &dyn Fn(&Mark) -> bool| s.marks.values().filter(|m| f(m)).count();
    let running = count(&|m| *m == Mark::Running);
    let ok = count(&|m| matches!(m, Mark::Done(Status::Ok | Status::Changed | Status::Skipped)));
    let bad = count(&|m| matches!(m, Mark::Done(Status::Failed | Status::Unreachable)));
    let line = format!("{head} │ {ok} {} {bad} {} {running} {}", mark(&Mark::Done(Status::Ok)), mark(&Mark::Done(Status::Failed)), mark(&Mark::Running));
    console::truncate_str(&line, width, "…").into_owned()
}

fn draw(s: &mut State) {
    if !s.enabled || s.task.is_none() || s.suspended {
        return;
    }
    let width = console::Term::stdout().size().1 as usize;
    let line = render(s, width.saturating_sub(1).max(20));
    let shown = console::measure_text_width(&line);
    let mut out = std::io::stdout().lock();
    if s.color {
        let _ = write!(out, "\r\x1b[2K{line}");
    } else {
        let _ = write!(out, "\r{line}{}", " ".repeat(if s.drawn { s.shown_width.saturating_sub(shown) } else { 0 }));
    }
    let _ = out.flush();
    s.drawn = true;
    s.shown_width = if s.color { shown } else { shown.max(s.shown_width) };
}

/// The sink that follows the run for the live line (after the printer in the sink list).
pub struct Live;

impl Sink for Live {
    fn event(&mut self, event: &Event<'_>) {
        let mut s = state();
        if !s.enabled {
            return;
        }
        match event {
            Event::PlayStart { hosts, .. } => {
                s.play_hosts = hosts.to_vec();
                s.gone.clear();
                s.task = None;
                erase(&mut s);
            }
            Event::TaskStart { task, handler, .. } => {
                s.task = Some(if *handler { format!("RUNNING HANDLER [{task}]") } else { format!("TASK [{task}]") });
                s.task_start = Some(Instant::now());
                let hosts: Vec<String> = s.play_hosts.iter().filter(|h| !s.gone.contains(h)).cloned().collect();
                s.marks = hosts.into_iter().map(|h| (h, Mark::Running)).collect();
                draw(&mut s);
            }
            Event::HostResult(r) => {
                flush_partial(&mut s, r.host);
                if matches!(r.status, Status::Failed | Status::Unreachable) && !r.ignored {
                    s.gone.push(r.host.to_string());
                }
                s.marks.insert(r.host.to_string(), Mark::Done(r.status));
                draw(&mut s);
            }
            Event::NoMoreHosts { .. } => {
                s.task = None;
                erase(&mut s);
            }
            Event::Recap { .. } | Event::RunError { .. } => {
                s.task = None;
                erase(&mut s);
            }
            _ => {}
        }
    }

    fn close(&mut self) -> std::io::Result<()> {
        finish();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_line_names_the_task_and_each_host() {
        let mut s = State { enabled: true, task: Some("TASK [x]".into()), ..Default::default() };
        s.marks.insert("h1".into(), Mark::Done(Status::Ok));
        s.marks.insert("h2".into(), Mark::Running);
        s.marks.insert("h3".into(), Mark::Done(Status::Failed));
        let line = render(&s, 200);
        assert!(line.contains("TASK [x]") && line.contains("h1 ✓  h2 …  h3 ✗"), "{line}");
        assert!(!line.contains('\x1b'), "{line}");
        // Narrow: counts instead, within the width.
        let line = render(&s, 30);
        assert!(console::measure_text_width(&line) <= 30, "{line}");
    }

    #[test]
    fn never_on_a_pipe_or_for_json() {
        assert!(!wanted(false, true, false));
        assert!(!wanted(true, false, false));
        assert!(!wanted(true, true, true));
    }
}
