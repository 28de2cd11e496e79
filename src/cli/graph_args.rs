//! Flags shared by every command that talks to Graph (tenant, endpoints, credentials, limits, `--emulate`), and
//! their resolution into a connected Graph client.

/// Flags shared by every Graph command; flattened into each command's `Args`.
#[derive(Debug, Clone, clap::Args)]
pub struct GraphArgs {}
