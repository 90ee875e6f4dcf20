//! `nvidia_driver` and `conda` against a real host (h2 of the lab fleet, the TRAIN-like
//! host, which has no GPU and no conda), under /tmp/provision-test-gpu/. Needs
//! `tests/fleet/fleet up`. What needs a GPU or a conda channel is covered by the
//! modules' fixture-based unit tests.

mod common;

use common::*;

const HOST: &str = "h2";
const BASE: &str = "/tmp/provision-test-gpu";

#[test]
fn nvidia_driver_without_a_gpu_changes_nothing() {
    let dir = tempdir();
    let pb = write_playbook(
        dir.path(),
        HOST,
        "nvidia.yml",
        "    - nvidia_driver:\n        cuda_toolkit: true\n      register: nv\n\
\x20   - assert:\n        that:\n          - not nv.changed\n          - nv.gpus == []\n          - ansible_facts.nvidia_gpus == []\n          - nv.driver_version is none\n          - not nv.reboot_required\n          - nv.installed == []\n          - \"'no NVIDIA GPU found' in nv.msg\"\n\
\x20   - nvidia_driver:\n        state: absent\n      register: gone\n\
\x20   - assert:\n        that:\n          - not gone.changed\n          - gone.removed == []\n",
    );
    // Check mode and a real run alike: ok, nothing changed.
    play_on(HOST, &pb, true, 0);
    play_on(HOST, &pb, false, 0);
}

#[test]
fn nvidia_driver_checks_the_local_machine() {
    let run = provision(["localhost", "-c", "local", "-m", "nvidia_driver", "--check"]);
    run.expect_code(0);
    assert!(run.stdout().contains("\"changed\": false"), "{}", run.stdout());
    assert!(run.stdout().contains("\"gpus\": ["), "{}", run.stdout());
}

#[test]
fn conda_without_an_executable_fails_clearly() {
    let dir = tempdir();
    let pb = write_playbook(
        dir.path(),
        HOST,
        "conda.yml",
        &format!(
            "    - conda:\n        name: ml\n        packages: [numpy]\n        conda_prefix: {BASE}/no-conda\n      register: c\n      ignore_errors: yes\n\
\x20   - assert:\n        that:\n          - c.failed\n          - \"c.msg.startswith('no conda executable found (looked for {BASE}/no-conda/bin/conda, {BASE}/no-conda/bin/mamba')\"\n"
        ),
    );
    play_on(HOST, &pb, false, 0);
}
