//! Events. (Being written.)
pub mod compile;
pub mod schema;
