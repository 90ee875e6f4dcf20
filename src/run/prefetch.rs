//! A loop's first reads in one command ([`provision_modules::Module::prefetch`]).
//!
//! A loop of N items of a module that reads the host first (say `copy`, which stats and
//! checksums its destination) sends N probes, each with its own processes on the host.
//! When the module can say what all its items will read, the engine runs that one script
//! when the first item is about to run (after the connection and the run lock), and each
//! item's module then sees, through [`Cached`], the answer its own probe would have had:
//! a command that is byte-for-byte one of the cached ones is answered from the cache,
//! once. Anything else goes to the host, and first drops the whole cache: it may change
//! the host (an item that writes a file), so what was read before may be stale.
//!
//! The module's own code path is unchanged: it sends the same command and gets the same
//! bytes. A script that fails, or whose output the module cannot cut up, answers
//! nothing, and the items read for themselves.

use std::sync::Mutex;

use async_trait::async_trait;
use provision_modules::{ExecOutput, Prefetch, Remote, RemoteError};

use crate::connection::privilege::Become;

/// The commands a loop's items would send first, and their answers.
pub struct LoopCache {
    prefetch: Prefetch,
    state: Mutex<State>,
}

/// Who filled the cache: only a remote with the same session, `become` and environment
/// may be answered from it.
type Key = (usize, Option<Become>, Vec<(String, String)>);

enum State {
    /// The script has not run yet.
    Waiting,
    /// What is left to answer (empty: nothing more will be).
    Filled { key: Key, answers: Vec<(String, ExecOutput)> },
}

impl LoopCache {
    pub fn new(prefetch: Prefetch) -> Self {
        LoopCache { prefetch, state: Mutex::new(State::Waiting) }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Run the script through `remote` (the first item's), unless it ran already.
    /// A failure is no error: the items then read for themselves.
    pub async fn fill(&self, remote: &dyn Remote, key: Key) {
        if !matches!(*self.state(), State::Waiting) {
            return;
        }
        let answers = match remote.exec(&self.prefetch.script, b"").await {
            Ok(out) => (self.prefetch.split)(&out).unwrap_or_default(),
            Err(_) => vec![],
        };
        *self.state() = State::Filled { key, answers };
    }

    /// The answer to `command` from a remote with `key`, taken out of the cache. Any
    /// other command (or another remote) drops the cache.
    fn take(&self, key: &Key, command: &str, stdin: &[u8]) -> Option<ExecOutput> {
        let mut state = self.state();
        let State::Filled { key: filled, answers } = &mut *state else { return None };
        let hit = if filled == key && stdin.is_empty() { answers.iter().position(|(c, _)| c == command) } else { None };
        match hit {
            Some(i) => Some(answers.swap_remove(i).1),
            None => {
                answers.clear();
                None
            }
        }
    }

    fn forget(&self) {
        if let State::Filled { answers, .. } = &mut *self.state() {
            answers.clear();
        }
    }
}

/// One item's remote, answered from the loop's cache where it can.
pub struct Cached<'a> {
    pub inner: &'a dyn Remote,
    pub cache: &'a LoopCache,
    pub key: Key,
}

#[async_trait]
impl Remote for Cached<'_> {
    async fn exec(&self, command: &str, stdin: &[u8]) -> Result<ExecOutput, RemoteError> {
        match self.cache.take(&self.key, command, stdin) {
            Some(out) => Ok(out),
            None => self.inner.exec(command, stdin).await,
        }
    }

    async fn exec_raw(&self, command: &str) -> Result<ExecOutput, RemoteError> {
        self.cache.forget();
        self.inner.exec_raw(command).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A host that records what reaches it.
    #[derive(Default)]
    struct Host {
        sent: Mutex<Vec<String>>,
    }

    #[async_trait]
    impl Remote for Host {
        async fn exec(&self, command: &str, _stdin: &[u8]) -> Result<ExecOutput, RemoteError> {
            self.sent.lock().unwrap().push(command.to_string());
            let stdout = if command == "both" { b"A\nB\n".to_vec() } else { format!("host: {command}\n").into_bytes() };
            Ok(ExecOutput { rc: 0, stdout, stderr: vec![] })
        }
        async fn exec_raw(&self, command: &str) -> Result<ExecOutput, RemoteError> {
            self.exec(command, b"").await
        }
    }

    fn out(s: &str) -> ExecOutput {
        ExecOutput { rc: 0, stdout: s.as_bytes().to_vec(), stderr: vec![] }
    }

    /// `both` answers `read a` and `read b` (lines A and B), or nothing when its output is
    /// not two lines.
    fn cache() -> LoopCache {
        LoopCache::new(Prefetch {
            script: "both".into(),
            split: Box::new(|o: &ExecOutput| {
                let text = String::from_utf8_lossy(&o.stdout).to_string();
                let lines: Vec<&str> = text.lines().collect();
                (lines.len() == 2).then(|| vec![("read a".to_string(), out(&format!("{}\n", lines[0]))), ("read b".to_string(), out(&format!("{}\n", lines[1])))])
            }),
        })
    }

    fn block_on<F: std::future::Future>(f: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(f)
    }

    fn key() -> Key {
        (1, None, vec![])
    }

    #[test]
    fn only_the_very_command_is_answered_and_only_once() {
        block_on(async {
            let host = Host::default();
            let c = cache();
            c.fill(&host, key()).await;
            c.fill(&host, key()).await;
            let r = Cached { inner: &host, cache: &c, key: key() };
            assert_eq!(r.exec("read b", b"").await.unwrap(), out("B\n"));
            assert_eq!(r.exec("read a", b"").await.unwrap(), out("A\n"));
            // Once: the same read again goes to the host.
            assert_eq!(r.exec("read a", b"").await.unwrap(), out("host: read a\n"));
            assert_eq!(*host.sent.lock().unwrap(), vec!["both", "read a"]);
        });
    }

    #[test]
    fn any_other_command_drops_the_cache() {
        block_on(async {
            let host = Host::default();
            let c = cache();
            c.fill(&host, key()).await;
            let r = Cached { inner: &host, cache: &c, key: key() };
            // Not byte-identical (a space more): sent, and the cache is gone.
            assert_eq!(r.exec("read  a", b"").await.unwrap(), out("host: read  a\n"));
            assert_eq!(r.exec("read b", b"").await.unwrap(), out("host: read b\n"));
            assert_eq!(*host.sent.lock().unwrap(), vec!["both", "read  a", "read b"]);
            // With stdin, by `exec_raw`, or from another remote (another `become`): the same.
            for how in 0..3 {
                let c = cache();
                c.fill(&host, key()).await;
                let r = Cached { inner: &host, cache: &c, key: key() };
                match how {
                    0 => drop(r.exec("read a", b"x").await),
                    1 => drop(r.exec_raw("true").await),
                    _ => drop(Cached { inner: &host, cache: &c, key: (2, None, vec![]) }.exec("read a", b"").await),
                }
                assert_eq!(r.exec("read b", b"").await.unwrap(), out("host: read b\n"), "{how}");
            }
        });
    }

    #[test]
    fn an_unexpected_answer_answers_nothing() {
        block_on(async {
            let host = Host::default();
            let c = LoopCache::new(Prefetch { script: "odd".into(), split: cache().prefetch.split });
            c.fill(&host, key()).await;
            let r = Cached { inner: &host, cache: &c, key: key() };
            assert_eq!(r.exec("read a", b"").await.unwrap(), out("host: read a\n"));
            // Before the script ran, nothing is answered either.
            let waiting = cache();
            let r = Cached { inner: &host, cache: &waiting, key: key() };
            assert_eq!(r.exec("read a", b"").await.unwrap(), out("host: read a\n"));
        });
    }
}
