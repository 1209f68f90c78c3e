//! The SNMP BER codec on arbitrary bytes: decoding never panics; whatever
//! decodes re-encodes to the canonical form, which decodes to the same
//! message (and the same auth-parameter offset for v3) and encodes to the
//! same bytes again. Also the scoped PDU (what privacy decrypts) and OID
//! text.

#![no_main]

use libfuzzer_sys::fuzz_target;
use vigil_snmp::ber::{
    decode_message_with_auth_offset, decode_scoped_pdu, encode_message_with_auth_offset,
    encode_scoped_pdu, Message,
};
use vigil_snmp::Oid;

fuzz_target!(|data: &[u8]| {
    if let Ok((msg, auth_at)) = decode_message_with_auth_offset(data) {
        if let (Some(at), Message::V3(m)) = (auth_at, &msg) {
            assert_eq!(&data[at..at + m.usm.auth_params.len()], &m.usm.auth_params[..]);
        }
        let (bytes, at) = encode_message_with_auth_offset(&msg);
        let (again, at_again) =
            decode_message_with_auth_offset(&bytes).expect("a re-encoded message decodes");
        assert_eq!(again, msg);
        assert_eq!(at, at_again);
        assert_eq!(encode_message_with_auth_offset(&again).0, bytes);
    }
    if let Ok(scoped) = decode_scoped_pdu(data) {
        let bytes = encode_scoped_pdu(&scoped);
        let again = decode_scoped_pdu(&bytes).expect("a re-encoded scoped PDU decodes");
        assert_eq!(again, scoped);
        assert_eq!(encode_scoped_pdu(&again), bytes);
    }
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(oid) = text.parse::<Oid>() {
            let shown = oid.to_string();
            assert_eq!(shown.parse::<Oid>().unwrap(), oid);
        }
    }
});
