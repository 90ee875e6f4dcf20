//! Tests of whole inventories. The fixtures in `tests/fixtures/inventory/` come with the
//! output of ansible-core 2.19's `ansible-inventory` (`expected_*`), which ours must equal.
//! The expected pattern results, `groups` and `group_names` below were also taken from
//! ansible-core (`InventoryManager.get_hosts`, `get_groups_dict`, `VariableManager`).

use std::path::{Path, PathBuf};

use serde_json::{json, Value};

use super::Inventory;
use crate::diag::Diagnostic;

fn fixture(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/inventory").join(rel)
}

fn load(rel: &str) -> Inventory {
    let path = fixture(rel).display().to_string();
    Inventory::load(&[path]).unwrap_or_else(|e| panic!("{e}"))
}

fn read(rel: &str) -> String {
    std::fs::read_to_string(fixture(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

fn json_file(rel: &str) -> Value {
    serde_json::from_str(&read(rel)).unwrap()
}

/// Compare as pretty JSON, key order included; a failure shows the first differing line.
fn assert_json_eq(ours: &Value, expected: &Value) {
    let (a, b) = (serde_json::to_string_pretty(ours).unwrap(), serde_json::to_string_pretty(expected).unwrap());
    assert_text_eq(&a, &b);
}

fn assert_text_eq(ours: &str, expected: &str) {
    if ours == expected {
        return;
    }
    let (a, b): (Vec<&str>, Vec<&str>) = (ours.lines().collect(), expected.lines().collect());
    let i = a.iter().zip(&b).position(|(x, y)| x != y).unwrap_or(a.len().min(b.len()));
    let from = i.saturating_sub(3);
    panic!(
        "outputs differ at line {}\n--- ours ---\n{}\n--- expected ---\n{}",
        i + 1,
        a[from..(i + 4).min(a.len())].join("\n"),
        b[from..(i + 4).min(b.len())].join("\n")
    );
}

fn yaml_value(text: &str) -> Value {
    crate::yaml::load(text, Path::new("list.yaml")).unwrap()
}

/// Our `--graph --vars` without vaulted values: ansible-inventory can only print those
/// by decrypting them, so its expected output was made from a copy without them.
fn without_vault_lines(graph: &str) -> String {
    graph.lines().filter(|l| !l.contains("__ansible_vault")).map(|l| format!("{l}\n")).collect()
}

fn names(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

fn load_text(name: &str, text: &str) -> Result<Inventory, Diagnostic> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(name);
    std::fs::write(&path, text).unwrap();
    Inventory::load(&[path.display().to_string()])
}

fn load_err(name: &str, text: &str) -> Diagnostic {
    match load_text(name, text) {
        Ok(_) => panic!("expected an error for {name}:\n{text}"),
        Err(e) => e,
    }
}

/// (line, column) of a diagnostic.
fn position(d: &Diagnostic) -> (usize, usize) {
    let loc = d.location.as_ref().unwrap_or_else(|| panic!("no location: {d}"));
    (loc.line, loc.column)
}

// ----- fixtures against ansible-inventory -----

macro_rules! fixture_tests {
    ($module:ident, $dir:literal, $source:literal, [$($host:literal),*]) => {
        mod $module {
            use super::*;

            #[test]
            fn list_json_equals_ansible_inventory() {
                let inv = load(concat!($dir, "/", $source));
                assert_json_eq(&inv.list_json(), &json_file(concat!($dir, "/expected_list.json")));
            }

            #[test]
            fn list_yaml_equals_ansible_inventory() {
                let inv = load(concat!($dir, "/", $source));
                let ours = inv.list_yaml();
                // Compared as data: PyYAML writes anchors for shared values, we write
                // every value out.
                assert_json_eq(&yaml_value(&ours), &yaml_value(&read(concat!($dir, "/expected_list.yaml"))));
            }

            #[test]
            fn graph_equals_ansible_inventory() {
                let inv = load(concat!($dir, "/", $source));
                assert_text_eq(&inv.graph(None, false).unwrap(), &read(concat!($dir, "/expected_graph.txt")));
            }

            #[test]
            fn graph_vars_equals_ansible_inventory() {
                let inv = load(concat!($dir, "/", $source));
                let ours = without_vault_lines(&inv.graph(None, true).unwrap());
                assert_text_eq(&ours, &read(concat!($dir, "/expected_graph_vars.txt")));
            }

            #[test]
            fn host_json_equals_ansible_inventory() {
                let inv = load(concat!($dir, "/", $source));
                for host in [$($host),*] {
                    let mut expected = json_file(&format!("{}/expected_host_{host}.json", $dir));
                    // The implicit localhost: we set no Python interpreter (on purpose).
                    expected.as_object_mut().unwrap().shift_remove("ansible_python_interpreter");
                    assert_json_eq(&inv.host_json(host).unwrap(), &expected);
                }
            }
        }
    };
}

fixture_tests!(ini_fixture, "ini", "hosts.ini", ["web01.example.com", "localhost"]);
fixture_tests!(yaml_fixture, "yaml", "inventory.yml", ["gpu1", "localhost"]);
fixture_tests!(dir_fixture, "dir", "inventory", ["app1"]);

#[test]
fn graph_of_one_group_equals_ansible_inventory() {
    let inv = load("ini/hosts.ini");
    assert_text_eq(&inv.graph(Some("prod"), false).unwrap(), &read("ini/expected_graph_prod.txt"));
    let err = inv.graph(Some("prdo"), false).unwrap_err();
    assert_eq!(err.help.as_deref(), Some("did you mean `prod`?"));
}

// ----- variable precedence, one test per adjacent pair (checked with ansible-core) -----

fn web01_var(name: &str) -> Value {
    let inv = load("ini/hosts.ini");
    inv.host_vars("web01.example.com").unwrap()[name].clone()
}

#[test]
fn precedence_inventory_group_beats_inventory_all() {
    // [all:vars] < [prod:vars]
    assert_eq!(web01_var("p12"), json!("L2-prod"));
}

#[test]
fn precedence_inventory_child_group_beats_parent() {
    // [prod:vars] (depth 2) < [web:vars] (depth 3)
    assert_eq!(web01_var("p23"), json!("L3-web"));
}

#[test]
fn precedence_group_vars_all_beats_inventory_group_vars() {
    // [web:vars] < group_vars/all.yml
    assert_eq!(web01_var("p34"), json!("L4-group_vars-all"));
}

#[test]
fn precedence_group_vars_group_beats_group_vars_all() {
    // group_vars/all.yml < group_vars/prod/
    assert_eq!(web01_var("p45"), json!("L5-group_vars-prod"));
}

#[test]
fn precedence_group_vars_child_beats_parent() {
    // group_vars/prod/ < group_vars/web.yml
    assert_eq!(web01_var("p56"), json!("L6-group_vars-web"));
}

#[test]
fn precedence_inventory_host_var_beats_group_vars() {
    // group_vars/web.yml < inline host var
    assert_eq!(web01_var("p67"), json!("L7-host-inline"));
}

#[test]
fn precedence_host_vars_file_beats_inventory_host_var() {
    // inline host var < host_vars/web01.example.com.yml
    assert_eq!(web01_var("p78"), json!("L8-host_vars"));
}

#[test]
fn precedence_same_depth_priority_then_name() {
    // staging (priority 5) beats zone (priority 1) although `zone` sorts later.
    assert_eq!(web01_var("prio"), json!("staging"));
    // dc_a and dc_b: same depth and priority, the later name wins.
    assert_eq!(web01_var("name_order"), json!("dc_b"));
}

#[test]
fn dictionaries_are_replaced_not_merged() {
    let inv = load("yaml/inventory.yml");
    let vars = inv.host_vars("web01.example.com").unwrap();
    assert_eq!(vars["settings"], json!({"b": {"d": 4}}));
    let vars = inv.host_vars("web03.example.com").unwrap();
    assert_eq!(vars["settings"], json!({"a": 1, "b": {"c": 2}}));
}

#[test]
fn ini_values_are_typed_like_ansible() {
    let inv = load("ini/hosts.ini");
    let v = inv.host_vars("web04.example.com").unwrap();
    assert_eq!(v["labels"], json!(["a", "b"]));
    assert_eq!(v["enabled"], json!(true));
    assert_eq!(v["weight"], json!(0.5));
    assert_eq!(v["nothing"], json!(null));
    assert_eq!(v["label"], json!("042"));
    assert_eq!(v["raw"], json!("042"));
    assert_eq!(v["words"], json!("hello world"));
    assert_eq!(v["path"], json!("/srv/app"));
    assert_eq!(v["request_timeout"], json!(30));
    assert_eq!(v["flag"], json!("yes"));
    assert_eq!(v["quoted"], json!("a string"));
    let v = inv.host_vars("db2").unwrap();
    assert_eq!(v["ansible_port"], json!(5433));
}

// ----- magic variables and the `groups` map -----

#[test]
fn magic_vars_like_ansible() {
    let inv = load("ini/hosts.ini");
    let v = inv.host_vars("web01.example.com").unwrap();
    assert_eq!(v["inventory_hostname"], json!("web01.example.com"));
    assert_eq!(v["inventory_hostname_short"], json!("web01"));
    assert_eq!(v["group_names"], json!(["dc_a", "dc_b", "prod", "region", "staging", "web", "zone"]));
    assert_eq!(v["inventory_file"], json!(fixture("ini/hosts.ini").display().to_string()));
    assert_eq!(v["inventory_dir"], json!(fixture("ini").display().to_string()));
    let v = inv.host_vars("solo").unwrap();
    assert_eq!(v["group_names"], json!(["ungrouped"]));
    let yaml = load("yaml/inventory.yml");
    let v = yaml.host_vars("::1").unwrap();
    assert_eq!(v["inventory_hostname_short"], json!("::1"));
    assert_eq!(yaml.group_names("db1.example.com"), names(&["db", "gpu", "prod"]));
    assert!(inv.host_vars("nope").is_none());
}

#[test]
fn groups_map_like_ansible() {
    let inv = load("ini/hosts.ini");
    let expected = json!({"all": ["solo", "bastion.example.com", "web01.example.com", "eu1.example.com", "web02.example.com", "web03.example.com", "web-a.example.com", "web-b.example.com", "web04.example.com", "db1", "db2", "db3", "db6", "db9"], "ungrouped": ["solo", "bastion.example.com"], "web": ["web01.example.com", "web02.example.com", "web03.example.com", "web-a.example.com", "web-b.example.com", "web04.example.com"], "db": ["db1", "db2", "db3", "db6", "db9"], "prod": ["web01.example.com", "web02.example.com", "web03.example.com", "web-a.example.com", "web-b.example.com", "web04.example.com", "db1", "db2", "db3", "db6", "db9"], "staging": ["web01.example.com"], "zone": ["web01.example.com"], "dc_b": ["web01.example.com"], "dc_a": ["web01.example.com"], "region": ["eu1.example.com", "web01.example.com", "web02.example.com", "web03.example.com", "web-a.example.com", "web-b.example.com", "web04.example.com", "db1", "db2", "db3", "db6", "db9"], "eu": ["eu1.example.com"]});
    assert_json_eq(&Value::Object(inv.groups_map()), &expected);
    let yaml = load("yaml/inventory.yml");
    let groups = yaml.groups_map();
    assert_eq!(groups["empty_group"], json!([]));
    assert_eq!(groups["dev"], json!(["loner", "::1"]));
}

// ----- patterns (expected results from ansible-core's InventoryManager.get_hosts) -----

#[test]
fn patterns_select_like_ansible() {
    let inv = load("ini/hosts.ini");
    let cases: &[(&str, &[&str])] = &[
        (
            "all",
            &[
                "solo",
                "bastion.example.com",
                "web01.example.com",
                "eu1.example.com",
                "web02.example.com",
                "web03.example.com",
                "web-a.example.com",
                "web-b.example.com",
                "web04.example.com",
                "db1",
                "db2",
                "db3",
                "db6",
                "db9",
            ],
        ),
        (
            "web",
            &[
                "web01.example.com",
                "web02.example.com",
                "web03.example.com",
                "web-a.example.com",
                "web-b.example.com",
                "web04.example.com",
            ],
        ),
        ("prod:!web", &["db1", "db2", "db3", "db6", "db9"]),
        ("web:&staging", &["web01.example.com"]),
        ("&staging:web", &["web01.example.com"]),
        ("db:web[0]", &["db1", "db2", "db3", "db6", "db9", "web01.example.com"]),
        ("web[-1]", &["web04.example.com"]),
        ("web[1:3]", &["web02.example.com", "web03.example.com", "web-a.example.com"]),
        ("web[2:]", &["web03.example.com", "web-a.example.com", "web-b.example.com", "web04.example.com"]),
        ("~(web|db)0?[13].*", &["web01.example.com", "web03.example.com", "db1", "db3"]),
        ("web0*.example.com", &["web01.example.com", "web02.example.com", "web03.example.com", "web04.example.com"]),
        ("db[3-9]", &["db6", "db9"]),
        ("solo,localhost", &["solo", "localhost"]),
        (
            "region:!eu:!db[1:]",
            &[
                "web01.example.com",
                "web02.example.com",
                "web03.example.com",
                "web-a.example.com",
                "web-b.example.com",
                "web04.example.com",
                "db1",
            ],
        ),
        ("eu*", &["eu1.example.com"]),
        ("!prod", &["solo", "bastion.example.com", "eu1.example.com"]),
        ("ungrouped", &["solo", "bastion.example.com"]),
        ("web-?.example.com", &["web-a.example.com", "web-b.example.com"]),
        ("dc_*:zone", &["web01.example.com"]),
    ];
    for (pattern, expected) in cases {
        assert_eq!(inv.select(pattern).unwrap(), names(expected), "pattern {pattern}");
    }
    let star = inv.select("*").unwrap();
    assert_eq!(star, inv.select("all").unwrap());

    let yaml = load("yaml/inventory.yml");
    let cases: &[(&str, &[&str])] = &[
        ("nginx:&prod", &["web01.example.com", "web02.example.com"]),
        // An inventory host `::1` stands for every localhost name.
        ("localhost", &["::1"]),
        ("127.0.0.1", &["::1"]),
        ("gpu[0]", &["gpu1"]),
        ("web:!nginx:!web0[3-6]*", &["web-a", "web-b", "web-c"]),
    ];
    for (pattern, expected) in cases {
        assert_eq!(yaml.select(pattern).unwrap(), names(expected), "pattern {pattern}");
    }
}

#[test]
fn unknown_plain_name_is_an_error_with_a_hint() {
    let inv = load("ini/hosts.ini");
    let err = inv.select("web:prdo").unwrap_err();
    assert_eq!(err.message, "unknown host or group `prdo` in pattern `web:prdo`");
    assert_eq!(err.help.as_deref(), Some("did you mean `prod`?"));
    let err = inv.select("sol").unwrap_err();
    assert_eq!(err.help.as_deref(), Some("did you mean `solo`?"));
    // Globs and regexes that match nothing are not errors.
    assert!(inv.select("nothing*").unwrap().is_empty());
    assert!(inv.select("~^zz").unwrap().is_empty());
    // An index past the end is.
    assert!(inv.select("eu[5]").unwrap_err().message.contains("subscripted"));
    assert!(inv.select("~(unclosed").is_err());
}

#[test]
fn implicit_localhost_is_not_in_all() {
    let inv = load("ini/hosts.ini");
    assert_eq!(inv.select("localhost").unwrap(), names(&["localhost"]));
    assert!(!inv.select("all").unwrap().contains(&"localhost".to_string()));
    assert!(!inv.groups_map()["all"].as_array().unwrap().contains(&json!("localhost")));
    let v = inv.host_vars("localhost").unwrap();
    assert_eq!(v["ansible_connection"], json!("local"));
    assert_eq!(v["ntp_server"], json!("ntp.example.com"));
    assert_eq!(v["from_localhost_file"], json!(true));
    assert_eq!(v["group_names"], json!([]));
    assert_eq!(inv.select("127.0.0.1:localhost").unwrap(), names(&["127.0.0.1"]));

    let empty = Inventory::load(&[]).unwrap();
    assert!(empty.select("all").unwrap().is_empty());
    assert_eq!(empty.select("localhost").unwrap(), names(&["localhost"]));
    assert_eq!(empty.host_vars("localhost").unwrap()["ansible_connection"], json!("local"));
    assert_eq!(empty.list_json()["all"], json!({"children": ["ungrouped"]}));
}

#[test]
fn limit_intersects_and_reads_files() {
    let inv = load("ini/hosts.ini");
    let got = inv.select_limited("web", Some("staging:web02.example.com")).unwrap();
    assert_eq!(got, names(&["web01.example.com", "web02.example.com"]));
    assert_eq!(
        inv.select_limited("all", Some("!prod")).unwrap(),
        names(&["solo", "bastion.example.com", "eu1.example.com"])
    );
    let dir = tempfile::tempdir().unwrap();
    let retry = dir.path().join("site.retry");
    std::fs::write(&retry, "db2\nweb04.example.com\ngone-since\n").unwrap();
    let limit = format!("@{}", retry.display());
    assert_eq!(inv.select_limited("all", Some(&limit)).unwrap(), names(&["web04.example.com", "db2"]));
    assert!(inv.select_limited("all", Some("@/nonexistent/retry")).is_err());
    assert!(inv.select_limited("all", Some("nosuchhost")).is_err());
    // An empty pattern is `all`, as in Ansible.
    assert_eq!(inv.select("").unwrap().len(), 14);
}

// ----- sources -----

#[test]
fn comma_lists_expand_ranges() {
    let inv = Inventory::load(&["a,b:2222,".to_string(), "host[1:3],".to_string()]).unwrap();
    assert_eq!(inv.select("all").unwrap(), names(&["a", "b", "host1", "host2", "host3"]));
    assert_eq!(inv.host_vars("b").unwrap()["ansible_port"], json!(2222));
    assert_eq!(inv.group_names("host2"), names(&["ungrouped"]));
}

#[test]
fn symlink_loops_in_directories_end() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("hosts.ini"), "h1\n").unwrap();
    std::os::unix::fs::symlink(dir.path(), dir.path().join("loop")).unwrap();
    let inv = Inventory::load(&[dir.path().display().to_string()]).unwrap();
    assert_eq!(inv.select("all").unwrap(), names(&["h1"]));
}

#[test]
fn missing_source_is_an_error() {
    let err = Inventory::load(&["/nonexistent/hosts.ini".to_string()]).unwrap_err();
    assert_eq!(err.message, "inventory source `/nonexistent/hosts.ini` does not exist");
}

#[test]
fn several_sources_merge_and_reconcile_ungrouped() {
    let dir = tempfile::tempdir().unwrap();
    let a = dir.path().join("a.ini");
    let b = dir.path().join("b.yml");
    std::fs::write(&a, "h1\nh2\n[web]\nw1\n").unwrap();
    std::fs::write(&b, "web:\n  hosts:\n    h1:\n  vars:\n    x: 1\n").unwrap();
    let inv = Inventory::load(&[a.display().to_string(), b.display().to_string()]).unwrap();
    assert_eq!(inv.select("ungrouped").unwrap(), names(&["h2"]));
    assert_eq!(inv.select("web").unwrap(), names(&["w1", "h1"]));
    assert_eq!(inv.host_vars("h1").unwrap()["x"], json!(1));
    // The host keeps the file that named it first.
    assert_eq!(inv.host_vars("h1").unwrap()["inventory_file"], json!(a.display().to_string()));
}

#[test]
fn extensionless_files_are_detected_by_content() {
    let inv = load_text("hosts", "[web]\nw1 x=1\n").unwrap();
    assert_eq!(inv.select("web").unwrap(), names(&["w1"]));
    let inv = load_text("hosts", "web:\n  hosts:\n    w1:\n").unwrap();
    assert_eq!(inv.select("web").unwrap(), names(&["w1"]));
    let inv = load_text("hosts", "h1\nh2 a=b\n").unwrap();
    assert_eq!(inv.select("ungrouped").unwrap(), names(&["h1", "h2"]));
    let inv = load_text("empty.yml", "# nothing\n").unwrap();
    assert!(inv.select("all").unwrap().is_empty());
    // Ansible falls back to INI for a .yml file its YAML plugin refuses.
    let inv = load_text("hosts.yml", "[web]\nw1\nw2\n").unwrap();
    assert_eq!(inv.select("web").unwrap(), names(&["w1", "w2"]));
}

// ----- errors: one diagnostic each, with file:line:col -----

#[test]
fn ini_unknown_section_type() {
    let err = load_err("hosts.ini", "[web]\nw1\n[web:childen]\nx\n");
    assert_eq!(err.message, "unknown section type `childen` in `[web:childen]`");
    assert_eq!(position(&err), (3, 6));
    assert_eq!(err.help.as_deref(), Some("did you mean `[web:children]`?"));
    assert_eq!(err.source_line.as_deref(), Some("[web:childen]"));
}

#[test]
fn ini_vars_line_without_equals() {
    let err = load_err("hosts.ini", "[web]\nw1\n\n[web:vars]\nport=80\n  proxy\n");
    assert_eq!(err.message, "expected `key=value` in `[web:vars]`, found `proxy`");
    assert_eq!(position(&err), (6, 3));
}

#[test]
fn ini_bad_range() {
    let err = load_err("hosts.ini", "[web]\nweb[a:1].example.com\n");
    assert!(err.message.starts_with("invalid host range in `web[a:1].example.com`"), "{err}");
    assert_eq!(position(&err), (2, 1));
    assert!(err.help.is_some());
    let err = load_err("hosts.ini", "web[01:3]\n");
    assert!(err.message.contains("equal-length"), "{err}");
}

#[test]
fn ini_host_var_without_equals_and_bad_quotes() {
    let err = load_err("hosts.ini", "[web]\nw1 port=22 oops\n");
    assert_eq!(err.message, "expected `key=value` after the host name, found `oops`");
    assert_eq!(position(&err), (2, 12));
    let err = load_err("hosts.ini", "w1 x='open\n");
    assert_eq!(err.message, "cannot parse host line: no closing quotation");
}

#[test]
fn ini_undefined_groups() {
    let err = load_err("hosts.ini", "[web]\nw1\n[prod:children]\nweb\nwbe\n");
    assert_eq!(err.message, "`[prod:children]` names group `wbe`, which is not defined");
    assert_eq!(position(&err), (5, 1));
    assert_eq!(err.help.as_deref(), Some("did you mean `web`?"));
    let err = load_err("hosts.ini", "[web]\nw1\n[db:vars]\nx=1\n");
    assert_eq!(err.message, "`[db:vars]` sets variables of group `db`, which is not defined");
    assert_eq!(position(&err), (3, 1));
    let err = load_err("hosts.ini", "[web server]\nw1\n");
    assert_eq!(err.message, "invalid section header `[web server]`");
}

#[test]
fn ini_group_loops_are_errors() {
    let err = load_err("hosts.ini", "[a:children]\nb\n[b:children]\na\n");
    assert!(err.message.contains("creates a loop"), "{err}");
    assert_eq!(position(&err).0, 4);
    let err = load_err("hosts.ini", "[a]\n[a:children]\na\n");
    assert_eq!(err.message, "group `a` cannot be a child of itself");
}

#[test]
fn yaml_hosts_list_instead_of_mapping() {
    let err = load_err("inv.yml", "all:\n  children:\n    web:\n      hosts:\n        - web1\n        - web2\n");
    assert!(err.message.starts_with("`hosts` of group `web` must be a mapping"), "{err}");
    assert!(err.message.ends_with("found a list"), "{err}");
    assert_eq!(position(&err), (4, 7));
    assert!(err.help.as_deref().unwrap().contains("web1:"));
}

#[test]
fn yaml_structure_errors_have_positions() {
    let err = load_err("inv.yml", "all:\n  hosts:\n    web1: just-a-string\n");
    assert_eq!(err.message, "host `web1` in group `all` must have a mapping of variables, found a string");
    assert_eq!(position(&err), (3, 5));
    let err = load_err("inv.yml", "all:\n  hosts:\n    'web[1:x]':\n");
    assert!(err.message.starts_with("invalid host range"), "{err}");
    assert_eq!(position(&err), (3, 5));
    let err = load_err("inv.yml", "- a\n- b\n");
    assert!(err.message.contains("found a list"), "{err}");
    let err = load_err("inv.yml", "all:\n  hosts: {a: [1\n");
    assert!(err.message.starts_with("invalid YAML"), "{err}");
    let err = load_err("inv.yml", "plugin: aws_ec2\n");
    assert_eq!(err.message, "inventory plugin `aws_ec2` is not supported");
    let err = load_err("inv.yml", "web:\n  vars:\n    ansible_group_priority: high\n");
    assert!(err.message.contains("ansible_group_priority"), "{err}");
    assert_eq!(position(&err), (3, 5));
}

#[test]
fn yaml_oddities_are_warnings_like_ansible() {
    // Ansible skips (with a warning) a top-level group that is not a mapping and an
    // unknown key; a child that is not a mapping fails in Ansible too.
    let inv =
        load_text("inv.yml", "all:\n  host:\n    a:\n  children:\n    db:\n      hosts: db1\nweb: [x]\n").unwrap();
    assert_eq!(inv.select("db").unwrap(), names(&["db1"]));
    assert_eq!(inv.warnings().len(), 2, "{:?}", inv.warnings());
    assert!(inv.warnings()[0].contains("did you mean `hosts`?"), "{:?}", inv.warnings());
    assert!(inv.warnings()[0].ends_with("inv.yml:2:3)"), "{:?}", inv.warnings());
    let err = load_err("inv.yml", "all:\n  children:\n    web: [x]\n");
    assert_eq!(err.message, "child `web` of group `all` is not a group");
    assert_eq!(position(&err), (3, 5));
}

#[test]
fn bad_vars_files_are_errors() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("group_vars")).unwrap();
    std::fs::write(dir.path().join("hosts.ini"), "[web]\nw1\n").unwrap();
    std::fs::write(dir.path().join("group_vars/web.yml"), "# list\n- a\n- b\n").unwrap();
    let err = Inventory::load(&[dir.path().join("hosts.ini").display().to_string()]).unwrap_err();
    assert!(err.message.starts_with("variables file must be a mapping"), "{err}");
    assert_eq!(position(&err), (2, 1));
}

#[test]
fn never_panics_on_odd_input() {
    let inputs = [
        "[",
        "]",
        "[]",
        "[:vars]",
        "h[",
        "h]",
        "h[1:2:3:4]",
        "h[|]",
        "=",
        "h =",
        "h x==",
        "\u{0}",
        "[a]\n[a:children]\nb\n[b]\n",
        "h:",
        "---\nall:\n",
        "h ]x[",
        "h[9999999999999999999:1]",
        "[all:children]\nall\n",
    ];
    for text in inputs {
        let _ = load_text("x.ini", text);
        let _ = load_text("x.yml", text);
        let _ = load_text("x", text);
    }
    let inv = load("ini/hosts.ini");
    for p in ["[", "]", "~", "~[", "web[", "web[1", "!", "&", ":", ",,", "web[99999999999999999999]", "*[!]"] {
        let _ = inv.select(p);
    }
}

// ----- size -----

#[test]
fn twenty_thousand_hosts_load() {
    let dir = tempfile::tempdir().unwrap();
    let mut ini = String::new();
    let mut yaml = String::from("all:\n  children:\n");
    for g in 0..100 {
        ini.push_str(&format!("[g{g}]\n"));
        yaml.push_str(&format!("    g{g}:\n      hosts:\n"));
        for h in 0..200 {
            ini.push_str(&format!("host-{g}-{h}.example.com ansible_host=10.{g}.{}.{} idx={h}\n", h / 250, h % 250));
            yaml.push_str(&format!("        host-{g}-{h}.example.com: {{ansible_host: 10.{g}.0.{h}, idx: {h}}}\n"));
        }
        ini.push_str(&format!("[g{g}:vars]\ngroup_index={g}\n"));
    }
    ini.push_str("[all:children]\n");
    for g in 0..100 {
        ini.push_str(&format!("g{g}\n"));
    }
    for (name, text) in [("big.ini", &ini), ("big.yml", &yaml)] {
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        let inv = Inventory::load(&[path.display().to_string()]).unwrap();
        let all = inv.select("all").unwrap();
        assert_eq!(all.len(), 20_000, "{name}");
        assert_eq!(inv.select("g7:&*-5.example.com").unwrap(), names(&["host-7-5.example.com"]));
        assert_eq!(inv.host_vars("host-99-199.example.com").unwrap()["idx"], json!(199));
        let list = inv.list_json();
        assert_eq!(list["_meta"]["hostvars"].as_object().unwrap().len(), 20_000);
    }
}

// ----- add_host / group_by while a play runs -----

#[test]
fn add_host_puts_new_hosts_in_groups_or_ungrouped() {
    let mut inv = load("ini/hosts.ini");
    let mut vars = serde_json::Map::new();
    vars.insert("ansible_host".to_string(), json!("10.9.9.9"));
    inv.add_host("new1", &names(&["newgroup", "web"]), vars);
    inv.add_host("new2", &[], serde_json::Map::new());
    assert_eq!(inv.select("newgroup").unwrap(), names(&["new1"]));
    assert!(inv.select("web").unwrap().contains(&"new1".to_string()));
    assert_eq!(inv.group_names("new1"), names(&["newgroup", "prod", "region", "web"]));
    let v = inv.host_vars("new1").unwrap();
    assert_eq!(v["ansible_host"], json!("10.9.9.9"));
    // Group variables apply to the new member, group_vars/ files included.
    assert_eq!(v["p56"], json!("L6-group_vars-web"));
    assert_eq!(inv.select("ungrouped").unwrap(), names(&["solo", "bastion.example.com", "new2"]));
    assert!(inv.select("all").unwrap().contains(&"new2".to_string()));
    assert_eq!(inv.groups_map()["newgroup"], json!(["new1"]));
}

#[test]
fn group_by_creates_groups_and_parents() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("group_vars")).unwrap();
    std::fs::write(dir.path().join("group_vars/os_debian.yml"), "pkg_mgr: apt\n").unwrap();
    std::fs::write(dir.path().join("hosts.ini"), "[web]\nw1\nw2\n[web:vars]\nlevel=web\n").unwrap();
    let mut inv = Inventory::load(&[dir.path().join("hosts.ini").display().to_string()]).unwrap();
    inv.add_to_group("w1", "os_debian", &names(&["linux"]));
    inv.add_to_group("w2", "os_debian", &names(&["linux"]));
    assert_eq!(inv.select("linux").unwrap(), names(&["w1", "w2"]));
    assert_eq!(inv.group_names("w1"), names(&["linux", "os_debian", "web"]));
    assert_eq!(inv.host_vars("w2").unwrap()["pkg_mgr"], json!("apt"));
    assert_eq!(inv.group("os_debian").unwrap().depth(), 2);
    // A loop is refused with a warning, not a panic.
    inv.add_to_group("w1", "linux", &names(&["os_debian"]));
    assert!(inv.warnings().iter().any(|w| w.contains("loop")), "{:?}", inv.warnings());
    inv.add_to_group("nobody", "x", &[]);
    assert!(inv.select("x").is_err());
}
