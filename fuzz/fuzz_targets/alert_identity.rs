//! What API callers and logs put into alert identity and paging: a user
//! name (`DOMAIN\user`, `user@domain`) and an alert-list cursor. Neither
//! may panic; the identity is stable (a key of a key is the key for names
//! without domain parts) and bounded; a cursor either reads or is refused,
//! and one that reads encodes back to a cursor that reads the same.

#![no_main]

use libfuzzer_sys::fuzz_target;
use vigil_core::identity::{user_identity, MAX_USER_BYTES};
use vigil_store::state::AlertCursor;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let key = user_identity(&text);
    // NFKC expands at most 18-fold, lower case at most 3-fold.
    assert!(key.len() <= MAX_USER_BYTES * 18 * 3);
    assert_eq!(key, user_identity(&text));
    if let Ok(cursor) = AlertCursor::decode(&text) {
        let again = AlertCursor::decode(&cursor.encode()).expect("an encoded cursor reads");
        assert_eq!(again, cursor);
    }
});
