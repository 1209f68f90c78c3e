//! The harness itself: with no attack, B is served well (so that a class
//! failing below is the attack's doing, not the bystander's).

use crate::bystander::Bystander;
use crate::common::Server;

#[test]
fn bystander_is_served_without_an_attack() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start(dir.path());
    let bravo = Bystander::start(&server, "bravo");
    std::thread::sleep(std::time::Duration::from_secs(1));
    let seen = bravo.finish();
    assert!(seen.rounds >= 2, "{seen:?}");
}
