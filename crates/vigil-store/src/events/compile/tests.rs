//! Every predicate kind against a small in-RAM index of realistic events.
//! Events are numbered 1..=8 (their ids); each test names the exact set.

use std::collections::BTreeSet;
use std::ops::Bound::{self, Excluded, Included, Unbounded};
use std::sync::OnceLock;

use serde_json::{json, Value as JsonValue};
use tantivy::collector::{DocSetCollector, TopDocs};
use tantivy::indexer::NoMergePolicy;
use tantivy::schema::Value;
use tantivy::{Index, IndexWriter, Order, Searcher, TantivyDocument};
use vigil_core::{Event, EventId, TenantId, Timestamp};
use vigil_query::{Predicate, Query, TextMatch, WildcardPiece};

use super::{compile, has_field, top_values, try_compile, CompileError};
use crate::events::schema::EventSchema;

use WildcardPiece::{AnyChar, AnyRun};

/// 2024-05-01T10:00:00Z; event `n` happens `n` minutes later.
const BASE: i64 = 1_714_557_600_000_000;

fn events() -> Vec<JsonValue> {
    vec![
        json!({
            "event": {"dataset": "sshd", "outcome": "failure"},
            "message": "Failed password for invalid user admin from 203.0.113.7 port 52311 ssh2",
            "source": {"ip": "203.0.113.7", "port": 52311},
            "user": {"name": "Admin"},
            "host": {"name": "bastion-01"},
            "authenticated": false,
        }),
        json!({
            "event": {"dataset": "sshd", "outcome": "success"},
            "message": "Accepted publickey for root from 10.1.2.3 port 40022 ssh2",
            "source": {"ip": "10.1.2.3", "port": 40022},
            "user": {"name": "root"},
            "host": {"name": "bastion-01"},
            "authenticated": true,
        }),
        json!({
            "event": {"dataset": "firewall", "action": "deny"},
            "source": {"ip": "10.1.200.9", "port": 51000},
            "destination": {"ip": "192.168.1.20", "port": 443},
            "network": {"transport": "tcp", "bytes": 1500.5},
            "rule": {"name": "block-outbound.tmp"},
        }),
        json!({
            "event": {"dataset": "firewall", "action": "allow"},
            "source": {"ip": "2001:db8:1::25"},
            "destination": {"ip": "2001:db8:ffff::1", "port": 53},
            "network": {"transport": "udp", "bytes": 96},
            "rule": {"name": "allow-dns*"},
        }),
        json!({
            "event": {"dataset": "nginx"},
            "http": {"request": {"method": "GET"}, "response": {"status_code": 404}},
            "url": {"path": "/wp-login.php"},
            "client_ip": "::ffff:10.9.8.7",
            "user_agent": {"original": "Mozilla/5.0 (compatible; Googlebot/2.1)"},
            "status": "404",
            "tags": ["web", "scan"],
        }),
        json!({
            "event": {"dataset": "nginx"},
            "http": {"response": {"status_code": 200}},
            "url": {"path": "/index.html"},
            "client_ip": "198.51.100.23",
            "status": "200",
            "latency": 0.25,
            "tags": ["web"],
        }),
        json!({
            "event": {"dataset": "sshd", "outcome": "failure"},
            "message": "Failed password for admin from 203.0.113.7 port 52311 ssh2",
            "source": {"ip": "203.0.113.7", "port": 52311},
            "user": {"name": "admin"},
            "host": {"name": "bastion-02"},
        }),
        json!({
            "event": {"dataset": "debug"},
            "blob": long_value(),
            "peer": "2001:db9::1",
            "status": 500,
        }),
    ]
}

/// Longer than tantivy's term limit (~64 KiB).
fn long_value() -> String {
    format!("{}Y", "x".repeat(70_000))
}

struct Fixture {
    schema: EventSchema,
    searcher: Searcher,
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(build_fixture)
}

fn build_fixture() -> Fixture {
    let schema = EventSchema::new();
    let index = Index::create_in_ram(schema.schema.clone());
    schema.register_tokenizers(&index);
    let mut writer: IndexWriter = index
        .writer_with_num_threads(1, 30_000_000)
        .expect("writer");
    writer.set_merge_policy(Box::new(NoMergePolicy));
    for (n, doc) in events().into_iter().enumerate() {
        let n = n as i64 + 1;
        let event = Event {
            id: EventId(n as u128),
            tenant: TenantId(1),
            time: Timestamp(BASE + n * 60_000_000),
            raw: doc.to_string(),
            doc: doc.as_object().cloned().expect("object"),
        };
        writer.add_document(schema.document(&event)).expect("add");
        // Two segments: results must merge across them.
        if n == 4 {
            writer.commit().expect("commit");
        }
    }
    writer.commit().expect("commit");
    let searcher = index.reader().expect("reader").searcher();
    assert_eq!(searcher.segment_readers().len(), 2);
    Fixture { schema, searcher }
}

fn id_of(fx: &Fixture, doc: &TantivyDocument) -> u128 {
    let text = doc
        .get_first(fx.schema.id)
        .and_then(|v| v.as_str())
        .expect("id");
    text.parse::<EventId>().expect("hex id").0
}

fn matches(query: &Query) -> BTreeSet<u128> {
    let fx = fixture();
    let compiled = try_compile(&fx.schema, query).expect("query compiles");
    let found = fx
        .searcher
        .search(&*compiled, &DocSetCollector)
        .expect("search");
    found
        .into_iter()
        .map(|address| {
            let doc: TantivyDocument = fx.searcher.doc(address).expect("doc");
            id_of(fx, &doc)
        })
        .collect()
}

fn set(ids: &[u128]) -> BTreeSet<u128> {
    ids.iter().copied().collect()
}

fn all() -> BTreeSet<u128> {
    (1..=8).collect()
}

fn field(name: &str, predicate: Predicate) -> Query {
    Query::Field {
        field: name.to_string(),
        predicate,
    }
}

fn eq(name: &str, value: &str) -> Query {
    field(name, Predicate::Equals(value.to_string()))
}

fn phrase(name: &str, value: &str) -> Query {
    field(name, Predicate::Phrase(value.to_string()))
}

fn lit(text: &str) -> WildcardPiece {
    WildcardPiece::Literal(text.to_string())
}

fn wild(name: &str, pieces: Vec<WildcardPiece>) -> Query {
    field(name, Predicate::Wildcard(pieces))
}

fn range(name: &str, lower: Bound<&str>, upper: Bound<&str>) -> Query {
    field(
        name,
        Predicate::Range {
            lower: lower.map(str::to_string),
            upper: upper.map(str::to_string),
        },
    )
}

fn cidr(name: &str, network: &str) -> Query {
    let (address, len) = network.split_once('/').expect("cidr");
    field(
        name,
        Predicate::Cidr {
            network: address.parse().expect("ip"),
            prefix_len: len.parse().expect("prefix"),
        },
    )
}

fn exists(name: &str) -> Query {
    field(name, Predicate::Exists)
}

fn not(query: Query) -> Query {
    Query::Not(Box::new(query))
}

fn word(text: &str) -> Query {
    Query::Text(TextMatch::Word(text.to_string()))
}

fn text_phrase(text: &str) -> Query {
    Query::Text(TextMatch::Phrase(text.to_string()))
}

fn text_wild(pieces: Vec<WildcardPiece>) -> Query {
    Query::Text(TextMatch::Wildcard(pieces))
}

#[test]
fn equals_is_exact_and_case_insensitive() {
    assert_eq!(matches(&eq("user.name", "ADMIN")), set(&[1, 7]));
    assert_eq!(matches(&eq("user.name", "Root")), set(&[2]));
    assert_eq!(matches(&eq("user.name", "adm")), set(&[]));
    assert_eq!(matches(&eq("host.name", "BASTION-01")), set(&[1, 2]));
    assert_eq!(matches(&eq("event.dataset", "sshd")), set(&[1, 2, 7]));
    assert_eq!(matches(&eq("tags", "web")), set(&[5, 6]));
    assert_eq!(matches(&eq("tags", "scan")), set(&[5]));
    // A value of another path does not leak.
    assert_eq!(matches(&eq("user", "admin")), set(&[]));
    assert_eq!(matches(&eq("nosuch", "admin")), set(&[]));
}

#[test]
fn phrases_match_whole_values_with_literal_stars() {
    let agent = "mozilla/5.0 (compatible; googlebot/2.1)";
    assert_eq!(matches(&phrase("user_agent.original", agent)), set(&[5]));
    assert_eq!(
        matches(&phrase("user_agent.original", "googlebot")),
        set(&[])
    );
    assert_eq!(matches(&phrase("rule.name", "allow-dns*")), set(&[4]));
    assert_eq!(matches(&phrase("rule.name", "allow*")), set(&[]));
}

#[test]
fn numbers_match_ints_floats_and_numeric_strings() {
    assert_eq!(matches(&eq("source.port", "52311")), set(&[1, 7]));
    assert_eq!(matches(&eq("source.port", "52311.0")), set(&[1, 7]));
    assert_eq!(matches(&eq("network.bytes", "1500.5")), set(&[3]));
    assert_eq!(matches(&eq("network.bytes", "96")), set(&[4]));
    assert_eq!(matches(&eq("network.bytes", "96.0")), set(&[4]));
    assert_eq!(matches(&eq("network.bytes", "1500")), set(&[]));
    assert_eq!(matches(&eq("http.response.status_code", "404")), set(&[5]));
    assert_eq!(matches(&eq("latency", "0.25")), set(&[6]));
    // "404" is a string in event 5: matched as a keyword and as a number.
    assert_eq!(matches(&eq("status", "404")), set(&[5]));
    assert_eq!(matches(&eq("status", "404.0")), set(&[5]));
    assert_eq!(matches(&eq("status", "500")), set(&[8]));
}

#[test]
fn bools_match_in_any_case() {
    assert_eq!(matches(&eq("authenticated", "true")), set(&[2]));
    assert_eq!(matches(&eq("authenticated", "FALSE")), set(&[1]));
}

#[test]
fn ip_equality_ignores_the_textual_form() {
    assert_eq!(matches(&eq("source.ip", "203.0.113.7")), set(&[1, 7]));
    assert_eq!(matches(&eq("source.ip", "::ffff:10.1.2.3")), set(&[2]));
    assert_eq!(matches(&eq("client_ip", "10.9.8.7")), set(&[5]));
    assert_eq!(matches(&eq("client_ip", "::FFFF:10.9.8.7")), set(&[5]));
    assert_eq!(matches(&eq("source.ip", "2001:DB8:1:0::25")), set(&[4]));
}

#[test]
fn wildcards_prefix_suffix_infix_and_single_chars() {
    assert_eq!(
        matches(&wild("host.name", vec![lit("bast"), AnyRun])),
        set(&[1, 2, 7])
    );
    assert_eq!(
        matches(&wild("host.name", vec![lit("BAST"), AnyRun])),
        set(&[1, 2, 7])
    );
    assert_eq!(
        matches(&wild("url.path", vec![AnyRun, lit(".php")])),
        set(&[5])
    );
    let infix = vec![AnyRun, lit("googlebot"), AnyRun];
    assert_eq!(matches(&wild("user_agent.original", infix)), set(&[5]));
    let single = vec![lit("r"), AnyChar, AnyChar, lit("t")];
    assert_eq!(matches(&wild("user.name", single)), set(&[2]));
    assert_eq!(
        matches(&wild("user.name", vec![AnyChar, lit("dmin")])),
        set(&[1, 7])
    );
    assert_eq!(matches(&wild("event.dataset", vec![AnyRun])), all());
    // Values of other paths never match.
    assert_eq!(
        matches(&wild("user.name", vec![lit("bast"), AnyRun])),
        set(&[])
    );
    assert_eq!(matches(&wild("user", vec![AnyRun])), set(&[]));
}

#[test]
fn wildcard_literals_are_escaped() {
    // `.` is a dot, not any character.
    let dotted = vec![lit("block.outbound"), AnyRun];
    assert_eq!(matches(&wild("rule.name", dotted)), set(&[]));
    let exact_dot = vec![lit("block-outbound.t"), AnyRun];
    assert_eq!(matches(&wild("rule.name", exact_dot)), set(&[3]));
    let any_then_dot = vec![lit("block-outbound"), AnyChar, lit("tmp")];
    assert_eq!(matches(&wild("rule.name", any_then_dot)), set(&[3]));
    let parens = vec![AnyRun, lit("(compatible;"), AnyRun];
    assert_eq!(matches(&wild("user_agent.original", parens)), set(&[5]));
    let tail = vec![AnyRun, lit("googlebot/2.1)")];
    assert_eq!(matches(&wild("user_agent.original", tail)), set(&[5]));
    // A literal star (escaped in the query) is a star.
    assert_eq!(
        matches(&wild("rule.name", vec![lit("allow-dns*")])),
        set(&[4])
    );
    assert_eq!(matches(&wild("rule.name", vec![lit("allow-*")])), set(&[]));
}

#[test]
fn numeric_ranges_with_open_and_exclusive_bounds() {
    let port = |lower, upper| matches(&range("source.port", lower, upper));
    assert_eq!(port(Included("40000"), Excluded("52311")), set(&[2, 3]));
    assert_eq!(
        port(Included("40000"), Included("52311")),
        set(&[1, 2, 3, 7])
    );
    assert_eq!(port(Excluded("51000"), Unbounded), set(&[1, 7]));
    assert_eq!(port(Included("51000"), Included("*")), set(&[1, 3, 7]));
    assert_eq!(port(Excluded("40021.5"), Excluded("40022.5")), set(&[2]));
    let bytes = |lower, upper| matches(&range("network.bytes", lower, upper));
    assert_eq!(bytes(Excluded("100"), Unbounded), set(&[3]));
    assert_eq!(bytes(Included("0"), Included("1500.5")), set(&[3, 4]));
    assert_eq!(bytes(Included("0"), Excluded("1500.5")), set(&[4]));
    assert_eq!(bytes(Excluded("96"), Included("*")), set(&[3]));
    assert_eq!(bytes(Included("96"), Included("96")), set(&[4]));
    assert_eq!(bytes(Excluded("95.5"), Excluded("96.5")), set(&[4]));
    assert_eq!(bytes(Included("1e3"), Unbounded), set(&[3]));
    assert_eq!(
        matches(&range("latency", Unbounded, Excluded("1"))),
        set(&[6])
    );
    let status_code = range(
        "http.response.status_code",
        Included("200"),
        Excluded("404"),
    );
    assert_eq!(matches(&status_code), set(&[6]));
    // Numeric strings ("404", "200") and a JSON number (500) at one path.
    assert_eq!(
        matches(&range("status", Included("400"), Unbounded)),
        set(&[5, 8])
    );
    assert_eq!(
        matches(&range("status", Unbounded, Included("300"))),
        set(&[6])
    );
    assert_eq!(
        matches(&range("status", Included("1000"), Unbounded)),
        set(&[])
    );
}

#[test]
fn string_ranges_compare_keywords() {
    let user = |lower, upper| matches(&range("user.name", lower, upper));
    assert_eq!(user(Included("a"), Included("r")), set(&[1, 7]));
    assert_eq!(user(Included("admin"), Included("root")), set(&[1, 2, 7]));
    assert_eq!(user(Excluded("admin"), Excluded("root")), set(&[]));
    assert_eq!(user(Excluded("m"), Unbounded), set(&[2]));
    assert_eq!(user(Unbounded, Included("ADMIN")), set(&[1, 7]));
    let dataset = range("event.dataset", Included("firewall"), Included("nginx"));
    assert_eq!(matches(&dataset), set(&[3, 4, 5, 6]));
    // A mixed number/word range is a string range: no number matches.
    assert_eq!(
        matches(&range("source.port", Included("1"), Included("z"))),
        set(&[])
    );
    // `[* TO *]` is "the field exists".
    assert_eq!(
        matches(&range("destination.port", Unbounded, Included("*"))),
        set(&[3, 4])
    );
}

#[test]
fn time_pseudo_field_ranges_over_event_time() {
    let time = |lower, upper| matches(&range("_time", lower, upper));
    let (t1, t3) = ("2024-05-01T10:01:00Z", "2024-05-01T10:03:00Z");
    assert_eq!(time(Included(t1), Excluded(t3)), set(&[1, 2]));
    assert_eq!(time(Excluded(t1), Included(t3)), set(&[2, 3]));
    assert_eq!(
        time(Included("2024-05-01T12:07:00+02:00"), Unbounded),
        set(&[7, 8])
    );
    // Epoch seconds of 10:05:00Z.
    assert_eq!(time(Unbounded, Excluded("1714557900")), set(&[1, 2, 3, 4]));
    assert_eq!(time(Unbounded, Included("*")), all());
    assert_eq!(matches(&eq("_time", "2024-05-01T10:05:00Z")), set(&[5]));
    assert_eq!(matches(&exists("_time")), all());
}

#[test]
fn meaningless_queries_are_errors_and_compile_to_nothing() {
    let fx = fixture();
    let bad_time = range("_time", Included("yesterday"), Unbounded);
    assert!(matches!(
        try_compile(&fx.schema, &bad_time),
        Err(CompileError::InvalidTime { .. })
    ));
    let wild_time = wild("_time", vec![lit("2024"), AnyRun]);
    assert!(matches!(
        try_compile(&fx.schema, &wild_time),
        Err(CompileError::Unsupported { .. })
    ));
    let bad_cidr = cidr("source.ip", "10.0.0.0/33");
    assert!(matches!(
        try_compile(&fx.schema, &bad_cidr),
        Err(CompileError::InvalidCidr { .. })
    ));
    let compiled = compile(&fx.schema, &bad_time);
    let found = fx
        .searcher
        .search(&*compiled, &DocSetCollector)
        .expect("search");
    assert!(found.is_empty());
}

#[test]
fn cidr_v4_networks_of_any_prefix_length() {
    assert_eq!(matches(&cidr("source.ip", "10.0.0.0/8")), set(&[2, 3]));
    assert_eq!(matches(&cidr("source.ip", "10.1.2.0/24")), set(&[2]));
    assert_eq!(matches(&cidr("source.ip", "203.0.113.7/32")), set(&[1, 7]));
    assert_eq!(matches(&cidr("source.ip", "203.0.113.8/32")), set(&[]));
    // /20 is not a multiple of 4: 10.1.192.0 - 10.1.207.255.
    assert_eq!(matches(&cidr("source.ip", "10.1.192.0/20")), set(&[3]));
    assert_eq!(matches(&cidr("source.ip", "10.1.0.0/20")), set(&[2]));
    // Host bits in the network are ignored.
    assert_eq!(matches(&cidr("source.ip", "10.1.2.77/24")), set(&[2]));
    // Every IPv4 address, and no IPv6 one.
    assert_eq!(matches(&cidr("source.ip", "0.0.0.0/0")), set(&[1, 2, 3, 7]));
    // An IPv4 written as IPv4-mapped IPv6 is inside IPv4 networks.
    assert_eq!(matches(&cidr("client_ip", "10.0.0.0/8")), set(&[5]));
    assert_eq!(matches(&cidr("client_ip", "::ffff:0:0/96")), set(&[5, 6]));
    // Other paths do not leak.
    assert_eq!(matches(&cidr("destination.ip", "10.0.0.0/8")), set(&[]));
}

#[test]
fn cidr_v6_networks() {
    assert_eq!(matches(&cidr("source.ip", "2001:db8::/32")), set(&[4]));
    assert_eq!(matches(&cidr("destination.ip", "2001:db8::/32")), set(&[4]));
    assert_eq!(matches(&cidr("peer", "2001:db8::/32")), set(&[]));
    assert_eq!(matches(&cidr("peer", "2001:db8::/31")), set(&[8]));
    assert_eq!(matches(&cidr("source.ip", "2001:db8:1::/64")), set(&[4]));
    assert_eq!(matches(&cidr("source.ip", "2001:db8:2::/64")), set(&[]));
    assert_eq!(
        matches(&cidr("destination.ip", "2001:db8:ffff::1/128")),
        set(&[4])
    );
    assert_eq!(
        matches(&cidr("destination.ip", "2001:db8:ffff::2/128")),
        set(&[])
    );
}

#[test]
fn exists_covers_the_path_and_paths_under_it() {
    assert_eq!(matches(&exists("destination.ip")), set(&[3, 4]));
    assert_eq!(matches(&exists("destination")), set(&[3, 4]));
    assert_eq!(matches(&exists("http.response")), set(&[5, 6]));
    assert_eq!(matches(&exists("authenticated")), set(&[1, 2]));
    assert_eq!(matches(&exists("status")), set(&[5, 6, 8]));
    assert_eq!(matches(&exists("nosuch")), set(&[]));
    // A name that is only a prefix of a path is not that path.
    assert_eq!(matches(&exists("sourc")), set(&[]));
    assert_eq!(matches(&exists("client")), set(&[]));
}

#[test]
fn long_values_are_indexed_cut_and_still_match() {
    let long = long_value();
    assert_eq!(matches(&eq("blob", &long)), set(&[8]));
    assert_eq!(matches(&wild("blob", vec![lit("xxxx"), AnyRun])), set(&[8]));
    assert_eq!(matches(&exists("blob")), set(&[8]));
    // Patterns far beyond what a regex automaton of tantivy accepts.
    let mut many_chars = vec![AnyRun];
    many_chars.extend(std::iter::repeat_n(AnyChar, 200));
    assert_eq!(matches(&wild("blob", many_chars)), set(&[8]));
    let long_infix = vec![AnyRun, lit(&"X".repeat(3_000)), AnyRun];
    assert_eq!(matches(&wild("blob", long_infix)), set(&[8]));
    // Too long for a full-text token: it is not indexed there.
    assert_eq!(matches(&word(&long)), set(&[]));
}

#[test]
fn boolean_combinations() {
    let sshd = || eq("event.dataset", "sshd");
    let nginx = || eq("event.dataset", "nginx");
    assert_eq!(matches(&not(sshd())), set(&[3, 4, 5, 6, 8]));
    assert_eq!(matches(&not(not(sshd()))), set(&[1, 2, 7]));
    let either = Query::Or(vec![eq("user.name", "root"), eq("destination.port", "53")]);
    assert_eq!(matches(&either), set(&[2, 4]));
    let nested = Query::And(vec![
        Query::Or(vec![sshd(), nginx()]),
        not(eq("status", "404")),
    ]);
    assert_eq!(matches(&nested), set(&[1, 2, 6, 7]));
    let only_nots = Query::And(vec![not(sshd()), not(nginx())]);
    assert_eq!(matches(&only_nots), set(&[3, 4, 8]));
    let and = Query::And(vec![
        sshd(),
        cidr("source.ip", "203.0.113.0/24"),
        word("invalid"),
    ]);
    assert_eq!(matches(&and), set(&[1]));
    assert_eq!(matches(&Query::And(vec![])), all());
    assert_eq!(matches(&Query::Or(vec![])), set(&[]));
    assert_eq!(matches(&Query::All), all());
}

#[test]
fn full_text_words_phrases_and_wildcards() {
    assert_eq!(matches(&word("failed")), set(&[1, 7]));
    assert_eq!(matches(&word("PASSWORD")), set(&[1, 7]));
    assert_eq!(matches(&word("publickey")), set(&[2]));
    // A word the analyzer splits is a phrase.
    assert_eq!(matches(&word("10.1.2.3")), set(&[2]));
    // Numbers are full text too.
    assert_eq!(matches(&word("52311")), set(&[1, 7]));
    assert_eq!(matches(&word("404")), set(&[5]));
    assert_eq!(matches(&word("---")), set(&[]));
    assert_eq!(matches(&text_phrase("invalid user admin")), set(&[1]));
    assert_eq!(matches(&text_phrase("user admin invalid")), set(&[]));
    assert_eq!(matches(&text_phrase("password for admin")), set(&[7]));
    // Phrases do not run from one value into the next (`tags`).
    assert_eq!(matches(&text_phrase("web scan")), set(&[]));
    assert_eq!(matches(&text_wild(vec![lit("goog"), AnyRun])), set(&[5]));
    assert_eq!(matches(&text_wild(vec![AnyRun, lit("BOT")])), set(&[5]));
    assert_eq!(
        matches(&text_wild(vec![lit("p"), AnyChar, lit("rt")])),
        set(&[1, 2, 7])
    );
    assert_eq!(
        matches(&text_wild(vec![AnyRun, lit("ssh"), AnyRun])),
        set(&[1, 2, 7])
    );
}

#[test]
fn has_field_sees_paths_and_their_parents() {
    let fx = fixture();
    let has = |path| has_field(&fx.schema, &fx.searcher, path);
    assert!(has("source.ip"));
    assert!(has("source"));
    assert!(has("http.response.status_code"));
    assert!(has("_time"));
    assert!(!has("nosuch"));
    assert!(!has("sourc"));
    assert!(!has("source.ip.v4"));
}

fn top(query: &Query, path: &str, limit: usize) -> Vec<(JsonValue, u64)> {
    let fx = fixture();
    let compiled = try_compile(&fx.schema, query).expect("query compiles");
    top_values(&fx.schema, &fx.searcher, &*compiled, path, limit).expect("top values")
}

#[test]
fn top_values_counts_strings_with_ties_by_value() {
    let datasets = top(&Query::All, "event.dataset", 10);
    let expected = [("sshd", 3), ("firewall", 2), ("nginx", 2), ("debug", 1)];
    let expected: Vec<_> = expected.iter().map(|(v, c)| (json!(v), *c)).collect();
    assert_eq!(datasets, expected);
    assert_eq!(top(&Query::All, "event.dataset", 2), expected[..2].to_vec());
    // Keyword form: "Admin" and "admin" are one value.
    assert_eq!(
        top(&Query::All, "user.name", 10),
        vec![(json!("admin"), 2), (json!("root"), 1)]
    );
    assert_eq!(
        top(&Query::All, "tags", 10),
        vec![(json!("web"), 2), (json!("scan"), 1)]
    );
}

#[test]
fn top_values_counts_numbers_bools_and_only_matching_events() {
    assert_eq!(
        top(&Query::All, "source.port", 10),
        vec![(json!(52311), 2), (json!(40022), 1), (json!(51000), 1)]
    );
    // 96 is stored in a float column (next to 1500.5) but comes back whole.
    assert_eq!(
        top(&Query::All, "network.bytes", 10),
        vec![(json!(96), 1), (json!(1500.5), 1)]
    );
    assert_eq!(
        top(&Query::All, "authenticated", 10),
        vec![(json!(false), 1), (json!(true), 1)]
    );
    // One path with numbers and strings: numbers first among ties.
    assert_eq!(
        top(&Query::All, "status", 10),
        vec![(json!(500), 1), (json!("200"), 1), (json!("404"), 1)]
    );
    let sshd = eq("event.dataset", "sshd");
    assert_eq!(
        top(&sshd, "source.ip", 10),
        vec![(json!("203.0.113.7"), 2), (json!("10.1.2.3"), 1)]
    );
    assert_eq!(top(&sshd, "nosuch", 10), vec![]);
}

#[test]
fn queries_run_with_scoring_and_time_ordering() {
    let fx = fixture();
    let query = Query::And(vec![
        Query::Or(vec![eq("event.dataset", "sshd"), word("googlebot")]),
        not(cidr("source.ip", "10.0.0.0/8")),
        range("_time", Included("2024-05-01T10:00:00Z"), Unbounded),
    ]);
    let compiled = compile(&fx.schema, &query);
    let scored = fx
        .searcher
        .search(&*compiled, &TopDocs::with_limit(10).order_by_score())
        .expect("scored search");
    assert_eq!(scored.len(), 3);
    let newest_first = TopDocs::with_limit(10).order_by_fast_field::<i64>("time", Order::Desc);
    let hits = fx
        .searcher
        .search(&*compiled, &newest_first)
        .expect("search");
    let ids: Vec<u128> = hits
        .into_iter()
        .map(|(_, address)| {
            let doc: TantivyDocument = fx.searcher.doc(address).expect("doc");
            id_of(fx, &doc)
        })
        .collect();
    assert_eq!(ids, vec![7, 5, 1]);
}

fn id(n: u128) -> Query {
    Query::Id(vigil_query::IdValue::new(n))
}

#[test]
fn event_ids_with_boolean_logic() {
    assert_eq!(matches(&id(3)), set(&[3]));
    assert_eq!(matches(&id(99)), set(&[]));
    assert_eq!(
        matches(&Query::Or(vec![id(3), id(5), id(99)])),
        set(&[3, 5])
    );
    assert_eq!(matches(&not(id(3))), &all() - &set(&[3]));
    assert_eq!(
        matches(&Query::And(vec![
            Query::Or(vec![id(1), id(2), id(7)]),
            eq("event.outcome", "failure"),
        ])),
        set(&[1, 7])
    );
    let parsed = vigil_query::parse(&format!("id:{} OR id:{}", EventId(2), EventId(4)));
    assert_eq!(matches(&parsed.expect("parses")), set(&[2, 4]));
}

/// `id:` still finds events by a field of their own named `id` (trace ids).
#[test]
fn event_ids_also_match_an_id_field() {
    let schema = EventSchema::new();
    let index = Index::create_in_ram(schema.schema.clone());
    schema.register_tokenizers(&index);
    let mut writer: IndexWriter = index
        .writer_with_num_threads(1, 15_000_000)
        .expect("writer");
    let trace = "4BF92F3577B34DA6A3CE929D0E0E4736";
    for (n, doc) in [(1u128, json!({"id": trace})), (2, json!({"id": "other"}))] {
        let event = Event {
            id: EventId(n),
            tenant: TenantId(1),
            time: Timestamp(BASE),
            raw: doc.to_string(),
            doc: doc.as_object().cloned().expect("object"),
        };
        writer.add_document(schema.document(&event)).expect("add");
    }
    writer.commit().expect("commit");
    let searcher = index.reader().expect("reader").searcher();
    let count = |query: &Query| {
        let compiled = try_compile(&schema, query).expect("compiles");
        searcher
            .search(&*compiled, &DocSetCollector)
            .expect("search")
            .len()
    };
    let by_field = vigil_query::parse(&format!("id:{trace}")).expect("parses");
    assert!(matches!(by_field, Query::Id(_)));
    assert_eq!(count(&by_field), 1, "the event whose id field holds it");
    assert_eq!(count(&id(2)), 1, "the event whose id it is");
    assert_eq!(count(&id(3)), 0);
}
