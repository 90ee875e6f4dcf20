//! `group_vars/` and `host_vars/` beside an inventory source.
//!
//! For a group or host `NAME`, the first of `NAME`, `NAME.yml`, `NAME.yaml`, `NAME.json`
//! that exists is used (Ansible's `DataLoader.find_vars_files`): a file is read as YAML;
//! a directory contributes every file in it, recursively, in sorted order, skipping hidden
//! names and `*~` backups, and taking only files without an extension or with `.yml`,
//! `.yaml` or `.json`. Later files replace earlier keys. Empty files are ignored; a file
//! that is not a mapping is an error. Names starting with `/` are skipped, as Ansible
//! skips them.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

use super::{Inventory, LOCALHOST_NAMES};
use crate::diag::Diagnostic;

const EXTENSIONS: [&str; 4] = ["", ".yml", ".yaml", ".json"];

/// The variables found under one directory's `group_vars/` and `host_vars/`.
#[derive(Debug, Default, Clone)]
pub(super) struct VarsDir {
    group_listing: Option<Listing>,
    host_listing: Option<Listing>,
    groups: HashMap<String, Map<String, Value>>,
    hosts: HashMap<String, Map<String, Value>>,
}

impl VarsDir {
    /// Read the files for every group and host of `inv` (and the implicit localhost
    /// names) under `dir`.
    pub(super) fn load(dir: &Path, inv: &Inventory) -> Result<VarsDir, Diagnostic> {
        let mut out = VarsDir {
            group_listing: Listing::read(&dir.join("group_vars")),
            host_listing: Listing::read(&dir.join("host_vars")),
            ..VarsDir::default()
        };
        for name in inv.groups.keys() {
            out.load_group(name)?;
        }
        let names = inv.hosts.keys().map(String::as_str).chain(LOCALHOST_NAMES);
        for name in names {
            out.load_host(name)?;
        }
        Ok(out)
    }

    /// Read `group_vars/<name>` if there is one and it was not read yet.
    pub(super) fn load_group(&mut self, name: &str) -> Result<(), Diagnostic> {
        if let Some(listing) = &self.group_listing {
            if !self.groups.contains_key(name) {
                if let Some(vars) = listing.vars_for(name)? {
                    self.groups.insert(name.to_string(), vars);
                }
            }
        }
        Ok(())
    }

    /// Read `host_vars/<name>` if there is one and it was not read yet.
    pub(super) fn load_host(&mut self, name: &str) -> Result<(), Diagnostic> {
        if let Some(listing) = &self.host_listing {
            if !self.hosts.contains_key(name) {
                if let Some(vars) = listing.vars_for(name)? {
                    self.hosts.insert(name.to_string(), vars);
                }
            }
        }
        Ok(())
    }

    pub(super) fn group(&self, name: &str) -> Option<&Map<String, Value>> {
        self.groups.get(name)
    }

    pub(super) fn host(&self, name: &str) -> Option<&Map<String, Value>> {
        self.hosts.get(name)
    }
}

/// The entries of a `group_vars/` or `host_vars/` directory, read once so that a
/// 20,000-host inventory costs one directory listing, not 80,000 `stat` calls.
#[derive(Debug, Clone)]
struct Listing {
    dir: PathBuf,
    names: HashSet<String>,
}

impl Listing {
    fn read(dir: &Path) -> Option<Listing> {
        let entries = std::fs::read_dir(dir).ok()?;
        let names = entries.filter_map(|e| e.ok()).map(|e| e.file_name().to_string_lossy().into_owned()).collect();
        Some(Listing { dir: dir.to_path_buf(), names })
    }

    /// The merged variables for `name`, or `None` when no file names it.
    fn vars_for(&self, name: &str) -> Result<Option<Map<String, Value>>, Diagnostic> {
        if name.starts_with('/') || name.is_empty() {
            return Ok(None);
        }
        let first = name.split('/').next().unwrap_or(name);
        for ext in EXTENSIONS {
            // Names with a `/` reach into subdirectories; check those on disk.
            let candidate = format!("{name}{ext}");
            let listed =
                if first == name { self.names.contains(&candidate) } else { self.dir.join(&candidate).exists() };
            if !listed {
                continue;
            }
            let path = self.dir.join(&candidate);
            let files = if path.is_dir() { dir_files(&path) } else { vec![path] };
            let mut vars = Map::new();
            let mut found_any = false;
            for file in files {
                if let Some(v) = read_vars_file(&file)? {
                    found_any = true;
                    for (k, v) in v {
                        vars.insert(k, v);
                    }
                }
            }
            return Ok(found_any.then_some(vars));
        }
        Ok(None)
    }
}

/// Files of a vars directory, recursively, in sorted order (`_get_dir_vars_files`).
fn dir_files(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut names: Vec<String> =
        entries.filter_map(|e| e.ok()).map(|e| e.file_name().to_string_lossy().into_owned()).collect();
    names.sort();
    let mut out = Vec::new();
    for name in names {
        if name.starts_with('.') || name.ends_with('~') {
            continue;
        }
        let path = dir.join(&name);
        let ext = Path::new(&name).extension().map(|e| format!(".{}", e.to_string_lossy()));
        if path.is_dir() && ext.is_none() {
            out.extend(dir_files(&path));
        } else if path.is_file() && ext.as_deref().is_none_or(|e| EXTENSIONS.contains(&e)) {
            out.push(path);
        }
    }
    out
}

/// One vars file: a mapping, or nothing when empty.
fn read_vars_file(path: &Path) -> Result<Option<Map<String, Value>>, Diagnostic> {
    let text =
        std::fs::read_to_string(path).map_err(|e| Diagnostic::new(format!("cannot read `{}`: {e}", path.display())))?;
    match crate::yaml::load(&text, path)? {
        Value::Null => Ok(None),
        Value::Object(m) if m.is_empty() => Ok(None),
        Value::Object(m) => Ok(Some(m)),
        other => Err(Diagnostic::new(format!(
            "variables file must be a mapping of names to values, found {}",
            super::output::json_type_name(&other)
        ))
        .at(path, first_content_line(&text), 1, Some(&text))
        .with_help("write `name: value` lines, one variable each")),
    }
}

/// The first line that is not blank, a comment or `---`, for pointing at a document.
pub(super) fn first_content_line(text: &str) -> usize {
    text.lines()
        .position(|l| {
            let t = l.trim();
            !t.is_empty() && !t.starts_with('#') && t != "---"
        })
        .map_or(1, |i| i + 1)
}
