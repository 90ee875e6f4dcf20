//! The keywords of plays, blocks and tasks (Ansible's playbook keywords), and which of
//! them a child inherits from its parent.

/// Keywords a play accepts.
pub const PLAY: &[&str] = &[
    "any_errors_fatal", "become", "become_exe", "become_flags", "become_method", "become_user", "check_mode",
    "collections", "connection", "debugger", "diff", "environment", "fact_path", "force_handlers", "gather_facts",
    "gather_subset", "gather_timeout", "handlers", "hosts", "ignore_errors", "ignore_unreachable",
    "max_fail_percentage", "module_defaults", "name", "no_log", "order", "port", "post_tasks", "pre_tasks",
    "remote_user", "roles", "run_once", "serial", "strategy", "tags", "tasks", "throttle", "timeout", "vars",
    "vars_files", "vars_prompt",
];

/// Keywords a block accepts.
pub const BLOCK: &[&str] = &[
    "always", "any_errors_fatal", "become", "become_exe", "become_flags", "become_method", "become_user", "block",
    "check_mode", "collections", "connection", "debugger", "delegate_facts", "delegate_to", "diff", "environment",
    "ignore_errors", "ignore_unreachable", "module_defaults", "name", "no_log", "notify", "port", "remote_user",
    "rescue", "run_once", "tags", "throttle", "timeout", "vars", "when",
];

/// Keywords a task accepts (besides `with_<lookup>` and its module).
pub const TASK: &[&str] = &[
    "action", "any_errors_fatal", "args", "async", "become", "become_exe", "become_flags", "become_method",
    "become_user", "changed_when", "check_mode", "collections", "connection", "debugger", "delay", "delegate_facts",
    "delegate_to", "diff", "environment", "failed_when", "ignore_errors", "ignore_unreachable", "listen",
    "local_action", "loop", "loop_control", "module_defaults", "name", "no_log", "notify", "poll", "port",
    "register", "remote_user", "retries", "run_once", "tags", "throttle", "timeout", "until", "vars", "when",
];

/// `with_<lookup>` loops provision knows.
pub const WITH_LOOKUPS: &[&str] = &[
    "items", "list", "dict", "fileglob", "sequence", "nested", "together", "subelements", "indexed_items",
    "flattened", "random_choice", "lines", "file", "first_found", "cartesian", "inventory_hostnames", "env",
];

/// Keywords that flow from a play or block down to its tasks (the task's own wins).
pub const INHERITED: &[&str] = &[
    "any_errors_fatal", "become", "become_exe", "become_flags", "become_method", "become_user", "check_mode",
    "connection", "delegate_facts", "delegate_to", "diff", "environment", "ignore_errors", "ignore_unreachable",
    "module_defaults", "no_log", "port", "remote_user", "run_once", "throttle", "timeout",
];

/// Modules that act in the engine, not on the host.
pub const ENGINE_ACTIONS: &[&str] = &[
    "debug", "set_fact", "assert", "fail", "meta", "add_host", "group_by", "pause", "include_tasks",
    "import_tasks", "include_role", "import_role", "include_vars", "import_playbook", "set_stats",
];

/// The name without `ansible.builtin.` / `ansible.legacy.` / `community.general.` prefixes.
pub fn short_name(name: &str) -> &str {
    for p in ["ansible.builtin.", "ansible.legacy.", "ansible.posix.", "community.general.", "community.docker."] {
        if let Some(s) = name.strip_prefix(p) {
            return s;
        }
    }
    name
}
