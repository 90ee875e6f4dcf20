//! `provision inventory` against fixtures whose expected output was printed by the real
//! `ansible-inventory` (ansible-core 2.19; see tests/fixtures/inventory/regenerate.sh).
//! The library has finer-grained tests (src/inventory/tests.rs); these prove the CLI.

mod common;

use common::*;
use serde_json::Value;

fn fixture(path: &str) -> String {
    root().join("tests/fixtures/inventory").join(path).display().to_string()
}

fn json(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

#[test]
fn list_matches_ansible_inventory() {
    for (dir, source) in [("ini", "hosts.ini"), ("yaml", "inventory.yml"), ("dir", "inventory")] {
        let run = provision(["inventory", "--list", "-i", &fixture(&format!("{dir}/{source}"))]);
        run.expect_code(0);
        let expected = std::fs::read_to_string(fixture(&format!("{dir}/expected_list.json"))).unwrap();
        assert_eq!(json(&run.stdout()), json(&expected), "{dir}");
    }
}

#[test]
fn graph_matches_ansible_inventory() {
    for (dir, source) in [("ini", "hosts.ini"), ("yaml", "inventory.yml"), ("dir", "inventory")] {
        let run = provision(["inventory", "--graph", "-i", &fixture(&format!("{dir}/{source}"))]);
        run.expect_code(0);
        let expected = std::fs::read_to_string(fixture(&format!("{dir}/expected_graph.txt"))).unwrap();
        assert_eq!(run.stdout(), expected, "{dir}");
    }
    let run = provision(["inventory", "--graph", "prod", "-i", &fixture("ini/hosts.ini")]);
    run.expect_code(0);
    assert_eq!(run.stdout(), std::fs::read_to_string(fixture("ini/expected_graph_prod.txt")).unwrap());
}

#[test]
fn host_matches_ansible_inventory() {
    for (dir, source, host) in [("ini", "hosts.ini", "web01.example.com"), ("yaml", "inventory.yml", "gpu1"), ("dir", "inventory", "app1")] {
        let run = provision(["inventory", "--host", host, "-i", &fixture(&format!("{dir}/{source}"))]);
        run.expect_code(0);
        let expected = std::fs::read_to_string(fixture(&format!("{dir}/expected_host_{host}.json"))).unwrap();
        assert_eq!(json(&run.stdout()), json(&expected), "{dir} {host}");
    }
}

#[test]
fn yaml_list_has_the_same_data() {
    let run = provision(["inventory", "--list", "--yaml", "-i", &fixture("yaml/inventory.yml")]);
    run.expect_code(0);
    let ours = provision::yaml::load(&run.stdout(), std::path::Path::new("ours")).unwrap();
    let theirs = provision::yaml::load_file(std::path::Path::new(&fixture("yaml/expected_list.yaml"))).unwrap();
    assert_eq!(ours, theirs);
}

#[test]
fn every_pattern_form_selects_like_ansible() {
    // Hosts of the INI fixture, as ansible's InventoryManager selects them
    // (checked with ansible-core 2.19 when the fixture was made).
    let inv = fixture("ini/hosts.ini");
    let hosts = |pattern: &str| -> Vec<String> {
        let run = provision([pattern, "-m", "ping", "-i", &inv, "--list-hosts"]);
        run.expect_code(0);
        run.stdout().lines().skip(1).map(|l| l.trim().to_string()).collect()
    };
    let all = hosts("all");
    assert!(all.len() > 3, "{all:?}");
    assert_eq!(hosts("*"), all);
    let web = hosts("web");
    let db = hosts("db");
    assert!(!web.is_empty() && !db.is_empty());
    let union = hosts("web:db");
    assert_eq!(union.len(), web.len() + db.iter().filter(|h| !web.contains(h)).count());
    assert_eq!(hosts("web,db"), union);
    assert!(hosts("web:!db").iter().all(|h| web.contains(h) && !db.contains(h)));
    assert!(hosts("all:&web").iter().all(|h| web.contains(h)));
    assert_eq!(hosts("web[0]"), vec![web[0].clone()]);
    assert_eq!(hosts("web[-1]"), vec![web.last().unwrap().clone()]);
    assert_eq!(hosts("web[0:1]"), web[0..=1].to_vec(), "slices include their end");
    assert_eq!(hosts(&format!("~{}", regex_escape(&web[0]))), vec![web[0].clone()]);
    let first_char_glob = format!("{}*", &web[0][..3]);
    assert!(hosts(&first_char_glob).contains(&web[0]));
}

fn regex_escape(s: &str) -> String {
    s.chars().map(|c| if c.is_ascii_alphanumeric() { c.to_string() } else { format!("\\{c}") }).collect()
}
