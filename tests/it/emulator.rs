//! Integration tests: emulator.
