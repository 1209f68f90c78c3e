//! Input rules every [`StateStore`](super::StateStore) backend applies, kept
//! here so that SQLite and PostgreSQL cannot disagree on them.

use super::{NewToken, Role, StateError};
use std::ops::RangeInclusive;
use vigil_core::TenantId;

/// Allowed retention: at least a day (0 would delete everything at once),
/// at most a century (so `days * micros_per_day` never overflows an i64).
pub const RETENTION_DAYS: RangeInclusive<u32> = 1..=36_500;

/// Shortest password accepted, in characters.
pub const MIN_PASSWORD_CHARS: usize = 12;

/// Longest password accepted, in bytes: enough for any passphrase, and a
/// bound on what a caller can make argon2 read.
pub const MAX_PASSWORD_BYTES: usize = 1024;

/// Longest user name, in characters.
pub const MAX_USER_NAME_CHARS: usize = vigil_core::names::MAX_NAME_CHARS;

/// Least zxcvbn score accepted (0 to 4): 3 is "safely unguessable" (about
/// 10^8 guesses or more), against an attacker who has the hashes; the login
/// rate limit guards the online side.
pub const MIN_PASSWORD_SCORE: u8 = 3;

/// Longest token label, in characters.
pub const MAX_LABEL_CHARS: usize = 200;

fn invalid(msg: String) -> Result<(), StateError> {
    Err(StateError::Invalid(msg))
}

pub fn retention(days: u32) -> Result<(), StateError> {
    if RETENTION_DAYS.contains(&days) {
        return Ok(());
    }
    invalid(format!(
        "retention of {days} days is outside {}..={}",
        RETENTION_DAYS.start(),
        RETENTION_DAYS.end()
    ))
}

/// The stored form of a user name ([`vigil_core::names::normalize`]): NFKC,
/// 1 to 64 characters, none of them whitespace, control or invisible (a
/// name shows up in logs and audit trails, where those would mislead).
pub fn user_name(name: &str) -> Result<String, StateError> {
    vigil_core::names::normalize(name)
        .map_err(|e| StateError::Invalid(format!("user name {name:?} {e}")))
}

/// At least [`MIN_PASSWORD_CHARS`] characters and hard to guess: the
/// zxcvbn estimator (dictionaries of common passwords, names and words,
/// keyboard patterns, repeats, sequences, dates; `user_inputs` such as the
/// user's name count as known words) must give at least
/// [`MIN_PASSWORD_SCORE`]. The message says why, never echoes the password.
pub fn password(password: &str, user_inputs: &[&str]) -> Result<(), StateError> {
    length(password)?;
    // zxcvbn reads the first 100 characters only, so its cost is bounded.
    let estimate = zxcvbn::zxcvbn(password, user_inputs);
    if u8::from(estimate.score()) >= MIN_PASSWORD_SCORE {
        return Ok(());
    }
    let mut why = vec!["password is too weak".to_string()];
    if let Some(feedback) = estimate.feedback() {
        if let Some(warning) = feedback.warning() {
            why.push(lower_first(&warning.to_string()));
        }
        why.extend(
            feedback
                .suggestions()
                .iter()
                .map(|s| lower_first(&s.to_string())),
        );
    }
    if why.len() == 1 {
        why.push("add another word or two; uncommon words are better.".into());
    }
    invalid(format!("{}: {}", why[0], why[1..].join(" ")))
}

fn lower_first(s: &str) -> String {
    let mut chars = s.chars();
    match chars.next() {
        Some(first) => first.to_lowercase().chain(chars).collect(),
        None => String::new(),
    }
}

fn length(password: &str) -> Result<(), StateError> {
    if password.chars().count() < MIN_PASSWORD_CHARS {
        return invalid(format!(
            "password must be at least {MIN_PASSWORD_CHARS} characters long"
        ));
    }
    if password.len() > MAX_PASSWORD_BYTES {
        return invalid(format!(
            "password must be at most {MAX_PASSWORD_BYTES} bytes long"
        ));
    }
    Ok(())
}

/// Checks a user's role against their tenants and returns the tenants
/// sorted and without duplicates: an MSP admin has none (they see all), a
/// client viewer exactly one, NOC and SOC staff any number.
pub fn user_tenants(role: Role, tenants: &[TenantId]) -> Result<Vec<TenantId>, StateError> {
    let mut ids = tenants.to_vec();
    ids.sort_unstable();
    ids.dedup();
    match role {
        r if r.is_token_role() => invalid(format!(
            "role {r} is for API tokens, not users (use msp-admin, noc-operator, soc-analyst or client-viewer)"
        )),
        Role::MspAdmin if !ids.is_empty() => {
            invalid("role msp-admin sees every tenant and takes no tenant list".into())
        }
        Role::ClientViewer if ids.len() != 1 => invalid(format!(
            "role client-viewer needs exactly one tenant, got {}",
            ids.len()
        )),
        _ => Ok(()),
    }?;
    Ok(ids)
}

/// Checks the combination of role, tenant and user of a new token.
/// `user_role` is the current role of `new.user_id`, looked up by the caller.
pub fn new_token(new: &NewToken, user_role: Option<Role>) -> Result<(), StateError> {
    label(new.label.as_deref())?;
    let role = new.role;
    match (new.tenant, new.user_id) {
        (Some(t), Some(u)) => invalid(format!(
            "a token is bound to a tenant ({t}) or to a user ({u}), not both"
        )),
        (None, Some(u)) => match user_role {
            Some(user_role) if user_role == role => Ok(()),
            Some(user_role) => invalid(format!(
                "a token of user {u} must have the user's role {user_role}, not {role}"
            )),
            None => Err(StateError::NotFound(format!("user {u} not found"))),
        },
        (Some(_), None) => Ok(()),
        (None, None) if role == Role::MspAdmin => Ok(()),
        (None, None) => invalid(format!("a token of role {role} needs a tenant or a user")),
    }
}

fn label(label: Option<&str>) -> Result<(), StateError> {
    let Some(label) = label else { return Ok(()) };
    if label.chars().count() > MAX_LABEL_CHARS {
        return invalid(format!(
            "token label must be at most {MAX_LABEL_CHARS} characters long"
        ));
    }
    if label.chars().any(char::is_control) {
        return invalid(format!(
            "token label {label:?} must not contain control characters"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token(role: Role, tenant: Option<i64>, user_id: Option<i64>) -> NewToken {
        NewToken {
            role,
            tenant: tenant.map(TenantId),
            user_id,
            label: None,
            expires_at: None,
        }
    }

    #[test]
    fn user_names() {
        for ok in ["alice", "a", "bob@example.com", "é", &"x".repeat(64)] {
            assert_eq!(user_name(ok).as_deref(), Ok(ok), "{ok}");
        }
        assert_eq!(user_name("ｂｏｂ").as_deref(), Ok("bob"));
        for bad in [
            "",
            "a b",
            "a\tb",
            "a\u{7}",
            &"x".repeat(65),
            "trail\n",
            "noc_a\u{200B}",
        ] {
            assert!(user_name(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn passwords_count_characters() {
        assert!(password("ëçñüéàøåîõ5", &[]).is_err()); // 11 chars, 21 bytes
        assert!(password("ëçñüéàøåîõ5x", &[]).is_ok());
        assert!(password(&"x".repeat(MAX_PASSWORD_BYTES + 1), &[]).is_err());
    }

    #[test]
    fn weak_passwords_are_refused_with_the_reason() {
        let e = password("aaaaaaaaaaaa", &[]).unwrap_err().to_string();
        assert!(e.starts_with("password is too weak: "), "{e}");
        assert!(e.contains("repeats"), "{e}");
        assert!(
            !e.contains("aaaaaaaaaaaa"),
            "never echoes the password: {e}"
        );
        for weak in [
            "password1234",
            "abcdefghijkl",
            "qwertyuiop12",
            "123456789012",
        ] {
            assert!(password(weak, &[]).is_err(), "{weak}");
        }
        // The user's own name is a known word.
        assert!(password("mallorymallory", &["mallorymallory"]).is_err());
        for strong in [
            "correct horse battery staple",
            "a long enough password",
            "twelve chars",
        ] {
            assert!(password(strong, &["alice"]).is_ok(), "{strong}");
        }
    }

    #[test]
    fn retention_bounds() {
        assert!(retention(0).is_err());
        assert!(retention(1).is_ok());
        assert!(retention(36_500).is_ok());
        assert!(retention(u32::MAX).is_err());
    }

    #[test]
    fn user_tenant_rules() {
        let t = |v: &[i64]| v.iter().copied().map(TenantId).collect::<Vec<_>>();
        assert_eq!(
            user_tenants(Role::NocOperator, &t(&[3, 1, 3])).unwrap(),
            t(&[1, 3])
        );
        assert!(user_tenants(Role::SocAnalyst, &[]).is_ok());
        assert!(user_tenants(Role::MspAdmin, &t(&[1])).is_err());
        assert!(user_tenants(Role::ClientViewer, &[]).is_err());
        assert!(user_tenants(Role::ClientViewer, &t(&[1, 2])).is_err());
        assert!(user_tenants(Role::ClientViewer, &t(&[2, 2])).is_ok());
        for role in [Role::Ingest, Role::Read, Role::Admin] {
            assert!(user_tenants(role, &t(&[1])).is_err());
        }
    }

    #[test]
    fn token_combinations() {
        use Role::*;
        assert!(new_token(&token(Ingest, Some(1), None), None).is_ok());
        assert!(new_token(&token(Ingest, None, None), None).is_err());
        assert!(new_token(&token(MspAdmin, None, None), None).is_ok());
        assert!(new_token(&token(NocOperator, None, None), None).is_err());
        assert!(new_token(&token(NocOperator, Some(1), Some(2)), Some(NocOperator)).is_err());
        assert!(new_token(&token(NocOperator, None, Some(2)), Some(NocOperator)).is_ok());
        assert!(new_token(&token(Read, None, Some(2)), Some(NocOperator)).is_err());
        assert!(matches!(
            new_token(&token(NocOperator, None, Some(2)), None),
            Err(StateError::NotFound(_))
        ));
    }

    #[test]
    fn labels() {
        let mut t = token(Role::Read, Some(1), None);
        t.label = Some("collector eu-1".into());
        assert!(new_token(&t, None).is_ok());
        t.label = Some("bad\nlabel".into());
        assert!(new_token(&t, None).is_err());
    }
}
