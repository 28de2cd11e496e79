//! Integration tests: proof.
