//! The one error type of the crate: every failure says what and where.

use crate::selector::ParseError;
use crate::series::SeriesError;
use std::io;
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum MetricsError {
    #[error("metrics i/o error in {path}: {source}")]
    Io { path: PathBuf, source: io::Error },
    #[error("metrics file {path} is corrupt: {reason}")]
    Corrupt { path: PathBuf, reason: String },
    #[error("invalid series: {0}")]
    Series(#[from] SeriesError),
    #[error("invalid query: {0}")]
    Parse(#[from] ParseError),
    #[error("series id {0} is not a series of tenant {1}")]
    ForeignSeries(u32, i64),
    #[error("the query matches {found} series, over the limit of {limit}")]
    TooManySeries { found: usize, limit: usize },
    #[error("the query would return over {limit} points")]
    TooManyPoints { limit: usize },
    #[error("invalid query range: {0}")]
    Range(String),
    #[error("the tenant has 2^31 series, the most it can have")]
    SeriesExhausted,
    #[error("invalid retention: {0}")]
    Retention(String),
}

pub type Result<T> = std::result::Result<T, MetricsError>;

pub(crate) fn io_err(path: &Path) -> impl FnOnce(io::Error) -> MetricsError + '_ {
    move |source| MetricsError::Io {
        path: path.to_path_buf(),
        source,
    }
}

pub(crate) fn corrupt(path: &Path, reason: impl Into<String>) -> MetricsError {
    MetricsError::Corrupt {
        path: path.to_path_buf(),
        reason: reason.into(),
    }
}
