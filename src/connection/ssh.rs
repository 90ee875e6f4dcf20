//! The SSH transport on russh: one connection per host for the whole run, many exec
//! channels on it.
//!
//! - `nodelay` is on: with Nagle a command costs ~44 ms instead of ~1.9 ms on loopback.
//! - At most [`MAX_CHANNELS`] channels are open at once per connection (OpenSSH's
//!   `MaxSessions` is 10 and frees slots late); every channel is closed explicitly,
//!   since dropping a russh channel does not close it on the server.
//! - Host keys are checked against our own known_hosts parser; `accept-new` records.
//! - Auth: identity files (passphrases prompted once per file), ssh-agent, password.
//! - A connection that dropped is reconnected once before the host is unreachable.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex as StdMutex, OnceLock};
use std::time::Duration;

use async_trait::async_trait;
use provision_modules::{ExecOutput, RemoteError};
use russh::client::{self, Handle};
use russh::keys::{self, PrivateKeyWithHashAlg, PublicKeyOrCertificate};
use russh::ChannelMsg;
use tokio::sync::{Mutex, Semaphore};

use super::mux::{self, Chan};
use super::privilege::{drive, drive_to_end, prepare, Become, Event, Proc};
use super::known_hosts::{append, HostKeyStatus, KnownHosts};
use super::ssh_config::StrictHostKeyChecking;
use super::Target;

/// Concurrent channels per connection (OpenSSH's MaxSessions is 10, freed late).
pub const MAX_CHANNELS: usize = 4;

/// What the host-key check decided, kept to explain a refused connection.
#[derive(Default)]
struct Verdict(StdMutex<Option<String>>);

pub(super) struct Client {
    host: String,
    port: u16,
    known: Arc<KnownHosts>,
    policy: StrictHostKeyChecking,
    learn: Option<PathBuf>,
    verdict: Arc<Verdict>,
}

impl client::Handler for Client {
    type Error = russh::Error;

    async fn check_server_key(&mut self, server_key: &PublicKeyOrCertificate) -> Result<bool, Self::Error> {
        let key = match server_key {
            PublicKeyOrCertificate::PublicKey { key, .. } => key.clone(),
            PublicKeyOrCertificate::Certificate(cert) => match keys::PublicKey::new(cert.public_key().clone(), "") {
                key => key,
            },
        };
        let fingerprint = key.fingerprint(keys::HashAlg::Sha256).to_string();
        let shown = if self.port == 22 { self.host.clone() } else { format!("[{}]:{}", self.host, self.port) };
        let decision = match self.known.check(&self.host, self.port, &key) {
            HostKeyStatus::Match => Ok(()),
            HostKeyStatus::Changed { file, line } => Err(format!(
                "host key for {shown} has CHANGED ({} {fingerprint}); it does not match {}:{line}. \
Someone could be eavesdropping, or the host was rebuilt: remove the old line (ssh-keygen -R '{shown}') if you trust the new key",
                key.algorithm(),
                file.display()
            )),
            HostKeyStatus::Revoked { file, line } => Err(format!("host key for {shown} is REVOKED ({}:{line})", file.display())),
            HostKeyStatus::Unknown => match self.policy {
                StrictHostKeyChecking::No => Ok(()),
                StrictHostKeyChecking::AcceptNew => match &self.learn {
                    Some(path) => append(path, &self.host, self.port, &key)
                        .map_err(|e| format!("cannot record the host key of {shown} in {}: {e}", path.display())),
                    None => Ok(()),
                },
                StrictHostKeyChecking::Yes => Err(format!(
                    "host key for {shown} is not known ({} {fingerprint}); add it to known_hosts (ssh-keyscan -p {} {}), \
or set `ansible_ssh_common_args: -o StrictHostKeyChecking=accept-new` to record new keys",
                    key.algorithm(),
                    self.port,
                    self.host
                )),
            },
        };
        match decision {
            Ok(()) => Ok(true),
            Err(msg) => {
                *self.verdict.0.lock().unwrap_or_else(|p| p.into_inner()) = Some(msg);
                Ok(false)
            }
        }
    }
}

/// Passphrases of key files, asked once per run.
fn passphrases() -> &'static StdMutex<HashMap<PathBuf, Option<String>>> {
    static CACHE: OnceLock<StdMutex<HashMap<PathBuf, Option<String>>>> = OnceLock::new();
    CACHE.get_or_init(|| StdMutex::new(HashMap::new()))
}

/// Load a private key, asking for its passphrase once (on the terminal) if needed.
fn load_key(path: &Path) -> Result<keys::PrivateKey, String> {
    match keys::load_secret_key(path, None) {
        Ok(k) => return Ok(k),
        Err(keys::Error::KeyIsEncrypted) => {}
        Err(e) => return Err(format!("cannot load private key {}: {e}", path.display())),
    }
    // Hold the lock while prompting: parallel hosts must not prompt twice.
    let mut cache = passphrases().lock().unwrap_or_else(|p| p.into_inner());
    let pass = match cache.get(path) {
        Some(p) => p.clone(),
        None => {
            let p = if console::Term::stderr().is_term() {
                rpassword::prompt_password(format!("Enter passphrase for key '{}': ", path.display())).ok()
            } else {
                None
            };
            cache.insert(path.to_path_buf(), p.clone());
            p
        }
    };
    let Some(pass) = pass else {
        return Err(format!(
            "private key {} is encrypted and there is no terminal to ask its passphrase; add it to ssh-agent (ssh-add)",
            path.display()
        ));
    };
    keys::load_secret_key(path, Some(&pass)).map_err(|e| format!("cannot decrypt private key {}: {e}", path.display()))
}

fn default_identities() -> Vec<PathBuf> {
    let Some(home) = dirs::home_dir() else { return vec![] };
    ["id_ed25519", "id_ecdsa", "id_rsa"].iter().map(|n| home.join(".ssh").join(n)).filter(|p| p.exists()).collect()
}

fn config() -> Arc<client::Config> {
    Arc::new(client::Config {
        nodelay: true,
        keepalive_interval: Some(Duration::from_secs(15)),
        keepalive_max: 3,
        inactivity_timeout: None,
        ..Default::default()
    })
}

type Conn = Handle<Client>;

/// How this run reaches the host: its own connection, or a connection master's.
#[derive(Clone)]
enum Link {
    /// Our own connection (and the jump host it runs through).
    Direct(Arc<Live>),
    Mux(Arc<mux::Client>),
}

impl Link {
    fn is_closed(&self) -> bool {
        match self {
            Link::Direct(l) => l.handle.is_closed(),
            Link::Mux(c) => c.is_closed(),
        }
    }

    async fn channel_open_session(&self) -> Result<Chan, russh::Error> {
        match self {
            Link::Direct(l) => l.handle.channel_open_session().await.map(Chan::Ssh),
            Link::Mux(c) => c.open_session().await,
        }
    }
}

/// For a connection master (see [`mux`]): connect and authenticate to `t`.
pub(super) async fn connect_handle(t: &Target) -> Result<Arc<Conn>, String> {
    connect(t).await.map(|l| l.handle)
}

/// Whether a key `t` would offer needs a passphrase (a master cannot ask for it).
fn needs_passphrase(t: &Target) -> bool {
    let files = if t.identity_files.is_empty() { default_identities() } else { t.identity_files.clone() };
    files.iter().any(|f| matches!(keys::load_secret_key(f, None), Err(keys::Error::KeyIsEncrypted)))
}

/// An authenticated connection, and the jump host it runs through (kept alive).
struct Live {
    handle: Arc<Conn>,
    _jump: Option<Box<Live>>,
}

/// Connect and authenticate to `t`, through its jump host if it has one.
fn connect(t: &Target) -> futures::future::BoxFuture<'_, Result<Live, String>> {
    Box::pin(async move {
        let started = std::time::Instant::now();
        let verdict = Arc::new(Verdict::default());
        let handler = Client {
            host: t.address.clone(),
            port: t.port,
            known: Arc::new(KnownHosts::load(&t.known_hosts)),
            policy: t.strict,
            learn: t.known_hosts.first().cloned(),
            verdict: verdict.clone(),
        };
        let explain = |e: russh::Error| match verdict.0.lock().unwrap_or_else(|p| p.into_inner()).take() {
            Some(v) => v,
            None => match e {
                russh::Error::IO(io) => format!("ssh: connect to host {} port {}: {io}", t.address, t.port),
                other => format!("ssh: {other}"),
            },
        };
        let (mut handle, jump) = match &t.proxy_jump {
            Some(j) => {
                let jump = connect(j).await.map_err(|e| format!("jump host {}: {e}", j.address))?;
                let tunnel = jump
                    .handle
                    .channel_open_direct_tcpip(t.address.clone(), u32::from(t.port), "127.0.0.1", 0)
                    .await
                    .map_err(|e| format!("jump host {} cannot open a tunnel to {}:{}: {e}", j.address, t.address, t.port))?;
                let h = tokio::time::timeout(t.connect_timeout, client::connect_stream(config(), tunnel.into_stream(), handler))
                    .await
                    .map_err(|_| format!("ssh: connect to host {} port {} through {}: timed out", t.address, t.port, j.address))?
                    .map_err(explain)?;
                (h, Some(Box::new(jump)))
            }
            None => {
                let h = tokio::time::timeout(t.connect_timeout, client::connect(config(), (t.address.as_str(), t.port), handler))
                    .await
                    .map_err(|_| format!("ssh: connect to host {} port {}: Connection timed out", t.address, t.port))?
                    .map_err(explain)?;
                (h, None)
            }
        };
        let authenticating = std::time::Instant::now();
        tokio::time::timeout(t.connect_timeout.max(Duration::from_secs(5)) * 3, authenticate(&mut handle, t))
            .await
            .map_err(|_| format!("ssh: authentication to {}@{} timed out", t.user, t.address))??;
        super::shell::trace_step(&t.name, "connected", started);
        super::shell::trace_step(&t.name, "authenticated", authenticating);
        Ok(Live { handle: Arc::new(handle), _jump: jump })
    })
}

async fn authenticate(h: &mut Conn, t: &Target) -> Result<(), String> {
    let user = t.user.as_str();
    let mut tried: Vec<&str> = Vec::new();
    let rsa_hash = h.best_supported_rsa_hash().await.ok().flatten().flatten();
    let files = if t.identity_files.is_empty() { default_identities() } else { t.identity_files.clone() };
    let mut key_errors = Vec::new();
    for path in &files {
        tried.push("publickey");
        let key = match load_key(path) {
            Ok(k) => k,
            Err(e) => {
                key_errors.push(e);
                continue;
            }
        };
        let res = h
            .authenticate_publickey(user, PrivateKeyWithHashAlg::new(Arc::new(key), rsa_hash))
            .await
            .map_err(|e| format!("ssh: {e}"))?;
        if res.success() {
            return Ok(());
        }
    }
    if std::env::var_os("SSH_AUTH_SOCK").is_some() {
        if let Ok(mut agent) = keys::agent::client::AgentClient::connect_env().await {
            if let Ok(ids) = agent.request_identities().await {
                for id in ids {
                    if let keys::agent::AgentIdentity::PublicKey { key, .. } = id {
                        tried.push("publickey");
                        if let Ok(res) = h.authenticate_publickey_with(user, key, rsa_hash, &mut agent).await {
                            if res.success() {
                                return Ok(());
                            }
                        }
                    }
                }
            }
        }
    }
    if let Some(pw) = &t.password {
        tried.push("password");
        let res = h.authenticate_password(user, pw.as_str()).await.map_err(|e| format!("ssh: {e}"))?;
        if res.success() {
            return Ok(());
        }
    }
    tried.dedup();
    let mut msg = format!("{user}@{}: Permission denied ({})", t.address, if tried.is_empty() { "none".to_string() } else { tried.join(",") });
    if !key_errors.is_empty() {
        msg.push_str("; ");
        msg.push_str(&key_errors.join("; "));
    }
    Err(msg)
}

/// One host's SSH session: connected on first use, reused by every command.
pub struct SshSession {
    target: Target,
    live: Mutex<Option<Link>>,
    channels: Semaphore,
    reconnected: std::sync::atomic::AtomicBool,
    /// The channel that holds the run lock on the host, while we hold it.
    lock: Mutex<Option<Chan>>,
    /// Why the lock could not be taken, once that is final.
    lock_error: StdMutex<Option<String>>,
    /// Signals already sent to every command of this connection (Ctrl-C; see `ChannelProc::signal`).
    signalled: Arc<StdMutex<Vec<&'static str>>>,
    /// Persistent shells that run most commands (see [`super::shell`]).
    shells: super::shell::Pool,
}

impl SshSession {
    pub fn new(target: Target) -> Self {
        SshSession {
            target,
            live: Mutex::new(None),
            channels: Semaphore::new(MAX_CHANNELS),
            reconnected: Default::default(),
            lock: Mutex::new(None),
            lock_error: StdMutex::new(None),
            signalled: Default::default(),
            shells: Default::default(),
        }
    }

    /// Connect now (the run does this first, to report UNREACHABLE early).
    pub async fn connect(&self) -> Result<(), RemoteError> {
        self.handle(false).await.map(|_| ())
    }

    async fn handle(&self, fresh: bool) -> Result<Link, RemoteError> {
        let mut live = self.live.lock().await;
        if let Some(l) = live.as_ref() {
            if !fresh && !l.is_closed() {
                return Ok(l.clone());
            }
        }
        let link = match mux::attach(&self.target, || needs_passphrase(&self.target)).await {
            mux::Attach::Ok(client) => Link::Mux(Arc::new(client)),
            mux::Attach::Unreachable(e) => return Err(RemoteError::Unreachable(e)),
            mux::Attach::Direct => Link::Direct(Arc::new(connect(&self.target).await.map_err(RemoteError::Unreachable)?)),
        };
        *live = Some(link.clone());
        Ok(link)
    }

    /// Open a session channel, reconnecting once if the connection dropped, and
    /// retrying briefly while the server's session slots are still being freed.
    async fn open(&self) -> Result<Chan, RemoteError> {
        let mut handle = self.handle(false).await?;
        let mut attempt = 0;
        loop {
            match handle.channel_open_session().await {
                Ok(ch) => return Ok(ch),
                Err(russh::Error::ChannelOpenFailure(_)) if attempt < 20 => {
                    attempt += 1;
                    if attempt == 3 && matches!(handle, Link::Mux(_)) {
                        // A kept connection is shared with other runs, and its session
                        // slots (sshd's MaxSessions) are taken: a connection of our own.
                        handle = Link::Direct(Arc::new(connect(&self.target).await.map_err(RemoteError::Unreachable)?));
                        *self.live.lock().await = Some(handle.clone());
                        continue;
                    }
                    tokio::time::sleep(Duration::from_millis(5 * attempt)).await;
                }
                Err(e) => {
                    if handle.is_closed() && !self.reconnected.swap(true, std::sync::atomic::Ordering::SeqCst) {
                        handle = self.handle(true).await?;
                        continue;
                    }
                    return Err(RemoteError::Unreachable(format!("ssh: cannot open a channel: {e}")));
                }
            }
        }
    }

    /// Run `command`; `raw`: as typed, by the login shell on its own channel (never in a
    /// persistent shell).
    async fn run(&self, command: &str, stdin: &[u8], become_: Option<&Become>, raw: bool) -> Result<ExecOutput, RemoteError> {
        if !super::shell::tracing() {
            return self.run_inner(command, stdin, become_, raw).await;
        }
        let t0 = std::time::Instant::now();
        let res = self.run_inner(command, stdin, become_, raw).await;
        super::shell::trace(&self.target.name, command, stdin, &res, t0.elapsed());
        res
    }

    async fn run_inner(&self, command: &str, stdin: &[u8], become_: Option<&Become>, raw: bool) -> Result<ExecOutput, RemoteError> {
        if command.contains('\0') {
            return Err(RemoteError::Other("a command cannot contain a NUL byte".into()));
        }
        let prepared = prepare(command, become_);
        if !raw && self.shells.eligible(&prepared, stdin) {
            let ran = tokio::select! {
                r = self.shells.run(&prepared, stdin, self.target.command_timeout, || self.open()) => Some(r),
                _ = crate::interrupt::wait() => None,
            };
            match ran {
                Some(Some(res)) => return res,
                Some(None) => {}
                None => {
                    self.stop_shell_commands(become_).await;
                    return Err(RemoteError::Other(crate::interrupt::MESSAGE.into()));
                }
            }
        }
        let _slot = self.channels.acquire().await.map_err(|_| RemoteError::Other("session closed".into()))?;
        let ch = self.open().await?;
        if prepared.pty {
            ch.request_pty(false, "xterm", 200, 50).await.map_err(|e| RemoteError::Unreachable(format!("ssh: {e}")))?;
        }
        ch.exec(true, prepared.command.as_bytes()).await.map_err(|e| RemoteError::Unreachable(format!("ssh: {e}")))?;
        let conn = self.live.lock().await.clone();
        let mut proc = ChannelProc { ch, closed: false, conn, signalled: self.signalled.clone(), become_: become_.cloned() };
        let res = match self.target.command_timeout {
            Some(limit) => match tokio::time::timeout(limit, drive(&mut proc, &prepared, stdin)).await {
                Ok(r) => r,
                Err(_) => Err(RemoteError::Timeout(limit)),
            },
            None => drive(&mut proc, &prepared, stdin).await,
        };
        proc.close().await;
        res
    }

    /// Ctrl-C while a command runs in a persistent shell: sshd cannot signal it for us (it
    /// is not a channel's own command), so INT, TERM, then KILL go from a new channel to
    /// every command of the connection (the shells' process groups), as `become` allows.
    async fn stop_shell_commands(&self, become_: Option<&Become>) {
        let Some(conn) = self.live.lock().await.clone() else { return };
        for sig in ["INT", "TERM", "KILL"] {
            signal_siblings(&conn, sig, become_).await;
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
    }

    pub async fn exec(&self, command: &str, stdin: &[u8]) -> Result<ExecOutput, RemoteError> {
        self.run(command, stdin, self.target.become_.as_ref(), false).await
    }

    pub async fn exec_as(&self, command: &str, stdin: &[u8], become_: Option<&Become>) -> Result<ExecOutput, RemoteError> {
        self.run(command, stdin, become_, false).await
    }

    pub async fn exec_raw(&self, command: &str) -> Result<ExecOutput, RemoteError> {
        self.run(command, b"", None, true).await
    }

    /// Take the run lock (see [`super::lock`]), once per connection.
    pub async fn lock(&self, spec: &super::lock::LockSpec) -> Result<Option<String>, RemoteError> {
        let mut held = self.lock.lock().await;
        if held.is_some() {
            return Ok(None);
        }
        if let Some(e) = self.lock_error.lock().unwrap_or_else(|p| p.into_inner()).clone() {
            return Err(RemoteError::Other(e));
        }
        let result = self.take_lock(spec, &mut held).await;
        if let (Err(e), false) = (&result, spec.try_only) {
            *self.lock_error.lock().unwrap_or_else(|p| p.into_inner()) = Some(e.to_string());
        }
        result
    }

    /// Let go of the run lock (to take it again in order, see the engine's `prelock`).
    pub async fn unlock(&self) {
        if let Some(ch) = self.lock.lock().await.take() {
            let _ = ch.eof().await;
            let _ = ch.close().await;
        }
    }

    async fn take_lock(&self, spec: &super::lock::LockSpec, held: &mut Option<Chan>) -> Result<Option<String>, RemoteError> {
        use super::lock::{parse, script, who, Line};
        let started = std::time::Instant::now();
        let mut ch = self.open().await?;
        ch.exec(true, script(spec).as_bytes()).await.map_err(|e| RemoteError::Unreachable(format!("ssh: {e}")))?;
        let mut buf = String::new();
        let mut notes: Vec<String> = Vec::new();
        let limit = spec.wait + Duration::from_secs(30);
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            let msg = match tokio::time::timeout_at(deadline, ch.wait()).await {
                Ok(m) => m,
                Err(_) => return Err(RemoteError::Other(format!("the run lock could not be taken within {}s", limit.as_secs()))),
            };
            match msg {
                Some(ChannelMsg::Data { data }) => {
                    buf.push_str(&String::from_utf8_lossy(&data));
                    while let Some(i) = buf.find('\n') {
                        let line: String = buf.drain(..=i).collect();
                        match parse(&line) {
                            Line::Locked(_) => {
                                super::shell::trace_step(&self.target.name, "locked", started);
                                *held = Some(ch);
                                return Ok((!notes.is_empty()).then(|| notes.join("; ")));
                            }
                            Line::NoLock => {
                                *held = Some(ch);
                                return Ok(Some("this host has no flock or no writable lock directory: running without the run lock".into()));
                            }
                            // (Our own lock, still being described by our other connection.)
                            Line::Busy(info) if spec.try_only || info.contains(&format!("by {} user", spec.holder)) => {}
                            Line::Busy(info) => {
                                crate::output::live::stderr_line(&format!("[WARNING]: {}: the run lock is held by {}; waiting up to {}s", self.target.name, who(&info), spec.wait.as_secs()));
                                notes.push(format!("waited for the run lock held by {}", who(&info)));
                            }
                            Line::Broke(info) => notes.push(format!("broke the run lock held by {}", who(&info))),
                            Line::Timeout(info) => {
                                let _ = ch.close().await;
                                return Err(RemoteError::Other(format!(
                                    "the run lock on this host is held by {} (waited {}s; --lock-wait SECS to wait longer, --break-lock if that run is gone)",
                                    who(&info),
                                    spec.wait.as_secs()
                                )));
                            }
                            Line::Other => {}
                        }
                    }
                }
                Some(ChannelMsg::ExtendedData { data, .. }) => buf.push_str(&String::from_utf8_lossy(&data).replace('\n', " ")),
                None | Some(ChannelMsg::ExitStatus { .. }) | Some(ChannelMsg::Eof) | Some(ChannelMsg::Close) => {
                    return Err(RemoteError::Other(format!("the run lock could not be taken: {}", buf.trim())));
                }
                Some(_) => {}
            }
        }
    }

    /// Forget the connection without waiting on it (the host may be gone); the next use
    /// connects afresh, and may reconnect once more after that.
    pub async fn disconnect(&self) {
        self.shells.clear().await;
        match self.live.lock().await.take() {
            Some(Link::Direct(l)) => {
                let _ = tokio::time::timeout(Duration::from_secs(1), l.handle.disconnect(russh::Disconnect::ByApplication, "", "en")).await;
            }
            // The master's connection goes with the host: it must not be found again.
            Some(Link::Mux(c)) => c.retire().await,
            None => {}
        }
        self.reconnected.store(false, std::sync::atomic::Ordering::SeqCst);
        self.lock.lock().await.take();
    }

    pub async fn close(&self) {
        self.shells.clear().await;
        if let Some(ch) = self.lock.lock().await.take() {
            let _ = ch.eof().await;
            let _ = ch.close().await;
        }
        // A master's connection stays for the next run.
        if let Some(Link::Direct(l)) = self.live.lock().await.take() {
            let _ = l.handle.disconnect(russh::Disconnect::ByApplication, "", "en").await;
        }
    }
}

struct ChannelProc {
    ch: Chan,
    closed: bool,
    /// The connection, to signal the commands when sshd will not (see `signal`).
    conn: Option<Link>,
    signalled: Arc<StdMutex<Vec<&'static str>>>,
    /// The command's `become`, which the signalling command needs too (to signal `sudo`).
    become_: Option<Become>,
}

/// Sends `SIG` to the process group of every other command of this connection. They are
/// the other children of the connection's sshd process (the first `sshd*` up the process
/// tree, past `sudo`), and each leads its own process group (sshd runs every channel's
/// command after `setsid`).
fn signal_siblings_script(sig: &str) -> String {
    format!(
        "me=$$; p=$$; prev=; while [ -n \"$p\" ] && [ \"$p\" -gt 1 ]; do \
case \"$(cat /proc/$p/comm 2>/dev/null)\" in sshd*) break;; esac; \
prev=$p; p=$(sed 's/.*) //' /proc/$p/stat 2>/dev/null | cut -d' ' -f2); done; \
[ -n \"$p\" ] && [ \"$p\" -gt 1 ] || exit 0; \
for c in $(pgrep -P \"$p\" 2>/dev/null || ps -o pid= --ppid \"$p\"); do \
[ \"$c\" = \"$prev\" ] || [ \"$c\" = \"$me\" ] || kill -s {sig} -- \"-$c\" 2>/dev/null || kill -s {sig} \"$c\" 2>/dev/null; done; true"
    )
}

/// Run [`signal_siblings_script`] for `sig` on a new channel of `conn`, as `become_`
/// allows, and wait for it a little.
async fn signal_siblings(conn: &Link, sig: &str, become_: Option<&Become>) {
    let Ok(Ok(ch)) = tokio::time::timeout(Duration::from_secs(2), conn.channel_open_session()).await else { return };
    let prepared = prepare(&signal_siblings_script(sig), become_);
    let mut killer = ChannelProc { ch, closed: false, conn: None, signalled: Default::default(), become_: None };
    let pty = !prepared.pty || killer.ch.request_pty(false, "xterm", 200, 50).await.is_ok();
    if pty && killer.ch.exec(true, prepared.command.as_bytes()).await.is_ok() {
        let _ = tokio::time::timeout(Duration::from_secs(3), drive_to_end(&mut killer, &prepared, b"")).await;
    }
    killer.close().await;
}

#[async_trait]
impl Proc for ChannelProc {
    async fn next(&mut self) -> Option<Event> {
        if self.closed {
            return None;
        }
        loop {
            match self.ch.wait().await {
                None => {
                    self.closed = true;
                    return Some(Event::Closed);
                }
                Some(ChannelMsg::Data { data }) => return Some(Event::Stdout(data.to_vec())),
                Some(ChannelMsg::ExtendedData { data, ext: 1 }) => return Some(Event::Stderr(data.to_vec())),
                Some(ChannelMsg::ExitStatus { exit_status }) => return Some(Event::Exit(exit_status as i32)),
                Some(ChannelMsg::ExitSignal { .. }) => return Some(Event::Exit(255)),
                Some(ChannelMsg::Eof) | Some(_) => continue,
            }
        }
    }

    async fn write(&mut self, data: &[u8]) -> Result<(), RemoteError> {
        self.ch.data(data).await.map_err(|e| RemoteError::Unreachable(format!("ssh: {e}")))
    }

    async fn eof(&mut self) -> Result<(), RemoteError> {
        self.ch.eof().await.map_err(|e| RemoteError::Unreachable(format!("ssh: {e}")))
    }

    async fn close(&mut self) {
        if !self.closed {
            let _ = self.ch.close().await;
            self.closed = true;
        }
    }

    /// A `signal` request, which OpenSSH delivers to the command's process group
    /// (`killpg`), except for root logins before OpenSSH 9.8 ("session signalling requires
    /// privilege separation"). So the first command of the connection to be signalled
    /// also sends the signal from a new channel to every command of the connection.
    async fn signal(&mut self, sig: &str) {
        let (name, request) = match sig {
            "INT" => ("INT", russh::Sig::INT),
            "TERM" => ("TERM", russh::Sig::TERM),
            _ => ("KILL", russh::Sig::KILL),
        };
        if self.closed {
            return;
        }
        let _ = self.ch.signal(request).await;
        let first = {
            let mut sent = self.signalled.lock().unwrap_or_else(|p| p.into_inner());
            !sent.contains(&name) && {
                sent.push(name);
                true
            }
        };
        if let (true, Some(conn)) = (first, &self.conn) {
            signal_siblings(conn, name, self.become_.as_ref()).await;
        }
    }
}
