//! The condition grammar. (Being written.)

/// A parsed `condition:`.
#[derive(Debug, Clone, PartialEq)]
pub enum Condition {
    /// A detection identifier (`selection`).
    Ident(String),
    Not(Box<Condition>),
    And(Vec<Condition>),
    Or(Vec<Condition>),
    /// `1 of PATTERN` (`all: false`) or `all of PATTERN` (`all: true`).
    Quantified {
        all: bool,
        pattern: Pattern,
    },
}

/// What `1 of` / `all of` range over.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Pattern {
    /// `them`: every identifier not starting with `_`.
    Them,
    /// `selection*`: identifiers matching the glob (`*` wildcards).
    Glob(String),
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("condition error at position {position}: {message}")]
pub struct ConditionError {
    /// 0-based character offset in the condition text.
    pub position: usize,
    pub message: String,
}

pub fn parse_condition(_text: &str) -> Result<Condition, ConditionError> {
    Err(ConditionError {
        position: 0,
        message: "not written yet".into(),
    })
}
