//! The `local` connection: commands run on the control machine under `/bin/sh -c`,
//! with the same become handling as over SSH (sudo only: su needs a terminal).

use std::process::Stdio;

use async_trait::async_trait;
use provision_modules::{ExecOutput, RemoteError};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::process::{Child, ChildStdin};
use tokio::sync::mpsc;

use super::privilege::{drive, prepare, Become, BecomeMethod, Event, Proc};

pub struct LocalSession {
    become_: Option<Become>,
    timeout: Option<std::time::Duration>,
}

impl LocalSession {
    pub fn new(become_: Option<Become>, timeout: Option<std::time::Duration>) -> Self {
        LocalSession { become_, timeout }
    }

    async fn run(&self, command: &str, stdin: &[u8], become_: Option<&Become>) -> Result<ExecOutput, RemoteError> {
        if become_.is_some_and(|b| b.method == BecomeMethod::Su) {
            return Err(RemoteError::Become("become_method su is not supported on the local connection; use sudo".into()));
        }
        if command.contains('\0') {
            return Err(RemoteError::Other("a command cannot contain a NUL byte".into()));
        }
        let prepared = prepare(command, become_);
        let mut child = tokio::process::Command::new("/bin/sh")
            .arg("-c")
            .arg(&prepared.command)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            // Its own process group, so that Ctrl-C reaches the whole command (see `signal`).
            .process_group(0)
            .spawn()
            .map_err(|e| RemoteError::Other(format!("cannot start /bin/sh: {e}")))?;
        let (tx, rx) = mpsc::channel(64);
        let mut out = child.stdout.take().ok_or_else(|| RemoteError::Other("no stdout".into()))?;
        let mut err = child.stderr.take().ok_or_else(|| RemoteError::Other("no stderr".into()))?;
        let tx2 = tx.clone();
        let readers = [
            tokio::spawn(async move {
                let mut buf = vec![0u8; 32 * 1024];
                while let Ok(n) = out.read(&mut buf).await {
                    if n == 0 || tx.send(Event::Stdout(buf[..n].to_vec())).await.is_err() {
                        break;
                    }
                }
            }),
            tokio::spawn(async move {
                let mut buf = vec![0u8; 32 * 1024];
                while let Ok(n) = err.read(&mut buf).await {
                    if n == 0 || tx2.send(Event::Stderr(buf[..n].to_vec())).await.is_err() {
                        break;
                    }
                }
            }),
        ];
        let stdin_pipe = child.stdin.take();
        let mut proc = ChildProc { child, stdin: stdin_pipe, rx, readers: Some(readers), done: false };
        let res = match self.timeout {
            Some(limit) => tokio::time::timeout(limit, drive(&mut proc, &prepared, stdin)).await.unwrap_or(Err(RemoteError::Timeout(limit))),
            None => drive(&mut proc, &prepared, stdin).await,
        };
        proc.close().await;
        res
    }

    pub async fn exec(&self, command: &str, stdin: &[u8]) -> Result<ExecOutput, RemoteError> {
        self.run(command, stdin, self.become_.as_ref()).await
    }

    pub async fn exec_as(&self, command: &str, stdin: &[u8], become_: Option<&Become>) -> Result<ExecOutput, RemoteError> {
        self.run(command, stdin, become_).await
    }

    pub async fn exec_raw(&self, command: &str) -> Result<ExecOutput, RemoteError> {
        self.run(command, b"", None).await
    }
}

struct ChildProc {
    child: Child,
    stdin: Option<ChildStdin>,
    rx: mpsc::Receiver<Event>,
    readers: Option<[tokio::task::JoinHandle<()>; 2]>,
    done: bool,
}

#[async_trait]
impl Proc for ChildProc {
    async fn next(&mut self) -> Option<Event> {
        if self.done {
            return None;
        }
        if let Some(ev) = self.rx.recv().await {
            return Some(ev);
        }
        // Both pipes are closed: the exit status comes next, then the end.
        if let Some(readers) = self.readers.take() {
            for r in readers {
                let _ = r.await;
            }
            let code = match self.child.wait().await {
                Ok(status) => status.code().unwrap_or(255),
                Err(_) => 255,
            };
            return Some(Event::Exit(code));
        }
        self.done = true;
        Some(Event::Closed)
    }

    async fn write(&mut self, data: &[u8]) -> Result<(), RemoteError> {
        if let Some(s) = self.stdin.as_mut() {
            // A command that does not read its stdin closes the pipe: not an error.
            let _ = s.write_all(data).await;
        }
        Ok(())
    }

    async fn eof(&mut self) -> Result<(), RemoteError> {
        self.stdin.take();
        Ok(())
    }

    async fn close(&mut self) {
        if !self.done {
            let _ = self.child.start_kill();
            self.done = true;
        }
    }

    async fn signal(&mut self, sig: &str) {
        if let (false, Some(pid)) = (self.done, self.child.id()) {
            let _ = tokio::process::Command::new("kill").args(["-s", sig, "--", &format!("-{pid}")]).status().await;
        }
    }
}
