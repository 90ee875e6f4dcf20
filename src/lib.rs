//! `provision`: agentless configuration management that speaks Ansible's language.
//!
//! The engine lives here: the command line ([`cli`]), inventories ([`inventory`]),
//! connections to hosts ([`connection`]), the runner of ad-hoc commands ([`run`]) and the
//! output sinks ([`output`]), with Ansible Vault ([`vault`]) and the configuration files
//! ([`config`]). What happens on a host lives in the `provision-modules`
//! crate, which knows nothing of inventories or playbooks.

pub mod diag;
pub mod interrupt;
pub mod yaml;
pub mod inventory;
pub mod connection;
pub mod cli;
pub mod output;
pub mod run;
pub mod template;
pub mod playbook;
pub mod vault;
pub mod config;
