//! `nvidia_driver`: the NVIDIA driver from the distribution's packages, where an
//! NVIDIA GPU is present.
//!
//! One round trip reads everything: the PCI devices from sysfs (vendor `0x10de`, class
//! `0x0300xx` VGA or `0x0302xx` 3D controller; no pciutils needed), `lspci -D -nn -d
//! 10de:` for model names when lspci exists, `nvidia-smi` (the per-GPU query and the
//! header with the driver and CUDA versions), `/proc/driver/nvidia/version` (the loaded
//! kernel module), `/etc/os-release`, the installed driver packages (`dpkg-query`), the
//! candidates (`apt-cache policy`), the apt sources (for non-free) and Docker's runtime
//! configuration. A change is one more round trip: one shell script of `apt-get`
//! (`ubuntu-drivers`, `nvidia-ctk`) commands.
//!
//! No GPU and `state=present`: nothing is installed (`changed=false`, the message says
//! so). The module never reboots: it returns `reboot_required`.

use std::collections::BTreeMap;

use async_trait::async_trait;
use serde_json::{json, Map, Value};

use crate::args::{text, to_bool, ArgSpec, ArgType};
use crate::quote::{join, quote};
use crate::{Args, Context, Module, ModuleDoc, ModuleResult, RemoteError};

pub struct NvidiaDriver;

const ARGS: &[ArgSpec] = &[
    ArgSpec::new("state", ArgType::Str, "`present` installs the driver where an NVIDIA GPU is found (nothing happens without one); `absent` removes the driver packages (and the toolkits asked for with `cuda_toolkit`/`container_toolkit`), GPU or not.")
        .default("present")
        .choices(&["present", "absent"]),
    ArgSpec::new("branch", ArgType::Str, "The driver branch (`535`, `550`, `570`). Ubuntu: the package `nvidia-driver-BRANCH` (or `ubuntu-drivers install nvidia:BRANCH` with `use_ubuntu_drivers`). Debian: `nvidia-tesla-BRANCH-driver` where the archive has it, else `nvidia-driver`, whose version must then be of that branch. Default: the distribution chooses (`ubuntu-drivers install` on Ubuntu, `nvidia-driver` on Debian). An installed driver of another branch is left alone unless `branch` is given."),
    ArgSpec::new("use_ubuntu_drivers", ArgType::Bool, "Ubuntu only: with `branch`, install through `ubuntu-drivers install nvidia:BRANCH` rather than `apt-get install nvidia-driver-BRANCH` (without `branch`, Ubuntu always uses `ubuntu-drivers install`). `ubuntu-drivers-common` is installed first when missing.")
        .default("no"),
    ArgSpec::new("server", ArgType::Bool, "Ubuntu only: the `-server` flavour (`nvidia-driver-BRANCH-server`, `ubuntu-drivers install --gpgpu`), as for data-centre GPUs.")
        .default("no"),
    ArgSpec::new("cuda_toolkit", ArgType::Bool, "Also install the distribution's CUDA toolkit, `nvidia-cuda-toolkit` (Debian non-free, Ubuntu multiverse).")
        .default("no"),
    ArgSpec::new("container_toolkit", ArgType::Bool, "Also install `nvidia-container-toolkit` and, where Docker is installed and `/etc/docker/daemon.json` has no `nvidia` runtime yet, run `nvidia-ctk runtime configure --runtime=docker` and restart Docker. The package comes from NVIDIA's own apt repository (https://nvidia.github.io/libnvidia-container), which this module does not add: configure it first (it is not reachable from the lab hosts); without it the task fails and says so.")
        .default("no"),
    ArgSpec::new("enable_non_free", ArgType::Bool, "Debian only: make the `contrib non-free non-free-firmware` components available (the driver is in `non-free`, its firmware in `non-free-firmware` since bookworm), by writing `/etc/apt/sources.list.d/provision-nvidia-non-free.list` for the release, its `-updates` and `-security` suites, unless the apt sources already enable `non-free` (and `non-free-firmware` from bookworm on). The mirror is the one of the first Debian source found.")
        .default("yes"),
    ArgSpec::new("update_cache", ArgType::Bool, "Run `apt-get update` before installing. By default only when the sources changed or a package to install has no candidate yet.")
        .default("no"),
    ArgSpec::new("lock_timeout", ArgType::Int, "Seconds to wait for the dpkg lock (`-o DPkg::Lock::Timeout`).").default("300"),
];

static DOC: ModuleDoc = ModuleDoc {
    name: "nvidia_driver",
    short: "Install the NVIDIA driver (and CUDA / container toolkit) where an NVIDIA GPU is present",
    description: "Finds NVIDIA GPUs without pciutils (sysfs: vendor `0x10de`, class VGA `0x0300xx` or 3D controller `0x0302xx`; \
`lspci -D -nn` supplies model names where it is installed) and installs the distribution's driver: on Ubuntu `nvidia-driver-BRANCH` \
or `ubuntu-drivers install`, on Debian `nvidia-driver` (or `nvidia-tesla-BRANCH-driver`) with `firmware-misc-nonfree` and the headers \
of the running kernel from `non-free`/`non-free-firmware` (enabled with `enable_non_free`). `apt-get` runs non-interactively \
(`DEBIAN_FRONTEND=noninteractive`) and waits for the dpkg lock. Without a GPU nothing is installed and the task reports ok, so one \
play can cover GPU and CPU machines. The result says what was found: `gpus` (PCI id, model, memory, driver and CUDA versions from \
`nvidia-smi` when the driver runs), `driver_version`, `cuda_version`, the fact `nvidia_gpus`, and `reboot_required` (a driver is \
installed but its kernel module is not the one loaded); the module never reboots: follow it with `reboot` when that is true. \
Nothing to change costs one round trip; check mode predicts without changing anything. Other distributions fail with a clear message \
when something would have to be installed.",
    args: ARGS,
    free_form: false,
    examples: "- name: NVIDIA driver on GPU machines (no-op elsewhere)\n  nvidia_driver:\n  register: nv\n\n\
- name: Reboot into the new driver\n  reboot:\n  when: nv.reboot_required\n\n\
- name: A given branch on Ubuntu, with the CUDA toolkit\n  nvidia_driver:\n    branch: \"550\"\n    server: true\n    cuda_toolkit: true\n\n\
- name: Driver and container toolkit (NVIDIA's apt repository configured beforehand)\n  nvidia_driver:\n    container_toolkit: true\n\n\
- name: What GPUs are there?\n  nvidia_driver:\n  check_mode: true\n  register: nv\n- debug:\n    msg: \"{{ nv.gpus | map(attribute='model') | list }}\"\n\n\
- name: Remove the driver\n  nvidia_driver:\n    state: absent\n",
    returns: &[
        ("gpus", "list of `{pci_id, device_id, model, memory_mib, driver_version, cuda_version}`, one per NVIDIA GPU (memory and versions `null` while no driver runs)"),
        ("driver_version", "the running driver's version (`nvidia-smi`, else `/proc/driver/nvidia/version`), or `null`"),
        ("cuda_version", "the CUDA version the running driver supports (`nvidia-smi` header), or `null`"),
        ("packages", "the driver packages installed before the task, `{name: version}`"),
        ("installed", "packages installed (or that would be) by this task"),
        ("removed", "packages removed (or that would be) by this task"),
        ("reboot_required", "true when a driver is installed but its kernel module is not the one loaded"),
        ("ansible_facts", "`{nvidia_gpus: <gpus>}`"),
        ("distribution", "`ID` of /etc/os-release"),
        ("cmd", "the script run when something changed"),
        ("stdout", "its output"),
        ("stderr", "its errors"),
    ],
};

const TAG: &str = "__provision_nvidia_5d1c__";
/// The apt sources file this module owns.
pub const SOURCES_FILE: &str = "/etc/apt/sources.list.d/provision-nvidia-non-free.list";

/// One NVIDIA PCI function seen in sysfs.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct PciDev {
    /// `0000:17:00.0`
    pub addr: String,
    /// `10de:20b0`
    pub device_id: String,
    /// `0x030200`
    pub class: String,
}

/// What the probe found.
#[derive(Debug, Default, Clone)]
pub struct Probe {
    pub pci: Vec<PciDev>,
    /// lspci model names by PCI address.
    pub lspci: BTreeMap<String, String>,
    pub smi_present: bool,
    pub smi_query: Vec<String>,
    pub smi_header: Option<String>,
    pub proc_version: Vec<String>,
    pub os_id: String,
    pub os_codename: String,
    pub os_like: String,
    pub kernel: String,
    pub arch: String,
    /// Installed packages (dpkg `ii`), name → version.
    pub installed: BTreeMap<String, String>,
    /// `apt-cache policy`: name → candidate (`None` for `(none)`).
    pub candidates: BTreeMap<String, Option<String>>,
    /// Enabled apt source lines, `(file, line)`.
    pub sources: Vec<(String, String)>,
    /// Our sources file's content, when it exists.
    pub our_sources: Option<String>,
    pub docker: bool,
    pub docker_has_nvidia: bool,
    pub has_dpkg: bool,
}

/// The packages asked about in the probe.
fn policy_packages(branch: Option<&str>) -> Vec<String> {
    let mut p: Vec<String> =
        ["nvidia-driver", "firmware-misc-nonfree", "nvidia-cuda-toolkit", "nvidia-container-toolkit", "ubuntu-drivers-common"].iter().map(|s| s.to_string()).collect();
    if let Some(b) = branch {
        p.push(format!("nvidia-driver-{b}"));
        p.push(format!("nvidia-driver-{b}-server"));
        p.push(format!("nvidia-tesla-{b}-driver"));
    }
    p
}

/// The read-only script of the single round trip.
pub fn probe_script(branch: Option<&str>) -> String {
    format!(
        r#"export LC_ALL=C
T={TAG}
gpu=0
for d in /sys/bus/pci/devices/*; do [ -r "$d/vendor" ] || continue; v=$(cat "$d/vendor" "$d/device" "$d/class" 2>/dev/null | tr '\n' ' '); echo "$T pci ${{d##*/}} $v"; case "$v" in 0x10de\ *\ 0x0300??\ |0x10de\ *\ 0x0302??\ ) gpu=1;; esac; done
if command -v lspci >/dev/null 2>&1; then lspci -D -nn -d 10de: 2>/dev/null | sed "s/^/$T lspci /"; fi
if [ -r /proc/driver/nvidia/version ]; then sed "s/^/$T proc /" /proc/driver/nvidia/version; fi
if command -v nvidia-smi >/dev/null 2>&1; then
  echo "$T smi"
  nvidia-smi --query-gpu=name,memory.total,driver_version,pci.bus_id --format=csv,noheader 2>&1 | sed "s/^/$T query /"
  nvidia-smi 2>&1 | grep -m1 'NVIDIA-SMI' | sed "s/^/$T header /"
fi
if [ -r /etc/os-release ]; then (. /etc/os-release; echo "$T os ${{ID:-}} ${{VERSION_CODENAME:-}}"; echo "$T like ${{ID_LIKE:-}}"); fi
k=$(uname -r); echo "$T kernel $k"
if command -v dpkg-query >/dev/null 2>&1; then
  echo "$T arch $(dpkg --print-architecture 2>/dev/null)"
  dpkg-query -W -f='${{db:Status-Abbrev}} ${{Package}} ${{Version}}\n' 'nvidia-driver*' 'nvidia-tesla-*' 'nvidia-kernel-*' firmware-misc-nonfree nvidia-cuda-toolkit nvidia-container-toolkit ubuntu-drivers-common "linux-headers-$k" 2>/dev/null | sed -n "s/^ii  *\(.*\)/$T pkg \1/p"
  # Candidates matter only where something may be installed (apt-cache can take seconds).
  if [ $gpu = 1 ]; then apt-cache policy {pkgs} "linux-headers-$k" 2>/dev/null | sed "s/^/$T policy /"; fi
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources; do [ -f "$f" ] && [ "$f" != {ours} ] && grep -s '^[[:space:]]*\(deb\|Components:\|URIs:\|Suites:\|Enabled:\)' "$f" | sed "s|^|$T src $f |"; done
  if [ -f {ours} ]; then sed "s/^/$T ours /" {ours}; echo "$T oursfile"; fi
fi
if command -v docker >/dev/null 2>&1 || command -v dockerd >/dev/null 2>&1; then echo "$T docker"; grep -qs '"nvidia"' /etc/docker/daemon.json && echo "$T dockernv"; fi
true
"#,
        pkgs = join(policy_packages(branch)),
        ours = quote(SOURCES_FILE),
    )
}

fn lines_with<'a>(out: &'a str, key: &str) -> impl Iterator<Item = &'a str> + 'a {
    let p1 = format!("{TAG} {key} ");
    let p2 = format!("{TAG} {key}");
    out.lines().filter_map(move |l| l.strip_prefix(p1.as_str()).or_else(|| if l == p2 { Some("") } else { None }))
}

/// Parse the probe's output.
pub fn parse_probe(out: &str) -> Probe {
    let mut p = Probe::default();
    for l in lines_with(out, "pci") {
        let w: Vec<&str> = l.split_whitespace().collect();
        if w.len() >= 4 && w[1].eq_ignore_ascii_case("0x10de") && is_gpu_class(w[3]) {
            p.pci.push(PciDev { addr: w[0].to_ascii_lowercase(), device_id: format!("10de:{}", w[2].trim_start_matches("0x").to_ascii_lowercase()), class: w[3].to_string() });
        }
    }
    for l in lines_with(out, "lspci") {
        if let Some((addr, model)) = parse_lspci_line(l) {
            p.lspci.insert(addr, model);
        }
    }
    p.proc_version = lines_with(out, "proc").map(str::to_string).collect();
    p.smi_present = lines_with(out, "smi").next().is_some();
    p.smi_query = lines_with(out, "query").map(str::to_string).collect();
    p.smi_header = lines_with(out, "header").next().map(str::to_string);
    if let Some(os) = lines_with(out, "os").next() {
        let mut w = os.split_whitespace();
        p.os_id = w.next().unwrap_or("").to_string();
        p.os_codename = w.next().unwrap_or("").to_string();
    }
    p.os_like = lines_with(out, "like").next().unwrap_or("").trim().to_string();
    p.kernel = lines_with(out, "kernel").next().unwrap_or("").trim().to_string();
    if let Some(a) = lines_with(out, "arch").next() {
        p.has_dpkg = true;
        p.arch = a.trim().to_string();
    }
    for l in lines_with(out, "pkg") {
        let mut w = l.split_whitespace();
        if let (Some(n), Some(v)) = (w.next(), w.next()) {
            p.installed.insert(n.to_string(), v.to_string());
        }
    }
    p.candidates = parse_policy(&lines_with(out, "policy").collect::<Vec<_>>().join("\n"));
    for l in lines_with(out, "src") {
        if let Some((f, line)) = l.split_once(' ') {
            p.sources.push((f.to_string(), line.trim().to_string()));
        }
    }
    if lines_with(out, "oursfile").next().is_some() {
        let mut s: String = lines_with(out, "ours").map(|l| format!("{l}\n")).collect();
        if s.is_empty() {
            s = String::new();
        }
        p.our_sources = Some(s);
    }
    p.docker = lines_with(out, "docker").next().is_some();
    p.docker_has_nvidia = lines_with(out, "dockernv").next().is_some();
    p
}

/// PCI class `0x0300xx` (VGA compatible controller) or `0x0302xx` (3D controller).
pub fn is_gpu_class(class: &str) -> bool {
    let c = class.trim().trim_start_matches("0x").to_ascii_lowercase();
    c.len() == 6 && (c.starts_with("0300") || c.starts_with("0302"))
}

/// `0000:17:00.0 3D controller [0302]: NVIDIA Corporation GA100 [A100 SXM4 40GB] [10de:20b0] (rev a1)`
/// → (`0000:17:00.0`, `GA100 [A100 SXM4 40GB]`), GPUs only (class 0300 or 0302).
pub fn parse_lspci_line(line: &str) -> Option<(String, String)> {
    let (addr, rest) = line.trim().split_once(' ')?;
    let addr = if addr.matches(':').count() == 1 { format!("0000:{addr}") } else { addr.to_string() };
    let (class, desc) = rest.split_once(": ")?;
    let code = class.rsplit_once('[').map(|(_, c)| c.trim_end_matches(']'))?;
    if code != "0300" && code != "0302" {
        return None;
    }
    // Drop the trailing ` [10de:xxxx]` and ` (rev xx)`.
    let mut d = desc.trim();
    if let Some(i) = d.rfind(" (rev ") {
        d = &d[..i];
    }
    if let Some(i) = d.rfind(" [10de:") {
        d = &d[..i];
    }
    let d = d.strip_prefix("NVIDIA Corporation ").unwrap_or(d).trim();
    Some((addr.to_ascii_lowercase(), d.to_string()))
}

/// `apt-cache policy` output → package → candidate.
pub fn parse_policy(out: &str) -> BTreeMap<String, Option<String>> {
    let mut m = BTreeMap::new();
    let mut cur: Option<String> = None;
    for l in out.lines() {
        if !l.starts_with(' ') && l.ends_with(':') {
            cur = Some(l.trim_end_matches(':').to_string());
        } else if let (Some(c), Some(v)) = (&cur, l.trim().strip_prefix("Candidate:")) {
            let v = v.trim();
            m.insert(c.clone(), if v == "(none)" || v.is_empty() { None } else { Some(v.to_string()) });
        }
    }
    m
}

/// The nvidia-smi header → (driver, CUDA).
pub fn parse_smi_header(line: &str) -> (Option<String>, Option<String>) {
    let after = |key: &str| {
        line.split_once(key).map(|(_, r)| r.trim_start().split(|c: char| c.is_whitespace() || c == '|').next().unwrap_or("").to_string()).filter(|v| v.chars().next().is_some_and(|c| c.is_ascii_digit()))
    };
    (after("Driver Version:"), after("CUDA Version:"))
}

/// One `name, memory.total, driver_version[, pci.bus_id]` line → (name, MiB, driver,
/// PCI address as sysfs writes it).
pub fn parse_query_line(line: &str) -> Option<(String, Option<u64>, String, Option<String>)> {
    let f: Vec<&str> = line.split(',').map(str::trim).collect();
    if !(f.len() == 3 || f.len() == 4) || !f[2].chars().next().is_some_and(|c| c.is_ascii_digit()) {
        return None;
    }
    let mem = f[1].trim_end_matches("MiB").trim().parse().ok();
    // nvidia-smi writes `00000000:1B:00.0` (an 8-digit domain), sysfs `0000:1b:00.0`.
    let bus = f.get(3).filter(|b| b.len() >= 12).map(|b| b[b.len() - 12..].to_ascii_lowercase());
    Some((f[0].to_string(), mem, f[2].to_string(), bus))
}

/// The loaded module's version from `/proc/driver/nvidia/version`: the first word after
/// `Module` (or `Module for ARCH`) that starts with a digit.
pub fn parse_proc_version(lines: &[String]) -> Option<String> {
    let first = lines.iter().find(|l| l.starts_with("NVRM version:"))?;
    let rest = first.split_once(" Module ")?.1;
    rest.split_whitespace().find(|w| w.chars().next().is_some_and(|c| c.is_ascii_digit()) && w.contains('.')).map(str::to_string)
}

/// The upstream part of a Debian version: `535.183.01-1~deb12u1` → `535.183.01`.
fn upstream(v: &str) -> &str {
    let v = v.split_once(':').map(|(_, r)| r).unwrap_or(v);
    v.split('-').next().unwrap_or(v)
}

fn is_driver_package(name: &str) -> bool {
    name == "nvidia-driver"
        || (name.starts_with("nvidia-driver-") && name["nvidia-driver-".len()..].chars().next().is_some_and(|c| c.is_ascii_digit()))
        || (name.starts_with("nvidia-tesla-") && name.ends_with("-driver"))
}

/// The GPUs with what the driver says about them.
pub fn gpus(p: &Probe) -> (Vec<Value>, Option<String>, Option<String>) {
    let (hdr_driver, cuda) = p.smi_header.as_deref().map(parse_smi_header).unwrap_or((None, None));
    let query: Vec<(String, Option<u64>, String, Option<String>)> = p.smi_query.iter().filter_map(|l| parse_query_line(l)).collect();
    let driver = hdr_driver.or_else(|| query.first().map(|q| q.2.clone())).or_else(|| parse_proc_version(&p.proc_version));
    let mut devs = p.pci.clone();
    devs.sort_by(|a, b| a.addr.cmp(&b.addr));
    let list = devs
        .iter()
        .enumerate()
        .map(|(i, d)| {
            // By PCI address; without one, by position: nvidia-smi lists GPUs in PCI bus
            // order, as the sorted sysfs addresses are.
            let q = match query.iter().find(|q| q.3.as_deref() == Some(d.addr.as_str())) {
                Some(q) => Some(q),
                None if query.iter().all(|q| q.3.is_none()) => query.get(i),
                None => None,
            };
            let model = q.map(|q| q.0.clone()).or_else(|| p.lspci.get(&d.addr).cloned()).unwrap_or_else(|| format!("NVIDIA device {}", d.device_id));
            json!({
                "pci_id": d.addr,
                "device_id": d.device_id,
                "model": model,
                "memory_mib": q.and_then(|q| q.1),
                "driver_version": q.map(|q| q.2.clone()).or_else(|| driver.clone()),
                "cuda_version": cuda,
            })
        })
        .collect();
    (list, driver, cuda)
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Family {
    Ubuntu,
    Debian,
    Other,
}

fn family(p: &Probe) -> Family {
    let like: Vec<&str> = p.os_like.split_whitespace().collect();
    if p.os_id == "ubuntu" || like.contains(&"ubuntu") {
        Family::Ubuntu
    } else if p.os_id == "debian" || like.contains(&"debian") {
        Family::Debian
    } else {
        Family::Other
    }
}

/// Whether the apt sources (other than ours) already enable `component`.
fn component_enabled(p: &Probe, component: &str) -> bool {
    p.sources.iter().any(|(_, line)| {
        let words: Vec<&str> = line.split_whitespace().collect();
        match words.first() {
            Some(&"deb") => words.iter().skip(1).filter(|w| !w.starts_with('[')).skip(2).any(|w| *w == component),
            Some(&"Components:") => words[1..].contains(&component),
            _ => false,
        }
    })
}

fn needs_firmware_component(codename: &str) -> bool {
    !matches!(codename, "stretch" | "buster" | "bullseye")
}

/// The mirror of the first Debian source (one-line or deb822), else deb.debian.org.
fn debian_mirror(p: &Probe) -> String {
    for (_, line) in &p.sources {
        let words: Vec<&str> = line.split_whitespace().collect();
        let url = match words.first() {
            Some(&"deb") => words.iter().skip(1).find(|w| !w.starts_with('[') && !w.ends_with(']')).copied(),
            Some(&"URIs:") => words.get(1).copied(),
            _ => None,
        };
        if let Some(u) = url {
            if u.contains("debian") && !u.contains("security") {
                return u.trim_end_matches('/').to_string();
            }
        }
    }
    "http://deb.debian.org/debian".to_string()
}

/// The content of our sources file for this release.
pub fn sources_content(mirror: &str, codename: &str) -> String {
    let comps = if needs_firmware_component(codename) { "contrib non-free non-free-firmware" } else { "contrib non-free" };
    let security = if matches!(codename, "stretch" | "buster") { format!("{codename}/updates") } else { format!("{codename}-security") };
    format!(
        "# Managed by provision (nvidia_driver enable_non_free): the components the NVIDIA driver needs.\n\
deb {mirror} {codename} {comps}\ndeb {mirror} {codename}-updates {comps}\ndeb http://security.debian.org/debian-security {security} {comps}\n"
    )
}

fn flag(args: &Args, key: &str) -> bool {
    args.get(key).and_then(to_bool).unwrap_or(false)
}

/// What the task is to do.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Plan {
    pub write_sources: Option<String>,
    pub update: bool,
    pub install: Vec<String>,
    pub ubuntu_drivers: Option<String>,
    pub configure_docker: bool,
    pub remove: Vec<String>,
    pub remove_sources: bool,
    pub driver_change: bool,
}

impl Plan {
    fn is_empty(&self) -> bool {
        self.write_sources.is_none() && self.install.is_empty() && self.ubuntu_drivers.is_none() && !self.configure_docker && self.remove.is_empty() && !self.remove_sources
    }
}

fn has_candidate(p: &Probe, pkg: &str) -> bool {
    matches!(p.candidates.get(pkg), Some(Some(_)))
}

/// Decide. `Err` is a message for a failed result.
pub fn plan(args: &Args, p: &Probe) -> Result<Plan, String> {
    let mut plan = Plan::default();
    let state = text(args, "state").unwrap_or_else(|| "present".into());
    let branch = text(args, "branch").filter(|b| !b.is_empty());
    let fam = family(p);
    if state == "absent" {
        plan.remove = p.installed.keys().filter(|n| is_driver_package(n) || n.starts_with("nvidia-kernel-")).cloned().collect();
        if flag(args, "cuda_toolkit") && p.installed.contains_key("nvidia-cuda-toolkit") {
            plan.remove.push("nvidia-cuda-toolkit".into());
        }
        if flag(args, "container_toolkit") && p.installed.contains_key("nvidia-container-toolkit") {
            plan.remove.push("nvidia-container-toolkit".into());
        }
        plan.driver_change = !plan.remove.is_empty();
        plan.remove_sources = flag(args, "enable_non_free") && p.our_sources.is_some();
        return Ok(plan);
    }
    if p.pci.is_empty() {
        return Ok(plan);
    }
    if !p.has_dpkg || fam == Family::Other {
        return Err(format!(
            "an NVIDIA GPU is present but installing its driver is supported on Debian and Ubuntu only (this host: {})",
            if p.os_id.is_empty() { "unknown" } else { &p.os_id }
        ));
    }
    let installed_drivers: Vec<&String> = p.installed.keys().filter(|n| is_driver_package(n)).collect();
    let server = flag(args, "server");
    let mut wanted: Vec<String> = vec![];
    match fam {
        Family::Ubuntu => {
            let ok = match &branch {
                Some(b) => installed_drivers.iter().any(|n| n.starts_with(&format!("nvidia-driver-{b}"))),
                None => !installed_drivers.is_empty(),
            };
            if !ok {
                plan.driver_change = true;
                let gpgpu = if server { " --gpgpu" } else { "" };
                match &branch {
                    Some(b) if !flag(args, "use_ubuntu_drivers") => {
                        wanted.push(if server { format!("nvidia-driver-{b}-server") } else { format!("nvidia-driver-{b}") });
                    }
                    Some(b) => plan.ubuntu_drivers = Some(format!("ubuntu-drivers install{gpgpu} nvidia:{b}{}", if server { "-server" } else { "" })),
                    None => plan.ubuntu_drivers = Some(format!("ubuntu-drivers install{gpgpu}")),
                }
                if plan.ubuntu_drivers.is_some() && !p.installed.contains_key("ubuntu-drivers-common") {
                    wanted.push("ubuntu-drivers-common".into());
                }
            }
        }
        Family::Debian => {
            if flag(args, "enable_non_free") {
                let firmware = needs_firmware_component(&p.os_codename);
                let enabled = component_enabled(p, "non-free") && (!firmware || component_enabled(p, "non-free-firmware"));
                if !enabled {
                    let content = sources_content(&debian_mirror(p), if p.os_codename.is_empty() { "stable" } else { &p.os_codename });
                    if p.our_sources.as_deref() != Some(content.as_str()) {
                        plan.write_sources = Some(content);
                    }
                }
            }
            let driver_pkg = match &branch {
                Some(b) if has_candidate(p, &format!("nvidia-tesla-{b}-driver")) || p.installed.contains_key(&format!("nvidia-tesla-{b}-driver")) => format!("nvidia-tesla-{b}-driver"),
                _ => "nvidia-driver".to_string(),
            };
            let ok = match &branch {
                Some(b) => installed_drivers.iter().any(|n| {
                    **n == format!("nvidia-tesla-{b}-driver") || (n.as_str() == "nvidia-driver" && upstream(&p.installed[n.as_str()]).starts_with(&format!("{b}.")))
                }),
                None => !installed_drivers.is_empty(),
            };
            if !ok {
                if let (Some(b), "nvidia-driver", Some(Some(c))) = (&branch, driver_pkg.as_str(), p.candidates.get("nvidia-driver")) {
                    if !upstream(c).starts_with(&format!("{b}.")) && plan.write_sources.is_none() {
                        return Err(format!("Debian's nvidia-driver is version {c}, not of branch {b}, and there is no nvidia-tesla-{b}-driver package: leave `branch` out or pick {}", upstream(c).split('.').next().unwrap_or("")));
                    }
                }
                plan.driver_change = true;
                wanted.push(driver_pkg);
                if !p.installed.contains_key("firmware-misc-nonfree") {
                    wanted.push("firmware-misc-nonfree".into());
                }
                let headers = format!("linux-headers-{}", p.kernel);
                if !p.kernel.is_empty() && has_candidate(p, &headers) && !p.installed.contains_key(&headers) {
                    wanted.push(headers);
                }
            }
        }
        Family::Other => unreachable!(),
    }
    if flag(args, "cuda_toolkit") && !p.installed.contains_key("nvidia-cuda-toolkit") {
        wanted.push("nvidia-cuda-toolkit".into());
    }
    if flag(args, "container_toolkit") {
        if !p.installed.contains_key("nvidia-container-toolkit") {
            if !has_candidate(p, "nvidia-container-toolkit") {
                return Err("nvidia-container-toolkit is not available from the configured apt sources: it comes from NVIDIA's repository \
(https://nvidia.github.io/libnvidia-container/stable/deb/), which this module does not add; configure it first (deb822_repository or apt_repository with NVIDIA's key)"
                    .into());
            }
            wanted.push("nvidia-container-toolkit".into());
        }
        plan.configure_docker = p.docker && !p.docker_has_nvidia;
    }
    plan.update = flag(args, "update_cache") || plan.write_sources.is_some() || wanted.iter().any(|w| !has_candidate(p, w));
    plan.install = wanted;
    if plan.install.is_empty() && plan.ubuntu_drivers.is_none() {
        plan.update = plan.update && (plan.write_sources.is_some() || flag(args, "update_cache"));
    }
    Ok(plan)
}

/// The script that carries out `plan`.
pub fn apply_script(args: &Args, plan: &Plan) -> String {
    let lock = args.get("lock_timeout").and_then(Value::as_i64).unwrap_or(300);
    let apt = format!("apt-get -y -q -o DPkg::Lock::Timeout={lock}");
    let mut s = String::from("export LC_ALL=C DEBIAN_FRONTEND=noninteractive\nset -e\n");
    if let Some(content) = &plan.write_sources {
        let tmp = format!("{SOURCES_FILE}.provision-tmp");
        s.push_str(&format!("printf '%s' {} > {t} && chmod 0644 {t} && mv -f {t} {f}\n", quote(content), t = quote(&tmp), f = quote(SOURCES_FILE)));
    }
    if plan.update {
        s.push_str(&format!("{apt} update\n"));
    }
    if !plan.install.is_empty() {
        s.push_str(&format!("{apt} install -- {}\n", join(&plan.install)));
    }
    if let Some(u) = &plan.ubuntu_drivers {
        s.push_str(u);
        s.push('\n');
    }
    if plan.configure_docker {
        s.push_str("nvidia-ctk runtime configure --runtime=docker\nif [ -d /run/systemd/system ]; then systemctl restart docker; else service docker restart; fi\n");
    }
    if !plan.remove.is_empty() {
        s.push_str(&format!("{apt} remove --purge --autoremove -- {}\n", join(&plan.remove)));
    }
    if plan.remove_sources {
        s.push_str(&format!("rm -f {}\n", quote(SOURCES_FILE)));
    }
    s
}

#[async_trait]
impl Module for NvidiaDriver {
    fn doc(&self) -> &'static ModuleDoc {
        &DOC
    }

    async fn run(&self, args: &Args, ctx: &Context<'_>) -> Result<ModuleResult, RemoteError> {
        let branch = text(args, "branch").filter(|b| !b.is_empty());
        if let Some(b) = &branch {
            if !b.chars().next().is_some_and(|c| c.is_ascii_digit()) || !b.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.') {
                return Ok(ModuleResult::failed(format!("`branch` must be a driver branch like 535 or 550, got {b:?}")));
            }
        }
        let out = ctx.remote.exec(&probe_script(branch.as_deref()), b"").await?;
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        if !stdout.contains(&format!("{TAG} kernel")) {
            return Ok(ModuleResult::failed(format!("cannot inspect the host (rc={}): {}", out.rc, String::from_utf8_lossy(&out.stderr).trim())));
        }
        let probe = parse_probe(&stdout);
        let (gpu_list, driver, cuda) = gpus(&probe);
        let driver_pkgs: Map<String, Value> = probe.installed.iter().filter(|(n, _)| is_driver_package(n)).map(|(n, v)| (n.clone(), Value::String(v.clone()))).collect();
        let loaded = parse_proc_version(&probe.proc_version);
        let pending = !probe.pci.is_empty() && driver_pkgs.values().filter_map(Value::as_str).any(|v| loaded.as_deref() != Some(upstream(v)));

        let plan = match plan(args, &probe) {
            Ok(p) => p,
            Err(msg) => {
                let mut r = ModuleResult::failed(msg);
                r.set("gpus", Value::Array(gpu_list));
                return Ok(r);
            }
        };
        let changed = !plan.is_empty();
        let mut r = ModuleResult::ok(changed);
        r.set("gpus", Value::Array(gpu_list.clone()));
        r.set("driver_version", driver.map(Value::String).unwrap_or(Value::Null));
        r.set("cuda_version", cuda.map(Value::String).unwrap_or(Value::Null));
        r.set("packages", Value::Object(driver_pkgs));
        r.set("distribution", probe.os_id.clone());
        r.set("installed", json!(plan.install));
        r.set("removed", json!(plan.remove));
        r.set("ansible_facts", json!({"nvidia_gpus": gpu_list}));
        let state = text(args, "state").unwrap_or_default();
        let reboot = if state == "absent" { plan.driver_change && loaded.is_some() } else { pending || plan.driver_change };
        r.set("reboot_required", reboot);
        if probe.pci.is_empty() && state != "absent" {
            r.set("msg", "no NVIDIA GPU found: nothing to install");
        } else if !changed {
            r.set("msg", if state == "absent" { "no NVIDIA driver package installed" } else { "NVIDIA driver installed" });
        }
        if ctx.diff && changed {
            let before: Vec<&String> = probe.installed.keys().collect();
            r.set(
                "diff",
                json!({"before": {"packages": before}, "after": {"install": plan.install, "remove": plan.remove, "sources": plan.write_sources}}),
            );
        }
        if !changed || ctx.check_mode {
            return Ok(r);
        }
        let script = apply_script(args, &plan);
        let out = ctx.remote.exec(&script, b"").await?;
        r.set("cmd", script);
        r.set("stdout", String::from_utf8_lossy(&out.stdout).into_owned());
        r.set("stderr", String::from_utf8_lossy(&out.stderr).into_owned());
        r.set("rc", out.rc);
        if out.rc != 0 {
            r.set("failed", true);
            let err = String::from_utf8_lossy(&out.stderr);
            let last = err.lines().rev().find(|l| !l.trim().is_empty()).unwrap_or("").trim().to_string();
            r.set("msg", format!("installing the NVIDIA driver failed (rc={}): {last}", out.rc));
        } else {
            r.set("msg", if state == "absent" { "NVIDIA driver removed" } else if reboot { "NVIDIA driver installed: reboot to load it" } else { "NVIDIA packages installed" });
        }
        Ok(r)
    }
}

#[cfg(test)]
mod tests;
