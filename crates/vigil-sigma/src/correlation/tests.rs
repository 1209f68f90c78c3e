use super::*;
use serde_json::json;

const S: i64 = 1_000_000;

fn doc(text: &str) -> Mapping {
    yaml_serde::from_str(text).unwrap()
}

fn parse(text: &str) -> CorrelationRule {
    parse_correlation(&doc(text)).unwrap()
}

fn parse_err(text: &str) -> String {
    parse_correlation(&doc(text)).unwrap_err().to_string()
}

fn hit(rule: &str, time: i64, event: serde_json::Value) -> BaseHit {
    BaseHit {
        rule_name: Some(rule.to_string()),
        rule_id: None,
        time,
        event: event.as_object().unwrap().clone(),
    }
}

fn engine(text: &str) -> CorrelationEngine {
    CorrelationEngine::new(vec![parse(text)])
}

/// Feeds hits in order; returns all correlation hits.
fn run(engine: &mut CorrelationEngine, hits: &[BaseHit]) -> Vec<CorrelationHit> {
    hits.iter().flat_map(|h| engine.observe(h)).collect()
}

const COUNT: &str = "
title: Many failed logins
id: 11111111-0000-0000-0000-000000000001
name: many_failed
level: high
tags: [attack.t1110]
correlation:
  type: event_count
  rules: [failed_login]
  group-by: [User]
  timespan: 10s
  condition:
    gte: 2
";

fn failed(user: &str, time: i64) -> BaseHit {
    hit("failed_login", time, json!({"User": user}))
}

// ---- parsing ----

#[test]
fn correlation_parses_every_type() {
    let cases = [
        ("event_count", "{gte: 3}", CorrelationType::EventCount),
        (
            "value_count",
            "{field: User, gt: 2}",
            CorrelationType::ValueCount,
        ),
        ("temporal", "null", CorrelationType::Temporal),
        (
            "temporal_ordered",
            "{eq: 2}",
            CorrelationType::TemporalOrdered,
        ),
        (
            "value_sum",
            "{field: Bytes, gt: 100}",
            CorrelationType::ValueSum,
        ),
        (
            "value_avg",
            "{field: Bytes, lte: 1.5}",
            CorrelationType::ValueAvg,
        ),
        (
            "value_percentile",
            "{field: Bytes, percentile: 95, gte: 1000}",
            CorrelationType::ValuePercentile,
        ),
    ];
    for (name, condition, kind) in cases {
        let text = format!(
            "title: t\ncorrelation:\n  type: {name}\n  rules: [a, b]\n  group-by: Host\n  \
             timespan: 5m\n  condition: {condition}\n"
        );
        let rule = parse(&text);
        assert_eq!(rule.kind, kind, "{name}");
        assert_eq!(kind.as_str(), name);
        assert_eq!(rule.rules, vec!["a", "b"]);
        assert_eq!(rule.group_by, vec!["Host"]);
        assert_eq!(rule.timespan, 300 * S);
        assert_eq!(rule.condition.is_none(), name == "temporal");
    }
    let rule = parse(
        "title: t\ncorrelation:\n  type: value_percentile\n  rules: a\n  timespan: 1h\n  \
         condition: {field: Bytes, percentile: 95, gt: 10, lte: 20}\n",
    );
    let condition = rule.condition.unwrap();
    assert_eq!(condition.field.as_deref(), Some("Bytes"));
    assert_eq!(condition.percentile, Some(95.0));
    assert_eq!(
        condition.comparisons,
        vec![(CmpOp::Gt, 10.0), (CmpOp::Lte, 20.0)]
    );
    assert!(rule.group_by.is_empty());
}

#[test]
fn correlation_parses_metadata_aliases_and_generate() {
    let rule = parse(COUNT);
    assert_eq!(rule.title, "Many failed logins");
    assert_eq!(
        rule.id.as_deref(),
        Some("11111111-0000-0000-0000-000000000001")
    );
    assert_eq!(rule.name.as_deref(), Some("many_failed"));
    assert_eq!(rule.level, Some(Level::High));
    assert_eq!(rule.tags, vec!["attack.t1110"]);
    assert!(!rule.generate);
    assert!(rule.fires_eagerly());

    let rule = parse(
        "title: t\ngenerate: true\ncorrelation:\n  type: temporal\n  rules: [internal_error, conn]\n  \
         group-by: [internal_ip]\n  timespan: 10s\n  aliases:\n    internal_ip:\n      \
         internal_error: destination.ip\n      conn: source.ip\n",
    );
    assert!(rule.generate);
    assert_eq!(rule.resolve_field("internal_ip", "conn"), "source.ip");
    assert_eq!(
        rule.resolve_field("internal_ip", "internal_error"),
        "destination.ip"
    );
    assert_eq!(rule.resolve_field("User", "conn"), "User");
    assert!(is_correlation(&doc("correlation: {}")));
    assert!(!is_correlation(&doc("detection: {}")));
}

#[test]
fn correlation_timespans() {
    assert_eq!(parse_timespan("30s"), Ok(30 * S));
    assert_eq!(parse_timespan("5m"), Ok(300 * S));
    assert_eq!(parse_timespan("1h"), Ok(3600 * S));
    assert_eq!(parse_timespan("1d"), Ok(86_400 * S));
    assert_eq!(parse_timespan("90m"), Ok(5400 * S));
    for bad in [
        "5",
        "5M",
        "0m",
        "m",
        "5w",
        "-5m",
        "5 m",
        "",
        "1.5h",
        "99999999999999999d",
    ] {
        assert!(parse_timespan(bad).is_err(), "{bad}");
    }
}

#[test]
fn correlation_parse_errors_name_the_key() {
    let base = "title: t\ncorrelation:\n  type: event_count\n  rules: [a]\n  timespan: 5m\n";
    let cases: Vec<(String, &str)> = vec![
        (
            "correlation: {type: temporal, rules: [a], timespan: 5m}".into(),
            "missing key `title`",
        ),
        ("title: t".into(), "missing key `correlation`"),
        (
            "title: t\ncorrelation: [1]".into(),
            "invalid `correlation`: must be a mapping",
        ),
        (
            "title: t\ncorrelation: {rules: [a], timespan: 5m}".into(),
            "missing key `correlation.type`",
        ),
        (
            "title: t\ncorrelation: {type: event_sum, rules: [a], timespan: 5m}".into(),
            "invalid `correlation.type`: unknown type \"event_sum\"",
        ),
        (
            "title: t\ncorrelation: {type: temporal, timespan: 5m}".into(),
            "missing key `correlation.rules`",
        ),
        (
            "title: t\ncorrelation: {type: temporal, rules: [], timespan: 5m}".into(),
            "invalid `correlation.rules`: must name at least one rule",
        ),
        (
            "title: t\ncorrelation: {type: temporal, rules: [{a: 1}], timespan: 5m}".into(),
            "invalid `correlation.rules`",
        ),
        (
            "title: t\ncorrelation: {type: temporal, rules: [a]}".into(),
            "missing key `correlation.timespan`",
        ),
        (
            "title: t\ncorrelation: {type: temporal, rules: [a], timespan: 5x}".into(),
            "invalid `correlation.timespan`",
        ),
        (
            "title: t\ncorrelation: {type: temporal, rules: [a], timespan: 5m, group-by: {a: 1}}"
                .into(),
            "invalid `correlation.group-by`",
        ),
        (
            "title: t\ncorrelation: {type: temporal, rules: [a], timespan: 5m, when: 1}".into(),
            "invalid `correlation.when`: unknown key",
        ),
        (base.into(), "missing key `correlation.condition`"),
        (
            format!("{base}  condition: 3\n"),
            "invalid `correlation.condition`: must be a mapping",
        ),
        (
            format!("{base}  condition: {{}}\n"),
            "invalid `correlation.condition`: needs a comparison",
        ),
        (
            format!("{base}  condition: {{gte: x}}\n"),
            "invalid `correlation.condition.gte`: must be a number",
        ),
        (
            format!("{base}  condition: {{more: 3}}\n"),
            "invalid `correlation.condition.more`: unknown key",
        ),
        (
            format!("{base}  condition: {{gte: 3, field: User}}\n"),
            "invalid `correlation.condition.field`: not used by event_count",
        ),
        (
            base.replace("event_count", "value_count") + "  condition: {gte: 3}\n",
            "missing key `correlation.condition.field`",
        ),
        (
            base.replace("event_count", "value_percentile") + "  condition: {gte: 3, field: B}\n",
            "missing key `correlation.condition.percentile`",
        ),
        (
            base.replace("event_count", "value_percentile")
                + "  condition: {gte: 3, field: B, percentile: 101}\n",
            "invalid `correlation.condition.percentile`: must be a number from 0 to 100",
        ),
        (
            base.replace("event_count", "value_sum")
                + "  condition: {gte: 3, field: B, percentile: 5}\n",
            "invalid `correlation.condition.percentile`: not used by value_sum",
        ),
        (
            base.replace("event_count", "value_sum") + "  condition: {gte: 3, field: [B]}\n",
            "invalid `correlation.condition.field`: must be a field name",
        ),
        (
            format!("{base}  condition: {{gte: 3}}\n  aliases: [x]\n"),
            "invalid `correlation.aliases`: must be a mapping",
        ),
        (
            format!("{base}  condition: {{gte: 3}}\n  aliases: {{ip: {{b: src}}}}\n"),
            "invalid `correlation.aliases.ip`: \"b\" is not one of the correlation's rules",
        ),
        (
            format!("{base}  condition: {{gte: 3}}\n  aliases: {{ip: x}}\n"),
            "invalid `correlation.aliases.ip`: must map rule names to field names",
        ),
        (
            format!("{base}  condition: {{gte: 3}}\n  aliases: {{ip: {{a: [1]}}}}\n"),
            "invalid `correlation.aliases.ip.a`: must be a field name",
        ),
        (
            format!("{base}  condition: {{gte: 3}}\nlevel: severe\n"),
            "invalid `level`: unknown level",
        ),
        (
            format!("{base}  condition: {{gte: 3}}\ngenerate: maybe\n"),
            "invalid `generate`",
        ),
        (
            format!("{base}  condition: {{gte: 3}}\ntags: {{a: 1}}\n"),
            "invalid `tags`",
        ),
    ];
    for (text, expected) in cases {
        let message = parse_err(&text);
        assert!(
            message.contains(expected),
            "{text}\n=> {message}\nwanted {expected}"
        );
    }
}

// ---- event_count, edges, suppression ----

#[test]
fn correlation_event_count_fires_and_not() {
    let mut e = engine(COUNT);
    let hits = run(
        &mut e,
        &[failed("alice", 0), failed("bob", S), failed("alice", 2 * S)],
    );
    assert_eq!(hits.len(), 1);
    let h = &hits[0];
    assert_eq!(h.title, "Many failed logins");
    assert_eq!(h.level, Some(Level::High));
    assert_eq!(h.group, vec![("User".to_string(), "alice".to_string())]);
    assert_eq!((h.first_time, h.last_time, h.value), (0, 2 * S, 2.0));
    assert_eq!(h.event_times, vec![0, 2 * S]);

    let mut e = engine(COUNT);
    assert!(run(
        &mut e,
        &[failed("alice", 0), failed("bob", S), failed("carol", 2 * S)]
    )
    .is_empty());
    // Matches of other rules are not counted.
    assert!(run(&mut e, &[hit("other", 3 * S, json!({"User": "alice"}))]).is_empty());
}

#[test]
fn correlation_window_edges_are_half_open() {
    // timespan 10s: [first, first + 10s).
    for (second, fires) in [(10 * S - 1, true), (10 * S, false), (10 * S + 1, false)] {
        let mut e = engine(COUNT);
        let hits = run(&mut e, &[failed("alice", 0), failed("alice", second)]);
        assert_eq!(hits.len() == 1, fires, "second match at {second}");
        // Out of order: the same edge holds.
        let mut e = engine(COUNT);
        let hits = run(&mut e, &[failed("alice", second), failed("alice", 0)]);
        assert_eq!(hits.len() == 1, fires, "first match at {second}, late");
    }
}

#[test]
fn correlation_group_fires_once_per_window() {
    let mut e = engine(COUNT);
    let times = [0, S, 2 * S, 3 * S, 9 * S];
    let hits = run(&mut e, &times.map(|t| failed("alice", t)));
    assert_eq!(hits.len(), 1, "no alert storm");
    // The window [0, 10s) fired: matches from 10s on count afresh.
    let hits = run(&mut e, &[failed("alice", 10 * S)]);
    assert!(hits.is_empty());
    let hits = run(&mut e, &[failed("alice", 11 * S)]);
    assert_eq!(hits.len(), 1);
    assert_eq!((hits[0].first_time, hits[0].last_time), (10 * S, 11 * S));
}

#[test]
fn correlation_out_of_order_and_late_matches() {
    let text = COUNT.replace("gte: 2", "gte: 3");
    let mut e = engine(&text);
    // Newest 12s, watermark 2s: a match at 3s is late but still counts.
    let hits = run(
        &mut e,
        &[
            failed("alice", 10 * S),
            failed("alice", 12 * S),
            failed("alice", 3 * S),
        ],
    );
    assert_eq!(hits.len(), 1);
    assert_eq!(hits[0].first_time, 3 * S);
    assert_eq!(hits[0].event_times, vec![3 * S, 10 * S, 12 * S]);

    let mut e = engine(&text);
    // Newest 30s, watermark 20s: 20s is accepted, 19s is too late.
    let hits = run(
        &mut e,
        &[
            failed("bob", 30 * S),
            failed("bob", 19 * S),
            failed("bob", 20 * S),
        ],
    );
    assert!(hits.is_empty());
    assert_eq!(e.stats().late_dropped, 1);
    // [20s, 30s) holds 20s and the late 22s and 25s; 30s is outside it.
    let hits = run(&mut e, &[failed("bob", 22 * S), failed("bob", 25 * S)]);
    assert_eq!(hits.len(), 1);
    assert_eq!(hits[0].event_times, vec![20 * S, 22 * S, 25 * S]);
}

#[test]
fn correlation_matches_without_group_field_are_counted_apart() {
    let mut e = engine(COUNT);
    assert!(run(
        &mut e,
        &[
            hit("failed_login", 0, json!({})),
            hit("failed_login", 1, json!({"User": null}))
        ]
    )
    .is_empty());
    assert_eq!(e.stats().missing_group_field, 2);
    // Nested fields are read by path.
    let mut e = engine(&COUNT.replace("[User]", "[user.name]"));
    let h = |t| hit("failed_login", t, json!({"user": {"name": "x"}}));
    assert_eq!(run(&mut e, &[h(0), h(1)]).len(), 1);
}

#[test]
fn correlation_refers_by_id() {
    let mut e = engine(&COUNT.replace("[failed_login]", "[5638f7c0-ac70-491d-8465-2a65075e0d86]"));
    let by_id = |t| BaseHit {
        rule_name: Some("failed".into()),
        rule_id: Some("5638f7c0-ac70-491d-8465-2a65075e0d86".into()),
        time: t,
        event: json!({"User": "a"}).as_object().unwrap().clone(),
    };
    assert_eq!(run(&mut e, &[by_id(0), by_id(1)]).len(), 1);
}

#[test]
fn correlation_upper_bounds_are_judged_when_the_window_ends() {
    let text = COUNT.replace("gte: 2", "lt: 3");
    let mut e = engine(&text);
    assert!(!e.rules().next().unwrap().fires_eagerly());
    // alice: 2 matches in [0, 10s); bob: 3.
    let mut hits = run(
        &mut e,
        &[
            failed("alice", 0),
            failed("alice", S),
            failed("bob", 0),
            failed("bob", S),
            failed("bob", 2 * S),
        ],
    );
    assert!(hits.is_empty(), "not judged before the window is final");
    // Newest 20s: watermark 10s, the windows starting at 0 are final.
    hits.extend(run(&mut e, &[failed("carol", 20 * S)]));
    assert_eq!(hits.len(), 1, "{hits:?}");
    assert_eq!(hits[0].group[0].1, "alice");
    assert_eq!(hits[0].value, 2.0);
    // bob's later windows [1s, 11s) and [2s, 12s) hold (2 and 1 matches)
    // but are not final until the watermark reaches them.
    let hits = e.flush();
    let groups: Vec<&str> = hits.iter().map(|h| h.group[0].1.as_str()).collect();
    assert_eq!(groups, vec!["bob", "carol"]);
    assert_eq!(hits[0].first_time, S);
}

// ---- value_count ----

const VALUE_COUNT: &str = "
title: Password spraying
correlation:
  type: value_count
  rules: [failed_login]
  group-by: [Source]
  timespan: 1m
  condition:
    field: User
    gte: 3
";

#[test]
fn correlation_value_count_fires_and_not() {
    let h = |user: &str, t| {
        hit(
            "failed_login",
            t,
            json!({"Source": "10.0.0.1", "User": user}),
        )
    };
    let mut e = engine(VALUE_COUNT);
    let hits = run(
        &mut e,
        &[h("a", 0), h("a", S), h("b", 2 * S), h("c", 3 * S)],
    );
    assert_eq!(hits.len(), 1);
    assert_eq!(hits[0].value, 3.0);
    assert_eq!(hits[0].group, vec![("Source".into(), "10.0.0.1".into())]);

    let mut e = engine(VALUE_COUNT);
    assert!(run(
        &mut e,
        &[h("a", 0), h("a", S), h("b", 2 * S), h("b", 3 * S)]
    )
    .is_empty());
    // The third user only after the minute.
    assert!(run(&mut e, &[h("c", 61 * S)]).is_empty());
    // A match without the field is not counted.
    assert!(run(
        &mut e,
        &[hit("failed_login", 62 * S, json!({"Source": "10.0.0.1"}))]
    )
    .is_empty());
    assert_eq!(e.stats().missing_value, 1);
}

// ---- temporal ----

const TEMPORAL: &str = "
title: Recon
correlation:
  type: temporal
  rules: [recon_a, recon_b, recon_c]
  group-by: [Host]
  timespan: 5m
";

#[test]
fn correlation_temporal_fires_and_not() {
    let h = |rule: &str, host: &str, t| hit(rule, t, json!({"Host": host}));
    let mut e = engine(TEMPORAL);
    let hits = run(
        &mut e,
        &[
            h("recon_c", "h1", 0),
            h("recon_a", "h1", 10 * S),
            h("recon_a", "h2", 20 * S),
            h("recon_b", "h1", 299 * S),
        ],
    );
    assert_eq!(hits.len(), 1);
    assert_eq!(hits[0].value, 3.0);
    assert_eq!(hits[0].event_times, vec![0, 10 * S, 299 * S]);

    // Same rules, but one of them 5 minutes after the first.
    let mut e = engine(TEMPORAL);
    assert!(run(
        &mut e,
        &[
            h("recon_c", "h1", 0),
            h("recon_a", "h1", 10 * S),
            h("recon_b", "h1", 300 * S)
        ]
    )
    .is_empty());
    // Or on another host.
    let mut e = engine(TEMPORAL);
    assert!(run(
        &mut e,
        &[
            h("recon_c", "h1", 0),
            h("recon_a", "h1", 10 * S),
            h("recon_b", "h2", 20 * S)
        ]
    )
    .is_empty());

    // With a condition: any two of the three.
    let mut e = engine(&format!("{TEMPORAL}  condition: {{gte: 2}}\n"));
    assert_eq!(
        run(&mut e, &[h("recon_c", "h1", 0), h("recon_a", "h1", 10 * S)]).len(),
        1
    );
    let mut e = engine(&format!("{TEMPORAL}  condition: {{gte: 2}}\n"));
    assert!(run(&mut e, &[h("recon_c", "h1", 0), h("recon_c", "h1", 10 * S)]).is_empty());
}

#[test]
fn correlation_temporal_ordered_fires_and_not() {
    let text = TEMPORAL.replace("type: temporal", "type: temporal_ordered");
    let h = |rule: &str, t| hit(rule, t, json!({"Host": "h1"}));
    let mut e = engine(&text);
    let hits = run(
        &mut e,
        &[
            h("recon_b", 0),
            h("recon_a", S),
            h("recon_b", 2 * S),
            h("recon_c", 3 * S),
        ],
    );
    assert_eq!(hits.len(), 1);
    // The hit reports the whole window, from its first match.
    assert_eq!((hits[0].first_time, hits[0].value), (0, 3.0));

    let mut e = engine(&text);
    assert!(run(
        &mut e,
        &[h("recon_a", 0), h("recon_c", S), h("recon_b", 2 * S)]
    )
    .is_empty());
    // Out of order arrival, in order in time.
    let mut e = engine(&text);
    assert_eq!(
        run(
            &mut e,
            &[h("recon_c", 3 * S), h("recon_a", S), h("recon_b", 2 * S)]
        )
        .len(),
        1
    );
}

// ---- value_sum, value_avg, value_percentile ----

fn numeric(kind: &str, condition: &str) -> CorrelationEngine {
    engine(&format!(
        "title: Exfil\ncorrelation:\n  type: {kind}\n  rules: [upload]\n  group-by: [User]\n  \
         timespan: 10s\n  condition: {condition}\n"
    ))
}

fn upload(bytes: serde_json::Value, t: i64) -> BaseHit {
    hit("upload", t, json!({"User": "alice", "Bytes": bytes}))
}

#[test]
fn correlation_value_sum_fires_and_not() {
    let mut e = numeric("value_sum", "{field: Bytes, gt: 100}");
    assert!(run(&mut e, &[upload(json!(60), 0), upload(json!("50"), S)]).is_empty());
    let hits = e.flush();
    assert_eq!(hits.len(), 1);
    assert_eq!(hits[0].value, 110.0);

    let mut e = numeric("value_sum", "{field: Bytes, gt: 100}");
    run(
        &mut e,
        &[
            upload(json!(60), 0),
            upload(json!("x"), S),
            upload(json!(40), 10 * S),
        ],
    );
    assert_eq!(e.stats().missing_value, 1);
    assert!(e.flush().is_empty());
}

#[test]
fn correlation_value_avg_fires_and_not() {
    let mut e = numeric("value_avg", "{field: Bytes, gte: 10, lt: 20}");
    // The watermark passing the window's end judges it.
    let hits = run(
        &mut e,
        &[
            upload(json!(5), 0),
            upload(json!(25), S),
            upload(json!(1000), 25 * S),
        ],
    );
    assert_eq!(hits.len(), 1);
    assert_eq!(hits[0].value, 15.0);
    assert_eq!(hits[0].event_times, vec![0, S]);

    let mut e = numeric("value_avg", "{field: Bytes, gte: 10, lt: 20}");
    run(&mut e, &[upload(json!(5), 0), upload(json!(5), S)]);
    assert!(e.flush().is_empty());
}

#[test]
fn correlation_value_percentile_fires_and_not() {
    // Every window [t, t + 10s) is judged: none but the first holds 100.
    let values = [100, 1, 2, 3, 4];
    let feed = |e: &mut CorrelationEngine| {
        for (i, v) in values.iter().enumerate() {
            e.observe(&upload(json!(v), i as i64 * S));
        }
        e.flush()
    };
    let mut e = numeric("value_percentile", "{field: Bytes, percentile: 90, gt: 50}");
    let hits = feed(&mut e);
    assert_eq!(hits.len(), 1);
    assert!((hits[0].value - 61.6).abs() < 1e-9, "{}", hits[0].value);

    let mut e = numeric("value_percentile", "{field: Bytes, percentile: 50, gt: 50}");
    assert!(feed(&mut e).is_empty());
}

// ---- aliases, chaining ----

#[test]
fn correlation_group_by_aliases() {
    let text = "
title: Error then connection
correlation:
  type: temporal
  rules: [internal_error, new_network_connection]
  group-by: [internal_ip, remote_ip]
  timespan: 10s
  aliases:
    internal_ip:
      internal_error: destination.ip
      new_network_connection: source.ip
    remote_ip:
      internal_error: source.ip
      new_network_connection: destination.ip
";
    let error = |src: &str, dst: &str, t| {
        hit(
            "internal_error",
            t,
            json!({"source": {"ip": src}, "destination": {"ip": dst}}),
        )
    };
    let conn = |src: &str, dst: &str, t| {
        hit(
            "new_network_connection",
            t,
            json!({"source.ip": src, "destination.ip": dst}),
        )
    };
    let mut e = engine(text);
    let hits = run(
        &mut e,
        &[
            error("1.2.3.4", "10.0.0.1", 0),
            conn("10.0.0.1", "1.2.3.4", 5 * S),
        ],
    );
    assert_eq!(hits.len(), 1);
    assert_eq!(
        hits[0].group,
        vec![
            ("internal_ip".to_string(), "10.0.0.1".to_string()),
            ("remote_ip".to_string(), "1.2.3.4".to_string())
        ]
    );
    // The same addresses the other way round are another group.
    let mut e = engine(text);
    assert!(run(
        &mut e,
        &[
            error("1.2.3.4", "10.0.0.1", 0),
            conn("1.2.3.4", "10.0.0.1", 5 * S)
        ]
    )
    .is_empty());
}

const CHAIN: &str = "
title: Failed logins then success
level: critical
correlation:
  type: temporal_ordered
  rules: [many_failed, successful_login]
  group-by: [User]
  timespan: 1m
";

#[test]
fn correlation_over_a_correlation() {
    let rules = vec![parse(COUNT), parse(CHAIN)];
    let ok = |user: &str, t| hit("successful_login", t, json!({"User": user}));

    let mut e = CorrelationEngine::new(rules.clone());
    let mut all = Vec::new();
    for h in [failed("alice", 0), failed("alice", S), ok("alice", 5 * S)] {
        all.extend(e.observe_chained(&h));
    }
    let titles: Vec<&str> = all.iter().map(|h| h.title.as_str()).collect();
    assert_eq!(
        titles,
        vec!["Many failed logins", "Failed logins then success"]
    );
    let outer = &all[1];
    assert_eq!(outer.level, Some(Level::Critical));
    assert_eq!(outer.group, vec![("User".to_string(), "alice".to_string())]);
    assert_eq!(outer.event_times, vec![S, 5 * S]);

    // Fed back by hand, the same; success before the failures does not fire.
    let mut e = CorrelationEngine::new(rules);
    let mut all = run(&mut e, &[ok("bob", 0), failed("bob", S)]);
    let inner = run(&mut e, &[failed("bob", 2 * S)]);
    assert_eq!(inner.len(), 1);
    all.extend(run(&mut e, &[inner[0].to_base_hit()]));
    assert!(all.is_empty(), "{all:?}");
}

// ---- snapshot, limits ----

#[test]
fn correlation_snapshot_round_trip_continues_counting() {
    let text = COUNT.replace("gte: 2", "gte: 3");
    let mut e = engine(&text);
    assert!(run(
        &mut e,
        &[failed("alice", 0), failed("alice", S), failed("bob", S)]
    )
    .is_empty());
    let saved = serde_json::to_string(&e.snapshot()).unwrap();

    let snapshot: serde_json::Value = serde_json::from_str(&saved).unwrap();
    let mut restored = CorrelationEngine::restore(vec![parse(&text)], &snapshot).unwrap();
    assert_eq!(restored.snapshot(), snapshot);
    let hits = run(&mut restored, &[failed("alice", 2 * S)]);
    assert_eq!(hits.len(), 1);
    assert_eq!(hits[0].event_times, vec![0, S, 2 * S]);

    // A changed rule starts afresh.
    let changed = text.replace("timespan: 10s", "timespan: 20s");
    let mut fresh = CorrelationEngine::restore(vec![parse(&changed)], &snapshot).unwrap();
    assert_eq!(fresh.group_count(), 0);
    assert!(run(&mut fresh, &[failed("alice", 2 * S)]).is_empty());

    // Bad snapshots are refused.
    let mut wrong = snapshot.clone();
    wrong["version"] = json!(99);
    let err = CorrelationEngine::restore(vec![parse(&text)], &wrong).unwrap_err();
    assert!(err.to_string().contains("version 99"), "{err}");
    assert!(CorrelationEngine::restore(vec![parse(&text)], &json!({"rules": 1})).is_err());
    let mut wrong = snapshot.clone();
    wrong["rules"][0]["groups"][0]["events"][0]["r"] = json!(7);
    assert!(CorrelationEngine::restore(vec![parse(&text)], &wrong).is_err());
}

#[test]
fn correlation_snapshot_keeps_suppression_and_pending_windows() {
    let mut e = engine(COUNT);
    assert_eq!(
        run(&mut e, &[failed("alice", 0), failed("alice", S)]).len(),
        1
    );
    let mut e = CorrelationEngine::restore(vec![parse(COUNT)], &e.snapshot()).unwrap();
    assert!(
        run(&mut e, &[failed("alice", 2 * S)]).is_empty(),
        "still suppressed"
    );

    let text = COUNT.replace("gte: 2", "lte: 2");
    let mut e = engine(&text);
    run(&mut e, &[failed("alice", 0)]);
    let mut e = CorrelationEngine::restore(vec![parse(&text)], &e.snapshot()).unwrap();
    assert_eq!(e.flush().len(), 1);
}

#[test]
fn correlation_memory_is_bounded() {
    let limits = CorrelationLimits {
        max_events_per_group: 3,
        max_groups: 2,
    };
    let text = COUNT.replace("gte: 2", "gte: 100");
    let mut e = CorrelationEngine::with_limits(vec![parse(&text)], limits);
    run(
        &mut e,
        &(0..5).map(|i| failed("alice", i)).collect::<Vec<_>>(),
    );
    assert_eq!(e.event_count(), 3);
    assert_eq!(e.stats().evicted_events, 2);

    run(&mut e, &[failed("bob", 10), failed("carol", 11)]);
    assert_eq!(e.group_count(), 2);
    assert_eq!(e.stats().evicted_groups, 1);
    let snapshot = e.snapshot();
    let groups: Vec<&str> = snapshot["rules"][0]["groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["key"][0].as_str().unwrap())
        .collect();
    assert_eq!(
        groups,
        vec!["bob", "carol"],
        "the group seen least recently goes"
    );

    // Old matches are forgotten as time passes.
    let mut e = engine(&text);
    run(
        &mut e,
        &(0..50).map(|i| failed("alice", i * S)).collect::<Vec<_>>(),
    );
    assert!(e.event_count() <= 21, "{}", e.event_count());
    run(&mut e, &[failed("bob", 1000 * S)]);
    assert_eq!(e.group_count(), 1);
    assert_eq!(e.stats().evicted_events, 0);
}

#[test]
fn correlation_window_is_final_one_timespan_after_it_ends() {
    // [0, 10s) is final when the watermark (newest - 10s) reaches 10s.
    let text = COUNT.replace("gte: 2", "lte: 2");
    let mut e = engine(&text);
    assert!(run(&mut e, &[failed("alice", 0), failed("bob", 20 * S - 1)]).is_empty());
    let hits = run(&mut e, &[failed("bob", 20 * S)]);
    assert_eq!(hits.len(), 1);
    assert_eq!(hits[0].group[0].1, "alice");
    // The watermark is now 10s: a match just below it is too late.
    run(&mut e, &[failed("carol", 10 * S - 1)]);
    assert_eq!(e.stats().late_dropped, 1);
}

// ---- evidence ----

/// A hit lists every event of its window by id (those fed with one), in
/// time order, bounded; the ids survive a snapshot and restore.
#[test]
fn correlation_hits_carry_their_event_ids() {
    let mut e = engine(&COUNT.replace("gte: 2", "gte: 3"));
    assert!(e
        .observe_chained_with_id(&failed("alice", 2 * S), Some("ev2"))
        .is_empty());
    assert!(e
        .observe_chained_with_id(&failed("bob", 2 * S), Some("bob1"))
        .is_empty());
    assert!(e
        .observe_chained_with_id(&failed("alice", 0), Some("ev0"))
        .is_empty());
    let mut restored = CorrelationEngine::restore(
        vec![parse(&COUNT.replace("gte: 2", "gte: 3"))],
        &e.snapshot(),
    )
    .expect("restore");
    let hits = restored.observe_chained_with_id(&failed("alice", 3 * S), Some("ev3"));
    assert_eq!(hits.len(), 1);
    assert_eq!(
        hits[0].event_ids,
        ["ev0", "ev2", "ev3"],
        "the group's, in time order"
    );

    let mut e = engine(&COUNT.replace("gte: 2", "gte: 150"));
    let mut fired = Vec::new();
    for i in 0..150 {
        let id = format!("e{i}");
        fired.extend(e.observe_chained_with_id(&failed("alice", i), Some(&id)));
    }
    assert_eq!(fired.len(), 1);
    assert_eq!(fired[0].event_times.len(), 150);
    assert_eq!(fired[0].event_ids.len(), MAX_EVENT_IDS);
    assert_eq!(fired[0].event_ids[0], "e0");
    // Without ids (the plain observe), a hit has none.
    let mut e = engine(COUNT);
    let hits = run(&mut e, &[failed("alice", 0), failed("alice", S)]);
    assert!(hits[0].event_ids.is_empty());
}

// ---- repeated events (`message repeated N times`) ----

const BRUTE: &str = "
title: brute
correlation:
  type: event_count
  rules: [failed_login]
  group-by: [User]
  timespan: 5m
  condition:
    gte: 6
";

#[test]
fn correlation_repeated_event_counts_its_repeat_count() {
    // sshd's first failure, then `message repeated 5 times: [ ... ]`: 6.
    let mut e = engine(BRUTE);
    let fired = run(
        &mut e,
        &[
            failed("root", 0),
            hit(
                "failed_login",
                13 * S,
                json!({"User": "root", REPEAT_COUNT_FIELD: 5}),
            ),
        ],
    );
    assert_eq!(fired.len(), 1, "{fired:?}");
    assert_eq!(fired[0].value, 6.0);
    assert_eq!(fired[0].event_times, vec![0, 13 * S]);

    // 1 + 4 is not 6; a count that is no number ≥ 1 counts once.
    let mut e = engine(BRUTE);
    let hits: Vec<BaseHit> = [json!(4), json!(0), json!(-3), json!("x"), json!(null)]
        .into_iter()
        .enumerate()
        .map(|(i, n)| {
            hit(
                "failed_login",
                i as i64 * S,
                json!({"User": "bob", REPEAT_COUNT_FIELD: n}),
            )
        })
        .collect();
    assert!(run(&mut e, &hits[..1]).is_empty());
    // 4, then 1 each: 6 with the third match.
    let fired = run(&mut e, &hits[1..]);
    assert_eq!(fired.len(), 1, "{fired:?}");
    assert_eq!(fired[0].value, 6.0);
    assert_eq!(fired[0].last_time, 2 * S);

    // A huge count is bounded, not an overflow.
    let mut e = engine(BRUTE);
    let fired = run(
        &mut e,
        &[hit(
            "failed_login",
            0,
            json!({"User": "x", REPEAT_COUNT_FIELD: u64::MAX}),
        )],
    );
    assert_eq!(fired[0].value, (1u64 << 32) as f64);
}

#[test]
fn correlation_repeat_count_leaves_value_count_alone() {
    let rule = "
title: spray
correlation:
  type: value_count
  rules: [failed_login]
  group-by: [Source]
  timespan: 5m
  condition:
    gte: 2
    field: User
";
    let mut e = engine(rule);
    let repeated = hit(
        "failed_login",
        0,
        json!({"Source": "1.2.3.4", "User": "root", REPEAT_COUNT_FIELD: 9}),
    );
    assert!(
        run(&mut e, &[repeated]).is_empty(),
        "one user, however often"
    );
    let other = hit(
        "failed_login",
        S,
        json!({"Source": "1.2.3.4", "User": "bob"}),
    );
    let fired = run(&mut e, &[other]);
    assert_eq!(fired[0].value, 2.0);
}

#[test]
fn correlation_repeat_count_survives_a_snapshot() {
    let mut e = engine(BRUTE);
    let repeated = hit(
        "failed_login",
        0,
        json!({"User": "root", REPEAT_COUNT_FIELD: 5}),
    );
    assert!(run(&mut e, &[repeated]).is_empty());
    let snap = e.snapshot();
    let mut e = CorrelationEngine::restore(vec![parse(BRUTE)], &snap).unwrap();
    let fired = run(&mut e, &[failed("root", S)]);
    assert_eq!(fired.len(), 1, "5 restored + 1: {snap}");
}
