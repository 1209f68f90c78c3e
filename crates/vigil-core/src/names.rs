//! Names people choose (user names), normalised so that two names that look
//! the same are the same name.
//!
//! - [`normalize`] turns what a person typed into the name that is stored:
//!   Unicode NFKC (so `ｎｏｃ＿ａ`, full-width, is `noc_a`), and refuses
//!   characters that do not show or that mislead in logs and audit trails:
//!   control characters, format characters (zero-width spaces and joiners,
//!   bidi overrides, soft hyphens), whitespace, unassigned, private-use and
//!   surrogate code points. Case is kept for display.
//! - [`key`] is what uniqueness and lookup use: the normalised name in lower
//!   case, so `noc_a` and `NOC_A` are one name. A lookup key is computed
//!   leniently (a name that [`normalize`] refuses has no key and so names no
//!   one).
//!
//! Pure functions: the store calls them on create and on every lookup.

use unicode_normalization::UnicodeNormalization;
use unicode_properties::{GeneralCategory, UnicodeGeneralCategory};

/// Longest name, in characters after normalisation.
pub const MAX_NAME_CHARS: usize = 64;

/// Longest input read at all, in bytes: NFKC can expand a character up to
/// 18-fold, so the input is bounded before it is normalised.
pub const MAX_INPUT_BYTES: usize = 1024;

/// Why a name was refused. The message names the offending character by its
/// code point, never prints it raw (it may be invisible).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    #[error("must be 1 to {MAX_NAME_CHARS} characters long")]
    Length,
    #[error("must not contain {what} (U+{code:04X} at character {position})")]
    Character {
        what: &'static str,
        code: u32,
        position: usize,
    },
}

/// The stored form of a name: NFKC, with no invisible, control or
/// whitespace characters, 1 to [`MAX_NAME_CHARS`] characters.
pub fn normalize(raw: &str) -> Result<String, NameError> {
    if raw.is_empty() || raw.len() > MAX_INPUT_BYTES {
        return Err(NameError::Length);
    }
    let name: String = raw.nfkc().collect();
    let chars = name.chars().count();
    if chars == 0 || chars > MAX_NAME_CHARS {
        return Err(NameError::Length);
    }
    for (position, c) in name.chars().enumerate() {
        if let Some(what) = refused(c) {
            return Err(NameError::Character {
                what,
                code: u32::from(c),
                position: position + 1,
            });
        }
    }
    Ok(name)
}

/// The key two names share when they are the same name: the normalised
/// name in lower case (NFKC again, as lowercasing can leave a string that
/// is not in NFKC). `None` when [`normalize`] refuses the name.
pub fn key(raw: &str) -> Option<String> {
    let name = normalize(raw).ok()?;
    Some(key_of_normalized(&name))
}

/// [`key`] of a name that is already normalised.
pub fn key_of_normalized(name: &str) -> String {
    name.to_lowercase().nfkc().collect()
}

/// What kind of refused character `c` is, if it is one.
fn refused(c: char) -> Option<&'static str> {
    if c.is_whitespace() {
        return Some("whitespace");
    }
    match c.general_category() {
        GeneralCategory::Control => Some("a control character"),
        GeneralCategory::Format => Some("an invisible format character"),
        GeneralCategory::LineSeparator
        | GeneralCategory::ParagraphSeparator
        | GeneralCategory::SpaceSeparator => Some("whitespace"),
        GeneralCategory::Surrogate | GeneralCategory::PrivateUse | GeneralCategory::Unassigned => {
            Some("an unassigned or private-use character")
        }
        // Default-ignorable code points that are not Cf (Hangul fillers,
        // variation selectors) render as nothing too.
        _ if is_default_ignorable(c) => Some("an invisible character"),
        _ => None,
    }
}

/// Default-ignorable code points outside the Cf category (Unicode's
/// DerivedCoreProperties, the ranges that are not format characters).
fn is_default_ignorable(c: char) -> bool {
    matches!(
        u32::from(c),
        0x034F
            | 0x115F..=0x1160
            | 0x17B4..=0x17B5
            | 0x180B..=0x180F
            | 0x3164
            | 0xFE00..=0xFE0F
            | 0xFFA0
            | 0xE0100..=0xE01EF
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn plain_names_pass_unchanged() {
        for ok in ["alice", "a", "bob@example.com", "é", "NOC_A", "José.Ñ"] {
            assert_eq!(normalize(ok).as_deref(), Ok(ok), "{ok}");
        }
        assert!(normalize(&"x".repeat(MAX_NAME_CHARS)).is_ok());
    }

    #[test]
    fn compatibility_forms_fold_to_one_name() {
        assert_eq!(normalize("ｎｏｃ＿ａ").as_deref(), Ok("noc_a"));
        // "e" + combining acute is "é".
        assert_eq!(normalize("e\u{301}").as_deref(), Ok("é"));
        assert_eq!(normalize("ﬁ").as_deref(), Ok("fi"));
    }

    #[test]
    fn case_is_one_name() {
        assert_eq!(key("noc_a"), key("NOC_A"));
        assert_eq!(key("noc_a"), key("Noc_A"));
        assert_eq!(key("ｎｏｃ＿Ａ").as_deref(), Some("noc_a"));
        assert_ne!(key("noc_a"), key("noc_b"));
    }

    #[test]
    fn invisible_and_control_characters_are_refused() {
        for bad in [
            "noc_a\u{200B}", // zero-width space
            "noc\u{200D}_a", // zero-width joiner
            "\u{FEFF}noc_a", // byte order mark
            "noc_a\u{202E}", // right-to-left override
            "noc\u{00AD}_a", // soft hyphen
            "noc_a\u{7}",
            "noc_a\n",
            "a b",
            "a\u{3000}b", // ideographic space
            "a\u{2028}b",
            "a\u{E000}",   // private use
            "a\u{FE0F}",   // variation selector
            "a\u{3164}",   // Hangul filler
            "a\u{10FFFF}", // noncharacter, unassigned
        ] {
            let e = normalize(bad).expect_err(bad);
            assert!(matches!(e, NameError::Character { .. }), "{bad:?}: {e}");
            assert_eq!(key(bad), None);
        }
        let e = normalize("noc_a\u{200B}").unwrap_err().to_string();
        assert_eq!(
            e,
            "must not contain an invisible format character (U+200B at character 6)"
        );
    }

    #[test]
    fn lengths_are_bounded() {
        assert_eq!(normalize(""), Err(NameError::Length));
        assert_eq!(normalize(&"x".repeat(65)), Err(NameError::Length));
        // Expands 18-fold under NFKC: refused for its normalised length.
        assert_eq!(normalize(&"\u{FDFA}".repeat(4)), Err(NameError::Length));
        assert_eq!(normalize(&"x".repeat(5000)), Err(NameError::Length));
    }

    proptest! {
        #[test]
        fn normalize_is_idempotent(raw in "\\PC{0,80}") {
            if let Ok(name) = normalize(&raw) {
                prop_assert_eq!(normalize(&name), Ok(name.clone()));
                prop_assert_eq!(key(&name), key(&raw));
                prop_assert!(name.chars().count() <= MAX_NAME_CHARS);
                prop_assert!(name.chars().all(|c| refused(c).is_none()));
            }
        }

        #[test]
        fn key_ignores_case(raw in "[a-zA-Z0-9_@.-]{1,64}") {
            prop_assert_eq!(key(&raw), key(&raw.to_uppercase()));
            prop_assert_eq!(key(&raw), Some(raw.to_lowercase()));
        }

        #[test]
        fn anything_with_an_invisible_character_is_refused(
            prefix in "[a-z]{0,10}",
            suffix in "[a-z]{0,10}",
            invisible in prop::sample::select(vec!['\u{200B}', '\u{200C}', '\u{200D}', '\u{2060}', '\u{FEFF}', '\u{202A}', '\u{202E}', '\u{2066}', '\u{00AD}', '\u{0000}', '\u{001B}']),
        ) {
            let name = format!("{prefix}{invisible}{suffix}");
            prop_assert!(normalize(&name).is_err());
            prop_assert_eq!(key(&name), None);
        }

        #[test]
        fn never_panics(raw in any::<String>()) {
            let _ = normalize(&raw);
            let _ = key(&raw);
        }
    }
}
