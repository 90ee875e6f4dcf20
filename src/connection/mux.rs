//! Connection reuse across runs: Ansible's `ControlPersist=60s`, done our way.
//!
//! Logging in is most of what a small run costs a host: key exchange, PAM, a logind
//! session, a user slice and its teardown (about 80 ms of the host's CPU on the lab's
//! Debian hosts, against ~1.5 ms for a command). ansible-core avoids it on the next run
//! with OpenSSH's `ControlMaster=auto -o ControlPersist=60s`; provision does the same with
//! a *master*: a background `provision __mux-master` process per host (per user, port,
//! keys and known_hosts), which holds one authenticated connection and serves each
//! local client channel over a Unix socket in a private directory
//! (`~/.cache/provision/cp`, mode 0700). A run finds the master's socket and opens its
//! channels through it, or starts a master (which connects, with the same host-key
//! checks and keys as a direct connection, and says how it went), or connects directly.
//!
//! - One local socket connection carries one SSH channel, framed (`len u32 BE`, kind,
//!   payload); when either side ends, the other does (the run lock's channel ends with
//!   the run, even a killed one).
//! - The master ends `control_persist` seconds after its last channel closed, or when its
//!   connection dies (keepalives every 15 s); it removes its socket first.
//! - Not used for password logins, jump hosts or keys that need a passphrase (they
//!   connect directly), nor when `control_persist` is 0 (`PROVISION_CONTROL_PERSIST=0`,
//!   `control_persist = 0` in the configuration, or `-o ControlPersist=no` /
//!   `-o ControlMaster=no` in the ssh arguments).
//! - The socket's name hashes everything the connection was made with (address, port,
//!   user, key paths, known_hosts paths and their contents, the host-key policy, this
//!   binary): a changed known_hosts or a rebuilt provision gets a new master.

use std::io::{Read, Write};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use russh::client::{self, Handle};
use russh::{ChannelMsg, Sig};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt};
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::mpsc;

use super::ssh_config::StrictHostKeyChecking;
use super::Target;

/// The hidden subcommand that runs a master.
pub const MASTER_ARG: &str = "__mux-master";

/// Seconds a connection is kept after a run, as Ansible's `ControlPersist=60s`.
pub const DEFAULT_PERSIST: u64 = 60;

/// Bumped when the framing changes (part of the socket's name).
const PROTOCOL: u32 = 1;

// Client → master: the first frame of a socket connection...
const OPEN: u8 = 1;
const PING: u8 = 2;
const RETIRE: u8 = 3;
// ...then channel requests.
const EXEC: u8 = 10;
const PTY: u8 = 11;
const DATA: u8 = 12;
const EOF: u8 = 13;
const CLOSE: u8 = 14;
const SIGNAL: u8 = 15;
// Master → client.
const OPENED: u8 = 100;
const OPEN_BUSY: u8 = 101;
const OPEN_FAILED: u8 = 102;
const M_DATA: u8 = 110;
const M_EXT: u8 = 111;
const M_EOF: u8 = 112;
const M_CLOSE: u8 = 113;
const M_EXIT: u8 = 114;
const M_SIGNAL: u8 = 115;
const M_SUCCESS: u8 = 116;
const M_FAILURE: u8 = 117;
const ALIVE: u8 = 120;

/// The largest frame accepted (a data frame is at most one SSH packet's worth, or one
/// write of a client: stdin of a command).
const MAX_FRAME: usize = 256 * 1024 * 1024;

/// The most data one frame carries.
const CHUNK: usize = 32 * 1024;

fn frame(kind: u8, payload: &[u8]) -> Vec<u8> {
    let mut buf = Vec::with_capacity(5 + payload.len());
    buf.extend_from_slice(&((payload.len() + 1) as u32).to_be_bytes());
    buf.push(kind);
    buf.extend_from_slice(payload);
    buf
}

async fn read_frame<R: AsyncReadExt + Unpin>(r: &mut R) -> Option<(u8, Vec<u8>)> {
    let mut len = [0u8; 4];
    r.read_exact(&mut len).await.ok()?;
    let n = u32::from_be_bytes(len) as usize;
    if n == 0 || n > MAX_FRAME {
        return None;
    }
    let mut buf = vec![0u8; n];
    r.read_exact(&mut buf).await.ok()?;
    let kind = buf[0];
    buf.drain(..1);
    Some((kind, buf))
}

/// The signals SSH names (RFC 4254 6.10), as russh has them.
fn known_signals() -> [Sig; 12] {
    [Sig::ABRT, Sig::ALRM, Sig::FPE, Sig::HUP, Sig::ILL, Sig::INT, Sig::KILL, Sig::PIPE, Sig::QUIT, Sig::SEGV, Sig::TERM, Sig::USR1]
}

/// A signal's SSH name (`INT`): the variant's name, or a custom one as it is.
fn sig_name(s: &Sig) -> String {
    match s {
        Sig::Custom(c) => c.clone(),
        known => format!("{known:?}"),
    }
}

/// The signal an SSH name stands for.
fn sig_from(name: &str) -> Sig {
    known_signals().into_iter().find(|s| sig_name(s) == name).unwrap_or_else(|| Sig::Custom(name.to_string()))
}

// ------------------------------------------------------------------ the channel type

/// A session channel: on our own connection, or through a master.
pub enum Chan {
    Ssh(russh::Channel<client::Msg>),
    Mux(MuxChannel),
}

/// A channel through a master: frames go out through a writer task and come in through a
/// reader task, so that `wait` and the writes can be cancelled without breaking the stream.
pub struct MuxChannel {
    tx: mpsc::Sender<Vec<u8>>,
    rx: mpsc::Receiver<ChannelMsg>,
}

fn gone() -> russh::Error {
    russh::Error::IO(std::io::Error::new(std::io::ErrorKind::BrokenPipe, "the connection master went away"))
}

impl MuxChannel {
    async fn send(&self, kind: u8, payload: &[u8]) -> Result<(), russh::Error> {
        self.tx.send(frame(kind, payload)).await.map_err(|_| gone())
    }

    fn start(stream: UnixStream) -> MuxChannel {
        let (mut r, mut w) = stream.into_split();
        let (tx, mut out) = mpsc::channel::<Vec<u8>>(4);
        tokio::spawn(async move {
            while let Some(buf) = out.recv().await {
                if w.write_all(&buf).await.is_err() {
                    break;
                }
            }
            let _ = w.shutdown().await;
        });
        let (into, rx) = mpsc::channel::<ChannelMsg>(64);
        tokio::spawn(async move {
            while let Some((kind, p)) = read_frame(&mut r).await {
                let msg = match kind {
                    M_DATA => ChannelMsg::Data { data: p.into() },
                    M_EXT if p.len() >= 4 => {
                        ChannelMsg::ExtendedData { ext: u32::from_be_bytes([p[0], p[1], p[2], p[3]]), data: p[4..].to_vec().into() }
                    }
                    M_EOF => ChannelMsg::Eof,
                    M_CLOSE => ChannelMsg::Close,
                    M_EXIT if p.len() == 4 => ChannelMsg::ExitStatus { exit_status: u32::from_be_bytes([p[0], p[1], p[2], p[3]]) },
                    M_SIGNAL => ChannelMsg::ExitSignal {
                        signal_name: sig_from(&String::from_utf8_lossy(&p)),
                        core_dumped: false,
                        error_message: String::new(),
                        lang_tag: String::new(),
                    },
                    M_SUCCESS => ChannelMsg::Success,
                    M_FAILURE => ChannelMsg::Failure,
                    _ => continue,
                };
                if into.send(msg).await.is_err() {
                    break;
                }
            }
        });
        MuxChannel { tx, rx }
    }
}

impl Chan {
    pub async fn wait(&mut self) -> Option<ChannelMsg> {
        match self {
            Chan::Ssh(c) => c.wait().await,
            Chan::Mux(c) => c.rx.recv().await,
        }
    }

    pub async fn exec(&self, want_reply: bool, command: &[u8]) -> Result<(), russh::Error> {
        match self {
            Chan::Ssh(c) => c.exec(want_reply, command).await,
            Chan::Mux(c) => {
                let mut p = vec![u8::from(want_reply)];
                p.extend_from_slice(command);
                c.send(EXEC, &p).await
            }
        }
    }

    pub async fn data(&self, data: &[u8]) -> Result<(), russh::Error> {
        match self {
            Chan::Ssh(c) => c.data(data).await,
            // In pieces: a signal sent meanwhile (Ctrl-C) waits behind little data.
            Chan::Mux(c) => {
                for piece in data.chunks(CHUNK) {
                    c.send(DATA, piece).await?;
                }
                Ok(())
            }
        }
    }

    pub async fn eof(&self) -> Result<(), russh::Error> {
        match self {
            Chan::Ssh(c) => c.eof().await,
            Chan::Mux(c) => c.send(EOF, &[]).await,
        }
    }

    pub async fn close(&self) -> Result<(), russh::Error> {
        match self {
            Chan::Ssh(c) => c.close().await,
            Chan::Mux(c) => c.send(CLOSE, &[]).await,
        }
    }

    pub async fn signal(&self, sig: Sig) -> Result<(), russh::Error> {
        match self {
            Chan::Ssh(c) => c.signal(sig).await,
            Chan::Mux(c) => c.send(SIGNAL, sig_name(&sig).as_bytes()).await,
        }
    }

    /// A terminal (no modes), as the become prompts need.
    pub async fn request_pty(&self, want_reply: bool, term: &str, cols: u32, rows: u32) -> Result<(), russh::Error> {
        match self {
            Chan::Ssh(c) => c.request_pty(want_reply, term, cols, rows, 0, 0, &[]).await,
            Chan::Mux(c) => {
                let mut p = vec![u8::from(want_reply)];
                p.extend_from_slice(&cols.to_be_bytes());
                p.extend_from_slice(&rows.to_be_bytes());
                p.extend_from_slice(term.as_bytes());
                c.send(PTY, &p).await
            }
        }
    }
}

// ------------------------------------------------------------------ the client side

/// A master this run uses.
pub struct Client {
    path: PathBuf,
    dead: AtomicBool,
    /// How long the master may take to open a channel (the run's connect timeout): a
    /// master whose connection died silently (keepalives notice in 45 s) is given up.
    open_limit: Duration,
}

impl Client {
    fn new(path: PathBuf, t: &Target) -> Client {
        Client { path, dead: AtomicBool::new(false), open_limit: t.connect_timeout.max(Duration::from_secs(5)) }
    }

    pub fn is_closed(&self) -> bool {
        self.dead.load(Ordering::SeqCst)
    }

    /// Open a session channel through the master (`ChannelOpenFailure` when the host's
    /// session slots are full, as on a direct connection).
    pub async fn open_session(&self) -> Result<Chan, russh::Error> {
        let fail = |e: russh::Error| {
            self.dead.store(true, Ordering::SeqCst);
            e
        };
        let mut s = UnixStream::connect(&self.path).await.map_err(|e| fail(russh::Error::IO(e)))?;
        s.write_all(&frame(OPEN, &[])).await.map_err(|e| fail(russh::Error::IO(e)))?;
        let Ok(answer) = tokio::time::timeout(self.open_limit, read_frame(&mut s)).await else {
            drop(s);
            self.retire().await;
            return Err(russh::Error::IO(std::io::Error::new(std::io::ErrorKind::TimedOut, "the kept connection does not answer")));
        };
        match answer {
            Some((OPENED, _)) => Ok(Chan::Mux(MuxChannel::start(s))),
            Some((OPEN_BUSY, _)) => Err(russh::Error::ChannelOpenFailure(russh::ChannelOpenFailure::ResourceShortage)),
            Some((OPEN_FAILED, why)) => Err(fail(russh::Error::IO(std::io::Error::other(String::from_utf8_lossy(&why).to_string())))),
            _ => Err(fail(gone())),
        }
    }

    /// Ask the master to retire: no new client finds it, it ends with its last channel
    /// (the host is rebooting, or `meta: reset_connection`).
    pub async fn retire(&self) {
        self.dead.store(true, Ordering::SeqCst);
        if let Ok(mut s) = UnixStream::connect(&self.path).await {
            let _ = s.write_all(&frame(RETIRE, &[])).await;
            let _ = tokio::time::timeout(Duration::from_secs(1), read_frame(&mut s)).await;
        }
    }
}

/// `p` from the run's directory (the master runs in `/`).
fn absolute(p: &Path) -> PathBuf {
    std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf())
}

/// What the master needs to connect (never a password: those connect directly), sent
/// on its stdin.
#[derive(Debug, Serialize, Deserialize)]
struct Spec {
    name: String,
    address: String,
    port: u16,
    user: String,
    identity_files: Vec<PathBuf>,
    known_hosts: Vec<PathBuf>,
    /// `yes`, `accept-new` or `no`.
    strict: String,
    connect_timeout: u64,
    persist: u64,
    /// The socket to listen on.
    path: PathBuf,
}

impl Spec {
    fn of(t: &Target, path: &Path) -> Spec {
        Spec {
            name: t.name.clone(),
            address: t.address.clone(),
            port: t.port,
            user: t.user.clone(),
            identity_files: t.identity_files.iter().map(|p| absolute(p)).collect(),
            known_hosts: t.known_hosts.iter().map(|p| absolute(p)).collect(),
            strict: match t.strict {
                StrictHostKeyChecking::Yes => "yes",
                StrictHostKeyChecking::AcceptNew => "accept-new",
                StrictHostKeyChecking::No => "no",
            }
            .into(),
            connect_timeout: t.connect_timeout.as_secs(),
            persist: t.control_persist.as_secs(),
            path: path.to_path_buf(),
        }
    }

    fn target(&self) -> Target {
        Target {
            name: self.name.clone(),
            kind: super::ConnKind::Ssh,
            address: self.address.clone(),
            port: self.port,
            user: self.user.clone(),
            identity_files: self.identity_files.clone(),
            password: None,
            known_hosts: self.known_hosts.clone(),
            strict: match self.strict.as_str() {
                "yes" => StrictHostKeyChecking::Yes,
                "accept-new" => StrictHostKeyChecking::AcceptNew,
                _ => StrictHostKeyChecking::No,
            },
            connect_timeout: Duration::from_secs(self.connect_timeout),
            command_timeout: None,
            proxy_jump: None,
            become_: None,
            control_persist: Duration::from_secs(self.persist),
        }
    }
}

/// The private directory of the sockets, made if needed; `None` if it cannot be private.
fn control_dir() -> Option<PathBuf> {
    let uid = my_uid()?;
    let dir = dirs::cache_dir().unwrap_or_else(|| std::env::temp_dir().join(format!("provision-{uid}"))).join("provision").join("cp");
    if !dir.is_dir() {
        std::fs::DirBuilder::new().recursive(true).mode(0o700).create(&dir).ok()?;
    }
    let meta = std::fs::symlink_metadata(&dir).ok()?;
    (meta.is_dir() && meta.uid() == uid && meta.mode() & 0o077 == 0).then_some(dir)
}

fn my_uid() -> Option<u32> {
    std::fs::metadata("/proc/self").ok().map(|m| m.uid())
}

/// The socket of the master for `t`: a hash of everything the connection is made with
/// (not a secret; it only has to differ).
fn control_path(t: &Target) -> Option<PathBuf> {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    // Each part with its length, so that no two lists of parts run together alike.
    let mut add = |bytes: &[u8]| {
        h.update((bytes.len() as u64).to_be_bytes());
        h.update(bytes);
    };
    add(&PROTOCOL.to_be_bytes());
    add(t.address.as_bytes());
    add(&t.port.to_be_bytes());
    add(t.user.as_bytes());
    add(format!("{:?}", t.strict).as_bytes());
    for f in &t.identity_files {
        add(absolute(f).as_os_str().as_encoded_bytes());
    }
    for f in &t.known_hosts {
        add(absolute(f).as_os_str().as_encoded_bytes());
        add(&std::fs::read(f).unwrap_or_default());
    }
    let exe = std::env::current_exe().ok()?;
    add(exe.as_os_str().as_encoded_bytes());
    let meta = std::fs::metadata(&exe).ok()?;
    add(&meta.mtime().to_be_bytes());
    add(&meta.mtime_nsec().to_be_bytes());
    add(&meta.size().to_be_bytes());
    let name: String = h.finalize()[..8].iter().map(|b| format!("{b:02x}")).collect();
    Some(control_dir()?.join(name))
}

/// Whether `t` may use a master at all; `encrypted`: whether a key it offers needs a
/// passphrase (asked last: it reads the keys).
fn eligible(t: &Target, encrypted: impl FnOnce() -> bool) -> bool {
    !t.control_persist.is_zero()
        && t.password.is_none()
        && t.proxy_jump.is_none()
        && std::env::var_os(MASTER_ENV).is_none()
        && !encrypted()
}

/// Set in a master's environment (a master never starts another).
const MASTER_ENV: &str = "PROVISION_MUX_MASTER";

/// What came of trying a master.
pub enum Attach {
    Ok(Client),
    /// The master tried and could not reach or log in to the host: the run's answer.
    Unreachable(String),
    /// No master here: connect directly.
    Direct,
}

async fn ping(path: &Path) -> bool {
    let Ok(Ok(mut s)) = tokio::time::timeout(Duration::from_secs(2), UnixStream::connect(path)).await else { return false };
    if s.write_all(&frame(PING, &[])).await.is_err() {
        return false;
    }
    matches!(tokio::time::timeout(Duration::from_secs(5), read_frame(&mut s)).await, Ok(Some((ALIVE, _))))
}

/// Use the master for `t`, starting one if there is none.
pub async fn attach(t: &Target, encrypted: impl FnOnce() -> bool) -> Attach {
    if !eligible(t, encrypted) {
        return Attach::Direct;
    }
    let Some(path) = control_path(t) else { return Attach::Direct };
    let asked = Instant::now();
    if ping(&path).await {
        super::shell::trace_step(&t.name, "reused the connection master", asked);
        return Attach::Ok(Client::new(path, t));
    }
    let started = Instant::now();
    let Ok(exe) = std::env::current_exe() else { return Attach::Direct };
    let mut cmd = tokio::process::Command::new(exe);
    cmd.arg(MASTER_ARG)
        .env(MASTER_ENV, "1")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .current_dir("/")
        // Its own process group: Ctrl-C on the run's terminal is not for it.
        .process_group(0);
    let Ok(mut child) = cmd.spawn() else { return Attach::Direct };
    let spec = serde_json::to_string(&Spec::of(t, &path)).unwrap_or_default();
    if let Some(mut stdin) = child.stdin.take() {
        if stdin.write_all(spec.as_bytes()).await.is_err() {
            return Attach::Direct;
        }
    }
    let Some(mut stdout) = child.stdout.take() else { return Attach::Direct };
    let limit = t.connect_timeout.max(Duration::from_secs(5)) * 4 + Duration::from_secs(5);
    let mut line = Vec::new();
    let mut stdout = tokio::io::BufReader::new(&mut stdout);
    if tokio::time::timeout(limit, stdout.read_until(b'\n', &mut line)).await.is_err() {
        let _ = child.start_kill();
        return Attach::Direct;
    }
    // The master lives on; tokio reaps it if it ends while we run.
    drop(child);
    let answer: Value = serde_json::from_slice(&line).unwrap_or(Value::Null);
    if answer.get("ok").and_then(Value::as_bool) == Some(true) {
        super::shell::trace_step(&t.name, "started a connection master", started);
        Attach::Ok(Client::new(path, t))
    } else if let Some(e) = answer.get("error").and_then(Value::as_str) {
        Attach::Unreachable(e.to_string())
    } else {
        Attach::Direct
    }
}

// ------------------------------------------------------------------ the master

/// `provision __mux-master`: read the spec on stdin, connect, say how it went on stdout
/// (one JSON line), then serve until idle.
pub fn master_main() -> i32 {
    let mut input = String::new();
    if std::io::stdin().read_to_string(&mut input).is_err() {
        return 2;
    }
    let Ok(spec) = serde_json::from_str::<Spec>(&input) else { return 2 };
    let (target, path, persist) = (spec.target(), spec.path, Duration::from_secs(spec.persist));
    let Ok(rt) = tokio::runtime::Builder::new_current_thread().enable_all().build() else { return 2 };
    rt.block_on(async move {
        let say = |v: Value| {
            let mut out = std::io::stdout();
            let _ = writeln!(out, "{v}");
            let _ = out.flush();
        };
        let handle = match super::ssh::connect_handle(&target).await {
            Ok(h) => h,
            Err(e) => {
                say(json!({ "error": e }));
                return 0;
            }
        };
        let tmp = path.with_extension(format!("{}.tmp", std::process::id()));
        let _ = std::fs::remove_file(&tmp);
        let listener = match UnixListener::bind(&tmp) {
            Ok(l) => l,
            Err(e) => {
                say(json!({ "fallback": format!("cannot listen on {}: {e}", tmp.display()) }));
                return 0;
            }
        };
        let _ = std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o600));
        if let Err(e) = std::fs::rename(&tmp, &path) {
            let _ = std::fs::remove_file(&tmp);
            say(json!({ "fallback": format!("cannot place {}: {e}", path.display()) }));
            return 0;
        }
        say(json!({ "ok": true }));
        serve(listener, handle, persist, &path).await;
        0
    })
}

/// Counts one client while it lives.
struct Active(Arc<AtomicUsize>);

impl Drop for Active {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

async fn serve<H: client::Handler + 'static>(listener: UnixListener, handle: Arc<Handle<H>>, persist: Duration, path: &Path) {
    let ino = std::fs::metadata(path).map(|m| m.ino()).ok();
    let active = Arc::new(AtomicUsize::new(0));
    let quit = Arc::new(tokio::sync::Notify::new());
    let mut idle_since = Instant::now();
    let mut retired = false;
    let mut tick = tokio::time::interval(Duration::from_millis(250));
    // Remove the socket (if still ours): no new client finds this master.
    let retire = |retired: &mut bool| {
        if !*retired {
            *retired = true;
            if std::fs::metadata(path).map(|m| m.ino()).ok() == ino {
                let _ = std::fs::remove_file(path);
            }
        }
    };
    loop {
        tokio::select! {
            acc = listener.accept() => {
                if let Ok((s, _)) = acc {
                    active.fetch_add(1, Ordering::SeqCst);
                    let guard = Active(active.clone());
                    tokio::spawn(client_session(s, handle.clone(), quit.clone(), guard));
                }
            }
            _ = quit.notified() => retire(&mut retired),
            _ = tick.tick() => {
                if handle.is_closed() {
                    retire(&mut retired);
                    break;
                }
                if active.load(Ordering::SeqCst) > 0 {
                    idle_since = Instant::now();
                } else if retired && idle_since.elapsed() >= Duration::from_millis(500) {
                    // Clients that found the socket just before it went are served first.
                    break;
                } else if idle_since.elapsed() >= persist {
                    retire(&mut retired);
                    idle_since = Instant::now();
                }
            }
        }
    }
    let _ = tokio::time::timeout(Duration::from_secs(1), handle.disconnect(russh::Disconnect::ByApplication, "", "en")).await;
}

async fn client_session<H: client::Handler + 'static>(s: UnixStream, handle: Arc<Handle<H>>, quit: Arc<tokio::sync::Notify>, _active: Active) {
    let (mut r, mut w) = s.into_split();
    let Some((kind, _)) = read_frame(&mut r).await else { return };
    match kind {
        PING => {
            if !handle.is_closed() {
                let _ = w.write_all(&frame(ALIVE, &[])).await;
            }
        }
        RETIRE => {
            quit.notify_one();
            let _ = w.write_all(&frame(ALIVE, &[])).await;
        }
        OPEN => {
            let mut ch = match handle.channel_open_session().await {
                Ok(ch) => ch,
                Err(russh::Error::ChannelOpenFailure(_)) => {
                    let _ = w.write_all(&frame(OPEN_BUSY, &[])).await;
                    return;
                }
                Err(e) => {
                    let _ = w.write_all(&frame(OPEN_FAILED, format!("ssh: cannot open a channel: {e}").as_bytes())).await;
                    // Something is wrong with the connection: the next run makes a new one.
                    quit.notify_one();
                    return;
                }
            };
            if w.write_all(&frame(OPENED, &[])).await.is_err() {
                let _ = ch.close().await;
                return;
            }
            // The client's frames, read by a task of their own (cancel-safe for select).
            let (tx, mut requests) = mpsc::channel::<(u8, Vec<u8>)>(4);
            let reader = tokio::spawn(async move {
                while let Some(f) = read_frame(&mut r).await {
                    if tx.send(f).await.is_err() {
                        break;
                    }
                }
            });
            loop {
                tokio::select! {
                    req = requests.recv() => {
                        let ok = match req {
                            Some((EXEC, p)) if !p.is_empty() => ch.exec(p[0] != 0, &p[1..]).await.is_ok(),
                            Some((PTY, p)) if p.len() >= 9 => {
                                let cols = u32::from_be_bytes([p[1], p[2], p[3], p[4]]);
                                let rows = u32::from_be_bytes([p[5], p[6], p[7], p[8]]);
                                let term = String::from_utf8_lossy(&p[9..]).to_string();
                                ch.request_pty(p[0] != 0, &term, cols, rows, 0, 0, &[]).await.is_ok()
                            }
                            Some((DATA, p)) => ch.data(&p[..]).await.is_ok(),
                            Some((EOF, _)) => ch.eof().await.is_ok(),
                            Some((CLOSE, _)) => ch.close().await.is_ok(),
                            Some((SIGNAL, p)) => ch.signal(sig_from(&String::from_utf8_lossy(&p))).await.is_ok(),
                            Some(_) => true,
                            // The client is gone (its run ended, or was killed): so is the
                            // channel, as if its own connection had dropped (no EOF: a
                            // transfer cut short must not look complete).
                            None => false,
                        };
                        if !ok {
                            let _ = ch.close().await;
                            break;
                        }
                    }
                    msg = ch.wait() => {
                        let out = match msg {
                            None => break,
                            Some(ChannelMsg::Data { data }) => frame(M_DATA, &data),
                            Some(ChannelMsg::ExtendedData { data, ext }) => {
                                let mut p = ext.to_be_bytes().to_vec();
                                p.extend_from_slice(&data);
                                frame(M_EXT, &p)
                            }
                            Some(ChannelMsg::Eof) => frame(M_EOF, &[]),
                            Some(ChannelMsg::Close) => frame(M_CLOSE, &[]),
                            Some(ChannelMsg::ExitStatus { exit_status }) => frame(M_EXIT, &exit_status.to_be_bytes()),
                            Some(ChannelMsg::ExitSignal { signal_name, .. }) => frame(M_SIGNAL, sig_name(&signal_name).as_bytes()),
                            Some(ChannelMsg::Success) => frame(M_SUCCESS, &[]),
                            Some(ChannelMsg::Failure) => frame(M_FAILURE, &[]),
                            Some(_) => continue,
                        };
                        if w.write_all(&out).await.is_err() {
                            let _ = ch.close().await;
                            break;
                        }
                    }
                }
            }
            reader.abort();
            let _ = w.shutdown().await;
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn frames_round_trip() {
        let (mut a, mut b) = UnixStream::pair().unwrap();
        a.write_all(&frame(DATA, b"hello")).await.unwrap();
        a.write_all(&frame(EOF, &[])).await.unwrap();
        drop(a);
        assert_eq!(read_frame(&mut b).await, Some((DATA, b"hello".to_vec())));
        assert_eq!(read_frame(&mut b).await, Some((EOF, vec![])));
        assert_eq!(read_frame(&mut b).await, None);
    }

    #[test]
    fn signal_names_round_trip() {
        for s in ["INT", "TERM", "KILL", "HUP", "USR2"] {
            assert_eq!(sig_name(&sig_from(s)), s);
        }
    }

    fn target() -> Target {
        let spec: Spec = serde_json::from_value(json!({
            "name": "h1", "address": "127.0.0.1", "port": 2222, "user": "root",
            "identity_files": ["/k"], "known_hosts": ["/nonexistent/known_hosts"], "strict": "accept-new",
            "connect_timeout": 10, "persist": 60, "path": "/x",
        }))
        .unwrap();
        spec.target()
    }

    #[test]
    fn the_spec_round_trips_without_secrets() {
        let t = Target { password: None, ..target() };
        let v = serde_json::to_value(Spec::of(&t, Path::new("/x"))).unwrap();
        let back: Spec = serde_json::from_value(v.clone()).unwrap();
        let (bt, path, persist) = (back.target(), back.path, back.persist);
        assert_eq!((bt.address.as_str(), bt.port, bt.user.as_str()), ("127.0.0.1", 2222, "root"));
        assert_eq!((bt.strict, path, persist), (StrictHostKeyChecking::AcceptNew, PathBuf::from("/x"), 60));
        assert!(v.get("password").is_none());
    }

    #[test]
    fn passwords_jump_hosts_passphrases_and_zero_persist_connect_directly() {
        let t = target();
        assert!(eligible(&t, || false));
        assert!(!eligible(&t, || true), "a key that needs a passphrase");
        assert!(!eligible(&Target { password: Some("pw".into()), ..target() }, || false));
        assert!(!eligible(&Target { control_persist: Duration::ZERO, ..target() }, || false));
        assert!(!eligible(&Target { proxy_jump: Some(Box::new(target())), ..target() }, || false));
    }

    #[test]
    fn the_socket_name_follows_what_the_connection_was_made_with() {
        let a = target();
        let names = |t: &Target| control_path(t).map(|p| p.file_name().unwrap().to_string_lossy().to_string());
        let Some(base) = names(&a) else { return }; // no private cache directory here
        assert_eq!(names(&target()), Some(base.clone()));
        assert_ne!(names(&Target { port: 2223, ..target() }), Some(base.clone()));
        assert_ne!(names(&Target { user: "bob".into(), ..target() }), Some(base.clone()));
        assert_ne!(names(&Target { strict: StrictHostKeyChecking::Yes, ..target() }), Some(base.clone()));
        assert_ne!(names(&Target { identity_files: vec!["/other".into()], ..target() }), Some(base));
    }
}
