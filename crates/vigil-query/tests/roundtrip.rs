//! Properties of the parser on inputs no one wrote by hand:
//! it never panics, and rendering a query reads back the same query.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::ops::Bound;

use proptest::prelude::*;
use vigil_query::{parse, IdValue, Predicate, Query, TextMatch, WildcardPiece};

/// Text full of the characters the language gives a meaning to.
fn query_like() -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop_oneof![
            prop::sample::select(vec![
                "a", "b", "x1", "f:", "ip:", ":", "*", "?", "\"", "\\", "(", ")", "[", "]", "{",
                "}", " TO ", " ", "AND", "OR", "NOT", "&&", "||", "!", "-", "<", ">", "=", "/",
                ".", "10.0.0.0", "::", "/8", "/33", "é", "日",
            ])
            .prop_map(str::to_owned),
            any::<char>().prop_map(String::from),
        ],
        0..24,
    )
    .prop_map(|parts| parts.concat())
}

fn field_name() -> impl Strategy<Value = String> {
    "[a-zA-Z0-9_.@][a-zA-Z0-9_.@-]{0,12}"
}

/// Any text, with a bias towards the language's own characters.
fn text() -> impl Strategy<Value = String> {
    prop_oneof![any::<String>(), query_like()]
}

fn non_empty_text() -> impl Strategy<Value = String> {
    text().prop_filter("non-empty", |s| !s.is_empty())
}

/// Wildcard pieces as the parser builds them: literals merged and non-empty,
/// at least one wildcard, and never a lone `*` (that reads as exists / all).
fn pattern() -> impl Strategy<Value = Vec<WildcardPiece>> {
    let piece = prop_oneof![
        non_empty_text().prop_map(WildcardPiece::Literal),
        Just(WildcardPiece::AnyRun),
        Just(WildcardPiece::AnyChar),
    ];
    prop::collection::vec(piece, 1..6)
        .prop_map(merge_literals)
        .prop_filter("a real pattern", |pieces| {
            pieces
                .iter()
                .any(|p| !matches!(p, WildcardPiece::Literal(_)))
                && *pieces != [WildcardPiece::AnyRun]
        })
}

fn merge_literals(pieces: Vec<WildcardPiece>) -> Vec<WildcardPiece> {
    let mut merged: Vec<WildcardPiece> = Vec::new();
    for piece in pieces {
        match (merged.last_mut(), piece) {
            (Some(WildcardPiece::Literal(prev)), WildcardPiece::Literal(next)) => {
                prev.push_str(&next)
            }
            (_, piece) => merged.push(piece),
        }
    }
    merged
}

/// Bounds, including those that would misread if written bare.
fn bound() -> impl Strategy<Value = Bound<String>> {
    let value = prop_oneof![
        text(),
        text().prop_map(|t| format!("={t}")),
        prop::sample::select(vec!["*", "TO", "", "]", "a b"]).prop_map(str::to_owned),
    ];
    (value, 0..3u8).prop_map(|(v, kind)| match kind {
        0 => Bound::Included(v),
        1 => Bound::Excluded(v),
        _ => Bound::Unbounded,
    })
}

fn network() -> impl Strategy<Value = (IpAddr, u8)> {
    prop_oneof![
        (any::<u32>(), 0..=32u8).prop_map(|(a, l)| (IpAddr::V4(Ipv4Addr::from(a)), l)),
        (any::<u128>(), 0..=128u8).prop_map(|(a, l)| (IpAddr::V6(Ipv6Addr::from(a)), l)),
    ]
}

fn predicate() -> impl Strategy<Value = Predicate> {
    prop_oneof![
        non_empty_text().prop_map(Predicate::Equals),
        text().prop_map(Predicate::Phrase),
        pattern().prop_map(Predicate::Wildcard),
        (bound(), bound()).prop_map(|(lower, upper)| Predicate::Range { lower, upper }),
        network().prop_map(|(network, prefix_len)| Predicate::Cidr {
            network,
            prefix_len
        }),
        Just(Predicate::Exists),
    ]
}

fn leaf() -> impl Strategy<Value = Query> {
    prop_oneof![
        Just(Query::All),
        (field_name(), predicate())
            .prop_map(|(field, predicate)| Query::Field { field, predicate }),
        non_empty_text().prop_map(|w| Query::Text(TextMatch::Word(w))),
        text().prop_map(|p| Query::Text(TextMatch::Phrase(p))),
        pattern().prop_map(|p| Query::Text(TextMatch::Wildcard(p))),
        any::<u128>().prop_map(|id| Query::Id(IdValue::new(id))),
        // A field named `id` holding what reads as an event id stays one.
        "[0-9a-fA-F]{32}".prop_map(|v| Query::Field {
            field: "id".into(),
            predicate: Predicate::Equals(v),
        }),
    ]
}

/// Random trees, normalized the way the parser normalizes.
fn query() -> impl Strategy<Value = Query> {
    leaf()
        .prop_recursive(5, 48, 4, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 2..5).prop_map(Query::And),
                prop::collection::vec(inner.clone(), 2..5).prop_map(Query::Or),
                inner.prop_map(|q| Query::Not(Box::new(q))),
            ]
        })
        .prop_map(normalize)
}

/// Flattens And-in-And and Or-in-Or, as the parser does.
fn normalize(query: Query) -> Query {
    let flatten = |parts: Vec<Query>, and: bool| {
        let mut flat = Vec::new();
        for part in parts.into_iter().map(normalize) {
            match part {
                Query::And(children) if and => flat.extend(children),
                Query::Or(children) if !and => flat.extend(children),
                other => flat.push(other),
            }
        }
        flat
    };
    match query {
        Query::And(parts) => Query::And(flatten(parts, true)),
        Query::Or(parts) => Query::Or(flatten(parts, false)),
        Query::Not(inner) => Query::Not(Box::new(normalize(*inner))),
        other => other,
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn never_panics_on_any_string(input in any::<String>()) {
        let _ = parse(&input);
    }

    #[test]
    fn never_panics_on_query_like_text(input in query_like()) {
        if let Err(e) = parse(&input) {
            prop_assert!(e.position <= input.chars().count());
        }
    }

    #[test]
    fn rendered_trees_parse_back(query in query()) {
        let text = query.to_string();
        prop_assert_eq!(parse(&text), Ok(query), "rendered as {:?}", text);
    }

    #[test]
    fn whatever_parses_renders_to_itself(input in query_like()) {
        if let Ok(query) = parse(&input) {
            let text = query.to_string();
            prop_assert_eq!(parse(&text), Ok(query), "{:?} rendered as {:?}", input, text);
        }
    }
}
