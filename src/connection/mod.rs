//! Connections to hosts: SSH (russh) and local.

pub mod known_hosts;
pub mod ssh_config;
