//! `provision vault ACTION`: ansible-vault's actions, messages and exit statuses.
//!
//! Bad options (no password, several vault ids to encrypt with and none chosen) are
//! [`OptionsError`]s, which exit with 5 as in ansible-vault; everything else exits with 1.

use std::io::{IsTerminal, Read, Write};
use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Context as _, Result};

use super::{decrypt_with, encrypt, parse_envelope, tty_prompt, Secret, SecretSources, VaultError};
use crate::cli::{VaultAction, VaultCli, VaultEncryptArgs, VaultSecretArgs};

/// A mistake in the options: ansible-vault's `AnsibleOptionsError`, exit status 5.
#[derive(Debug)]
pub struct OptionsError(pub String);

impl std::fmt::Display for OptionsError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for OptionsError {}

/// The password sources of the command line, or else `vault_password_file` from the
/// configuration (given by the caller). Ansible adds the configured file to the command
/// line's; using it only when the command line names none avoids asking which of two
/// secrets to encrypt with.
pub fn sources(args: &VaultSecretArgs, configured: Option<&Path>) -> SecretSources {
    let mut password_files = args.vault_password_file.clone();
    if let Some(p) = configured {
        if password_files.is_empty() && args.vault_id.is_empty() && !args.ask_vault_pass {
            password_files.push(p.to_path_buf());
        }
    }
    SecretSources { vault_ids: args.vault_id.clone(), password_files, ask: args.ask_vault_pass }
}

/// Load the secrets; with no source at all, ask on the terminal (ansible-vault's
/// auto-prompt) or fail with an [`OptionsError`].
fn load(mut src: SecretSources, new: bool, what: &str) -> Result<Vec<Secret>> {
    for slug in &src.vault_ids {
        if let (Some(label), _) = super::split_vault_id(slug) {
            if label.contains(';') {
                bail!(OptionsError(format!("'{label}' is not a valid vault id. The character ';' is not allowed in vault ids")));
            }
        }
    }
    if src.is_empty() {
        if !std::io::stdin().is_terminal() {
            bail!(OptionsError(format!("{what}; give it with --vault-password-file FILE or --vault-id [LABEL@]FILE")));
        }
        src.ask = true;
    }
    let secrets = src.load(&|p| tty_prompt(p), new).map_err(|e| anyhow!(e.to_string()))?;
    if secrets.is_empty() {
        bail!(OptionsError(what.to_string()));
    }
    Ok(secrets)
}

/// The secret to encrypt with: the only one, or the one `--encrypt-vault-id` names.
fn encrypt_secret(secrets: &[Secret], enc: &VaultEncryptArgs) -> Result<Secret> {
    if let Some(id) = &enc.encrypt_vault_id {
        return secrets.iter().find(|s| &s.id == id).cloned().ok_or_else(|| {
            let ids: Vec<String> = secrets.iter().map(|s| format!("'{}'", s.id)).collect();
            anyhow!(OptionsError(format!("Did not find a match for --encrypt-vault-id={id} in the known vault-ids [{}]", ids.join(", "))))
        });
    }
    if secrets.len() > 1 {
        let ids: Vec<&str> = secrets.iter().map(|s| s.id.as_str()).collect();
        bail!(OptionsError(format!(
            "The vault-ids {} are available to encrypt. Specify the vault-id to encrypt with --encrypt-vault-id",
            ids.join(",")
        )));
    }
    Ok(secrets[0].clone())
}

fn read_input(path: &Path) -> Result<Vec<u8>> {
    if path == Path::new("-") {
        let mut buf = Vec::new();
        std::io::stdin().read_to_end(&mut buf).context("cannot read stdin")?;
        return Ok(buf);
    }
    std::fs::read(path).with_context(|| format!("cannot read `{}`", path.display()))
}

/// Write a file as ansible-vault does: private (0600) unless it keeps `mode`, replaced
/// atomically through a temporary file beside it. `-` is stdout.
fn write_output(path: &Path, data: &[u8], mode: Option<u32>) -> Result<()> {
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    if path == Path::new("-") {
        let mut out = std::io::stdout().lock();
        out.write_all(data)?;
        out.flush()?;
        return Ok(());
    }
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let tmp = dir.join(format!(".{name}.provision-vault.{}", std::process::id()));
    let result = (|| -> std::io::Result<()> {
        let mut f = std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(&tmp)?;
        f.write_all(data)?;
        f.sync_all()?;
        if let Some(m) = mode {
            std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(m))?;
        }
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result.with_context(|| format!("cannot write `{}`", path.display()))
}

fn mode_of(path: &Path) -> Option<u32> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).ok().map(|m| m.permissions().mode() & 0o7777)
}

fn decrypt_file(path: &Path, secrets: &[Secret]) -> Result<(Vec<u8>, String)> {
    let data = read_input(path)?;
    let shown = if path == Path::new("-") { "stdin".to_string() } else { path.display().to_string() };
    if !super::is_encrypted(&data) {
        bail!("input is not vault encrypted data. {shown} is not a vault encrypted file for {shown}");
    }
    let text = String::from_utf8_lossy(&data);
    decrypt_with(&text, secrets).map_err(|e| match e {
        VaultError::NoMatchingSecret => anyhow!("Decryption failed (no vault secrets were found that could decrypt) on {shown} for {shown}"),
        other => anyhow!("{other} ({shown})"),
    })
}

/// Run `$EDITOR` (default `vi`) on a private temporary copy of `plain`; the edited bytes.
fn edit_in_editor(plain: &[u8], name_hint: &Path) -> Result<Vec<u8>> {
    use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
    let base = std::env::temp_dir().join(format!("provision-vault-{}-{}", std::process::id(), rand_suffix()));
    std::fs::DirBuilder::new().mode(0o700).create(&base).with_context(|| format!("cannot create `{}`", base.display()))?;
    let ext = name_hint.extension().map(|e| format!(".{}", e.to_string_lossy())).unwrap_or_default();
    let tmp = base.join(format!("tmp{ext}"));
    let result = (|| -> Result<Vec<u8>> {
        let mut f = std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(&tmp)?;
        f.write_all(plain)?;
        drop(f);
        let editor = std::env::var("EDITOR").ok().filter(|e| !e.trim().is_empty()).unwrap_or_else(|| "vi".into());
        let mut words = shlex::split(&editor).ok_or_else(|| anyhow!("cannot parse $EDITOR `{editor}`"))?;
        if words.is_empty() {
            words.push("vi".into());
        }
        let status = std::process::Command::new(&words[0])
            .args(&words[1..])
            .arg(&tmp)
            .status()
            .with_context(|| format!("cannot run the editor `{}`", words[0]))?;
        if !status.success() {
            bail!("the editor `{editor}` exited with {status}; nothing was saved");
        }
        Ok(std::fs::read(&tmp)?)
    })();
    // Overwrite the plaintext before removing it.
    if let Ok(m) = std::fs::metadata(&tmp) {
        let _ = std::fs::write(&tmp, vec![0u8; m.len() as usize]);
    }
    let _ = std::fs::remove_dir_all(&base);
    result
}

fn rand_suffix() -> String {
    provision_modules::util::random_hex(6)
}

/// Ansible's `!vault |` block, indented 10 columns, with `name: ` when named.
pub fn format_yaml(ciphertext: &str, name: Option<&str>) -> String {
    let mut lines = vec![match name {
        Some(n) => format!("{n}: !vault |"),
        None => "!vault |".to_string(),
    }];
    lines.extend(ciphertext.lines().map(|l| format!("{}{l}", " ".repeat(10))));
    lines.join("\n")
}

fn done(msg: &str) {
    if std::io::stdout().is_terminal() {
        eprintln!("{msg}");
    }
}

const NEED: &str = "A vault password is required to use Ansible's Vault";

/// Run `provision vault ...`.
pub fn run(argv: &[String], configured_password_file: Option<&Path>) -> Result<i32> {
    let cli = <VaultCli as clap::Parser>::try_parse_from(argv)?;
    let src = |s: &VaultSecretArgs| sources(s, configured_password_file);
    match cli.action {
        VaultAction::Create { file, skip_tty_check, enc, secrets } => {
            let secret = encrypt_secret(&load(src(&secrets), true, NEED)?, &enc)?;
            if file.exists() {
                bail!("{} exists, please use 'edit' instead", file.display());
            }
            if !std::io::stdout().is_terminal() && !skip_tty_check {
                bail!(OptionsError("not a tty, editor cannot be opened".into()));
            }
            let plain = edit_in_editor(b"", &file)?;
            let text = encrypt(&plain, secret.bytes(), Some(&secret.id), None)?;
            write_output(&file, text.as_bytes(), None)?;
        }
        VaultAction::Edit { files, secrets } => {
            let secrets = load(src(&secrets), false, NEED)?;
            for file in files {
                let (plain, id) = decrypt_file(&file, &secrets)?;
                let raw = std::fs::read_to_string(&file).unwrap_or_default();
                // Keep the file's vault id; encrypt with the secret that opened it.
                let vault_id = parse_envelope(&raw).ok().and_then(|e| e.vault_id);
                let secret = secrets.iter().find(|s| s.id == id).cloned().unwrap_or_else(|| secrets[0].clone());
                let edited = edit_in_editor(&plain, &file)?;
                if edited == plain {
                    continue;
                }
                let text = encrypt(&edited, secret.bytes(), vault_id.as_deref().or(Some(&secret.id)), None)?;
                write_output(&file, text.as_bytes(), mode_of(&file))?;
            }
        }
        VaultAction::View { files, secrets } => {
            let secrets = load(src(&secrets), false, NEED)?;
            let mut out = std::io::stdout().lock();
            for file in files {
                let (plain, _) = decrypt_file(&file, &secrets)?;
                out.write_all(&plain)?;
            }
            out.flush()?;
        }
        VaultAction::Encrypt { files, output, enc, secrets } => {
            let secret = encrypt_secret(&load(src(&secrets), true, NEED)?, &enc)?;
            if output.is_some() && files.len() > 1 {
                bail!(OptionsError("At most one input file may be used with the --output option".into()));
            }
            if files.is_empty() && std::io::stdin().is_terminal() {
                eprintln!("Reading plaintext input from stdin");
            }
            let files = if files.is_empty() { vec![PathBuf::from("-")] } else { files };
            for file in &files {
                let plain = read_input(file)?;
                if super::is_encrypted(&plain) {
                    bail!("input is already encrypted");
                }
                let text = encrypt(&plain, secret.bytes(), Some(&secret.id), None)?;
                let dest = output.clone().unwrap_or_else(|| file.clone());
                write_output(&dest, text.as_bytes(), None)?;
            }
            done("Encryption successful");
        }
        VaultAction::Decrypt { files, output, secrets } => {
            let secrets = load(src(&secrets), false, NEED)?;
            if output.is_some() && files.len() > 1 {
                bail!(OptionsError("At most one input file may be used with the --output option".into()));
            }
            if files.is_empty() && std::io::stdin().is_terminal() {
                eprintln!("Reading ciphertext input from stdin");
            }
            let files = if files.is_empty() { vec![PathBuf::from("-")] } else { files };
            for file in &files {
                let (plain, _) = decrypt_file(file, &secrets)?;
                let dest = output.clone().unwrap_or_else(|| file.clone());
                let mode = if output.is_none() { mode_of(file) } else { None };
                write_output(&dest, &plain, mode)?;
            }
            done("Decryption successful");
        }
        VaultAction::Rekey { files, new_vault_password_file, new_vault_id, enc, secrets } => {
            let old = load(src(&secrets), false, NEED)?;
            let new_src = SecretSources {
                vault_ids: new_vault_id.into_iter().collect(),
                password_files: new_vault_password_file.into_iter().collect(),
                ask: secrets.ask_vault_pass,
            };
            let new_secrets = load(new_src, true, "A new vault password is required to use Ansible's Vault rekey")?;
            let new_secret = encrypt_secret(&new_secrets, &enc)?;
            for file in &files {
                let (plain, _) = decrypt_file(file, &old)?;
                let text = encrypt(&plain, new_secret.bytes(), Some(&new_secret.id), None)?;
                write_output(file, text.as_bytes(), mode_of(file))?;
            }
            eprintln!("Rekey successful");
        }
        VaultAction::EncryptString { strings, name, stdin_name, prompt, output, enc, secrets } => {
            let secret = encrypt_secret(&load(src(&secrets), true, NEED)?, &enc)?;
            let args: Vec<String> = strings.iter().filter(|s| *s != "-").cloned().collect();
            let read_stdin = strings.iter().any(|s| s == "-") || stdin_name.is_some() || (strings.is_empty() && !prompt);
            if prompt && read_stdin {
                bail!(OptionsError("The --prompt option is not supported if also reading input from stdin".into()));
            }
            let mut items: Vec<(Vec<u8>, &str, Option<String>)> = Vec::new();
            if prompt {
                let var = rpassword::prompt_password("Variable name (enter for no name): ").unwrap_or_default();
                let text = tty_prompt("String to encrypt (hidden): ").map_err(|e| anyhow!(e.to_string()))?;
                if text.is_empty() {
                    bail!(OptionsError("The plaintext provided from the prompt was empty, not encrypting".into()));
                }
                items.push((text.into_bytes(), "the interactive prompt", Some(var).filter(|v| !v.is_empty())));
            }
            if read_stdin {
                if std::io::stdin().is_terminal() {
                    eprintln!("Reading plaintext input from stdin. (ctrl-d to end input, twice if your content does not already have a newline)");
                }
                let data = read_input(Path::new("-"))?;
                if data.is_empty() {
                    bail!(OptionsError("stdin was empty, not encrypting".into()));
                }
                items.push((data, "stdin", stdin_name.clone()));
            }
            if !name.is_empty() && args.len() > name.len() {
                eprintln!("The number of --name options do not match the number of args.");
                eprintln!("The last named variable will be \"{}\". The rest will not have names.", name[name.len() - 1]);
            }
            for (i, text) in args.iter().enumerate() {
                if text.is_empty() {
                    bail!(OptionsError("The plaintext provided from the command line args was empty, not encrypting".into()));
                }
                items.push((text.clone().into_bytes(), "the command line args", name.get(i).cloned()));
            }
            let several = items.len() > 1;
            let mut outs = Vec::new();
            for (i, (plain, from, var)) in items.iter().enumerate() {
                let ciphertext = encrypt(plain, secret.bytes(), Some(&secret.id), None)?;
                if several {
                    match var {
                        Some(v) => eprint!("# The encrypted version of variable (\"{v}\", the string #{} from {from}).\n", i + 1),
                        None => eprint!("# The encrypted version of the string #{} from {from}.)\n", i + 1),
                    }
                }
                outs.push(format_yaml(&ciphertext, var.as_deref()));
            }
            outs.push(String::new());
            write_output(output.as_deref().unwrap_or(Path::new("-")), outs.join("\n").as_bytes(), None)?;
            done("Encryption successful");
        }
    }
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yaml_block_like_ansible() {
        let c = "$ANSIBLE_VAULT;1.1;AES256\n3132\n3334\n";
        assert_eq!(format_yaml(c, Some("pw")), "pw: !vault |\n          $ANSIBLE_VAULT;1.1;AES256\n          3132\n          3334");
        assert!(format_yaml(c, None).starts_with("!vault |\n          $ANSIBLE"));
    }

    #[test]
    fn encrypt_secret_needs_a_choice_among_several() {
        let s = [Secret::new("a", "1"), Secret::new("b", "2")];
        let e = encrypt_secret(&s, &VaultEncryptArgs::default()).unwrap_err();
        assert!(e.to_string().contains("The vault-ids a,b are available"), "{e}");
        let b = encrypt_secret(&s, &VaultEncryptArgs { encrypt_vault_id: Some("b".into()) }).unwrap();
        assert_eq!(b.id, "b");
        assert!(encrypt_secret(&s, &VaultEncryptArgs { encrypt_vault_id: Some("c".into()) }).is_err());
    }
}
