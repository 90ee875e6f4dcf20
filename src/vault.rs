//! Ansible Vault: the `$ANSIBLE_VAULT` format, its secrets, and transparent decryption.
//!
//! The format is ansible-core's (`parsing/vault/__init__.py`), byte for byte:
//!
//! ```text
//! $ANSIBLE_VAULT;1.1;AES256            (or `;1.2;AES256;<vault-id>` with a vault id)
//! 3338376535...                          hex, 80 columns, newline-terminated
//! ```
//!
//! The body is `hexlify(hexlify(salt) \n hexlify(hmac) \n hexlify(ciphertext))`, where a
//! PBKDF2-HMAC-SHA256 (10000 rounds, 32-byte salt) of the password gives 80 bytes: the
//! AES-256 key, the HMAC-SHA256 key and the CTR initial counter. The plaintext is PKCS#7
//! padded before AES-256-CTR; the HMAC covers the ciphertext and is checked in constant
//! time before anything is decrypted.
//!
//! [`Secret`]s come from `--vault-password-file`, `--vault-id [label@]source` (a file, an
//! executable whose stdout is the password, or `prompt`) and `--ask-vault-pass`. The command
//! line installs them once with [`set_secrets`]; after that the YAML loader decrypts whole
//! encrypted files ([`decrypt_file_text`]) and the templar decrypts inline `!vault` values
//! when they are used ([`decrypt_inline`]), as Ansible does lazily. Where an inline value was
//! written is remembered ([`remember_location`]) so that a missing password names file:line.

pub mod command;

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, RwLock};

use aes::Aes256;
use ctr::cipher::{KeyIvInit, StreamCipher};
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

/// The first bytes of every vaulted text.
pub const HEADER: &str = "$ANSIBLE_VAULT";
/// The vault id of secrets given without a label.
pub const DEFAULT_ID: &str = "default";
const ITERATIONS: u32 = 10_000;

/// Why a vaulted text could not be read or written. The messages are Ansible's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VaultError {
    /// No secret was given at all.
    NoSecrets,
    /// Secrets were given, none decrypts.
    NoMatchingSecret,
    /// Not `$ANSIBLE_VAULT;...` or a broken body.
    Format(String),
    /// Anything else (password files, scripts, prompts).
    Other(String),
}

impl fmt::Display for VaultError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            VaultError::NoSecrets => f.write_str("Attempting to decrypt but no vault secrets found"),
            VaultError::NoMatchingSecret => f.write_str("Decryption failed (no vault secrets were found that could decrypt)"),
            VaultError::Format(m) | VaultError::Other(m) => f.write_str(m),
        }
    }
}

impl std::error::Error for VaultError {}

impl VaultError {
    /// How to give a password, for errors about missing ones.
    pub fn help(&self) -> Option<&'static str> {
        match self {
            VaultError::NoSecrets => Some("give the vault password with --vault-password-file FILE, --vault-id [LABEL@]FILE or --ask-vault-pass"),
            VaultError::NoMatchingSecret => Some("check that the vault password (or the --vault-id label) is the one this value was encrypted with"),
            _ => None,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Hex

fn hexlify(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(DIGITS[(b >> 4) as usize] as char);
        s.push(DIGITS[(b & 15) as usize] as char);
    }
    s
}

fn unhexlify(text: &[u8]) -> Result<Vec<u8>, VaultError> {
    let bad = || VaultError::Format("Vault format unhexlify error: the body is not hexadecimal".into());
    if text.len() % 2 != 0 {
        return Err(bad());
    }
    let digit = |c: u8| -> Result<u8, VaultError> {
        match c {
            b'0'..=b'9' => Ok(c - b'0'),
            b'a'..=b'f' => Ok(c - b'a' + 10),
            b'A'..=b'F' => Ok(c - b'A' + 10),
            _ => Err(bad()),
        }
    };
    text.chunks(2).map(|p| Ok(digit(p[0])? << 4 | digit(p[1])?)).collect()
}

// ---------------------------------------------------------------------------------------------
// The cipher

struct Keys {
    aes: [u8; 32],
    mac: [u8; 32],
    iv: [u8; 16],
}

fn derive(password: &[u8], salt: &[u8]) -> Keys {
    let mut out = [0u8; 80];
    pbkdf2::pbkdf2_hmac::<Sha256>(password, salt, ITERATIONS, &mut out);
    let mut k = Keys { aes: [0; 32], mac: [0; 32], iv: [0; 16] };
    k.aes.copy_from_slice(&out[..32]);
    k.mac.copy_from_slice(&out[32..64]);
    k.iv.copy_from_slice(&out[64..80]);
    k
}

fn ctr(keys: &Keys, data: &mut [u8]) {
    // Key and IV have the right lengths by construction.
    let mut cipher = ctr::Ctr128BE::<Aes256>::new_from_slices(&keys.aes, &keys.iv).expect("AES-256 key and 16-byte IV");
    cipher.apply_keystream(data);
}

fn mac(keys: &Keys) -> Hmac<Sha256> {
    <Hmac<Sha256> as KeyInit>::new_from_slice(&keys.mac).expect("HMAC takes any key length")
}

/// The hex body (before 80-column folding) of `plaintext` encrypted with `password`.
fn encrypt_body(plaintext: &[u8], password: &[u8], salt: &[u8]) -> String {
    let keys = derive(password, salt);
    let pad = 16 - plaintext.len() % 16;
    let mut data = plaintext.to_vec();
    data.extend(std::iter::repeat_n(pad as u8, pad));
    ctr(&keys, &mut data);
    let mut m = mac(&keys);
    m.update(&data);
    let tag = m.finalize().into_bytes();
    let inner = format!("{}\n{}\n{}", hexlify(salt), hexlify(&tag), hexlify(&data));
    hexlify(inner.as_bytes())
}

/// Decrypt a hex body with one password; `None` when the HMAC does not match.
fn decrypt_body(body: &[u8], password: &[u8]) -> Result<Option<Vec<u8>>, VaultError> {
    let inner = unhexlify(body)?;
    let mut parts = inner.splitn(3, |b| *b == b'\n');
    let (Some(salt), Some(tag), Some(data)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(VaultError::Format("Vault format error: expected salt, HMAC and ciphertext".into()));
    };
    let salt = unhexlify(salt)?;
    let tag = unhexlify(tag)?;
    let mut data = unhexlify(data)?;
    let keys = derive(password, &salt);
    let mut m = mac(&keys);
    m.update(&data);
    // verify_slice compares in constant time.
    if m.verify_slice(&tag).is_err() {
        return Ok(None);
    }
    ctr(&keys, &mut data);
    let pad = data.last().copied().unwrap_or(0) as usize;
    if pad == 0 || pad > 16 || pad > data.len() || !data[data.len() - pad..].iter().all(|b| *b as usize == pad) {
        return Err(VaultError::Format("Vault format error: bad padding after decryption".into()));
    }
    data.truncate(data.len() - pad);
    Ok(Some(data))
}

/// The parts of a `$ANSIBLE_VAULT;...` text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Envelope {
    pub version: String,
    pub cipher: String,
    pub vault_id: Option<String>,
    /// The hex body, lines joined.
    pub body: String,
}

/// Whether a text (or file content) is vault-encrypted.
pub fn is_encrypted(text: &[u8]) -> bool {
    text.starts_with(HEADER.as_bytes())
}

/// Split a vaulted text into header fields and body.
pub fn parse_envelope(text: &str) -> Result<Envelope, VaultError> {
    let text = text.trim_start();
    let mut lines = text.lines();
    let header = lines.next().unwrap_or_default().trim();
    let fields: Vec<&str> = header.split(';').map(str::trim).collect();
    if fields.first() != Some(&HEADER) || fields.len() < 3 {
        return Err(VaultError::Format("Input is not vault encrypted data".into()));
    }
    if fields[2] != "AES256" {
        return Err(VaultError::Format(format!("Cipher '{}' could not be found", fields[2])));
    }
    let body: String = lines.flat_map(|l| l.trim().chars()).collect();
    Ok(Envelope {
        version: fields[1].to_string(),
        cipher: fields[2].to_string(),
        vault_id: fields.get(3).map(|s| s.to_string()),
        body,
    })
}

/// Encrypt `plaintext` as a complete vaulted text (header, 80-column body, final newline).
/// A `vault_id` other than `default` makes a 1.2 header that names it. `salt` is for
/// tests; normally 32 random bytes.
pub fn encrypt(plaintext: &[u8], password: &[u8], vault_id: Option<&str>, salt: Option<&[u8]>) -> Result<String, VaultError> {
    if is_encrypted(plaintext) {
        return Err(VaultError::Other("input is already encrypted".into()));
    }
    let random;
    let salt = match salt {
        Some(s) => s,
        None => {
            let mut s = [0u8; 32];
            getrandom::fill(&mut s).map_err(|e| VaultError::Other(format!("cannot get random bytes for the salt: {e}")))?;
            random = s;
            &random
        }
    };
    let body = encrypt_body(plaintext, password, salt);
    let mut out = match vault_id {
        Some(id) if !id.is_empty() && id != DEFAULT_ID => format!("{HEADER};1.2;AES256;{id}\n"),
        _ => format!("{HEADER};1.1;AES256\n"),
    };
    for chunk in body.as_bytes().chunks(80) {
        out.push_str(std::str::from_utf8(chunk).unwrap_or_default());
        out.push('\n');
    }
    Ok(out)
}

// ---------------------------------------------------------------------------------------------
// Secrets

/// One vault password with its vault id (`default` when unlabelled).
#[derive(Clone)]
pub struct Secret {
    pub id: String,
    bytes: Vec<u8>,
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Secret({}, <redacted>)", self.id)
    }
}

impl Secret {
    pub fn new(id: impl Into<String>, password: impl Into<Vec<u8>>) -> Secret {
        Secret { id: id.into(), bytes: password.into() }
    }

    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }
}

/// Decrypt a vaulted text with the first secret that fits: the one whose id the header
/// names first, then all the others (Ansible's default, `vault_id_match = False`).
/// Returns the plaintext and the id of the secret used.
pub fn decrypt_with(text: &str, secrets: &[Secret]) -> Result<(Vec<u8>, String), VaultError> {
    let env = parse_envelope(text)?;
    if secrets.is_empty() {
        return Err(VaultError::NoSecrets);
    }
    let mut order: Vec<&Secret> = Vec::new();
    if let Some(id) = &env.vault_id {
        order.extend(secrets.iter().filter(|s| &s.id == id));
    }
    order.extend(secrets.iter().filter(|s| Some(&s.id) != env.vault_id.as_ref()));
    for s in order {
        if let Some(plain) = decrypt_body(env.body.as_bytes(), &s.bytes)? {
            return Ok((plain, s.id.clone()));
        }
    }
    Err(VaultError::NoMatchingSecret)
}

/// Split `--vault-id` into label and source: `dev@file`, `file` (label `default`), `@prompt`.
pub fn split_vault_id(slug: &str) -> (Option<&str>, &str) {
    match slug.split_once('@') {
        Some((label, source)) => (Some(label).filter(|l| !l.is_empty()), source),
        None => (None, slug),
    }
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// Read one password from a source: a file (stripped), or an executable file whose
/// stdout is the password. A `-client` script gets `--vault-id LABEL`, as in Ansible.
pub fn read_password_source(source: &Path, label: &str) -> Result<Vec<u8>, VaultError> {
    if !source.exists() {
        return Err(VaultError::Other(format!("The vault password file {} was not found", source.display())));
    }
    if source.is_dir() {
        return Err(VaultError::Other(format!("The vault password file provided '{}' can not be a directory", source.display())));
    }
    let trim = |mut b: &[u8]| -> Vec<u8> {
        while let [rest @ .., b'\r' | b'\n'] = b {
            b = rest;
        }
        while let [b'\r' | b'\n', rest @ ..] = b {
            b = rest;
        }
        b.to_vec()
    };
    let password = if is_executable(source) {
        let mut cmd = std::process::Command::new(std::path::absolute(source).unwrap_or_else(|_| source.to_path_buf()));
        let stem = source.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
        if stem.ends_with("-client") {
            cmd.arg("--vault-id").arg(label);
        }
        let out = cmd.stderr(std::process::Stdio::inherit()).output().map_err(|e| {
            VaultError::Other(format!(
                "Problem running vault password script {} ({e}). If this is not a script, remove the executable bit from the file.",
                source.display()
            ))
        })?;
        if !out.status.success() {
            return Err(VaultError::Other(format!(
                "Vault password script {} returned non-zero ({})",
                source.display(),
                out.status.code().unwrap_or(-1)
            )));
        }
        let p = trim(&out.stdout);
        if p.is_empty() {
            return Err(VaultError::Other(format!("Invalid vault password was provided from script ({})", source.display())));
        }
        p
    } else {
        let raw = std::fs::read(source).map_err(|e| VaultError::Other(format!("Could not read vault password file '{}': {e}", source.display())))?;
        let p = trim(String::from_utf8_lossy(&raw).trim().as_bytes());
        if p.is_empty() {
            return Err(VaultError::Other(format!("Invalid vault password was provided from file ({})", source.display())));
        }
        p
    };
    Ok(password)
}

/// Where vault passwords come from, as given on the command line (and `vault_password_file`
/// from the configuration).
#[derive(Debug, Clone, Default)]
pub struct SecretSources {
    /// `--vault-id [label@]source`, in order.
    pub vault_ids: Vec<String>,
    /// `--vault-password-file FILE`, in order.
    pub password_files: Vec<PathBuf>,
    /// `--ask-vault-pass`.
    pub ask: bool,
}

impl SecretSources {
    pub fn is_empty(&self) -> bool {
        self.vault_ids.is_empty() && self.password_files.is_empty() && !self.ask
    }

    /// Load every secret. `prompt` asks for a password on the terminal (given the prompt
    /// text); `confirm` asks twice (for new passwords).
    pub fn load(&self, prompt: &dyn Fn(&str) -> Result<String, VaultError>, new: bool) -> Result<Vec<Secret>, VaultError> {
        let mut slugs: Vec<String> = self.vault_ids.clone();
        slugs.extend(self.password_files.iter().map(|p| p.display().to_string()));
        if self.ask {
            slugs.push("prompt_ask_vault_pass".into());
        }
        let mut out = Vec::new();
        for slug in &slugs {
            let (label, source) = split_vault_id(slug);
            let id = label.unwrap_or(DEFAULT_ID).to_string();
            if source == "prompt" || source == "prompt_ask_vault_pass" {
                let (first, second) = match (source, new) {
                    ("prompt", false) => (format!("Vault password ({id}): "), None),
                    ("prompt", true) => (format!("New vault password ({id}): "), Some(format!("Confirm new vault password ({id}): "))),
                    (_, false) => ("Vault password: ".to_string(), None),
                    (_, true) => ("New Vault password: ".to_string(), Some("Confirm New Vault password: ".to_string())),
                };
                let p = prompt(&first)?;
                if let Some(second) = second {
                    if prompt(&second)? != p {
                        return Err(VaultError::Other("Passwords do not match".into()));
                    }
                }
                let p = p.trim().to_string();
                if p.is_empty() {
                    return Err(VaultError::Other("Invalid vault password was provided from prompt".into()));
                }
                out.push(Secret::new(id, p.into_bytes()));
                continue;
            }
            out.push(Secret::new(id.clone(), read_password_source(Path::new(source), &id)?));
        }
        Ok(out)
    }
}

/// Ask for a password on the terminal; without one, an error that says how to give it.
pub fn tty_prompt(text: &str) -> Result<String, VaultError> {
    if !std::io::IsTerminal::is_terminal(&std::io::stdin()) {
        return Err(VaultError::Other(
            "--ask-vault-pass needs a terminal to ask the vault password; give it with --vault-password-file FILE or --vault-id [LABEL@]FILE".into(),
        ));
    }
    rpassword::prompt_password(text).map_err(|e| {
        VaultError::Other(format!(
            "cannot ask the vault password ({e}); give it with --vault-password-file FILE or --vault-id [LABEL@]FILE"
        ))
    })
}

// ---------------------------------------------------------------------------------------------
// The process-wide secrets and transparent decryption

static SECRETS: RwLock<Vec<Secret>> = RwLock::new(Vec::new());
static LOCATIONS: Mutex<Option<HashMap<String, String>>> = Mutex::new(None);
static PLAIN: Mutex<Option<HashMap<String, String>>> = Mutex::new(None);

/// Install the secrets every later load and template uses.
pub fn set_secrets(secrets: Vec<Secret>) {
    *SECRETS.write().unwrap_or_else(|e| e.into_inner()) = secrets;
    *PLAIN.lock().unwrap_or_else(|e| e.into_inner()) = None;
}

/// Decrypt with the installed secrets.
pub fn decrypt(text: &str) -> Result<Vec<u8>, VaultError> {
    let secrets = SECRETS.read().unwrap_or_else(|e| e.into_inner());
    decrypt_with(text, &secrets).map(|(p, _)| p)
}

/// A whole vaulted file's text, decrypted (for YAML files and copy/template sources).
pub fn decrypt_file_text(text: &str) -> Result<String, VaultError> {
    let plain = decrypt(text)?;
    String::from_utf8(plain).map_err(|_| VaultError::Other("the decrypted content is not UTF-8 text".into()))
}

/// Note where an inline `!vault` value was written, for errors when it is used.
pub fn remember_location(ciphertext: &str, file: &Path, line: usize) {
    let mut map = LOCATIONS.lock().unwrap_or_else(|e| e.into_inner());
    map.get_or_insert_with(HashMap::new).entry(ciphertext.trim().to_string()).or_insert_with(|| format!("{}:{line}", file.display()));
}

/// Where an inline value was written (`file:line`), if it was read from a file.
pub fn location_of(ciphertext: &str) -> Option<String> {
    LOCATIONS.lock().unwrap_or_else(|e| e.into_inner()).as_ref()?.get(ciphertext.trim()).cloned()
}

/// An inline `!vault` value, decrypted (cached: each value costs one PBKDF2 per run).
/// The error names where the value was written when that is known.
pub fn decrypt_inline(ciphertext: &str) -> Result<String, String> {
    if let Some(p) = PLAIN.lock().unwrap_or_else(|e| e.into_inner()).as_ref().and_then(|m| m.get(ciphertext)) {
        return Ok(p.clone());
    }
    match decrypt(ciphertext) {
        Ok(bytes) => {
            let text = String::from_utf8_lossy(&bytes).into_owned();
            PLAIN.lock().unwrap_or_else(|e| e.into_inner()).get_or_insert_with(HashMap::new).insert(ciphertext.to_string(), text.clone());
            Ok(text)
        }
        Err(e) => {
            let hint = match e {
                VaultError::NoSecrets => "; give --vault-password-file, --vault-id or --ask-vault-pass",
                _ => "",
            };
            Err(match location_of(ciphertext) {
                Some(at) => format!("{e} (the vaulted value at {at}{hint})"),
                None if hint.is_empty() => e.to_string(),
                None => format!("{e} ({})", &hint[2..]),
            })
        }
    }
}

/// Whether a string is the plaintext of an inline value decrypted in this run (for the
/// `vault_encrypted` test, which sees values after decryption).
pub fn is_decrypted_value(s: &str) -> bool {
    PLAIN.lock().unwrap_or_else(|e| e.into_inner()).as_ref().is_some_and(|m| m.values().any(|p| p == s))
}

/// Whether an error message is one of [`decrypt_inline`]'s.
pub fn is_vault_error(message: &str) -> bool {
    message.starts_with("Attempting to decrypt but no vault secrets found")
        || message.starts_with("Decryption failed (no vault secrets")
        || message.starts_with("Vault format")
        || message.starts_with("Input is not vault encrypted data")
}

#[cfg(test)]
mod tests {
    use super::*;

    const SALT: &[u8] = b"0123456789abcdef0123456789abcdef";

    #[test]
    fn hex_round_trip() {
        assert_eq!(hexlify(b"\x00\xffa"), "00ff61");
        assert_eq!(unhexlify(b"00FF61").unwrap(), b"\x00\xffa");
        assert!(unhexlify(b"0g").is_err());
    }

    #[test]
    fn fixed_salt_gives_ansibles_bytes() {
        // ansible-core 2.19: VaultLib([('default', VaultSecret(b'pass'))]).encrypt('hello\n',
        // salt=b'0123456789abcdef0123456789abcdef')
        let text = encrypt(b"hello\n", b"pass", None, Some(SALT)).unwrap();
        assert_eq!(text, ANSIBLE_HELLO);
        let (plain, id) = decrypt_with(ANSIBLE_HELLO, &[Secret::new("default", "pass")]).unwrap();
        assert_eq!(plain, b"hello\n");
        assert_eq!(id, "default");
    }

    #[test]
    fn vault_id_makes_a_1_2_header() {
        let text = encrypt(b"x", b"pw", Some("prod"), Some(SALT)).unwrap();
        assert!(text.starts_with("$ANSIBLE_VAULT;1.2;AES256;prod\n"));
        assert!(text.lines().skip(1).all(|l| l.len() <= 80));
        assert!(text.ends_with('\n'));
        let env = parse_envelope(&text).unwrap();
        assert_eq!(env.vault_id.as_deref(), Some("prod"));
        // The labelled secret is tried first, but any secret that fits decrypts.
        let secrets = [Secret::new("dev", "nope"), Secret::new("other", "pw")];
        assert_eq!(decrypt_with(&text, &secrets).unwrap(), (b"x".to_vec(), "other".to_string()));
        assert!(encrypt(b"x", b"pw", Some("default"), Some(SALT)).unwrap().starts_with("$ANSIBLE_VAULT;1.1;AES256\n"));
    }

    #[test]
    fn wrong_or_missing_password_and_tampering() {
        let text = encrypt(b"secret", b"right", None, None).unwrap();
        assert_eq!(decrypt_with(&text, &[]), Err(VaultError::NoSecrets));
        assert_eq!(decrypt_with(&text, &[Secret::new("default", "wrong")]), Err(VaultError::NoMatchingSecret));
        // Flip one hex digit of the ciphertext: the HMAC no longer matches.
        let mut bytes = text.into_bytes();
        let n = bytes.len() - 3;
        bytes[n] = if bytes[n] == b'0' { b'1' } else { b'0' };
        let tampered = String::from_utf8(bytes).unwrap();
        assert!(decrypt_with(&tampered, &[Secret::new("default", "right")]).is_err());
        assert!(encrypt(b"$ANSIBLE_VAULT;1.1;AES256\n00", b"p", None, None).is_err());
    }

    #[test]
    fn empty_and_block_sized_plaintexts() {
        for plain in [&b""[..], &[7u8; 16][..], &[1u8; 33][..]] {
            let text = encrypt(plain, b"p", None, None).unwrap();
            assert_eq!(decrypt_with(&text, &[Secret::new("default", "p")]).unwrap().0, plain);
        }
    }

    #[test]
    fn vault_id_slugs() {
        assert_eq!(split_vault_id("dev@pw.txt"), (Some("dev"), "pw.txt"));
        assert_eq!(split_vault_id("pw.txt"), (None, "pw.txt"));
        assert_eq!(split_vault_id("@prompt"), (None, "prompt"));
    }

    const ANSIBLE_HELLO: &str = "$ANSIBLE_VAULT;1.1;AES256
33303331333233333334333533363337333833393631363236333634363536363330333133323333
3334333533363337333833393631363236333634363536360a656664303435633463626439366637
38373961383761613033643265393938663234393237306536323535333466623236663463663938
3661646534333161300a333266326131343334303566306566616535393865303961393031633964
6363
";
}
