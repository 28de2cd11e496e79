//! `metadata`: the optional Kubernetes-style header (`name`, `namespace`, `labels`, `annotations`) that lets a
//! manifest live unchanged in a kustomize or Argo CD repository (kustomize sets `namespace` and adds labels and
//! annotations to every resource). authctl checks its shape and otherwise ignores it: it changes nothing planned.

use super::{Walker, get, join};
use crate::manifest::node::{Node, SNode};

/// The keys `metadata` may hold.
pub(super) const METADATA_KEYS: &[&str] = &["name", "namespace", "labels", "annotations"];

impl Walker<'_> {
    /// Checks `metadata` (a mapping of the known keys; `name` and `namespace` strings; `labels` and `annotations`
    /// mappings of strings to strings). Errors name the field; nothing is returned, since nothing reads it.
    pub(super) fn metadata(&mut self, node: &SNode) {
        let Some(fields) = self.mapping(
            node,
            "metadata",
            "`metadata`",
            METADATA_KEYS,
            "unknown-field",
        ) else {
            return;
        };
        for key in ["name", "namespace"] {
            if let Some((_, v)) = get(&fields, key)
                && !matches!(v.value, Node::Str(_))
            {
                let path = join("metadata", key);
                self.error(
                    "invalid-type",
                    &v.referenced,
                    &path,
                    format!("`{path}` must be a string, not {}", v.value.kind()),
                    format!("write `{key}: some-name` (quote it if it looks like a number)"),
                );
            }
        }
        for key in ["labels", "annotations"] {
            let Some((_, v)) = get(&fields, key) else {
                continue;
            };
            let path = join("metadata", key);
            let Node::Map(entries) = &v.value else {
                self.error(
                    "invalid-type",
                    &v.referenced,
                    &path,
                    format!("`{path}` must be a mapping, not {}", v.value.kind()),
                    format!("write `{key}:` with `key: value` lines below it"),
                );
                continue;
            };
            for (k, x) in entries {
                if !matches!(x.value, Node::Str(_)) {
                    let at = join(&path, &k.value);
                    self.error(
                        "invalid-type",
                        &x.referenced,
                        &at,
                        format!("`{at}` must be a string, not {}", x.value.kind()),
                        "quote the value: Kubernetes labels and annotations are strings".into(),
                    );
                }
            }
        }
    }
}
