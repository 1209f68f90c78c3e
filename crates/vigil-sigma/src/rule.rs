//! The rule format. (Being written.)
