//! Sigma's Linux log sources (`product: linux`, `service: ...`) and the
//! programs whose syslog messages they are, so that a rule for `vsftpd`
//! or `clamav` runs on those programs' lines even when no decoder of
//! Vigil knows the message. A program in no entry is `syslog`: Sigma's
//! name for the general system log.
//!
//! A decoder that knows a message names its service itself (`sshd`,
//! `sudo`, `useradd`...); this table only fills in where it gave none.
//! `crates/vigil/tests/windows.rs` checks that every Linux service a
//! SigmaHQ rule names is here.

/// Service → the programs (syslog tags, compared without case) it covers.
pub const LINUX_SERVICES: &[(&str, &[&str])] = &[
    ("sshd", &["sshd"]),
    ("cron", &["cron", "crond", "anacron"]),
    ("sudo", &["sudo"]),
    ("auditd", &["auditd", "audispd"]),
    ("vsftpd", &["vsftpd"]),
    (
        "clamav",
        &[
            "clamd",
            "freshclam",
            "clamscan",
            "clamav",
            "clamav-milter",
            "clamonacc",
        ],
    ),
    ("guacamole", &["guacd", "guacamole"]),
    ("syslog", &[]),
];

/// The Sigma service of a message of `program` (`sshd`, `CRON`,
/// `clamd`...): its entry's, else `syslog`.
pub fn linux_service(program: &str) -> &'static str {
    LINUX_SERVICES
        .iter()
        .find(|(_, programs)| programs.iter().any(|p| p.eq_ignore_ascii_case(program)))
        .map_or("syslog", |(service, _)| service)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn programs_to_services() {
        assert_eq!(linux_service("vsftpd"), "vsftpd");
        assert_eq!(linux_service("CRON"), "cron");
        assert_eq!(linux_service("freshclam"), "clamav");
        assert_eq!(linux_service("guacd"), "guacamole");
        assert_eq!(linux_service("named"), "syslog");
        assert_eq!(linux_service(""), "syslog");
    }
}
