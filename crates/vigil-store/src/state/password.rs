//! Password hashing: argon2id with the crate's default parameters, stored as
//! a PHC string (algorithm, parameters and random salt travel with the hash,
//! so parameters can be raised later without breaking old hashes).
//!
//! Hashing is deliberately slow (tens of milliseconds of CPU and 19 MiB of
//! memory each), so it runs on tokio's blocking pool instead of stalling
//! the async workers, and at most a few at once (see [`configure_hashing`]):
//! 128 concurrent logins once took 1.9 GB and every core; now a caller
//! that cannot get a turn within a short wait gets `Busy`.

use super::StateError;
use argon2::password_hash::SaltString;
use argon2::{Argon2, PasswordHash, PasswordHasher, PasswordVerifier};
use rand::rngs::OsRng;
use std::sync::OnceLock;
use std::time::Duration;
use tokio::sync::Semaphore;

/// How many hashes run at once, and how long a caller waits for a turn.
struct Pool {
    turns: Semaphore,
    wait: Duration,
}

static POOL: OnceLock<Pool> = OnceLock::new();

/// Sets how many password hashes may run at once (0: half the cores, at
/// least one) and how long a caller waits for a turn before `Busy`. The
/// first call in a process wins (the server calls it before opening the
/// store); without one the defaults apply.
pub fn configure_hashing(concurrency: usize, wait: Duration) {
    let _ = POOL.set(Pool {
        turns: Semaphore::new(permits(concurrency)),
        wait,
    });
}

fn permits(concurrency: usize) -> usize {
    match concurrency {
        0 => std::thread::available_parallelism()
            .map(|n| (n.get() / 2).max(1))
            .unwrap_or(1),
        n => n,
    }
}

fn pool() -> &'static Pool {
    POOL.get_or_init(|| Pool {
        turns: Semaphore::new(permits(0)),
        wait: Duration::from_secs(2),
    })
}

/// Hashes `password` into a PHC string with a fresh random salt.
pub(crate) async fn hash(password: &str) -> Result<String, StateError> {
    let password = password.to_owned();
    blocking(move || hash_now(&password)).await?
}

/// Checks `password` against a stored PHC string, or, when the user is
/// unknown (`phc` is `None`), against a dummy hash, so that both cases cost
/// the same and response times do not reveal which user names exist.
pub(crate) async fn verify(password: &str, phc: Option<String>) -> Result<bool, StateError> {
    let password = password.to_owned();
    blocking(move || match phc {
        Some(phc) => verify_now(&password, &phc),
        None => {
            // The result is ignored: the point is the time it takes.
            let _ = verify_now(&password, dummy_hash()?);
            Ok(false)
        }
    })
    .await?
}

/// Computes the dummy hash ahead of the first login, so that the first
/// unknown-user login is not slower than the others. Cheap after the first
/// call in a process.
pub(crate) async fn warm_up() -> Result<(), StateError> {
    blocking(|| dummy_hash().map(|_| ())).await?
}

fn hash_now(password: &str) -> Result<String, StateError> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| StateError::Backend(format!("hashing a password failed: {e}")))
}

/// `Ok(false)` for a wrong password; an error only for a corrupt stored hash.
fn verify_now(password: &str, phc: &str) -> Result<bool, StateError> {
    let parsed = PasswordHash::new(phc)
        .map_err(|e| StateError::Backend(format!("stored password hash is corrupt: {e}")))?;
    match Argon2::default().verify_password(password.as_bytes(), &parsed) {
        Ok(()) => Ok(true),
        Err(argon2::password_hash::Error::Password) => Ok(false),
        Err(e) => Err(StateError::Backend(format!(
            "checking a password failed: {e}"
        ))),
    }
}

/// A hash of a random password with the same parameters as real ones.
fn dummy_hash() -> Result<&'static str, StateError> {
    static DUMMY: OnceLock<String> = OnceLock::new();
    if let Some(h) = DUMMY.get() {
        return Ok(h);
    }
    let h = hash_now(&super::token::generate())?;
    Ok(DUMMY.get_or_init(|| h))
}

/// Runs `f` on the blocking pool once a turn of the hashing pool is free.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<T, StateError> {
    let pool = pool();
    let _turn = match tokio::time::timeout(pool.wait, pool.turns.acquire()).await {
        Ok(Ok(turn)) => turn,
        Ok(Err(_)) | Err(_) => {
            return Err(StateError::Busy(
                "too many password checks at once; try again in a moment".into(),
            ))
        }
    };
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| StateError::Backend(format!("password hashing task failed: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_round_trips_and_is_salted() {
        let a = hash_now("correct horse battery").unwrap();
        let b = hash_now("correct horse battery").unwrap();
        assert!(a.starts_with("$argon2id$"), "{a}");
        assert_ne!(a, b);
        assert!(verify_now("correct horse battery", &a).unwrap());
        assert!(!verify_now("correct horse battery!", &a).unwrap());
        assert!(verify_now("x", "not a phc string").is_err());
    }
}
