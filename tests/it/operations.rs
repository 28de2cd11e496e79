//! Integration tests: operations.
