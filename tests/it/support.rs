//! Shared test set-up: fixtures, the emulator on a free loopback port, and running the real binary.
