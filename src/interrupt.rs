//! Ctrl-C (SIGINT) during a run.
//!
//! The first Ctrl-C asks the run to stop: the engine starts no new task, every remote
//! command still running is sent SIGINT, then SIGTERM after a short grace, and its
//! channel is closed (see [`crate::connection::privilege::drive`]); the run then prints
//! `[ERROR]: User interrupted execution` and the recap of what was done, writes its
//! reports, closes the connections (which releases the run locks) and exits with 99,
//! as `ansible-playbook` does on KeyboardInterrupt. A second Ctrl-C exits at once (99).
//! A Ctrl-C while a prompt waits for an answer (`--step`, `pause`) also exits at once.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::OnceLock;

/// The exit status of an interrupted run (ansible-playbook's on KeyboardInterrupt).
pub const EXIT_CODE: i32 = 99;

/// The message, and the error a command that was interrupted returns.
pub const MESSAGE: &str = "User interrupted execution";

static REQUESTED: AtomicBool = AtomicBool::new(false);
static PROMPTING: AtomicBool = AtomicBool::new(false);

fn channel() -> &'static tokio::sync::watch::Sender<bool> {
    static TX: OnceLock<tokio::sync::watch::Sender<bool>> = OnceLock::new();
    TX.get_or_init(|| tokio::sync::watch::channel(false).0)
}

/// Has the run been asked to stop?
pub fn requested() -> bool {
    REQUESTED.load(Ordering::SeqCst)
}

/// Ask the run to stop (what the first Ctrl-C does).
pub fn request() {
    REQUESTED.store(true, Ordering::SeqCst);
    channel().send_replace(true);
}

/// Resolves once the run has been asked to stop (never, otherwise).
pub async fn wait() {
    let mut rx = channel().subscribe();
    let _ = rx.wait_for(|v| *v).await;
}

/// Marks a blocking prompt: a Ctrl-C while it waits ends the run at once.
pub struct Prompting;

impl Prompting {
    pub fn start() -> Self {
        PROMPTING.store(true, Ordering::SeqCst);
        Prompting
    }
}

impl Drop for Prompting {
    fn drop(&mut self) {
        PROMPTING.store(false, Ordering::SeqCst);
    }
}

/// Exit now: clear the live status line, say why, and leave with [`EXIT_CODE`].
pub fn exit_now() -> ! {
    crate::output::live::clear();
    eprintln!("\n[ERROR]: {MESSAGE}");
    std::process::exit(EXIT_CODE)
}

/// Listen for Ctrl-C for the rest of the process (call inside the runtime).
pub fn install() {
    // One listener for the whole run: a second signal is not missed between two waits.
    let Ok(mut sigint) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt()) else { return };
    tokio::spawn(async move {
        let mut count = 0;
        while sigint.recv().await.is_some() {
            count += 1;
            if count > 1 || PROMPTING.load(Ordering::SeqCst) {
                exit_now();
            }
            crate::output::live::clear();
            eprintln!("\n[WARNING]: interrupted: stopping the running tasks (Ctrl-C again to exit at once)");
            request();
        }
    });
}
