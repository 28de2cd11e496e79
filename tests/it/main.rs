//! The integration tests: one test binary (linking once), one module per area. Every test that needs Graph runs
//! the project's own emulator on a free 127.0.0.1 port; nothing reaches the internet.

mod support;

mod apply;
mod client;
mod config;
mod emulator;
mod formats;
mod goes_away;
mod habits;
mod hostile;
mod manifest;
mod operations;
mod persistence;
mod plan;
mod proof;
mod recipes;
mod reconcile;
mod trust;
