//! `apt`, `package`, `systemd` and `service` against a real host (h3 of the lab fleet,
//! Debian 12 with systemd): each playbook runs in check mode, then for real, then again,
//! and the recap must say the same number of changes twice, then none. Needs
//! `tests/fleet/fleet up`, and apt on h3 must reach deb.debian.org.

mod common;

use common::*;

const HOST: &str = "h3";

/// Run shell on the test host (ad hoc) and return its output and exit status.
fn on_host(cmd: &str) -> (i32, String) {
    let f = fleet();
    let run = provision([HOST, "-i", f.inventory.to_str().unwrap(), "-m", "shell", "-a", cmd]);
    // `h3 | CHANGED | rc=0 >>` then the command's output (and `non-zero return code`
    // when it failed): keep the first line of the output.
    let out = run.stdout().lines().nth(1).unwrap_or("").trim_end().to_string();
    (run.code(), out)
}




#[test]
fn apt_installs_and_removes_a_package_idempotently() {
    let pkg = "sl";
    let installed = || on_host(&format!("dpkg-query -W -f='${{Status}}' {pkg} 2>/dev/null | grep -q 'ok installed'")).0 == 0;
    on_host(&format!("DEBIAN_FRONTEND=noninteractive apt-get -y -q purge {pkg} >/dev/null 2>&1; true"));
    assert!(!installed(), "{pkg} should start absent");
    let dir = tempdir();
    let install = write_playbook(
        dir.path(),
        HOST,
        "install.yml",
        &format!("    - name: install {pkg}\n      apt: name={pkg} update_cache=yes cache_valid_time=3600 install_recommends=no\n"),
    );
    play_on(HOST, &install, true, 1);
    assert!(!installed(), "check mode must not install {pkg}");
    let first = play_on(HOST, &install, false, 1);
    assert!(installed(), "{pkg} should be installed");
    let second = play_on(HOST, &install, false, 0);
    eprintln!("apt install run: {first:?}; no-change run: {second:?}");
    // `update_cache` alone changes only when it updates: the cache is fresh now.
    let update = write_playbook(dir.path(), HOST, "update.yml", "    - apt: update_cache=yes cache_valid_time=3600\n");
    play_on(HOST, &update, false, 0);

    let remove = write_playbook(dir.path(), HOST, "remove.yml", &format!("    - name: remove {pkg}\n      ansible.builtin.apt:\n        name: {pkg}\n        state: absent\n        purge: yes\n"));
    play_on(HOST, &remove, true, 1);
    assert!(installed(), "check mode must not remove {pkg}");
    play_on(HOST, &remove, false, 1);
    assert!(!installed(), "{pkg} should be removed");
    play_on(HOST, &remove, false, 0);

    // `package` dispatches to apt: nothing to do now, in one round trip.
    let package = write_playbook(dir.path(), HOST, "package.yml", &format!("    - package: name={pkg} state=absent\n"));
    play_on(HOST, &package, false, 0);
}

#[test]
fn systemd_starts_enables_and_stops_a_unit() {
    let unit = "/etc/systemd/system/provision-test.service";
    let (rc, _) = on_host(&format!(
        "systemctl disable --now provision-test >/dev/null 2>&1; printf '[Unit]\\nDescription=provision test\\n[Service]\\nExecStart=/bin/sleep infinity\\n[Install]\\nWantedBy=multi-user.target\\n' > {unit}; systemctl daemon-reload"
    ));
    assert_eq!(rc, 0);
    let dir = tempdir();
    let start = write_playbook(
        dir.path(),
        HOST,
        "start.yml",
        "    - name: start and enable\n      systemd: name=provision-test state=started enabled=yes daemon_reload=yes\n",
    );
    play_on(HOST, &start, true, 1);
    assert_eq!(on_host("systemctl is-active provision-test").1, "inactive", "check mode must not start the unit");
    play_on(HOST, &start, false, 1);
    play_on(HOST, &start, false, 0);
    assert_eq!(on_host("systemctl is-active provision-test").1, "active");
    assert_eq!(on_host("systemctl is-enabled provision-test").1, "enabled");

    let stop = write_playbook(
        dir.path(),
        HOST,
        "stop.yml",
        "    - name: stop and disable\n      ansible.builtin.systemd_service:\n        unit: provision-test\n        state: stopped\n        enabled: no\n",
    );
    play_on(HOST, &stop, true, 1);
    play_on(HOST, &stop, false, 1);
    play_on(HOST, &stop, false, 0);
    assert_eq!(on_host("systemctl is-active provision-test").1, "inactive");
    assert_eq!(on_host("systemctl is-enabled provision-test").1, "disabled");

    // `service` goes through systemctl on this host and agrees that nothing is left to do;
    // `restarted` always acts.
    let service = write_playbook(dir.path(), HOST, "service.yml", "    - service: name=provision-test state=stopped enabled=no\n");
    play_on(HOST, &service, false, 0);
    let restart = write_playbook(dir.path(), HOST, "restart.yml", "    - service: name=provision-test state=restarted\n    - service: name=provision-test state=stopped\n");
    play_on(HOST, &restart, false, 2);
    assert_eq!(on_host("systemctl is-active provision-test").1, "inactive");
    on_host(&format!("rm -f {unit}; systemctl daemon-reload"));
}
