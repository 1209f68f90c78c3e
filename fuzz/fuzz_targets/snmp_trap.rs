//! The trap decoder on arbitrary datagrams: never panics, and a trap it
//! returns keeps the shape it promises (a name, the varbinds after the
//! two standard ones).

#![no_main]

use libfuzzer_sys::fuzz_target;
use vigil_snmp::decode_trap;

fuzz_target!(|data: &[u8]| {
    let peer = "192.0.2.1:162".parse().unwrap();
    if let Ok(trap) = decode_trap(data, peer) {
        assert!(!trap.name.is_empty());
        assert_eq!(trap.peer, peer);
        assert!(trap.varbinds.len() <= vigil_snmp::ber::MAX_VARBINDS - 2);
    }
});
