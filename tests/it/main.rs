//! The integration tests: one test binary (linking once), one module per area. Every test that needs Graph runs
//! the project's own emulator on a free 127.0.0.1 port; nothing reaches the internet.

mod support;

mod apply;
mod architecture;
mod authentication_methods;
mod budgets;
mod ci_recipes;
mod client;
mod config;
mod emulator;
mod fault_campaign;
mod formats;
mod fuzz;
mod goes_away;
mod habits;
mod hostile;
mod imperative_commands;
mod joiners_leavers;
mod manifest;
mod methods_e2e;
mod methods_policy;
mod password_reset;
mod persistence;
mod plan;
mod recipes;
mod reconcile;
mod seams;
mod secrets_in_logs;
mod trust;
