//! `setup`: gather facts about the host in one round trip, without Python.
//!
//! Ansible's `setup` runs about twenty Python collectors on the host. Here one POSIX `sh`
//! script (dash, busybox and bash all run it) prints the raw sources between marker
//! lines: files such as `/etc/os-release` and `/proc/meminfo`, and the output of
//! `uname`, `id`, `date`, `ip`, `stat -f`. Rust parses that text ([`Raw`]) into
//! Ansible's facts, with Ansible's names and value types (`memtotal_mb` is an int,
//! `distribution_major_version` a string), mirroring the collectors' logic
//! (`ansible/module_utils/facts/`, ansible-core 2.19).
//!
//! - `gather_subset` is resolved exactly like Ansible's `get_collector_names`
//!   ([`collectors`]): `min` is always in, `!all` leaves `min`, a list made only of
//!   exclusions (`!hardware`) also leaves `min`, and a collector's requirements
//!   (`pkg_mgr` needs `distribution`) are added. Collectors not selected add no probe
//!   to the script, so `!all` skips mounts, `ip`, `/proc/cpuinfo` and the rest.
//! - `filter` keeps the facts whose Ansible name (`ansible_distribution`) matches one
//!   of the `fnmatch` patterns, trying `ansible_` + the pattern as Ansible does.
//! - Fact names inside `ansible_facts` carry no `ansible_` prefix: the engine stores
//!   them as `ansible_facts.NAME` and injects `ansible_NAME` variables.
//!
//! Not gathered (Ansible has them): `devices`, `device_links`, `lvm`, `ethtool`
//! features of interfaces, `selinux_python_present`, `facter`/`ohai`, dmidecode
//! fallbacks when `/sys/class/dmi` is missing.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use async_trait::async_trait;
use serde_json::{json, Map, Value};

use crate::args::{ArgSpec, ArgType};
use crate::quote::quote;
use crate::{Args, Context, Module, ModuleDoc, ModuleResult, RemoteError};

pub struct Setup;

const ARGS: &[ArgSpec] = &[
    ArgSpec::new(
        "gather_subset",
        ArgType::List,
        "Which facts to gather: `all`, `min`, `hardware`, `network`, `virtual`, a collector name \
(`distribution`, `pkg_mgr`, `date_time`...) or a fact name (`processor`, `default_ipv4`); prefix with `!` \
to exclude (`!all`, `!hardware`). The `min` set is always gathered unless `!min` is given.",
    )
    .default("all"),
    ArgSpec::new(
        "gather_timeout",
        ArgType::Int,
        "Seconds allowed for each slow probe (name lookups, `stat -f` of mounts, `lsb_release`, fact scripts).",
    )
    .default("10"),
    ArgSpec::new(
        "filter",
        ArgType::List,
        "Only return facts whose name matches one of these shell-style patterns (`ansible_distribution*`, `*ipv4*`). Empty returns all.",
    ),
    ArgSpec::new(
        "fact_path",
        ArgType::Path,
        "Directory of local facts (`*.fact`: JSON or INI files, or executables printing JSON), returned under `local`.",
    )
    .default("/etc/ansible/facts.d"),
];

static DOC: ModuleDoc = ModuleDoc {
    name: "setup",
    short: "Gather facts about the host",
    description: "Gathers Ansible's facts (distribution, network, hardware, virtualization, user, date and time...) \
with one shell script in one round trip; the host needs no Python. Facts are returned under `ansible_facts` \
without the `ansible_` prefix and become the `ansible_facts` variable (and `ansible_*` variables) of the host. \
Never reports a change.",
    args: ARGS,
    free_form: false,
    examples: "- name: Gather everything\n  ansible.builtin.setup:\n\n\
- name: Only the minimal facts plus the network\n  ansible.builtin.setup:\n    gather_subset: ['!all', 'network']\n\n\
- name: Only the distribution facts\n  ansible.builtin.setup:\n    filter: ['ansible_distribution*', 'ansible_os_family']\n\n\
# provision all -m setup -a 'filter=ansible_default_ipv4'\n",
    returns: &[
        (
            "ansible_facts",
            "a dict of facts, named as Ansible names them without the `ansible_` prefix (`distribution`, `default_ipv4`, `memtotal_mb`...)",
        ),
        ("ansible_facts.gather_subset", "the `gather_subset` list as given"),
        ("ansible_facts.module_setup", "`true`: facts were gathered"),
    ],
};

/// Starts every section of the script's output: `MARK NAME` on a line of its own.
const MARK: &str = "__provision_setup_5b2e__";

/// What every collector may use: `s NAME` starts a section, `f PATH...` prints readable
/// files (section `file PATH`), `x PATH...` lists the paths that exist (section
/// `exists`). Errors never reach the output: a missing file or command simply leaves
/// its section out.
const PRELUDE: &str = r#"exec 2>/dev/null </dev/null
M=__provision_setup_5b2e__
s() { printf '\n%s %s\n' "$M" "$*"; }
f() { for p in "$@"; do if [ -f "$p" ] && [ -r "$p" ]; then s file "$p"; cat "$p"; fi; done; }
x() { s exists; for p in "$@"; do if [ -e "$p" ] || [ -L "$p" ]; then printf '%s\n' "$p"; fi; done; }
"#;

// ---------------------------------------------------------------- collectors

/// Ansible's minimal set: gathered unless `!min` is given.
#[rustfmt::skip]
const MIN: &[&str] = &[
    "apparmor", "caps", "cmdline", "date_time", "distribution", "dns", "env", "fips", "local", "lsb", "pkg_mgr", "platform", "python",
    "selinux", "service_mgr", "ssh_pub_keys", "user",
];

/// Every collector, in Ansible's collection order (`default_collectors.collectors`).
#[rustfmt::skip]
const COLLECTORS: &[&str] = &[
    "platform", "distribution", "lsb", "selinux", "apparmor", "chroot", "fips", "python", "caps", "pkg_mgr", "service_mgr", "cmdline",
    "date_time", "env", "loadavg", "ssh_pub_keys", "user", "systemd", "virtual", "hardware", "dns", "fibre_channel_wwn", "network",
    "iscsi", "nvme", "local", "facter", "ohai",
];

/// Fact names that may be given as a subset, and the collector that produces them
/// (Ansible's `_fact_ids`).
#[rustfmt::skip]
const FACT_IDS: &[(&str, &str)] = &[
    ("all_ipv4_addresses", "network"),
    ("all_ipv6_addresses", "network"),
    ("architecture", "platform"),
    ("default_ipv4", "network"),
    ("default_ipv6", "network"),
    ("devices", "hardware"),
    ("distribution_major_version", "distribution"),
    ("distribution_release", "distribution"),
    ("distribution_version", "distribution"),
    ("effective_group_ids", "user"),
    ("effective_user_id", "user"),
    ("interfaces", "network"),
    ("is_chroot", "chroot"),
    ("kernel", "platform"),
    ("kernel_version", "platform"),
    ("machine", "platform"),
    ("machine_id", "platform"),
    ("mounts", "hardware"),
    ("os_family", "distribution"),
    ("processor", "hardware"),
    ("processor_cores", "hardware"),
    ("processor_count", "hardware"),
    ("python_version", "platform"),
    ("real_user_id", "user"),
    ("ssh_host_key_dsa_public", "ssh_pub_keys"),
    ("ssh_host_key_ecdsa_public", "ssh_pub_keys"),
    ("ssh_host_key_ed25519_public", "ssh_pub_keys"),
    ("ssh_host_key_rsa_public", "ssh_pub_keys"),
    ("ssh_host_pub_keys", "ssh_pub_keys"),
    ("system", "platform"),
    ("system_capabilities", "caps"),
    ("system_capabilities_enforced", "caps"),
    ("user_dir", "user"),
    ("user_gecos", "user"),
    ("user_gid", "user"),
    ("user_id", "user"),
    ("user_shell", "user"),
    ("user_uid", "user"),
    ("virtualization_role", "virtual"),
    ("virtualization_tech_guest", "virtual"),
    ("virtualization_tech_host", "virtual"),
    ("virtualization_type", "virtual"),
];

/// Collectors that need the facts of others (Ansible's `required_facts`).
const REQUIRES: &[(&str, &[&str])] = &[
    ("pkg_mgr", &["distribution"]),
    ("service_mgr", &["platform", "distribution"]),
    ("hardware", &["platform"]),
    ("network", &["distribution", "platform"]),
];

fn collector_of(name: &str) -> Option<&'static str> {
    COLLECTORS.iter().find(|c| **c == name).copied().or_else(|| FACT_IDS.iter().find(|(f, _)| *f == name).map(|(_, c)| *c))
}

/// Resolve `gather_subset` to collector names, as Ansible's `get_collector_names`
/// and `collector_classes_from_gather_subset` do.
pub fn collectors(gather_subset: &[String]) -> Result<BTreeSet<&'static str>, String> {
    let valid: BTreeSet<&str> = COLLECTORS.iter().copied().chain(FACT_IDS.iter().map(|(f, _)| *f)).collect();
    let min: BTreeSet<&str> = MIN.iter().copied().collect();
    let mut add: BTreeSet<&str> = BTreeSet::new();
    let mut exclude: BTreeSet<&str> = BTreeSet::new();
    let mut explicit: BTreeSet<&str> = BTreeSet::new();
    let given = if gather_subset.is_empty() { vec!["all".to_string()] } else { gather_subset.to_vec() };
    // Ansible always starts from `min`, then applies the list in order.
    for subset in std::iter::once("min").chain(given.iter().map(|s| s.trim())) {
        match subset {
            "min" => add.extend(&min),
            "all" => add.extend(&valid),
            "!min" => exclude.extend(&min),
            "!all" => exclude.extend(valid.difference(&min)),
            s => {
                if let Some(name) = s.strip_prefix('!') {
                    // Excluding an unknown subset is ignored, as in Ansible.
                    if let Some(v) = valid.get(name) {
                        exclude.insert(*v);
                    }
                } else {
                    let Some(v) = valid.get(s) else {
                        return Err(format!(
                            "bad subset `{s}` in `gather_subset`; allowed: all, min, {}",
                            valid.iter().copied().collect::<Vec<_>>().join(", ")
                        ));
                    };
                    explicit.insert(*v);
                    add.insert(*v);
                }
            }
        }
    }
    if add.is_empty() {
        add.extend(&valid);
    }
    let dropped: BTreeSet<&str> = exclude.difference(&explicit).copied().collect();
    let mut out: BTreeSet<&'static str> = add.difference(&dropped).filter_map(|n| collector_of(n)).collect();
    for (c, needs) in REQUIRES {
        if out.contains(c) {
            out.extend(needs.iter().copied());
        }
    }
    Ok(out)
}

// ---------------------------------------------------------------- the script

const DMI: &str = "/sys/devices/virtual/dmi/id/";
#[rustfmt::skip]
const DMI_FILES: &[(&str, &str)] = &[
    ("bios_date", "bios_date"),
    ("bios_vendor", "bios_vendor"),
    ("bios_version", "bios_version"),
    ("board_asset_tag", "board_asset_tag"),
    ("board_name", "board_name"),
    ("board_serial", "board_serial"),
    ("board_vendor", "board_vendor"),
    ("board_version", "board_version"),
    ("chassis_asset_tag", "chassis_asset_tag"),
    ("chassis_serial", "chassis_serial"),
    ("chassis_vendor", "chassis_vendor"),
    ("chassis_version", "chassis_version"),
    ("form_factor", "chassis_type"),
    ("product_name", "product_name"),
    ("product_serial", "product_serial"),
    ("product_uuid", "product_uuid"),
    ("product_version", "product_version"),
    ("system_vendor", "sys_vendor"),
];

/// Ansible's `PKG_MGRS`: the last existing path wins, then the OS family decides.
#[rustfmt::skip]
const PKG_MGRS: &[(&str, &str)] = &[
    ("/usr/bin/rpm-ostree", "atomic_container"),
    ("/usr/bin/yum", "dnf"),
    ("/usr/bin/dnf-3", "dnf"),
    ("/usr/bin/dnf5", "dnf5"),
    ("/usr/bin/apt-get", "apt"),
    ("/usr/bin/zypper", "zypper"),
    ("/usr/sbin/urpmi", "urpmi"),
    ("/usr/bin/pacman", "pacman"),
    ("/bin/opkg", "opkg"),
    ("/usr/pkg/bin/pkgin", "pkgin"),
    ("/opt/local/bin/pkgin", "pkgin"),
    ("/opt/tools/bin/pkgin", "pkgin"),
    ("/opt/local/bin/port", "macports"),
    ("/usr/local/bin/brew", "homebrew"),
    ("/opt/homebrew/bin/brew", "homebrew"),
    ("/sbin/apk", "apk"),
    ("/usr/sbin/pkg", "pkgng"),
    ("/usr/sbin/swlist", "swdepot"),
    ("/usr/bin/emerge", "portage"),
    ("/usr/sbin/pkgadd", "svr4pkg"),
    ("/usr/bin/pkg", "pkg5"),
    ("/usr/bin/xbps-install", "xbps"),
    ("/usr/local/sbin/pkg", "pkgng"),
    ("/usr/bin/swupd", "swupd"),
    ("/usr/sbin/sorcery", "sorcery"),
    ("/usr/bin/installp", "installp"),
];

#[rustfmt::skip]
const DIST_FILES: &[&str] = &[
    "/etc/os-release",
    "/usr/lib/os-release",
    "/etc/lsb-release",
    "/etc/debian_version",
    "/etc/altlinux-release",
    "/etc/oracle-release",
    "/etc/slackware-version",
    "/etc/centos-release",
    "/etc/redhat-release",
    "/etc/openwrt_release",
    "/etc/system-release",
    "/etc/alpine-release",
    "/etc/SuSE-release",
    "/etc/gentoo-release",
    "/etc/sourcemage-release",
    "/etc/coreos/update.conf",
];

const SSH_KEY_DIRS: &[&str] = &["/etc/ssh", "/etc/openssh", "/etc"];
const SSH_ALGOS: &[&str] = &["dsa", "rsa", "ecdsa", "ed25519"];

const SYSTEMD_CANARIES: &[&str] = &["/run/systemd/system/", "/dev/.run/systemd/", "/dev/.systemd/"];

/// Shell probes by name. Each prints one or more sections.
const PROBES: &[(&str, &str)] = &[
    ("uname", "s uname; uname -s; uname -n; uname -r; uname -v; uname -m\n"),
    // socket.getfqdn(): resolve the node name, then look the address up again.
    (
        "fqdn",
        r#"n=$(uname -n)
if command -v getent >/dev/null; then s fqdn_getent; a=$($T getent ahosts "$n" | sed -n '1s/[[:space:]].*//p'); if [ -n "$a" ]; then $T getent hosts "$a" | sed -n 1p; fi
else s fqdn_hostname; $T hostname -f; fi
"#,
    ),
    ("long_bit", "s long_bit; getconf LONG_BIT\n"),
    ("python", "s python; for p in python3 python; do if c=$(command -v \"$p\"); then printf '%s\\n' \"$c\"; \"$c\" --version 2>&1; break; fi; done\n"),
    ("lsb_release", "if command -v lsb_release >/dev/null; then s lsb_release; $T lsb_release -a; fi\n"),
    ("sbin_init", "if [ -L /sbin/init ]; then s sbin_init; readlink /sbin/init; fi\n"),
    ("which", "s which; for c in systemctl initctl; do command -v \"$c\"; done\n"),
    (
        "realpath",
        "s realpath; for p in /usr/bin/dnf /usr/bin/microdnf; do if [ -e \"$p\" ]; then printf '%s %s\\n' \"$p\" \"$(readlink -f \"$p\")\"; fi; done\n",
    ),
    // getpass.getuser(), then its passwd entry (or the entry of the real uid).
    (
        "user",
        r#"s user; u=${LOGNAME:-${USER:-${LNAME:-${USERNAME:-}}}}; if [ -z "$u" ]; then u=$(id -un); fi
printf '%s\n' "$u"; id -ru; id -u; id -rg
{ getent passwd "$u" || getent passwd "$(id -ru)" || grep "^$u:" /etc/passwd; } | sed -n 1p
"#,
    ),
    // The two fixed instants (mid-January and mid-July 2024) give the zone's standard
    // and summer names, for `tz_dst` (Python's time.tzname[1]).
    (
        "date",
        r#"s date; LC_ALL=C date '+%Y-%m-%d|%H:%M:%S|%s|%Z|%z|%A|%w|%W|%N'
LC_ALL=C date -d @1705276800 '+%Z|%z'; LC_ALL=C date -d @1721001600 '+%Z|%z'
"#,
    ),
    ("env", "s env; env -0 || env\n"),
    ("chroot", "s chroot; printf '%s\\n' \"${debian_chroot:-}\"; stat -c '%d:%i' /; stat -c '%d:%i' /proc/1/root/.; s chroot_fstype; stat -f -c %T /\n"),
    (
        "systemd_version",
        "if command -v systemctl >/dev/null && { [ -e /run/systemd/system/ ] || [ -e /dev/.run/systemd/ ] || [ -e /dev/.systemd/ ]; }; then s systemctl_version; $T systemctl --version; fi\n",
    ),
    ("capsh", "if command -v capsh >/dev/null; then s capsh; capsh --print; fi\n"),
    ("proc1_environ", "s proc1_environ; tr '\\000' '\\n' </proc/1/environ\n"),
    ("vxid", "s vxid; grep '^VxID:' /proc/self/status\n"),
    ("modules", "s modules; grep -E '^(kvm|vboxdrv|virtio) ' /proc/modules\n"),
    (
        "cpuinfo",
        r#"s cpuinfo; grep -E '^(processor|vendor_id|model name|Processor|cpu|Vendor|physical id|core id|cpu cores|siblings|# processors|max thread id|ncpus active|machine)[[:space:]]*:' /proc/cpuinfo
sed -n '/^flags[[:space:]]*:/{p;q;}' /proc/cpuinfo
"#,
    ),
    ("nproc", "s nproc; nproc || getconf _NPROCESSORS_ONLN\n"),
    // Sizes come from one `stat -f` over every real mount, under the timeout: a hung
    // network mount cannot hang the whole gathering.
    (
        "mounts",
        r#"s mounts; cat /proc/mounts
if command -v findmnt >/dev/null; then s findmnt; $T findmnt --list --noheadings --notruncate; fi
if command -v lsblk >/dev/null; then s lsblk; $T lsblk --list --noheadings --paths --output NAME,UUID --exclude 2; fi
s statfs; set --
while read -r d m t r; do
case $d in /*|\\*|*:/*) ;; *) continue ;; esac
case $t in none) continue ;; esac
case $m in *\\*) continue ;; esac
set -- "$@" "$m"
done </proc/mounts
if [ $# -gt 0 ]; then $T stat -f -c '%s %S %b %a %c %d %n' "$@"; fi
"#,
    ),
    (
        "net",
        r#"s net; for d in /sys/class/net/*; do
[ -d "$d" ] || continue; n=${d##*/}; printf 'dev %s\n' "$n"
if [ -d "$d/bridge" ]; then printf 'bridge %s\n' "$n"; fi
if [ -d "$d/bonding" ]; then printf 'bonding %s\n' "$n"; fi
if [ -d "$d/bonding_slave" ]; then printf 'bonding_slave %s\n' "$n"; fi
if [ -e "$d/device" ]; then printf 'pciid %s %s\n' "$n" "$(readlink "$d/device")"; fi
if [ -e "$d/device/driver/module" ]; then printf 'module %s %s\n' "$n" "$(readlink -f "$d/device/driver/module")"; fi
for b in "$d"/brif/*; do if [ -e "$b" ]; then printf 'brif %s %s\n' "$n" "${b##*/}"; fi; done
done
s netfiles; N=/sys/class/net/*; grep -s '' /dev/null $N/address $N/mtu $N/operstate $N/type $N/flags $N/speed $N/bridge/bridge_id $N/bridge/stp_state $N/bonding/slaves $N/bonding/mode $N/bonding/miimon $N/bonding/lacp_rate $N/bonding/primary $N/bonding/all_slaves_active $N/bonding_slave/perm_hwaddr
"#,
    ),
    (
        "ip",
        r#"if command -v ip >/dev/null; then s ip_addr; ip -o addr show
s ip_route4; ip -4 route get 8.8.8.8
s ip_route6; ip -6 route get 2404:6800:400a:800::1012
s ip_local; ip -4 route show table local; ip -6 route show table local; fi
"#,
    ),
    ("fc", "s fc_wwn; for p in /sys/class/fc_host/*/port_name; do if [ -f \"$p\" ]; then cat \"$p\"; fi; done\n"),
];

/// What one collector reads: files to print, paths to test, probes to run.
fn needs(collector: &str) -> (Vec<String>, Vec<String>, &'static [&'static str]) {
    let s = |v: &[&str]| v.iter().map(|p| p.to_string()).collect::<Vec<_>>();
    let dmi = |names: &[&str]| names.iter().map(|n| format!("{DMI}{n}")).collect::<Vec<_>>();
    match collector {
        "platform" => (s(&["/var/lib/dbus/machine-id", "/etc/machine-id"]), vec![], &["uname", "fqdn", "long_bit", "python"]),
        "distribution" => (s(DIST_FILES), s(&["/etc/arch-release", "/etc/vmware-release"]), &["uname", "lsb_release"]),
        "lsb" => (s(&["/etc/lsb-release"]), vec![], &["lsb_release"]),
        "selinux" => (s(&["/sys/fs/selinux/enforce", "/sys/fs/selinux/policyvers", "/etc/selinux/config"]), vec![], &[]),
        "apparmor" => (vec![], s(&["/sys/kernel/security/apparmor"]), &[]),
        "chroot" => (vec![], vec![], &["chroot"]),
        "fips" => (s(&["/proc/sys/crypto/fips_enabled"]), vec![], &[]),
        "python" => (vec![], vec![], &["python"]),
        "caps" => (vec![], vec![], &["capsh"]),
        "pkg_mgr" => {
            let mut e = s(&["/run/ostree-booted", "/usr/bin/rpm"]);
            e.extend(PKG_MGRS.iter().map(|(p, _)| p.to_string()));
            (vec![], e, &["realpath"])
        }
        "service_mgr" => {
            let mut e = s(SYSTEMD_CANARIES);
            e.extend(s(&["/etc/init/", "/sbin/openrc", "/etc/init.d/", "/etc/dinit.d/"]));
            (s(&["/proc/1/comm"]), e, &["sbin_init", "which"])
        }
        "cmdline" => (s(&["/proc/cmdline"]), vec![], &[]),
        "date_time" => (vec![], vec![], &["date"]),
        "env" => (vec![], vec![], &["env"]),
        "loadavg" => (s(&["/proc/loadavg"]), vec![], &[]),
        "ssh_pub_keys" => {
            let files = SSH_KEY_DIRS.iter().flat_map(|d| SSH_ALGOS.iter().map(move |a| format!("{d}/ssh_host_{a}_key.pub"))).collect();
            (files, vec![], &[])
        }
        "user" => (vec![], vec![], &["user"]),
        "systemd" => (vec![], vec![], &["systemd_version"]),
        "virtual" => {
            let mut f = s(&["/proc/1/cgroup", "/run/systemd/container", "/proc/xen/capabilities"]);
            f.extend(dmi(&["product_name", "sys_vendor", "product_family", "bios_vendor"]));
            let e = s(&["/proc/vz", "/proc/lve", "/proc/bc", "/.dockerenv", "/.dockerinit", "/proc/xen", "/dev/kvm", "/proc/modules"]);
            (f, e, &["proc1_environ", "vxid", "cpuinfo", "modules"])
        }
        "hardware" => {
            let mut f = s(&["/proc/meminfo", "/proc/uptime", "/sys/hypervisor/type"]);
            f.extend(dmi(&DMI_FILES.iter().map(|(_, file)| *file).collect::<Vec<_>>()));
            (f, s(&["/proc/xen"]), &["cpuinfo", "nproc", "mounts"])
        }
        "dns" => (s(&["/etc/resolv.conf"]), vec![], &[]),
        "network" => (s(&["/proc/net/route", "/proc/net/if_inet6"]), vec![], &["net", "ip"]),
        "fibre_channel_wwn" => (vec![], vec![], &["fc"]),
        "iscsi" => (s(&["/etc/iscsi/initiatorname.iscsi"]), vec![], &[]),
        "nvme" => (s(&["/etc/nvme/hostnqn"]), vec![], &[]),
        _ => (vec![], vec![], &[]),
    }
}

/// Build the one script that gathers what `collectors` need.
pub fn script(collectors: &BTreeSet<&str>, gather_timeout: u64, fact_path: &str) -> String {
    let mut files: Vec<String> = Vec::new();
    let mut exists: Vec<String> = Vec::new();
    let mut probes: BTreeSet<&str> = BTreeSet::new();
    for c in COLLECTORS.iter().filter(|c| collectors.contains(*c)) {
        let (f, e, p) = needs(c);
        for path in f {
            if !files.contains(&path) {
                files.push(path);
            }
        }
        for path in e {
            if !exists.contains(&path) {
                exists.push(path);
            }
        }
        probes.extend(p.iter().copied());
    }
    let mut out = String::from(PRELUDE);
    out.push_str(&format!("T=; if command -v timeout >/dev/null; then T='timeout {}'; fi\n", gather_timeout.max(1)));
    if !files.is_empty() {
        out.push_str(&format!("f {}\n", files.iter().map(|p| quote(p)).collect::<Vec<_>>().join(" ")));
    }
    if !exists.is_empty() {
        out.push_str(&format!("x {}\n", exists.iter().map(|p| quote(p)).collect::<Vec<_>>().join(" ")));
    }
    for (name, text) in PROBES {
        if probes.contains(name) {
            out.push_str(text);
        }
    }
    if collectors.contains("local") {
        // A fact file is read; an executable one is run and its exit status kept.
        out.push_str(&format!(
            "for p in {}/*.fact; do if [ -f \"$p\" ]; then if [ -x \"$p\" ]; then s fact_exec \"$p\"; $T \"$p\"; s fact_rc $?; \
else s fact \"$p\"; cat \"$p\"; fi; fi; done\n",
            quote(fact_path.trim_end_matches('/'))
        ));
    }
    out.push_str("s end\n");
    out
}

// ---------------------------------------------------------------- raw output

/// The script's output, cut into named sections.
pub struct Raw<'a> {
    sections: Vec<(&'a str, &'a str)>,
    exists: HashSet<&'a str>,
}

impl<'a> Raw<'a> {
    pub fn parse(text: &'a str) -> Self {
        let mut sections = Vec::new();
        let mut current: Option<(&str, usize)> = None;
        let mut pos = 0;
        for line in text.split_inclusive('\n') {
            let bare = line.trim_end_matches('\n');
            if let Some(name) = bare.strip_prefix(MARK).and_then(|r| r.strip_prefix(' ')) {
                if let Some((n, start)) = current.take() {
                    sections.push((n, text[start..pos].trim_end_matches('\n')));
                }
                current = Some((name, pos + line.len()));
            }
            pos += line.len();
        }
        if let Some((n, start)) = current {
            sections.push((n, text[start..].trim_end_matches('\n')));
        }
        let exists = sections.iter().filter(|(n, _)| *n == "exists").flat_map(|(_, t)| t.lines()).collect();
        Raw { sections, exists }
    }

    /// Whether the script ran to its end.
    fn complete(&self) -> bool {
        self.sections.iter().any(|(n, _)| *n == "end")
    }

    fn section(&self, name: &str) -> Option<&'a str> {
        self.sections.iter().find(|(n, _)| *n == name).map(|(_, t)| *t)
    }

    fn lines(&self, name: &str) -> Vec<&'a str> {
        self.section(name).map(|t| t.lines().collect()).unwrap_or_default()
    }

    /// A file's content, stripped; `None` when unreadable or empty (Ansible's
    /// `get_file_content`).
    fn file(&self, path: &str) -> Option<&'a str> {
        self.sections.iter().find(|(n, _)| n.strip_prefix("file ") == Some(path)).map(|(_, t)| t.trim()).filter(|t| !t.is_empty())
    }

    fn exists(&self, path: &str) -> bool {
        self.exists.contains(path)
    }

    fn which(&self, command: &str) -> bool {
        self.lines("which").iter().any(|l| l.rsplit('/').next() == Some(command))
    }
}

// ---------------------------------------------------------------- small helpers

type Facts = Map<String, Value>;

fn set(f: &mut Facts, key: &str, value: impl Into<Value>) {
    f.insert(key.to_string(), value.into());
}

fn int(s: &str) -> Option<i64> {
    s.trim().parse().ok()
}

fn strs<'a>(v: impl IntoIterator<Item = &'a str>) -> Value {
    Value::Array(v.into_iter().map(|s| Value::String(s.to_string())).collect())
}

/// `KEY=value` lines (os-release, lsb-release), quotes removed.
fn key_values(text: &str) -> HashMap<String, String> {
    text.lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| {
            let v = v.trim();
            let v = if v.len() >= 2 && (v.starts_with('"') && v.ends_with('"') || v.starts_with('\'') && v.ends_with('\'')) {
                v[1..v.len() - 1].replace("\\\"", "\"").replace("\\$", "$").replace("\\\\", "\\")
            } else {
                v.to_string()
            };
            (k.trim().to_string(), v)
        })
        .collect()
}

/// Python's `str.capitalize`.
fn capitalize(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(first) => first.to_uppercase().chain(c.flat_map(char::to_lowercase)).collect(),
        None => String::new(),
    }
}

/// Python's `fnmatch.fnmatchcase`: `*`, `?`, `[seq]`, `[!seq]`.
fn fnmatch(name: &str, pattern: &str) -> bool {
    fn class(p: &[char], c: char) -> Option<(bool, usize)> {
        // Returns (matched, length of the class in the pattern) or None if unclosed.
        let mut i = 1;
        let negate = p.get(i) == Some(&'!');
        if negate {
            i += 1;
        }
        let start = i;
        let mut matched = false;
        while i < p.len() {
            if p[i] == ']' && i > start {
                return Some((matched != negate, i + 1));
            }
            if p.get(i + 1) == Some(&'-') && p.get(i + 2).is_some_and(|e| *e != ']') {
                if p[i] <= c && c <= p[i + 2] {
                    matched = true;
                }
                i += 3;
            } else {
                if p[i] == c {
                    matched = true;
                }
                i += 1;
            }
        }
        None
    }
    fn go(n: &[char], p: &[char]) -> bool {
        match p.first() {
            None => n.is_empty(),
            Some('*') => (0..=n.len()).any(|k| go(&n[k..], &p[1..])),
            Some('?') => !n.is_empty() && go(&n[1..], &p[1..]),
            Some('[') => match (n.first(), class(p, n.first().copied().unwrap_or('\0'))) {
                (Some(_), Some((true, len))) => go(&n[1..], &p[len..]),
                (Some(_), Some((false, _))) | (None, Some(_)) => false,
                (Some(c), None) => *c == '[' && go(&n[1..], &p[1..]),
                (None, None) => false,
            },
            Some(c) => n.first() == Some(c) && go(&n[1..], &p[1..]),
        }
    }
    let n: Vec<char> = name.chars().collect();
    let p: Vec<char> = pattern.chars().collect();
    go(&n, &p)
}

/// The name Ansible gives a fact in its module result (what `filter` matches), which is
/// also the name of the variable the fact is injected as: `ansible_` + the key, except
/// `gather_subset` and `module_setup`.
pub fn ansible_name(key: &str) -> String {
    if key == "gather_subset" || key == "module_setup" {
        key.to_string()
    } else {
        format!("ansible_{key}")
    }
}

/// Ansible's `AnsibleFactCollector._filter`.
pub fn filter_facts(facts: Facts, patterns: &[String]) -> Facts {
    if patterns.is_empty() || patterns.iter().all(|p| p == "*") {
        return facts;
    }
    facts
        .into_iter()
        .filter(|(k, _)| {
            let name = ansible_name(k);
            patterns.iter().any(|p| {
                p.is_empty()
                    || fnmatch(&name, p)
                    || (!p.starts_with("ansible_")
                        && !p.starts_with("facter")
                        && !p.starts_with("ohai")
                        && fnmatch(&name, &format!("ansible_{p}")))
            })
        })
        .collect()
}

// ---------------------------------------------------------------- collectors: base

struct Uname<'a> {
    system: &'a str,
    node: &'a str,
    release: &'a str,
    version: &'a str,
    machine: &'a str,
}

fn uname<'a>(raw: &Raw<'a>) -> Uname<'a> {
    let l = raw.lines("uname");
    let get = |i: usize| l.get(i).copied().unwrap_or("");
    Uname { system: get(0), node: get(1), release: get(2), version: get(3), machine: get(4) }
}

/// `python3 --version` → (executable, [major, minor, micro, releaselevel, serial], type).
fn python_info<'a>(raw: &Raw<'a>) -> Option<(&'a str, i64, i64, i64, &'static str, i64, &'static str)> {
    let lines = raw.lines("python");
    let exe = *lines.first()?;
    let text = lines.get(1..).unwrap_or_default().join("\n");
    let version = text.split_whitespace().nth(1)?;
    let mut parts = version.splitn(3, '.');
    let major = int(parts.next()?)?;
    let minor = int(parts.next()?)?;
    let rest = parts.next().unwrap_or("0");
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    let micro = int(&digits).unwrap_or(0);
    let tail = rest[digits.len()..].trim_end_matches('+');
    let (level, serial) = [("rc", "candidate"), ("a", "alpha"), ("b", "beta")]
        .iter()
        .find_map(|(p, l)| tail.strip_prefix(p).map(|s| (*l, int(s).unwrap_or(0))))
        .unwrap_or(("final", 0));
    let kind = if text.contains("PyPy") { "pypy" } else { "cpython" };
    Some((exe, major, minor, micro, level, serial, kind))
}

fn platform(raw: &Raw, f: &mut Facts) {
    let u = uname(raw);
    set(f, "system", u.system);
    set(f, "kernel", u.release);
    set(f, "kernel_version", u.version);
    set(f, "machine", u.machine);
    if let Some((_, major, minor, micro, ..)) = python_info(raw) {
        set(f, "python_version", format!("{major}.{minor}.{micro}"));
    }
    // socket.getfqdn(): the first name of the address's entry that has a dot, else
    // the entry's name; the node name when the lookup fails.
    let fqdn = match raw.section("fqdn_getent") {
        Some(line) => {
            let names: Vec<&str> = line.split_whitespace().skip(1).collect();
            names.iter().find(|n| n.contains('.')).or(names.first()).copied().unwrap_or(u.node).to_string()
        }
        None => raw.section("fqdn_hostname").map(str::trim).filter(|s| !s.is_empty()).unwrap_or(u.node).to_string(),
    };
    set(f, "fqdn", fqdn.as_str());
    set(f, "hostname", u.node.split('.').next().unwrap_or(""));
    set(f, "nodename", u.node);
    set(f, "domain", fqdn.split_once('.').map_or("", |(_, d)| d));
    // Ansible asks Python for the width of its own binary; `getconf LONG_BIT` gives the
    // same, and hosts without getconf (busybox) are guessed from the machine name.
    let bits = match raw.section("long_bit").map(str::trim).filter(|b| !b.is_empty()) {
        Some(b) => b,
        None if u.machine.contains("64") || u.machine == "s390x" => "64",
        None if u.machine.is_empty() => "",
        None => "32",
    };
    set(f, "userspace_bits", bits);
    set(f, "architecture", u.machine);
    if u.machine == "x86_64" {
        match bits {
            "64" => set(f, "userspace_architecture", "x86_64"),
            "32" => set(f, "userspace_architecture", "i386"),
            _ => {}
        }
    }
    if let Some(id) = raw.file("/var/lib/dbus/machine-id").or_else(|| raw.file("/etc/machine-id")) {
        set(f, "machine_id", id.lines().next().unwrap_or(""));
    }
}

/// `lsb_release -a`, or `/etc/lsb-release` without it.
fn lsb_facts(raw: &Raw) -> Map<String, Value> {
    let mut lsb = Map::new();
    if let Some(out) = raw.section("lsb_release") {
        for line in out.lines() {
            let Some((_, value)) = line.split_once(':') else { continue };
            let value = value.trim();
            let key = if line.contains("LSB Version:") || line.contains("Release:") {
                "release"
            } else if line.contains("Distributor ID:") {
                "id"
            } else if line.contains("Description:") {
                "description"
            } else if line.contains("Codename:") {
                "codename"
            } else {
                continue;
            };
            lsb.insert(key.into(), value.into());
        }
    }
    if lsb.is_empty() {
        if let Some(text) = raw.file("/etc/lsb-release") {
            for line in text.lines() {
                let Some((_, value)) = line.split_once('=') else { continue };
                let key = ["DISTRIB_ID", "DISTRIB_RELEASE", "DISTRIB_DESCRIPTION", "DISTRIB_CODENAME"]
                    .iter()
                    .zip(["id", "release", "description", "codename"])
                    .find(|(k, _)| line.contains(**k))
                    .map(|(_, name)| name);
                if let Some(key) = key {
                    lsb.insert(key.into(), value.trim().into());
                }
            }
        }
    }
    if let Some(release) = lsb.get("release").and_then(Value::as_str) {
        let major = release.split('.').next().unwrap_or("").to_string();
        lsb.insert("major_release".into(), major.into());
    }
    for v in lsb.values_mut() {
        if let Value::String(s) = v {
            *s = s.trim_matches(['\'', '"', '\\']).to_string();
        }
    }
    lsb
}

#[rustfmt::skip]
const OS_FAMILY: &[(&str, &[&str])] = &[
    (
        "RedHat",
        &[
            "RedHat", "RHEL", "Fedora", "CentOS", "Scientific", "SLC", "Ascendos", "CloudLinux", "PSBM", "OracleLinux", "OVS", "OEL", "Amazon",
            "Amzn", "Virtuozzo", "XenServer", "Alibaba", "EulerOS", "openEuler", "AlmaLinux", "Rocky", "TencentOS", "EuroLinux",
            "Kylin Linux Advanced Server", "MIRACLE",
        ],
    ),
    (
        "Debian",
        &[
            "Debian", "Ubuntu", "Raspbian", "Neon", "KDE neon", "Linux Mint", "SteamOS", "Devuan", "Kali", "Cumulus Linux", "Pop!_OS",
            "Parrot", "Pardus GNU/Linux", "Uos", "Deepin", "OSMC", "Linux Mint Debian Edition",
        ],
    ),
    (
        "Suse",
        &["SuSE", "SLES", "SLED", "openSUSE", "openSUSE Tumbleweed", "SLES_SAP", "SUSE_LINUX", "openSUSE Leap", "ALP-Dolomite", "SL-Micro", "openSUSE MicroOS"],
    ),
    ("Archlinux", &["Archlinux", "Antergos", "Manjaro"]),
    ("Mandrake", &["Mandrake", "Mandriva"]),
    ("Solaris", &["Solaris", "Nexenta", "OmniOS", "OpenIndiana", "SmartOS"]),
    ("Slackware", &["Slackware"]),
    ("Altlinux", &["Altlinux"]),
    ("SMGL", &["SMGL"]),
    ("Gentoo", &["Gentoo", "Funtoo"]),
    ("Alpine", &["Alpine"]),
    ("AIX", &["AIX"]),
    ("HP-UX", &["HPUX"]),
    ("Darwin", &["MacOSX"]),
    ("FreeBSD", &["FreeBSD", "TrueOS"]),
    ("ClearLinux", &["Clear Linux OS", "Clear Linux Mix"]),
    ("DragonFly", &["DragonflyBSD", "DragonFlyBSD", "Gentoo/DragonflyBSD", "Gentoo/DragonFlyBSD"]),
    ("NetBSD", &["NetBSD"]),
];

fn os_family(distribution: &str) -> String {
    OS_FAMILY
        .iter()
        .find(|(_, names)| names.contains(&distribution))
        .map_or_else(|| distribution.to_string(), |(family, _)| family.to_string())
}

/// The first capture of `\((\D+)\)|,\s*(\D+)` in os-release's VERSION (distro's codename).
fn codename_from_version(version: &str) -> Option<String> {
    if let Some(open) = version.find('(') {
        let inner = &version[open + 1..];
        if let Some(close) = inner.find(')') {
            let c = &inner[..close];
            if !c.is_empty() && !c.chars().any(|ch| ch.is_ascii_digit()) {
                return Some(c.to_string());
            }
        }
    }
    let (_, after) = version.split_once(',')?;
    let c: String = after.trim_start().chars().take_while(|ch| !ch.is_ascii_digit()).collect();
    (!c.is_empty()).then_some(c)
}

/// Ansible's `DistributionFiles._guess_distribution` (the `distro` library's view).
fn guess_distribution(raw: &Raw, osr: &HashMap<String, String>, lsb: &Map<String, Value>) -> (String, String, String) {
    let lsb_get = |k: &str| lsb.get(k).and_then(Value::as_str).unwrap_or("").to_string();
    let mut id = osr.get("ID").map(|s| s.to_lowercase().replace(' ', "_")).unwrap_or_default();
    id = match id.as_str() {
        "ol" => "oracle".into(),
        "opensuse-leap" => "opensuse".into(),
        _ => id,
    };
    if id.is_empty() {
        id = lsb_get("id").to_lowercase().replace(' ', "_");
    }
    let name = match capitalize(&id).as_str() {
        "Amzn" => "Amazon".to_string(),
        "Rhel" => "Redhat".to_string(),
        "" => "OtherLinux".to_string(),
        other => other.to_string(),
    };
    let version_id = osr.get("VERSION_ID").cloned().unwrap_or_default();
    let mut version = if version_id.is_empty() { lsb_get("release") } else { version_id.clone() };
    // distro.version(best=True) for Debian and CentOS: the most precise candidate.
    if id == "debian" || id == "centos" {
        let mut candidates = vec![version_id, lsb_get("release")];
        if id == "debian" {
            candidates.push(raw.file("/etc/debian_version").unwrap_or("").to_string());
        }
        let mut best = String::new();
        for c in candidates {
            if best.is_empty() || c.matches('.').count() > best.matches('.').count() {
                best = c;
            }
        }
        version = if id == "centos" { best.split('.').take(2).collect::<Vec<_>>().join(".") } else { best };
    }
    let codename = osr
        .get("VERSION_CODENAME")
        .or_else(|| osr.get("UBUNTU_CODENAME"))
        .cloned()
        .or_else(|| (id == "ubuntu").then(|| lsb_get("codename")).filter(|c| !c.is_empty()))
        .or_else(|| osr.get("VERSION").and_then(|v| codename_from_version(v)))
        .or_else(|| Some(lsb_get("codename")))
        .filter(|c| !c.is_empty());
    let version = if version.is_empty() { "NA".to_string() } else { version };
    (name, version, codename.unwrap_or_else(|| "NA".into()))
}

fn find_after<'a>(text: &'a str, prefix: &str) -> Option<&'a str> {
    text.lines().find_map(|l| l.strip_prefix(prefix))
}

/// One entry of Ansible's `OSDIST_LIST`, parsed: `None` when it does not apply.
fn parse_dist_file(name: &str, data: &str, path: &str, guess: &Facts) -> Option<Facts> {
    let mut f = Facts::new();
    let data = data.trim_matches(['\'', '"', '\\']);
    let search = match name {
        "OracleLinux" => Some("Oracle Linux"),
        "RedHat" => Some("Red Hat"),
        "Altlinux" => Some("ALT"),
        "SMGL" => Some("Source Mage GNU/Linux"),
        _ => None,
    };
    if let Some(s) = search {
        let d = if data.contains(s) { name } else { data.split_whitespace().next().unwrap_or(name) };
        set(&mut f, "distribution", d);
        return Some(f);
    }
    let quoted = |key: &str| find_after(data, &format!("{key}=\"")).map(|v| v.trim_end_matches('"').to_string());
    match name {
        "Archlinux" => data.contains("Arch Linux").then_some(f),
        "Slackware" => {
            if !data.contains("Slackware") {
                return None;
            }
            let v = data.split_whitespace().find(|w| w.contains('.') && w.chars().next().is_some_and(char::is_alphanumeric));
            if let Some(v) = v {
                set(&mut f, "distribution_version", v);
            }
            Some(f)
        }
        "Amazon" => {
            if !data.contains("Amazon") {
                return None;
            }
            set(&mut f, "distribution", "Amazon");
            if path == "/etc/os-release" {
                if let Some(v) = quoted("VERSION_ID") {
                    let (major, minor) = v.split_once('.').map_or((v.as_str(), "NA"), |(a, b)| (a, b));
                    set(&mut f, "distribution_major_version", major);
                    set(&mut f, "distribution_minor_version", minor);
                    set(&mut f, "distribution_version", v.as_str());
                }
            } else {
                let v = data.split_whitespace().find(|w| w.chars().all(|c| c.is_ascii_digit())).unwrap_or("NA");
                set(&mut f, "distribution_version", v);
            }
            Some(f)
        }
        "OpenWrt" => {
            if !data.contains("OpenWrt") {
                return None;
            }
            if let Some(v) = quoted("DISTRIB_RELEASE") {
                set(&mut f, "distribution_version", v);
            }
            if let Some(v) = quoted("DISTRIB_CODENAME") {
                set(&mut f, "distribution_release", v);
            }
            Some(f)
        }
        "Alpine" => {
            set(&mut f, "distribution", "Alpine");
            set(&mut f, "distribution_version", data);
            Some(f)
        }
        "SUSE" => {
            if !data.to_lowercase().contains("suse") {
                return None;
            }
            if path == "/etc/os-release" {
                let kv = key_values(data);
                if let Some(n) = kv.get("NAME") {
                    set(&mut f, "distribution", n.as_str());
                }
                if let Some(v) = kv.get("VERSION_ID") {
                    set(&mut f, "distribution_version", v.as_str());
                    set(&mut f, "distribution_major_version", v.split('.').next().unwrap_or(""));
                    let minor = v.split_once('.').map_or("", |(_, m)| m);
                    if data.to_lowercase().contains("open") {
                        set(&mut f, "distribution_release", minor);
                    } else if data.to_lowercase().contains("enterprise") {
                        set(&mut f, "distribution_release", if minor.is_empty() { "0" } else { minor });
                    }
                }
                match key_values(data).get("VARIANT_ID").map(String::as_str) {
                    Some("server-sap" | "sles-sap") => set(&mut f, "distribution", "SLES_SAP"),
                    Some("transactional") => set(&mut f, "distribution", "SL-Micro"),
                    _ => {}
                }
            }
            Some(f)
        }
        "Debian" => {
            if data.contains("Debian") || data.contains("Raspbian") {
                set(&mut f, "distribution", "Debian");
                // PRETTY_NAME="Debian GNU/Linux 12 (bookworm)" → bookworm
                if let Some(p) = find_after(data, "PRETTY_NAME=") {
                    if let Some(r) = p.split_once(" (").and_then(|(_, r)| r.split_once(')')).map(|(r, _)| r) {
                        set(&mut f, "distribution_release", r);
                    }
                }
                // The point release, from /etc/debian_version: set by the caller.
                set(&mut f, "__debian_minor", true);
            } else if data.contains("Ubuntu") {
                set(&mut f, "distribution", "Ubuntu");
            } else if data.contains("SteamOS") {
                set(&mut f, "distribution", "SteamOS");
            } else if (path == "/etc/lsb-release" || path == "/etc/os-release") && (data.contains("Kali") || data.contains("Parrot")) {
                set(&mut f, "distribution", if data.contains("Kali") { "Kali" } else { "Parrot" });
                if let Some(r) = find_after(data, "DISTRIB_RELEASE=") {
                    set(&mut f, "distribution_release", r);
                }
            } else if data.contains("Devuan") {
                set(&mut f, "distribution", "Devuan");
                if let Some(v) = quoted("VERSION_ID") {
                    set(&mut f, "distribution_version", v.as_str());
                    set(&mut f, "distribution_major_version", v);
                }
            } else if data.contains("Cumulus") {
                set(&mut f, "distribution", "Cumulus Linux");
            } else if data.contains("Mint") {
                set(&mut f, "distribution", "Linux Mint");
                if let Some(v) = quoted("VERSION_ID") {
                    set(&mut f, "distribution_major_version", v.split('.').next().unwrap_or(""));
                    set(&mut f, "distribution_version", v);
                }
            } else if data.contains("UOS") || data.contains("Uos") || data.contains("uos") {
                set(&mut f, "distribution", "Uos");
            } else if data.contains("Deepin") || data.contains("deepin") {
                set(&mut f, "distribution", "Deepin");
            } else if data.contains("LMDE") {
                set(&mut f, "distribution", "Linux Mint Debian Edition");
            } else {
                return None;
            }
            Some(f)
        }
        "Mandriva" => {
            if !data.contains("Mandriva") {
                return None;
            }
            if let Some(v) = quoted("DISTRIB_RELEASE") {
                set(&mut f, "distribution_version", v);
            }
            if let Some(v) = quoted("DISTRIB_CODENAME") {
                set(&mut f, "distribution_release", v);
            }
            Some(f)
        }
        "CentOS" => {
            if data.contains("CentOS Stream") {
                set(&mut f, "distribution_release", "Stream");
                Some(f)
            } else if data.contains("TencentOS Server") {
                set(&mut f, "distribution", "TencentOS");
                Some(f)
            } else {
                None
            }
        }
        "ClearLinux" => {
            let pname = quoted("NAME")?;
            if !pname.contains("Clear Linux") {
                return None;
            }
            set(&mut f, "distribution", pname);
            if let Some(v) = find_after(data, "VERSION_ID=") {
                set(&mut f, "distribution_major_version", v);
                set(&mut f, "distribution_version", v);
            }
            Some(f)
        }
        "Flatcar" => {
            if guess.get("distribution").and_then(Value::as_str).map(str::to_lowercase).as_deref() != Some("flatcar") {
                return None;
            }
            if let Some(v) = find_after(data, "VERSION=") {
                let v = v.trim_matches('"');
                set(&mut f, "distribution_major_version", v.split('.').next().unwrap_or(""));
                set(&mut f, "distribution_version", v);
            }
            Some(f)
        }
        "NA" => {
            for line in data.lines() {
                if let Some(n) = line.strip_prefix("NAME=") {
                    set(&mut f, "distribution", n.trim_matches('"'));
                }
                if let Some(v) = line.strip_prefix("VERSION=") {
                    if guess.get("distribution_version").and_then(Value::as_str) == Some("NA") {
                        set(&mut f, "distribution_version", v.trim_matches('"'));
                    }
                }
            }
            Some(f)
        }
        _ => None,
    }
}

/// Ansible's `OSDIST_LIST`, in order: (path, name, empty file allowed).
#[rustfmt::skip]
const OSDIST: &[(&str, &str, bool)] = &[
    ("/etc/altlinux-release", "Altlinux", false),
    ("/etc/oracle-release", "OracleLinux", false),
    ("/etc/slackware-version", "Slackware", false),
    ("/etc/centos-release", "CentOS", false),
    ("/etc/redhat-release", "RedHat", false),
    ("/etc/vmware-release", "VMwareESX", true),
    ("/etc/openwrt_release", "OpenWrt", false),
    ("/etc/os-release", "Amazon", false),
    ("/etc/system-release", "Amazon", false),
    ("/etc/alpine-release", "Alpine", false),
    ("/etc/arch-release", "Archlinux", true),
    ("/etc/os-release", "Archlinux", false),
    ("/etc/os-release", "SUSE", false),
    ("/etc/SuSE-release", "SUSE", false),
    ("/etc/gentoo-release", "Gentoo", false),
    ("/etc/os-release", "Debian", false),
    ("/etc/lsb-release", "Debian", false),
    ("/etc/lsb-release", "Mandriva", false),
    ("/etc/sourcemage-release", "SMGL", false),
    ("/usr/lib/os-release", "ClearLinux", false),
    ("/etc/coreos/update.conf", "Coreos", false),
    ("/etc/os-release", "Flatcar", false),
    ("/etc/os-release", "NA", false),
];

fn distribution(raw: &Raw, f: &mut Facts) {
    let system = uname(raw).system;
    let mut d = Facts::new();
    if system == "Linux" {
        let osr = key_values(raw.file("/etc/os-release").or_else(|| raw.file("/usr/lib/os-release")).unwrap_or(""));
        let (name, version, release) = guess_distribution(raw, &osr, &lsb_facts(raw));
        set(&mut d, "distribution", name);
        set(&mut d, "distribution_version", version.as_str());
        set(&mut d, "distribution_release", release);
        set(&mut d, "distribution_major_version", version.split('.').next().filter(|m| !m.is_empty()).unwrap_or("NA"));
        for (path, name, allow_empty) in OSDIST {
            if *allow_empty && raw.exists(path) {
                set(&mut d, "distribution", *name);
                set(&mut d, "distribution_file_path", *path);
                set(&mut d, "distribution_file_variety", *name);
                break;
            }
            let Some(data) = raw.file(path) else { continue };
            let Some(parsed) = parse_dist_file(name, data, path, &d) else { continue };
            set(&mut d, "distribution", *name);
            set(&mut d, "distribution_file_path", *path);
            set(&mut d, "distribution_file_variety", *name);
            set(&mut d, "distribution_file_parsed", true);
            for (k, v) in parsed {
                if k == "__debian_minor" {
                    let minor = raw.file("/etc/debian_version").and_then(|t| {
                        t.lines().find_map(|l| {
                            let (a, b) = l.trim().split_once('.')?;
                            let a_ok = a.chars().last().is_some_and(|c| c.is_ascii_digit());
                            let b: String = b.chars().take_while(char::is_ascii_digit).collect();
                            (a_ok && !b.is_empty()).then_some(b)
                        })
                    });
                    if let Some(m) = minor {
                        set(&mut d, "distribution_minor_version", m);
                    }
                } else {
                    d.insert(k, v);
                }
            }
            break;
        }
    } else {
        let u = uname(raw);
        set(&mut d, "distribution", system);
        set(&mut d, "distribution_release", u.release);
        set(&mut d, "distribution_version", u.version);
    }
    let dist = d.get("distribution").and_then(Value::as_str).unwrap_or("").to_string();
    set(&mut d, "os_family", os_family(&dist));
    f.extend(d);
}

// ---------------------------------------------------------------- collectors: general

fn selinux(raw: &Raw, f: &mut Facts) {
    let mut s = Map::new();
    match raw.file("/sys/fs/selinux/enforce") {
        None => {
            s.insert("status".into(), "disabled".into());
        }
        Some(enforce) => {
            let mode = |v: &str| match v {
                "1" | "enforcing" => "enforcing",
                "0" | "permissive" => "permissive",
                "-1" | "disabled" => "disabled",
                _ => "unknown",
            };
            let config = key_values(raw.file("/etc/selinux/config").unwrap_or(""));
            s.insert("status".into(), "enabled".into());
            let policy = raw.file("/sys/fs/selinux/policyvers").and_then(int).map_or(json!("unknown"), Value::from);
            s.insert("policyvers".into(), policy);
            s.insert("config_mode".into(), mode(config.get("SELINUX").map_or("", String::as_str)).into());
            s.insert("mode".into(), mode(enforce).into());
            s.insert("type".into(), config.get("SELINUXTYPE").cloned().unwrap_or_else(|| "unknown".into()).into());
        }
    }
    set(f, "selinux", s);
}

fn chroot(raw: &Raw, f: &mut Facts) {
    let l = raw.lines("chroot");
    let is_chroot = if l.first().is_some_and(|v| !v.is_empty()) {
        true
    } else {
        match (l.get(1), l.get(2)) {
            (Some(root), Some(proc_root)) => root != proc_root,
            (Some(root), None) => {
                // /proc/1/root is not readable: compare the root inode with the
                // filesystem's usual one, as Ansible does.
                let fstype = raw.section("chroot_fstype").unwrap_or("");
                let expected = if fstype.contains("btrfs") {
                    256
                } else if fstype.contains("xfs") {
                    128
                } else {
                    2
                };
                root.rsplit(':').next().and_then(int) != Some(expected)
            }
            _ => return,
        }
    };
    set(f, "is_chroot", is_chroot);
}

fn python(raw: &Raw, f: &mut Facts) {
    let Some((exe, major, minor, micro, level, serial, kind)) = python_info(raw) else { return };
    set(
        f,
        "python",
        json!({
            "version": {"major": major, "minor": minor, "micro": micro, "releaselevel": level, "serial": serial},
            "version_info": [major, minor, micro, level, serial],
            "executable": exe,
            "has_sslcontext": true,
            "type": kind,
        }),
    );
}

fn caps(raw: &Raw, f: &mut Facts) {
    let Some(out) = raw.section("capsh") else {
        set(f, "system_capabilities_enforced", "N/A");
        set(f, "system_capabilities", "N/A");
        return;
    };
    let mut enforced = "NA";
    let mut list: Vec<&str> = Vec::new();
    for line in out.lines().filter(|l| l.starts_with("Current:")) {
        if line.split(':').nth(1).map(str::trim) == Some("=ep") {
            enforced = "False";
        } else {
            enforced = "True";
            list = line.split('=').nth(1).unwrap_or("").split(',').map(str::trim).collect();
        }
    }
    set(f, "system_capabilities_enforced", enforced);
    set(f, "system_capabilities", strs(list));
}

fn pkg_mgr(raw: &Raw, family: &str) -> String {
    let mut name = "unknown".to_string();
    for (path, mgr) in PKG_MGRS {
        if family == "Altlinux" && *path == "/usr/bin/pkg" {
            continue;
        }
        if raw.exists(path) {
            name = mgr.to_string();
        }
    }
    match family {
        "RedHat" => {
            if raw.exists("/run/ostree-booted") {
                return "atomic_container".into();
            }
            // Where /usr/bin/dnf (or microdnf) points tells dnf from dnf5.
            for line in raw.lines("realpath") {
                if let Some((_, target)) = line.split_once(' ') {
                    return if target == "/usr/bin/dnf5" { "dnf5" } else { "dnf" }.into();
                }
            }
            "unknown".into()
        }
        "Debian" => "apt".into(),
        "Altlinux" if name == "apt" => "apt_rpm".into(),
        _ => name,
    }
}

fn service_mgr(raw: &Raw, facts: &Facts) -> String {
    let mut proc_1 = raw.file("/proc/1/comm").map(str::to_string);
    if proc_1.is_none() {
        proc_1 = raw.section("sbin_init").map(|l| l.trim().to_string());
    }
    let proc_1 = proc_1
        .map(|p| p.rsplit('/').next().unwrap_or("").trim().to_string())
        .filter(|p| !p.is_empty() && p != "init" && !p.ends_with("sh") && p != "COMMAND");
    if let Some(p) = proc_1 {
        return match p.as_str() {
            "procd" => "openwrt_init",
            "runit-init" => "runit",
            "svscan" => "svc",
            "openrc-init" => "openrc",
            other => other,
        }
        .to_string();
    }
    let get = |k: &str| facts.get(k).and_then(Value::as_str).unwrap_or("");
    let (system, distribution) = (get("system"), get("distribution"));
    let name = if distribution == "MacOSX" {
        "launchd"
    } else if system.contains("BSD") || system == "Bitrig" || system == "DragonFly" {
        "bsdinit"
    } else if system == "AIX" {
        "src"
    } else if system == "SunOS" {
        "smf"
    } else if distribution == "OpenWrt" {
        "openwrt_init"
    } else if distribution == "SMGL" {
        "simpleinit_msb"
    } else if system == "Linux" {
        let systemctl = raw.which("systemctl");
        if systemctl && SYSTEMD_CANARIES.iter().any(|c| raw.exists(c)) {
            "systemd"
        } else if raw.which("initctl") && raw.exists("/etc/init/") {
            "upstart"
        } else if raw.exists("/sbin/openrc") {
            "openrc"
        } else if systemctl && raw.section("sbin_init").is_some_and(|t| t.trim().rsplit('/').next() == Some("systemd")) {
            "systemd"
        } else if raw.exists("/etc/init.d/") {
            "sysvinit"
        } else if raw.exists("/etc/dinit.d/") {
            "dinit"
        } else {
            "service"
        }
    } else {
        "service"
    };
    name.to_string()
}

/// /proc/cmdline: `cmdline` keeps the last value of a key, `proc_cmdline` all of them.
fn cmdline(raw: &Raw, f: &mut Facts) {
    let Some(data) = raw.file("/proc/cmdline") else { return };
    let (mut last, mut all) = (Map::new(), Map::new());
    for piece in data.split_whitespace() {
        match piece.split_once('=') {
            None => {
                last.insert(piece.into(), true.into());
                all.insert(piece.into(), true.into());
            }
            Some((k, v)) => {
                last.insert(k.into(), v.into());
                match all.get_mut(k) {
                    Some(Value::Array(list)) => list.push(v.into()),
                    Some(Value::String(first)) => {
                        let first = std::mem::take(first);
                        all.insert(k.into(), json!([first, v]));
                    }
                    _ => {
                        all.insert(k.into(), v.into());
                    }
                }
            }
        }
    }
    set(f, "cmdline", last);
    set(f, "proc_cmdline", all);
}

/// Days since 1970-01-01 → (year, month, day), Howard Hinnant's algorithm.
fn civil(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(month <= 2), month, day)
}

fn date_time(raw: &Raw, f: &mut Facts) {
    let lines = raw.lines("date");
    let Some(now) = lines.first() else { return };
    let p: Vec<&str> = now.split('|').collect();
    if p.len() < 9 {
        return;
    }
    let (date, time, epoch, tz, offset, weekday, wday, week) = (p[0], p[1], p[2], p[3], p[4], p[5], p[6], p[7]);
    let nanos: String = p[8].chars().filter(char::is_ascii_digit).collect();
    let micro = format!("{:0<6}", nanos.chars().take(6).collect::<String>());
    let (year, month, day) = (date.get(0..4).unwrap_or(""), date.get(5..7).unwrap_or(""), date.get(8..10).unwrap_or(""));
    let (hour, minute, second) = (time.get(0..2).unwrap_or(""), time.get(3..5).unwrap_or(""), time.get(6..8).unwrap_or(""));
    let secs = int(epoch).unwrap_or(0);
    let (uy, um, ud) = civil(secs.div_euclid(86400));
    let r = secs.rem_euclid(86400);
    let utc = format!("{uy:04}-{um:02}-{ud:02}T{:02}:{:02}:{:02}", r / 3600, r % 3600 / 60, r % 60);
    // time.tzname[1]: the name of the zone's summer time, or its only name.
    let zones: Vec<(&str, i64)> = lines[1..]
        .iter()
        .filter_map(|l| l.split_once('|'))
        .map(|(name, off)| (name, int(off.trim_start_matches('+')).unwrap_or(0)))
        .collect();
    let tz_dst = match zones.as_slice() {
        [(a, oa), (b, ob)] if a != b => {
            if ob > oa {
                *b
            } else {
                *a
            }
        }
        [(a, _), ..] => *a,
        [] => tz,
    };
    let compact = format!("{year}{month}{day}T{hour}{minute}{second}");
    set(
        f,
        "date_time",
        json!({
            "year": year, "month": month, "weekday": weekday, "weekday_number": wday, "weeknumber": week,
            "day": day, "hour": hour, "minute": minute, "second": second, "epoch": epoch, "epoch_int": epoch,
            "date": date, "time": time,
            "iso8601_micro": format!("{utc}.{micro}Z"), "iso8601": format!("{utc}Z"),
            "iso8601_basic": format!("{compact}{micro}"), "iso8601_basic_short": compact,
            "tz": tz, "tz_dst": tz_dst, "tz_offset": offset,
        }),
    );
}

/// `env -0` output (NUL-separated), or plain `env` where `-0` is missing (a line that
/// does not start a `NAME=` continues the previous value).
fn env(raw: &Raw, f: &mut Facts) {
    let Some(text) = raw.section("env") else { return };
    let mut vars = Map::new();
    if text.contains('\0') {
        for item in text.split('\0') {
            if let Some((k, v)) = item.split_once('=') {
                vars.insert(k.to_string(), v.into());
            }
        }
    } else {
        let mut last: Option<String> = None;
        for line in text.lines() {
            let starts_var = line.split_once('=').is_some_and(|(k, _)| {
                !k.is_empty() && k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') && !k.starts_with(|c: char| c.is_ascii_digit())
            });
            match (starts_var, &last) {
                (true, _) | (false, None) => {
                    if let Some((k, v)) = line.split_once('=') {
                        vars.insert(k.to_string(), v.into());
                        last = Some(k.to_string());
                    }
                }
                (false, Some(k)) => {
                    if let Some(Value::String(v)) = vars.get_mut(k) {
                        v.push('\n');
                        v.push_str(line);
                    }
                }
            }
        }
    }
    set(f, "env", vars);
}

fn loadavg(raw: &Raw, f: &mut Facts) {
    let Some(text) = raw.file("/proc/loadavg") else { return };
    let v: Vec<f64> = text.split_whitespace().take(3).filter_map(|x| x.parse().ok()).collect();
    if let [a, b, c] = v[..] {
        set(f, "loadavg", json!({"1m": a, "5m": b, "15m": c}));
    }
}

fn ssh_pub_keys(raw: &Raw, f: &mut Facts) {
    for dir in SSH_KEY_DIRS {
        for algo in SSH_ALGOS {
            let name = format!("ssh_host_key_{algo}_public");
            if f.contains_key(&name) {
                return;
            }
            let Some(data) = raw.file(&format!("{dir}/ssh_host_{algo}_key.pub")) else { continue };
            let mut words = data.split_whitespace();
            if let (Some(kind), Some(key)) = (words.next(), words.next()) {
                set(f, &name, key);
                set(f, &format!("{name}_keytype"), kind);
            }
        }
    }
}

fn user(raw: &Raw, f: &mut Facts) {
    let l = raw.lines("user");
    if l.len() < 4 {
        return;
    }
    let (name, ruid, euid, rgid) = (l[0], int(l[1]), int(l[2]), int(l[3]));
    let pw: Vec<&str> = l.get(4).map(|p| p.split(':').collect()).unwrap_or_default();
    set(f, "user_id", name);
    if pw.len() >= 7 {
        set(f, "user_uid", int(pw[2]).map_or(Value::Null, Value::from));
        set(f, "user_gid", int(pw[3]).map_or(Value::Null, Value::from));
        set(f, "user_gecos", pw[4]);
        set(f, "user_dir", pw[5]);
        set(f, "user_shell", pw[6]);
    }
    set(f, "real_user_id", ruid.map_or(Value::Null, Value::from));
    set(f, "effective_user_id", euid.map_or(Value::Null, Value::from));
    set(f, "real_group_id", rgid.map_or(Value::Null, Value::from));
    // Ansible reports os.getgid() here too, not the effective group.
    set(f, "effective_group_id", rgid.map_or(Value::Null, Value::from));
}

fn systemd(raw: &Raw, f: &mut Facts) {
    let Some(out) = raw.section("systemctl_version") else { return };
    let version = out.lines().next().and_then(|l| l.split_whitespace().nth(1)).and_then(int);
    let features = out.lines().nth(1).unwrap_or("");
    if let Some(v) = version {
        set(f, "systemd", json!({"features": features, "version": v}));
    }
}

// ---------------------------------------------------------------- virtual

fn virtual_facts(raw: &Raw, f: &mut Facts) {
    let mut guest: Vec<String> = Vec::new();
    let mut host: Vec<String> = Vec::new();
    let add = |v: &mut Vec<String>, t: &str| {
        if !v.iter().any(|x| x == t) {
            v.push(t.to_string());
        }
    };
    let mut kind: Option<String> = None;
    let mut role: Option<String> = None;
    let mut found = false;
    // `hit` records a finding: the first one decides type and role.
    macro_rules! hit {
        ($list:expr, $tech:expr, $type:expr, $role:expr) => {{
            add(&mut $list, $tech);
            if !found {
                kind = Some($type.to_string());
                if let Some(r) = $role {
                    role = Some(r.to_string());
                }
                found = true;
            }
        }};
    }
    for line in raw.file("/proc/1/cgroup").unwrap_or("").lines() {
        let docker = line.contains("/docker/") || line.split("/docker-").nth(1).is_some_and(|r| r.contains(".scope"));
        if docker {
            hit!(guest, "docker", "docker", Some("guest"));
        }
        if line.contains("/lxc/") || line.contains("/machine.slice/machine-lxc") {
            hit!(guest, "lxc", "lxc", Some("guest"));
        }
        if line.contains("/system.slice/containerd.service") {
            hit!(guest, "containerd", "containerd", Some("guest"));
        }
    }
    for line in raw.lines("proc1_environ") {
        if line.contains("container=lxc") {
            hit!(guest, "lxc", "lxc", Some("guest"));
        }
        if line.contains("container=podman") {
            hit!(guest, "podman", "podman", Some("guest"));
        }
        if line.starts_with("container=") && line.len() > "container=".len() {
            hit!(guest, "container", "container", Some("guest"));
        }
    }
    if raw.exists("/proc/vz") && !raw.exists("/proc/lve") {
        kind = Some("openvz".into());
        if raw.exists("/proc/bc") {
            add(&mut host, "openvz");
            if !found {
                role = Some("host".into());
            }
        } else {
            add(&mut guest, "openvz");
            if !found {
                role = Some("guest".into());
            }
        }
        found = true;
    }
    let systemd_container = raw.file("/run/systemd/container");
    if let Some(c) = systemd_container {
        hit!(guest, c, c, Some("guest"));
    }
    if raw.exists("/.dockerenv") || raw.exists("/.dockerinit") {
        hit!(guest, "docker", "docker", Some("guest"));
    }
    if guest.iter().any(|t| ["docker", "lxc", "podman", "openvz", "containerd"].contains(&t.as_str())) || systemd_container.is_some() {
        add(&mut guest, "container");
    }
    if raw.exists("/proc/xen") {
        if raw.file("/proc/xen/capabilities").unwrap_or("").contains("control_d") {
            add(&mut host, "xen");
            if !found {
                kind = Some("xen".into());
                role = Some("host".into());
            }
        } else if !found {
            kind = Some("xen".into());
            role = Some("guest".into());
        }
        found = true;
    }
    if !found {
        role = Some("guest".into());
    }
    let dmi = |n: &str| raw.file(&format!("{DMI}{n}"));
    let (product, vendor, family, bios) = (dmi("product_name"), dmi("sys_vendor"), dmi("product_family"), dmi("bios_vendor"));
    let none: Option<&str> = None;
    if product.is_some_and(|p| ["KVM", "KVM Server", "Bochs", "AHV", "CloudStack KVM Hypervisor"].contains(&p)) {
        hit!(guest, "kvm", "kvm", none);
    }
    if vendor == Some("oVirt") {
        hit!(guest, "oVirt", "oVirt", none);
    }
    if vendor == Some("Red Hat") {
        if family == Some("RHV") {
            hit!(guest, "RHV", "RHV", none);
        } else if product == Some("RHEV Hypervisor") {
            hit!(guest, "RHEV", "RHEV", none);
        }
    }
    if product.is_some_and(|p| p.starts_with("VMware")) {
        hit!(guest, "VMware", "VMware", none);
    }
    if product.is_some_and(|p| p == "OpenStack Compute" || p == "OpenStack Nova") {
        hit!(guest, "openstack", "openstack", none);
    }
    if bios == Some("Xen") {
        hit!(guest, "xen", "xen", none);
    }
    if bios == Some("innotek GmbH") {
        hit!(guest, "virtualbox", "virtualbox", none);
    }
    if bios.is_some_and(|b| ["Amazon EC2", "DigitalOcean", "Hetzner", "Linode"].contains(&b)) {
        hit!(guest, "kvm", "kvm", none);
    }
    if vendor.is_some_and(|v| ["QEMU", "Amazon EC2", "DigitalOcean", "Google", "Scaleway", "Nutanix"].contains(&v)) {
        hit!(guest, "kvm", "kvm", none);
    }
    for (v, tech) in [
        ("KubeVirt", "KubeVirt"),
        ("Microsoft Corporation", "VirtualPC"),
        ("Parallels Software International Inc.", "parallels"),
        ("OpenStack Foundation", "openstack"),
    ] {
        if vendor == Some(v) {
            hit!(guest, tech, tech, none);
        }
    }
    if !found {
        role = None;
    }
    if let Some(line) = raw.section("vxid").and_then(|t| t.lines().next()) {
        let id = line.trim_start_matches("VxID:").trim();
        if int(id).is_some() {
            if !found {
                kind = Some("linux_vserver".into());
            }
            if id == "0" {
                add(&mut host, "linux_vserver");
                if !found {
                    role = Some("host".into());
                }
            } else {
                add(&mut guest, "linux_vserver");
                if !found {
                    role = Some("guest".into());
                }
            }
            found = true;
        }
    }
    for line in raw.lines("cpuinfo") {
        let tech = if line.starts_with("model name") && line.contains("QEMU Virtual CPU") {
            "kvm"
        } else if line.starts_with("vendor_id") && line.contains("User Mode Linux")
            || line.starts_with("model name") && line.contains("UML")
        {
            "uml"
        } else if line.starts_with("machine") && line.contains("CHRP IBM pSeries (emulated by qemu)") {
            "kvm"
        } else if line.starts_with("vendor_id") && line.contains("PowerVM Lx86") {
            "powervm_lx86"
        } else if line.starts_with("vendor_id") && line.contains("IBM/S390") {
            "ibm_systemz"
        } else {
            continue;
        };
        add(&mut guest, tech);
        if !found {
            kind = Some(tech.into());
            role = Some("guest".into());
            found = true;
        }
    }
    if raw.exists("/proc/modules") {
        let modules: Vec<&str> = raw.lines("modules").iter().filter_map(|l| l.split(' ').next()).collect();
        if modules.contains(&"kvm") {
            add(&mut host, "kvm");
            if !found {
                kind = Some("kvm".into());
                role = Some("host".into());
            }
            found = true;
        }
        if modules.contains(&"vboxdrv") {
            hit!(host, "virtualbox", "virtualbox", Some("host"));
        }
        if modules.contains(&"virtio") {
            hit!(host, "kvm", "kvm", Some("guest"));
        }
    }
    if raw.exists("/dev/kvm") {
        hit!(host, "kvm", "kvm", Some("host"));
    }
    if !found {
        kind = Some("NA".into());
        role = Some("NA".into());
    }
    if let Some(k) = kind {
        set(f, "virtualization_type", k);
    }
    if let Some(r) = role {
        set(f, "virtualization_role", r);
    }
    set(f, "virtualization_tech_guest", strs(guest.iter().map(String::as_str)));
    set(f, "virtualization_tech_host", strs(host.iter().map(String::as_str)));
}

// ---------------------------------------------------------------- hardware

#[rustfmt::skip]
const FORM_FACTOR: &[&str] = &[
    "Unknown", "Other", "Unknown", "Desktop", "Low Profile Desktop", "Pizza Box", "Mini Tower", "Tower", "Portable", "Laptop", "Notebook",
    "Hand Held", "Docking Station", "All In One", "Sub Notebook", "Space-saving", "Lunch Box", "Main Server Chassis", "Expansion Chassis",
    "Sub Chassis", "Bus Expansion Chassis", "Peripheral Chassis", "RAID Chassis", "Rack Mount Chassis", "Sealed-case PC", "Multi-system",
    "CompactPCI", "AdvancedTCA", "Blade", "Blade Enclosure", "Tablet", "Convertible", "Detachable", "IoT Gateway", "Embedded PC", "Mini PC",
    "Stick PC",
];

fn cpu(raw: &Raw, f: &mut Facts, architecture: &str) {
    let lines = raw.lines("cpuinfo");
    if lines.is_empty() {
        return;
    }
    let xen = raw.exists("/proc/xen") || raw.file("/sys/hypervisor/type").and_then(|t| t.lines().next()).map(str::trim) == Some("xen");
    let mut processor: Vec<&str> = Vec::new();
    let (mut i, mut vendor_n, mut model_n, mut proc_n) = (0i64, 0i64, 0i64, 0i64);
    let mut sockets: Vec<(String, i64)> = Vec::new();
    let mut cores: Vec<(String, i64)> = Vec::new();
    let put = |v: &mut Vec<(String, i64)>, k: &str, n: i64, only_new: bool| match v.iter_mut().find(|(key, _)| key == k) {
        Some(e) if !only_new => e.1 = n,
        Some(_) => {}
        None => v.push((k.to_string(), n)),
    };
    let (mut physid, mut coreid) = (String::from("0"), String::from("0"));
    let (mut zp, mut zmt) = (0i64, 0i64);
    let mut xen_paravirt = false;
    for line in &lines {
        let (key, val) = line.split_once(':').map_or((line.trim(), ""), |(k, v)| (k.trim(), v.trim()));
        match key {
            "flags" => {
                if xen && !val.split_whitespace().any(|w| w == "vme") {
                    xen_paravirt = true;
                }
                set(f, "flags", strs(val.split_whitespace()));
            }
            "model name" | "Processor" | "vendor_id" | "cpu" | "Vendor" | "processor" => {
                processor.push(val);
                match key {
                    "vendor_id" => vendor_n += 1,
                    "model name" => model_n += 1,
                    "processor" => proc_n += 1,
                    _ => {}
                }
                i += 1;
            }
            "physical id" => {
                physid = val.to_string();
                put(&mut sockets, val, 1, true);
            }
            "core id" => {
                coreid = val.to_string();
                // Ansible checks `sockets` here, not `cores` (sic).
                if !sockets.iter().any(|(k, _)| k == val) {
                    put(&mut cores, val, 1, false);
                }
            }
            "cpu cores" => put(&mut sockets, &physid.clone(), int(val).unwrap_or(0), false),
            "siblings" => put(&mut cores, &coreid.clone(), int(val).unwrap_or(0), false),
            "# processors" => zp = int(val).unwrap_or(0),
            "max thread id" => zmt = int(val).unwrap_or(0) + 1,
            "ncpus active" => i = int(val).unwrap_or(i),
            _ => {}
        }
    }
    set(f, "processor", strs(processor));
    if vendor_n > 0 && vendor_n == model_n {
        i = vendor_n;
    }
    if architecture.starts_with("armv") || architecture.starts_with("aarch") || architecture.starts_with("ppc") {
        i = proc_n;
    }
    let (count, cores_n, threads, vcpus, nproc) = if architecture == "s390x" {
        let tpc = zmt.max(1);
        (1, ((zp as f64) / (tpc as f64)).round() as i64, zmt, zp, zp)
    } else if xen_paravirt {
        (i, i, 1, i, i)
    } else {
        let count = if sockets.is_empty() { i } else { sockets.len() as i64 };
        let per_socket = sockets.first().map(|s| s.1).filter(|n| *n != 0).unwrap_or(1);
        let threads = match cores.first() {
            Some((_, n)) => ((*n as f64) / (per_socket as f64)).round() as i64,
            None => (1.0 / per_socket as f64).round() as i64,
        };
        (count, per_socket, threads, threads * count * per_socket, proc_n)
    };
    let nproc = raw.section("nproc").and_then(|t| t.lines().next()).and_then(int).unwrap_or(nproc);
    set(f, "processor_count", count);
    set(f, "processor_cores", cores_n);
    set(f, "processor_threads_per_core", threads);
    set(f, "processor_vcpus", vcpus);
    set(f, "processor_nproc", nproc);
}

fn memory(raw: &Raw, f: &mut Facts) {
    let Some(text) = raw.file("/proc/meminfo") else { return };
    let mut stats: HashMap<&str, i64> = HashMap::new();
    for line in text.lines() {
        let Some((key, rest)) = line.split_once(':') else { continue };
        let Some(kb) = rest.split_whitespace().next().and_then(int) else { continue };
        if ["MemTotal", "SwapTotal", "MemFree", "SwapFree"].contains(&key) {
            set(f, &format!("{}_mb", key.to_lowercase()), kb / 1024);
        }
        if ["MemTotal", "SwapTotal", "MemFree", "SwapFree", "Buffers", "Cached", "SwapCached"].contains(&key) {
            stats.insert(key, kb / 1024);
        }
    }
    let g = |k: &str| stats.get(k).copied();
    let sub = |a: Option<i64>, b: Option<i64>| a.zip(b).map(|(a, b)| a - b);
    let nocache_free = match (g("Cached"), g("MemFree"), g("Buffers")) {
        (Some(c), Some(m), Some(b)) => Some(c + m + b),
        _ => None,
    };
    set(
        f,
        "memory_mb",
        json!({
            "real": {"total": g("MemTotal"), "used": sub(g("MemTotal"), g("MemFree")), "free": g("MemFree")},
            "nocache": {"free": nocache_free, "used": sub(g("MemTotal"), nocache_free)},
            "swap": {"total": g("SwapTotal"), "free": g("SwapFree"), "used": sub(g("SwapTotal"), g("SwapFree")), "cached": g("SwapCached")},
        }),
    );
}

fn dmi(raw: &Raw, f: &mut Facts) {
    let present = raw.file(&format!("{DMI}product_name")).is_some();
    for (fact, file) in DMI_FILES {
        let value = if present { raw.file(&format!("{DMI}{file}")) } else { None };
        let value = match (value, *fact) {
            (None, _) => "NA".to_string(),
            (Some(v), "form_factor") => match int(v) {
                Some(n) if (0..FORM_FACTOR.len() as i64).contains(&n) => FORM_FACTOR[n as usize].to_string(),
                _ => format!("unknown ({v})"),
            },
            (Some(v), _) => v.to_string(),
        };
        set(f, fact, value);
    }
}

/// `\040` and friends in /proc/mounts.
fn unescape_octal(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' && i + 3 < b.len() && b[i + 1..i + 4].iter().all(|c| (b'0'..=b'7').contains(c)) {
            out.push((b[i + 1] - b'0') * 64 + (b[i + 2] - b'0') * 8 + (b[i + 3] - b'0'));
            i += 4;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn mounts(raw: &Raw, f: &mut Facts) {
    let Some(text) = raw.section("mounts") else { return };
    let binds: HashSet<&str> = raw
        .lines("findmnt")
        .iter()
        .filter_map(|l| {
            let mut w = l.split_whitespace();
            let target = w.next()?;
            w.next().filter(|s| s.contains(']')).map(|_| target)
        })
        .collect();
    let uuids: HashMap<&str, &str> = raw
        .lines("lsblk")
        .iter()
        .filter_map(|l| l.trim().rsplit_once(char::is_whitespace).map(|(d, u)| (d.trim(), u.trim())))
        .filter(|(_, u)| !u.is_empty())
        .collect();
    let mut sizes: HashMap<&str, Vec<u64>> = HashMap::new();
    for line in raw.lines("statfs") {
        let mut parts = line.splitn(7, ' ');
        let nums: Vec<u64> = parts.by_ref().take(6).filter_map(|n| n.parse().ok()).collect();
        if let (6, Some(path)) = (nums.len(), parts.next()) {
            sizes.insert(path, nums);
        }
    }
    let mut out = Map::new();
    for line in text.lines() {
        let fields: Vec<&str> = line.split_whitespace().collect();
        if fields.len() < 4 {
            continue;
        }
        let (device, mount, fstype) = (unescape_octal(fields[0]), unescape_octal(fields[1]), fields[2]);
        if !(device.starts_with('/') || device.starts_with('\\') || device.contains(":/")) || fstype == "none" {
            continue;
        }
        let mut options = unescape_octal(fields[3]);
        if binds.contains(mount.as_str()) {
            // Ansible's MTAB_BIND_MOUNT_RE never matches, so `,bind` is always added.
            options.push_str(",bind");
        }
        let mut m = json!({
            "mount": mount, "device": device, "fstype": fstype, "options": options,
            "dump": fields.get(4).and_then(|v| int(v)).unwrap_or(0), "passno": fields.get(5).and_then(|v| int(v)).unwrap_or(0),
        });
        if let (Value::Object(obj), Some(n)) = (&mut m, sizes.get(fields[1])) {
            let (bsize, frsize, blocks, bavail, files, ffree) = (n[0], n[1], n[2], n[3], n[4], n[5]);
            obj.insert("size_total".into(), (frsize * blocks).into());
            obj.insert("size_available".into(), (frsize * bavail).into());
            obj.insert("block_size".into(), bsize.into());
            obj.insert("block_total".into(), blocks.into());
            obj.insert("block_available".into(), bavail.into());
            obj.insert("block_used".into(), blocks.saturating_sub(bavail).into());
            obj.insert("inode_total".into(), files.into());
            obj.insert("inode_available".into(), ffree.into());
            obj.insert("inode_used".into(), files.saturating_sub(ffree).into());
        }
        if let Value::Object(obj) = &mut m {
            obj.insert("uuid".into(), uuids.get(device.as_str()).copied().unwrap_or("N/A").into());
        }
        // A mount point mounted twice keeps its first place and the last entry.
        out.insert(mount, m);
    }
    set(f, "mounts", Value::Array(out.into_iter().map(|(_, v)| v).collect()));
}

fn hardware(raw: &Raw, f: &mut Facts) {
    let architecture = f.get("architecture").and_then(Value::as_str).unwrap_or(uname(raw).machine).to_string();
    cpu(raw, f, &architecture);
    memory(raw, f);
    dmi(raw, f);
    if let Some(up) = raw.file("/proc/uptime").and_then(|t| t.split(' ').next()).and_then(|s| s.parse::<f64>().ok()) {
        set(f, "uptime_seconds", up as i64);
    }
    mounts(raw, f);
}

// ---------------------------------------------------------------- network

const INTERFACE_TYPE: &[(&str, &str)] = &[("1", "ether"), ("32", "infiniband"), ("512", "ppp"), ("772", "loopback"), ("65534", "tunnel")];

fn ipv4_entry(address: &str, prefix: &str, broadcast: &str) -> Option<Map<String, Value>> {
    let addr: std::net::Ipv4Addr = address.parse().ok()?;
    let len: u32 = prefix.parse().ok().filter(|n| *n <= 32)?;
    let mask = if len == 0 { 0 } else { u32::MAX << (32 - len) };
    let network = std::net::Ipv4Addr::from(u32::from(addr) & mask);
    let mut m = Map::new();
    m.insert("address".into(), address.into());
    m.insert("broadcast".into(), broadcast.into());
    m.insert("netmask".into(), std::net::Ipv4Addr::from(mask).to_string().into());
    m.insert("network".into(), network.to_string().into());
    m.insert("prefix".into(), prefix.into());
    Some(m)
}

fn push(obj: &mut Map<String, Value>, key: &str, v: Value) {
    match obj.get_mut(key) {
        Some(Value::Array(a)) => a.push(v),
        _ => {
            obj.insert(key.into(), Value::Array(vec![v]));
        }
    }
}

/// `ip -4 route get 8.8.8.8` (and its IPv6 twin) → interface, address, gateway.
fn default_route(line: Option<&str>, target: &str) -> Map<String, Value> {
    let mut d = Map::new();
    let words: Vec<&str> = line.and_then(|t| t.lines().next()).unwrap_or("").split_whitespace().collect();
    if words.first() == Some(&target) {
        for w in words.windows(2) {
            match w[0] {
                "dev" => d.insert("interface".into(), w[1].into()),
                "src" => d.insert("address".into(), w[1].into()),
                "via" if w[1] != target => d.insert("gateway".into(), w[1].into()),
                _ => None,
            };
        }
    }
    d
}

fn network(raw: &Raw, f: &mut Facts) {
    let mut devices: Vec<&str> = Vec::new();
    let mut marks: HashSet<(&str, &str)> = HashSet::new();
    let mut links: HashMap<(&str, &str), &str> = HashMap::new();
    let mut brif: HashMap<&str, Vec<&str>> = HashMap::new();
    for line in raw.lines("net") {
        let mut w = line.splitn(3, ' ');
        let (Some(kind), Some(dev)) = (w.next(), w.next()) else { continue };
        match (kind, w.next()) {
            ("dev", _) => devices.push(dev),
            ("brif", Some(member)) => brif.entry(dev).or_default().push(member),
            (k @ ("pciid" | "module"), Some(target)) => {
                links.insert((k, dev), target.rsplit('/').next().unwrap_or(""));
            }
            (k, _) => {
                marks.insert((k, dev));
            }
        }
    }
    let mut sys: HashMap<(&str, &str), String> = HashMap::new();
    for line in raw.lines("netfiles") {
        let Some((path, value)) = line.split_once(':') else { continue };
        let Some(rest) = path.strip_prefix("/sys/class/net/") else { continue };
        let Some((dev, file)) = rest.split_once('/') else { continue };
        sys.entry((dev, file))
            .and_modify(|v| {
                v.push('\n');
                v.push_str(value);
            })
            .or_insert_with(|| value.to_string());
    }
    let mut default_ipv4 = default_route(raw.section("ip_route4"), "8.8.8.8");
    let mut default_ipv6 = default_route(raw.section("ip_route6"), "2404:6800:400a:800::1012");
    let mut ifaces: Map<String, Value> = Map::new();
    let (mut all4, mut all6): (Vec<String>, Vec<String>) = (vec![], vec![]);
    // `ip -o addr`: "2: eth0    inet 10.0.0.2/24 brd 10.0.0.255 scope global eth0\  valid_lft ..."
    let mut addr_lines: HashMap<&str, Vec<Vec<&str>>> = HashMap::new();
    for line in raw.lines("ip_addr") {
        let head = line.split('\\').next().unwrap_or("");
        let words: Vec<&str> = head.split_whitespace().collect();
        if words.len() < 4 {
            continue;
        }
        let dev = words[1].split('@').next().unwrap_or("");
        addr_lines.entry(dev).or_default().push(words[2..].to_vec());
    }
    for dev in &devices {
        let get = |file: &str| sys.get(&(*dev, file)).map(|s| s.trim().to_string());
        let mut i = Map::new();
        i.insert("device".into(), (*dev).into());
        let mac = get("address").unwrap_or_default();
        if !mac.is_empty() && mac != "00:00:00:00:00:00" {
            i.insert("macaddress".into(), mac.clone().into());
        }
        let mtu = get("mtu").and_then(|m| int(&m));
        if let Some(m) = mtu {
            i.insert("mtu".into(), m.into());
        }
        if let Some(state) = get("operstate") {
            i.insert("active".into(), (state != "down").into());
        }
        if let Some(m) = links.get(&("module", *dev)) {
            i.insert("module".into(), (*m).into());
        }
        if let Some(t) = get("type") {
            let name = INTERFACE_TYPE.iter().find(|(n, _)| *n == t).map_or("unknown", |(_, name)| name);
            i.insert("type".into(), name.into());
        }
        if marks.contains(&("bridge", *dev)) {
            i.insert("type".into(), "bridge".into());
            i.insert("interfaces".into(), strs(brif.get(dev).cloned().unwrap_or_default()));
            if let Some(id) = get("bridge/bridge_id") {
                i.insert("id".into(), id.into());
            }
            if let Some(stp) = get("bridge/stp_state") {
                i.insert("stp".into(), (stp == "1").into());
            }
        }
        if marks.contains(&("bonding", *dev)) {
            let first = |file: &str| get(file).and_then(|v| v.split_whitespace().next().map(str::to_string)).unwrap_or_default();
            i.insert("type".into(), "bonding".into());
            i.insert("slaves".into(), strs(get("bonding/slaves").unwrap_or_default().split_whitespace()));
            i.insert("mode".into(), first("bonding/mode").into());
            i.insert("miimon".into(), first("bonding/miimon").into());
            i.insert("lacp_rate".into(), first("bonding/lacp_rate").into());
            if let Some(p) = get("bonding/primary").filter(|p| !p.is_empty()) {
                i.insert("primary".into(), p.into());
                if let Some(a) = get("bonding/all_slaves_active") {
                    i.insert("all_slaves_active".into(), (a == "1").into());
                }
            }
        }
        if marks.contains(&("bonding_slave", *dev)) {
            i.insert("perm_macaddress".into(), get("bonding_slave/perm_hwaddr").unwrap_or_default().into());
        }
        if let Some(p) = links.get(&("pciid", *dev)) {
            i.insert("pciid".into(), (*p).into());
        }
        if let Some(speed) = get("speed").and_then(|s| int(&s)) {
            i.insert("speed".into(), speed.into());
        }
        if let Some(flags) = get("flags").and_then(|v| i64::from_str_radix(v.trim_start_matches("0x"), 16).ok()) {
            i.insert("promisc".into(), (flags & 0x100 != 0).into());
        }
        let kind = i.get("type").and_then(Value::as_str).unwrap_or("unknown").to_string();
        ifaces.insert((*dev).into(), Value::Object(i));

        let lines = addr_lines.get(dev).cloned().unwrap_or_default();
        // Ansible reads `ip addr show primary`, then `secondary`.
        fn is_secondary(w: &[&str]) -> bool {
            w[0] == "inet" && w.contains(&"secondary")
        }
        let ordered = lines
            .iter()
            .filter(|w| !is_secondary(w))
            .map(|w| (w, false))
            .chain(lines.iter().filter(|w| is_secondary(w)).map(|w| (w, true)));
        for (words, secondary) in ordered {
            if words[0] == "inet" {
                let (address, prefix) = words[1].split_once('/').unwrap_or((words[1], "32"));
                let broadcast = if words.len() > 3 && words[2] == "brd" { words[3] } else { "" };
                let Some(entry) = ipv4_entry(address, prefix, broadcast) else { continue };
                let label = *words.last().unwrap_or(dev);
                if label != *dev {
                    ifaces.insert(label.into(), Value::Object(Map::new()));
                }
                if let Some(Value::Object(target)) = ifaces.get_mut(label) {
                    if !secondary && !target.contains_key("ipv4") {
                        target.insert("ipv4".into(), Value::Object(entry.clone()));
                    } else {
                        push(target, "ipv4_secondaries", Value::Object(entry.clone()));
                    }
                }
                if secondary && label != *dev {
                    if let Some(Value::Object(own)) = ifaces.get_mut(*dev) {
                        push(own, "ipv4_secondaries", Value::Object(entry.clone()));
                    }
                }
                if default_ipv4.get("address").and_then(Value::as_str) == Some(address) {
                    for k in ["broadcast", "netmask", "network", "prefix"] {
                        default_ipv4.insert(k.into(), entry[k].clone());
                    }
                    default_ipv4.insert("macaddress".into(), mac.clone().into());
                    default_ipv4.insert("mtu".into(), mtu.map_or(Value::Null, Value::from));
                    default_ipv4.insert("type".into(), kind.clone().into());
                    default_ipv4.insert("alias".into(), label.into());
                }
                if !address.starts_with("127.") {
                    all4.push(address.to_string());
                }
            } else if words[0] == "inet6" {
                let (address, prefix, scope) = if words.get(2) == Some(&"peer") {
                    (words[1], words.get(3).and_then(|p| p.split_once('/')).map_or("", |(_, p)| p), words.get(5).copied().unwrap_or(""))
                } else {
                    let (a, p) = words[1].split_once('/').unwrap_or((words[1], "128"));
                    (a, p, words.get(3).copied().unwrap_or(""))
                };
                if let Some(Value::Object(own)) = ifaces.get_mut(*dev) {
                    push(own, "ipv6", json!({"address": address, "prefix": prefix, "scope": scope}));
                }
                if default_ipv6.get("address").and_then(Value::as_str) == Some(address) {
                    default_ipv6.insert("prefix".into(), prefix.into());
                    default_ipv6.insert("scope".into(), scope.into());
                    default_ipv6.insert("macaddress".into(), mac.clone().into());
                    default_ipv6.insert("mtu".into(), mtu.map_or(Value::Null, Value::from));
                    default_ipv6.insert("type".into(), kind.clone().into());
                }
                if address != "::1" {
                    all6.push(address.to_string());
                }
            }
        }
    }
    if raw.section("ip_addr").is_none() {
        proc_net_fallback(raw, &mut ifaces, &mut default_ipv4, &mut all6);
    }
    let renamed: Vec<(String, Value)> = ifaces.into_iter().map(|(k, v)| (k.replace(':', "_"), v)).collect();
    set(f, "interfaces", strs(renamed.iter().map(|(k, _)| k.as_str())));
    for (k, v) in renamed {
        f.insert(k, v);
    }
    set(f, "default_ipv4", default_ipv4);
    set(f, "default_ipv6", default_ipv6);
    set(f, "all_ipv4_addresses", strs(all4.iter().map(String::as_str)));
    set(f, "all_ipv6_addresses", strs(all6.iter().map(String::as_str)));
    if let Some(local) = raw.section("ip_local") {
        let (mut v4, mut v6): (Vec<&str>, Vec<&str>) = (vec![], vec![]);
        for words in local.lines().map(|l| l.split_whitespace().collect::<Vec<_>>()) {
            if words.first() != Some(&"local") || words.len() < 2 {
                continue;
            }
            let list = if words[1].contains(':') { &mut v6 } else { &mut v4 };
            if !list.contains(&words[1]) {
                list.push(words[1]);
            }
        }
        set(f, "locally_reachable_ips", json!({"ipv4": v4, "ipv6": v6}));
    }
}

/// Without `ip` (Ansible then gathers no network facts at all): the default route
/// from /proc/net/route and IPv6 addresses from /proc/net/if_inet6.
fn proc_net_fallback(raw: &Raw, ifaces: &mut Map<String, Value>, default_ipv4: &mut Map<String, Value>, all6: &mut Vec<String>) {
    for line in raw.file("/proc/net/route").unwrap_or("").lines().skip(1) {
        let w: Vec<&str> = line.split_whitespace().collect();
        if w.len() > 3 && w[1] == "00000000" && u32::from_str_radix(w[3], 16).is_ok_and(|fl| fl & 0x2 != 0) {
            if let Ok(gw) = u32::from_str_radix(w[2], 16) {
                default_ipv4.insert("interface".into(), w[0].into());
                default_ipv4.insert("gateway".into(), std::net::Ipv4Addr::from(gw.swap_bytes()).to_string().into());
            }
            break;
        }
    }
    for line in raw.file("/proc/net/if_inet6").unwrap_or("").lines() {
        let w: Vec<&str> = line.split_whitespace().collect();
        if w.len() < 6 || w[0].len() != 32 {
            continue;
        }
        let Ok(bits) = u128::from_str_radix(w[0], 16) else { continue };
        let address = std::net::Ipv6Addr::from(bits).to_string();
        let prefix = u32::from_str_radix(w[2], 16).unwrap_or(0).to_string();
        let scope = match w[3] {
            "00" => "global",
            "10" => "host",
            "20" => "link",
            "40" => "site",
            other => other,
        };
        if let Some(Value::Object(own)) = ifaces.get_mut(w[5]) {
            push(own, "ipv6", json!({"address": address, "prefix": prefix, "scope": scope}));
        }
        if address != "::1" {
            all6.push(address);
        }
    }
}

// ---------------------------------------------------------------- local facts

/// configparser's view of an INI text: sections of `key = value` (keys lower-cased).
fn parse_ini(text: &str) -> Option<Map<String, Value>> {
    let mut out = Map::new();
    let mut defaults = Map::new();
    let mut current: Option<String> = None;
    let mut last_key: Option<String> = None;
    for line in text.lines() {
        let trimmed = line.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') || trimmed.starts_with(';') {
            continue;
        }
        if line.starts_with([' ', '\t']) && last_key.is_some() {
            // A continuation line.
            let section = current.as_deref().unwrap_or("DEFAULT");
            let target = if section == "DEFAULT" { &mut defaults } else { out.get_mut(section)?.as_object_mut()? };
            if let Some(Value::String(v)) = target.get_mut(last_key.as_deref()?) {
                v.push('\n');
                v.push_str(trimmed);
            }
            continue;
        }
        if let Some(name) = trimmed.strip_prefix('[').and_then(|r| r.strip_suffix(']')) {
            if name != "DEFAULT" {
                out.entry(name.to_string()).or_insert_with(|| Value::Object(Map::new()));
            }
            current = Some(name.to_string());
            last_key = None;
            continue;
        }
        let section = current.as_deref()?;
        let cut = trimmed.find(['=', ':'])?;
        let (key, value) = (trimmed[..cut].trim().to_lowercase(), trimmed[cut + 1..].trim().to_string());
        let target = if section == "DEFAULT" { &mut defaults } else { out.get_mut(section)?.as_object_mut()? };
        target.insert(key.clone(), value.into());
        last_key = Some(key);
    }
    for v in out.values_mut() {
        if let Value::Object(section) = v {
            for (k, d) in &defaults {
                section.entry(k.clone()).or_insert_with(|| d.clone());
            }
        }
    }
    Some(out)
}

fn local(raw: &Raw, f: &mut Facts) {
    let mut facts: BTreeMap<String, Value> = BTreeMap::new();
    let mut i = 0;
    while i < raw.sections.len() {
        let (name, body) = raw.sections[i];
        i += 1;
        let (path, out, failed) = if let Some(path) = name.strip_prefix("fact_exec ") {
            let rc = raw.sections.get(i).and_then(|(n, _)| n.strip_prefix("fact_rc ")).and_then(int).unwrap_or(-1);
            i += 1;
            let failed = (rc != 0).then(|| format!("Failure executing fact script ({path}), rc: {rc}, err: "));
            (path, body, failed)
        } else if let Some(path) = name.strip_prefix("fact ") {
            (path, body, None)
        } else {
            continue;
        };
        let base = path.rsplit('/').next().unwrap_or(path).replace(".fact", "");
        let value = match failed {
            Some(msg) => Value::String(msg),
            None => match serde_json::from_str::<Value>(out) {
                Ok(v) => v,
                Err(_) => parse_ini(out).map_or_else(
                    || Value::String(format!("error loading facts as JSON or ini - please check content: {path}")),
                    Value::Object,
                ),
            },
        };
        facts.insert(base, value);
    }
    set(f, "local", facts.into_iter().collect::<Map<_, _>>());
}

// ---------------------------------------------------------------- all together

/// Turn the script's output into facts for the selected collectors.
pub fn facts(raw: &Raw, selected: &BTreeSet<&str>) -> Facts {
    let mut f = Facts::new();
    for c in COLLECTORS.iter().filter(|c| selected.contains(*c)) {
        match *c {
            "platform" => platform(raw, &mut f),
            "distribution" => distribution(raw, &mut f),
            "lsb" => set(&mut f, "lsb", lsb_facts(raw)),
            "selinux" => selinux(raw, &mut f),
            "apparmor" => {
                set(&mut f, "apparmor", json!({"status": if raw.exists("/sys/kernel/security/apparmor") { "enabled" } else { "disabled" }}))
            }
            "chroot" => chroot(raw, &mut f),
            "fips" => set(&mut f, "fips", raw.file("/proc/sys/crypto/fips_enabled") == Some("1")),
            "python" => python(raw, &mut f),
            "caps" => caps(raw, &mut f),
            "pkg_mgr" => {
                let mut d = Facts::new();
                distribution(raw, &mut d);
                let family = d.get("os_family").and_then(Value::as_str).unwrap_or("").to_string();
                set(&mut f, "pkg_mgr", pkg_mgr(raw, &family));
            }
            "service_mgr" => {
                let mut d = Facts::new();
                distribution(raw, &mut d);
                set(&mut d, "system", uname(raw).system);
                set(&mut f, "service_mgr", service_mgr(raw, &d));
            }
            "cmdline" => cmdline(raw, &mut f),
            "date_time" => date_time(raw, &mut f),
            "env" => env(raw, &mut f),
            "loadavg" => loadavg(raw, &mut f),
            "ssh_pub_keys" => ssh_pub_keys(raw, &mut f),
            "user" => user(raw, &mut f),
            "systemd" => systemd(raw, &mut f),
            "virtual" => virtual_facts(raw, &mut f),
            "hardware" => hardware(raw, &mut f),
            "dns" => dns(raw, &mut f),
            "fibre_channel_wwn" => {
                let wwns: Vec<String> = raw.lines("fc_wwn").iter().map(|l| l.trim_end().get(2..).unwrap_or("").to_string()).collect();
                set(&mut f, "fibre_channel_wwn", wwns);
            }
            "network" => network(raw, &mut f),
            "iscsi" => {
                let iqn = raw.file("/etc/iscsi/initiatorname.iscsi").and_then(|t| find_after(t, "InitiatorName=")).unwrap_or("");
                set(&mut f, "iscsi_iqn", iqn);
            }
            "nvme" => set(&mut f, "hostnqn", raw.file("/etc/nvme/hostnqn").unwrap_or("")),
            "local" => local(raw, &mut f),
            _ => {}
        }
    }
    f
}

fn dns(raw: &Raw, f: &mut Facts) {
    let mut d = Map::new();
    for line in raw.file("/etc/resolv.conf").unwrap_or("").lines() {
        if line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        let tokens: Vec<&str> = line.split_whitespace().collect();
        let Some(first) = tokens.first() else { continue };
        let rest = &tokens[1..];
        match *first {
            "nameserver" => {
                for ns in rest {
                    push(&mut d, "nameservers", (*ns).into());
                }
                if rest.is_empty() && !d.contains_key("nameservers") {
                    d.insert("nameservers".into(), json!([]));
                }
            }
            "domain" => {
                if let Some(v) = rest.first() {
                    d.insert("domain".into(), (*v).into());
                }
            }
            "search" | "sortlist" => {
                d.insert(first.to_string(), strs(rest.iter().copied()));
            }
            "options" => {
                let opts: Map<String, Value> = rest
                    .iter()
                    .map(|o| match o.split_once(':') {
                        Some((k, v)) if !v.is_empty() => (k.to_string(), Value::String(v.to_string())),
                        Some((k, _)) => (k.to_string(), Value::Bool(true)),
                        None => (o.to_string(), Value::Bool(true)),
                    })
                    .collect();
                d.insert("options".into(), Value::Object(opts));
            }
            _ => {}
        }
    }
    set(f, "dns", d);
}

fn list_arg(args: &Args, key: &str) -> Vec<String> {
    match args.get(key) {
        Some(Value::Array(a)) => a.iter().map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_string)).collect(),
        Some(Value::String(s)) => s.split(',').map(|p| p.trim().to_string()).filter(|p| !p.is_empty()).collect(),
        _ => vec![],
    }
}

#[async_trait]
impl Module for Setup {
    fn doc(&self) -> &'static ModuleDoc {
        &DOC
    }

    async fn run(&self, args: &Args, ctx: &Context<'_>) -> Result<ModuleResult, RemoteError> {
        let mut gather_subset = list_arg(args, "gather_subset");
        if gather_subset.is_empty() {
            gather_subset = vec!["all".into()];
        }
        let selected = match collectors(&gather_subset) {
            Ok(s) => s,
            Err(e) => return Ok(ModuleResult::failed(e)),
        };
        let timeout = match args.get("gather_timeout") {
            Some(Value::Number(n)) => n.as_u64().unwrap_or(10),
            Some(Value::String(s)) => s.trim().parse().unwrap_or(10),
            _ => 10,
        };
        let fact_path = args.get("fact_path").and_then(Value::as_str).unwrap_or("/etc/ansible/facts.d");
        // `sh -c` whatever the login shell is (the script is POSIX sh, not zsh or fish).
        let command = format!("/bin/sh -c {}", quote(&script(&selected, timeout, fact_path)));
        let out = ctx.remote.exec(&command, b"").await?;
        let text = String::from_utf8_lossy(&out.stdout);
        let raw = Raw::parse(&text);
        if !raw.complete() {
            let mut r = ModuleResult::failed(format!(
                "the fact gathering script did not finish: rc={} stderr={}",
                out.rc,
                String::from_utf8_lossy(&out.stderr).trim()
            ));
            r.set("rc", out.rc);
            return Ok(r);
        }
        let mut facts = facts(&raw, &selected);
        set(&mut facts, "gather_subset", strs(gather_subset.iter().map(String::as_str)));
        set(&mut facts, "module_setup", true);
        let facts = filter_facts(facts, &list_arg(args, "filter"));
        let mut r = ModuleResult::ok(false);
        r.set("ansible_facts", facts);
        Ok(r)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ExecOutput;
    use std::sync::Mutex;

    /// Answers every command with a captured script output, and records the commands.
    struct Fake {
        sent: Mutex<Vec<String>>,
        stdout: Vec<u8>,
    }

    #[async_trait]
    impl crate::Remote for Fake {
        async fn exec(&self, command: &str, _stdin: &[u8]) -> Result<ExecOutput, RemoteError> {
            self.sent.lock().unwrap().push(command.to_string());
            Ok(ExecOutput { rc: 0, stdout: self.stdout.clone(), stderr: vec![] })
        }
        async fn exec_raw(&self, command: &str) -> Result<ExecOutput, RemoteError> {
            self.exec(command, b"").await
        }
    }

    fn fixture(name: &str) -> Vec<u8> {
        let path = format!("{}/tests/fixtures/setup/{name}", env!("CARGO_MANIFEST_DIR"));
        std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
    }

    fn block_on<F: std::future::Future>(f: F) -> F::Output {
        futures::executor::block_on(f)
    }

    /// Run the module on a captured output: (result, commands sent).
    fn run(raw: &str, args: Value) -> (ModuleResult, Vec<String>) {
        let fake = Fake { sent: Mutex::new(vec![]), stdout: fixture(raw) };
        let ctx = Context { remote: &fake, check_mode: false, diff: false };
        let r = block_on(Setup.run(args.as_object().unwrap(), &ctx)).unwrap();
        let sent = fake.sent.lock().unwrap().clone();
        (r, sent)
    }

    fn facts_of(r: &ModuleResult) -> &Map<String, Value> {
        r.0["ansible_facts"].as_object().expect("ansible_facts is a dict")
    }

    fn sorted(v: &Value) -> Value {
        match v {
            Value::Array(a) => {
                let mut a = a.clone();
                a.sort_by_key(|x| x.to_string());
                Value::Array(a)
            }
            other => other.clone(),
        }
    }

    /// Every fact in `NAME.ansible.json` (what Ansible said on the same machine) must
    /// come out the same, name and type.
    fn assert_matches_ansible(name: &str) -> Map<String, Value> {
        let (r, _) = run(&format!("{name}.raw"), json!({}));
        assert!(!r.is_failed(), "{:?}", r.0.get("msg"));
        let ours = facts_of(&r).clone();
        let oracle: Value = serde_json::from_slice(&fixture(&format!("{name}.ansible.json"))).unwrap();
        let mut compared = 0;
        for (key, want) in oracle["ansible_facts"].as_object().unwrap() {
            let short = key.strip_prefix("ansible_").unwrap_or(key);
            let got = ours.get(short).unwrap_or_else(|| panic!("{name}: `{short}` is missing; Ansible has {want}"));
            match short {
                // Sets in Ansible (tech lists), or listing order of /sys/class/net.
                "virtualization_tech_guest" | "virtualization_tech_host" | "interfaces" | "all_ipv4_addresses" | "all_ipv6_addresses" => {
                    assert_eq!(sorted(got), sorted(want), "{name}: {short}")
                }
                "mounts" => {
                    let mut got: Vec<Value> = got
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|m| {
                            Value::Object(
                                m.as_object()
                                    .unwrap()
                                    .iter()
                                    .filter(|(k, _)| want[0].get(k.as_str()).is_some())
                                    .map(|(k, v)| (k.clone(), v.clone()))
                                    .collect(),
                            )
                        })
                        .collect();
                    let mut want = want.as_array().unwrap().clone();
                    got.sort_by_key(|m| m["mount"].to_string());
                    want.sort_by_key(|m| m["mount"].to_string());
                    assert_eq!(got, want, "{name}: mounts");
                }
                "date_time" => {
                    for k in ["tz", "tz_dst", "tz_offset"] {
                        assert_eq!(got[k], want[k], "{name}: date_time.{k}");
                    }
                }
                _ => assert_eq!(got, want, "{name}: {short}"),
            }
            compared += 1;
        }
        assert!(compared > 60, "{name}: only {compared} facts compared");
        ours
    }

    #[test]
    fn sends_one_posix_sh_script_and_changes_nothing() {
        let (r, sent) = run("debian12-fleet.raw", json!({}));
        assert_eq!(sent.len(), 1, "one round trip");
        assert!(sent[0].starts_with("/bin/sh -c '"), "{}", &sent[0][..40]);
        assert!(!r.changed());
        assert!(!r.is_failed());
        let f = facts_of(&r);
        assert_eq!(f["module_setup"], true);
        assert_eq!(f["gather_subset"], json!(["all"]));
        for bashism in ["[[ ", "<<<", "function ", "$'", "${!", "local ", "source "] {
            assert!(!sent[0].contains(bashism), "the script uses `{bashism}`");
        }
    }

    #[test]
    fn debian12_fleet_matches_ansible() {
        let f = assert_matches_ansible("debian12-fleet");
        assert_eq!(f["distribution"], "Debian");
        assert_eq!(f["distribution_major_version"], "12");
        assert_eq!(f["distribution_release"], "bookworm");
        assert_eq!(f["os_family"], "Debian");
        assert_eq!(f["pkg_mgr"], "apt");
        assert_eq!(f["service_mgr"], "systemd");
        assert_eq!(f["hostname"], "h9");
        assert_eq!(f["virtualization_type"], "docker");
        assert_eq!(f["virtualization_role"], "guest");
        assert_eq!(f["default_ipv4"]["interface"], "eth0");
        assert_eq!(f["default_ipv4"]["gateway"], "172.17.0.1");
        assert_eq!(f["default_ipv4"]["prefix"], "16", "prefix is a string, as in Ansible");
        assert_eq!(f["eth0"]["mtu"], 1500);
        assert_eq!(f["python"]["version"]["major"], 3);
        assert!(f["systemd"]["version"].is_i64());
        assert!(f["memtotal_mb"].as_i64().unwrap() > 0);
        assert!(f["uptime_seconds"].is_i64());
        assert!(f["env"]["PATH"].is_string());
        // Timed facts are strings, as in Ansible.
        assert!(f["date_time"]["epoch"].as_str().unwrap().parse::<i64>().is_ok());
        assert_eq!(f["date_time"]["iso8601"].as_str().unwrap().len(), "2026-11-28T22:31:36Z".len());
    }

    #[test]
    fn debian12_control_machine_matches_ansible() {
        let f = assert_matches_ansible("debian12-control");
        // No systemd here: pid 1 is the sandbox's own init.
        assert_eq!(f["service_mgr"], "process_api");
        assert_eq!(f["fqdn"], "localhost", "socket.getfqdn() through the hosts file");
        assert_eq!(f["docker0"]["type"], "bridge");
        assert_eq!(f["default_ipv6"]["interface"], "eth0");
    }

    #[test]
    fn ubuntu_like_host_matches_ansible() {
        // Hand-made os-release on a real capture; Ansible ran on the same files.
        let f = assert_matches_ansible("ubuntu2204-handmade");
        assert_eq!(f["distribution"], "Ubuntu");
        assert_eq!(f["distribution_version"], "22.04");
        assert_eq!(f["distribution_major_version"], "22");
        assert_eq!(f["distribution_release"], "jammy");
        assert_eq!(f["os_family"], "Debian");
        assert!(!f.contains_key("distribution_minor_version"), "only Debian itself has a minor version");
        assert_eq!(f["lsb"]["major_release"], "22");
        assert_eq!(f["user_id"], "alice");
        assert_eq!(f["user_uid"], 1000);
        assert_eq!(f["date_time"]["tz_dst"], "CEST");
        assert_eq!(f["eth0_1"]["ipv4"]["address"], "10.9.9.9");
        assert_eq!(f["eth0"]["ipv4_secondaries"][0]["address"], "10.9.9.10");
        assert_eq!(f["local"]["ini"]["general"]["level"], "3");
        assert_eq!(f["local"]["fails"], "Failure executing fact script (/etc/ansible/facts.d/fails.fact), rc: 3, err: ");
    }

    #[test]
    fn busybox_host_degrades_gracefully() {
        // No getent, getconf, python3, lsb_release, findmnt, lsblk or capsh; no `date +%N`.
        let (r, _) = run("busybox-control.raw", json!({}));
        let f = facts_of(&r);
        assert_eq!(f["distribution"], "Debian");
        assert_eq!(f["distribution_version"], "12.11");
        assert_eq!(f["pkg_mgr"], "apt");
        assert_eq!(f["fqdn"], "vm", "`hostname -f` without getent");
        assert_eq!(f["userspace_bits"], "64", "guessed from x86_64 without getconf");
        assert_eq!(f["user_dir"], "/root", "/etc/passwd without getent");
        assert!(f["date_time"]["iso8601_micro"].as_str().unwrap().ends_with(".000000Z"));
        assert_eq!(f["default_ipv4"]["address"], "192.0.2.2", "busybox `ip`");
        assert_eq!(f["lsb"], json!({}));
        assert_eq!(f["system_capabilities"], "N/A");
        assert!(!f.contains_key("python") && !f.contains_key("python_version"));
        assert_eq!(f["mounts"][0]["uuid"], "N/A");
        assert!(f["mounts"][0]["size_total"].as_u64().unwrap() > 0, "busybox `stat -f`");
        assert_eq!(f["env"]["PATH"], "/tmp/bb");
    }

    #[test]
    fn filter_keeps_matching_facts_like_ansible() {
        // `ansible localhost -m setup -a 'filter=ansible_distribution*,kernel'` returned
        // exactly these on the control machine (module_setup and gather_subset too are
        // filtered away).
        let (r, _) = run("debian12-control.raw", json!({"filter": ["ansible_distribution*", "kernel"]}));
        let keys: BTreeSet<&str> = facts_of(&r).keys().map(String::as_str).collect();
        #[rustfmt::skip]
        let want: BTreeSet<&str> = [
            "distribution", "distribution_file_parsed", "distribution_file_path", "distribution_file_variety", "distribution_major_version",
            "distribution_minor_version", "distribution_release", "distribution_version", "kernel",
        ]
        .into();
        assert_eq!(keys, want);
        let (r, _) = run("debian12-control.raw", json!({"filter": "*ipv4*"}));
        let keys: BTreeSet<&str> = facts_of(&r).keys().map(String::as_str).collect();
        assert_eq!(keys, ["all_ipv4_addresses", "default_ipv4"].into());
    }

    #[test]
    fn gather_subset_min_skips_expensive_probes_and_matches_ansible_keys() {
        let (r, sent) = run("debian12-fleet.raw", json!({"gather_subset": ["min"]}));
        for probe in ["ip -o addr", "/proc/meminfo", "/proc/cpuinfo", "stat -f -c", "/proc/1/cgroup", "/sys/class/net"] {
            assert!(!sent[0].contains(probe), "`min` should not run `{probe}`");
        }
        let keys: BTreeSet<&str> = facts_of(&r).keys().map(String::as_str).collect();
        // Ansible's `min` keys on this host, less `selinux_python_present`.
        #[rustfmt::skip]
        let want: BTreeSet<&str> = [
            "apparmor", "architecture", "cmdline", "date_time", "distribution", "distribution_file_parsed", "distribution_file_path",
            "distribution_file_variety", "distribution_major_version", "distribution_minor_version", "distribution_release",
            "distribution_version", "dns", "domain", "effective_group_id", "effective_user_id", "env", "fips", "fqdn", "hostname", "kernel",
            "kernel_version", "local", "lsb", "machine", "machine_id", "nodename", "os_family", "pkg_mgr", "proc_cmdline", "python",
            "python_version", "real_group_id", "real_user_id", "selinux", "service_mgr", "system", "system_capabilities",
            "system_capabilities_enforced", "user_dir", "user_gecos", "user_gid", "user_id", "user_shell", "user_uid",
            "userspace_architecture", "userspace_bits", "ssh_host_key_rsa_public", "ssh_host_key_rsa_public_keytype",
            "ssh_host_key_ecdsa_public", "ssh_host_key_ecdsa_public_keytype", "ssh_host_key_ed25519_public",
            "ssh_host_key_ed25519_public_keytype", "gather_subset", "module_setup",
        ]
        .into();
        assert_eq!(keys, want);
        assert_eq!(facts_of(&r)["gather_subset"], json!(["min"]));
    }

    #[test]
    fn gather_subset_resolves_like_ansible() {
        let set = |s: &[&str]| collectors(&s.iter().map(|x| x.to_string()).collect::<Vec<_>>()).unwrap();
        let min: BTreeSet<&str> = MIN.iter().copied().collect();
        assert_eq!(set(&["min"]), min);
        assert_eq!(set(&["!all"]), min);
        // A list of exclusions only still starts from `min` (ansible-core 2.19).
        assert_eq!(set(&["!hardware"]), min);
        assert_eq!(set(&["!all", "!min"]), BTreeSet::new());
        assert_eq!(set(&["virtual", "!min"]), ["virtual"].into());
        assert_eq!(set(&["!all", "!min", "pkg_mgr"]), ["pkg_mgr", "distribution"].into(), "requirements are added");
        assert_eq!(set(&["!all", "!min", "processor"]), ["hardware", "platform"].into(), "a fact name selects its collector");
        let network = set(&["!all", "network"]);
        assert!(network.contains("network") && !network.contains("hardware") && network.is_superset(&min));
        let all = set(&["all"]);
        assert!(all.contains("hardware") && all.contains("virtual") && all.contains("network"));
        assert_eq!(set(&[]), all);
        let err = collectors(&["hardwar".into()]).unwrap_err();
        assert!(err.starts_with("bad subset `hardwar` in `gather_subset`; allowed: all, min, "), "{err}");
    }

    #[test]
    fn nothing_but_the_markers_when_everything_is_excluded() {
        let (r, sent) = run("debian12-fleet.raw", json!({"gather_subset": ["!all", "!min"]}));
        assert_eq!(Value::Object(facts_of(&r).clone()), json!({"gather_subset": ["!all", "!min"], "module_setup": true}));
        assert!(!sent[0].contains("uname"));
    }

    #[test]
    fn bad_subset_fails_before_touching_the_host() {
        let (r, sent) = run("debian12-fleet.raw", json!({"gather_subset": ["bogus"]}));
        assert!(r.is_failed());
        assert!(sent.is_empty());
    }

    #[test]
    fn truncated_output_fails() {
        let fake = Fake { sent: Mutex::new(vec![]), stdout: b"garbage".to_vec() };
        let ctx = Context { remote: &fake, check_mode: false, diff: false };
        let r = block_on(Setup.run(&Map::new(), &ctx)).unwrap();
        assert!(r.is_failed());
        assert!(r.0["msg"].as_str().unwrap().starts_with("the fact gathering script did not finish"));
    }

    #[test]
    fn fact_path_and_timeout_reach_the_script_quoted() {
        let (_, sent) = run("debian12-fleet.raw", json!({"fact_path": "/etc/my facts", "gather_timeout": 3, "gather_subset": ["!all"]}));
        // The script is itself quoted once more for `/bin/sh -c`.
        assert!(sent[0].contains("for p in '\\''/etc/my facts'\\''/*.fact"), "{}", sent[0]);
        assert!(sent[0].contains("T='\\''timeout 3'\\''"));
    }

    #[test]
    fn fnmatch_is_pythons() {
        assert!(fnmatch("ansible_distribution_version", "ansible_distribution*"));
        assert!(fnmatch("ansible_eth0", "ansible_eth?"));
        assert!(fnmatch("ansible_eth0", "ansible_eth[0-9]"));
        assert!(!fnmatch("ansible_eth0", "ansible_eth[!0-9]"));
        assert!(fnmatch("a[b", "a[b"), "an unclosed class is literal");
        assert!(!fnmatch("ansible_kernel_version", "ansible_kernel"));
    }

    /// The script runs under this machine's /bin/sh and yields the basic facts.
    #[cfg(target_os = "linux")]
    #[test]
    fn script_runs_under_the_local_sh() {
        let all = collectors(&["all".into()]).unwrap();
        let out = std::process::Command::new("/bin/sh").arg("-c").arg(script(&all, 5, "/nonexistent")).output().unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        let raw = Raw::parse(&text);
        assert!(raw.complete(), "{text}");
        let f = facts(&raw, &all);
        assert_eq!(f["system"], "Linux");
        assert!(f["memtotal_mb"].as_i64().unwrap() > 0);
        assert!(f["date_time"]["epoch"].as_str().unwrap().parse::<i64>().unwrap() > 1_600_000_000);
        assert_eq!(f["local"], json!({}));
    }

    /// Prints the full script (`gather_subset: all`), to capture fixtures:
    /// `cargo test -p provision-modules setup::tests::print_script -- --ignored --nocapture`
    #[test]
    #[ignore]
    fn print_script() {
        let all = collectors(&["all".into()]).unwrap();
        println!("{}", script(&all, 10, "/etc/ansible/facts.d"));
    }

    /// Parses the capture named by `SETUP_RAW` and prints the facts as JSON, to compare
    /// with Ansible's own output.
    #[test]
    #[ignore]
    fn print_facts() {
        let path = std::env::var("SETUP_RAW").expect("SETUP_RAW=path of a captured output");
        let bytes = std::fs::read(path).unwrap();
        let text = String::from_utf8_lossy(&bytes);
        let all = collectors(&["all".into()]).unwrap();
        println!("{}", serde_json::to_string_pretty(&facts(&Raw::parse(&text), &all)).unwrap());
    }
}
