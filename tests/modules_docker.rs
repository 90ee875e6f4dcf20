//! `docker_image`, `docker_container`, `docker_network` and `docker_compose_v2` against
//! the real Docker engine of the lab's PROD host (h3). Needs `tests/fleet/fleet up`.
//!
//! Setup (idempotent): docker.io, busybox-static and docker-compose from apt, dockerd
//! running. There is no registry: the one image, `ptest-httpd`, is built `FROM scratch`
//! with the host's static busybox serving `/www` on port 8080. Everything the tests make is
//! named `ptest-*` and removed at the start and end of each test. The tests share one
//! engine, so they run one at a time.

mod common;

use std::sync::{Mutex, MutexGuard, OnceLock};

use common::*;

const HOST: &str = "h3";
const BASE: &str = "/tmp/provision-test-docker";

/// Run shell on the test host (ad hoc); returns the exit status and the output. The
/// command is not templated (Go templates of `docker --format` look like Jinja).
fn on_host(cmd: &str) -> (i32, String) {
    let f = fleet();
    let raw = format!("true; {{% raw %}}{cmd}{{% endraw %}}");
    let run = provision([HOST, "-i", f.inventory.to_str().unwrap(), "-m", "shell", "-a", &raw]);
    (run.code(), format!("{}{}", run.stdout(), run.stderr()))
}

fn must(cmd: &str) -> String {
    let (rc, out) = on_host(cmd);
    assert_eq!(rc, 0, "`{cmd}` failed:\n{out}");
    out
}

/// Remove every `ptest-*` container, compose project, network and image (and the untagged
/// images that rebuilds of `ptest-httpd` left behind).
fn cleanup() {
    must(
        "docker ps -aq --filter name=ptest- | xargs -r docker rm -f >/dev/null; \
docker ps -aq --filter label=com.docker.compose.project=ptest-compose | xargs -r docker rm -f >/dev/null; \
docker network ls -q --filter name=ptest- | xargs -r docker network rm >/dev/null; \
docker images --format '{{.Repository}}:{{.Tag}}' | grep '^ptest-' | xargs -r docker rmi -f >/dev/null; \
docker images -q --filter dangling=true --filter label=provision.context | xargs -r docker rmi -f >/dev/null; true",
    );
}

/// Install and start Docker (once per test run), then take the engine for one test.
fn engine() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    static SETUP: OnceLock<()> = OnceLock::new();
    let guard = LOCK.lock().unwrap_or_else(|e| e.into_inner());
    SETUP.get_or_init(|| {
        let dir = tempdir();
        let pb = write_playbook(
            dir.path(),
            HOST,
            "setup.yml",
            "    - apt:\n        name: [docker.io, busybox-static, docker-compose]\n        state: present\n        update_cache: yes\n        cache_valid_time: 86400\n\
\x20   - service:\n        name: docker\n        state: started\n\
\x20   - shell: for i in $(seq 30); do docker info >/dev/null 2>&1 && exit 0; sleep 1; done; exit 1\n",
        );
        let f = fleet();
        provision([pb.to_str().unwrap(), "-i", f.inventory.to_str().unwrap()]).expect_code(0);
        // The build context of ptest-httpd.
        must(&format!(
            "rm -rf {BASE} && mkdir -p {BASE}/httpd/www && cp /bin/busybox {BASE}/httpd/busybox && echo hello from ptest > {BASE}/httpd/www/index.html && \
printf '%s\\n' 'FROM scratch' 'COPY busybox /bin/busybox' 'COPY busybox /bin/sh' 'COPY www /www' 'EXPOSE 8080' \
'CMD [\"/bin/busybox\", \"httpd\", \"-f\", \"-p\", \"8080\", \"-h\", \"/www\"]' > {BASE}/httpd/Dockerfile"
        ));
    });
    cleanup();
    guard
}

const IMAGE_TASK: &str = "    - community.docker.docker_image:\n        name: ptest-httpd\n        tag: latest\n        source: build\n        build:\n          path: /tmp/provision-test-docker/httpd\n      register: img\n\
\x20   - when: not ansible_check_mode\n      assert:\n        that:\n          - \"'ptest-httpd:latest' in img.image.RepoTags\"\n";

#[test]
fn image_builds_once_and_again_when_the_context_changes() {
    let _e = engine();
    let dir = tempdir();
    let pb = write_playbook(dir.path(), HOST, "image.yml", IMAGE_TASK);
    play_on(HOST, &pb, true, 1);
    play_on(HOST, &pb, false, 1);
    let t = play_on(HOST, &pb, false, 0);
    eprintln!("docker_image, nothing to change: {t:?}");
    let label = must("docker image inspect --format '{{index .Config.Labels \"provision.context\"}}' ptest-httpd:latest");
    must(&format!("echo changed > {BASE}/httpd/www/index.html"));
    play_on(HOST, &pb, true, 1);
    play_on(HOST, &pb, false, 1);
    play_on(HOST, &pb, false, 0);
    let label2 = must("docker image inspect --format '{{index .Config.Labels \"provision.context\"}}' ptest-httpd:latest");
    assert_ne!(label, label2);
    must(&format!("echo hello from ptest > {BASE}/httpd/www/index.html"));
    let gone = write_playbook(dir.path(), HOST, "gone.yml", "    - docker_image:\n        name: ptest-httpd:latest\n        state: absent\n");
    play_on(HOST, &gone, true, 1);
    play_on(HOST, &gone, false, 1);
    play_on(HOST, &gone, false, 0);
    cleanup();
}

fn container_playbook(dir: &std::path::Path, name: &str, mode: &str, state: &str) -> std::path::PathBuf {
    container_playbook_with(dir, name, mode, state, "unless-stopped")
}

fn container_playbook_with(dir: &std::path::Path, name: &str, mode: &str, state: &str, restart: &str) -> std::path::PathBuf {
    write_playbook(
        dir,
        HOST,
        name,
        &format!(
            "    - community.docker.docker_container:\n        name: ptest-web\n        image: ptest-httpd:latest\n        state: {state}\n        \
published_ports:\n          - 127.0.0.1:18080:8080\n        env:\n          MODE: {mode}\n        restart_policy: {restart}\n        \
labels:\n          app: ptest\n        healthcheck:\n          test: [CMD, /bin/busybox, wget, -q, -O-, http://127.0.0.1:8080/]\n          \
interval: 1s\n          retries: 5\n        healthy_wait_timeout: 60\n      register: c\n\
\x20   - when: not ansible_check_mode\n      assert:\n        that:\n          - c.container.Name == '/ptest-web'\n"
        ),
    )
}

fn container_id() -> String {
    let out = must("docker inspect --format 'ID={{.Id}} RUNNING={{.State.Running}} HEALTH={{if .State.Health}}{{.State.Health.Status}}{{end}}' ptest-web");
    out.lines().find(|l| l.starts_with("ID=")).unwrap_or("").to_string()
}

#[test]
fn container_runs_serves_recreates_and_goes() {
    let _e = engine();
    let dir = tempdir();
    let img = write_playbook(dir.path(), HOST, "image.yml", IMAGE_TASK);
    play_on(HOST, &img, false, 1);

    let run = container_playbook(dir.path(), "run.yml", "one", "healthy");
    play_on(HOST, &run, true, 1);
    play_on(HOST, &run, false, 1);
    let first = container_id();
    assert!(first.contains("RUNNING=true HEALTH=healthy"), "{first}");
    let t = play_on(HOST, &run, false, 0);
    eprintln!("docker_container, nothing to change: {t:?}");
    let page = must("busybox wget -q -O- http://127.0.0.1:18080/");
    assert!(page.contains("hello from ptest"), "{page}");

    // A changed env recreates the container.
    let two = container_playbook(dir.path(), "two.yml", "two", "started");
    let diff = play_with(HOST, &two, &["--check", "--diff"], 1);
    assert!(diff.stdout().contains("MODE"), "{}", diff.stdout());
    play_on(HOST, &two, false, 1);
    play_on(HOST, &two, false, 0);
    let second = container_id();
    assert_ne!(first.split_whitespace().next(), second.split_whitespace().next(), "recreated");
    let env = must("docker inspect --format '{{range .Config.Env}}{{println .}}{{end}}' ptest-web");
    assert!(env.contains("MODE=two"), "{env}");

    // A new restart policy is set in place.
    let always = container_playbook_with(dir.path(), "always.yml", "two", "started", "always");
    play_on(HOST, &always, true, 1);
    play_on(HOST, &always, false, 1);
    play_on(HOST, &always, false, 0);
    assert_eq!(container_id().split_whitespace().next(), second.split_whitespace().next(), "updated, not recreated");
    let policy = must("docker inspect --format '{{.HostConfig.RestartPolicy.Name}}' ptest-web");
    assert!(policy.contains("always"), "{policy}");

    // Stopped, then started again without recreating.
    let stopped = container_playbook(dir.path(), "stopped.yml", "two", "stopped");
    play_on(HOST, &stopped, true, 1);
    play_on(HOST, &stopped, false, 1);
    play_on(HOST, &stopped, false, 0);
    play_on(HOST, &two, false, 1);
    assert_eq!(container_id().split_whitespace().next(), second.split_whitespace().next());

    let gone = write_playbook(dir.path(), HOST, "gone.yml", "    - docker_container:\n        name: ptest-web\n        state: absent\n");
    play_on(HOST, &gone, true, 1);
    play_on(HOST, &gone, false, 1);
    play_on(HOST, &gone, false, 0);
    let left = must("docker ps -a --filter name=ptest-web --format '{{.Names}}' | wc -l");
    assert!(left.lines().any(|l| l.trim() == "0"), "{left}");
    cleanup();
}

#[test]
fn network_is_created_changed_and_removed() {
    let _e = engine();
    let dir = tempdir();
    let net = |name: &str, team: &str| {
        write_playbook(
            dir.path(),
            HOST,
            name,
            &format!(
                "    - community.docker.docker_network:\n        name: ptest-net\n        ipam_config:\n          - subnet: 10.231.77.0/24\n            \
gateway: 10.231.77.1\n        internal: true\n        labels:\n          team: {team}\n      register: n\n\
\x20   - when: not ansible_check_mode\n      assert:\n        that:\n          - n.network.Name == 'ptest-net'\n          - n.network.Internal\n"
            ),
        )
    };
    let a = net("a.yml", "ml");
    play_on(HOST, &a, true, 1);
    play_on(HOST, &a, false, 1);
    play_on(HOST, &a, false, 0);
    let b = net("b.yml", "web");
    play_on(HOST, &b, true, 1);
    play_on(HOST, &b, false, 1);
    play_on(HOST, &b, false, 0);
    let labels = must("docker network inspect --format '{{index .Labels \"team\"}}' ptest-net");
    assert!(labels.contains("web"), "{labels}");
    let gone = write_playbook(dir.path(), HOST, "gone.yml", "    - docker_network:\n        name: ptest-net\n        state: absent\n");
    play_on(HOST, &gone, true, 1);
    play_on(HOST, &gone, false, 1);
    play_on(HOST, &gone, false, 0);
    cleanup();
}

#[test]
fn compose_project_up_changed_stopped_and_down() {
    let _e = engine();
    let dir = tempdir();
    let img = write_playbook(dir.path(), HOST, "image.yml", IMAGE_TASK);
    play_on(HOST, &img, false, 1);
    let write = |mode: &str| {
        must(&format!(
            "mkdir -p {BASE}/compose && printf '%s\\n' 'version: \"3\"' 'services:' '  web:' '    image: ptest-httpd:latest' \
'    ports: [\"127.0.0.1:18081:8080\"]' '    environment:' '      MODE: {mode}' > {BASE}/compose/docker-compose.yml"
        ));
    };
    let task = |name: &str, state: &str| {
        write_playbook(
            dir.path(),
            HOST,
            name,
            &format!(
                "    - community.docker.docker_compose_v2:\n        project_src: {BASE}/compose\n        project_name: ptest-compose\n        state: {state}\n      register: p\n"
            ),
        )
    };
    write("one");
    let up = task("up.yml", "present");
    play_on(HOST, &up, true, 1);
    play_on(HOST, &up, false, 1);
    let t = play_on(HOST, &up, false, 0);
    eprintln!("docker_compose_v2, nothing to change: {t:?}");
    let page = must("for i in $(seq 20); do busybox wget -q -O- http://127.0.0.1:18081/ && exit 0; sleep 0.5; done; exit 1");
    assert!(page.contains("hello from ptest"), "{page}");

    write("two");
    play_on(HOST, &up, true, 1);
    play_on(HOST, &up, false, 1);
    play_on(HOST, &up, false, 0);

    let stop = task("stop.yml", "stopped");
    play_on(HOST, &stop, true, 1);
    play_on(HOST, &stop, false, 1);
    play_on(HOST, &stop, false, 0);

    let down = task("down.yml", "absent");
    play_on(HOST, &down, true, 1);
    play_on(HOST, &down, false, 1);
    play_on(HOST, &down, false, 0);
    let left = must("docker ps -aq --filter label=com.docker.compose.project=ptest-compose | wc -l");
    assert!(left.lines().any(|l| l.trim() == "0"), "{left}");
    cleanup();
}
