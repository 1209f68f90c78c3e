use super::*;
use serde_json::json;
use std::collections::HashMap;

fn ev(v: serde_json::Value) -> serde_json::Map<String, serde_json::Value> {
    v.as_object().expect("object").clone()
}

fn y(s: &str) -> yaml_serde::Value {
    yaml_serde::from_str(s).expect("yaml")
}

fn compile(spec: &str, values: &str) -> FieldMatcher {
    compile_field(spec, &y(values), &CompileContext::default())
        .unwrap_or_else(|e| panic!("{spec}: {e}"))
}

fn err(spec: &str, values: &str) -> String {
    compile_field(spec, &y(values), &CompileContext::default())
        .expect_err("should fail")
        .to_string()
}

fn m(spec: &str, values: &str, event: serde_json::Value) -> bool {
    compile(spec, values).matches(&ev(event))
}

#[test]
fn plain_values_are_whole_case_insensitive_matches() {
    assert!(m(
        "Image",
        "'C:\\Windows\\cmd.exe'",
        json!({"Image": "c:\\windows\\CMD.EXE"})
    ));
    assert!(!m(
        "Image",
        "cmd.exe",
        json!({"Image": "c:\\windows\\cmd.exe"})
    ));
    assert!(!m("Image", "cmd.exe", json!({})));
    assert!(m("Image", "''", json!({"Image": ""})));
    assert!(!m("Image", "''", json!({"Image": "x"})));
}

#[test]
fn wildcards_and_escapes() {
    assert!(m(
        "Image",
        "'*\\cmd.exe'",
        json!({"Image": "C:\\x\\cmd.exe"})
    ));
    assert!(m("Image", "'prog?.exe'", json!({"Image": "progA.exe"})));
    assert!(!m("Image", "'prog?.exe'", json!({"Image": "prog.exe"})));
    assert!(m("Image", "'a*b*c'", json!({"Image": "AxxBxxC"})));
    assert!(!m("Image", "'a*b*c'", json!({"Image": "AxxBxxCd"})));
    // Escaped wildcards are plain characters.
    assert!(m("F", "'what\\?'", json!({"F": "what?"})));
    assert!(!m("F", "'what\\?'", json!({"F": "whatx"})));
    assert!(m("F", "'a\\*b'", json!({"F": "a*b"})));
    assert!(!m("F", "'a\\*b'", json!({"F": "axxb"})));
    // `\\*`: a backslash then a wildcard; `\\\*`: backslash and star, plain.
    assert!(m("F", "'c:\\\\*'", json!({"F": "c:\\anything"})));
    assert!(m("F", "'c:\\\\\\*'", json!({"F": "c:\\*"})));
    assert!(!m("F", "'c:\\\\\\*'", json!({"F": "c:\\x"})));
    // A backslash before another character is literal; `\\\\` is two.
    assert!(m("F", "'a\\b'", json!({"F": "a\\b"})));
    assert!(m("F", "'a\\\\\\\\b'", json!({"F": "a\\\\b"})));
    // Regex metacharacters in a wildcard pattern are plain.
    assert!(m("F", "'a.(b)*'", json!({"F": "a.(b)zz"})));
    assert!(!m("F", "'a.(b)*'", json!({"F": "ax(b)zz"})));
}

#[test]
fn contains_startswith_endswith_and_lists() {
    assert!(m(
        "C|contains",
        "'-enc '",
        json!({"C": "powershell -ENC abc"})
    ));
    assert!(m("C|startswith", "power", json!({"C": "PowerShell -x"})));
    assert!(!m("C|startswith", "shell", json!({"C": "PowerShell -x"})));
    assert!(m("C|endswith", "'.exe'", json!({"C": "a.EXE"})));
    assert!(m("C|contains", "[foo, bar]", json!({"C": "xbarx"})));
    assert!(!m("C|contains", "[foo, bar]", json!({"C": "xbax"})));
    assert!(m("C|contains|all", "[foo, bar]", json!({"C": "bar foo"})));
    assert!(!m("C|contains|all", "[foo, bar]", json!({"C": "bar"})));
    // Wildcards inside contains.
    assert!(m("C|contains", "'a*z'", json!({"C": "--a--z--"})));
}

#[test]
fn arrays_match_any_element() {
    assert!(m("Tags", "y", json!({"Tags": ["x", "Y"]})));
    assert!(m("Tags|all", "[x, y]", json!({"Tags": ["x", "y"]})));
    assert!(!m("Tags", "z", json!({"Tags": ["x", "y"]})));
}

#[test]
fn cased() {
    assert!(m("C|cased", "Abc", json!({"C": "Abc"})));
    assert!(!m("C|cased", "Abc", json!({"C": "abc"})));
    assert!(m("C|contains|cased", "B", json!({"C": "aBc"})));
    assert!(!m("C|contains|cased", "B", json!({"C": "abc"})));
}

#[test]
fn numbers_and_strings() {
    assert!(m("EventID", "4688", json!({"EventID": 4688})));
    assert!(m("EventID", "4688", json!({"EventID": "4688"})));
    assert!(m("EventID", "'4688'", json!({"EventID": 4688})));
    assert!(!m("EventID", "4688", json!({"EventID": 4689})));
    assert!(m("EventID", "[4688, 1]", json!({"EventID": 1})));
    assert!(m("V", "1.5", json!({"V": 1.5})));
    assert!(m("EventID|startswith", "46", json!({"EventID": 4688})));
    assert!(m("Flag", "true", json!({"Flag": true})));
}

#[test]
fn null_value() {
    assert!(m("P", "null", json!({})));
    assert!(m("P", "null", json!({"P": null})));
    assert!(!m("P", "null", json!({"P": ""})));
    assert!(!m("P", "''", json!({"P": null})));
}

#[test]
fn exists() {
    assert!(m("P|exists", "true", json!({"P": "x"})));
    assert!(m("P|exists", "true", json!({"P": null})));
    assert!(!m("P|exists", "true", json!({})));
    assert!(m("P|exists", "false", json!({})));
    assert!(!m("P|exists", "false", json!({"P": ""})));
    assert!(err("P|exists", "maybe").contains("exists"));
    assert!(err("P|exists|contains", "true").contains("contains"));
}

#[test]
fn neq() {
    assert!(m("U|neq", "SYSTEM", json!({"U": "bob"})));
    assert!(!m("U|neq", "SYSTEM", json!({"U": "system"})));
    assert!(!m("U|neq", "SYSTEM", json!({})));
    assert!(!m("U|neq", "[a, b]", json!({"U": "b"})));
    assert!(m("U|neq", "[a, b]", json!({"U": "c"})));
    assert!(m("EventID|neq", "4688", json!({"EventID": 1})));
    assert!(!m("EventID|neq", "4688", json!({"EventID": 4688})));
    assert!(!m("U|contains|neq", "sys", json!({"U": "xSYSx"})));
}

#[test]
fn windash_all_five_characters() {
    let f = compile("C|windash|contains", "' -exec '");
    for d in ["-", "/", "\u{2013}", "\u{2014}", "\u{2015}"] {
        assert!(
            f.matches(&ev(json!({"C": format!("x.exe {d}EXEC y")}))),
            "{d}"
        );
    }
    assert!(!f.matches(&ev(json!({"C": "x.exe +exec y"}))));
    // Every dash of the value varies on its own.
    let f = compile("C|windash|contains|all", "[' -a ', ' /b ']");
    assert!(f.matches(&ev(json!({"C": "x /a \u{2014}b "}))));
    assert!(!f.matches(&ev(json!({"C": "x /a c"}))));
    // Dashes inside a wildcard pattern too.
    assert!(m("C|windash", "'*-x*-y'", json!({"C": "a/x\u{2013}y"})));
    // Windash before an encoding uses the permutations themselves.
    let f = compile("C|windash|base64", "'-e'");
    for d in ["-", "/"] {
        let enc =
            base64::Engine::encode(&base64::engine::general_purpose::STANDARD, format!("{d}e"));
        assert!(f.matches(&ev(json!({"C": enc}))));
    }
}

#[test]
fn re_and_flags() {
    assert!(m("C|re", "'^a.c$'", json!({"C": "abc"})));
    assert!(!m("C|re", "'^a.c$'", json!({"C": "ABC"})));
    assert!(m("C|re|i", "'^a.c$'", json!({"C": "ABC"})));
    assert!(!m("C|re", "'^b$'", json!({"C": "a\nb"})));
    assert!(m("C|re|m", "'^b$'", json!({"C": "a\nb"})));
    assert!(!m("C|re", "'a.b'", json!({"C": "a\nb"})));
    assert!(m("C|re|s", "'a.b'", json!({"C": "a\nb"})));
    assert!(m("C|re", "'b+'", json!({"C": "abbbc"})));
    let e = err("C|re", "'a(b'");
    assert!(e.contains("a(b") && e.contains("regular expression"), "{e}");
    assert!(err("C|i", "x").contains("`i`"));
}

#[test]
fn base64_plain() {
    // "cmd" -> "Y21k"
    assert!(m("C", "cmd", json!({"C": "cmd"})));
    assert!(m("C|base64", "cmd", json!({"C": "Y21k"})));
    assert!(m("C|base64|contains", "cmd", json!({"C": "xxY21kyy"})));
}

#[test]
fn base64offset_known_forms() {
    let f = compile("C|base64offset|contains", "'http://'");
    let mut n = f.needles();
    n.sort();
    // The three forms SigmaHQ rules spell out for "http://".
    assert_eq!(n, vec!["ahr0cdovl", "h0dha6ly", "odhrwoi8v"]);
    let std = base64::engine::general_purpose::STANDARD;
    for prefix in ["", "a", "ab", "abc", "abcd"] {
        let enc = base64::Engine::encode(&std, format!("{prefix}http://evil/x"));
        assert!(f.matches(&ev(json!({"C": enc}))), "prefix {prefix:?}");
    }
    assert!(!f.matches(&ev(json!({"C": base64::Engine::encode(&std, "ftp://x")}))));
}

#[test]
fn utf16le_base64offset_contains() {
    // PowerShell's -EncodedCommand is base64 of UTF-16LE: 49 00 45 00 58 00 at
    // offsets 0, 1, 2 (stable characters only: "SQBFAFgA", "kARQBYA", "JAEUAWA").
    let f = compile("C|utf16le|base64offset|contains", "IEX");
    let mut n = f.needles();
    n.sort();
    assert_eq!(n, vec!["jaeuawa", "karqbya", "sqbfafga"]);
    let std = base64::engine::general_purpose::STANDARD;
    for prefix in ["", "a", "ab", "abc"] {
        let text: Vec<u8> = format!("{prefix}IEX (New-Object Net.WebClient)")
            .encode_utf16()
            .flat_map(u16::to_le_bytes)
            .collect();
        let cmd = format!("powershell -enc {}", base64::Engine::encode(&std, text));
        assert!(f.matches(&ev(json!({"C": cmd}))), "prefix {prefix:?}");
    }
    // wide is utf16le
    assert_eq!(
        compile("C|wide|base64offset|contains", "IEX")
            .needles()
            .len(),
        3
    );
}

#[test]
fn utf16_encodings() {
    let std = base64::engine::general_purpose::STANDARD;
    let enc = |b: &[u8]| base64::Engine::encode(&std, b);
    assert!(m(
        "C|utf16le|base64",
        "cmd",
        json!({"C": enc(b"c\0m\0d\0")})
    ));
    assert!(m(
        "C|utf16be|base64",
        "cmd",
        json!({"C": enc(b"\0c\0m\0d")})
    ));
    assert!(m(
        "C|utf16|base64",
        "cmd",
        json!({"C": enc(b"\xff\xfec\0m\0d\0")})
    ));
    assert!(err("C|base64", "'a*'").contains("wildcard"));
}

#[test]
fn numeric_comparisons() {
    assert!(m("N|lt", "10", json!({"N": 9})));
    assert!(!m("N|lt", "10", json!({"N": 10})));
    assert!(m("N|lte", "10", json!({"N": 10})));
    assert!(m("N|gt", "10", json!({"N": "11"})));
    assert!(m("N|gte", "1.5", json!({"N": 1.5})));
    assert!(!m("N|gt", "10", json!({"N": "abc"})));
    assert!(!m("N|gt", "10", json!({})));
    assert!(err("N|gt", "abc").contains("not a number"));
}

#[test]
fn time_parts() {
    let e = json!({"T": "2024-05-07T13:45:10.123Z"});
    assert!(m("T|minute", "45", e.clone()));
    assert!(m("T|hour", "13", e.clone()));
    assert!(m("T|day", "7", e.clone()));
    assert!(m("T|month", "5", e.clone()));
    assert!(m("T|year", "2024", e.clone()));
    assert!(m("T|week", "19", e.clone()));
    assert!(!m("T|hour", "12", e.clone()));
    assert!(m("T|hour|gte", "12", e.clone()));
    assert!(m("T|hour", "[1, 13]", json!({"T": "2024-05-07 13:00:00"})));
    assert!(!m("T|hour", "0", json!({"T": "2024-05-07"})));
    assert!(!m("T|year", "2024", json!({"T": "garbage"})));
}

#[test]
fn cidr_v4_and_v6() {
    assert!(m("Ip|cidr", "10.0.0.0/8", json!({"Ip": "10.1.2.3"})));
    assert!(!m("Ip|cidr", "10.0.0.0/8", json!({"Ip": "11.1.2.3"})));
    assert!(m(
        "Ip|cidr",
        "['192.168.0.0/16', 'fe80::/10']",
        json!({"Ip": "FE80::1"})
    ));
    assert!(m(
        "Ip|cidr",
        "'2001:db8::/32'",
        json!({"Ip": "2001:db8:ffff::1"})
    ));
    assert!(!m(
        "Ip|cidr",
        "'2001:db8::/32'",
        json!({"Ip": "2001:db9::1"})
    ));
    assert!(m("Ip|cidr", "'0.0.0.0/0'", json!({"Ip": "8.8.8.8"})));
    assert!(m(
        "Ip|cidr",
        "'10.0.0.0/8'",
        json!({"Ip": "::ffff:10.0.0.1"})
    ));
    assert!(!m("Ip|cidr", "'10.0.0.0/8'", json!({"Ip": "not an ip"})));
    assert!(err("Ip|cidr", "'10.0.0.0/33'").contains("network"));
}

#[test]
fn expand_placeholders() {
    let mut map = HashMap::new();
    map.insert(
        "Admins".to_string(),
        vec!["root".to_string(), "adm*".to_string()],
    );
    let ctx = CompileContext {
        placeholders: Some(&map),
        limits: None,
    };
    let f = compile_field("User|expand", &y("'%Admins%'"), &ctx).unwrap();
    assert!(f.matches(&ev(json!({"User": "ROOT"}))));
    assert!(f.matches(&ev(json!({"User": "admin"}))));
    assert!(!f.matches(&ev(json!({"User": "bob"}))));
    let f = compile_field("P|expand", &y("'\\%plain%Admins%'"), &ctx).unwrap();
    assert!(f.matches(&ev(json!({"P": "%plainroot"}))));
    let e = compile_field("U|expand", &y("'%Nope%'"), &ctx)
        .unwrap_err()
        .to_string();
    assert!(e.contains("Nope"), "{e}");
    assert!(err("U|expand", "'%Admins%'").contains("placeholder file"));
    // Without expand, percent signs are plain.
    assert!(m("U", "'%Admins%'", json!({"U": "%admins%"})));
}

#[test]
fn fieldref() {
    let e = json!({"A": "Foo", "B": "foo", "C": "xfooy", "N": 5, "M": 5});
    assert!(m("A|fieldref", "B", e.clone()));
    assert!(!m("A|fieldref|cased", "B", e.clone()));
    assert!(m("C|fieldref|contains", "B", e.clone()));
    assert!(!m("C|fieldref", "B", e.clone()));
    assert!(m("N|fieldref", "M", e.clone()));
    assert!(!m("A|fieldref", "Missing", e.clone()));
    assert!(m("C|fieldref|neq", "B", e.clone()));
    assert!(!m("A|fieldref|neq", "B", e.clone()));
}

#[test]
fn keywords_search_all_strings() {
    let f = compile("", "['event::clear', 'event::drop']");
    assert!(f.field.is_none());
    assert!(f.matches(&ev(json!({"a": {"b": "mimikatz EVENT::Drop"}}))));
    assert!(!f.matches(&ev(json!({"a": "nothing"}))));
    let f = compile("|all", "['OabVirtualDirectory', ' -ExternalUrl ']");
    assert!(f.matches(&ev(
        json!({"x": "Set-OabVirtualDirectory -ExternalUrl http"})
    )));
    assert!(!f.matches(&ev(json!({"x": "Set-OabVirtualDirectory"}))));
}

#[test]
fn errors_name_the_problem() {
    let e = err("C|contians", "x");
    assert!(e.contains("contians") && e.contains("C|contians"), "{e}");
    assert!(err("C|contains|startswith", "x").contains("startswith"));
    assert!(err("C", "{a: b}").contains("bad value"));
    assert!(err("C", "[]").contains("empty"));
    assert!(err("C|", "x").contains("unknown modifier"));
}

#[test]
fn needles() {
    assert_eq!(
        compile("C|contains", "[Foo, bar]").needles(),
        vec!["foo", "bar"]
    );
    assert_eq!(compile("C", "'ab*CDE*f'").needles(), vec!["cde"]);
    assert!(compile("C|contains", "[foo, '*']").needles().is_empty());
    assert!(compile("C|re", "foo").needles().is_empty());
    assert!(compile("C|neq", "foo").needles().is_empty());
    assert_eq!(
        compile("C|windash|contains", "' -exec'").needles(),
        vec!["exec"]
    );
    assert_eq!(compile("C|contains|all", "[a, '*']").needles(), vec!["a"]);
}

mod prop {
    use super::*;
    use proptest::prelude::*;

    fn spec() -> impl Strategy<Value = String> {
        let modifier = prop_oneof![
            Just("contains"),
            Just("startswith"),
            Just("endswith"),
            Just("all"),
            Just("exists"),
            Just("cased"),
            Just("neq"),
            Just("windash"),
            Just("re"),
            Just("i"),
            Just("m"),
            Just("s"),
            Just("base64"),
            Just("base64offset"),
            Just("utf16le"),
            Just("wide"),
            Just("utf16be"),
            Just("utf16"),
            Just("lt"),
            Just("lte"),
            Just("gt"),
            Just("gte"),
            Just("minute"),
            Just("hour"),
            Just("day"),
            Just("week"),
            Just("month"),
            Just("year"),
            Just("cidr"),
            Just("expand"),
            Just("fieldref"),
            Just(""),
            Just("bogus"),
        ];
        (
            "[A-Za-z]{0,3}",
            proptest::collection::vec(modifier, 0..5),
            "[a-z|]{0,4}",
        )
            .prop_map(|(f, mods, junk)| {
                let mut s = f;
                for m in mods {
                    s.push('|');
                    s.push_str(m);
                }
                s.push_str(&junk);
                s
            })
    }

    fn scalar() -> impl Strategy<Value = yaml_serde::Value> {
        prop_oneof![
            Just(yaml_serde::Value::Null),
            any::<bool>().prop_map(yaml_serde::Value::Bool),
            any::<i64>().prop_map(|i| yaml_serde::Value::Number(i.into())),
            any::<f64>().prop_map(|f| yaml_serde::Value::Number(f.into())),
            "[-/%*?\\\\a-zA-Z0-9.:()\\[\\]{}|^$+ \u{2013}]{0,12}"
                .prop_map(yaml_serde::Value::String),
            any::<String>().prop_map(yaml_serde::Value::String),
        ]
    }

    fn value() -> impl Strategy<Value = yaml_serde::Value> {
        prop_oneof![
            scalar(),
            proptest::collection::vec(scalar(), 0..4).prop_map(yaml_serde::Value::Sequence),
        ]
    }

    proptest! {
        #[test]
        fn compile_never_panics(spec in spec(), raw_spec in any::<String>(), v in value(), text in any::<String>()) {
            let mut map = HashMap::new();
            map.insert("a".to_string(), vec!["x*".to_string(), "%a%".to_string()]);
            for ctx in [CompileContext::default(), CompileContext { placeholders: Some(&map), limits: None }] {
                for s in [&spec, &raw_spec] {
                    if let Ok(f) = compile_field(s, &v, &ctx) {
                        let event = ev(json!({"A": text.clone(), "B": [1, text.clone(), null], "": "x"}));
                        let _ = f.matches(&event);
                        let _ = f.needles();
                    }
                }
            }
        }
    }
}
