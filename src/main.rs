//! The `provision` binary: parse the command line, load what it names, run, and turn
//! every user mistake into one clear message and exit status 1 — never a panic.

use std::path::Path;
use std::process::ExitCode;

use anyhow::{anyhow, bail, Context as _, Result};
use clap::Parser;
use provision::cli::{Cli, ConfigAction, ConfigCli, DocCli, InventoryCli, OutputFormat, ReportCli, ReportCommand};
use provision::config::Config;
use provision::connection::ConnOptions;
use provision::diag::{did_you_mean, Diagnostic};
use provision::inventory::Inventory;
use provision::output::events::{ChangedTasks, Event, Events, JsonLines, Sink};
use provision::output::junit::Junit;
use provision::output::playbook::{HostStats, Printer};
use provision::output::summary::Summary;
use provision::output::Human;
use provision::run::{adhoc, Adhoc};
use provision_modules::args::parse_kv;
use serde_json::{Map, Value};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    let result = match args.get(1).map(String::as_str) {
        Some("inventory") => inventory_cmd(&args[1..]),
        Some("doc") => doc_cmd(&args[1..]),
        Some("vault") => vault_cmd(&args[1..]),
        Some("config") => config_cmd(&args[1..]),
        Some("completions") => completions_cmd(&args[1..]),
        Some("man") => man_cmd(&args[1..]),
        Some("report") => report_cmd(&args[1..]),
        Some(provision::connection::mux::MASTER_ARG) => return ExitCode::from(provision::connection::mux::master_main() as u8),
        _ => main_cmd(&args),
    };
    match result {
        Ok(code) => ExitCode::from(code as u8),
        Err(err) => {
            if let Some(clap_err) = err.downcast_ref::<clap::Error>() {
                // --help and --version are not errors.
                let _ = clap_err.print();
                return ExitCode::from(if clap_err.use_stderr() { 1 } else { 0 });
            }
            let code = if err.downcast_ref::<provision::vault::command::OptionsError>().is_some() { 5 } else { 1 };
            let mut text = format!("error: {}", err);
            for cause in err.chain().skip(1) {
                text.push_str(&format!("\n  caused by: {cause}"));
            }
            if std::io::IsTerminal::is_terminal(&std::io::stderr()) && console::colors_enabled_stderr() {
                text = text.replacen("error:", &console::style("error:").red().bold().to_string(), 1);
            }
            eprintln!("{text}");
            ExitCode::from(code)
        }
    }
}

/// The configuration in effect; its warnings are printed once.
fn load_config() -> Result<Config> {
    let cfg = Config::load()?;
    for w in &cfg.warnings {
        eprintln!("[WARNING]: {w}");
    }
    Ok(cfg)
}

/// Inventory sources: `-i`, else `inventory` from `ANSIBLE_INVENTORY` or the configuration
/// file (comma-separated paths, or a host list), else `/etc/ansible/hosts` if it exists.
fn inventory_sources(given: &[String], cfg: &Config) -> Vec<String> {
    if !given.is_empty() {
        return given.to_vec();
    }
    match cfg.paths("inventory") {
        Some(v) if !v.is_empty() => v,
        _ => {
            let etc = Path::new("/etc/ansible/hosts");
            if etc.exists() {
                vec![etc.display().to_string()]
            } else {
                vec![]
            }
        }
    }
}

fn load_inventory(given: &[String], cfg: &Config) -> Result<Inventory> {
    Ok(Inventory::load(&inventory_sources(given, cfg))?)
}

/// `-e`: `k=v ...`, a JSON/YAML mapping, or `@file`; later ones win.
fn extra_vars(items: &[String]) -> Result<Map<String, Value>> {
    let mut vars = Map::new();
    for item in items {
        let value = if let Some(path) = item.strip_prefix('@') {
            provision::yaml::load_file(Path::new(path))?
        } else if item.trim_start().starts_with('{') || item.trim_start().starts_with('[') {
            provision::yaml::load(item, Path::new("<extra vars>"))?
        } else {
            Value::Object(parse_kv(item, None).map_err(|e| anyhow!("invalid extra vars `{item}`: {e}"))?)
        };
        match value {
            Value::Object(m) => {
                if m.contains_key("_raw_params") {
                    bail!("invalid extra vars `{item}`: expected `key=value`, a JSON/YAML mapping or `@file`");
                }
                vars.extend(m);
            }
            Value::Null => {}
            _ => bail!("extra vars `{item}` must be a mapping of variable names to values"),
        }
    }
    Ok(vars)
}

fn read_secret_file(path: &Path) -> Result<String> {
    let text = std::fs::read_to_string(path).with_context(|| format!("cannot read password file `{}`", path.display()))?;
    Ok(text.lines().next().unwrap_or("").to_string())
}

fn prompt_secret(what: &str, flag: &str, file_flag: &str) -> Result<String> {
    if !std::io::IsTerminal::is_terminal(&std::io::stdin()) && !Path::new("/dev/tty").exists() {
        return Err(Diagnostic::new(format!("{flag} needs a terminal to ask the {what}"))
            .with_help(format!("give it with {file_flag} FILE, or set it in the inventory"))
            .into());
    }
    rpassword::prompt_password(format!("{} password: ", what.split_whitespace().next().unwrap_or(what).to_uppercase()))
        .map_err(|e| {
            Diagnostic::new(format!("cannot ask the {what}: {e}"))
                .with_help(format!("give it with {file_flag} FILE, or set it in the inventory"))
                .into()
        })
}

/// Install the vault secrets the command line names, before anything is loaded: vars
/// files, inventories and `-e @file` may be encrypted. `--ask-vault-pass` asks once.
fn setup_vault(v: &provision::cli::VaultSecretArgs, configured: Option<&Path>) -> Result<()> {
    provision_modules::util::set_vault_decryptor(|bytes| {
        provision::vault::decrypt(&String::from_utf8_lossy(bytes)).map_err(|e| e.to_string())
    });
    let sources = provision::vault::command::sources(v, configured);
    if sources.is_empty() {
        return Ok(());
    }
    let secrets = sources
        .load(&|p| provision::vault::tty_prompt(p), false)
        .map_err(|e| Diagnostic::new(e.to_string()).with_help("give the vault password with --vault-password-file FILE or --vault-id [LABEL@]FILE"))?;
    provision::vault::set_secrets(secrets);
    Ok(())
}

fn conn_options(c: &provision::cli::Common, cfg: &Config) -> Result<ConnOptions> {
    let ask_pass = c.ask_pass || cfg.bool("ask_pass") == Some(true);
    let ask_become_pass = c.ask_become_pass || cfg.bool("become_ask_pass") == Some(true);
    let become_method = c.become_method.clone().or_else(|| cfg.str("become_method"));
    let password = match (&c.connection_password_file, ask_pass) {
        (Some(f), _) => Some(read_secret_file(f)?),
        (None, true) => Some(prompt_secret("SSH password", "-k", "--connection-password-file")?),
        _ => None,
    };
    let become_password = match (&c.become_password_file, ask_become_pass) {
        (Some(f), _) => Some(read_secret_file(f)?),
        (None, true) => Some(prompt_secret("BECOME password", "-K", "--become-password-file")?),
        _ => std::env::var("PROVISION_BECOME_PASSWORD").ok(),
    };
    if let Some(m) = &become_method {
        if provision::connection::BecomeMethod::parse(m).is_none() {
            let from = match (&c.become_method, cfg.get("become_method")) {
                (None, Some(s)) => format!(" (become_method from {})", s.origin),
                _ => String::new(),
            };
            return Err(Diagnostic::new(format!("unsupported become method `{m}`{from}")).with_help("provision supports `sudo` and `su`").into());
        }
    }
    if let Some(conn) = &c.connection {
        if !["ssh", "local", "smart", "paramiko"].contains(&conn.as_str()) {
            return Err(Diagnostic::new(format!("unknown connection type `{conn}`")).with_help("use `ssh` or `local`").into());
        }
    }
    // The command line wins over the configuration (which holds the environment's ANSIBLE_*).
    Ok(ConnOptions {
        user: c.user.clone().or_else(|| cfg.str("remote_user")),
        private_key: c.private_key.clone().or_else(|| cfg.str("private_key_file").map(Into::into)),
        connection: c.connection.clone(),
        password,
        become_: c.become_ || cfg.bool("become") == Some(true),
        become_method,
        become_user: c.become_user.clone().or_else(|| cfg.str("become_user")),
        become_password,
        timeout: c.timeout.or_else(|| cfg.int("timeout")),
        command_timeout: c.task_timeout,
        ssh_common_args: c.ssh_common_args.clone().or_else(|| cfg.str("ssh_common_args")),
        ssh_args: cfg.str("ssh_args"),
        host_key_checking: cfg.bool("host_key_checking"),
        control_persist: cfg.int("control_persist"),
        lock: None,
    })
}

/// `-f`, else `forks` from the configuration, else 50.
fn forks(c: &provision::cli::Common, cfg: &Config) -> usize {
    c.forks.or_else(|| cfg.int("forks").map(|n| n as usize)).unwrap_or(50)
}

/// `stdout_callback`: what the output can do for this kind of run; a warning otherwise.
fn stdout_callback(cfg: &Config, adhoc: bool) -> String {
    let name = cfg.str("stdout_callback").unwrap_or_else(|| "default".into());
    let short = name.rsplit('.').next().unwrap_or(&name).to_string();
    let supported: &[&str] = if adhoc { &["default", "minimal", "oneline"] } else { &["default"] };
    if !supported.contains(&short.as_str()) {
        let known = ["default", "minimal", "oneline", "json"].contains(&short.as_str());
        let origin = cfg.get("stdout_callback").map(|s| s.origin.to_string()).unwrap_or_default();
        if known {
            eprintln!("[WARNING]: stdout_callback `{name}` ({origin}) is not supported for {} yet; using the default output", if adhoc { "ad-hoc runs" } else { "playbooks" });
        } else {
            eprintln!("[WARNING]: unknown stdout_callback `{name}` ({origin}); using the default output (provision knows default, minimal, oneline)");
        }
        return "default".into();
    }
    short
}

/// `log_path`: one line per run (when, who, what ran, the exit status). The command line
/// itself is not logged: it may hold secrets (`-e password=...`).
fn write_log(path: &str, what: &str, result: &Result<i32>) {
    use std::io::Write as _;
    let status = match result {
        Ok(code) => format!("exit {code}"),
        Err(e) => format!("error: {}", e.to_string().lines().next().unwrap_or_default()),
    };
    let secs = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
    let user = std::env::var("USER").unwrap_or_default();
    let line = format!("{secs} p={} u={user} | {what} | {status}\n", std::process::id());
    if let Err(e) = std::fs::OpenOptions::new().create(true).append(true).open(path).and_then(|mut f| f.write_all(line.as_bytes())) {
        eprintln!("[WARNING]: log file at {path} is not writeable: {e}");
    }
}

fn is_playbook(t: &str) -> bool {
    t.ends_with(".yml") || t.ends_with(".yaml") || Path::new(t).is_file()
}

fn main_cmd(argv: &[String]) -> Result<i32> {
    let cli = Cli::try_parse_from(argv)?;
    let cfg = load_config()?;
    let playbooks = cli.module.is_none() && cli.args.is_none() && cli.targets.iter().all(|t| is_playbook(t));
    let result = (|| {
        setup_vault(&cli.common.vault, cfg.str("vault_password_file").as_deref().map(Path::new))?;
        if playbooks {
            playbook_cmd(&cli, &cfg)
        } else {
            adhoc_cmd(&cli, &cfg)
        }
    })();
    if let Some(log) = cfg.str("log_path") {
        let what = if playbooks {
            format!("playbook {}", cli.targets.join(" "))
        } else {
            format!("ad-hoc {} -m {}", cli.targets.join(" "), cli.module.as_deref().unwrap_or("command"))
        };
        write_log(&log, &what, &result);
    }
    result
}

fn adhoc_cmd(cli: &Cli, cfg: &Config) -> Result<i32> {
    if cli.targets.len() > 1 {
        bail!(Diagnostic::new(format!("ad-hoc runs take one host pattern, got {}: {}", cli.targets.len(), cli.targets.join(" ")))
            .with_help("join patterns with `:` (`web:db`), or quote a pattern with spaces"));
    }
    let pattern = &cli.targets[0];
    if cli.output != OutputFormat::Human || cli.junit.is_some() || cli.summary.is_some() || cli.verify_idempotent || cli.profile {
        bail!(Diagnostic::new("--output, --junit, --summary, --verify-idempotent and --profile apply to playbook runs")
            .with_help("run the module from a playbook to get reports"));
    }
    let shard = cli.shard.as_deref().map(provision::run::shard::parse).transpose()?;
    let module_name = cli.module.clone().unwrap_or_else(|| "command".into());
    let Some(module) = provision_modules::find(&module_name) else {
        let names: Vec<&str> = provision_modules::registry().iter().map(|m| m.doc().name).collect();
        let mut d = Diagnostic::new(format!("unknown module `{module_name}`"));
        d = match did_you_mean(&module_name, names.iter().copied()) {
            Some(n) => d.with_help(format!("did you mean `{n}`?")),
            None => d.with_help(format!("`provision doc --list` shows the modules: {}", names.join(", "))),
        };
        bail!(d);
    };
    let doc = module.doc();
    let raw_args = cli.args.clone().unwrap_or_default();
    let parsed = if raw_args.trim_start().starts_with('{') {
        match provision::yaml::load(&raw_args, Path::new("<-a>"))? {
            Value::Object(m) => m,
            _ => bail!("module arguments in JSON must be a mapping"),
        }
    } else {
        let keys: Option<Vec<&str>> = doc.free_form.then(|| {
            if doc.name == "raw" {
                vec!["executable"]
            } else {
                provision_modules::command::FREE_FORM_KEYS.to_vec()
            }
        });
        parse_kv(&raw_args, keys.as_deref()).map_err(|e| Diagnostic::new(format!("invalid module arguments: {e}")))?
    };
    if doc.free_form && !parsed.contains_key("_raw_params") && !parsed.contains_key("cmd") && !parsed.contains_key("argv") {
        bail!(Diagnostic::new(format!("no command given to module `{}`", doc.name)).with_help(format!("provision {pattern} -m {} -a \"uname -a\"", doc.name)));
    }
    if !doc.free_form && parsed.contains_key("_raw_params") {
        bail!(Diagnostic::new(format!("module `{}` takes `key=value` arguments, got `{}`", doc.name, parsed["_raw_params"].as_str().unwrap_or("")))
            .with_help(format!("`provision doc {}` lists its arguments", doc.name)));
    }
    let args = provision_modules::validate(doc.name, doc.args, &parsed, &["_raw_params"]).map_err(|e| {
        let mut d = Diagnostic::new(e.message);
        if let Some(h) = e.hint {
            d = d.with_help(h);
        }
        d
    })?;
    let inventory = load_inventory(&cli.common.inventory, cfg)?;
    let mut hosts = inventory.select_limited(pattern, cli.common.limit.as_deref())?;
    if let Some((k, n)) = shard {
        hosts.retain(|h| provision::run::shard::in_shard(h, k, n));
    }
    if cli.list_hosts {
        println!("  hosts ({}):", hosts.len());
        for h in &hosts {
            println!("    {h}");
        }
        return Ok(0);
    }
    let out = Human::new(cli.one_line || stdout_callback(cfg, true) == "oneline");
    if hosts.is_empty() {
        out.emit(&provision::output::Event::Warning("No hosts matched, nothing to do"));
        return Ok(0);
    }
    let extra = extra_vars(&cli.common.extra_vars)?;
    let conn = conn_options(&cli.common, cfg)?;
    let run = Adhoc {
        hosts,
        module_name: module_name.clone(),
        module,
        args,
        forks: forks(&cli.common, cfg),
        check: cli.common.check,
        diff: cli.common.diff,
        extra_vars: &extra,
        conn: &conn,
    };
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().context("cannot start the async runtime")?;
    let stats = runtime.block_on(async {
        provision::interrupt::install();
        adhoc(&inventory, &run, &out).await
    })?;
    runtime.shutdown_background();
    if provision::interrupt::requested() {
        // The running commands were signalled and their connections closed.
        eprintln!("[ERROR]: {}", provision::interrupt::MESSAGE);
        return Ok(provision::interrupt::EXIT_CODE);
    }
    Ok(stats.exit_code())
}

/// Playbooks: load and validate everything first, then run (or list).
fn playbook_cmd(cli: &Cli, cfg: &Config) -> Result<i32> {
    let shard = cli.shard.as_deref().map(provision::run::shard::parse).transpose()?;
    let inventory = load_inventory(&cli.common.inventory, cfg)?;
    let mut loader = provision::playbook::Loader::new(&provision::run::CATALOG);
    if let Some(paths) = cfg.paths("roles_path") {
        let mut roles: Vec<std::path::PathBuf> = paths.into_iter().map(Into::into).collect();
        roles.extend(std::mem::take(&mut loader.roles_path));
        loader.roles_path = roles;
    }
    let mut books = Vec::new();
    for file in &cli.targets {
        let path = Path::new(file);
        if !path.exists() {
            bail!(Diagnostic::new(format!("the playbook `{file}` could not be found")).with_help("check the path, relative to the current directory"));
        }
        books.push(loader.load_playbook(path));
    }
    for w in &loader.warnings {
        eprintln!("[WARNING]: {w}");
    }
    if !loader.errors.is_empty() {
        let n = loader.errors.len();
        let mut text = String::new();
        for (i, d) in loader.errors.iter().enumerate() {
            if i > 0 {
                text.push_str("\n\nerror: ");
            }
            text.push_str(&d.to_string());
        }
        if n > 1 {
            text.push_str(&format!("\n\n{n} errors; no host was touched"));
        }
        bail!(Diagnostic::new(text));
    }
    let split = |v: &[String]| -> Vec<String> { v.iter().flat_map(|t| t.split(',')).map(|t| t.trim().to_string()).filter(|t| !t.is_empty()).collect() };
    if cli.syntax_check {
        for file in &cli.targets {
            println!("\nplaybook: {file}");
        }
        return Ok(0);
    }
    if cli.list_hosts || cli.list_tasks || cli.list_tags {
        for book in &books {
            println!("\nplaybook: {}", book.path.display());
            for (i, play) in book.plays.iter().enumerate() {
                let mut hosts = if play.hosts.contains("{{") { vec![] } else { inventory.select_limited(&play.hosts, cli.common.limit.as_deref())? };
                if let Some((k, n)) = shard {
                    hosts.retain(|h| provision::run::shard::in_shard(h, k, n));
                }
                let play_tags = play.kw.get("tags").map(|t| provision::run::play::tags_of(t)).unwrap_or_default();
                println!("\n  play #{} ({}): {}\tTAGS: [{}]", i + 1, play.hosts, play.name, play_tags.join(","));
                if cli.list_hosts {
                    println!("    pattern: ['{}']", play.hosts);
                    println!("    hosts ({}):", hosts.len());
                    for h in &hosts {
                        println!("      {h}");
                    }
                }
                let mut tasks = Vec::new();
                for list in [&play.pre_tasks, &play.roles, &play.tasks, &play.post_tasks] {
                    provision::playbook::walk_tasks(list, &mut tasks);
                }
                if cli.list_tasks {
                    println!("    tasks:");
                    for t in &tasks {
                        let tags = t.kw.get("tags").map(|v| provision::run::play::tags_of(v)).unwrap_or_default();
                        println!("      {}\tTAGS: [{}]", t.display_name(), tags.join(", "));
                    }
                }
                if cli.list_tags {
                    let mut all: Vec<String> = play_tags.clone();
                    for t in &tasks {
                        if let Some(v) = t.kw.get("tags") {
                            all.extend(provision::run::play::tags_of(v));
                        }
                    }
                    all.sort();
                    all.dedup();
                    println!("      TASK TAGS: [{}]", all.join(", "));
                }
            }
        }
        return Ok(0);
    }
    let extra = extra_vars(&cli.common.extra_vars)?;
    let mut conn = conn_options(&cli.common, cfg)?;
    stdout_callback(cfg, false);
    if !cli.no_lock {
        conn.lock = Some(provision::connection::lock::LockSpec::new(std::time::Duration::from_secs(cli.lock_wait), cli.break_lock));
    }
    let opts = provision::run::play::Options {
        check: cli.common.check,
        diff: cli.common.diff,
        forks: forks(&cli.common, cfg),
        verbosity: cli.common.verbose,
        tags: split(&cli.tags),
        skip_tags: split(&cli.skip_tags),
        start_at_task: cli.start_at_task.clone(),
        step: cli.step,
        force_handlers: cli.force_handlers,
        limit: cli.common.limit.clone(),
        shard,
        extra_vars: extra,
        conn,
    };
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().context("cannot start the async runtime")?;
    let first_dir = books.first().and_then(|b| b.path.parent().map(Path::to_path_buf)).unwrap_or_default();
    let human = cli.output == OutputFormat::Human;
    // The sinks: what stdout shows, then the reports.
    let stdout_sink = || -> Box<dyn Sink> {
        if human {
            let mut p = Printer::new(cli.common.verbose);
            p.profile = cli.profile;
            Box::new(p)
        } else {
            Box::new(JsonLines::new(std::io::stdout()))
        }
    };
    // On a terminal: the live status line (never on a pipe, never with JSON). Its sink
    // comes first, so the printer's lines are drawn under the new state.
    let live = provision::output::live::wanted(console::Term::stdout().is_term(), human, cli.step);
    let with_live = |sink: Box<dyn Sink>| -> Vec<Box<dyn Sink>> {
        if live {
            vec![Box::new(provision::output::live::Live), sink]
        } else {
            vec![sink]
        }
    };
    if live {
        provision::output::live::enable(cli.common.verbose > 0);
    }
    let events = Events::new(with_live(stdout_sink()));
    if let Some(path) = &cli.junit {
        events.add(Box::new(Junit::new(Some(path.clone()))));
    }
    let print_summary = human && cli.common.check && cli.common.diff;
    if print_summary || cli.summary.is_some() {
        events.add(Box::new(Summary::new(cli.common.check, print_summary, cli.summary.clone())));
    }
    events.emit(&Event::RunStart { check: cli.common.check, diff: cli.common.diff, shard });
    let second_inventory = cli.verify_idempotent.then(|| inventory.clone());
    let mut engine = provision::run::play::Engine::new(inventory, &opts, &first_dir);
    engine.events = events.clone();
    let outcome: Result<i32, provision::diag::Diagnostic> = runtime.block_on(async {
        provision::interrupt::install();
        let mut result = async {
            for book in &books {
                engine.run(book).await?;
            }
            Ok(engine.recap())
        }
        .await;
        if provision::interrupt::requested() {
            return interrupted(&engine, result.is_err()).await;
        }
        if let (Ok(code), true) = (&result, second_inventory.is_some()) {
            if *code != 0 {
                eprintln!("[WARNING]: the first run did not succeed; --verify-idempotent made no second run");
            }
        }
        if let (Ok(0), Some(inv)) = (&result, second_inventory) {
            // --verify-idempotent: the same playbooks again, over the same connections.
            if human {
                println!("\nIDEMPOTENCE CHECK: second run {}", "*".repeat(49));
            }
            let changed = ChangedTasks::default();
            let mut sinks = with_live(stdout_sink());
            sinks.push(Box::new(changed.clone()));
            let again = Events::new(sinks);
            again.emit(&Event::RunStart { check: cli.common.check, diff: cli.common.diff, shard });
            let mut second = engine.again(inv, &first_dir, again);
            result = async {
                for book in &books {
                    second.run(book).await?;
                }
                Ok(second.recap())
            }
            .await;
            if provision::interrupt::requested() {
                return interrupted(&second, result.is_err()).await;
            }
            let seen = changed.seen.lock().map(|s| s.clone()).unwrap_or_default();
            if !seen.is_empty() {
                for (task, host) in &seen {
                    eprintln!("not idempotent: TASK [{task}] on {host}");
                }
                eprintln!("{} task run{} changed again on the second run", seen.len(), if seen.len() == 1 { "" } else { "s" });
                result = result.map(|c| c.max(2));
            }
        }
        engine.close().await;
        result
    });
    // A command blocked on a prompt's stdin (after Ctrl-C) must not hold the exit.
    runtime.shutdown_background();
    provision::output::live::finish();
    // Reports are written also when the run stopped on an error.
    if let Err(e) = &outcome {
        events.emit(&Event::RunError { message: &e.to_string() });
    }
    let closed = events.close();
    let code = outcome?;
    closed.context("cannot write a report")?;
    Ok(code)
}

/// After Ctrl-C (see `provision::interrupt`): say so, the recap of what was done (to every
/// sink, so the reports are written), close the connections (releasing the run locks),
/// and exit with 99 as ansible-playbook does.
async fn interrupted(engine: &provision::run::play::Engine<'_>, stopped: bool) -> Result<i32, provision::diag::Diagnostic> {
    provision::output::live::stderr_line(&format!("[ERROR]: {}", provision::interrupt::MESSAGE));
    // (A run that ended anyway has printed its recap already.)
    if stopped {
        engine.recap();
    }
    engine.close().await;
    Ok(provision::interrupt::EXIT_CODE)
}

/// `provision report merge`: one recap (and JUnit report) from several JSON reports.
fn report_cmd(argv: &[String]) -> Result<i32> {
    let cli = ReportCli::try_parse_from(argv)?;
    let ReportCommand::Merge { files, junit } = cli.command;
    let mut stats: indexmap::IndexMap<String, HostStats> = indexmap::IndexMap::new();
    let mut junit_report = Junit::new(junit.clone());
    let mut unfinished = Vec::new();
    for file in &files {
        let text = std::fs::read_to_string(file).with_context(|| format!("cannot read report `{}`", file.display()))?;
        let mut recaps = 0;
        for (i, line) in text.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            let v: Value = serde_json::from_str(line).map_err(|e| {
                Diagnostic::new(format!("{}:{}: not a JSON report line: {e}", file.display(), i + 1)).with_help("reports are written by `provision PLAYBOOK --output json`")
            })?;
            match v.get("event").and_then(Value::as_str) {
                Some("recap") => {
                    recaps += 1;
                    if let Some(Value::Object(hosts)) = v.get("hosts") {
                        for (h, s) in hosts {
                            let add = provision::output::events::stats_from_json(s);
                            let t = stats.entry(h.clone()).or_default();
                            t.ok += add.ok;
                            t.changed += add.changed;
                            t.unreachable += add.unreachable;
                            t.failed += add.failed;
                            t.skipped += add.skipped;
                            t.rescued += add.rescued;
                            t.ignored += add.ignored;
                        }
                    }
                }
                Some("error") => {
                    eprintln!("[WARNING]: {}: the run stopped on an error: {}", file.display(), v.get("message").and_then(Value::as_str).unwrap_or(""));
                }
                Some(_) => junit_report.feed(&v),
                None => bail!(Diagnostic::new(format!("{}:{}: a report line without `event`", file.display(), i + 1))),
            }
        }
        if recaps == 0 {
            unfinished.push(file.display().to_string());
        }
    }
    stats.sort_keys();
    Printer::new(0).recap(&stats);
    junit_report.write().with_context(|| format!("cannot write `{}`", junit.as_ref().map(|p| p.display().to_string()).unwrap_or_default()))?;
    let mut code = if stats.values().any(|s| s.unreachable > 0) {
        4
    } else if stats.values().any(|s| s.failed > 0) {
        2
    } else {
        0
    };
    if !unfinished.is_empty() {
        eprintln!("[WARNING]: no recap in {}: that run did not finish; its hosts are missing above", unfinished.join(", "));
        code = code.max(2);
    }
    Ok(code)
}

fn inventory_cmd(argv: &[String]) -> Result<i32> {
    let cli = InventoryCli::try_parse_from(argv)?;
    let cfg = load_config()?;
    setup_vault(&cli.vault, cfg.str("vault_password_file").as_deref().map(Path::new))?;
    let inventory = load_inventory(&cli.inventory, &cfg)?;
    if let Some(host) = &cli.host {
        let Some(v) = inventory.host_json(host) else {
            let names = inventory.select("all").unwrap_or_default();
            let mut d = Diagnostic::new(format!("unknown host `{host}`"));
            if let Some(n) = did_you_mean(host, names.iter().map(String::as_str)) {
                d = d.with_help(format!("did you mean `{n}`?"));
            }
            bail!(d);
        };
        println!("{}", serde_json::to_string_pretty(&v)?);
        return Ok(0);
    }
    if cli.graph {
        print!("{}", inventory.graph(cli.group.as_deref(), cli.vars)?);
        return Ok(0);
    }
    if cli.list {
        if cli.yaml {
            print!("{}", inventory.list_yaml());
        } else {
            println!("{}", serde_json::to_string_pretty(&inventory.list_json())?);
        }
        return Ok(0);
    }
    bail!(Diagnostic::new("nothing to show").with_help("use --list, --graph or --host HOST"))
}

fn doc_cmd(argv: &[String]) -> Result<i32> {
    let cli = DocCli::try_parse_from(argv)?;
    let modules = provision_modules::registry();
    if cli.list || cli.module.is_none() {
        let mut docs: Vec<&provision_modules::ModuleDoc> = modules.iter().map(|m| m.doc()).collect();
        docs.extend(provision::run::ENGINE_DOCS.iter().copied());
        docs.sort_by_key(|d| d.name);
        for d in docs {
            println!("{:<16} {}", d.name, d.short);
        }
        return Ok(0);
    }
    let name = cli.module.unwrap_or_default();
    if let Some(doc) = provision::run::engine_doc(&name) {
        print!("{}", provision::output::doc_text(doc));
        return Ok(0);
    }
    let Some(m) = provision_modules::find(&name) else {
        let mut d = Diagnostic::new(format!("unknown module `{name}`"));
        if let Some(n) = did_you_mean(&name, modules.iter().map(|m| m.doc().name)) {
            d = d.with_help(format!("did you mean `{n}`?"));
        }
        bail!(d);
    };
    print!("{}", provision::output::doc_text(m.doc()));
    Ok(0)
}

fn vault_cmd(argv: &[String]) -> Result<i32> {
    let cfg = load_config()?;
    let configured = cfg.str("vault_password_file");
    provision::vault::command::run(argv, configured.as_deref().map(Path::new))
}

fn config_cmd(argv: &[String]) -> Result<i32> {
    let cli = ConfigCli::try_parse_from(argv)?;
    let cfg = load_config()?;
    match cli.action {
        ConfigAction::Dump { only_changed } => {
            match &cfg.file {
                Some(f) => println!("# configuration file: {}", f.display()),
                None => println!("# no configuration file found; settings from the environment and defaults"),
            }
            print!("{}", cfg.dump(only_changed));
        }
        ConfigAction::View => match &cfg.file {
            Some(f) => {
                let text = std::fs::read_to_string(f).with_context(|| format!("cannot read `{}`", f.display()))?;
                println!("# {}", f.display());
                print!("{text}");
                if !text.ends_with('\n') {
                    println!();
                }
            }
            None => bail!(Diagnostic::new("no configuration file found").with_help(
                "provision looks at $PROVISION_CONFIG, $ANSIBLE_CONFIG, ./provision.toml, ./ansible.cfg, ~/.config/provision/provision.toml, ~/.ansible.cfg, /etc/ansible/ansible.cfg"
            )),
        },
        ConfigAction::List => {
            for k in provision::config::KEYS {
                println!("{}:\n  description: {}\n  default: {}\n  ansible.cfg: {}\n  env: {}", k.name, k.help, k.default.unwrap_or("None"),
                    k.sections.iter().map(|s| format!("[{s}] {}", k.name)).collect::<Vec<_>>().join(", "), k.env.join(", "));
            }
        }
    }
    Ok(0)
}

/// The whole command line as one clap command, for completions and the man page.
fn full_command() -> clap::Command {
    use clap::CommandFactory;
    let sub = |c: clap::Command, name: &'static str| c.name(name).bin_name(format!("provision {name}"));
    Cli::command()
        .args_conflicts_with_subcommands(true)
        .subcommand_negates_reqs(true)
        .subcommand(sub(InventoryCli::command(), "inventory"))
        .subcommand(sub(DocCli::command(), "doc"))
        .subcommand(sub(provision::cli::VaultCli::command(), "vault"))
        .subcommand(sub(ConfigCli::command(), "config"))
        .subcommand(clap::Command::new("completions").about("Print shell completions (bash, zsh, fish)").arg(clap::Arg::new("shell").value_parser(["bash", "zsh", "fish"]).required(true)))
        .subcommand(clap::Command::new("man").about("Print the man page (roff) to stdout"))
}

fn completions_cmd(argv: &[String]) -> Result<i32> {
    let cmd = clap::Command::new("provision completions")
        .about("Print shell completions for provision")
        .arg(clap::Arg::new("shell").value_name("SHELL").value_parser(["bash", "zsh", "fish"]).required(true));
    let m = cmd.try_get_matches_from(argv)?;
    let shell = match m.get_one::<String>("shell").map(String::as_str) {
        Some("zsh") => clap_complete::Shell::Zsh,
        Some("fish") => clap_complete::Shell::Fish,
        _ => clap_complete::Shell::Bash,
    };
    let mut full = full_command();
    clap_complete::generate(shell, &mut full, "provision", &mut std::io::stdout());
    Ok(0)
}

fn man_cmd(argv: &[String]) -> Result<i32> {
    clap::Command::new("provision man").about("Print the man page (roff) to stdout").try_get_matches_from(argv)?;
    let cmd = full_command();
    let mut out = Vec::new();
    clap_mangen::Man::new(cmd).render(&mut out)?;
    std::io::Write::write_all(&mut std::io::stdout(), &out)?;
    Ok(0)
}
