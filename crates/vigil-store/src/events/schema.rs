//! How an event becomes a tantivy document.
//!
//! One schema for every partition (tenant × day of arrival):
//!
//! | field    | type                     | holds                                              |
//! |----------|--------------------------|----------------------------------------------------|
//! | `id`     | `STRING \| STORED`       | the event id (32 hex chars), one raw term          |
//! | `time`   | i64 `INDEXED\|FAST\|STORED` | event time, microseconds since the epoch        |
//! | `raw`    | `STORED`                 | the event's JSON text, returned by search          |
//! | `fields` | JSON, keyword, `FAST`    | the flattened event, for `field:value` conditions  |
//! | `text`   | text with positions      | every string and number of the event, full text    |
//! | `ips`    | JSON, raw                | string values that are IP addresses, CIDR-ready    |
//! | `nums`   | JSON, numbers only       | string values that are numbers, range-ready        |
//!
//! Encoding decisions (and why):
//!
//! - `fields` is one JSON field with `expand_dots` on, filled with the dotted
//!   names of [`flatten_fields`]: `{"source":{"ip":..}}` and `{"source.ip":..}`
//!   both land on the path `source.ip`, which is what a query names. Strings go
//!   through the [`KEYWORD_TOKENIZER`]: the whole value as one term, lowercased
//!   (so `user.name:ROOT` finds `root`) and cut to [`KEYWORD_MAX_BYTES`] at a
//!   character boundary (tantivy drops terms over ~64 KiB; cutting keeps long
//!   command lines findable by their start, and queries are cut the same way).
//!   The fast (columnar) copy uses the same normalizer, so top values are
//!   lowercased too. Numbers and bools keep their JSON type; tantivy stores a
//!   JSON number as i64 when it is integral (even `2.0`), u64 above
//!   `i64::MAX`, f64 otherwise, and queries mirror that.
//! - `ips` holds, for every string value that parses as an IP address (any
//!   field, not only `*.ip`: sources name them `IpAddress`, `src`, `client`...),
//!   the 32 lowercase hex chars of its IPv6 form (IPv4 as IPv4-mapped) under
//!   the same path. Fixed width hex sorts like the address, so a CIDR is one
//!   exact term range, and `10.0.0.1` equals `::ffff:10.0.0.1`.
//! - `nums` holds, for every string value that parses as a finite number, the
//!   number under the same path. Decoders of text logs often leave numbers as
//!   strings (`"status":"404"`); this makes `status:>=400` compare numbers.
//!   It is a separate field so that top values do not count a value twice.
//! - `text` gets strings and numbers (as their JSON text: a bare `4625` finds
//!   an `EventID` of 4625) and uses [`TEXT_TOKENIZER`]: tantivy's default
//!   analysis (split on non-alphanumerics, lowercase) but keeping tokens up to
//!   [`TEXT_TOKEN_MAX_BYTES`] instead of 40 bytes, so that hashes (64 hex
//!   chars for SHA-256) are searchable as words.
//!
//! [`flatten_fields`]: vigil_core::flatten_fields

use std::collections::BTreeMap;
use std::net::IpAddr;

use super::json_ref::JsonRef;
use serde_json::Value as JsonValue;
use tantivy::columnar::NumericalValue;
use tantivy::schema::{
    Field, IndexRecordOption, JsonObjectOptions, OwnedValue, Schema, TextFieldIndexing,
    TextOptions, FAST, INDEXED, STORED, STRING,
};
use tantivy::tokenizer::{
    LowerCaser, RemoveLongFilter, SimpleTokenizer, TextAnalyzer, Token, TokenStream, Tokenizer,
};
use tantivy::{Index, TantivyDocument, Term};
use vigil_core::{flatten_fields, Event, STORED_ONLY_FIELDS, TIME_FIELDS};

/// Name of the keyword normalizer (whole value, lowercased, cut).
pub const KEYWORD_TOKENIZER: &str = "vigil_keyword";
/// Name of the full-text analyzer of the `text` field.
pub const TEXT_TOKENIZER: &str = "vigil_text";
/// Keyword values longer than this (in UTF-8 bytes, after lowercasing) are
/// indexed cut to this length; see the module documentation.
pub const KEYWORD_MAX_BYTES: usize = 8 * 1024;
/// Full-text tokens of this many bytes or more are not indexed.
pub const TEXT_TOKEN_MAX_BYTES: usize = 256;

/// The tantivy schema of event partitions and its fields (see the module
/// documentation for what each holds and why).
#[derive(Debug, Clone)]
pub struct EventSchema {
    pub schema: Schema,
    /// Event id, 32 hex chars, one raw term: `delete_term` target on replay.
    pub id: Field,
    /// Event time in microseconds; fast, for time filters and newest first.
    pub time: Field,
    /// The event's JSON text, stored only.
    pub raw: Field,
    /// The flattened event: keywords, numbers, bools; fast for top values.
    pub fields: Field,
    /// Full text of every string and number.
    pub text: Field,
    /// IP-valued strings as fixed-width hex, for CIDR and IP equality.
    pub ips: Field,
    /// Numeric strings as numbers, for numeric equality and ranges.
    pub nums: Field,
}

impl Default for EventSchema {
    fn default() -> Self {
        Self::new()
    }
}

impl EventSchema {
    pub fn new() -> Self {
        let mut builder = Schema::builder();
        let id = builder.add_text_field("id", STRING | STORED);
        let time = builder.add_i64_field("time", INDEXED | FAST | STORED);
        let raw = builder.add_text_field("raw", STORED);
        let fields = builder.add_json_field(
            "fields",
            json_options(KEYWORD_TOKENIZER).set_fast(KEYWORD_TOKENIZER),
        );
        let text = builder.add_text_field("text", text_options());
        let ips = builder.add_json_field("ips", json_options("raw"));
        let nums = builder.add_json_field("nums", json_options("raw"));
        EventSchema {
            schema: builder.build(),
            id,
            time,
            raw,
            fields,
            text,
            ips,
            nums,
        }
    }

    /// Registers the analyzers the schema names. Call it on every `Index`
    /// (created or opened) before making a writer or searching: tantivy keeps
    /// tokenizers per `Index` value, not in the index files.
    pub fn register_tokenizers(&self, index: &Index) {
        index
            .tokenizers()
            .register(KEYWORD_TOKENIZER, KeywordTokenizer::default());
        index.tokenizers().register(TEXT_TOKENIZER, text_analyzer());
        index
            .fast_field_tokenizer()
            .register(KEYWORD_TOKENIZER, KeywordTokenizer::default());
    }

    /// The document of one event.
    pub fn document(&self, event: &Event) -> TantivyDocument {
        let mut doc = TantivyDocument::new();
        doc.add_text(self.id, event.id.to_string());
        doc.add_i64(self.time, event.time.micros());
        doc.add_text(self.raw, &event.raw);
        // The event as sent: tantivy walks it, no copy of it is built.
        doc.add_field_value(self.fields, JsonRef::Object(&event.doc));
        let mut views = Views::default();
        flatten_fields(&event.doc, &mut |path, value| {
            if STORED_ONLY_FIELDS.contains(&path) {
                return;
            }
            views.add(path, value);
            // The event's time is the `time` field; its text would only
            // add a unique token per event to the full-text dictionary.
            if TIME_FIELDS.contains(&path) {
                return;
            }
            match value {
                JsonValue::String(s) => doc.add_text(self.text, s),
                JsonValue::Number(n) => doc.add_text(self.text, n.to_string()),
                _ => {}
            }
        });
        views.write(self, &mut doc);
        doc
    }

    /// The term of JSON field `field` for the dotted `path`, without a value
    /// yet (its bytes are the path and the end-of-path marker).
    pub fn path_term(&self, field: Field, path: &str) -> Term {
        // tantivy reads `\` in a path as an escape; field names are literal.
        Term::from_field_json_path(field, &path.replace('\\', "\\\\"), true)
    }
}

fn json_options(tokenizer: &str) -> JsonObjectOptions {
    let indexing = TextFieldIndexing::default()
        .set_tokenizer(tokenizer)
        .set_index_option(IndexRecordOption::Basic)
        .set_fieldnorms(false);
    JsonObjectOptions::default()
        .set_indexing_options(indexing)
        .set_expand_dots_enabled()
}

fn text_options() -> TextOptions {
    let indexing = TextFieldIndexing::default()
        .set_tokenizer(TEXT_TOKENIZER)
        .set_index_option(IndexRecordOption::WithFreqsAndPositions)
        // Results are ordered by time, never by relevance: no norms needed.
        .set_fieldnorms(false);
    TextOptions::default().set_indexing_options(indexing)
}

/// The analyzer of the `text` field (also used to tokenize query words).
pub fn text_analyzer() -> TextAnalyzer {
    TextAnalyzer::builder(SimpleTokenizer::default())
        .filter(RemoveLongFilter::limit(TEXT_TOKEN_MAX_BYTES))
        .filter(LowerCaser)
        .build()
}

/// The keyword form of a string: lowercased character by character, cut to
/// [`KEYWORD_MAX_BYTES`]. Queries use it to build the terms documents got.
pub fn normalize_keyword(value: &str) -> String {
    let mut out = String::new();
    push_keyword(&mut out, value);
    out
}

fn push_keyword(out: &mut String, value: &str) {
    // Most log values are short ASCII: lowercase them a byte at a time (this
    // runs twice per value and event, for the index and the fast field).
    if value.is_ascii() && out.len() + value.len() <= KEYWORD_MAX_BYTES {
        let start = out.len();
        out.push_str(value);
        out[start..].make_ascii_lowercase();
        return;
    }
    for lower in value.chars().flat_map(char::to_lowercase) {
        if out.len() + lower.len_utf8() > KEYWORD_MAX_BYTES {
            return;
        }
        out.push(lower);
    }
}

/// An IP address as indexed in `ips`: 32 lowercase hex chars of its IPv6
/// form, IPv4 addresses as IPv4-mapped (`::ffff:a.b.c.d`).
pub fn ip_key(ip: IpAddr) -> String {
    format!("{:032x}", ip_bits(ip))
}

/// The address as 128 bits, IPv4 mapped into IPv6.
pub fn ip_bits(ip: IpAddr) -> u128 {
    let v6 = match ip {
        IpAddr::V4(v4) => v4.to_ipv6_mapped(),
        IpAddr::V6(v6) => v6,
    };
    u128::from(v6)
}

/// A string read as an IP address, if it is exactly one.
pub fn parse_ip(value: &str) -> Option<IpAddr> {
    // The longest textual IPv6 (mapped, uncompressed) is 45 bytes.
    if value.len() > 45 {
        return None;
    }
    value.parse().ok()
}

/// A string read as a number the way tantivy normalizes JSON numbers
/// (integral values as i64, then u64, else f64); only finite numbers.
pub fn parse_number(value: &str) -> Option<NumericalValue> {
    match value.parse::<NumericalValue>().ok()?.normalize() {
        NumericalValue::F64(f) if !f.is_finite() => None,
        number => Some(number),
    }
}

/// The per-path values of one event for the JSON fields.
#[derive(Default)]
struct Views {
    ips: BTreeMap<String, Vec<OwnedValue>>,
    nums: BTreeMap<String, Vec<OwnedValue>>,
}

impl Views {
    /// Records one scalar of the event: strings that read as IP
    /// addresses or numbers get a second view.
    fn add(&mut self, path: &str, value: &JsonValue) {
        if let JsonValue::String(s) = value {
            self.add_string(path, s);
        }
    }

    fn add_string(&mut self, path: &str, s: &str) {
        if let Some(ip) = parse_ip(s) {
            push(&mut self.ips, path, OwnedValue::Str(ip_key(ip)));
        }
        if let Some(number) = parse_number(s) {
            push(&mut self.nums, path, numerical_value(number));
        }
    }

    fn write(self, schema: &EventSchema, doc: &mut TantivyDocument) {
        for (field, map) in [(schema.ips, self.ips), (schema.nums, self.nums)] {
            if !map.is_empty() {
                doc.add_object(field, map.into_iter().map(one_or_array).collect());
            }
        }
    }
}

fn push(map: &mut BTreeMap<String, Vec<OwnedValue>>, path: &str, value: OwnedValue) {
    match map.get_mut(path) {
        Some(values) => values.push(value),
        None => {
            map.insert(path.to_string(), vec![value]);
        }
    }
}

fn one_or_array((path, mut values): (String, Vec<OwnedValue>)) -> (String, OwnedValue) {
    let value = if values.len() == 1 {
        values.remove(0)
    } else {
        OwnedValue::Array(values)
    };
    (path, value)
}

fn numerical_value(number: NumericalValue) -> OwnedValue {
    match number {
        NumericalValue::I64(i) => OwnedValue::I64(i),
        NumericalValue::U64(u) => OwnedValue::U64(u),
        NumericalValue::F64(f) => OwnedValue::F64(f),
    }
}

/// The keyword normalizer: the whole value as one token, through
/// [`normalize_keyword`]. Its own tokenizer rather than `raw` + `LowerCaser`
/// so that the cut happens after lowercasing, in the one function queries
/// call too.
#[derive(Clone, Default)]
pub struct KeywordTokenizer {
    token: Token,
}

/// The one-token stream of [`KeywordTokenizer`].
pub struct KeywordTokenStream<'a> {
    token: &'a mut Token,
    pending: bool,
}

impl Tokenizer for KeywordTokenizer {
    type TokenStream<'a> = KeywordTokenStream<'a>;

    fn token_stream<'a>(&'a mut self, text: &'a str) -> KeywordTokenStream<'a> {
        // `reset` leaves the position at "before the first token".
        self.token.reset();
        self.token.position = 0;
        self.token.position_length = 1;
        self.token.offset_to = text.len();
        self.token.text.clear();
        push_keyword(&mut self.token.text, text);
        KeywordTokenStream {
            token: &mut self.token,
            pending: true,
        }
    }
}

impl TokenStream for KeywordTokenStream<'_> {
    fn advance(&mut self) -> bool {
        std::mem::take(&mut self.pending)
    }

    fn token(&self) -> &Token {
        self.token
    }

    fn token_mut(&mut self) -> &mut Token {
        self.token
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use tantivy::schema::Value;
    use vigil_core::{EventId, TenantId, Timestamp};

    fn event(doc: JsonValue) -> Event {
        let map = doc.as_object().cloned().unwrap_or_default();
        Event {
            id: EventId(0xabc),
            tenant: TenantId(1),
            time: Timestamp(1_714_557_600_000_000),
            raw: doc.to_string(),
            doc: map,
        }
    }

    #[test]
    fn keywords_are_lowercased_and_cut_at_a_char_boundary() {
        assert_eq!(normalize_keyword("Admin ÉTÉ"), "admin été");
        let long = "é".repeat(KEYWORD_MAX_BYTES);
        let cut = normalize_keyword(&long);
        assert!(cut.len() <= KEYWORD_MAX_BYTES && cut.len() > KEYWORD_MAX_BYTES - 2);
        assert!(cut.chars().all(|c| c == 'é'));
    }

    #[test]
    fn ips_are_fixed_width_hex_of_mapped_ipv6() {
        let v4 = parse_ip("10.0.0.1").unwrap();
        let mapped = parse_ip("::ffff:10.0.0.1").unwrap();
        assert_eq!(ip_key(v4), "00000000000000000000ffff0a000001");
        assert_eq!(ip_key(v4), ip_key(mapped));
        assert_eq!(ip_key(parse_ip("2001:DB8::1").unwrap()).len(), 32);
        assert_eq!(parse_ip("10.0.0"), None);
        assert_eq!(parse_ip("host-10"), None);
    }

    #[test]
    fn numbers_follow_tantivy_normalization() {
        assert_eq!(parse_number("2.0"), Some(NumericalValue::I64(2)));
        assert_eq!(parse_number("-7"), Some(NumericalValue::I64(-7)));
        assert_eq!(parse_number("0.5"), Some(NumericalValue::F64(0.5)));
        assert_eq!(parse_number("inf"), None);
        assert_eq!(parse_number("NaN"), None);
        assert_eq!(parse_number("404 "), None);
    }

    #[test]
    fn document_has_every_view() {
        let schema = EventSchema::new();
        let ev = event(json!({
            "source": {"ip": "10.0.0.1", "port": 22},
            "status": "404",
            "ok": true,
            "tags": ["a", "b"],
        }));
        let doc = schema.document(&ev);
        let first = |field| {
            doc.get_first(field)
                .and_then(|v| v.as_str().map(str::to_string))
        };
        assert_eq!(
            first(schema.id).as_deref(),
            Some("00000000000000000000000000000abc")
        );
        assert_eq!(first(schema.raw), Some(ev.raw.clone()));
        assert_eq!(
            doc.get_first(schema.time).and_then(|v| v.as_i64()),
            Some(ev.time.micros())
        );
        let texts: Vec<String> = doc
            .get_all(schema.text)
            .filter_map(|v| v.as_str().map(str::to_string))
            .collect();
        assert_eq!(texts, ["10.0.0.1", "22", "404", "a", "b"]);
        assert_eq!(doc.get_all(schema.fields).count(), 1);
        assert_eq!(doc.get_all(schema.ips).count(), 1);
        assert_eq!(doc.get_all(schema.nums).count(), 1);
    }

    #[test]
    fn keyword_tokenizer_gives_one_token_even_for_empty_strings() {
        let mut tokenizer = KeywordTokenizer::default();
        let mut stream = tokenizer.token_stream("Hello World");
        assert!(stream.advance());
        assert_eq!(stream.token().text, "hello world");
        assert!(!stream.advance());
        let mut stream = tokenizer.token_stream("");
        assert!(stream.advance());
        assert_eq!(stream.token().text, "");
    }
}
