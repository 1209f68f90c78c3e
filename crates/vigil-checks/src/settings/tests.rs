use super::*;
use proptest::prelude::*;
use serde_json::json;

fn read(kind: &str, v: Value) -> Result<StoredCheck, FieldError> {
    read_stored(kind, v.as_object().expect("an object"))
}

fn field_of(kind: &str, v: Value) -> String {
    read(kind, v.clone())
        .map(|_| format!("accepted: {v}"))
        .unwrap_or_else(|e| e.field)
}

#[test]
fn every_kind_reads_with_defaults() {
    let ok = [
        ("icmp", json!({"target": "192.0.2.1"})),
        ("tcp", json!({"target": "192.0.2.1:22"})),
        ("http", json!({"target": "https://192.0.2.1/health"})),
        (
            "dns",
            json!({"target": "example.org", "server": "192.0.2.53:53"}),
        ),
        (
            "snmp",
            json!({"target": "192.0.2.1", "community": "public"}),
        ),
        (
            "prometheus",
            json!({"target": "http://192.0.2.1:9100/metrics"}),
        ),
    ];
    for (kind, spec) in ok {
        let read = read(kind, spec).unwrap_or_else(|e| panic!("{kind}: {e}"));
        assert_eq!(read.interval, DEFAULT_INTERVAL);
        assert_eq!(read.timeout, DEFAULT_TIMEOUT);
        assert_eq!(read.run.is_some(), RUNNABLE.contains(&kind));
    }
}

#[test]
fn an_overflowing_interval_names_the_field_and_the_bound() {
    for kind in KINDS {
        let error = read(
            kind,
            json!({"target": "192.0.2.1", "interval": "18446744073709551615s"}),
        )
        .unwrap_err();
        assert_eq!(error.field, "interval", "{kind}");
        assert!(error.reason.contains("maximum of 24h"), "{kind}: {error}");
    }
    let error = read(
        "snmp",
        json!({"target": "h", "interval": 18446744073709551615u64}),
    )
    .unwrap_err();
    assert_eq!(
        error.to_string(),
        "interval: 18446744073709551615 is over the maximum of 24h"
    );
    let error = read(
        "snmp",
        json!({"target": "h", "timeout": "99999999999999999999999999999999999999999999d"}),
    )
    .unwrap_err();
    assert_eq!(error.field, "timeout");
}

#[test]
fn absurd_values_of_every_kind_are_refused_by_name() {
    let long = "x".repeat(5000);
    let cases = [
        ("icmp", json!({"target": "h", "interval": "0s"}), "interval"),
        ("icmp", json!({"target": "h", "count": 100000}), "count"),
        ("icmp", json!({"target": "h", "retries": 300}), "retries"),
        ("tcp", json!({"target": "h", "port": 70000}), "port"),
        (
            "tcp",
            json!({"target": "h:22", "timeout": "2m", "interval": "5m"}),
            "timeout",
        ),
        (
            "tcp",
            json!({"target": "h:22", "timeout": "30s", "interval": "10s"}),
            "timeout",
        ),
        ("tcp", json!({"target": long}), "target"),
        (
            "http",
            json!({"target": "http://h/", "follow_redirects": 1000}),
            "follow_redirects",
        ),
        (
            "http",
            json!({"target": "http://h/", "expect_text": long}),
            "expect_text",
        ),
        (
            "http",
            json!({"target": "http://h/", "cert_min_days": 100000}),
            "cert_min_days",
        ),
        (
            "http",
            json!({"target": "http://h/", "ca_file": "/dev/urandom"}),
            "ca_file",
        ),
        (
            "http",
            json!({"target": "http://h/", "ca_pem": "not a certificate"}),
            "ca_pem",
        ),
        (
            "http",
            json!({"target": "http://h/", "ca_pem": "-".repeat(70_000)}),
            "ca_pem",
        ),
        (
            "dns",
            json!({"target": "h", "server": "192.0.2.1:53", "expect": vec!["a"; 100]}),
            "expect",
        ),
        (
            "dns",
            json!({"target": "h", "server": "192.0.2.1:53", "interval": "2d"}),
            "interval",
        ),
        (
            "snmp",
            json!({"target": "h", "interval": "1000000h"}),
            "interval",
        ),
        (
            "snmp",
            json!({"target": "h", "community": long}),
            "community",
        ),
        (
            "snmp",
            json!({"target": "h", "user": "u", "auth_password": "short"}),
            "auth_password",
        ),
        ("snmp", json!({"target": "h", "user": "u"}), "auth_password"),
        ("snmp", json!({"target": "h:99999"}), "target"),
        (
            "prometheus",
            json!({"target": "http://h/", "timeout": "1000000000000s"}),
            "timeout",
        ),
        ("prometheus", json!({"target": "https://h/"}), "target"),
        (
            "prometheus",
            json!({"target": "http://h/", "enabled": "yes"}),
            "enabled",
        ),
    ];
    for (kind, spec, field) in cases {
        assert_eq!(field_of(kind, spec.clone()), field, "{kind} {spec}");
    }
}

#[test]
fn a_huge_spec_is_refused_whole() {
    let mut spec = json!({"target": "h"});
    for i in 0..100 {
        spec[format!("k{i}")] = json!(1);
    }
    assert_eq!(field_of("snmp", spec), "check");
}

#[test]
fn durations_read_every_form() {
    let ms = duration_millis;
    assert_eq!(ms("30s"), Ok(30_000));
    assert_eq!(ms("45"), Ok(45_000));
    assert_eq!(ms("250ms"), Ok(250));
    assert_eq!(ms("1d"), Ok(86_400_000));
    assert_eq!(
        ms("18446744073709551615s"),
        Ok(18_446_744_073_709_551_615_000)
    );
    assert_eq!(ms(&"9".repeat(100)), Ok(u128::MAX));
    for bad in ["", "s", "-1s", "1y", "1m30s", "1.5s"] {
        assert!(ms(bad).is_err(), "{bad}");
    }
}

proptest! {
    #[test]
    fn any_duration_text_never_panics_and_stays_in_bounds(text in "\\PC{0,40}") {
        let spec = json!({"target": "h", "interval": text});
        if let Ok(read) = read("snmp", spec) {
            prop_assert!(read.interval >= MIN_INTERVAL && read.interval <= MAX_INTERVAL);
            prop_assert!(read.timeout <= read.interval && read.timeout <= MAX_TIMEOUT);
        }
    }

    #[test]
    fn numbers_and_units_never_panic(n in any::<u64>(), unit in "(ms|s|m|h|d|)", timeout in any::<u64>()) {
        for kind in KINDS {
            let spec = json!({
                "target": "192.0.2.1:1", "server": "192.0.2.1:53",
                "interval": format!("{n}{unit}"), "timeout": timeout,
            });
            if let Ok(read) = read(kind, spec) {
                prop_assert!(read.interval >= MIN_INTERVAL && read.interval <= MAX_INTERVAL);
                prop_assert!(read.timeout <= read.interval && read.timeout <= MAX_TIMEOUT);
                if let Some(run) = read.run {
                    prop_assert_eq!(run.interval, read.interval);
                }
            }
        }
    }

    #[test]
    fn any_json_object_never_panics(
        kind in "(icmp|tcp|http|dns|snmp|prometheus|x)",
        keys in proptest::collection::vec("(target|interval|timeout|count|port|url|expect|expect_status|follow_redirects|community|user|auth_password|name|server|retries)", 0..8),
        values in proptest::collection::vec(prop_oneof![
            any::<i64>().prop_map(Value::from),
            any::<f64>().prop_map(|f| json!(f)),
            "\\PC{0,30}".prop_map(Value::from),
            Just(json!(["a", 1])),
            Just(json!(null)),
        ], 0..8),
    ) {
        let map: Map<String, Value> = keys.into_iter().zip(values).collect();
        let _ = read_stored(&kind, &map);
    }
}

#[test]
fn unknown_settings_are_refused_by_name() {
    let error = read("http", json!({"target": "http://h/", "expect_staus": 200})).unwrap_err();
    assert_eq!(error.field, "expect_staus");
    assert!(
        error.to_string().starts_with(
            "expect_staus: unknown field `expect_staus` of a http check, expected one of `asset`"
        ),
        "{error}"
    );
    assert!(error.reason.contains("`expect_status`"), "{error}");
    // A setting of another kind is unknown to this one.
    assert_eq!(field_of("tcp", json!({"target": "h:1", "url": "x"})), "url");
    assert_eq!(
        field_of("prometheus", json!({"target": "http://h/", "port": 1})),
        "port"
    );
}

#[test]
fn every_error_names_its_field() {
    let error = read("tcp", json!({"target": "h", "port": 99999})).unwrap_err();
    assert_eq!(error.to_string(), "port: 99999 is not a port (1–65535)");
    let error = read("tcp", json!({"target": "h:99999"})).unwrap_err();
    assert_eq!(
        error.to_string(),
        "target: port 99999 is not a port (1–65535)"
    );
    assert_eq!(field_of("tcp", json!({"target": "h"})), "port");
    let cases = [
        ("http", json!({"target": "ftp://h/"}), "url"),
        (
            "http",
            json!({"target": "http://h/", "verify_tls": "no"}),
            "verify_tls",
        ),
        (
            "http",
            json!({"target": "http://h/", "expect_status": 700}),
            "expect_status",
        ),
        ("dns", json!({"target": "example.org"}), "server"),
        (
            "dns",
            json!({"target": "example.org", "server": "x"}),
            "server",
        ),
        (
            "dns",
            json!({"target": "example.org", "server": "192.0.2.1:53", "record_type": "SRV"}),
            "record_type",
        ),
        (
            "dns",
            json!({"target": "a..b", "server": "192.0.2.1:53"}),
            "name",
        ),
        (
            "dns",
            json!({"target": "example.org", "server": "192.0.2.1:53", "expect": [1]}),
            "expect",
        ),
        (
            "icmp",
            json!({"target": "h", "count": 50, "timeout": "1s"}),
            "timeout",
        ),
        ("icmp", json!({"target": "h\r\nx"}), "target"),
    ];
    for (kind, spec, field) in cases {
        let error = read(kind, spec.clone()).unwrap_err();
        assert_eq!(error.field, field, "{kind} {spec}: {error}");
        assert!(
            error.to_string().starts_with(&format!("{field}: ")),
            "{error}"
        );
    }
}

/// A note is for people: any kind takes one, bounded like every text.
#[test]
fn a_note_is_taken_by_every_kind_and_bounded() {
    let spec = |note: Value| json!({"target": "192.0.2.1:22", "note": note});
    assert!(read("tcp", spec(json!("call the client's IT first"))).is_ok());
    assert_eq!(field_of("tcp", spec(json!("x".repeat(2000)))), "note");
    assert_eq!(field_of("tcp", spec(json!(5))), "note");
}
