//! The typed calls on the tenant's authentication methods policy and on groups (target names and membership).

use reqwest::Method;
use serde_json::Value;

use crate::graph::api::{decode, user_path};
use crate::graph::client::{Graph, Safety};
use crate::graph::error::GraphError;
use crate::graph::odata;
use crate::graph::types::{GroupInfo, TapConfiguration};

const POLICY_PATH: &str = "policies/authenticationMethodsPolicy";

/// The Temporary Access Pass configuration's id.
pub const TAP_CONFIGURATION_ID: &str = "TemporaryAccessPass";

fn configuration_path(id: &str) -> String {
    format!(
        "{POLICY_PATH}/authenticationMethodConfigurations/{}",
        odata::segment(id)
    )
}

impl Graph {
    /// The whole policy, its `authenticationMethodConfigurations` expanded.
    pub async fn get_methods_policy(&self) -> Result<Value, GraphError> {
        self.get_json(self.url(POLICY_PATH)?).await
    }

    /// One method configuration (`Sms`, `Fido2`, `TemporaryAccessPass`, …).
    pub async fn get_method_configuration(&self, id: &str) -> Result<Value, GraphError> {
        self.get_json(self.url(&configuration_path(id))?).await
    }

    /// The Temporary Access Pass configuration, typed.
    pub async fn get_tap_configuration(&self) -> Result<TapConfiguration, GraphError> {
        TapConfiguration::from_value(&self.get_method_configuration(TAP_CONFIGURATION_ID).await?)
    }

    /// `PATCH` one method configuration (the body carries its `@odata.type`). Sending the same body twice ends in
    /// the same state.
    pub async fn patch_method_configuration(
        &self,
        id: &str,
        body: &Value,
    ) -> Result<(), GraphError> {
        self.send_expect(
            Method::PATCH,
            &configuration_path(id),
            Some(body.clone()),
            Safety::Idempotent,
        )
        .await
        .map(drop)
    }

    /// `PATCH` the policy root (the registration campaign lives there).
    pub async fn patch_methods_policy(&self, body: &Value) -> Result<(), GraphError> {
        self.send_expect(
            Method::PATCH,
            POLICY_PATH,
            Some(body.clone()),
            Safety::Idempotent,
        )
        .await
        .map(drop)
    }

    /// Groups whose `displayName` is exactly `name` (none, one, or several: the caller decides what ambiguity means).
    pub async fn find_groups_by_display_name(
        &self,
        name: &str,
    ) -> Result<Vec<GroupInfo>, GraphError> {
        let filter = odata::query_value(&format!("displayName eq {}", odata::string_literal(name)));
        let url = self.url(&format!("groups?$filter={filter}&$select=id,displayName"))?;
        self.get_all(url).await?.into_iter().map(decode).collect()
    }

    /// One group by object id.
    pub async fn get_group(&self, id: &str) -> Result<GroupInfo, GraphError> {
        let url = self.url(&format!(
            "groups/{}?$select=id,displayName",
            odata::segment(id)
        ))?;
        decode(self.get_json(url).await?)
    }

    /// The object ids of every group the user is in, directly or through nested groups (`transitiveMemberOf`, all
    /// pages; directory roles and other objects left out).
    pub async fn user_group_ids(&self, user_id: &str) -> Result<Vec<String>, GraphError> {
        let url = self.url(&format!(
            "{}/transitiveMemberOf?$select=id",
            user_path(user_id)
        ))?;
        let items = self.get_all(url).await?;
        Ok(items
            .iter()
            .filter(|g| {
                g.get("@odata.type")
                    .and_then(Value::as_str)
                    .is_none_or(|t| t == "#microsoft.graph.group")
            })
            .filter_map(|g| g.get("id").and_then(Value::as_str).map(str::to_string))
            .collect())
    }
}
