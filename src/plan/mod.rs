//! The pure plan engine: desired (manifests) × observed (Graph) → a [`Plan`] of ordered per-user actions, blocked
//! items, predicted state and digests; and the saved-plan file format. No HTTP, files or terminals.
