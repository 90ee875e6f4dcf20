//! `nvidia_driver` against a fake host whose answers are built from real outputs
//! (fixtures/): arguments and what the host says → the commands sent and the result.

use serde_json::{json, Value};

use super::*;
use crate::file::tests::{run_module, Fake};

const LSPCI_H100: &str = include_str!("fixtures/lspci_h100_sxm5.txt");
const LSPCI_H200: &str = include_str!("fixtures/lspci_h200.txt");
const LSPCI_A100: &str = include_str!("fixtures/lspci_a100.txt");
const LSPCI_4090: &str = include_str!("fixtures/lspci_rtx4090.txt");
const LSPCI_T4: &str = include_str!("fixtures/lspci_t4.txt");
const LSPCI_UNNAMED: &str = include_str!("fixtures/lspci_unnamed_a100.txt");
const SMI_550: &str = include_str!("fixtures/smi_a100_550.txt");
const SMI_525: &str = include_str!("fixtures/smi_525_old_layout.txt");
const SMI_FAILED: &str = include_str!("fixtures/smi_failed.txt");
const QUERY_H100: &str = include_str!("fixtures/query_h100.txt");
const QUERY_H200: &str = include_str!("fixtures/query_h200.txt");
const QUERY_A100: &str = include_str!("fixtures/query_a100.txt");
const PROC_PROPRIETARY: &str = include_str!("fixtures/proc_version_proprietary.txt");
const PROC_OPEN: &str = include_str!("fixtures/proc_version_open.txt");
const POLICY_NONE: &str = include_str!("fixtures/policy_nvidia_driver_none.txt");
const POLICY_SID: &str = include_str!("fixtures/policy_nvidia_driver_sid.txt");
const SYSFS_H2: &str = include_str!("fixtures/sysfs_h2.txt");

/// What the probe prints on a host, built piece by piece.
struct Host(String);

impl Host {
    fn new(id: &str, codename: &str, like: &str) -> Host {
        let mut h = Host(String::new());
        h.add("os", &format!("{id} {codename}"));
        h.add("like", like);
        h.add("kernel", "6.1.0-18-amd64");
        h.add("arch", "amd64");
        h
    }
    fn debian() -> Host {
        Host::new("debian", "bookworm", "").src("/etc/apt/sources.list", "deb http://deb.debian.org/debian bookworm main")
    }
    fn ubuntu() -> Host {
        Host::new("ubuntu", "noble", "debian")
    }
    fn add(&mut self, key: &str, rest: &str) {
        self.0.push_str(&format!("{TAG} {key} {rest}\n"));
    }
    fn each(mut self, key: &str, text: &str) -> Host {
        for l in text.lines() {
            self.add(key, l);
        }
        self
    }
    /// sysfs lines as `for d in ...; do echo $d $(cat vendor device class)` prints them.
    fn sysfs(mut self, text: &str) -> Host {
        for l in text.lines() {
            let l = l.strip_prefix("/sys/bus/pci/devices/").unwrap_or(l);
            self.add("pci", l);
        }
        self
    }
    fn gpu(mut self, addr: &str, device: &str, class: &str) -> Host {
        self.add("pci", &format!("{addr} 0x10de {device} {class}"));
        self
    }
    fn lspci(self, text: &str) -> Host {
        self.each("lspci", text)
    }
    fn smi(mut self, query: &str, header: &str) -> Host {
        self.add("smi", "");
        self = self.each("query", query);
        let h = header.lines().find(|l| l.contains("NVIDIA-SMI")).unwrap_or("");
        self.add("header", h);
        self
    }
    fn proc(self, text: &str) -> Host {
        self.each("proc", text)
    }
    fn pkg(mut self, name: &str, version: &str) -> Host {
        self.add("pkg", &format!("{name} {version}"));
        self
    }
    fn policy(self, text: &str) -> Host {
        self.each("policy", text)
    }
    fn candidate(self, name: &str, version: &str) -> Host {
        self.policy(&format!("{name}:\n  Installed: (none)\n  Candidate: {version}\n  Version table:\n"))
    }
    fn src(mut self, file: &str, line: &str) -> Host {
        self.add("src", &format!("{file} {line}"));
        self
    }
    fn docker(mut self, has_nvidia: bool) -> Host {
        self.add("docker", "");
        if has_nvidia {
            self.add("dockernv", "");
        }
        self
    }
    fn h100x3(self) -> Host {
        self.gpu("0000:06:00.0", "0x2330", "0x030200").gpu("0000:0c:00.0", "0x2330", "0x030200").gpu("0000:46:00.0", "0x2330", "0x030200").lspci(LSPCI_H100)
    }
}

fn run(a: Value, answers: &[&str], check: bool) -> (ModuleResult, Vec<String>) {
    let fake = Fake::new(answers);
    let r = run_module(&NvidiaDriver, a, &fake, check, false);
    (r, fake.commands())
}

#[test]
fn lspci_lines_of_real_cards() {
    let models: Vec<(String, String)> = [LSPCI_H100, LSPCI_H200, LSPCI_A100, LSPCI_4090, LSPCI_T4, LSPCI_UNNAMED].iter().flat_map(|t| t.lines()).filter_map(parse_lspci_line).collect();
    let want = [
        ("0000:06:00.0", "GH100 [H100 SXM5 80GB]"),
        ("0000:0c:00.0", "GH100 [H100 SXM5 80GB]"),
        ("0000:46:00.0", "GH100 [H100 SXM5 80GB]"),
        ("0000:9a:00.0", "GH100 [H200 SXM 141GB]"),
        ("0000:17:00.0", "GA100 [A100 SXM4 40GB]"),
        ("0000:01:00.0", "AD102 [GeForce RTX 4090]"),
        ("0000:af:00.0", "TU104GL [Tesla T4]"),
        ("0000:25:00.0", "Device"),
        ("0000:2b:00.0", "Device"),
    ];
    let want: Vec<(String, String)> = want.iter().map(|(a, m)| (a.to_string(), m.to_string())).collect();
    // The NVSwitch bridge (0680) and the 4090's HDMI audio function (0403) are not GPUs.
    assert_eq!(models, want);
}

#[test]
fn sysfs_classes() {
    assert!(is_gpu_class("0x030200") && is_gpu_class("0x030000") && is_gpu_class("0x030001"));
    assert!(!is_gpu_class("0x040300") && !is_gpu_class("0x068000") && !is_gpu_class("0xffff00") && !is_gpu_class("0x0302"));
    let p = parse_probe(&Host::debian().sysfs(SYSFS_H2).0);
    assert!(p.pci.is_empty(), "{:?}", p.pci);
    let p = parse_probe(&Host::debian().gpu("0000:01:00.0", "0x2684", "0x030000").gpu("0000:01:00.1", "0x22ba", "0x040300").0);
    assert_eq!(p.pci, vec![PciDev { addr: "0000:01:00.0".into(), device_id: "10de:2684".into(), class: "0x030000".into() }]);
}

#[test]
fn nvidia_smi_outputs() {
    let header = |t: &str| parse_smi_header(t.lines().find(|l| l.contains("NVIDIA-SMI")).unwrap());
    assert_eq!(header(SMI_550), (Some("550.54.15".into()), Some("12.4".into())));
    assert_eq!(header(SMI_525), (Some("525.85.05".into()), Some("12.0".into())));
    assert_eq!(header(SMI_FAILED), (None, None));
    assert_eq!(parse_query_line(QUERY_H100.trim()), Some(("NVIDIA H100 80GB HBM3".into(), Some(81559), "555.42.06".into(), None)));
    assert_eq!(parse_query_line(QUERY_H200.trim()), Some(("NVIDIA H200".into(), Some(143771), "580.95.05".into(), None)));
    assert_eq!(parse_query_line("NVIDIA A100-SXM4-80GB, 81920, 580.95.05"), Some(("NVIDIA A100-SXM4-80GB".into(), Some(81920), "580.95.05".into(), None)));
    // The module also asks for pci.bus_id, as the nvidia-smi table prints it (00000000:1B:00.0).
    let with_bus = format!("{}, 00000000:1B:00.0", QUERY_A100.trim());
    assert_eq!(parse_query_line(&with_bus).unwrap().3.as_deref(), Some("0000:1b:00.0"));
    assert_eq!(parse_query_line(SMI_FAILED.trim()), None);
    let lines = |t: &str| t.lines().map(str::to_string).collect::<Vec<_>>();
    assert_eq!(parse_proc_version(&lines(PROC_PROPRIETARY)), Some("515.76".into()));
    assert_eq!(parse_proc_version(&lines(PROC_OPEN)), Some("575.57.08".into()));
    assert_eq!(parse_policy(POLICY_NONE).get("nvidia-driver"), Some(&None));
    assert_eq!(parse_policy(POLICY_SID).get("nvidia-driver"), Some(&Some("525.89.02-1".into())));
}

#[test]
fn no_gpu_is_ok_and_one_round_trip() {
    for check in [false, true] {
        let (r, sent) = run(json!({}), &[&Host::debian().sysfs(SYSFS_H2).0], check);
        assert!(!r.changed() && !r.is_failed(), "{r:?}");
        assert_eq!(sent.len(), 1);
        assert!(sent[0].contains("/sys/bus/pci/devices/*") && sent[0].contains("lspci -D -nn -d 10de:"), "{}", sent[0]);
        assert_eq!(r.0["gpus"], json!([]));
        assert_eq!(r.0["ansible_facts"], json!({"nvidia_gpus": []}));
        assert_eq!(r.0["msg"], "no NVIDIA GPU found: nothing to install");
        assert_eq!(r.0["reboot_required"], false);
    }
    // Not even other distributions or extras matter without a GPU.
    let (r, sent) = run(json!({"cuda_toolkit": true, "container_toolkit": true}), &[&Host::new("rocky", "", "rhel centos fedora").0], false);
    assert!(!r.changed() && !r.is_failed() && sent.len() == 1, "{r:?}");
}

#[test]
fn debian_bookworm_enables_non_free_and_installs() {
    let host = Host::debian().h100x3().policy(POLICY_NONE).0;
    let (r, sent) = run(json!({}), &[&host], true);
    assert!(r.changed() && !r.is_failed() && sent.len() == 1, "{r:?}");
    assert_eq!(r.0["installed"], json!(["nvidia-driver", "firmware-misc-nonfree"]));
    assert_eq!(r.0["reboot_required"], true);
    let gpus = r.0["gpus"].as_array().unwrap();
    assert_eq!(gpus.len(), 3);
    assert_eq!(gpus[0], json!({"pci_id": "0000:06:00.0", "device_id": "10de:2330", "model": "GH100 [H100 SXM5 80GB]", "memory_mib": null, "driver_version": null, "cuda_version": null}));

    let (r, sent) = run(json!({}), &[&host, "done\n"], false);
    assert!(r.changed() && !r.is_failed(), "{r:?}");
    assert_eq!(sent.len(), 2);
    let script = &sent[1];
    assert!(script.starts_with("export LC_ALL=C DEBIAN_FRONTEND=noninteractive\nset -e\n"), "{script}");
    assert!(script.contains("deb http://deb.debian.org/debian bookworm contrib non-free non-free-firmware\n"), "{script}");
    assert!(script.contains("deb http://security.debian.org/debian-security bookworm-security contrib non-free non-free-firmware"), "{script}");
    assert!(script.contains(&format!("mv -f {SOURCES_FILE}.provision-tmp {SOURCES_FILE}")), "{script}");
    assert!(script.contains("apt-get -y -q -o DPkg::Lock::Timeout=300 update\napt-get -y -q -o DPkg::Lock::Timeout=300 install -- nvidia-driver firmware-misc-nonfree\n"), "{script}");
    assert_eq!(r.0["msg"], "NVIDIA driver installed: reboot to load it");
}

#[test]
fn debian_with_non_free_already_and_headers() {
    let host = Host::new("debian", "bookworm", "")
        .src("/etc/apt/sources.list", "deb http://deb.debian.org/debian bookworm main contrib non-free non-free-firmware")
        .lspci(LSPCI_T4)
        .gpu("0000:af:00.0", "0x1eb8", "0x030200")
        .candidate("nvidia-driver", "535.183.01-1~deb12u1")
        .candidate("firmware-misc-nonfree", "20230210-5")
        .candidate("linux-headers-6.1.0-18-amd64", "6.1.76-1")
        .0;
    let (r, sent) = run(json!({}), &[&host, ""], false);
    assert!(r.changed() && !r.is_failed(), "{r:?}");
    assert!(!sent[1].contains(SOURCES_FILE) && !sent[1].contains(" update\n"), "{}", sent[1]);
    assert!(sent[1].contains("install -- nvidia-driver firmware-misc-nonfree linux-headers-6.1.0-18-amd64\n"), "{}", sent[1]);
    // deb822 sources count too.
    let host = Host::new("debian", "trixie", "").src("/etc/apt/sources.list.d/debian.sources", "URIs: http://ftp.de.debian.org/debian/").src("/etc/apt/sources.list.d/debian.sources", "Components: main non-free-firmware").gpu("0000:af:00.0", "0x1eb8", "0x030200").0;
    let (r, _) = run(json!({}), &[&host], true);
    let plan_sources = r.0["installed"].clone();
    assert_eq!(plan_sources, json!(["nvidia-driver", "firmware-misc-nonfree"]));
    let p = parse_probe(&host);
    let pl = plan(&crate::file::tests::args(json!({"enable_non_free": true})), &p).unwrap();
    assert!(pl.write_sources.as_deref().unwrap().contains("deb http://ftp.de.debian.org/debian trixie contrib non-free non-free-firmware"), "{pl:?}");
}

#[test]
fn debian_branch_must_match() {
    let base = || Host::new("debian", "bookworm", "").src("/etc/apt/sources.list", "deb http://deb.debian.org/debian bookworm main non-free non-free-firmware").gpu("0000:17:00.0", "0x20b0", "0x030200");
    let (r, sent) = run(json!({"branch": "550"}), &[&base().candidate("nvidia-driver", "535.183.01-1~deb12u1").0], true);
    assert!(r.is_failed() && sent.len() == 1, "{r:?}");
    assert!(r.0["msg"].as_str().unwrap().contains("not of branch 550"), "{r:?}");
    let host = base().candidate("nvidia-driver", "535.183.01-1~deb12u1").candidate("nvidia-tesla-470-driver", "470.256.02-1~deb12u1").0;
    let (r, _) = run(json!({"branch": "470"}), &[&host], true);
    assert_eq!(r.0["installed"], json!(["nvidia-tesla-470-driver", "firmware-misc-nonfree"]));
    // An installed driver of the asked branch is enough.
    let host = base().pkg("nvidia-driver", "535.183.01-1~deb12u1").pkg("firmware-misc-nonfree", "20230210-5").proc("NVRM version: NVIDIA UNIX x86_64 Kernel Module  535.183.01  Sun May 12 19:39:15 UTC 2024").0;
    let (r, sent) = run(json!({"branch": "535"}), &[&host], false);
    assert!(!r.changed() && !r.is_failed() && sent.len() == 1, "{r:?}");
    assert_eq!(r.0["reboot_required"], false);
    assert_eq!(r.0["driver_version"], "535.183.01");
}

#[test]
fn ubuntu_paths() {
    let gpu = || Host::ubuntu().gpu("0000:01:00.0", "0x2684", "0x030000").lspci(LSPCI_4090).candidate("nvidia-driver-550", "550.120-0ubuntu0.24.04.1");
    let (r, sent) = run(json!({"branch": "550"}), &[&gpu().0, ""], false);
    assert!(r.changed() && !r.is_failed(), "{r:?}");
    assert!(!sent[1].contains(" update\n"), "a known candidate needs no update: {}", sent[1]);
    assert!(sent[1].ends_with("install -- nvidia-driver-550\n"), "{}", sent[1]);
    assert!(!sent[1].contains(SOURCES_FILE));
    let (_, sent) = run(json!({"branch": "550", "use_ubuntu_drivers": true}), &[&gpu().pkg("ubuntu-drivers-common", "1:0.9.7.6").0, ""], false);
    assert!(sent[1].ends_with("\nubuntu-drivers install nvidia:550\n"), "{}", sent[1]);
    let (_, sent) = run(json!({}), &[&gpu().0, ""], false);
    assert!(sent[1].contains("install -- ubuntu-drivers-common\nubuntu-drivers install\n"), "{}", sent[1]);
    let (_, sent) = run(json!({"branch": "535", "server": true}), &[&gpu().0, ""], false);
    assert!(sent[1].contains("update\n") && sent[1].ends_with("install -- nvidia-driver-535-server\n"), "{}", sent[1]);
    // Installed, loaded: nothing to do, facts from nvidia-smi (query line and header
    // come from two different real machines, hence two driver versions).
    let host = Host::ubuntu().gpu("0000:1b:00.0", "0x20b2", "0x030200").smi(QUERY_A100, SMI_550).pkg("nvidia-driver-550", "550.54.15-0ubuntu1").proc("NVRM version: NVIDIA UNIX x86_64 Kernel Module  550.54.15  Thu Feb 22 01:44:30 UTC 2024").0;
    let (r, sent) = run(json!({"branch": "550"}), &[&host], false);
    assert!(!r.changed() && !r.is_failed() && sent.len() == 1, "{r:?}");
    assert_eq!(r.0["gpus"], json!([{"pci_id": "0000:1b:00.0", "device_id": "10de:20b2", "model": "NVIDIA A100-SXM4-80GB", "memory_mib": 81920, "driver_version": "580.95.05", "cuda_version": "12.4"}]));
    assert_eq!(r.0["driver_version"], "550.54.15");
    assert_eq!(r.0["cuda_version"], "12.4");
    assert_eq!(r.0["ansible_facts"]["nvidia_gpus"], r.0["gpus"]);
    assert_eq!(r.0["reboot_required"], false);
}

#[test]
fn installed_but_not_loaded_wants_a_reboot() {
    let host = Host::ubuntu().lspci(LSPCI_H200).gpu("0000:9a:00.0", "0x2335", "0x030200").gpu("0000:03:00.0", "0x22a3", "0x068000").smi(SMI_FAILED, SMI_FAILED).pkg("nvidia-driver-570-server", "570.133.20-0ubuntu0.24.04.1").0;
    let (r, sent) = run(json!({}), &[&host], false);
    assert!(!r.changed() && !r.is_failed() && sent.len() == 1, "{r:?}");
    assert_eq!(r.0["reboot_required"], true);
    assert_eq!(r.0["gpus"], json!([{"pci_id": "0000:9a:00.0", "device_id": "10de:2335", "model": "GH100 [H200 SXM 141GB]", "memory_mib": null, "driver_version": null, "cuda_version": null}]));
    // A loaded module older than the package (upgraded, not rebooted).
    let host = Host::ubuntu().gpu("0000:9a:00.0", "0x2335", "0x030200").smi(QUERY_H200, "").pkg("nvidia-driver-580", "580.95.05-0ubuntu1").proc(PROC_OPEN).0;
    let (r, _) = run(json!({}), &[&host], false);
    assert_eq!(r.0["reboot_required"], true);
    assert_eq!(r.0["gpus"][0]["memory_mib"], 143771);
}

#[test]
fn query_lines_are_matched_by_pci_address() {
    // Two GPUs; nvidia-smi sees only the second (the first is bound to vfio-pci).
    let host = Host::ubuntu()
        .gpu("0000:06:00.0", "0x2330", "0x030200")
        .gpu("0000:0c:00.0", "0x2330", "0x030200")
        .lspci(LSPCI_H100)
        .smi(&format!("{}, 00000000:0C:00.0", QUERY_H100.trim()), "")
        .pkg("nvidia-driver-555", "555.42.06-0ubuntu1")
        .proc("NVRM version: NVIDIA UNIX x86_64 Kernel Module  555.42.06  Tue Jun  4 01:20:38 UTC 2024");
    let (r, _) = run(json!({}), &[&host.0], false);
    assert_eq!(r.0["gpus"][0]["model"], "GH100 [H100 SXM5 80GB]");
    assert_eq!(r.0["gpus"][0]["memory_mib"], json!(null));
    assert_eq!(r.0["gpus"][1]["model"], "NVIDIA H100 80GB HBM3");
    assert_eq!(r.0["gpus"][1]["memory_mib"], 81559);
    assert_eq!(r.0["driver_version"], "555.42.06");
}

#[test]
fn container_toolkit() {
    let base = || Host::ubuntu().gpu("0000:06:00.0", "0x2330", "0x030200").pkg("nvidia-driver-550", "550.54.15-0ubuntu1").proc("NVRM version: NVIDIA UNIX x86_64 Kernel Module  550.54.15  Thu Feb 22 01:44:30 UTC 2024");
    let (r, sent) = run(json!({"container_toolkit": true}), &[&base().0], false);
    assert!(r.is_failed() && sent.len() == 1, "{r:?}");
    assert!(r.0["msg"].as_str().unwrap().contains("https://nvidia.github.io/libnvidia-container"), "{r:?}");
    let (r, sent) = run(json!({"container_toolkit": true}), &[&base().candidate("nvidia-container-toolkit", "1.17.8-1").docker(false).0, ""], false);
    assert!(r.changed() && !r.is_failed(), "{r:?}");
    assert!(sent[1].contains("install -- nvidia-container-toolkit\nnvidia-ctk runtime configure --runtime=docker\n"), "{}", sent[1]);
    let (r, sent) = run(json!({"container_toolkit": true}), &[&base().pkg("nvidia-container-toolkit", "1.17.8-1").docker(true).0], false);
    assert!(!r.changed() && sent.len() == 1, "{r:?}");
    let (r, sent) = run(json!({"container_toolkit": true, "cuda_toolkit": true}), &[&base().pkg("nvidia-container-toolkit", "1.17.8-1").candidate("nvidia-cuda-toolkit", "12.0.140~12.0.1-4build4").0, ""], false);
    assert!(r.changed() && sent[1].ends_with("install -- nvidia-cuda-toolkit\n") && !sent[1].contains("nvidia-ctk"), "{}", sent[1]);
}

#[test]
fn absent_removes_only_what_is_there() {
    let (r, sent) = run(json!({"state": "absent"}), &[&Host::debian().sysfs(SYSFS_H2).0], false);
    assert!(!r.changed() && !r.is_failed() && sent.len() == 1, "{r:?}");
    let host = Host::debian().gpu("0000:17:00.0", "0x20b0", "0x030200").pkg("nvidia-driver", "535.183.01-1~deb12u1").pkg("nvidia-kernel-dkms", "535.183.01-1~deb12u1").pkg("firmware-misc-nonfree", "20230210-5").proc(PROC_PROPRIETARY);
    let mut host = host.each("ours", "# Managed by provision");
    host.add("oursfile", "");
    let (r, sent) = run(json!({"state": "absent"}), &[&host.0, ""], false);
    assert!(r.changed() && !r.is_failed(), "{r:?}");
    assert_eq!(r.0["removed"], json!(["nvidia-driver", "nvidia-kernel-dkms"]));
    assert!(sent[1].contains("remove --purge --autoremove -- nvidia-driver nvidia-kernel-dkms\nrm -f /etc/apt/sources.list.d/provision-nvidia-non-free.list\n"), "{}", sent[1]);
    assert_eq!(r.0["reboot_required"], true);
}

#[test]
fn other_distributions_and_bad_branches_fail_clearly() {
    let (r, sent) = run(json!({}), &[&Host::new("fedora", "", "").gpu("0000:01:00.0", "0x2684", "0x030000").0], false);
    assert!(r.is_failed() && sent.len() == 1, "{r:?}");
    assert!(r.0["msg"].as_str().unwrap().contains("Debian and Ubuntu only (this host: fedora)"));
    let (r, sent) = run(json!({"branch": "550; rm -rf /"}), &[], false);
    assert!(r.is_failed() && sent.is_empty(), "{r:?}");
    let (r, _) = run(json!({"state": "gone"}), &[], false);
    assert!(r.is_failed());
}

#[test]
fn the_probe_reads_without_root_and_quotes_the_branch() {
    let s = probe_script(Some("550"));
    assert!(s.contains("nvidia-driver-550 nvidia-driver-550-server nvidia-tesla-550-driver"), "{s}");
    assert!(s.contains("--query-gpu=name,memory.total,driver_version,pci.bus_id --format=csv,noheader"));
    assert!(!s.contains("apt-get") && !s.contains("sudo"));
    // The GPU test of the shell matches the sysfs lines of real devices only.
    let dir = std::env::temp_dir().join(format!("provision-nvidia-test-{}", std::process::id()));
    for (name, vendor, class, gpu) in [("0000:00:02.0", "0x1af4", "0x018000", false), ("0000:01:00.1", "0x10de", "0x040300", false), ("0000:01:00.0", "0x10de", "0x030000", true), ("0000:9a:00.0", "0x10de", "0x030200", true)] {
        let d = dir.join(name);
        std::fs::create_dir_all(&d).unwrap();
        for (f, v) in [("vendor", vendor), ("device", "0x2684"), ("class", class)] {
            std::fs::write(d.join(f), format!("{v}\n")).unwrap();
        }
        let line = s.lines().find(|l| l.starts_with("for d in /sys/bus/pci/devices/*")).unwrap().replace("/sys/bus/pci/devices/*", &d.display().to_string());
        let out = std::process::Command::new("sh").arg("-c").arg(format!("T=x\ngpu=0\n{line}\necho gpu=$gpu")).output().unwrap();
        let out = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(out.contains(&format!("x pci {name} {vendor} 0x2684 {class} \n")), "{out}");
        assert!(out.ends_with(&format!("gpu={}\n", gpu as u8)), "{name}: {out}");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}
