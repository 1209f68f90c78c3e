//! The rules every tenant gets without writing one.
//!
//! | id | kind | fires | clears |
//! | --- | --- | --- | --- |
//! | `host-down` | consecutive_failures | 3 `icmp` failures in a row | first success |
//! | `service-down` | consecutive_failures | 3 `tcp`/`http`/`dns` failures in a row | first success |
//! | `packet-loss` | threshold | `vigil_icmp_loss_percent > 20` for 2m | `< 5` |
//! | `high-latency` | threshold | `vigil_icmp_rtt_ms > 200` for 5m | `< 150` |
//! | `interface-down` | threshold | `ifOperStatus != 1` for 1m while `ifAdminStatus == 1` | `ifOperStatus == 1` or admin down |
//! | `link-saturated` | threshold | `vigil_if_utilization_percent > 90` for 5m | `< 80` |
//! | `filesystem-full-soon` | predict_full | `node_filesystem_avail_bytes` reaches 0 within 24h (line over 6h, at least 1h of history; tmpfs/overlay/squashfs skipped) | no longer within 24h |
//! | `reboot-detected` | rate_of_change | `vigil_uptime_seconds` went down | 30m after the last decrease |
//! | `certificate-expiring` | threshold | `probe_ssl_earliest_cert_expiry` less than 14 days away | more than 14 days (renewed) |
//! | `disk-health-failing` | threshold | `smartmon_device_smart_healthy == 0` | healthy again |
//!
//! Metric names are those of the exporters NOCs already run (node_exporter,
//! blackbox_exporter, smartmon, SNMP IF-MIB) or, prefixed `vigil_`, those the
//! monitor computes: loss and round-trip of its pings, utilisation from
//! interface counters and speed, uptime normalised to seconds (SNMP
//! `sysUpTime` wraps after 497 days; the monitor must unwrap it, or that
//! wrap reads as a reboot).
//!
//! Hysteresis is on every threshold whose value wanders (loss, latency,
//! utilisation): a link at 89–91 % pages once, not every five minutes.
//!
//! "Fires" is when the condition holds; whether it pages is the engine's
//! noise control. Behind a parent with `icmp` checks, every rule's alert
//! (`host-down` and `service-down` first) waits up to `dependency_wait`
//! (90s) for a result of the parent's check newer than its own first
//! failure: a router's death shows as one page for the router even when
//! the hosts behind it fail three times before its own check runs.

use crate::span::Span;
use crate::spec::{
    Condition, ConsecutiveFailures, Fill, Guard, Op, PredictFull, RateOfChange, RuleSpec, Severity,
    Team, Threshold, Transform,
};
use std::collections::BTreeMap;

/// The ten built-in rules (see the module's table).
pub fn builtin_rules() -> Vec<RuleSpec> {
    vec![
        failures(
            "host-down",
            Severity::Critical,
            "{asset}: host down ({check_name}: no reply 3 times in a row)",
            &["icmp"],
        ),
        failures(
            "service-down",
            Severity::High,
            "{asset}: {check_name} down",
            &["tcp", "http", "dns"],
        ),
        rule(
            "packet-loss",
            Severity::Medium,
            "{asset}: packet loss {value}%",
            "%",
            threshold("vigil_icmp_loss_percent", Op::Gt, 20.0, Some(5.0), 2),
        ),
        rule(
            "high-latency",
            Severity::Low,
            "{asset}: latency {value} ms",
            " ms",
            threshold("vigil_icmp_rtt_ms", Op::Gt, 200.0, Some(150.0), 5),
        ),
        rule(
            "interface-down",
            Severity::High,
            "{asset}: interface {ifName} down",
            "",
            interface_down(),
        ),
        rule(
            "link-saturated",
            Severity::Medium,
            "{asset}: link {ifName} saturated ({value}%)",
            "%",
            threshold("vigil_if_utilization_percent", Op::Gt, 90.0, Some(80.0), 5),
        ),
        rule(
            "filesystem-full-soon",
            Severity::High,
            "{asset}: filesystem {mountpoint} full within {hours}h",
            "h",
            filesystem_full(),
        ),
        rule(
            "reboot-detected",
            Severity::Low,
            "{asset}: rebooted",
            "s",
            reboot(),
        ),
        rule(
            "certificate-expiring",
            Severity::Medium,
            "{asset}: certificate of {instance} expires in {value} days",
            " days",
            certificate(),
        ),
        rule(
            "disk-health-failing",
            Severity::Critical,
            "{asset}: disk {disk} failing (SMART health)",
            "",
            threshold("smartmon_device_smart_healthy", Op::Eq, 0.0, None, 0),
        ),
    ]
}

fn rule(id: &str, severity: Severity, title: &str, unit: &str, condition: Condition) -> RuleSpec {
    RuleSpec {
        id: id.to_string(),
        severity,
        title: title.to_string(),
        description: String::new(),
        team: Team::Noc,
        unit: unit.to_string(),
        condition,
    }
}

fn failures(id: &str, severity: Severity, title: &str, kinds: &[&str]) -> RuleSpec {
    let condition = Condition::ConsecutiveFailures(ConsecutiveFailures {
        n: 3,
        check_kinds: kinds.iter().map(|k| k.to_string()).collect(),
    });
    rule(id, severity, title, "", condition)
}

fn threshold(metric: &str, op: Op, value: f64, resolve: Option<f64>, for_mins: i64) -> Condition {
    Condition::Threshold(Threshold {
        metric: metric.to_string(),
        labels: BTreeMap::new(),
        op,
        value,
        resolve_value: resolve,
        for_: Span::from_mins(for_mins),
        when: None,
        transform: None,
    })
}

fn interface_down() -> Condition {
    let Condition::Threshold(mut t) = threshold("ifOperStatus", Op::Ne, 1.0, None, 1) else {
        unreachable!("threshold() builds a threshold")
    };
    t.when = Some(Guard {
        metric: "ifAdminStatus".to_string(),
        op: Op::Eq,
        value: 1.0,
    });
    Condition::Threshold(t)
}

fn filesystem_full() -> Condition {
    Condition::PredictFull(PredictFull {
        metric: "node_filesystem_avail_bytes".to_string(),
        labels: BTreeMap::from([(
            "fstype".to_string(),
            "!tmpfs|devtmpfs|overlay|squashfs|ramfs".to_string(),
        )]),
        fill: Fill::Free,
        size_metric: None,
        within_hours: 24.0,
        min_history: Span::from_hours(1),
        window: Span::from_hours(6),
    })
}

fn reboot() -> Condition {
    Condition::RateOfChange(RateOfChange {
        metric: "vigil_uptime_seconds".to_string(),
        labels: BTreeMap::new(),
        per: Span::from_secs(1),
        op: Op::Lt,
        value: 0.0,
        hold: Span::from_mins(30),
    })
}

fn certificate() -> Condition {
    let Condition::Threshold(mut t) =
        threshold("probe_ssl_earliest_cert_expiry", Op::Lt, 14.0, None, 0)
    else {
        unreachable!("threshold() builds a threshold")
    };
    t.transform = Some(Transform::DaysUntil);
    Condition::Threshold(t)
}

#[cfg(test)]
mod tests {
    use super::builtin_rules;
    use crate::spec::validate_all;

    #[test]
    fn builtins_are_ten_valid_rules_with_unique_ids() {
        let rules = builtin_rules();
        assert_eq!(rules.len(), 10);
        assert_eq!(validate_all(&rules), Ok(()));
    }

    #[test]
    fn builtins_round_trip_through_json() {
        let rules = builtin_rules();
        let text = serde_json::to_string(&rules).expect("serialises");
        let back: Vec<crate::RuleSpec> = serde_json::from_str(&text).expect("parses");
        assert_eq!(back, rules);
    }
}
