//! Parsing a field specification, compiling its values, matching events.

use std::borrow::Cow;
use std::cmp::Ordering;
use std::collections::HashMap;
use std::net::IpAddr;

use super::encode::{self, ExpandError};
use super::pattern::{self, StrMatch, Token};
use crate::event::{EventFields, FieldValue};

/// Where `expand` placeholders come from (`%name%` → values); None = no file given.
#[derive(Debug, Clone, Copy, Default)]
pub struct CompileContext<'a> {
    pub placeholders: Option<&'a HashMap<String, Vec<String>>>,
    /// Bounds for rules from outside (a tenant's upload); None for the
    /// MSP's own rule folders.
    pub limits: Option<&'a crate::limits::Limits>,
}

/// The compiled size of a regex from a trusted rule folder.
const TRUSTED_REGEX_BYTES: usize = 1 << 24;

impl CompileContext<'_> {
    /// The compiled size (and lazy DFA cache) one regex may take.
    fn regex_bytes(&self) -> Option<usize> {
        self.limits.map(|l| l.max_regex_bytes)
    }
}

/// Why a field specification or one of its values cannot be compiled.
#[derive(Debug, thiserror::Error)]
pub enum ValueError {
    #[error("field spec `{spec}`: unknown modifier `{modifier}`")]
    UnknownModifier { spec: String, modifier: String },
    #[error("field spec `{spec}`: modifier `{modifier}` cannot be combined with `{other}`")]
    Conflict {
        spec: String,
        modifier: String,
        other: String,
    },
    #[error("field spec `{spec}`: modifier `{modifier}` needs a field name")]
    NeedsField { spec: String, modifier: String },
    #[error("field spec `{spec}`: bad value {value}: {reason}")]
    BadValue {
        spec: String,
        value: String,
        reason: String,
    },
    #[error("field spec `{spec}`: invalid regular expression `{pattern}`: {reason}")]
    Regex {
        spec: String,
        pattern: String,
        reason: String,
    },
    #[error(
        "field spec `{spec}`: the rule uses placeholders (`expand`) and needs a placeholder file"
    )]
    NeedsPlaceholders { spec: String },
    #[error("field spec `{spec}`: placeholder `%{name}%` is not in the placeholder file")]
    UnknownPlaceholder { spec: String, name: String },
}

/// One `field|mod|mod: values` entry of a selection, compiled. `field` is
/// None for keyword (field-less) values.
#[derive(Debug, Clone)]
pub struct FieldMatcher {
    pub field: Option<String>,
    mode: Mode,
    all: bool,
    neq: bool,
    cased: bool,
    /// Dashes folded in patterns and event text (`windash` without a later
    /// encoding).
    fold_dash: bool,
}

#[derive(Debug, Clone)]
enum Mode {
    Exists(bool),
    Values(Vec<Matcher>),
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Kind {
    Exact,
    Contains,
    StartsWith,
    EndsWith,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum CmpOp {
    Eq,
    Lt,
    Lte,
    Gt,
    Gte,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum TimePart {
    Minute,
    Hour,
    Day,
    Week,
    Month,
    Year,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Transform {
    Windash,
    Base64,
    Base64Offset,
    Utf16Le,
    Utf16Be,
    Utf16,
    Expand,
}

#[derive(Debug, Clone, Copy)]
enum Num {
    I(i64),
    F(f64),
}

impl Num {
    fn cmp(self, other: Num) -> Option<Ordering> {
        match (self, other) {
            (Num::I(a), Num::I(b)) => Some(a.cmp(&b)),
            (a, b) => a.as_f64().partial_cmp(&b.as_f64()),
        }
    }
    fn as_f64(self) -> f64 {
        match self {
            Num::I(i) => i as f64,
            Num::F(f) => f,
        }
    }
    fn parse(text: &str) -> Option<Num> {
        let t = text.trim();
        if let Ok(i) = t.parse::<i64>() {
            return Some(Num::I(i));
        }
        t.parse::<f64>().ok().filter(|f| f.is_finite()).map(Num::F)
    }
    fn of_event(v: &FieldValue<'_>) -> Option<Num> {
        match v {
            FieldValue::Int(i) => Some(Num::I(*i)),
            FieldValue::Float(f) => Some(Num::F(*f)),
            FieldValue::Str(s) => Num::parse(s),
            _ => None,
        }
    }
}

#[derive(Debug, Clone)]
struct Net {
    addr: IpAddr,
    prefix: u8,
}

impl Net {
    fn parse(text: &str) -> Option<Net> {
        let (a, p) = match text.trim().split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (text.trim(), None),
        };
        let addr: IpAddr = a.parse().ok()?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match p {
            Some(p) => p.parse::<u8>().ok().filter(|p| *p <= max)?,
            None => max,
        };
        Some(Net { addr, prefix })
    }

    fn contains(&self, ip: IpAddr) -> bool {
        match (self.addr, ip) {
            (IpAddr::V4(n), IpAddr::V4(i)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                u32::from(n) & mask == u32::from(i) & mask
            }
            (IpAddr::V6(n), IpAddr::V6(i)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                u128::from(n) & mask == u128::from(i) & mask
            }
            (IpAddr::V4(_), IpAddr::V6(i)) => i
                .to_ipv4_mapped()
                .is_some_and(|v4| self.contains(IpAddr::V4(v4))),
            (IpAddr::V6(_), IpAddr::V4(_)) => false,
        }
    }
}

/// One compiled rule value.
#[derive(Debug, Clone)]
enum Matcher {
    Str(StrMatch),
    /// A plain number: numeric with numeric event values, textual otherwise.
    Num {
        num: Num,
        text: StrMatch,
    },
    Null,
    Regex(regex::Regex),
    Cidr(Net),
    Cmp(CmpOp, Num),
    Time(TimePart, CmpOp, i64),
    FieldRef(String, Kind),
}

/// A value on its way through the transformations.
#[derive(Debug, Clone)]
enum V {
    /// A Sigma string: wildcards and escapes still in it.
    Sigma(String),
    /// Plain text (an encoding's output): no wildcards.
    Plain(String),
    Bytes(Vec<u8>),
    Num(Num, String),
    Bool(bool),
    Null,
}

impl V {
    fn show(&self) -> String {
        match self {
            V::Sigma(s) | V::Plain(s) => format!("{s:?}"),
            V::Bytes(b) => format!("{} encoded bytes", b.len()),
            V::Num(_, t) => t.clone(),
            V::Bool(b) => b.to_string(),
            V::Null => "null".into(),
        }
    }
}

#[derive(Default)]
struct Mods<'s> {
    kind: Option<(Kind, &'s str)>,
    all: bool,
    cased: bool,
    neq: bool,
    exists: bool,
    re: bool,
    re_flags: (bool, bool, bool),
    cidr: bool,
    fieldref: bool,
    cmp: Option<(CmpOp, &'s str)>,
    time: Option<(TimePart, &'s str)>,
    transforms: Vec<Transform>,
    /// Every modifier in order, for conflict messages.
    names: Vec<&'s str>,
}

fn parse_mods(spec: &str) -> Result<(Option<String>, Mods<'_>), ValueError> {
    let mut parts = spec.split('|');
    let field = parts.next().unwrap_or("");
    let field = (!field.is_empty()).then(|| field.to_string());
    let mut m = Mods::default();
    let unknown = |modifier: &str| ValueError::UnknownModifier {
        spec: spec.to_string(),
        modifier: modifier.to_string(),
    };
    let conflict = |modifier: &str, other: &str| ValueError::Conflict {
        spec: spec.to_string(),
        modifier: modifier.to_string(),
        other: other.to_string(),
    };
    for name in parts {
        match name {
            "contains" => set_once(&mut m.kind, spec, name, Kind::Contains)?,
            "startswith" => set_once(&mut m.kind, spec, name, Kind::StartsWith)?,
            "endswith" => set_once(&mut m.kind, spec, name, Kind::EndsWith)?,
            "all" => m.all = true,
            "cased" => m.cased = true,
            "neq" => m.neq = true,
            "exists" => m.exists = true,
            "re" => m.re = true,
            "i" | "m" | "s" => {
                if !m.re {
                    return Err(conflict(name, "no `re` before it"));
                }
                match name {
                    "i" => m.re_flags.0 = true,
                    "m" => m.re_flags.1 = true,
                    _ => m.re_flags.2 = true,
                }
            }
            "cidr" => m.cidr = true,
            "fieldref" => m.fieldref = true,
            "expand" => m.transforms.push(Transform::Expand),
            "windash" => m.transforms.push(Transform::Windash),
            "base64" => m.transforms.push(Transform::Base64),
            "base64offset" => m.transforms.push(Transform::Base64Offset),
            "utf16le" | "wide" => m.transforms.push(Transform::Utf16Le),
            "utf16be" => m.transforms.push(Transform::Utf16Be),
            "utf16" => m.transforms.push(Transform::Utf16),
            "lt" => set_once(&mut m.cmp, spec, name, CmpOp::Lt)?,
            "lte" => set_once(&mut m.cmp, spec, name, CmpOp::Lte)?,
            "gt" => set_once(&mut m.cmp, spec, name, CmpOp::Gt)?,
            "gte" => set_once(&mut m.cmp, spec, name, CmpOp::Gte)?,
            "minute" => set_once(&mut m.time, spec, name, TimePart::Minute)?,
            "hour" => set_once(&mut m.time, spec, name, TimePart::Hour)?,
            "day" => set_once(&mut m.time, spec, name, TimePart::Day)?,
            "week" => set_once(&mut m.time, spec, name, TimePart::Week)?,
            "month" => set_once(&mut m.time, spec, name, TimePart::Month)?,
            "year" => set_once(&mut m.time, spec, name, TimePart::Year)?,
            other => return Err(unknown(other)),
        }
        m.names.push(name);
    }
    // Which modifiers go together.
    let first_other = |m: &Mods<'_>, allowed: &[&str]| -> Option<String> {
        m.names
            .iter()
            .find(|n| !allowed.contains(n))
            .map(|n| n.to_string())
    };
    let check = |m: &Mods<'_>, me: &str, allowed: &[&str]| -> Result<(), ValueError> {
        match first_other(m, allowed) {
            Some(other) => Err(conflict(me, &other)),
            None => Ok(()),
        }
    };
    if m.exists {
        check(&m, "exists", &["exists"])?;
    }
    if m.re {
        check(&m, "re", &["re", "i", "m", "s", "all", "neq", "expand"])?;
    }
    if m.cidr {
        check(&m, "cidr", &["cidr", "all", "neq", "expand"])?;
    }
    if m.fieldref {
        check(
            &m,
            "fieldref",
            &[
                "fieldref",
                "contains",
                "startswith",
                "endswith",
                "cased",
                "all",
                "neq",
            ],
        )?;
    }
    if m.cmp.is_some() || m.time.is_some() {
        let me = m.cmp.map(|c| c.1).or(m.time.map(|t| t.1)).unwrap_or("lt");
        check(
            &m,
            me,
            &[
                "lt", "lte", "gt", "gte", "minute", "hour", "day", "week", "month", "year", "all",
                "neq",
            ],
        )?;
    }
    if field.is_none() {
        for needs in ["exists", "fieldref"] {
            if m.names.contains(&needs) {
                return Err(ValueError::NeedsField {
                    spec: spec.to_string(),
                    modifier: needs.to_string(),
                });
            }
        }
    }
    Ok((field, m))
}

fn set_once<'s, T>(
    slot: &mut Option<(T, &'s str)>,
    spec: &str,
    name: &'s str,
    value: T,
) -> Result<(), ValueError> {
    match slot {
        Some((_, other)) => Err(ValueError::Conflict {
            spec: spec.to_string(),
            modifier: name.to_string(),
            other: other.to_string(),
        }),
        None => {
            *slot = Some((value, name));
            Ok(())
        }
    }
}

/// `spec` is the map key (`CommandLine|contains|all`, or "" for keywords),
/// `values` the YAML value (scalar, null or list).
pub fn compile_field(
    spec: &str,
    values: &yaml_serde::Value,
    ctx: &CompileContext,
) -> Result<FieldMatcher, ValueError> {
    let (field, m) = parse_mods(spec)?;
    let bad = |v: String, reason: &str| ValueError::BadValue {
        spec: spec.to_string(),
        value: v,
        reason: reason.to_string(),
    };
    let raw_values: Vec<V> = match values {
        yaml_serde::Value::Sequence(items) => items
            .iter()
            .map(|v| from_yaml(v).ok_or_else(|| bad(yaml_show(v), "not a scalar")))
            .collect::<Result<_, _>>()?,
        v => vec![from_yaml(v).ok_or_else(|| bad(yaml_show(v), "not a scalar or a list"))?],
    };
    if raw_values.is_empty() {
        return Err(bad("[]".into(), "empty list of values"));
    }

    if m.exists {
        let want = match raw_values.as_slice() {
            [V::Bool(b)] => *b,
            [V::Sigma(s)] if s.eq_ignore_ascii_case("true") => true,
            [V::Sigma(s)] if s.eq_ignore_ascii_case("false") => false,
            [v] => return Err(bad(v.show(), "`exists` takes true or false")),
            _ => {
                return Err(bad(
                    "a list".into(),
                    "`exists` takes one value, true or false",
                ))
            }
        };
        return Ok(FieldMatcher {
            field,
            mode: Mode::Exists(want),
            all: false,
            neq: false,
            cased: false,
            fold_dash: false,
        });
    }

    // Windash folds event text and pattern alike unless an encoding comes
    // after it, which needs the permutations themselves.
    let windash_at = m.transforms.iter().position(|t| *t == Transform::Windash);
    let fold_dash = windash_at.is_some_and(|at| {
        !m.transforms[at..].iter().any(|t| {
            matches!(
                t,
                Transform::Base64
                    | Transform::Base64Offset
                    | Transform::Utf16
                    | Transform::Utf16Be
                    | Transform::Utf16Le
            )
        })
    });

    // Transformations, in the order given.
    let mut vals = raw_values;
    for t in &m.transforms {
        let mut next = Vec::with_capacity(vals.len());
        for v in vals {
            apply_transform(*t, v, fold_dash, spec, ctx, &mut next)?;
        }
        if next.len() > encode::MAX_VARIANTS {
            return Err(bad("a list".into(), "expands into too many values"));
        }
        vals = next;
    }

    let keyword = field.is_none();
    let kind = match m.kind {
        Some((k, _)) => k,
        None if keyword => Kind::Contains,
        None => Kind::Exact,
    };
    let cased = m.cased;
    let fold =
        move |s: &str| -> String { fold_text(Cow::Borrowed(s), cased, fold_dash).into_owned() };

    let mut matchers = Vec::with_capacity(vals.len());
    for v in vals {
        let shown = v.show();
        let matcher = if m.re {
            let text = v_text(&v).ok_or_else(|| bad(shown.clone(), "`re` needs a string"))?;
            let mut builder = regex::RegexBuilder::new(&text);
            builder
                .case_insensitive(m.re_flags.0)
                .multi_line(m.re_flags.1)
                .dot_matches_new_line(m.re_flags.2)
                .size_limit(TRUSTED_REGEX_BYTES);
            if let Some(bytes) = ctx.regex_bytes() {
                builder.size_limit(bytes).dfa_size_limit(bytes);
            }
            let re = builder.build().map_err(|e| ValueError::Regex {
                spec: spec.to_string(),
                pattern: text.clone(),
                reason: e.to_string(),
            })?;
            Matcher::Regex(re)
        } else if m.cidr {
            let text = v_text(&v).ok_or_else(|| bad(shown.clone(), "`cidr` needs a network"))?;
            Matcher::Cidr(
                Net::parse(&text)
                    .ok_or_else(|| bad(shown.clone(), "not an IPv4 or IPv6 network"))?,
            )
        } else if let Some((part, _)) = m.time {
            let op = m.cmp.map_or(CmpOp::Eq, |c| c.0);
            let n = match v_num(&v) {
                Some(Num::I(i)) => i,
                _ => return Err(bad(shown, "a time part is compared with a whole number")),
            };
            Matcher::Time(part, op, n)
        } else if let Some((op, _)) = m.cmp {
            Matcher::Cmp(
                op,
                v_num(&v).ok_or_else(|| bad(shown.clone(), "not a number"))?,
            )
        } else if m.fieldref {
            let name = v_text(&v)
                .filter(|s| !s.is_empty())
                .ok_or_else(|| bad(shown.clone(), "`fieldref` needs a field name"))?;
            Matcher::FieldRef(name, kind)
        } else {
            match v {
                V::Null => Matcher::Null,
                V::Num(num, text) if kind == Kind::Exact && !fold_dash => Matcher::Num {
                    num,
                    text: compile_str(vec![Token::Lit(text)], kind, &fold, spec, ctx)?,
                },
                V::Sigma(s) => {
                    Matcher::Str(compile_str(pattern::parse(&s), kind, &fold, spec, ctx)?)
                }
                V::Plain(s) | V::Num(_, s) => {
                    Matcher::Str(compile_str(vec![Token::Lit(s)], kind, &fold, spec, ctx)?)
                }
                V::Bool(b) => Matcher::Str(compile_str(
                    vec![Token::Lit(b.to_string())],
                    kind,
                    &fold,
                    spec,
                    ctx,
                )?),
                V::Bytes(b) => {
                    let s = String::from_utf8(b).map_err(|_| {
                        bad(shown.clone(), "the UTF-16 encoding is not text; add `base64` or `base64offset` after it")
                    })?;
                    Matcher::Str(compile_str(vec![Token::Lit(s)], kind, &fold, spec, ctx)?)
                }
            }
        };
        matchers.push(matcher);
    }

    Ok(FieldMatcher {
        field,
        mode: Mode::Values(matchers),
        all: m.all,
        neq: m.neq,
        cased,
        fold_dash,
    })
}

fn compile_str(
    mut tokens: Vec<Token>,
    kind: Kind,
    fold: &dyn Fn(&str) -> String,
    spec: &str,
    ctx: &CompileContext,
) -> Result<StrMatch, ValueError> {
    if matches!(kind, Kind::Contains | Kind::EndsWith) {
        tokens.insert(0, Token::Any);
    }
    if matches!(kind, Kind::Contains | Kind::StartsWith) {
        tokens.push(Token::Any);
    }
    StrMatch::compile(
        &tokens,
        fold,
        ctx.regex_bytes().unwrap_or(TRUSTED_REGEX_BYTES),
    )
    .map_err(|e| ValueError::Regex {
        spec: spec.to_string(),
        pattern: "(wildcard pattern)".into(),
        reason: e.to_string(),
    })
}

fn apply_transform(
    t: Transform,
    v: V,
    fold_dash: bool,
    spec: &str,
    ctx: &CompileContext,
    out: &mut Vec<V>,
) -> Result<(), ValueError> {
    let bad = |v: &V, reason: &str| ValueError::BadValue {
        spec: spec.to_string(),
        value: v.show(),
        reason: reason.to_string(),
    };
    // The plain text of a value, for the encodings.
    let plain = |v: &V, what: &str| -> Result<Vec<u8>, ValueError> {
        match v {
            V::Sigma(s) => pattern::plain_text(s)
                .map(String::into_bytes)
                .ok_or_else(|| {
                    bad(
                        v,
                        &format!("`{what}` cannot encode wildcards (escape them with `\\`)"),
                    )
                }),
            V::Plain(s) | V::Num(_, s) => Ok(s.clone().into_bytes()),
            V::Bool(b) => Ok(b.to_string().into_bytes()),
            V::Bytes(b) => Ok(b.clone()),
            V::Null => Err(bad(v, &format!("`{what}` cannot encode null"))),
        }
    };
    let text = |v: &V, what: &str| -> Result<String, ValueError> {
        match v {
            V::Bytes(_) => Err(bad(
                v,
                &format!("`{what}` applies to text, not to encoded bytes"),
            )),
            _ => String::from_utf8(plain(v, what)?).map_err(|_| bad(v, "not text")),
        }
    };
    match t {
        Transform::Expand => match v {
            V::Sigma(s) => {
                let Some(map) = ctx.placeholders else {
                    return Err(ValueError::NeedsPlaceholders {
                        spec: spec.to_string(),
                    });
                };
                let expanded = encode::expand(&s, map).map_err(|e| match e {
                    ExpandError::Unknown(name) => ValueError::UnknownPlaceholder {
                        spec: spec.to_string(),
                        name,
                    },
                    ExpandError::TooMany => {
                        bad(&V::Sigma(s.clone()), "expands into too many values")
                    }
                })?;
                out.extend(expanded.into_iter().map(V::Sigma));
            }
            other => out.push(other),
        },
        Transform::Windash => match v {
            V::Sigma(s) if !fold_dash => {
                let variants = encode::windash_variants(&s)
                    .ok_or_else(|| bad(&V::Sigma(s.clone()), "too many `windash` permutations"))?;
                out.extend(variants.into_iter().map(V::Sigma));
            }
            V::Bytes(_) => return Err(bad(&v, "`windash` applies to text, not to encoded bytes")),
            other => out.push(other),
        },
        Transform::Utf16Le => out.push(V::Bytes(encode::utf16le(&text(&v, "utf16le")?))),
        Transform::Utf16Be => out.push(V::Bytes(encode::utf16be(&text(&v, "utf16be")?))),
        Transform::Utf16 => out.push(V::Bytes(encode::utf16_bom(&text(&v, "utf16")?))),
        Transform::Base64 => out.push(V::Plain(encode::base64(&plain(&v, "base64")?))),
        Transform::Base64Offset => {
            let bytes = plain(&v, "base64offset")?;
            let forms = encode::base64_offsets(&bytes);
            if forms.is_empty() {
                return Err(bad(&v, "too short for `base64offset`"));
            }
            out.extend(forms.into_iter().map(V::Plain));
        }
    }
    Ok(())
}

fn from_yaml(v: &yaml_serde::Value) -> Option<V> {
    use yaml_serde::Value as Y;
    Some(match v {
        Y::Null => V::Null,
        Y::Bool(b) => V::Bool(*b),
        Y::String(s) => V::Sigma(s.clone()),
        Y::Number(n) => match n.as_i64() {
            Some(i) => V::Num(Num::I(i), i.to_string()),
            None => match n.as_u64() {
                Some(u) => V::Num(Num::F(u as f64), u.to_string()),
                None => {
                    let f = n.as_f64()?;
                    V::Num(Num::F(f), n.to_string())
                }
            },
        },
        Y::Tagged(t) => from_yaml(&t.value)?,
        Y::Sequence(_) | Y::Mapping(_) => return None,
    })
}

fn yaml_show(v: &yaml_serde::Value) -> String {
    match v {
        yaml_serde::Value::Sequence(_) => "a nested list".into(),
        yaml_serde::Value::Mapping(_) => "a map".into(),
        other => from_yaml(other).map_or_else(|| "?".into(), |v| v.show()),
    }
}

/// A value's raw text (for `re`, `cidr`, `fieldref`): not unescaped.
fn v_text(v: &V) -> Option<String> {
    match v {
        V::Sigma(s) | V::Plain(s) | V::Num(_, s) => Some(s.clone()),
        V::Bool(b) => Some(b.to_string()),
        V::Bytes(_) | V::Null => None,
    }
}

fn v_num(v: &V) -> Option<Num> {
    match v {
        V::Num(n, _) => Some(*n),
        V::Sigma(s) | V::Plain(s) => Num::parse(s),
        _ => None,
    }
}

/// Text as string patterns compare it: lowercased unless cased, windash
/// characters folded to `-` when asked.
fn fold_text(text: Cow<'_, str>, cased: bool, fold_dash: bool) -> Cow<'_, str> {
    fn step<'a>(c: Cow<'a, str>, f: impl for<'b> Fn(&'b str) -> Cow<'b, str>) -> Cow<'a, str> {
        match c {
            Cow::Borrowed(s) => f(s),
            Cow::Owned(s) => Cow::Owned(f(&s).into_owned()),
        }
    }
    let t = if cased {
        text
    } else {
        step(text, pattern::lower)
    };
    if fold_dash {
        step(t, pattern::fold_dashes)
    } else {
        t
    }
}

fn compare(op: CmpOp, ord: Option<Ordering>) -> bool {
    let Some(o) = ord else { return false };
    match op {
        CmpOp::Eq => o == Ordering::Equal,
        CmpOp::Lt => o == Ordering::Less,
        CmpOp::Lte => o != Ordering::Greater,
        CmpOp::Gt => o == Ordering::Greater,
        CmpOp::Gte => o != Ordering::Less,
    }
}

/// The part of a `YYYY-MM-DD[T| ]HH:MM...` timestamp (`/` also accepted
/// between date parts). No time zone conversion, as the spec says.
fn time_part(text: &str, part: TimePart) -> Option<i64> {
    let t = text.trim().as_bytes();
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        let s = t.get(r)?;
        if !s.iter().all(u8::is_ascii_digit) {
            return None;
        }
        std::str::from_utf8(s).ok()?.parse().ok()
    };
    let sep = |i: usize, ok: &[u8]| t.get(i).is_some_and(|c| ok.contains(c));
    if !(sep(4, b"-/") && sep(7, b"-/")) {
        return None;
    }
    let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let date = chrono::NaiveDate::from_ymd_opt(y as i32, mo as u32, d as u32)?;
    let clock = || -> Option<(i64, i64)> {
        if !(sep(10, b"T ") && sep(13, b":")) {
            return None;
        }
        let (h, mi) = (num(11..13)?, num(14..16)?);
        (h < 24 && mi < 60).then_some((h, mi))
    };
    use chrono::Datelike;
    Some(match part {
        TimePart::Year => y,
        TimePart::Month => mo,
        TimePart::Day => d,
        TimePart::Week => i64::from(date.iso_week().week()),
        TimePart::Hour => clock()?.0,
        TimePart::Minute => clock()?.1,
    })
}

impl FieldMatcher {
    pub fn matches(&self, event: &dyn EventFields) -> bool {
        let values: Vec<FieldValue<'_>> = match &self.field {
            Some(f) => event.field_values(f),
            None => event.all_text().into_iter().map(FieldValue::Str).collect(),
        };
        let matchers = match &self.mode {
            Mode::Exists(want) => return values.is_empty() != *want,
            Mode::Values(m) => m,
        };
        if self.neq && values.is_empty() {
            return false;
        }
        let needs_fold = matchers.iter().any(|m| {
            matches!(
                m,
                Matcher::Str(_) | Matcher::Num { .. } | Matcher::FieldRef(..)
            )
        });
        let folded: Vec<Option<Cow<'_, str>>> = if needs_fold {
            values.iter().map(|v| self.fold_value(v)).collect()
        } else {
            Vec::new()
        };
        let hit = |m: &Matcher| self.hit(m, &values, &folded, event);
        let base = if self.all {
            matchers.iter().all(hit)
        } else {
            matchers.iter().any(hit)
        };
        base != self.neq
    }

    fn fold_value<'v>(&self, v: &'v FieldValue<'_>) -> Option<Cow<'v, str>> {
        match v {
            FieldValue::Null => None,
            v => Some(fold_text(v.as_text(), self.cased, self.fold_dash)),
        }
    }

    fn hit(
        &self,
        m: &Matcher,
        values: &[FieldValue<'_>],
        folded: &[Option<Cow<'_, str>>],
        event: &dyn EventFields,
    ) -> bool {
        let texts = || folded.iter().flatten();
        match m {
            Matcher::Null => values.is_empty() || values.contains(&FieldValue::Null),
            Matcher::Str(s) => texts().any(|t| s.is_match(t)),
            Matcher::Num { num, text } => values.iter().zip(folded).any(|(v, f)| match v {
                FieldValue::Int(_) | FieldValue::Float(_) => {
                    compare(CmpOp::Eq, Num::of_event(v).and_then(|e| e.cmp(*num)))
                }
                FieldValue::Str(_) => f.as_ref().is_some_and(|t| text.is_match(t)),
                _ => false,
            }),
            Matcher::Regex(re) => values
                .iter()
                .any(|v| *v != FieldValue::Null && re.is_match(&v.as_text())),
            Matcher::Cidr(net) => values.iter().any(|v| match v {
                FieldValue::Str(s) => s.trim().parse::<IpAddr>().is_ok_and(|ip| net.contains(ip)),
                _ => false,
            }),
            Matcher::Cmp(op, n) => values
                .iter()
                .any(|v| compare(*op, Num::of_event(v).and_then(|e| e.cmp(*n)))),
            Matcher::Time(part, op, n) => values.iter().any(|v| match v {
                FieldValue::Str(s) => {
                    time_part(s, *part).is_some_and(|p| compare(*op, Some(p.cmp(n))))
                }
                _ => false,
            }),
            Matcher::FieldRef(other, kind) => {
                let refs = event.field_values(other);
                refs.iter().filter_map(|r| self.fold_value(r)).any(|r| {
                    texts().any(|t| match kind {
                        Kind::Exact => *t == *r,
                        Kind::Contains => t.contains(r.as_ref()),
                        Kind::StartsWith => t.starts_with(r.as_ref()),
                        Kind::EndsWith => t.ends_with(r.as_ref()),
                    })
                })
            }
        }
    }

    /// Literal, lowercased needles that any match of a case-insensitive
    /// string comparison must contain (for a later aho-corasick prefilter;
    /// empty when none can be derived). At least one of them occurs in the
    /// lowercased event text of every matching event.
    pub fn needles(&self) -> Vec<String> {
        let Mode::Values(matchers) = &self.mode else {
            return Vec::new();
        };
        if self.neq {
            return Vec::new();
        }
        let mut out: Vec<String> = Vec::new();
        for m in matchers {
            let n = match m {
                Matcher::Str(s) => s
                    .needle(self.fold_dash)
                    .map(|n| pattern::lower(&n).into_owned()),
                Matcher::Num { num: Num::I(i), .. } => Some(i.to_string()),
                _ => None,
            };
            match n {
                Some(n) if !out.contains(&n) => out.push(n),
                Some(_) => {}
                None if !self.all => return Vec::new(),
                None => {}
            }
        }
        out
    }
}
