//! The built-in Microsoft Graph emulator: an axum server that behaves like Graph for the endpoints authctl uses, with
//! the token endpoint, fault injection, a crash-safe journal, and an in-process mode for `--emulate`.
