//! Field specifications and their modifiers. (Being written.)
