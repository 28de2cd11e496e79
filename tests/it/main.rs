//! The integration tests: one test binary (linking once), one module per area. Every test that needs Graph runs
//! the project's own emulator on a free 127.0.0.1 port; nothing reaches the internet.

mod support;

mod apply;
mod client;
mod config;
mod emulator;
mod habits;
mod manifest;
mod operations;
mod plan;
mod proof;
mod reconcile;
