//! authctl: manage Microsoft Entra ID users' authentication methods and the tenant's authentication methods policy
//! the GitOps way, through Microsoft Graph.
//!
//! Data flows one way: manifests → desired state; Graph → observed state; both → plan → renderers / executor.
//! The pure core ([`model`], [`phone`], [`manifest`]'s model and validation, [`plan`], and the joiner/leaver rules
//! of [`offboard`] and [`tap`]) knows nothing of HTTP, files or terminals; I/O lives at the edges ([`graph`], [`emulator`], [`render`], [`observe`] (the read side: Graph → a finished plan), [`apply`], [`cli`]). Only [`cli`]
//! knows every other module. ARCHITECTURE.md draws the modules and names the file of each protocol.

pub mod apply;
pub mod cli;
pub mod clock;
/// The built-in Graph emulator (cargo feature `emulator`, on by default; a build without it has no server code).
#[cfg(feature = "emulator")]
pub mod emulator;
pub mod escape;
pub mod exit;
pub mod format_version;
pub mod graph;
pub mod json_schema;
pub mod manifest;
pub mod model;
pub mod observe;
pub mod offboard;
pub mod phone;
pub mod plan;
pub mod private_file;
pub mod render;
pub mod tap;
pub mod units;

pub use cli::run;
pub use exit::ExitCode;

/// build.rs's version stamping, unit-tested with the library.
#[cfg(test)]
#[path = "../build.rs"]
#[allow(dead_code)]
mod build_script;
