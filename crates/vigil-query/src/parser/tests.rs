//! Every construct of the language, and every error with its position.

use std::net::IpAddr;
use std::ops::Bound;

use super::{parse, ParseError, MAX_DEPTH};
use crate::{IdValue, Predicate, Query, TextMatch, WildcardPiece};

fn ok(input: &str) -> Query {
    match parse(input) {
        Ok(query) => query,
        Err(e) => panic!("{input:?} should parse: {e}"),
    }
}

/// The error's position, checking the message says what was expected.
fn err(input: &str, expected: &str) -> usize {
    match parse(input) {
        Ok(query) => panic!("{input:?} should fail, got {query:?}"),
        Err(e) => {
            assert!(
                e.message.contains(expected),
                "{input:?}: message {:?} lacks {expected:?}",
                e.message
            );
            let first = e.message.chars().next();
            assert!(
                first.is_some_and(|c| !c.is_uppercase()),
                "{input:?}: message should start in lowercase"
            );
            e.position
        }
    }
}

fn word(w: &str) -> Query {
    Query::Text(TextMatch::Word(w.to_owned()))
}

fn field(name: &str, predicate: Predicate) -> Query {
    Query::Field {
        field: name.to_owned(),
        predicate,
    }
}

fn equals(name: &str, value: &str) -> Query {
    field(name, Predicate::Equals(value.to_owned()))
}

fn lit(s: &str) -> WildcardPiece {
    WildcardPiece::Literal(s.to_owned())
}

fn range(name: &str, lower: Bound<&str>, upper: Bound<&str>) -> Query {
    let own = |b: Bound<&str>| b.map(str::to_owned);
    field(
        name,
        Predicate::Range {
            lower: own(lower),
            upper: own(upper),
        },
    )
}

fn cidr(name: &str, network: &str, prefix_len: u8) -> Query {
    let network: IpAddr = network.parse().expect("test address");
    field(
        name,
        Predicate::Cidr {
            network,
            prefix_len,
        },
    )
}

fn not(q: Query) -> Query {
    Query::Not(Box::new(q))
}

// ---- everything ----

#[test]
fn empty_blank_and_star_match_everything() {
    assert_eq!(ok(""), Query::All);
    assert_eq!(ok("   \t\n "), Query::All);
    assert_eq!(ok("*"), Query::All);
    assert_eq!(ok(" * "), Query::All);
}

// ---- full text ----

#[test]
fn bare_words_phrases_and_patterns() {
    assert_eq!(ok("error"), word("error"));
    assert_eq!(
        ok(r#""connection refused""#),
        Query::Text(TextMatch::Phrase("connection refused".into()))
    );
    assert_eq!(
        ok("err*"),
        Query::Text(TextMatch::Wildcard(vec![lit("err"), WildcardPiece::AnyRun]))
    );
    assert_eq!(
        ok("?a*b"),
        Query::Text(TextMatch::Wildcard(vec![
            WildcardPiece::AnyChar,
            lit("a"),
            WildcardPiece::AnyRun,
            lit("b"),
        ]))
    );
    assert_eq!(
        ok("**"),
        Query::Text(TextMatch::Wildcard(vec![
            WildcardPiece::AnyRun,
            WildcardPiece::AnyRun
        ]))
    );
}

#[test]
fn escapes_in_bare_words() {
    assert_eq!(ok(r"a\*b"), word("a*b"));
    assert_eq!(ok(r"\*"), word("*"));
    assert_eq!(ok(r"a\ b"), word("a b"));
    assert_eq!(ok(r"\-x"), word("-x"));
    assert_eq!(ok(r"a\:b"), word("a:b"));
    assert_eq!(ok(r"a\\b"), word(r"a\b"));
    assert_eq!(ok(r"\(x\)"), word("(x)"));
}

#[test]
fn dashes_bangs_and_keyword_lookalikes_inside_words() {
    assert_eq!(ok("a-b"), word("a-b"));
    assert_eq!(ok("a!b"), word("a!b"));
    assert_eq!(ok("a&b"), word("a&b"));
    assert_eq!(ok("and"), word("and"));
    assert_eq!(ok("ANDROID"), word("ANDROID"));
    assert_eq!(ok("ORACLE"), word("ORACLE"));
    assert_eq!(ok(r"\AND"), word("AND"));
    assert_eq!(ok(r#""NOT""#), Query::Text(TextMatch::Phrase("NOT".into())));
    assert_eq!(ok("[x"), word("[x"));
}

#[test]
fn multibyte_text() {
    assert_eq!(ok("日本語"), word("日本語"));
    assert_eq!(ok("user.name:josé"), equals("user.name", "josé"));
    assert_eq!(ok("名前:値"), equals("名前", "値"));
}

// ---- field conditions ----

#[test]
fn field_names() {
    assert_eq!(
        ok("event.outcome:failure"),
        equals("event.outcome", "failure")
    );
    assert_eq!(ok("@timestamp:x"), equals("@timestamp", "x"));
    assert_eq!(
        ok("winlog.event_data.TargetUserName:admin"),
        equals("winlog.event_data.TargetUserName", "admin")
    );
    assert_eq!(ok("user-agent:curl"), equals("user-agent", "curl"));
    assert_eq!(ok("EventID:4624"), equals("EventID", "4624"));
    assert_eq!(ok("AND:x"), equals("AND", "x"));
}

#[test]
fn event_ids() {
    let id = IdValue::new(0x0193_a1b2_c3d4_e5f6_0718_293a_4b5c_6d7e);
    let text = "0193a1b2c3d4e5f60718293a4b5c6d7e";
    assert_eq!(ok(&format!("id:{text}")), Query::Id(id));
    assert_eq!(ok(&format!("id:{}", text.to_uppercase())), Query::Id(id));
    // With boolean logic, parentheses and NOT around it.
    assert_eq!(
        ok(&format!("(id:{text} OR user:bob) -id:{text}")),
        Query::And(vec![
            Query::Or(vec![Query::Id(id), equals("user", "bob")]),
            not(Query::Id(id)),
        ])
    );
    // Not an id: a condition on a field named `id`, as before.
    assert_eq!(ok("id:42"), equals("id", "42"));
    assert_eq!(
        ok(&format!("id:{text}0")),
        equals("id", &format!("{text}0"))
    );
    assert_eq!(ok(&format!("id:{}", &text[1..])), equals("id", &text[1..]));
    assert_eq!(ok(&format!("id:\\{text}")), equals("id", text));
    assert_eq!(
        ok(&format!("id:\"{text}\"")),
        field("id", Predicate::Phrase(text.into()))
    );
    assert_eq!(
        ok(&format!("id:{text}*")),
        field(
            "id",
            Predicate::Wildcard(vec![lit(text), WildcardPiece::AnyRun])
        )
    );
    assert_eq!(
        ok("id:0193a1b2c3d4e5f60718293a4b5c6d7g"),
        equals("id", "0193a1b2c3d4e5f60718293a4b5c6d7g")
    );
    assert_eq!(
        ok(&format!("ID:{text}")),
        equals("ID", text),
        "the name is exact"
    );
    assert_eq!(ok(&format!("event.id:{text}")), equals("event.id", text));
    assert!(Query::Id(id).fields().is_empty());
}

#[test]
fn colons_after_the_first_belong_to_the_value() {
    assert_eq!(ok("url:http://x/y"), equals("url", "http://x/y"));
    assert_eq!(ok("time:12:30"), equals("time", "12:30"));
    assert_eq!(
        ok("source.ip:2001:db8::1"),
        equals("source.ip", "2001:db8::1")
    );
}

#[test]
fn field_phrases_keep_unknown_backslashes() {
    assert_eq!(
        ok(r#"msg:"a \"b\" \\ c""#),
        field("msg", Predicate::Phrase(r#"a "b" \ c"#.into()))
    );
    assert_eq!(
        ok(r#"Image:"C:\Windows\System32\cmd.exe""#),
        field(
            "Image",
            Predicate::Phrase(r"C:\Windows\System32\cmd.exe".into())
        )
    );
    assert_eq!(ok(r#"f:"*""#), field("f", Predicate::Phrase("*".into())));
    assert_eq!(ok(r#"f:"""#), field("f", Predicate::Phrase(String::new())));
}

#[test]
fn field_wildcards_and_exists() {
    assert_eq!(
        ok("host.name:web-??.example.*"),
        field(
            "host.name",
            Predicate::Wildcard(vec![
                lit("web-"),
                WildcardPiece::AnyChar,
                WildcardPiece::AnyChar,
                lit(".example."),
                WildcardPiece::AnyRun,
            ])
        )
    );
    assert_eq!(
        ok(r"f:a\*b*"),
        field(
            "f",
            Predicate::Wildcard(vec![lit("a*b"), WildcardPiece::AnyRun])
        )
    );
    assert_eq!(ok("user.name:*"), field("user.name", Predicate::Exists));
    assert_eq!(ok(r"f:\*"), equals("f", "*"));
}

#[test]
fn value_ends_at_space_paren_or_quote() {
    assert_eq!(ok("(f:a)"), equals("f", "a"));
    assert_eq!(
        ok(r#"f:a"b""#),
        Query::And(vec![
            equals("f", "a"),
            Query::Text(TextMatch::Phrase("b".into()))
        ])
    );
    assert_eq!(ok(r"f:a\ b"), equals("f", "a b"));
    assert_eq!(ok("f:a-b!c"), equals("f", "a-b!c"));
    assert_eq!(ok("f:AND"), equals("f", "AND"));
    assert_eq!(ok("f:-1"), equals("f", "-1"));
    assert_eq!(ok("f:=x"), equals("f", "=x"));
}

// ---- ranges ----

#[test]
fn bracketed_ranges() {
    use Bound::{Excluded, Included, Unbounded};
    assert_eq!(ok("n:[1 TO 5]"), range("n", Included("1"), Included("5")));
    assert_eq!(ok("n:{1 TO 5}"), range("n", Excluded("1"), Excluded("5")));
    assert_eq!(ok("n:[1 TO 5}"), range("n", Included("1"), Excluded("5")));
    assert_eq!(ok("n:{1 TO 5]"), range("n", Excluded("1"), Included("5")));
    assert_eq!(ok("n:[* TO 5]"), range("n", Unbounded, Included("5")));
    assert_eq!(ok("n:{1 TO *}"), range("n", Excluded("1"), Unbounded));
    assert_eq!(ok("n:[* TO *]"), range("n", Unbounded, Unbounded));
    assert_eq!(
        ok("n:[  1   TO\t5  ]"),
        range("n", Included("1"), Included("5"))
    );
    assert_eq!(
        ok(r#"n:["*" TO "a b"]"#),
        range("n", Included("*"), Included("a b"))
    );
    assert_eq!(
        ok(r"n:[a\]b TO c]"),
        range("n", Included("a]b"), Included("c"))
    );
    assert_eq!(
        ok("n:[TO TO TO]"),
        range("n", Included("TO"), Included("TO"))
    );
}

#[test]
fn time_ranges_quoted_or_not() {
    use Bound::{Included, Unbounded};
    let expected = range("@timestamp", Included("2024-05-01T00:00:00Z"), Unbounded);
    assert_eq!(ok(r#"@timestamp:["2024-05-01T00:00:00Z" TO *]"#), expected);
    assert_eq!(ok("@timestamp:[2024-05-01T00:00:00Z TO *]"), expected);
    assert_eq!(ok("@timestamp:>=2024-05-01T00:00:00Z"), expected);
    assert_eq!(
        ok("@timestamp:[2024-05-01T00:00:00Z TO 2024-05-02T00:00:00Z}"),
        range(
            "@timestamp",
            Included("2024-05-01T00:00:00Z"),
            Bound::Excluded("2024-05-02T00:00:00Z")
        )
    );
}

#[test]
fn comparisons() {
    use Bound::{Excluded, Included, Unbounded};
    assert_eq!(ok("n:>5"), range("n", Excluded("5"), Unbounded));
    assert_eq!(ok("n:>=5"), range("n", Included("5"), Unbounded));
    assert_eq!(ok("n:<5"), range("n", Unbounded, Excluded("5")));
    assert_eq!(ok("n:<=5"), range("n", Unbounded, Included("5")));
    assert_eq!(ok(r#"n:<"a b""#), range("n", Unbounded, Excluded("a b")));
    assert_eq!(ok("n:>==5"), range("n", Included("=5"), Unbounded));
    assert_eq!(ok("(n:>5)"), range("n", Excluded("5"), Unbounded));
}

#[test]
fn range_followed_by_more_terms() {
    use Bound::Included;
    assert_eq!(
        ok("n:[1 TO 2] x"),
        Query::And(vec![range("n", Included("1"), Included("2")), word("x")])
    );
}

// ---- networks ----

#[test]
fn cidr_networks() {
    assert_eq!(ok("source.ip:10.0.0.0/8"), cidr("source.ip", "10.0.0.0", 8));
    assert_eq!(ok("source.ip:10.1.2.3/8"), cidr("source.ip", "10.1.2.3", 8));
    assert_eq!(ok("ip:0.0.0.0/0"), cidr("ip", "0.0.0.0", 0));
    assert_eq!(ok("ip:1.2.3.4/32"), cidr("ip", "1.2.3.4", 32));
    assert_eq!(
        ok("source.ip:2001:db8::/32"),
        cidr("source.ip", "2001:db8::", 32)
    );
    assert_eq!(ok("ip:::/0"), cidr("ip", "::", 0));
    assert_eq!(ok("ip:::1/128"), cidr("ip", "::1", 128));
}

#[test]
fn network_lookalikes_are_plain_values() {
    assert_eq!(ok(r"ip:10.0.0.0\/8"), equals("ip", "10.0.0.0/8"));
    assert_eq!(ok("ip:10.0.0.0/x"), equals("ip", "10.0.0.0/x"));
    assert_eq!(ok("ip:10.0.0.0/"), equals("ip", "10.0.0.0/"));
    assert_eq!(ok("path:1.2.3/8"), equals("path", "1.2.3/8"));
    assert_eq!(ok("10.0.0.0/8"), word("10.0.0.0/8"));
}

// ---- boolean structure ----

#[test]
fn operators_and_their_symbols() {
    let ab = |q: fn(Vec<Query>) -> Query| q(vec![word("a"), word("b")]);
    assert_eq!(ok("a AND b"), ab(Query::And));
    assert_eq!(ok("a && b"), ab(Query::And));
    assert_eq!(ok("a&&b"), word("a&&b"));
    assert_eq!(ok("a b"), ab(Query::And));
    assert_eq!(ok("a OR b"), ab(Query::Or));
    assert_eq!(ok("a || b"), ab(Query::Or));
    assert_eq!(ok("a ||b"), ab(Query::Or));
    assert_eq!(ok("NOT a"), not(word("a")));
    assert_eq!(ok("!a"), not(word("a")));
    assert_eq!(ok("! a"), not(word("a")));
    assert_eq!(ok("-a"), not(word("a")));
    assert_eq!(ok("-f:x"), not(equals("f", "x")));
    assert_eq!(ok("NOT(a)"), not(word("a")));
    assert_eq!(ok("a -b"), Query::And(vec![word("a"), not(word("b"))]));
    assert_eq!(ok("a NOT b"), Query::And(vec![word("a"), not(word("b"))]));
    assert_eq!(ok("NOT NOT a"), not(not(word("a"))));
}

#[test]
fn precedence_not_and_or() {
    assert_eq!(
        ok("a OR b AND c"),
        Query::Or(vec![word("a"), Query::And(vec![word("b"), word("c")])])
    );
    assert_eq!(
        ok("a OR b c"),
        Query::Or(vec![word("a"), Query::And(vec![word("b"), word("c")])])
    );
    assert_eq!(ok("NOT a OR b"), Query::Or(vec![not(word("a")), word("b")]));
    assert_eq!(ok("NOT a b"), Query::And(vec![not(word("a")), word("b")]));
    assert_eq!(
        ok("(a OR b) c"),
        Query::And(vec![Query::Or(vec![word("a"), word("b")]), word("c")])
    );
    assert_eq!(
        ok("NOT (a OR b)"),
        not(Query::Or(vec![word("a"), word("b")]))
    );
}

#[test]
fn nested_groups_flatten_and_collapse() {
    let abc = |q: fn(Vec<Query>) -> Query| q(vec![word("a"), word("b"), word("c")]);
    assert_eq!(ok("(a b) c"), abc(Query::And));
    assert_eq!(ok("a AND (b AND c)"), abc(Query::And));
    assert_eq!(ok("a OR (b OR c)"), abc(Query::Or));
    assert_eq!(ok("(a OR b) OR c"), abc(Query::Or));
    assert_eq!(ok("(a)"), word("a"));
    assert_eq!(ok("((((a))))"), word("a"));
    assert_eq!(
        ok("a AND (b OR c)"),
        Query::And(vec![word("a"), Query::Or(vec![word("b"), word("c")])])
    );
}

#[test]
fn a_realistic_query() {
    use Bound::{Included, Unbounded};
    assert_eq!(
        ok(
            "event.code:4625 AND source.ip:10.0.0.0/8 -user.name:svc_* OR \
            (@timestamp:>=2024-05-01T00:00:00Z \"brute force\")"
        ),
        Query::Or(vec![
            Query::And(vec![
                equals("event.code", "4625"),
                cidr("source.ip", "10.0.0.0", 8),
                not(field(
                    "user.name",
                    Predicate::Wildcard(vec![lit("svc_"), WildcardPiece::AnyRun])
                )),
            ]),
            Query::And(vec![
                range("@timestamp", Included("2024-05-01T00:00:00Z"), Unbounded),
                Query::Text(TextMatch::Phrase("brute force".into())),
            ]),
        ])
    );
}

// ---- errors ----

#[test]
fn error_display() {
    let e = ParseError::at(3, "expected x");
    assert_eq!(
        e.to_string(),
        "query syntax error at position 3: expected x"
    );
}

#[test]
fn unbalanced_parentheses() {
    assert_eq!(err("(a", "expected ')' to close the '(' at position 0"), 2);
    assert_eq!(
        err("((a)", "expected ')' to close the '(' at position 0"),
        4
    );
    assert_eq!(err("a (b c", "'(' at position 2"), 6);
    assert_eq!(err("a)", "unexpected ')'"), 1);
    assert_eq!(err("(a))", "unexpected ')'"), 3);
    assert_eq!(err(")", "expected a term, found ')'"), 0);
    assert_eq!(err("()", "expected a term after '(', found ')'"), 1);
    assert_eq!(err("a (", "found the end of the query"), 3);
    assert_eq!(err("f:a)", "unexpected ')'"), 3);
}

#[test]
fn unterminated_quotes() {
    assert_eq!(err(r#""abc"#, "unterminated quote"), 0);
    assert_eq!(err(r#"a "b"#, "unterminated quote"), 2);
    assert_eq!(err(r#"f:"abc"#, "unterminated quote"), 2);
    assert_eq!(err(r#"f:"abc\""#, "unterminated quote"), 2);
    assert_eq!(err(r#"f:"abc\"#, "unterminated quote"), 2);
    assert_eq!(err(r#"n:[" TO b]"#, "unterminated quote"), 3);
}

#[test]
fn dangling_operators() {
    assert_eq!(
        err("a AND", "expected a term after 'AND', found the end"),
        5
    );
    assert_eq!(err("a &&", "expected a term after '&&'"), 4);
    assert_eq!(err("a OR", "expected a term after 'OR'"), 4);
    assert_eq!(err("OR b", "expected a term, found 'OR'"), 0);
    assert_eq!(err("AND b", "expected a term, found 'AND'"), 0);
    assert_eq!(err("|| b", "found '||'"), 0);
    assert_eq!(
        err("a AND OR b", "expected a term after 'AND', found 'OR'"),
        6
    );
    assert_eq!(err("a OR AND b", "after 'OR', found 'AND'"), 5);
    assert_eq!(err("NOT", "expected a term after 'NOT'"), 3);
    assert_eq!(err("a -", "expected a term after '-'"), 3);
    assert_eq!(err("!", "expected a term after '!'"), 1);
    assert_eq!(err("NOT AND a", "after 'NOT', found 'AND'"), 4);
    assert_eq!(err("(a OR)", "after 'OR', found ')'"), 5);
}

#[test]
fn missing_field_values() {
    assert_eq!(err("field:", "expected a value after 'field:'"), 6);
    assert_eq!(err("field: x", "expected a value after 'field:'"), 6);
    assert_eq!(err("(field:)", "expected a value after 'field:'"), 7);
    assert_eq!(err(r#"a:"#, "after 'a:'"), 2);
    assert_eq!(err("user.name:(a OR b)", "not supported"), 10);
}

#[test]
fn bad_ranges() {
    assert_eq!(err("f:[a b]", "expected 'TO'"), 5);
    assert_eq!(err("f:[a]", "expected 'TO'"), 4);
    assert_eq!(err("f:[a TOb]", "expected 'TO'"), 5);
    assert_eq!(err("f:[a to b]", "expected 'TO'"), 5);
    assert_eq!(err("f:[a TO]", "expected 'TO'"), 5);
    assert_eq!(err("f:[]", "expected a lower bound"), 3);
    assert_eq!(err("f:[ ", "expected a lower bound"), 4);
    assert_eq!(err("f:[a TO ]", "expected an upper bound after 'TO'"), 8);
    assert_eq!(err("f:[a TO b", "expected ']' or '}'"), 9);
    assert_eq!(err("f:[a TO b)", "expected ']' or '}'"), 9);
    assert_eq!(err("f:[a TO b c]", "expected ']' or '}'"), 10);
    assert_eq!(err("f:>", "expected a value after '>'"), 3);
    assert_eq!(err("f:>= x", "expected a value after '>='"), 4);
    assert_eq!(err("f:<", "expected a value after '<'"), 3);
    assert_eq!(err("f:<=)", "expected a value after '<='"), 4);
}

#[test]
fn bad_network_prefix_lengths() {
    assert_eq!(
        err(
            "ip:10.0.0.0/33",
            "invalid network prefix length 33: expected 0 to 32"
        ),
        12
    );
    assert_eq!(err("ip:::/129", "expected 0 to 128"), 6);
    assert_eq!(err("a OR ip:1.2.3.4/99999999999", "length 99999999999"), 16);
}

#[test]
fn trailing_backslash() {
    assert_eq!(err(r"a\", "expected a character after '\\'"), 1);
    assert_eq!(err(r"f:a\", "expected a character after '\\'"), 3);
    assert_eq!(err(r"f:[a\", "expected a character after '\\'"), 4);
}

#[test]
fn colons_that_are_not_field_separators() {
    assert_eq!(err(":a", "expected a field name before ':'"), 0);
    assert_eq!(err("a/b:c", "invalid character '/' in field name"), 1);
    assert_eq!(err(r"\a:b", "invalid character '\\' in field name"), 0);
    assert_eq!(err("x *:a", "invalid character '*'"), 2);
}

#[test]
fn positions_count_characters_not_bytes() {
    assert_eq!(err("é AND", "after 'AND'"), 5);
    assert_eq!(err("日本 (", "found the end"), 4);
    assert_eq!(err("\"日本", "unterminated quote"), 0);
    assert_eq!(err("日本 \"x", "unterminated quote"), 3);
    assert_eq!(err("ïp:10.0.0.0/33", "prefix length"), 12);
    assert_eq!(err("名前:", "after '名前:'"), 3);
    assert_eq!(err("ü/ü:x", "invalid character '/'"), 1);
}

// ---- depth ----

#[test]
fn nesting_up_to_the_limit_parses() {
    let deep = format!("{}a{}", "(".repeat(MAX_DEPTH), ")".repeat(MAX_DEPTH));
    assert_eq!(ok(&deep), word("a"));
    let nots = format!("{}a", "NOT ".repeat(MAX_DEPTH));
    let mut expected = word("a");
    for _ in 0..MAX_DEPTH {
        expected = not(expected);
    }
    assert_eq!(ok(&nots), expected);
    let mixed = format!(
        "{}a{}",
        "-(".repeat(MAX_DEPTH / 2),
        ")".repeat(MAX_DEPTH / 2)
    );
    assert!(parse(&mixed).is_ok());
}

#[test]
fn nesting_past_the_limit_is_an_error() {
    let deep = format!(
        "{}a{}",
        "(".repeat(MAX_DEPTH + 1),
        ")".repeat(MAX_DEPTH + 1)
    );
    assert_eq!(err(&deep, "nested too deeply"), MAX_DEPTH);
    let nots = format!("{}a", "!".repeat(MAX_DEPTH + 1));
    assert_eq!(err(&nots, "nested too deeply"), MAX_DEPTH);
    let mixed = format!("{}a", "-(".repeat(MAX_DEPTH));
    assert_eq!(err(&mixed, "nested too deeply"), MAX_DEPTH);
    let huge = "(".repeat(100_000);
    assert_eq!(err(&huge, "nested too deeply"), MAX_DEPTH);
}

#[test]
fn long_flat_queries_do_not_recurse() {
    let long = "a OR b AND c ".repeat(20_000);
    assert!(parse(&long).is_ok());
}
