//! The header every manifest kind shares, `apiVersion` and `metadata`: one definition for the users' documents
//! (`model.rs`) and the methods policy's (`policy_schema.rs`). A leaf module, so both can use it without importing
//! each other (`model.rs` hooks the policy schema in).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// `metadata`: a name, labels and annotations as Kubernetes tools write them (and the `namespace` kustomize sets).
/// Never interpreted: plans, applies and drift are the same with or without it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Metadata {
    /// A name for the document (e.g. for Argo CD's resource view).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Set by kustomize's `namespace:`; ignored.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// Labels (`key: value` strings), e.g. from kustomize's `labels:`.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub labels: std::collections::BTreeMap<String, String>,
    /// Annotations (`key: value` strings), e.g. Argo CD's sync options.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub annotations: std::collections::BTreeMap<String, String>,
}

/// `apiVersion: authctl/v1`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum ApiVersion {
    /// Version 1 of the manifest format.
    #[serde(rename = "authctl/v1")]
    V1,
}
