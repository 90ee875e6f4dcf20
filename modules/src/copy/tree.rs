//! Directory copies: a tree from the control machine, or one already on the host.
//!
//! Both come down to a list of [`Item`]s (directories, files with their SHA-1, links)
//! relative to the destination directory, compared in one round trip with what the host
//! has at those paths ([`probe_tree`]: the path list travels on stdin, so the command
//! line stays short however many files there are). The changes then run as one script:
//! for a local tree it travels inside a tar stream with the changed files, unpacked into
//! a staging directory inside the destination and renamed into place file by file.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use super::*;
use crate::file::{attr_change_of, replace_with, AttrChange};

/// Marks this module's lines in the host's answers.
const TAG: &str = "__provision_copy_3e9a__";

/// One path of the tree, relative to the destination directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Item {
    Dir { rel: String },
    File { rel: String, from: From, mode: u32, sum: String },
    Link { rel: String, target: String },
}

/// Where a file's content is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum From {
    Local(PathBuf),
    Remote(String),
}

/// What the host has at one path.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) struct There {
    raw_mode: u32,
    uid: u32,
    gid: u32,
    owner: String,
    group: String,
    sum: Option<String>,
    link: Option<String>,
}

impl There {
    fn kind(&self) -> &'static str {
        match self.raw_mode & 0o170000 {
            0o040000 => "directory",
            0o120000 => "link",
            0o100000 => "file",
            _ => "other",
        }
    }
    fn bits(&self) -> u32 {
        self.raw_mode & 0o7777
    }
    fn change(&self, want: &Attrs, umask: u32) -> Result<AttrChange, String> {
        attr_change_of(self.kind(), self.bits(), &self.owner, self.uid, &self.group, self.gid, want, umask)
    }
}

/// SHA-1 of a local file, read in pieces.
fn sha1_file(path: &Path) -> std::io::Result<String> {
    use sha1::Digest;
    use std::io::Read;
    let mut f = std::fs::File::open(path)?;
    let mut head = [0u8; 15];
    if f.read_exact(&mut head).is_ok() && &head == b"$ANSIBLE_VAULT;" {
        // A vaulted file is sent decrypted: compare what is sent.
        let plain = util::read_local(path, true).map_err(std::io::Error::other)?;
        return Ok(util::sha1_hex(&plain));
    }
    let mut f = std::fs::File::open(path)?;
    let mut hasher = sha1::Sha1::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hasher.finalize().iter().map(|b| format!("{b:02x}")).collect())
}

fn local_mode(meta: &std::fs::Metadata) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    meta.permissions().mode() & 0o7777
}

/// Ansible's `_walk_dirs`: everything under `dir`, parents before children. Following
/// links (`local_follow`), a link back to a directory being walked stays a link.
fn walk_local(dir: &Path, rel: &str, follow: bool, parents: &mut Vec<PathBuf>, out: &mut Vec<Item>) -> Result<(), String> {
    let err = |p: &Path, e: std::io::Error| format!("cannot read {}: {e}", p.display());
    let mut entries: Vec<std::fs::DirEntry> = std::fs::read_dir(dir).map_err(|e| err(dir, e))?.filter_map(Result::ok).collect();
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let path = entry.path();
        let Some(name) = entry.file_name().to_str().map(str::to_string) else {
            return Err(format!("cannot copy {}: the name is not UTF-8", path.display()));
        };
        if name.contains('\n') {
            return Err(format!("cannot copy {}: names with a newline are not supported", path.display()));
        }
        let child = if rel.is_empty() { name } else { format!("{rel}/{name}") };
        let lmeta = std::fs::symlink_metadata(&path).map_err(|e| err(&path, e))?;
        let meta = if lmeta.file_type().is_symlink() && follow { std::fs::metadata(&path).ok() } else { Some(lmeta.clone()) };
        match meta {
            Some(m) if m.is_dir() && !m.file_type().is_symlink() => {
                let canon = std::fs::canonicalize(&path).map_err(|e| err(&path, e))?;
                if parents.contains(&canon) {
                    let target = std::fs::read_link(&path).map_err(|e| err(&path, e))?;
                    out.push(Item::Link { rel: child, target: target.to_string_lossy().into_owned() });
                    continue;
                }
                out.push(Item::Dir { rel: child.clone() });
                parents.push(canon);
                walk_local(&path, &child, follow, parents, out)?;
                parents.pop();
            }
            Some(m) if m.is_file() => {
                let sum = sha1_file(&path).map_err(|e| err(&path, e))?;
                out.push(Item::File { rel: child, from: From::Local(path.clone()), mode: local_mode(&m), sum });
            }
            _ if lmeta.file_type().is_symlink() => {
                let target = std::fs::read_link(&path).map_err(|e| err(&path, e))?;
                out.push(Item::Link { rel: child, target: target.to_string_lossy().into_owned() });
            }
            // Sockets, fifos, devices: not copied (as Ansible's walk skips them).
            _ => {}
        }
    }
    Ok(())
}

/// `src` is a directory on the control machine.
pub(super) async fn copy_local_tree(o: &Opts, ctx: &Context<'_>, src: &str) -> Result<ModuleResult, RemoteError> {
    let contents_only = src.ends_with('/');
    let root = Path::new(if src == "/" { "/" } else { src.trim_end_matches('/') });
    let mut items = vec![];
    let base = if contents_only { String::new() } else { basename(src).to_string() };
    if !contents_only {
        items.push(Item::Dir { rel: base.clone() });
    }
    let canon = std::fs::canonicalize(root).map_err(|e| RemoteError::Other(format!("cannot read {src}: {e}")))?;
    if let Err(e) = walk_local(root, &base, o.local_follow, &mut vec![canon], &mut items) {
        return Ok(ModuleResult::failed(e));
    }
    copy_tree(o, ctx, src, items).await
}

/// `src` is a directory on the host (`remote_src`).
pub(super) async fn copy_remote_tree(o: &Opts, ctx: &Context<'_>, src: &str) -> Result<ModuleResult, RemoteError> {
    let contents_only = src.ends_with('/');
    let root = if src == "/" { "/".to_string() } else { src.trim_end_matches('/').to_string() };
    let script = format!(
        "cd -- {} || exit 1; find . -mindepth 1 -exec stat -c '{TAG} r %f %n' -- {{}} + ; \
find . -mindepth 1 -type f -exec sha1sum -- {{}} + ; \
find . -mindepth 1 -type l -exec sh -c 'for f; do printf \"{TAG} l %s -> %s\\n\" \"$f\" \"$(readlink -- \"$f\")\"; done' sh {{}} + ; true",
        quote(&root)
    );
    let out = ctx.remote.exec(&script, b"").await?;
    if out.rc != 0 {
        return Ok(ModuleResult::failed(format!("Source {src} not readable: {}", String::from_utf8_lossy(&out.stderr).trim())));
    }
    let base = if contents_only { String::new() } else { basename(&root).to_string() };
    let items = parse_remote_listing(&String::from_utf8_lossy(&out.stdout), &root, &base);
    copy_tree(o, ctx, src, items).await
}

/// Items from the listing of a tree on the host (`./x` names, relative to `root`).
fn parse_remote_listing(text: &str, root: &str, base: &str) -> Vec<Item> {
    let rel = |name: &str| {
        let r = name.trim_start_matches("./");
        if base.is_empty() { r.to_string() } else { format!("{base}/{r}") }
    };
    let mut sums: HashMap<String, String> = HashMap::new();
    let mut links: HashMap<String, String> = HashMap::new();
    for line in text.lines() {
        if let Some((name, target)) = line.strip_prefix(&format!("{TAG} l ")).and_then(|l| l.split_once(" -> ")) {
            links.insert(name.to_string(), target.to_string());
        } else if let Some((sum, name)) = parse_sha1_line(line) {
            sums.insert(name, sum);
        }
    }
    let mut items = vec![];
    if !base.is_empty() {
        items.push(Item::Dir { rel: base.to_string() });
    }
    for line in text.lines() {
        let Some(rest) = line.strip_prefix(&format!("{TAG} r ")) else { continue };
        let f: Vec<&str> = rest.splitn(2, ' ').collect();
        let (Some(raw), Some(name)) = (f.first().and_then(|m| u32::from_str_radix(m, 16).ok()), f.get(1)) else {
            continue;
        };
        match raw & 0o170000 {
            0o040000 => items.push(Item::Dir { rel: rel(name) }),
            0o100000 => items.push(Item::File {
                rel: rel(name),
                from: From::Remote(join(root, name.trim_start_matches("./"))),
                mode: raw & 0o7777,
                sum: sums.get(*name).cloned().unwrap_or_default(),
            }),
            0o120000 => items.push(Item::Link { rel: rel(name), target: links.get(*name).cloned().unwrap_or_default() }),
            _ => {}
        }
    }
    items
}

/// A `sha1sum` output line: (sum, name); names with `\` or a newline come escaped.
fn parse_sha1_line(line: &str) -> Option<(String, String)> {
    let (escaped, line) = match line.strip_prefix('\\') {
        Some(l) => (true, l),
        None => (false, line),
    };
    let (sum, name) = line.split_once("  ")?;
    if sum.len() != 40 || !sum.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let name = if escaped { name.replace("\\n", "\n").replace("\\\\", "\\") } else { name.to_string() };
    Some((sum.to_string(), name))
}

/// The destination directory and every directory above it (`/a/b` → `/a`, `/a/b`).
fn ancestors(dest_dir: &str) -> Vec<String> {
    let mut out = vec![];
    let mut current = if dest_dir.starts_with('/') { String::new() } else { ".".to_string() };
    for part in dest_dir.split('/').filter(|p| !p.is_empty()) {
        current = if current.is_empty() || current == "/" { format!("/{part}") } else { format!("{current}/{part}") };
        if current.starts_with("./") {
            current = current[2..].to_string();
        }
        out.push(current.clone());
    }
    out
}

/// What the host has at `paths`, in one round trip (the list goes on stdin).
async fn probe_tree(remote: &dyn crate::Remote, paths: &[String], with_links: bool) -> Result<(u32, HashMap<String, There>), String> {
    let mut script = format!(
        "l=$(mktemp) || exit 1; trap 'rm -f \"$l\"' EXIT; cat > \"$l\"; echo \"{TAG} umask $(umask)\"; \
xargs -0 -r stat -c '{TAG} s %f %u %g %U %G %n' -- < \"$l\" 2>/dev/null; \
xargs -0 -r sh -c 'for f; do [ -f \"$f\" ] && [ ! -L \"$f\" ] && printf \"%s\\0\" \"$f\"; done; true' sh < \"$l\" | xargs -0 -r sha1sum -- 2>/dev/null"
    );
    if with_links {
        script.push_str(&format!(
            "; xargs -0 -r sh -c 'for f; do [ -L \"$f\" ] && printf \"{TAG} l %s -> %s\\n\" \"$f\" \"$(readlink -- \"$f\")\"; done; true' sh < \"$l\""
        ));
    }
    script.push_str("; true");
    let mut stdin = Vec::new();
    for p in paths {
        stdin.extend_from_slice(p.as_bytes());
        stdin.push(0);
    }
    let out = remote.exec(&script, &stdin).await.map_err(|e| e.to_string())?;
    if out.rc != 0 {
        return Err(format!("cannot inspect the destination: {}", String::from_utf8_lossy(&out.stderr).trim()));
    }
    Ok(parse_probe_tree(&String::from_utf8_lossy(&out.stdout), paths))
}

fn parse_probe_tree(text: &str, paths: &[String]) -> (u32, HashMap<String, There>) {
    let mut umask = 0o022;
    let mut there: HashMap<String, There> = HashMap::new();
    let known: std::collections::HashSet<&str> = paths.iter().map(String::as_str).collect();
    for line in text.lines() {
        if let Some(u) = line.strip_prefix(&format!("{TAG} umask ")) {
            umask = u32::from_str_radix(u.trim(), 8).unwrap_or(0o022);
        } else if let Some(rest) = line.strip_prefix(&format!("{TAG} s ")) {
            let f: Vec<&str> = rest.splitn(6, ' ').collect();
            if f.len() == 6 {
                let t = there.entry(f[5].to_string()).or_default();
                t.raw_mode = u32::from_str_radix(f[0], 16).unwrap_or(0);
                t.uid = f[1].parse().unwrap_or(0);
                t.gid = f[2].parse().unwrap_or(0);
                t.owner = f[3].to_string();
                t.group = f[4].to_string();
            }
        } else if let Some(rest) = line.strip_prefix(&format!("{TAG} l ")) {
            // Split where the left part is a path that was asked about.
            let mut from = 0;
            while let Some(i) = rest[from..].find(" -> ") {
                let (name, target) = (&rest[..from + i], &rest[from + i + 4..]);
                if known.contains(name) {
                    there.entry(name.to_string()).or_default().link = Some(target.to_string());
                    break;
                }
                from += i + 4;
            }
        } else if let Some((sum, name)) = parse_sha1_line(line) {
            there.entry(name).or_default().sum = Some(sum);
        }
    }
    // A sum or link line for a path that was not stat'ed means nothing.
    there.retain(|_, t| t.raw_mode != 0);
    (umask, there)
}

/// One file a tree copy writes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Write {
    /// Where it goes.
    target: String,
    /// Where it is staged, relative to the staging directory: `d<N>/<name>` (one
    /// directory per target directory, so one `mv` moves them all), or `n<N>` for a
    /// name too long for a tar header.
    stage: String,
    from: From,
    mode: u32,
    /// `user:group`, `user` or `:group` for `chown`.
    owner: Option<String>,
    /// A file is replaced (it may be backed up).
    replaces: bool,
}

/// What the tree copy will do.
#[derive(Debug, Default, PartialEq)]
pub(super) struct TreePlan {
    /// Directories to create or fix, parents first.
    dirs: Vec<String>,
    writes: Vec<Write>,
    /// Attribute fixes of paths that stay (quoted path, change).
    fixes: Vec<(String, AttrChange)>,
    /// Symlinks to create or replace.
    links: Vec<String>,
}

impl TreePlan {
    fn is_empty(&self) -> bool {
        self.dirs.is_empty() && self.writes.is_empty() && self.fixes.is_empty() && self.links.is_empty()
    }
}

/// Compare the items with what the host has; what makes them so.
fn plan_tree(o: &Opts, dest_dir: &str, items: &[Item], umask: u32, there: &HashMap<String, There>) -> Result<TreePlan, String> {
    let mut p = TreePlan::default();
    let new_dir = 0o777 & !umask;
    let dir_want = Attrs { mode: o.directory_mode.clone(), owner: o.want.owner.clone(), group: o.want.group.clone() };
    let new_dir_change = attr_change_of("directory", new_dir, "", u32::MAX, "", u32::MAX, &dir_want, umask)?;
    let mkdir = |p: &mut TreePlan, path: &str| {
        let q = quote(path);
        p.dirs.push(format!("mkdir -p -- {q}"));
        p.dirs.extend(new_dir_change.commands(&q));
    };
    for a in ancestors(dest_dir) {
        match there.get(&a) {
            None => mkdir(&mut p, &a),
            Some(t) if t.kind() == "directory" || (t.kind() == "link") => {}
            Some(t) => return Err(format!("{a} already exists as a {}", t.kind())),
        }
    }
    let mut stage_dirs: HashMap<String, usize> = HashMap::new();
    for item in items {
        match item {
            Item::Dir { rel } => {
                let path = join(dest_dir, rel);
                match there.get(&path) {
                    None => mkdir(&mut p, &path),
                    Some(t) if t.kind() == "directory" => p.dirs.extend(t.change(&dir_want, umask)?.commands(&quote(&path))),
                    Some(t) => return Err(format!("{path} already exists as a {}", t.kind())),
                }
            }
            Item::File { rel, from, mode, sum } => {
                let path = join(dest_dir, rel);
                let want = wanted_attrs(o, *mode);
                let here = there.get(&path);
                match here {
                    Some(t) if t.kind() == "directory" => return Err(format!("cannot copy {rel}: {path} is a directory")),
                    Some(t) if t.kind() == "file" && t.sum.as_deref() == Some(sum.as_str()) => {
                        let change = t.change(&want, umask)?;
                        if !change.is_empty() {
                            p.fixes.push((quote(&path), change));
                        }
                        continue;
                    }
                    Some(_) if !o.force => continue,
                    _ => {}
                }
                let name = basename(&path);
                let next = stage_dirs.len();
                let index = *stage_dirs.entry(dirname(&path)).or_insert(next);
                let stage = format!("d{index}/{name}");
                let stage = if stage.len() < 100 { stage } else { format!("n{}", p.writes.len()) };
                p.writes.push(file_write(path, stage, from, *mode, &want, here, umask)?);
            }
            Item::Link { rel, target } => {
                let path = join(dest_dir, rel);
                match there.get(&path) {
                    None => p.links.push(format!("ln -s -- {} {}", quote(target), quote(&path))),
                    Some(t) if t.link.as_deref() == Some(target.as_str()) => {}
                    Some(t) if t.kind() == "directory" => return Err(format!("cannot link {rel}: {path} is a directory")),
                    Some(_) => p.links.push(replace_with(&format!("ln -s -- {}", quote(target)), &path)),
                }
            }
        }
    }
    Ok(p)
}

/// How one file is written: its mode and owner (a replaced file's are kept unless asked
/// otherwise; a new one gets 0666 less the umask, or the source's for `remote_src`).
fn file_write(target: String, stage: String, from: &From, source_mode: u32, want: &Attrs, here: Option<&There>, umask: u32) -> Result<Write, String> {
    let replaced = here.filter(|t| t.kind() == "file");
    let base = match (replaced, from) {
        (Some(t), _) => t.bits(),
        (None, From::Remote(_)) => source_mode,
        (None, From::Local(_)) => 0o666 & !umask,
    };
    let mode = match &want.mode {
        Some(m) => resolve_mode(m, base, false, umask)?,
        None => base,
    };
    let owner = match (&want.owner, &want.group, replaced) {
        (Some(u), Some(g), _) => Some(format!("{u}:{g}")),
        (Some(u), None, Some(t)) => Some(format!("{u}:{}", t.gid)),
        (Some(u), None, None) => Some(u.clone()),
        (None, Some(g), Some(t)) => Some(format!("{}:{g}", t.uid)),
        (None, Some(g), None) => Some(format!(":{g}")),
        (None, None, Some(t)) => Some(format!("{}:{}", t.uid, t.gid)),
        (None, None, None) => None,
    };
    Ok(Write { target, stage, from: from.clone(), mode, owner, replaces: replaced.is_some() })
}

/// A staged file in the script: `"$s"/'d0/name'`.
fn staged(stage: &str) -> String {
    format!("\"$s\"/{}", quote(stage))
}

/// `cmd words... last` in lines of at most 500 words (the argument list of one
/// command is limited).
fn batched(cmd: &str, words: &[String], last: &str, out: &mut Vec<String>) {
    for chunk in words.chunks(500) {
        let mut line = format!("{cmd} {}", chunk.join(" "));
        if !last.is_empty() {
            line.push(' ');
            line.push_str(last);
        }
        out.push(line);
    }
}

/// The script that carries the plan out, `"$s"` being the staging directory (inside the
/// destination, so that renames stay on one file system). Writes are batched: one
/// `chmod`/`chown` per distinct value, one `mv` per target directory; each file still
/// replaces its target by a rename. Validation and backups run before any rename.
fn tree_script(o: &Opts, plan: &TreePlan) -> Result<String, String> {
    use std::collections::BTreeMap;
    let mut lines = plan.dirs.clone();
    // Files already on the host are copied into the staging area first.
    let mut copies: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for w in &plan.writes {
        if let From::Remote(src) = &w.from {
            match w.stage.split_once('/') {
                Some((d, _)) => copies.entry(d.to_string()).or_default().push(quote(src)),
                None => lines.push(format!("cp -- {} {}", quote(src), staged(&w.stage))),
            }
        }
    }
    for (d, sources) in &copies {
        lines.push(format!("mkdir -p -- {}", staged(d)));
        batched("cp --", sources, &staged(d), &mut lines);
    }
    let mut modes: BTreeMap<u32, Vec<String>> = BTreeMap::new();
    let mut owners: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for w in &plan.writes {
        modes.entry(w.mode).or_default().push(staged(&w.stage));
        if let Some(who) = &w.owner {
            owners.entry(who.clone()).or_default().push(staged(&w.stage));
        }
    }
    // chown before chmod: chown clears setuid bits.
    for (who, files) in &owners {
        batched(&format!("chown -- {}", quote(who)), files, "", &mut lines);
    }
    for (mode, files) in &modes {
        batched(&format!("chmod {mode:04o} --"), files, "", &mut lines);
    }
    if o.backup {
        for w in plan.writes.iter().filter(|w| w.replaces) {
            let q = quote(&w.target);
            lines.push(format!("b={q}.\"$(date +%Y-%m-%d@%H:%M:%S)~\"; cp -p -- {q} \"$b\"; echo \"backup:$b\""));
        }
    }
    let hook = validate_hook(o.validate.as_deref())?;
    if !hook.is_empty() {
        for w in &plan.writes {
            lines.push(format!("t={}; {}", staged(&w.stage), hook.trim_end_matches(" && ")));
        }
    }
    let mut moves: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for w in &plan.writes {
        if w.stage.contains('/') {
            moves.entry(dirname(&w.target)).or_default().push(staged(&w.stage));
        } else {
            lines.push(format!("mv -f -- {} {}", staged(&w.stage), quote(&w.target)));
        }
    }
    for (dir, files) in &moves {
        batched("mv -f --", files, &quote(dir), &mut lines);
    }
    // Attributes of files that stay, batched the same way.
    let mut fix_modes: BTreeMap<u32, Vec<String>> = BTreeMap::new();
    let mut fix_owners: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (q, c) in &plan.fixes {
        match (&c.owner, &c.group) {
            (Some(u), Some(g)) => fix_owners.entry(format!("{u}:{g}")).or_default().push(q.clone()),
            (Some(u), None) => fix_owners.entry(u.clone()).or_default().push(q.clone()),
            (None, Some(g)) => fix_owners.entry(format!(":{g}")).or_default().push(q.clone()),
            (None, None) => {}
        }
        if let Some(m) = c.mode {
            fix_modes.entry(m).or_default().push(q.clone());
        }
    }
    for (who, files) in &fix_owners {
        batched(&format!("chown -h -- {}", quote(who)), files, "", &mut lines);
    }
    for (mode, files) in &fix_modes {
        batched(&format!("chmod {mode:04o} --"), files, "", &mut lines);
    }
    lines.extend(plan.links.iter().cloned());
    Ok(lines.join("\n"))
}

/// Copy the items into the destination directory.
async fn copy_tree(o: &Opts, ctx: &Context<'_>, src: &str, items: Vec<Item>) -> Result<ModuleResult, RemoteError> {
    let dest_dir = if o.dest.trim_end_matches('/').is_empty() { "/".to_string() } else { o.dest.trim_end_matches('/').to_string() };
    let mut paths = ancestors(&dest_dir);
    paths.extend(items.iter().map(|i| match i {
        Item::Dir { rel } | Item::File { rel, .. } | Item::Link { rel, .. } => join(&dest_dir, rel),
    }));
    let with_links = items.iter().any(|i| matches!(i, Item::Link { .. }));
    let (umask, there) = match probe_tree(ctx.remote, &paths, with_links).await {
        Ok(x) => x,
        Err(e) => return Ok(ModuleResult::failed(e)),
    };
    let plan = match plan_tree(o, &dest_dir, &items, umask, &there) {
        Ok(p) => p,
        Err(e) => return Ok(ModuleResult::failed(e)),
    };
    let changed = !plan.is_empty();
    let mut r = ModuleResult::ok(changed);
    r.set("dest", format!("{}/", dest_dir.trim_end_matches('/')));
    r.set("src", src);
    if ctx.diff && !plan.writes.is_empty() {
        r.set("diff", Value::Array(tree_diff(&plan.writes)));
    }
    if !changed || ctx.check_mode {
        return Ok(r);
    }
    let script = match tree_script(o, &plan) {
        Ok(s) => s,
        Err(e) => return Ok(ModuleResult::failed(e)),
    };
    let out = match run_tree(ctx.remote, &dest_dir, &plan, &script).await {
        Ok(out) => out,
        Err(e) => return Ok(ModuleResult::failed(e)),
    };
    let stdout = String::from_utf8_lossy(&out.stdout);
    if let Some(rc) = stdout.lines().find_map(|l| l.strip_prefix(VALIDATE_MARK)) {
        let mut f = ModuleResult::failed("failed to validate");
        f.set("exit_status", rc.trim().parse::<i64>().unwrap_or(1));
        f.set("stderr", String::from_utf8_lossy(&out.stderr).into_owned());
        return Ok(f);
    }
    if out.rc != 0 {
        return Ok(ModuleResult::failed(format!("cannot copy into {dest_dir}: {}", String::from_utf8_lossy(&out.stderr).trim())));
    }
    Ok(r)
}

/// Run the script: with the local files that change in one tar stream on stdin, or
/// alone (files already on the host).
async fn run_tree(remote: &dyn crate::Remote, dest_dir: &str, plan: &TreePlan, script: &str) -> Result<crate::ExecOutput, String> {
    let qd = quote(dest_dir);
    let head = format!("set -e; mkdir -p -- {qd}; s=$(mktemp -d {qd}/.provision.XXXXXXXX); trap 'rm -rf \"$s\"' EXIT");
    let local = plan.writes.iter().any(|w| matches!(w.from, From::Local(_)));
    let out = if local {
        let mut contents: Vec<(String, Vec<u8>)> = Vec::with_capacity(plan.writes.len() + 1);
        for w in &plan.writes {
            if let From::Local(path) = &w.from {
                let bytes = util::read_local(path, true).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
                contents.push((w.stage.clone(), bytes));
            }
        }
        contents.push((".script".into(), format!("{script}\n").into_bytes()));
        let refs: Vec<(String, &[u8])> = contents.iter().map(|(n, c)| (n.clone(), c.as_slice())).collect();
        let tar = util::tar_archive(&refs);
        remote.exec(&format!("{head}; tar -xof - -C \"$s\"; . \"$s/.script\""), &tar).await
    } else {
        remote.exec("sh -s", format!("{head}\n{script}\n").as_bytes()).await
    };
    out.map_err(|e| e.to_string())
}

/// Diffs of the files a tree copy writes: new text files in full; a replaced file's old
/// content is not fetched (Ansible shows no diff for directory copies at all).
fn tree_diff(writes: &[Write]) -> Vec<Value> {
    writes
        .iter()
        .map(|w| {
            let mut d = Map::new();
            d.insert("before".into(), Value::String(String::new()));
            if w.replaces {
                d.insert("before_header".into(), Value::String(format!("{} (replaced; old content not fetched)", w.target)));
            }
            let local = if let From::Local(l) = &w.from { util::read_local(l, true).ok() } else { None };
            match local {
                Some(b) if b.len() as u64 > MAX_DIFF_SIZE => {
                    d.insert("src_larger".into(), Value::from(MAX_DIFF_SIZE));
                }
                Some(b) if b.contains(&0) => {
                    d.insert("src_binary".into(), Value::from(1));
                }
                Some(b) => {
                    d.insert("after_header".into(), Value::String(w.target.clone()));
                    d.insert("after".into(), Value::String(String::from_utf8_lossy(&b).into_owned()));
                }
                None => {}
            }
            Value::Object(d)
        })
        .collect()
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;

    #[test]
    fn ancestors_walk_down_from_the_root() {
        assert_eq!(ancestors("/srv/a/b"), vec!["/srv", "/srv/a", "/srv/a/b"]);
        assert_eq!(ancestors("rel/x"), vec!["rel", "rel/x"]);
        assert!(ancestors("/").is_empty());
    }

    #[test]
    fn sha1sum_lines_parse_with_escapes() {
        let sum = "a".repeat(40);
        assert_eq!(parse_sha1_line(&format!("{sum}  /a b")), Some((sum.clone(), "/a b".into())));
        assert_eq!(parse_sha1_line(&format!("\\{sum}  /a\\nb\\\\c")), Some((sum.clone(), "/a\nb\\c".into())));
        assert_eq!(parse_sha1_line("nope"), None);
    }

    #[test]
    fn the_probe_answer_parses() {
        let sum = "b".repeat(40);
        let paths = vec!["/d".to_string(), "/d/x -> y".to_string(), "/d/f".to_string(), "/d/missing".to_string()];
        let text = format!(
            "{TAG} umask 0027\n{TAG} s 41ed 0 0 root root /d\n{TAG} s a1ff 0 0 root root /d/x -> y\n{TAG} s 81a4 33 33 www-data www-data /d/f\n{sum}  /d/f\n{TAG} l /d/x -> y -> ../t\n"
        );
        let (umask, there) = parse_probe_tree(&text, &paths);
        assert_eq!(umask, 0o027);
        assert_eq!(there.len(), 3);
        assert_eq!(there["/d"].kind(), "directory");
        assert_eq!(there["/d/f"].sum.as_deref(), Some(sum.as_str()));
        assert_eq!((there["/d/f"].owner.as_str(), there["/d/f"].bits()), ("www-data", 0o644));
        assert_eq!(there["/d/x -> y"].link.as_deref(), Some("../t"));
    }

    #[test]
    fn remote_listing_becomes_items() {
        let sum = "c".repeat(40);
        let text = format!("{TAG} r 41ed ./sub\n{TAG} r 81ed ./sub/run.sh\n{TAG} r a1ff ./l\n{sum}  ./sub/run.sh\n{TAG} l ./l -> sub/x\n");
        let items = parse_remote_listing(&text, "/opt/src", "src");
        assert_eq!(
            items,
            vec![
                Item::Dir { rel: "src".into() },
                Item::Dir { rel: "src/sub".into() },
                Item::File { rel: "src/sub/run.sh".into(), from: From::Remote("/opt/src/sub/run.sh".into()), mode: 0o755, sum: sum.clone() },
                Item::Link { rel: "src/l".into(), target: "sub/x".into() },
            ]
        );
    }
}
