//! Bounds on rule text that comes from outside (a tenant's upload): its
//! size, how deep its YAML nests, how many values it lists, how many rules
//! it holds, and how large its regular expressions may compile.
//!
//! Two checks, both cheap and without recursion:
//! - [`Limits::check_text`] before the YAML parser sees the text: the size,
//!   and a lexical estimate of the nesting depth. The YAML parser spends
//!   time quadratic in the depth of flow collections (`[[[[…`), so a deep
//!   text must never reach it.
//! - [`Limits::check_document`] on each parsed document: its real depth,
//!   the values of its longest list and of the whole document, and its
//!   regular expressions.

use yaml_serde::Value;

/// What one upload may hold. The defaults fit every rule of SigmaHQ's set
/// with a wide margin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Bytes of rule text in one upload.
    pub max_bytes: usize,
    /// Nesting of YAML collections (mappings and lists) in a document.
    pub max_depth: usize,
    /// Values in one list (for example a `contains` list).
    pub max_list_values: usize,
    /// Values (scalars) in one document, all lists together.
    pub max_rule_values: usize,
    /// Documents (rules, filters, correlations) in one upload.
    pub max_rules: usize,
    /// Regular expressions (`|re` values) in one document.
    pub max_regexes: usize,
    /// Compiled size of one regular expression, and of its lazy DFA cache,
    /// in bytes.
    pub max_regex_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_bytes: 512 * 1024,
            max_depth: 64,
            max_list_values: 1_000,
            max_rule_values: 5_000,
            max_rules: 100,
            max_regexes: 64,
            max_regex_bytes: 256 * 1024,
        }
    }
}

/// Which bound an upload broke, worded for the person who sent it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LimitError {
    #[error("the rule text is {size} bytes, more than the limit of {limit} bytes")]
    TooLarge { size: usize, limit: usize },
    #[error("line {line}: the YAML nests deeper than the limit of {limit} levels")]
    TooDeep { line: usize, limit: usize },
    #[error("the YAML nests deeper than the limit of {limit} levels")]
    DocumentTooDeep { limit: usize },
    #[error("a list holds {count} values, more than the limit of {limit} values per list")]
    TooManyListValues { count: usize, limit: usize },
    #[error("a rule holds more than the limit of {limit} values")]
    TooManyRuleValues { limit: usize },
    #[error("the upload holds more than the limit of {limit} rules")]
    TooManyRules { limit: usize },
    #[error("a rule holds more than the limit of {limit} regular expressions")]
    TooManyRegexes { limit: usize },
}

impl Limits {
    /// Checks the size and the nesting of `text` without parsing it.
    ///
    /// The depth is estimated by reading lines: block indentation levels,
    /// compact `- ` entries and flow brackets outside quotes and comments.
    /// The estimate is never below the depth the parser would build, so a
    /// text that passes cannot make the parser dig deeper than
    /// [`Limits::max_depth`] plus a few levels; a rule of ordinary shape
    /// (depth 4–6) is far from the limit.
    pub fn check_text(&self, text: &str) -> Result<(), LimitError> {
        if text.len() > self.max_bytes {
            return Err(LimitError::TooLarge {
                size: text.len(),
                limit: self.max_bytes,
            });
        }
        let mut scan = DepthScan::default();
        for (index, line) in text.lines().enumerate() {
            if scan.line(line) > self.max_depth {
                return Err(LimitError::TooDeep {
                    line: index + 1,
                    limit: self.max_depth,
                });
            }
            if scan.longest_list >= self.max_list_values {
                return Err(LimitError::TooManyListValues {
                    count: scan.longest_list + 1,
                    limit: self.max_list_values,
                });
            }
        }
        Ok(())
    }

    /// Checks one parsed YAML document: its depth, the values of each list
    /// and of the whole, and the number of regular expressions.
    pub fn check_document(&self, document: &Value) -> Result<(), LimitError> {
        let mut values = 0usize;
        let mut regexes = 0usize;
        // (value, depth, whether it sits under a `|re` key)
        let mut stack: Vec<(&Value, usize, bool)> = vec![(document, 0, false)];
        while let Some((value, depth, re)) = stack.pop() {
            let value = untag(value);
            let collection = matches!(value, Value::Sequence(_) | Value::Mapping(_));
            if collection && depth >= self.max_depth {
                return Err(LimitError::DocumentTooDeep {
                    limit: self.max_depth,
                });
            }
            match value {
                Value::Sequence(items) => {
                    if items.len() > self.max_list_values {
                        return Err(LimitError::TooManyListValues {
                            count: items.len(),
                            limit: self.max_list_values,
                        });
                    }
                    stack.extend(items.iter().map(|v| (v, depth + 1, re)));
                }
                Value::Mapping(map) => {
                    for (key, item) in map {
                        let is_re = key.as_str().is_some_and(is_regex_spec);
                        stack.push((item, depth + 1, is_re));
                    }
                }
                _ => {
                    values += 1;
                    if values > self.max_rule_values {
                        return Err(LimitError::TooManyRuleValues {
                            limit: self.max_rule_values,
                        });
                    }
                    if re {
                        regexes += 1;
                        if regexes > self.max_regexes {
                            return Err(LimitError::TooManyRegexes {
                                limit: self.max_regexes,
                            });
                        }
                    }
                }
            }
        }
        Ok(())
    }
}

fn untag(value: &Value) -> &Value {
    match value {
        Value::Tagged(tagged) => untag_once(&tagged.value),
        other => other,
    }
}

/// A tag wraps one value; a tag on a tag is not YAML, but stay shallow.
fn untag_once(value: &Value) -> &Value {
    match value {
        Value::Tagged(tagged) => &tagged.value,
        other => other,
    }
}

/// Whether a field specification carries the `re` modifier.
fn is_regex_spec(spec: &str) -> bool {
    spec.split('|').skip(1).any(|m| m == "re")
}

/// The line-by-line depth estimate of [`Limits::check_text`].
#[derive(Default)]
struct DepthScan {
    /// Columns of the open block levels.
    indents: Vec<usize>,
    /// Open flow collections (`[`, `{`), which may span lines; for a
    /// `[`, the commas seen in it so far (a long flow list is refused
    /// before the parser builds it).
    flow: Vec<Option<usize>>,
    /// The most commas seen in one flow list.
    longest_list: usize,
}

impl DepthScan {
    /// Reads one line; returns the deepest nesting seen on it.
    fn line(&mut self, line: &str) -> usize {
        let trimmed = line.trim_start_matches([' ', '\t']);
        if self.flow.is_empty() {
            if trimmed.is_empty() || trimmed.starts_with('#') {
                return self.indents.len();
            }
            let indent = line.len() - trimmed.len();
            while self.indents.last().is_some_and(|&top| top > indent) {
                self.indents.pop();
            }
            if self.indents.last() != Some(&indent) {
                self.indents.push(indent);
            }
        }
        let block = self.indents.len();
        let mut deepest = block + self.flow.len();
        // Whether a `[`/`{` here opens a collection: in block context only
        // where a value starts (a plain scalar may hold brackets there).
        let mut at_value_start = true;
        let mut chars = trimmed.chars().peekable();
        let mut compact = 0usize;
        while let Some(c) = chars.next() {
            match c {
                '\'' | '"' if at_value_start || !self.flow.is_empty() => {
                    skip_quoted(c, &mut chars);
                    at_value_start = false;
                }
                '#' => break,
                '[' | '{' if at_value_start || !self.flow.is_empty() => {
                    self.flow.push((c == '[').then_some(0));
                    at_value_start = true;
                }
                ']' | '}' if !self.flow.is_empty() => {
                    self.flow.pop();
                    at_value_start = false;
                }
                ',' if !self.flow.is_empty() => {
                    if let Some(Some(commas)) = self.flow.last_mut() {
                        *commas += 1;
                        self.longest_list = self.longest_list.max(*commas);
                    }
                    at_value_start = true;
                }
                '-' | '?' | ':' if chars.peek().is_none_or(|n| *n == ' ' || *n == '\t') => {
                    if self.flow.is_empty() {
                        // `- - x` and `- key: x` nest on one line.
                        compact += 1;
                    }
                    at_value_start = true;
                }
                ' ' | '\t' => {}
                '!' | '&' | '*' if at_value_start => {
                    // A tag or anchor: the value follows it.
                    while chars.next_if(|n| *n != ' ' && *n != '\t').is_some() {}
                }
                _ => at_value_start = false,
            }
            deepest = deepest.max(block + compact + self.flow.len());
        }
        deepest
    }
}

/// Skips a quoted scalar's rest (to its closing quote, or the line's end:
/// a quoted scalar running over lines is left to the parser and counted as
/// plain text).
fn skip_quoted(quote: char, chars: &mut std::iter::Peekable<std::str::Chars<'_>>) {
    while let Some(c) = chars.next() {
        if quote == '"' && c == '\\' {
            chars.next();
        } else if c == quote {
            if quote == '\'' && chars.peek() == Some(&'\'') {
                chars.next();
                continue;
            }
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    fn doc(text: &str) -> Value {
        yaml_serde::from_str(text).expect("test YAML")
    }

    const RULE: &str = "title: t\nlogsource:\n  product: windows\ndetection:\n  sel:\n    CommandLine|contains:\n      - 'a[b'\n      - \"c{d\"\n      - e[f\n  condition: sel\n";

    #[test]
    fn an_ordinary_rule_passes() {
        let limits = Limits::default();
        limits.check_text(RULE).unwrap();
        limits.check_document(&doc(RULE)).unwrap();
    }

    #[test]
    fn the_size_is_bounded() {
        let limits = Limits {
            max_bytes: 10,
            ..Limits::default()
        };
        assert_eq!(
            limits.check_text(RULE),
            Err(LimitError::TooLarge {
                size: RULE.len(),
                limit: 10
            })
        );
    }

    #[test]
    fn a_flow_depth_bomb_is_refused_quickly_before_parsing() {
        let bomb = "[".repeat(50_000);
        let start = Instant::now();
        let err = Limits::default().check_text(&bomb).unwrap_err();
        assert!(matches!(err, LimitError::TooDeep { line: 1, limit: 64 }));
        assert!(start.elapsed().as_secs() < 1);
        let braces = format!("a: {}", "{b: ".repeat(100));
        assert!(Limits::default().check_text(&braces).is_err());
    }

    #[test]
    fn block_and_compact_nesting_count() {
        let compact = format!("x: {}a\n", "- ".repeat(80));
        let compact = compact.replacen("x: ", "x:\n", 1);
        assert!(Limits::default().check_text(&compact).is_err());
        let mut indented = String::new();
        for level in 0..70 {
            indented.push_str(&" ".repeat(level));
            indented.push_str("k:\n");
        }
        let err = Limits::default().check_text(&indented).unwrap_err();
        assert!(matches!(err, LimitError::TooDeep { .. }), "{err}");
    }

    #[test]
    fn brackets_in_quotes_comments_and_plain_scalars_do_not_count() {
        let text = format!(
            "a: '{0}'\nb: \"{0}\"\nc: x{0}\n# {0}\nd: [1, '{0}']\n",
            "[".repeat(100)
        );
        Limits::default().check_text(&text).unwrap();
    }

    #[test]
    fn the_parsed_depth_is_bounded() {
        let limits = Limits {
            max_depth: 3,
            ..Limits::default()
        };
        limits.check_document(&doc("a: {b: [1]}")).unwrap();
        assert!(matches!(
            limits.check_document(&doc("a: {b: [[1]]}")),
            Err(LimitError::DocumentTooDeep { limit: 3 })
        ));
    }

    #[test]
    fn values_per_list_are_bounded() {
        let list = format!("a: [{}]", vec!["x"; 1_001].join(","));
        assert_eq!(
            Limits::default().check_document(&doc(&list)),
            Err(LimitError::TooManyListValues {
                count: 1_001,
                limit: 1_000
            })
        );
    }

    #[test]
    fn a_long_flow_list_is_refused_before_parsing() {
        let list = format!("a: [{}]", vec!["x"; 200_000].join(","));
        let start = Instant::now();
        let err = Limits::default().check_text(&list).unwrap_err();
        assert!(
            matches!(err, LimitError::TooManyListValues { limit: 1_000, .. }),
            "{err}"
        );
        assert!(start.elapsed().as_secs() < 1);
        let fine = format!(
            "a: [{}]\nb: {{{}}}",
            vec!["x"; 1_000].join(","),
            ["k: v"; 2].join(",")
        );
        Limits::default().check_text(&fine).unwrap();
    }

    #[test]
    fn values_per_rule_are_bounded() {
        let lists: Vec<String> = (0..6)
            .map(|i| format!("f{i}: [{}]", vec!["x"; 1_000].join(",")))
            .collect();
        let text = format!("{{{}}}", lists.join(", "));
        assert_eq!(
            Limits::default().check_document(&doc(&text)),
            Err(LimitError::TooManyRuleValues { limit: 5_000 })
        );
    }

    #[test]
    fn regexes_per_rule_are_bounded() {
        let limits = Limits {
            max_regexes: 2,
            ..Limits::default()
        };
        limits
            .check_document(&doc("s:\n  a|re: ['x', 'y']\n  b: [1, 2, 3]\n"))
            .unwrap();
        assert_eq!(
            limits.check_document(&doc("s:\n  a|re: ['x', 'y']\n  b|re: z\n")),
            Err(LimitError::TooManyRegexes { limit: 2 })
        );
    }

    #[test]
    fn the_messages_name_the_limit() {
        let text = LimitError::TooManyListValues {
            count: 200_000,
            limit: 1_000,
        }
        .to_string();
        assert!(text.contains("1000") && text.contains("200000"), "{text}");
    }

    #[test]
    fn rules_per_upload_are_bounded() {
        let one = "title: t\nlogsource: {product: x}\ndetection: {s: {a: b}, condition: s}\n";
        let text = [one; 3].join("---\n");
        let limits = Limits {
            max_rules: 2,
            ..Limits::default()
        };
        let parsed = crate::rule::parse_file_with(&text, "upload", Some(&limits));
        assert_eq!(parsed.rules.len(), 2);
        assert!(parsed.errors[0].reason.contains("limit of 2 rules"));
    }

    #[test]
    fn a_huge_regex_is_refused_under_limits_only() {
        use crate::rule::{parse_file_with, CompiledRule};
        use crate::value::CompileContext;
        let text = "title: t\nlogsource: {product: x}\ndetection:\n  s:\n    a|re: '\\w{300}'\n  condition: s\n";
        let limits = Limits::default();
        let rule = parse_file_with(text, "upload", Some(&limits))
            .rules
            .remove(0);
        let bounded = CompileContext {
            placeholders: None,
            limits: Some(&limits),
        };
        let err = CompiledRule::compile(rule.clone(), &bounded).unwrap_err();
        assert!(err.reason.contains("size limit"), "{}", err.reason);
        CompiledRule::compile(rule, &CompileContext::default()).unwrap();
    }

    #[test]
    fn a_huge_wildcard_is_refused_under_limits() {
        use crate::rule::{parse_file_with, CompiledRule};
        use crate::value::CompileContext;
        let text = format!(
            "title: t\nlogsource: {{product: x}}\ndetection:\n  s:\n    a: 'x{}y'\n  condition: s\n",
            "?".repeat(20_000)
        );
        let limits = Limits::default();
        let rule = parse_file_with(&text, "upload", Some(&limits))
            .rules
            .remove(0);
        let bounded = CompileContext {
            placeholders: None,
            limits: Some(&limits),
        };
        assert!(CompiledRule::compile(rule, &bounded).is_err());
    }

    mod properties {
        use super::*;
        use proptest::prelude::*;

        proptest! {
            /// Any text: the check ends, and text it lets through parses
            /// into documents within the depth limit (or fails to parse).
            #[test]
            fn the_scan_never_lets_a_deep_document_through(text in "[\\[\\]{}\\-:,'\" a#\n]{0,200}") {
                let limits = Limits { max_depth: 6, ..Limits::default() };
                if limits.check_text(&text).is_ok() {
                    for document in yaml_serde::Deserializer::from_str(&text) {
                        let Ok(value) = <Value as serde::Deserialize>::deserialize(document) else {
                            break;
                        };
                        let deep = Limits { max_depth: 6 + 2, ..Limits::default() };
                        prop_assert!(
                            !matches!(deep.check_document(&value), Err(LimitError::DocumentTooDeep { .. })),
                            "{text:?}"
                        );
                    }
                }
            }

            /// Flow nesting is refused past the limit (the line itself
            /// counts as a level: the estimate errs one level high).
            #[test]
            fn flow_nesting_is_refused_past_the_limit(depth in 1usize..150) {
                let text = format!("{}{}", "[".repeat(depth), "]".repeat(depth));
                let refused = Limits::default().check_text(&text).is_err();
                prop_assert_eq!(refused, depth >= 64);
            }
        }
    }
}
