//! (Being written.)
use crate::Query;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("query syntax error at position {position}: {message}")]
pub struct ParseError {
    /// 0-based character offset into the query string.
    pub position: usize,
    pub message: String,
}

pub fn parse(_input: &str) -> Result<Query, ParseError> {
    Ok(Query::All)
}
