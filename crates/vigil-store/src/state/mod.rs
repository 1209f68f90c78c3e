//! State: tenants, users, tokens. (Being written.)
