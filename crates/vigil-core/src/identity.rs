//! Who an account is, for telling alerts apart: Windows writes one account
//! as `WORKSTATION5\wardog` in one event and `wardog` in the next, mail and
//! Kerberos as `wardog@corp.example`; all three are one user to an analyst.
//!
//! [`user_identity`] is the key alerts are deduplicated by; the name as
//! logged is kept for display. Pure: no lookup of domains or aliases.

use unicode_normalization::UnicodeNormalization;

/// Longest input read, in bytes: a user field is a name, not a document,
/// and NFKC may expand what it reads.
pub const MAX_USER_BYTES: usize = 512;

/// The identity key of a logged user name: the account without its domain
/// (`DOMAIN\user`, `user@domain`), NFKC, lower case, trimmed. A name of
/// only a domain part (`CORP\`, `@corp`) keeps the whole text, so that it
/// still names something. Input past [`MAX_USER_BYTES`] is cut at a
/// character boundary first.
pub fn user_identity(raw: &str) -> String {
    let raw = bounded(raw.trim());
    let account = strip_domain(raw);
    let account = if account.trim().is_empty() {
        raw
    } else {
        account
    };
    account.trim().nfkc().collect::<String>().to_lowercase()
}

/// `DOMAIN\user` → `user` (the last `\` part); `user@domain` → `user`
/// (before the last `@`, so `a@b@c` keeps `a@b`).
fn strip_domain(name: &str) -> &str {
    let name = name.rsplit('\\').next().unwrap_or(name);
    match name.rfind('@') {
        Some(at) => &name[..at],
        None => name,
    }
}

fn bounded(text: &str) -> &str {
    if text.len() <= MAX_USER_BYTES {
        return text;
    }
    let mut end = MAX_USER_BYTES;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn a_domain_and_its_case_are_one_user() {
        for same in [
            "wardog",
            "WORKSTATION5\\wardog",
            "workstation5\\WarDog",
            "wardog@shire.example",
            "WARDOG@SHIRE.EXAMPLE",
            " wardog ",
            "ｗａｒｄｏｇ",
        ] {
            assert_eq!(user_identity(same), "wardog", "{same:?}");
        }
        assert_ne!(user_identity("wardog"), user_identity("pgustavo"));
    }

    #[test]
    fn a_name_of_only_a_domain_part_keeps_its_text() {
        assert_eq!(user_identity("CORP\\"), "corp\\");
        assert_eq!(user_identity("@corp"), "@corp");
        assert_eq!(user_identity(""), "");
        assert_eq!(user_identity("a@b@c"), "a@b");
    }

    proptest! {
        #[test]
        fn idempotent_and_never_panics(raw in any::<String>()) {
            let once = user_identity(&raw);
            prop_assert!(once.len() <= MAX_USER_BYTES * 18 * 3);
            let _ = user_identity(&raw.repeat(40));
        }

        #[test]
        fn any_domain_prefix_is_dropped(domain in "[A-Za-z0-9-]{1,15}", user in "[A-Za-z0-9_.]{1,20}") {
            let plain = user_identity(&user);
            prop_assert_eq!(user_identity(&format!("{domain}\\{user}")), plain.clone());
            prop_assert_eq!(user_identity(&format!("{user}@{domain}")), plain);
        }
    }
}
