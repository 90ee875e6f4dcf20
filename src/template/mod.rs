//! Templates: Jinja2 with Ansible's meaning, on top of minijinja.
//!
//! The principal type is [`Templar`]: one minijinja [`Environment`] built once with Ansible's
//! filters, tests, lookups and Python methods, whose template cache compiles each distinct
//! string once. Callers hand it strings, values or template files plus the variables
//! ([`Vars`]) and search paths, and get back JSON values or a [`TemplateError`] whose
//! `Display` reads like Ansible's: ``'pkg_name' is undefined in `{{ pkg_name }}` ``.
//! Variables are never copied: filters, lookups and lazy variables read them through the
//! current call (see `Call`).
//!
//! What matches Ansible (ansible-core 2.19 was the oracle, see `unit_tests`):
//!
//! - **Native types**: a template that renders as one node (`"{{ users }}"`, also
//!   `"{% if x %}{{ [1] }}{% endif %}"`) keeps the value's type (list, dict, int, bool, null);
//!   anything else is a string. `None` prints as nothing inside a string, booleans as
//!   `True`/`False`, lists and dicts in Python's repr, floats like Python (`1e+17`). Strings
//!   without `{{`, `{%` or `{#` come back untouched without touching minijinja. Trailing
//!   newlines of the source are kept; `trim_blocks` is on.
//! - **Lazy variables**: a variable whose value (or any string nested in it) contains a
//!   template is rendered when it is used (once per call), with the same variables, so
//!   `a: "{{ b }}"` works in any order and only the parts used are rendered. A loop
//!   (`a: "{{ a }}"`) is reported as an error, not a stack overflow.
//! - **Undefined**: printing an undefined value or passing it to a filter or lookup is an
//!   error that names it (`'foo' is undefined`, `object of type 'dict' has no attribute
//!   'bar'`), while `a.b.c | default(x)`, `a.b is defined` and `a.b | mandatory` work on
//!   chains.
//! - **Unsafe strings**: `{"__ansible_unsafe": "text"}` renders as `text` and is never
//!   templated. `{"__ansible_vault": ...}` (an inline `!vault` value) is decrypted when it is
//!   used, with the secrets [`crate::vault`] holds, and never templated; so `is vault_encrypted`
//!   is true only on a value that was not looked up through a variable.
//! - **Backslashes**: inside `{{ }}` of inline templates, backslashes in string literals are
//!   literal (Ansible's `escape_backslashes`), so `regex_replace('(a)', '\1')` written in YAML
//!   works; conditionals and template files use Jinja's escapes.
//! - **Names**: every filter and test also answers to `ansible.builtin.<name>`.
//!
//! Filters (`filters`, `collections`, `paths`, `serialize`, `dates`, `ipaddr`):
//! `default`/`d`, `mandatory`, `bool`, `int`, `float`, `string`, `lower`, `upper`,
//! `capitalize`, `title`, `replace`, `trim`, `split`, `join`, `length`/`count`, `first`,
//! `last`, `min`, `max`, `sum`, `sort`, `reverse`, `unique`, `union`, `intersect`,
//! `difference`, `symmetric_difference`, `map`, `select`, `reject`, `selectattr`,
//! `rejectattr`, `groupby`, `batch`, `slice`, `dictsort`, `items`, `list`, `dict2items`,
//! `items2dict`, `combine` (`recursive`, `list_merge`), `zip`, `zip_longest`, `flatten`,
//! `product`, `permutations`, `combinations`, `subelements`, `rekey_on_member`, `extract`,
//! `regex_replace`, `regex_search`, `regex_findall`, `regex_escape`, `to_json`,
//! `to_nice_json`, `tojson`, `from_json`, `to_yaml`, `to_nice_yaml`, `from_yaml`,
//! `from_yaml_all`, `b64encode`, `b64decode`, `hash`, `checksum`, `md5`, `sha1`,
//! `password_hash` (`sha512`, `sha256`, `md5`), `to_uuid`, `quote`, `basename`, `dirname`,
//! `expanduser`, `expandvars`, `realpath`, `relpath`, `splitext`, `normpath`, `path_join`,
//! `commonpath`, `fileglob`, `urlsplit`, `urldecode`, `urlencode`, `ternary`, `type_debug`,
//! `comment`, `human_readable`, `human_to_bytes`, `random` (with Python's seeded sequence),
//! `shuffle`, `log`, `pow`, `root`, `strftime`, `format`, `indent`, `abs`, `round`,
//! `ipaddr`/`ipv4`/`ipv6`/`ipwrap` (basic queries).
//!
//! Tests (`tests`): `defined`, `undefined`, `none`, `succeeded`/`success`/`successful`,
//! `failed`/`failure`, `changed`/`change`, `skipped`/`skip`, `reachable`, `unreachable`,
//! `finished`, `started`, `timedout`, `match`, `search`, `regex`, `in`, `contains`,
//! `version`/`version_compare` (loose, strict, semver, pep440), `subset`, `superset`,
//! `string`, `number`, `mapping`, `sequence`, `iterable`, `boolean`, `truthy`, `falsy`,
//! `any`, `all`, `nan`, `vault_encrypted`, `vaulted_file`, and on controller paths `file`,
//! `directory`, `exists`, `link`, `link_exists`, `abs`, `same_file`, `mount`.
//!
//! Globals: `omit` ([`OMIT`]), `range`, `dict`, `namespace`, `lookup`, `query`/`q`, `now()`.
//! Lookups are listed in `lookups`; Python methods in `pymethods`.
//!
//! Deliberately not supported (yet):
//!
//! - Python's `%` operator on strings (`'%s' % x`): use `'%s' | format(x)` or `.format()`.
//! - An undefined variable in `if`, `not`, a comparison, `~` or a `for` loop is falsy, empty
//!   or `''` instead of an error (minijinja's chainable undefined); it is an error when it is
//!   printed, filtered, looked up, or is the whole result of `when:`.
//! - 2.19's "conditionals must be booleans": `when:` uses Python truthiness, like 2.18 did.
//! - Set operations (`union`, ...) keep the input order (integers come out sorted); Ansible
//!   returns Python set order, which for strings changes from run to run.
//! - `now()` and `strftime` use UTC (no time zone database); no `to_datetime`.
//! - `hostvars` gets no special treatment: strings in another host's vars are rendered with
//!   the current host's variables.
//! - `errors='warn'` in lookups ignores silently (there is no printer here).
//! - Lookups `url`, `csvfile`, `ini`, `config`, `inventory_hostnames`; filters
//!   `json_query`, `vault`/`unvault`, `to_datetime`, the rest of `ansible.utils`.

mod collections;
mod context;
mod crypt;
mod dates;
mod filters;
mod ipaddr;
mod lookups;
mod paths;
mod pymethods;
mod pyrandom;
mod serialize;
mod syntax;
mod tests;
mod yaml_out;

#[cfg(test)]
mod unit_tests;

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};

use minijinja::syntax::SyntaxConfig;
use minijinja::{Environment, Error, ErrorKind, Output, State, UndefinedBehavior, Value};
use serde_json::Value as Json;

use context::{AllVars, Lazy, PathKey, Root};
pub(crate) use context::{get_item, plain_value, undefined_error, value_to_json};
use syntax::{escape_backslashes, keep_trailing_newlines, normalize_path, parse_path, split_last, strip_unknown, undefined_path};

/// Variables as the engine keeps them.
pub type Vars = serde_json::Map<String, Json>;

/// The value of the `omit` variable. Callers drop module arguments equal to it.
pub const OMIT: &str = "__omit_place_holder__provision__";

/// Loader names: inline templates (backslashes escaped), bare expressions, template files.
const INLINE: char = '\u{1}';
const EXPR: char = '\u{2}';
const FILE: char = '\u{3}';

/// How deep variables may refer to variables that refer to variables...
const MAX_LAZY_DEPTH: usize = 64;

/// The key under which a value marked `!unsafe` is stored.
const UNSAFE_KEY: &str = "__ansible_unsafe";
const VAULT_KEY: &str = "__ansible_vault";

/// A template that failed: what went wrong, in which expression, and which variable was
/// undefined when that was the cause.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemplateError {
    /// What went wrong, e.g. `'pkg_name' is undefined`.
    pub message: String,
    /// The template or expression, or `file:line` for a template file.
    pub expression: String,
    /// The undefined variable or attribute path (`pkg_name`, `ansible_facts.lsb`), if any.
    pub undefined: Option<String>,
}

impl TemplateError {
    fn new(message: impl Into<String>, expression: impl Into<String>) -> TemplateError {
        TemplateError { message: message.into(), expression: expression.into(), undefined: None }
    }
}

impl fmt::Display for TemplateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.expression.is_empty() {
            f.write_str(&self.message)
        } else {
            write!(f, "{} in `{}`", self.message, self.expression)
        }
    }
}

impl std::error::Error for TemplateError {}

/// The template engine. Build one per run and share it: it is `Send + Sync`, and every
/// distinct template string is compiled once.
pub struct Templar {
    env: Environment<'static>,
    playbook_dir: PathBuf,
}

impl fmt::Debug for Templar {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Templar").field("playbook_dir", &self.playbook_dir).finish()
    }
}

impl Templar {
    /// An engine whose lookups find relative files in the search paths given to each call,
    /// then in `playbook_dir`.
    pub fn new(playbook_dir: &Path) -> Templar {
        let mut env = Environment::new();
        env.set_undefined_behavior(UndefinedBehavior::Chainable);
        // Debug info makes undefined values remember where they came from, which is what
        // lets errors name the undefined variable.
        env.set_debug(true);
        // Ansible's environment sets trim_blocks (the template module's default too).
        if let Ok(syntax) = SyntaxConfig::builder().trim_blocks(true).build() {
            env.set_syntax(syntax);
        }
        env.set_recursion_limit(200);
        env.set_formatter(format_value);
        env.set_loader(load_template);
        env.set_path_join_callback(join_template_path);
        env.set_unknown_method_callback(pymethods::call_method);
        env.add_global("omit", OMIT);
        filters::register(&mut env);
        collections::register(&mut env);
        tests::register(&mut env);
        lookups::register(&mut env);
        ipaddr::register(&mut env);
        Templar { env, playbook_dir: playbook_dir.to_path_buf() }
    }

    /// Render a string. A string that is one `{{ expr }}` gives the expression's value with
    /// its type (list, dict, int, bool, null) like Ansible; anything else gives a string.
    /// Strings without `{{`, `{%` or `{#` come back untouched.
    pub fn render_str(&self, s: &str, vars: &Vars, search: &[PathBuf]) -> Result<Json, TemplateError> {
        if !has_template(s) {
            return Ok(Json::String(s.to_string()));
        }
        let call = Call::new(self, vars, search);
        let _scope = Scope::enter(&call);
        let value = call.render_inline(s)?;
        call.to_json(&value, s)
    }

    /// Render every string inside a value (lists and dicts, keys too), recursively.
    pub fn render_value(&self, v: &Json, vars: &Vars, search: &[PathBuf]) -> Result<Json, TemplateError> {
        if !needs_render(v) {
            return Ok(v.clone());
        }
        let call = Call::new(self, vars, search);
        let _scope = Scope::enter(&call);
        call.render_json(v)
    }

    /// Evaluate a bare expression (`when:`, `until:`, `changed_when:`, `failed_when:`,
    /// `assert`'s `that:`) with Python's truthiness. The expression may itself be wrapped in
    /// `{{ }}`, as older playbooks do. An undefined result is an error.
    pub fn eval_bool(&self, expr: &str, vars: &Vars, search: &[PathBuf]) -> Result<bool, TemplateError> {
        let call = Call::new(self, vars, search);
        let _scope = Scope::enter(&call);
        let value = call.eval_conditional(expr)?;
        Ok(value.is_true())
    }

    /// Evaluate a bare expression to a value. Like [`Templar::eval_bool`], a `{{ }}`-wrapped
    /// expression is accepted.
    pub fn eval(&self, expr: &str, vars: &Vars, search: &[PathBuf]) -> Result<Json, TemplateError> {
        let call = Call::new(self, vars, search);
        let _scope = Scope::enter(&call);
        let value = if has_template(expr) {
            // Like conditionals, no backslash escaping (Ansible evaluates these the same way).
            call.render_key(&format!("{EXPR}{expr}"), expr, true)?
        } else {
            call.eval_expr(expr)?
        };
        call.to_json(&value, expr)
    }

    /// Render a template file's text (the `template` module): always a string. Variables such
    /// as `ansible_managed` and `template_path` are the caller's to set. `name` is used in
    /// errors and to find `{% include %}`d files next to it.
    pub fn render_file(&self, text: &str, name: &str, vars: &Vars, search: &[PathBuf]) -> Result<String, TemplateError> {
        let call = Call::new(self, vars, search);
        let _scope = Scope::enter(&call);
        call.render_file(text, name)
    }

    /// The directory lookups fall back to.
    pub fn playbook_dir(&self) -> &Path {
        &self.playbook_dir
    }
}

/// Whether a string holds Jinja syntax.
pub fn has_template(s: &str) -> bool {
    s.contains("{{") || s.contains("{%") || s.contains("{#")
}

/// Whether a value holds a template string or an unsafe marker anywhere (keys included).
fn needs_render(v: &Json) -> bool {
    match v {
        Json::String(s) => has_template(s),
        Json::Array(items) => items.iter().any(needs_render),
        Json::Object(m) => unsafe_text(m).is_some() || vault_text(m).is_some() || m.iter().any(|(k, v)| has_template(k) || needs_render(v)),
        _ => false,
    }
}

/// The ciphertext of an inline `!vault` value, `{"__ansible_vault": "$ANSIBLE_VAULT;..."}`.
pub(crate) fn vault_text(m: &serde_json::Map<String, Json>) -> Option<&str> {
    if m.len() == 1 {
        m.get(VAULT_KEY).and_then(Json::as_str)
    } else {
        None
    }
}

/// The text of `{"__ansible_unsafe": "text"}`.
fn unsafe_text(m: &serde_json::Map<String, Json>) -> Option<&str> {
    if m.len() == 1 {
        m.get(UNSAFE_KEY).and_then(Json::as_str)
    } else {
        None
    }
}

// ---------------------------------------------------------------------------------------------
// The call: one render with its variables, reachable from filters and lookups.

/// Everything one public call works with. Filters, lookups and lazy variables reach it
/// through [`with_call`] while minijinja runs.
pub(crate) struct Call<'a> {
    /// Tells this call's lazy values from those of another call.
    id: u64,
    pub(crate) templar: &'a Templar,
    pub(crate) vars: &'a Vars,
    pub(crate) search: &'a [PathBuf],
    /// Variables (by name) and rendered lazy strings (by path) converted in this call.
    converted: RefCell<HashMap<String, Value>>,
    /// Variables being rendered right now (recursion guard), by path (`a`, `d.x`).
    resolving: RefCell<Vec<String>>,
    /// Lazy values that rendered as undefined, by path, with the real cause.
    lazy_undefined: RefCell<HashMap<String, TemplateError>>,
    /// Errors of lazy values, so the outer error can report the inner one.
    nested: RefCell<Vec<TemplateError>>,
    /// One frame per running render: what the formatter saw.
    frames: RefCell<Vec<Frame>>,
    /// Set by `mandatory` so the undefined error reads like Ansible's.
    pub(crate) mandatory: Cell<bool>,
}

#[derive(Default)]
struct Frame {
    /// Values printed so far.
    emits: usize,
    /// The first value printed and how many bytes it took.
    first: Option<(Value, usize)>,
    /// Print undefined values as nothing (second try, see `render_key`).
    lenient: bool,
}

thread_local! {
    /// The innermost [`Call`] of this thread, type- and lifetime-erased.
    static CURRENT: Cell<*const ()> = const { Cell::new(std::ptr::null()) };
}

/// Makes a [`Call`] current for as long as it lives; restores the previous one on drop.
struct Scope {
    previous: *const (),
}

impl Scope {
    fn enter(call: &Call<'_>) -> Scope {
        let ptr = call as *const Call<'_> as *const ();
        Scope { previous: CURRENT.with(|c| c.replace(ptr)) }
    }
}

impl Drop for Scope {
    fn drop(&mut self) {
        CURRENT.with(|c| c.set(self.previous));
    }
}

/// Run `f` with the current call, if a render is running on this thread.
pub(crate) fn with_call<R>(f: impl for<'x> FnOnce(&'x Call<'x>) -> R) -> Option<R> {
    let ptr = CURRENT.with(Cell::get);
    if ptr.is_null() {
        return None;
    }
    // SAFETY: `ptr` was stored by `Scope::enter` from a `&Call` that outlives the `Scope`
    // (both live in the same public `Templar` method's frame), and `Scope::drop` restores the
    // previous pointer before that borrow ends. Scopes nest strictly because renders run
    // synchronously on this thread, so a non-null pointer always points at a live `Call`.
    // The reference handed to `f` cannot outlive this function.
    let call: &Call<'_> = unsafe { &*(ptr as *const Call<'_>) };
    Some(f(call))
}

impl<'a> Call<'a> {
    fn new(templar: &'a Templar, vars: &'a Vars, search: &'a [PathBuf]) -> Call<'a> {
        static NEXT_ID: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
        Call {
            id: NEXT_ID.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
            templar,
            vars,
            search,
            converted: RefCell::default(),
            resolving: RefCell::default(),
            lazy_undefined: RefCell::default(),
            nested: RefCell::default(),
            frames: RefCell::default(),
            mandatory: Cell::new(false),
        }
    }

    /// A new call with other variables, sharing this one's search paths (for
    /// `lookup('template', ..., template_vars=...)`).
    pub(crate) fn with_vars<'b>(&'b self, vars: &'b Vars) -> Call<'b> {
        Call::new(self.templar, vars, self.search)
    }

    /// Run `f` with `call` as the current call.
    pub(crate) fn scoped<R>(call: &Call<'_>, f: impl FnOnce() -> R) -> R {
        let _scope = Scope::enter(call);
        f()
    }

    /// A variable by name, converted for minijinja (lazily rendered where needed).
    pub(crate) fn lookup_var(&self, name: &str) -> Option<Value> {
        if let Some(v) = self.converted.borrow().get(name) {
            return Some(v.clone());
        }
        let value = match self.vars.get(name) {
            Some(json) => self.convert(json, &[PathKey::Key(name.to_string())], name),
            None if name == "vars" => Value::from_object(AllVars),
            None => return None,
        };
        self.converted.borrow_mut().insert(name.to_string(), value.clone());
        Some(value)
    }

    /// Convert part of the variables (at `pointer`, printed as `path`) for minijinja:
    /// containers become [`Lazy`] views, template strings are rendered (once per call).
    fn convert(&self, json: &Json, pointer: &[PathKey], path: &str) -> Value {
        match json {
            Json::String(s) if has_template(s) => {
                if let Some(v) = self.converted.borrow().get(path) {
                    return v.clone();
                }
                let value = self.render_lazy(s, path);
                self.converted.borrow_mut().insert(path.to_string(), value.clone());
                value
            }
            Json::Object(m) if unsafe_text(m).is_some() => Value::from(unsafe_text(m).unwrap_or_default()),
            // Decrypted when used, as Ansible does; the plaintext is never templated.
            Json::Object(m) if vault_text(m).is_some() => match crate::vault::decrypt_inline(vault_text(m).unwrap_or_default()) {
                Ok(text) => Value::from(text),
                Err(message) => {
                    let e = TemplateError::new(message, path);
                    self.nested.borrow_mut().push(e.clone());
                    Value::from(Error::new(ErrorKind::InvalidOperation, e.message))
                }
            },
            Json::Array(a) => Value::from_object(Lazy::new(self.id, pointer, path, Some(a.len()))),
            Json::Object(_) => Value::from_object(Lazy::new(self.id, pointer, path, None)),
            _ => plain_value(json),
        }
    }

    /// Render the template string of a variable, guarding against loops.
    fn render_lazy(&self, s: &str, path: &str) -> Value {
        let (looping, depth) = {
            let resolving = self.resolving.borrow();
            (resolving.iter().any(|p| p == path), resolving.len())
        };
        // Each level is a nested render on the Rust stack; Ansible stops at Python's limit.
        if looping || depth >= MAX_LAZY_DEPTH {
            let message = if looping {
                format!("recursive loop detected in template: `{path}` refers to itself")
            } else {
                format!("recursive loop detected in template: more than {MAX_LAZY_DEPTH} nested variables at `{path}`")
            };
            let e = TemplateError::new(message, s);
            self.nested.borrow_mut().push(e.clone());
            return Value::from(Error::new(ErrorKind::InvalidOperation, e.message));
        }
        self.resolving.borrow_mut().push(path.to_string());
        let result = self.render_inline(s);
        self.resolving.borrow_mut().pop();
        match result {
            Ok(v) => v,
            Err(e) if e.undefined.is_some() => {
                // Undefined stays undefined, so `lazy | default(x)` and `is defined` work; the
                // cause is kept for the error if it gets printed.
                self.lazy_undefined.borrow_mut().insert(path.to_string(), e);
                Value::UNDEFINED
            }
            Err(e) => {
                self.nested.borrow_mut().push(e.clone());
                Value::from(Error::new(ErrorKind::InvalidOperation, e.message))
            }
        }
    }

    /// Render an inline template (task argument, variable value) to a native value.
    pub(crate) fn render_inline(&self, s: &str) -> Result<Value, TemplateError> {
        let key = format!("{INLINE}{}", escape_backslashes(s));
        let value = self.render_key(&key, s, true)?;
        match value.as_str() {
            Some(text) if value.kind() == minijinja::value::ValueKind::String => {
                Ok(Value::from(keep_trailing_newlines(s, text.to_string())))
            }
            _ => Ok(value),
        }
    }

    /// Evaluate a bare expression to a native value.
    pub(crate) fn eval_expr(&self, expr: &str) -> Result<Value, TemplateError> {
        let key = format!("{EXPR}{{{{ {expr} }}}}");
        let value = self.render_key(&key, expr, true)?;
        if value.is_undefined() {
            return Err(TemplateError::new("the expression is undefined", expr));
        }
        Ok(value)
    }

    /// A conditional: a bare expression, or a templated one whose result, if a string, is
    /// evaluated again (the legacy `when: "{{ x }} == 1"` form).
    fn eval_conditional(&self, expr: &str) -> Result<Value, TemplateError> {
        let expr = expr.trim();
        if expr.is_empty() {
            return Ok(Value::from(true));
        }
        if !has_template(expr) {
            return self.eval_expr(expr);
        }
        let key = format!("{EXPR}{expr}");
        let value = self.render_key(&key, expr, true)?;
        match value.as_str() {
            Some(s) if value.kind() == minijinja::value::ValueKind::String => {
                let s = s.trim();
                if s.is_empty() || has_template(s) {
                    Ok(Value::from(!s.is_empty()))
                } else {
                    self.eval_expr(s)
                }
            }
            _ if value.is_undefined() => Err(TemplateError::new("the conditional is undefined", expr)),
            _ => Ok(value),
        }
    }

    pub(crate) fn render_file(&self, text: &str, name: &str) -> Result<String, TemplateError> {
        let key = format!("{FILE}{name}\u{0}{text}");
        let value = self.render_key(&key, name, false)?;
        Ok(keep_trailing_newlines(text, value.to_string()))
    }

    /// Render the template stored under `key`. `native` returns the value of a template that
    /// printed exactly one value and nothing else (Jinja's native concat).
    fn render_key(&self, key: &str, source: &str, native: bool) -> Result<Value, TemplateError> {
        let template = match self.templar.env.get_template(key) {
            Ok(t) => t,
            Err(e) => return Err(self.error(e, source)),
        };
        let mut lenient = false;
        loop {
            self.frames.borrow_mut().push(Frame { lenient, ..Frame::default() });
            let result = template.render(Value::from_object(Root));
            let frame = self.frames.borrow_mut().pop().unwrap_or_default();
            match result {
                Ok(out) => {
                    if native && frame.emits == 1 {
                        if let Some((value, len)) = frame.first {
                            if len == out.len() {
                                return Ok(value);
                            }
                        }
                    }
                    return Ok(Value::from(out));
                }
                // An undefined value without an origin is the missing `else` of an inline
                // `if` (Jinja prints nothing for it); minijinja's formatter cannot tell it
                // from a real undefined, so render once more printing undefined as nothing.
                Err(e) if !lenient && e.kind() == ErrorKind::UndefinedError && e.detail().is_none() => {
                    lenient = true;
                }
                Err(e) => return Err(self.error(e, source)),
            }
        }
    }

    /// Render every string in a value (the engine's JSON), keys included.
    fn render_json(&self, v: &Json) -> Result<Json, TemplateError> {
        Ok(match v {
            Json::String(s) if has_template(s) => {
                let value = self.render_inline(s)?;
                self.to_json(&value, s)?
            }
            Json::Array(items) => Json::Array(items.iter().map(|i| self.render_json(i)).collect::<Result<_, _>>()?),
            Json::Object(m) => {
                if let Some(text) = unsafe_text(m) {
                    return Ok(Json::String(text.to_string()));
                }
                if let Some(cipher) = vault_text(m) {
                    return crate::vault::decrypt_inline(cipher).map(Json::String).map_err(|message| TemplateError::new(message, "!vault"));
                }
                let mut out = serde_json::Map::new();
                for (k, v) in m {
                    let key = if has_template(k) {
                        match self.render_json(&Json::String(k.clone()))? {
                            Json::String(s) => s,
                            other => other.to_string(),
                        }
                    } else {
                        k.clone()
                    };
                    out.insert(key, self.render_json(v)?);
                }
                Json::Object(out)
            }
            other => other.clone(),
        })
    }

    /// Convert a minijinja value back to the engine's JSON.
    pub(crate) fn to_json(&self, v: &Value, source: &str) -> Result<Json, TemplateError> {
        value_to_json(v).map_err(|e| self.error(e, source))
    }

    /// Turn a minijinja error into a [`TemplateError`] that reads like Ansible's.
    fn error(&self, e: Error, source: &str) -> TemplateError {
        let mut expression = source.to_string();
        if let (Some(name), Some(line)) = (e.name(), e.line()) {
            if let Some(file) = name.strip_prefix(FILE) {
                let file = file.split('\u{0}').next().unwrap_or(file);
                expression = format!("{file}:{line}");
            } else if !name.starts_with(INLINE) && !name.starts_with(EXPR) {
                expression = format!("{name}:{line}");
            }
        }
        let detail = e.detail().unwrap_or_default().to_string();
        if let Some(nested) = self.nested.borrow().iter().rev().find(|n| n.message == detail) {
            return nested.clone();
        }
        if let Some(path) = undefined_path(&detail) {
            if let Some(cause) = self.lazy_undefined.borrow().get(&normalize_path(&path)) {
                return cause.clone();
            }
            let message = if self.mandatory.replace(false) {
                format!("Mandatory variable '{path}' not defined.")
            } else {
                self.describe_undefined(&path)
            };
            return TemplateError { message, expression, undefined: Some(path) };
        }
        let message = match e.kind() {
            ErrorKind::SyntaxError => format!("syntax error in template: {detail}"),
            ErrorKind::UnknownFilter => format!("no filter named '{}'", strip_unknown(&detail, "filter ")),
            ErrorKind::UnknownTest => format!("no test named '{}'", strip_unknown(&detail, "test ")),
            ErrorKind::UnknownFunction => {
                let name = strip_unknown(&detail, "");
                return TemplateError { message: format!("'{name}' is undefined"), expression, undefined: Some(name) };
            }
            ErrorKind::UndefinedError => "undefined value".to_string(),
            ErrorKind::TemplateNotFound => format!("template not found: {detail}"),
            _ if detail.is_empty() => e.kind().to_string(),
            _ => detail,
        };
        TemplateError { message, expression, undefined: None }
    }

    /// `'x' is undefined` or `object of type 'dict' has no attribute 'y'` for a path.
    fn describe_undefined(&self, path: &str) -> String {
        let Some((parent, attr)) = split_last(path) else {
            return format!("'{path}' is undefined");
        };
        let attr_text = if attr.parse::<i64>().is_ok() { attr.to_string() } else { format!("'{attr}'") };
        match self.eval_path(parent) {
            Some(v) if !v.is_undefined() => {
                format!("object of type '{}' has no attribute {attr_text}", python_type(&v))
            }
            _ => format!("'{parent}' has no attribute {attr_text}"),
        }
    }

    /// The value of a plain path like `a.b[0]['c']`, without running any code.
    fn eval_path(&self, path: &str) -> Option<Value> {
        let segments = parse_path(path)?;
        let (root, rest) = segments.split_first()?;
        let mut value = self.lookup_var(root.as_str()?)?;
        for segment in rest {
            value = value.get_item(segment).ok()?;
        }
        Some(value)
    }
}

/// The formatter: Ansible's printing of values, strict about undefined, and the frame
/// bookkeeping that gives single-expression templates their native type.
fn format_value(out: &mut Output<'_>, state: &mut State<'_, '_>, value: &Value) -> Result<(), Error> {
    let lenient = with_call(|c| c.frames.borrow().last().is_some_and(|f| f.lenient)).unwrap_or(false);
    if value.is_undefined() && !lenient {
        return Err(undefined_error(value));
    }
    let text = filters::py_print(value);
    with_call(|c| {
        if let Some(frame) = c.frames.borrow_mut().last_mut() {
            frame.emits += 1;
            if frame.emits == 1 {
                frame.first = Some((value.clone(), text.len()));
            }
        }
    });
    let _ = state;
    out.write_str(&text).map_err(|_| Error::new(ErrorKind::WriteFailure, "cannot write output"))
}

/// The loader behind the template cache: the name carries the source.
fn load_template(name: &str) -> Result<Option<String>, Error> {
    if let Some(src) = name.strip_prefix(INLINE).or_else(|| name.strip_prefix(EXPR)) {
        return Ok(Some(src.to_string()));
    }
    if let Some(rest) = name.strip_prefix(FILE) {
        return Ok(rest.split_once('\u{0}').map(|(_, text)| text.to_string()));
    }
    // `{% include %}`, `{% import %}`: a path resolved by `join_template_path`.
    match std::fs::read_to_string(name) {
        Ok(text) => Ok(Some(text)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(Error::new(ErrorKind::InvalidOperation, format!("cannot read template {name}: {e}"))),
    }
}

/// Resolve `{% include 'x.j2' %}` against the including file's directory, then the search
/// paths (and their `templates/`), then the playbook directory.
fn join_template_path<'s>(name: &'s str, parent: &'s str) -> std::borrow::Cow<'s, str> {
    let mut dirs: Vec<PathBuf> = Vec::new();
    if let Some(file) = parent.strip_prefix(FILE).and_then(|p| p.split('\u{0}').next()) {
        if let Some(dir) = Path::new(file).parent() {
            dirs.push(dir.to_path_buf());
        }
    } else if !parent.starts_with(INLINE) && !parent.starts_with(EXPR) {
        if let Some(dir) = Path::new(parent).parent() {
            dirs.push(dir.to_path_buf());
        }
    }
    let found = with_call(|c| {
        dirs.extend(lookups::search_dirs(c, "templates"));
        dirs.iter().map(|d| d.join(name)).find(|p| p.is_file())
    })
    .flatten();
    match found {
        Some(p) => p.to_string_lossy().into_owned().into(),
        None => name.into(),
    }
}

/// Python's name for a value's type, as `type_debug` and error messages print it.
pub(crate) fn python_type(v: &Value) -> &'static str {
    use minijinja::value::ValueKind as K;
    match v.kind() {
        K::Undefined => "AnsibleUndefined",
        K::None => "NoneType",
        K::Bool => "bool",
        K::Number if v.is_integer() => "int",
        K::Number => "float",
        K::String => "str",
        K::Bytes => "bytes",
        K::Seq => "list",
        K::Map => "dict",
        K::Iterable => "generator",
        _ => "object",
    }
}
