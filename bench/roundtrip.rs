//! Per-command cost of provision's SSH transport once connected: one connection to one
//! fleet host, N sequential `true` commands, each on its own channel (as a module's
//! command is). Run by bench/adhoc.sh:
//!
//!     cargo run --release --example roundtrip -- PORT N [CONCURRENCY]

use std::time::Instant;

use provision::connection::{ssh_config::SshConfig, ConnOptions, Session, Target};
use provision_modules::Remote;
use serde_json::{Map, Value};

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let port: u16 = args.get(1).map_or(Ok(22201), |p| p.parse())?;
    let n: usize = args.get(2).map_or(Ok(500), |p| p.parse())?;
    let conc: usize = args.get(3).map_or(Ok(1), |p| p.parse())?;
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut vars = Map::new();
    vars.insert("ansible_host".into(), Value::from("127.0.0.1"));
    vars.insert("ansible_port".into(), Value::from(port));
    vars.insert("ansible_user".into(), Value::from("root"));
    vars.insert("ansible_ssh_private_key_file".into(), Value::from(root.join(".fleet/keys/id_ed25519").display().to_string()));
    vars.insert(
        "ansible_ssh_common_args".into(),
        Value::from(format!("-o UserKnownHostsFile={}", root.join(".fleet/known_hosts").display())),
    );
    let target = Target::resolve("bench", &vars, &ConnOptions::default(), &SshConfig::parse(""))?;
    let rt = tokio::runtime::Runtime::new()?;
    rt.block_on(async {
        let session = Session::new(target);
        let t0 = Instant::now();
        session.connect().await?;
        let connect = t0.elapsed();
        // Warm up.
        for _ in 0..10 {
            session.exec("true", b"").await?;
        }
        let t1 = Instant::now();
        if conc <= 1 {
            for _ in 0..n {
                let out = session.exec("true", b"").await?;
                anyhow::ensure!(out.rc == 0, "rc {}", out.rc);
            }
        } else {
            use futures::stream::{self, StreamExt};
            let results: Vec<_> = stream::iter(0..n).map(|_| session.exec("true", b"")).buffer_unordered(conc).collect().await;
            for r in results {
                r?;
            }
        }
        let total = t1.elapsed();
        println!(
            "connect_ms={:.1} commands={n} concurrency={conc} total_s={:.3} ms_per_command={:.3}",
            connect.as_secs_f64() * 1000.0,
            total.as_secs_f64(),
            total.as_secs_f64() * 1000.0 / n as f64
        );
        session.close().await;
        anyhow::Ok(())
    })
}
