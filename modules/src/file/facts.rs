//! What the host has: the probe script that describes paths (and lists trees, reads
//! times) in one round trip, and [`Facts`], what was learnt from it.

use std::collections::{BTreeMap, HashMap};

use crate::quote::quote;
use crate::util::{self, PathState};


/// Marks the lines this module's probe prints (besides [`util::probe_many_script`]'s).
pub(crate) const TAG: &str = "__provision_file_7d2c__";

/// One path as the host described it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Seen {
    pub st: PathState,
    pub nlink: u64,
    pub inode: u64,
    pub dev: u64,
    pub atime: i64,
    pub mtime: i64,
    /// `[ -e ]`: exists after following links.
    pub exists_follow: bool,
    /// `readlink -f`, for symlinks.
    pub real: Option<String>,
}

impl Seen {
    /// Ansible's `get_state`: `absent`, `link`, `directory`, `hard` (nlink > 1) or `file`.
    pub(crate) fn state(&self) -> &'static str {
        match self.st.kind.as_str() {
            _ if !self.st.exists => "absent",
            "link" => "link",
            "directory" => "directory",
            _ if self.nlink > 1 => "hard",
            _ => "file",
        }
    }
}

/// One entry under a directory, for `recurse`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Entry {
    pub(crate) path: String,
    /// Type and permission bits (`st_mode`).
    pub(crate) raw_mode: u32,
    pub(crate) uid: u32,
    pub(crate) gid: u32,
    pub(crate) atime: i64,
    pub(crate) mtime: i64,
    pub(crate) owner: String,
    pub(crate) group: String,
}

/// Something the decision needs to know.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Query {
    /// Describe a path ([`Seen`]).
    Describe(String),
    /// Describe `path` only if `unless` is absent (say, a file's directory, which exists
    /// when the file does); otherwise it stays unknown, for no process on the host.
    DescribeUnless { path: String, unless: String },
    /// Whether a directory has anything in it ([`Seen::nonempty`] of a described path).
    NonEmpty(String),
    /// List everything under a directory ([`Entry`]).
    Tree(String),
    /// List the directories and files under a directory (the diff of `absent`).
    Contents(String),
    /// The epoch of a local time on the host.
    Epoch(String),
}

/// Everything learnt from the host so far.
#[derive(Debug, Default)]
pub(crate) struct Facts {
    pub umask: u32,
    pub seen: HashMap<String, Seen>,
    pub(crate) trees: HashMap<String, Vec<Entry>>,
    pub(crate) contents: HashMap<String, (Vec<String>, Vec<String>)>,
    pub(crate) epochs: HashMap<String, Option<i64>>,
    pub(crate) nonempty: Vec<String>,
    pub(crate) asked_nonempty: Vec<String>,
}

/// The script that answers `queries` (and the umask). Extra lines come first, the
/// descriptions last, as [`util::probe_many_script`] prints them.
pub(crate) fn probe_script(queries: &[Query]) -> String {
    probe_script_gen(queries, false).0
}

/// Several [`probe_script`]s in one command, with one `stat` and one `sha1sum` for all
/// (see [`util::batch`]), and how to split its output into what each would have printed.
pub(crate) fn probe_batch(probes: &[Vec<Query>]) -> (String, impl Fn(&crate::ExecOutput) -> Option<Vec<crate::ExecOutput>> + Send + Sync + 'static) {
    let (parts, stat_lines): (Vec<String>, Vec<Vec<String>>) = probes.iter().map(|q| probe_script_gen(q, true)).unzip();
    (util::batch::script(&parts), move |out: &crate::ExecOutput| util::batch::split(out, &stat_lines))
}

/// [`probe_script`], or with `defer` a part of a batch; with the `stat` line of each
/// described path.
fn probe_script_gen(queries: &[Query], defer: bool) -> (String, Vec<String>) {
    // Builtins where they do: every process costs milliseconds on a busy host.
    let mut s = format!("printf '%s ' '{TAG} umask'; umask");
    let mut described = vec![];
    for (i, q) in queries.iter().enumerate() {
        match q {
            Query::Describe(p) | Query::DescribeUnless { path: p, .. } => {
                let qp = quote(p);
                // The `ext` line comes from the probe's own `stat` (see below).
                s.push_str(&format!(
                    "; [ -e {qp} ] && echo {TAG} exists{i}; [ -L {qp} ] && echo \"{TAG} real{i} $(readlink -f -- {qp})\""
                ));
                let unless = if let Query::DescribeUnless { unless, .. } = q { Some(unless.as_str()) } else { None };
                described.push((p.as_str(), format!("{TAG} ext{i} %h %i %d %X %Y"), unless));
            }
            Query::NonEmpty(p) => {
                let qp = quote(p);
                s.push_str(&format!("; [ -d {qp} ] && [ -n \"$(ls -A -- {qp} 2>/dev/null)\" ] && echo {TAG} full{i}"));
            }
            Query::Tree(p) => s.push_str(&format!(
                "; find {} -mindepth 1 -exec stat -c '{TAG} e{i} %f %u %g %X %Y %U %G %n' -- {{}} + 2>/dev/null",
                quote(p)
            )),
            Query::Contents(p) => s.push_str(&format!(
                "; find {qp} -mindepth 1 -type d -exec printf '{TAG} d{i} %s\\n' {{}} + 2>/dev/null; find {qp} -mindepth 1 ! -type d -exec printf '{TAG} f{i} %s\\n' {{}} + 2>/dev/null",
                qp = quote(p)
            )),
            Query::Epoch(date) => s.push_str(&format!("; echo \"{TAG} epoch{i} $(date -d {} +%s 2>/dev/null)\"", quote(date))),
        }
    }
    if described.is_empty() {
        // The status is the last command's: a test that found nothing is no failure.
        s.push_str("; true");
    } else {
        s.push_str("; ");
        s.push_str(&util::probe_many_gen(&described, defer));
    }
    (s, described.into_iter().map(|(_, line, _)| line).collect())
}

impl Facts {
    /// Whether a directory has something in it; `None`: not asked yet.
    pub(crate) fn nonempty(&self, path: &str) -> Option<bool> {
        self.asked_nonempty.iter().any(|p| p == path).then(|| self.nonempty.iter().any(|p| p == path))
    }

    /// Ask the host about `queries`, in one round trip.
    pub(crate) async fn gather(&mut self, remote: &dyn crate::Remote, queries: &[Query]) -> Result<(), String> {
        let out = remote.exec(&probe_script(queries), b"").await.map_err(|e| e.to_string())?;
        if out.rc != 0 {
            return Err(format!("cannot inspect {}: {}", describe_queries(queries), String::from_utf8_lossy(&out.stderr).trim()));
        }
        self.absorb(queries, &out.stdout)
    }

    /// Take in what [`probe_script`] printed for `queries`.
    pub(crate) fn absorb(&mut self, queries: &[Query], out: &[u8]) -> Result<(), String> {
        let described: Vec<(usize, &String)> =
            queries
                .iter()
                .enumerate()
                .filter_map(|(i, q)| match q {
                    Query::Describe(p) | Query::DescribeUnless { path: p, .. } => Some((i, p)),
                    _ => None,
                })
                .collect();
        let states = if described.is_empty() { vec![] } else { util::parse_probe_many(out, described.len())? };
        let mut extra: BTreeMap<usize, Seen> = described.iter().map(|(i, _)| (*i, Seen::default())).collect();
        for line in String::from_utf8_lossy(out).lines() {
            let Some(rest) = line.strip_prefix(TAG).and_then(|r| r.strip_prefix(' ')) else { continue };
            let (key, value) = rest.split_once(' ').unwrap_or((rest, ""));
            if key == "umask" {
                self.umask = u32::from_str_radix(value.trim(), 8).unwrap_or(0o022);
                continue;
            }
            let split = key.find(|c: char| c.is_ascii_digit()).unwrap_or(key.len());
            let (kind, index) = key.split_at(split);
            let Ok(i) = index.parse::<usize>() else { continue };
            match (kind, queries.get(i)) {
                ("ext", _) => {
                    if let Some(seen) = extra.get_mut(&i) {
                        let f: Vec<&str> = value.split_whitespace().collect();
                        if f.len() == 5 {
                            seen.nlink = f[0].parse().unwrap_or(1);
                            seen.inode = f[1].parse().unwrap_or(0);
                            seen.dev = f[2].parse().unwrap_or(0);
                            seen.atime = f[3].parse().unwrap_or(0);
                            seen.mtime = f[4].parse().unwrap_or(0);
                        }
                    }
                }
                ("exists", _) => extra.entry(i).or_default().exists_follow = true,
                ("real", _) => extra.entry(i).or_default().real = Some(value.to_string()),
                ("full", Some(Query::NonEmpty(p))) => self.nonempty.push(p.clone()),
                ("e", Some(Query::Tree(root))) => {
                    if let Some(e) = parse_entry(value) {
                        self.trees.entry(root.clone()).or_default().push(e);
                    }
                }
                ("d", Some(Query::Contents(root))) => self.contents.entry(root.clone()).or_default().0.push(value.to_string()),
                ("f", Some(Query::Contents(root))) => self.contents.entry(root.clone()).or_default().1.push(value.to_string()),
                ("epoch", Some(Query::Epoch(date))) => {
                    self.epochs.insert(date.clone(), value.trim().parse().ok());
                }
                _ => {}
            }
        }
        for q in queries {
            match q {
                Query::NonEmpty(p) => self.asked_nonempty.push(p.clone()),
                Query::Tree(root) => {
                    self.trees.entry(root.clone()).or_default();
                }
                Query::Contents(root) => {
                    self.contents.entry(root.clone()).or_default();
                }
                _ => {}
            }
        }
        for ((i, path), st) in described.iter().zip(states) {
            if st.kind == "unprobed" {
                // Left unknown on purpose: asked again if it is needed after all.
                continue;
            }
            let mut seen = extra.remove(i).unwrap_or_default();
            seen.st = st;
            self.seen.insert((*path).clone(), seen);
        }
        Ok(())
    }
}

fn describe_queries(queries: &[Query]) -> String {
    queries
        .iter()
        .find_map(|q| if let Query::Describe(p) = q { Some(p.clone()) } else { None })
        .unwrap_or_else(|| "the path".into())
}

/// `%f %u %g %X %Y %U %G %n` of one entry.
fn parse_entry(value: &str) -> Option<Entry> {
    let f: Vec<&str> = value.splitn(8, ' ').collect();
    if f.len() < 8 {
        return None;
    }
    Some(Entry {
        raw_mode: u32::from_str_radix(f[0], 16).ok()?,
        uid: f[1].parse().ok()?,
        gid: f[2].parse().ok()?,
        atime: f[3].parse().unwrap_or(0),
        mtime: f[4].parse().unwrap_or(0),
        owner: f[5].to_string(),
        group: f[6].to_string(),
        path: f[7].to_string(),
    })
}

