//! The security suite: one module per class of attack a tenant-A caller
//! (or anyone on the network) could try. Each test runs the attack while
//! tenant B works ([`bystander::Bystander`]) and checks both that A gets a
//! clear 4xx and that B's `/healthz`, ingest and search kept answering
//! within a second throughout.

#[path = "../common/mod.rs"]
mod common;

mod baseline;
mod bystander;
mod ssrf;
