//! `unarchive`: unpack a tar or zip archive into a directory on the host.
//!
//! Round trip 1 gets the archive onto the host (on stdin from the control machine, a
//! path there with `remote_src`, or downloaded with the shared HTTP client when `src` is
//! a URL), lists its members (`tar -tv`; for zip python3's `zipfile`, or `unzip -Z1`
//! without python), and stats every member under `dest` in the same script. [`compare`]
//! then decides, as Ansible's unarchive does, from the entries and the disk — type, size,
//! modification time, permissions, and owner/group/mode when they are asked — whether to
//! extract and which paths need their attributes set. Nothing to do: that one round trip.
//! Otherwise round trip 2 gets the archive again, extracts, and applies owner/group/mode.

use std::collections::{HashMap, HashSet};

use async_trait::async_trait;
use serde_json::{json, Value};

use crate::args::{text, to_bool, ArgSpec, ArgType};
use crate::find::fnmatch;
use crate::http;
use crate::quote::quote;
use crate::util::{self, Attrs};
use crate::{Args, Context, Module, ModuleDoc, ModuleResult, RemoteError};

pub struct Unarchive;

const ARGS: &[ArgSpec] = crate::arg_table![
    ArgSpec::new(
        "src",
        ArgType::Path,
        "The archive: a file on the control machine, or with `remote_src` a path on the host or a URL (`https://...`), downloaded by the host \
with curl, wget or python3.",
    )
    .required(),
    ArgSpec::new("dest", ArgType::Path, "The existing directory on the host to unpack into.").required(),
    ArgSpec::new("remote_src", ArgType::Bool, "`src` is on the host (or a URL the host downloads).").default("no"),
    ArgSpec::new("copy", ArgType::Bool, "Deprecated opposite of `remote_src`: `copy: no` is `remote_src: yes`.").default("yes"),
    ArgSpec::new("creates", ArgType::Path, "If this path exists on the host, do nothing."),
    ArgSpec::new("exclude", ArgType::List, "Members (names or fnmatch globs, as listed by the archive) not to extract, compare or list. Mutually exclusive with `include`."),
    ArgSpec::new("include", ArgType::List, "Only these members (names or fnmatch globs) are extracted, compared and listed. Mutually exclusive with `exclude`."),
    ArgSpec::new("keep_newer", ArgType::Bool, "Do not replace files on the host that are newer than the archive's.").default("no"),
    ArgSpec::new("extra_opts", ArgType::List, "More options for `tar -x` or `unzip` (a list). For tar they also apply to the listing (`--show-transformed-names`), so `--strip-components` compares the right paths."),
    ArgSpec::new("list_files", ArgType::Bool, "Return the archive's members as `files`.").default("no"),
    ArgSpec::new("validate_certs", ArgType::Bool, "With a URL `src`: check the server's TLS certificate.").default("yes"),
    ArgSpec::new("decrypt", ArgType::Bool, "Decrypt a vault-encrypted archive on the control machine before sending it.").default("yes"),
    ArgSpec::new("io_buffer_size", ArgType::Int, "Accepted for compatibility (the host's tools choose their buffers).").default("65536"),
    ArgSpec::new("mode", ArgType::Raw, "Permissions of every extracted file and directory (and of the archive's top folders): octal or symbolic (`u=rwX,g=rX,o=rX`)."),
    ArgSpec::new("owner", ArgType::Str, "User name or uid that should own the extracted files and directories."),
    ArgSpec::new("group", ArgType::Str, "Group name or gid that should own the extracted files and directories."),
    ; crate::args::FILE_ATTRS
];

static DOC: ModuleDoc = ModuleDoc {
    name: "unarchive",
    short: "Unpacks an archive after (optionally) copying it from the local machine",
    description: "Unpacks a `.tar`, `.tar.gz`/`.tgz`, `.tar.bz2`/`.tbz2`, `.tar.xz`/`.txz` (with `tar`) or `.zip` (listed and, without \
`unzip`, extracted with python3's zipfile; `unzip` is used to extract when installed) archive into `dest`, which must exist. The \
format comes from the file name (a URL's path). Idempotent as Ansible's: every member is compared with what is under `dest` — \
missing, another type, another size or modification time (a newer file is kept with `keep_newer`), other permissions than the \
archive's, or another owner/group/mode than asked — and only a difference extracts; `owner`/`group`/`mode` are then applied to \
every member (and top folder) that differs. Without python3 on the host a zip is only checked for missing members. `creates` \
skips everything when the path exists. No change costs one round trip (the archive is sent, or downloaded, each run, as with \
Ansible); a change costs a second. Check mode is supported. Not supported: `attributes`, SELinux contexts.",
    args: ARGS,
    free_form: false,
    examples: "- name: Unpack a release\n  ansible.builtin.unarchive:\n    src: files/app-1.2.tar.gz\n    dest: /opt/app\n    owner: app\n    mode: u=rwX,g=rX,o=\n\n\
- name: Unpack an archive already on the host, once\n  ansible.builtin.unarchive:\n    src: /tmp/data.zip\n    dest: /srv/data\n    remote_src: yes\n    creates: /srv/data/README\n\n\
- name: Download and unpack, without the docs\n  ansible.builtin.unarchive:\n    src: https://example.com/tool-2.0.tar.xz\n    dest: /opt\n    remote_src: yes\n    exclude:\n      - 'tool-2.0/docs/*'\n",
    returns: &[
        ("dest", "the directory"),
        ("src", "the archive (the URL for a download)"),
        ("handler", "`TgzArchive` or `ZipArchive`"),
        ("files", "with `list_files`: the archive's members (less `exclude`, only `include`)"),
        ("extract_results", "when extracted: `cmd`, `rc`, `out`, `err`"),
    ],
};

const TAG: &str = "__provision_unarchive_e83c__";

/// A zip member's modification time: from the extended timestamp field when there is
/// one, else the DOS time read as UTC. Starts both python programs below.
const ZIP_MTIME_PY: &str = r#"import sys,os,zipfile,struct,calendar
def mt(i):
    t=calendar.timegm(tuple(i.date_time)+(0,0,-1)); x=i.extra
    while len(x)>=4:
        h,n=struct.unpack('<HH',x[:4])
        if h==0x5455 and n>=5 and x[4]&1: t=struct.unpack('<i',x[5:9])[0]
        x=x[4+n:]
    return t
"#;

/// Lists a zip as `TAG v KIND MODE SIZE MTIME NAME` lines and writes the names, one a
/// line, to argv[3].
const ZIP_LIST_PY: &str = r#"z=zipfile.ZipFile(sys.argv[1]); o=open(sys.argv[3],'w')
for i in z.infolist():
    a=i.external_attr>>16 if i.create_system==3 else 0
    k='d' if i.is_dir() else ('l' if a&0o170000==0o120000 else '-')
    print(sys.argv[2],'v',k,'%o'%(a&0o7777),i.file_size,mt(i),i.filename); o.write(i.filename+'\n')
"#;

/// Extracts argv[3:] (every member when none is named) of zip argv[1] into argv[2]:
/// permissions as stored (as unzip does), symlinks as links, modification times set.
const ZIP_EXTRACT_PY: &str = r#"z=zipfile.ZipFile(sys.argv[1]); d=sys.argv[2]; sel=set(sys.argv[3:]); dirs=[]
for i in z.infolist():
    if sel and i.filename not in sel: continue
    a=i.external_attr>>16 if i.create_system==3 else 0; t=mt(i)
    if a&0o170000==0o120000:
        if '..' in i.filename.split('/'): continue
        p=os.path.join(d,i.filename.lstrip('/')); os.makedirs(os.path.dirname(p) or '.',exist_ok=True)
        if os.path.lexists(p): os.remove(p)
        os.symlink(z.read(i).decode(),p); continue
    p=z.extract(i,d)
    if a&0o777: os.chmod(p,a&0o777)
    if i.is_dir(): dirs.append((p,t))
    else: os.utime(p,(t,t))
for p,t in reversed(dirs): os.utime(p,(t,t))
"#;

/// The `tar` compression flag for a file name, or `None` for zip; `Err` when unknown.
fn format_of(src: &str) -> Result<Option<&'static str>, String> {
    // A URL's query and fragment are not part of the name.
    let s = src.split(['?', '#']).next().unwrap_or(src).to_ascii_lowercase();
    Ok(Some(if s.ends_with(".tar.gz") || s.ends_with(".tgz") {
        "z"
    } else if s.ends_with(".tar.bz2") || s.ends_with(".tbz2") || s.ends_with(".tbz") {
        "j"
    } else if s.ends_with(".tar.xz") || s.ends_with(".txz") {
        "J"
    } else if s.ends_with(".tar") {
        ""
    } else if s.ends_with(".zip") {
        return Ok(None);
    } else {
        return Err(format!("Failed to find handler for \"{src}\". Make sure the required command to extract the file is installed (supported: .tar, .tar.gz, .tgz, .tar.bz2, .tar.xz, .zip)."));
    }))
}

/// Where the archive comes from.
enum Source<'a> {
    /// On stdin (from the control machine).
    Stdin,
    /// A path on the host.
    Path(&'a str),
    /// A URL the host downloads.
    Url(&'a str),
}

struct Plan<'a> {
    source: Source<'a>,
    dest: &'a str,
    tar: Option<&'static str>,
    extra: &'a [String],
    validate_certs: bool,
}

impl Plan<'_> {
    /// The start of both scripts: `$D` is the destination, `$T` a private temporary
    /// directory removed at exit (with the HTTP client's `$d`).
    fn head(&self) -> String {
        format!("export TZ=UTC0 LC_ALL=C; T=$(mktemp -d) || exit 1; trap 'rm -rf \"$T\" ${{d:+\"$d\"}}' EXIT; D={}; ", quote(self.dest))
    }

    /// Gets the archive to `$a`; the bytes to feed the script for it (a download's).
    fn fetch(&self) -> (String, Vec<u8>) {
        match self.source {
            Source::Stdin => ("a=\"$T/archive\"; cat > \"$a\"; ".into(), vec![]),
            Source::Path(p) => (format!("a={}; ", quote(p)), vec![]),
            Source::Url(u) => {
                let mut req = http::Request::get(u);
                req.validate_certs = self.validate_certs;
                let (fragment, input) = http::request_script(&req, "\"$a\"");
                (format!("a=\"$T/archive\"; {fragment}; "), input)
            }
        }
    }

    fn tar_opts(&self) -> String {
        if self.extra.is_empty() {
            String::new()
        } else {
            format!(" --show-transformed-names{}", self.extra.iter().map(|e| format!(" {}", quote(e))).collect::<String>())
        }
    }
}

/// Round trip 1: check, list, stat.
fn probe_script(p: &Plan, creates: Option<&str>, owner: Option<&str>, group: Option<&str>) -> (String, Vec<u8>) {
    let mut s = p.head();
    if let Some(c) = creates {
        s.push_str(&format!("if [ -e {} ]; then echo {TAG} skipped; exit 0; fi; ", quote(c)));
    }
    s.push_str(&format!("[ -d \"$D\" ] || {{ echo {TAG} nodest; exit 0; }}; "));
    let (fetch, stdin) = p.fetch();
    s.push_str(&fetch);
    if !matches!(p.source, Source::Url(_)) {
        s.push_str(&format!("[ -f \"$a\" ] || {{ echo {TAG} nosrc; exit 0; }}; "));
    }
    s.push_str(&format!("[ -s \"$a\" ] || {{ echo {TAG} empty; exit 0; }}; echo {TAG} who $(id -u) $(umask); "));
    if let Some(o) = owner.filter(|o| !o.bytes().all(|b| b.is_ascii_digit())) {
        s.push_str(&format!("echo {TAG} uid $(id -u -- {} 2>/dev/null); ", quote(o)));
    }
    if let Some(g) = group.filter(|g| !g.bytes().all(|b| b.is_ascii_digit())) {
        s.push_str(&format!("echo {TAG} gid $(getent group -- {} | cut -d: -f3); ", quote(g)));
    }
    let bad = format!("{{ echo {TAG} badlist; head -n 3 \"$T/e\" | sed 's/^/{TAG} err /'; exit 0; }}");
    match p.tar {
        Some(z) => {
            let o = p.tar_opts();
            s.push_str(&format!(
                "tar -t{z}f \"$a\"{o} > \"$T/n\" 2>\"$T/e\" || {bad}; \
tar -tv --numeric-owner --full-time -{z}f \"$a\"{o} 2>/dev/null | sed 's/^/{TAG} v /'; "
            ));
        }
        None => s.push_str(&format!(
            "if command -v python3 >/dev/null 2>&1; then python3 -c {} \"$a\" {TAG} \"$T/n\" 2>\"$T/e\" || {bad}; \
elif command -v unzip >/dev/null 2>&1; then echo {TAG} namesonly; unzip -Z1 \"$a\" > \"$T/n\" 2>\"$T/e\" || {bad}; \
else echo {TAG} nozip; exit 0; fi; ",
            quote(&format!("{ZIP_MTIME_PY}{ZIP_LIST_PY}"))
        )),
    }
    // The members and their top folders, stat'ed in one go; a missing one prints nothing.
    s.push_str(&format!(
        "echo {TAG} names; sed 's/^/{TAG} n /' \"$T/n\"; {{ cat \"$T/n\"; grep / \"$T/n\" | sed 's|/.*||' | sort -u; }} | \
while IFS= read -r f; do printf '%s/%s\\0' \"${{D%/}}\" \"$f\"; done | xargs -0 -r stat -c '{TAG} s %f %s %Y %u %g %n' -- 2>/dev/null; echo {TAG} end"
    ));
    (s, stdin)
}

/// One member of the archive, as listed.
#[derive(Debug, Clone, PartialEq, Default)]
struct Member {
    name: String,
    /// `-` file, `d` directory, `l` symlink, `h` hard link, other tar types as listed;
    /// `?` when only the name is known.
    kind: char,
    mode: u32,
    size: u64,
    mtime: i64,
}

/// What `stat` said about a path.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
struct Stat {
    /// `st_mode`, type bits included.
    mode: u32,
    size: u64,
    mtime: i64,
    uid: u32,
    gid: u32,
}

impl Stat {
    fn kind(&self) -> char {
        match self.mode & 0o170000 {
            0o040000 => 'd',
            0o120000 => 'l',
            0o100000 => '-',
            _ => '?',
        }
    }
}

/// Permission bits of `rwxr-xr-x` (with `s`/`S`/`t`/`T`).
fn perm_bits(p: &str) -> u32 {
    let c: Vec<char> = p.chars().collect();
    if c.len() < 9 {
        return 0;
    }
    let mut m = 0;
    for (i, bit) in [0o400, 0o200, 0o100, 0o040, 0o020, 0o010, 0o004, 0o002, 0o001].iter().enumerate() {
        if !matches!(c[i], '-' | 'S' | 'T') {
            m |= bit;
        }
    }
    for (i, special) in [(2, 0o4000), (5, 0o2000), (8, 0o1000)] {
        if matches!(c[i], 's' | 'S' | 't' | 'T') {
            m |= special;
        }
    }
    m
}

/// Seconds since the epoch of `YYYY-MM-DD HH:MM:SS` in UTC.
fn epoch(date: &str, time: &str) -> Option<i64> {
    let d: Vec<i64> = date.split('-').map(|x| x.parse().ok()).collect::<Option<_>>()?;
    let t: Vec<i64> = time.split(':').map(|x| x.parse().ok()).collect::<Option<_>>()?;
    let (&[y, m, dd], &[hh, mm, ss]) = (d.as_slice(), t.as_slice()) else { return None };
    // Days from civil (Howard Hinnant's algorithm).
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + dd - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    Some((era * 146097 + doe - 719468) * 86400 + hh * 3600 + mm * 60 + ss)
}

/// The first `n` whitespace-separated fields of `line` and the rest after them.
fn fields(line: &str, n: usize) -> Option<(Vec<&str>, &str)> {
    let mut out = vec![];
    let mut rest = line;
    for _ in 0..n {
        let r = rest.trim_start();
        let end = r.find(char::is_whitespace)?;
        out.push(&r[..end]);
        rest = &r[end..];
    }
    Some((out, rest.strip_prefix(' ').unwrap_or(rest)))
}

/// A `tar -tv --numeric-owner --full-time` line: `-rw-r--r-- 0/0 4 2026-01-02 03:04:05 name`.
fn parse_tar_line(line: &str) -> Option<Member> {
    let (f, rest) = fields(line, 5)?;
    let kind = f[0].chars().next()?;
    let name = match kind {
        'l' => rest.rsplit_once(" -> ").map_or(rest, |(n, _)| n),
        'h' => rest.rsplit_once(" link to ").map_or(rest, |(n, _)| n),
        _ => rest,
    };
    Some(Member { name: name.to_string(), kind, mode: perm_bits(&f[0][1..]), size: f[2].parse().unwrap_or(0), mtime: epoch(f[3], f[4])? })
}

/// The python zip listing's line: `KIND MODE SIZE MTIME NAME`.
fn parse_zip_line(line: &str) -> Option<Member> {
    let (f, rest) = fields(line, 4)?;
    Some(Member {
        name: rest.to_string(),
        kind: f[0].chars().next()?,
        mode: u32::from_str_radix(f[1], 8).ok()?,
        size: f[2].parse().ok()?,
        mtime: f[3].parse().ok()?,
    })
}

/// What round trip 1 printed.
#[derive(Debug, Default)]
struct Probe {
    status: String,
    errors: Vec<String>,
    root: bool,
    umask: u32,
    uid: Option<String>,
    gid: Option<String>,
    names: Vec<String>,
    verbose: Vec<Member>,
    names_only: bool,
    stats: HashMap<String, Stat>,
}

fn parse_probe(out: &str, dest: &str, tar: bool) -> Probe {
    let prefix = format!("{}/", dest.trim_end_matches('/'));
    let mut p = Probe::default();
    for line in out.lines() {
        let Some(rest) = line.strip_prefix(TAG).and_then(|l| l.strip_prefix(' ')) else { continue };
        let (key, value) = rest.split_once(' ').unwrap_or((rest, ""));
        match key {
            "who" => {
                let mut w = value.split_whitespace();
                p.root = w.next() == Some("0");
                p.umask = w.next().and_then(|u| u32::from_str_radix(u, 8).ok()).unwrap_or(0o022);
            }
            "uid" => p.uid = Some(value.trim().to_string()),
            "gid" => p.gid = Some(value.trim().to_string()),
            "err" => p.errors.push(value.to_string()),
            "namesonly" => p.names_only = true,
            "n" => p.names.push(value.to_string()),
            "v" => {
                if let Some(m) = if tar { parse_tar_line(value) } else { parse_zip_line(value) } {
                    p.verbose.push(m);
                }
            }
            "s" => {
                if let Some((f, path)) = fields(value, 5) {
                    let st = Stat {
                        mode: u32::from_str_radix(f[0], 16).unwrap_or(0),
                        size: f[1].parse().unwrap_or(0),
                        mtime: f[2].parse().unwrap_or(0),
                        uid: f[3].parse().unwrap_or(0),
                        gid: f[4].parse().unwrap_or(0),
                    };
                    if let Some(name) = path.strip_prefix(&prefix) {
                        p.stats.insert(name.to_string(), st);
                    }
                }
            }
            "names" | "end" => {}
            _ if p.status.is_empty() => p.status = key.to_string(),
            _ => {}
        }
    }
    p
}

/// The archive's members with what is known of them: from the verbose listing when it
/// matches the names, else only the names.
fn members(p: &Probe) -> Vec<Member> {
    if !p.names_only && p.verbose.len() == p.names.len() {
        return p.names.iter().zip(&p.verbose).map(|(n, v)| Member { name: n.clone(), ..v.clone() }).collect();
    }
    p.names.iter().map(|n| Member { name: n.clone(), kind: '?', ..Member::default() }).collect()
}

/// Whether `include`/`exclude` keep `name` (fnmatch on the member's name, as Ansible).
fn selected(name: &str, include: &[String], exclude: &[String]) -> bool {
    let hit = |pats: &[String]| pats.iter().any(|p| fnmatch(p, name) || fnmatch(p, name.trim_end_matches('/')));
    (include.is_empty() || hit(include)) && !hit(exclude)
}

/// The decision.
#[derive(Debug, Default, PartialEq)]
struct Verdict {
    /// Why extraction is needed (the first difference), or `None`.
    extract: Option<String>,
    /// Members a newer file on disk keeps from being extracted (`keep_newer`).
    kept: Vec<String>,
    /// Paths (members and top folders) whose owner, group or mode is to be set.
    fix: Vec<String>,
}

struct Want {
    mode: Option<String>,
    uid: Option<u32>,
    gid: Option<u32>,
    keep_newer: bool,
    tar: bool,
}

fn compare(members: &[Member], stats: &HashMap<String, Stat>, want: &Want, root: bool, umask: u32) -> Result<Verdict, String> {
    let mut v = Verdict::default();
    let differ = |v: &mut Verdict, why: String| {
        if v.extract.is_none() {
            v.extract = Some(why);
        }
    };
    let mut tops: Vec<String> = vec![];
    for m in members {
        if let Some((top, _)) = m.name.split_once('/') {
            if !top.is_empty() && top != "." && !tops.iter().any(|t| t == top) {
                tops.push(top.to_string());
            }
        }
        let Some(s) = stats.get(&m.name) else {
            differ(&mut v, format!("{} is missing", m.name));
            continue;
        };
        let want_kind = match m.kind {
            '-' | 'h' => '-',
            'd' => 'd',
            'l' => 'l',
            '?' if m.name.ends_with('/') => 'd',
            _ => '?',
        };
        if want_kind != '?' && m.kind != '?' && s.kind() != want_kind {
            differ(&mut v, format!("{} is not a {}", m.name, match want_kind { 'd' => "directory", 'l' => "symlink", _ => "file" }));
            continue;
        }
        if m.kind == '-' {
            if want.keep_newer && s.mtime > m.mtime {
                v.kept.push(m.name.clone());
            } else if s.size != m.size {
                differ(&mut v, format!("{} differs in size", m.name));
            } else if s.mtime != m.mtime {
                differ(&mut v, format!("{} differs in modification time", m.name));
            }
        }
        // The archive's permissions, as the extractor leaves them: tar as root keeps them
        // all, as a user less the umask; unzip (and our python) keeps rwx bits.
        if want.mode.is_none() && matches!(m.kind, '-' | 'd') && m.mode != 0 {
            let expect = match (want.tar, root) {
                (true, true) => m.mode & 0o7777,
                (true, false) => m.mode & 0o777 & !umask,
                (false, _) => m.mode & 0o777,
            };
            if s.mode & 0o7777 != expect {
                differ(&mut v, format!("{} has mode {:04o}, not {expect:04o}", m.name, s.mode & 0o7777));
            }
        }
    }
    for name in members.iter().map(|m| m.name.as_str()).chain(tops.iter().map(String::as_str)) {
        let Some(s) = stats.get(name) else { continue };
        let mut off = want.uid.is_some_and(|u| u != s.uid) || want.gid.is_some_and(|g| g != s.gid);
        if let (Some(mode), false) = (&want.mode, s.kind() == 'l') {
            let bits = util::resolve_mode(mode, s.mode & 0o7777, s.kind() == 'd', umask)?;
            off |= bits != s.mode & 0o7777;
        }
        if off && !v.fix.iter().any(|f| f == name) {
            v.fix.push(name.to_string());
        }
    }
    Ok(v)
}

/// Round trip 2: extract (`names`: only these members) and set attributes on `fix`.
fn apply_script(p: &Plan, extract: Option<&[String]>, keep_newer: bool, fix: &[String], symlinks: &HashSet<String>, attrs: &Attrs) -> (String, Vec<u8>) {
    let mut s = p.head();
    let (fetch, stdin) = p.fetch();
    s.push_str(&fetch);
    if let Some(names) = extract {
        s.push_str(&format!(
            "o=$({} 2>&1); x=$?; echo {TAG} extracted $x; printf '%s\\n' \"$o\" | sed 's/^/{TAG} o /'; [ $x -eq 0 ] || exit 0; ",
            extract_command(p, names, keep_newer)
        ));
    }
    if !fix.is_empty() {
        let all: String = fix.iter().map(|f| format!(" {}", quote(f))).collect();
        let mut cmds = vec![];
        match (&attrs.owner, &attrs.group) {
            (Some(o), Some(g)) => cmds.push(format!("chown -h -- {}{all}", quote(&format!("{o}:{g}")))),
            (Some(o), None) => cmds.push(format!("chown -h -- {}{all}", quote(o))),
            (None, Some(g)) => cmds.push(format!("chgrp -h -- {}{all}", quote(g))),
            (None, None) => {}
        }
        let files: String = fix.iter().filter(|f| !symlinks.contains(*f)).map(|f| format!(" {}", quote(f))).collect();
        if let (Some(m), false) = (&attrs.mode, files.is_empty()) {
            cmds.push(format!("chmod -- {}{files}", quote(m)));
        }
        if cmds.is_empty() {
            cmds.push("true".into());
        }
        s.push_str(&format!("e=$( {{ cd \"$D\" && {}; }} 2>&1); echo {TAG} attrs $?; printf '%s\\n' \"$e\" | sed 's/^/{TAG} o /'", cmds.join(" && ")));
    }
    (s, stdin)
}

fn extract_command(p: &Plan, names: &[String], keep_newer: bool) -> String {
    let listed: String = names.iter().map(|n| format!(" {}", quote(n))).collect();
    let extra: String = p.extra.iter().map(|e| format!(" {}", quote(e))).collect();
    match p.tar {
        Some(z) => {
            let keep = if keep_newer { " --keep-newer-files" } else { "" };
            let only = if names.is_empty() { String::new() } else { format!(" --no-recursion --{listed}") };
            format!("tar -x{z}f \"$a\" -C \"$D\"{keep}{extra}{only}")
        }
        None => format!(
            "if command -v unzip >/dev/null 2>&1; then unzip -o{extra} \"$a\"{listed} -d \"$D\"; else python3 -c {} \"$a\" \"$D\"{listed}; fi",
            quote(&format!("{ZIP_MTIME_PY}{ZIP_EXTRACT_PY}"))
        ),
    }
}

fn cmd_text(tar: Option<&str>, extra: &[String]) -> Vec<String> {
    let mut c: Vec<String> = match tar {
        Some(z) => vec!["tar".into(), format!("-x{z}f")],
        None => vec!["unzip".into(), "-o".into()],
    };
    c.extend(extra.iter().cloned());
    c
}

fn list(args: &Args, key: &str) -> Vec<String> {
    match args.get(key) {
        Some(Value::Array(a)) => a.iter().map(|v| v.as_str().map(str::to_string).unwrap_or_else(|| v.to_string())).filter(|s| !s.is_empty()).collect(),
        Some(Value::String(s)) if !s.trim().is_empty() && s.trim() != "[]" => shlex::split(s).unwrap_or_else(|| vec![s.clone()]),
        _ => vec![],
    }
}

#[async_trait]
impl Module for Unarchive {
    fn doc(&self) -> &'static ModuleDoc {
        &DOC
    }

    async fn run(&self, args: &Args, ctx: &Context<'_>) -> Result<ModuleResult, RemoteError> {
        let (Some(src), Some(dest)) = (text(args, "src").filter(|s| !s.is_empty()), text(args, "dest").filter(|s| !s.is_empty())) else {
            return Ok(ModuleResult::failed("src and dest are required for module `unarchive`"));
        };
        let flag = |k: &str, d: bool| args.get(k).and_then(to_bool).unwrap_or(d);
        let remote_src = flag("remote_src", false) || !flag("copy", true);
        let (keep_newer, list_files) = (flag("keep_newer", false), flag("list_files", false));
        let (extra, include, exclude) = (list(args, "extra_opts"), list(args, "include"), list(args, "exclude"));
        if !include.is_empty() && !exclude.is_empty() {
            return Ok(ModuleResult::failed("parameters are mutually exclusive: include|exclude"));
        }
        let tar = match format_of(&src) {
            Ok(t) => t,
            Err(e) => return Ok(ModuleResult::failed(e)),
        };
        let attrs = Attrs::from_args(args);
        let dest = util::expand_home(ctx.remote, &dest).await?;
        let creates = match text(args, "creates").filter(|c| !c.is_empty()) {
            Some(c) => Some(util::expand_home(ctx.remote, &c).await?),
            None => None,
        };
        let is_url = src.contains("://");
        let remote_path;
        let mut data = vec![];
        let source = if is_url {
            Source::Url(&src)
        } else if remote_src {
            remote_path = util::expand_home(ctx.remote, &src).await?;
            Source::Path(&remote_path)
        } else {
            match util::read_local(std::path::Path::new(&src), flag("decrypt", true)) {
                Ok(d) => data = d,
                Err(e) => return Ok(ModuleResult::failed(format!("Source '{src}' failed to transfer: cannot read it on the control machine: {e}"))),
            }
            Source::Stdin
        };
        let plan = Plan { source, dest: &dest, tar, extra: &extra, validate_certs: flag("validate_certs", true) };
        let feed = |stdin: Vec<u8>| if stdin.is_empty() { data.clone() } else { stdin };

        // Round trip 1.
        let (script, stdin) = probe_script(&plan, creates.as_deref(), attrs.owner.as_deref(), attrs.group.as_deref());
        let out = ctx.remote.exec(&script, &feed(stdin)).await?;
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        if is_url {
            let resp = http::parse_response(&stdout, &src);
            if resp.status != -1 || !resp.via.is_empty() {
                if !(200..300).contains(&resp.status) {
                    return Ok(ModuleResult::failed(format!("Failure downloading {}, {}", http::mask_url(&src), resp.msg)));
                }
            }
        }
        let probe = parse_probe(&stdout, &dest, tar.is_some());
        let handler = if tar.is_some() { "TgzArchive" } else { "ZipArchive" };
        let mut r = ModuleResult::ok(false);
        r.set("dest", dest.clone()).set("src", src.clone()).set("handler", handler);
        match probe.status.as_str() {
            "" => {}
            "skipped" => {
                let mut r = ModuleResult::ok(false);
                r.set("skipped", true).set("msg", format!("skipped, since {} exists", creates.unwrap_or_default()));
                return Ok(r);
            }
            "nodest" => return Ok(ModuleResult::failed(format!("dest '{dest}' must be an existing dir"))),
            "nosrc" => return Ok(ModuleResult::failed(format!("Source '{src}' does not exist"))),
            "empty" => return Ok(ModuleResult::failed(format!("Invalid archive '{src}', the file is 0 bytes"))),
            "nozip" => return Ok(ModuleResult::failed(format!("Failed to find handler for \"{src}\": a zip needs python3 or unzip on the host (install the `unzip` package)"))),
            "badlist" => return Ok(ModuleResult::failed(format!("Failed to read the archive \"{src}\": {}", probe.errors.join("; ")))),
            other => return Ok(ModuleResult::failed(format!("unarchive failed (rc={}, {other}): {}", out.rc, String::from_utf8_lossy(&out.stderr).trim()))),
        }
        let id = |asked: &Option<String>, found: &Option<String>, what: &str| -> Result<Option<u32>, String> {
            match asked {
                None => Ok(None),
                Some(a) if a.bytes().all(|b| b.is_ascii_digit()) => Ok(a.parse().ok()),
                Some(a) => found.as_deref().and_then(|f| f.parse().ok()).map(Some).ok_or_else(|| format!("failed to look up {what} {a}")),
            }
        };
        let (uid, gid) = match (id(&attrs.owner, &probe.uid, "user"), id(&attrs.group, &probe.gid, "group")) {
            (Ok(u), Ok(g)) => (u, g),
            (Err(e), _) | (_, Err(e)) => return Ok(ModuleResult::failed(e)),
        };
        let all = members(&probe);
        let chosen: Vec<Member> = all.into_iter().filter(|m| selected(&m.name, &include, &exclude)).collect();
        if list_files {
            r.set("files", chosen.iter().map(|m| m.name.clone()).collect::<Vec<_>>());
        }
        let want = Want { mode: attrs.mode.clone(), uid, gid, keep_newer, tar: tar.is_some() };
        let verdict = match compare(&chosen, &probe.stats, &want, probe.root, probe.umask) {
            Ok(v) => v,
            Err(e) => return Ok(ModuleResult::failed(e)),
        };
        if verdict.extract.is_none() && verdict.fix.is_empty() {
            return Ok(r);
        }
        r.set("changed", true);
        if ctx.check_mode {
            return Ok(r);
        }

        // Round trip 2: only what differs.
        let filtered = !include.is_empty() || !exclude.is_empty() || !verdict.kept.is_empty();
        let names: Vec<String> = if filtered { chosen.iter().map(|m| m.name.clone()).filter(|n| !verdict.kept.contains(n)).collect() } else { vec![] };
        let fix: Vec<String> = if verdict.extract.is_some() && (attrs.mode.is_some() || uid.is_some() || gid.is_some()) {
            // Extraction resets what it writes: set the attributes on everything again.
            let mut f: Vec<String> = chosen.iter().map(|m| m.name.clone()).collect();
            f.extend(verdict.fix.iter().filter(|x| !f.contains(x)).cloned().collect::<Vec<_>>());
            f
        } else {
            verdict.fix.clone()
        };
        let symlinks: HashSet<String> = chosen.iter().filter(|m| m.kind == 'l').map(|m| m.name.clone()).collect();
        let extract = verdict.extract.as_ref().map(|_| names.as_slice());
        let (script, stdin) = apply_script(&plan, extract, keep_newer, &fix, &symlinks, &attrs);
        let out = ctx.remote.exec(&script, &feed(stdin)).await?;
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        let mut output = String::new();
        let (mut extracted, mut attrs_rc) = (None, None);
        for line in stdout.lines() {
            let Some(rest) = line.strip_prefix(TAG).and_then(|l| l.strip_prefix(' ')) else { continue };
            let (key, value) = rest.split_once(' ').unwrap_or((rest, ""));
            match key {
                "extracted" => extracted = value.trim().parse::<i64>().ok(),
                "attrs" => attrs_rc = value.trim().parse::<i64>().ok(),
                "o" if !value.is_empty() => {
                    output.push_str(value);
                    output.push('\n');
                }
                _ => {}
            }
        }
        if extract.is_some() {
            let rc = extracted.unwrap_or(-1);
            r.set("extract_results", json!({"cmd": cmd_text(tar, &extra), "rc": rc, "out": output.trim_end(), "err": ""}));
            if rc != 0 {
                let why = if extracted.is_none() { String::from_utf8_lossy(&out.stderr).trim().to_string() } else { output.trim_end().to_string() };
                r.set("failed", true).set("msg", format!("failed to unpack {src} to {dest}: {why}"));
                return Ok(r);
            }
        }
        if !fix.is_empty() && attrs_rc != Some(0) {
            r.set("failed", true).set("msg", format!("failed to set owner/group/mode under {dest}: {}", output.trim_end()));
        }
        Ok(r)
    }
}

#[cfg(test)]
mod tests;
