//! The security suite: one module per class of attack a tenant-A caller
//! (or anyone on the network) could try. Each test runs the attack while
//! tenant B works ([`bystander::Bystander`]) and checks both that A gets a
//! clear 4xx and that B's `/healthz`, ingest and search kept answering
//! within a second throughout.

#[path = "../common/mod.rs"]
mod common;

mod audit;
mod baseline;
mod bystander;
mod checks;
mod http;
mod ingest;
mod login;
mod partitions;
mod sigma;
mod ssrf;
