//! The typed calls on a user's non-phone methods: deleting a registration of any type, the SSPR email method,
//! Temporary Access Passes, and revoking sign-in sessions. Phones and the password are in `api.rs`.

use reqwest::Method;
use serde_json::{Value, json};

use crate::graph::api::{decode, user_path, value_items};
use crate::graph::client::{Graph, Safety};
use crate::graph::error::GraphError;
use crate::graph::odata;
use crate::graph::types::{EmailMethod, TapCreated, TapRequest};
use crate::model::RegistrationType;

/// The email method's id: the same for every user.
pub const EMAIL_METHOD_ID: &str = "3ddfcfc8-9383-446f-83cc-3ab9be4be18f";

fn methods_path(user: &str, segment: &str) -> String {
    format!(
        "{}/authentication/{}",
        user_path(user),
        odata::segment(segment)
    )
}

impl Graph {
    /// Removes one registration (`DELETE …/{segment}/{id}`). Deleting twice ends in the same state (the second is
    /// Graph's 404), so it is safe to repeat after a dropped connection.
    pub async fn delete_registration(
        &self,
        user_id: &str,
        t: &RegistrationType,
        id: &str,
    ) -> Result<(), GraphError> {
        let id = (t.kind() != crate::model::MethodKind::QrCodePin).then_some(id);
        self.delete_method_at(user_id, &t.segment(), id).await
    }

    /// `DELETE …/authentication/{segment}/{id}`, or `…/{segment}` for a single method without an id
    /// (`qrCodePinMethod`).
    pub async fn delete_method_at(
        &self,
        user_id: &str,
        segment: &str,
        id: Option<&str>,
    ) -> Result<(), GraphError> {
        let mut path = methods_path(user_id, segment);
        if let Some(id) = id {
            path = format!("{path}/{}", odata::segment(id));
        }
        self.send_expect(Method::DELETE, &path, None, Safety::Idempotent)
            .await
            .map(drop)
    }

    /// One method type's list (`GET …/authentication/{segment}`) for many users, through `$batch` (20 reads a
    /// request) when batching is on: one result per user, in the order given (first page only; Graph lists a handful
    /// of registrations per type). The read side reads the polymorphic list instead; this is the per-type
    /// alternative the benchmark compares it with, and the phone-only read's list of phone methods.
    pub async fn list_segment_many(
        &self,
        user_ids: &[String],
        segment: &str,
    ) -> Vec<(String, Result<Vec<Value>, GraphError>)> {
        let paths: Vec<String> = user_ids.iter().map(|u| methods_path(u, segment)).collect();
        let results = self.get_many(&paths).await;
        user_ids
            .iter()
            .cloned()
            .zip(results)
            .map(|(u, r)| {
                let r = r.and_then(|v| value_items(v, segment));
                (u, r)
            })
            .collect()
    }

    /// The user's email methods (Graph lists at most one).
    pub async fn list_email_methods(&self, user_id: &str) -> Result<Vec<EmailMethod>, GraphError> {
        let url = self.url(&methods_path(user_id, "emailMethods"))?;
        self.get_all(url).await?.into_iter().map(decode).collect()
    }

    /// Adds the email method (`201`). Not repeated after a dropped connection: re-read first.
    pub async fn create_email(
        &self,
        user_id: &str,
        address: &str,
    ) -> Result<EmailMethod, GraphError> {
        let resp = self
            .send_expect(
                Method::POST,
                &methods_path(user_id, "emailMethods"),
                Some(json!({ "emailAddress": address })),
                Safety::Once,
            )
            .await?;
        match resp.json()? {
            Value::Null => Ok(EmailMethod {
                id: EMAIL_METHOD_ID.to_string(),
                email_address: Some(address.to_string()),
            }),
            v => decode(v),
        }
    }

    /// Changes the email method's address (`PATCH` on the fixed id, `204`).
    pub async fn update_email(&self, user_id: &str, address: &str) -> Result<(), GraphError> {
        let path = format!(
            "{}/{EMAIL_METHOD_ID}",
            methods_path(user_id, "emailMethods")
        );
        self.send_expect(
            Method::PATCH,
            &path,
            Some(json!({ "emailAddress": address })),
            Safety::Idempotent,
        )
        .await
        .map(drop)
    }

    /// Removes the email method.
    pub async fn delete_email(&self, user_id: &str) -> Result<(), GraphError> {
        self.delete_method_at(user_id, "emailMethods", Some(EMAIL_METHOD_ID))
            .await
    }

    /// The user's Temporary Access Passes (Graph keeps at most one), as Graph sent them (the pass itself is never in
    /// a read).
    pub async fn list_taps(&self, user_id: &str) -> Result<Vec<Value>, GraphError> {
        let url = self.url(&methods_path(user_id, "temporaryAccessPassMethods"))?;
        self.get_all(url).await
    }

    /// Creates a Temporary Access Pass (a new one replaces the user's current pass). Never repeated after a dropped
    /// connection: a second create would replace the pass just made.
    pub async fn create_tap(
        &self,
        user_id: &str,
        req: &TapRequest,
    ) -> Result<TapCreated, GraphError> {
        let mut body = serde_json::Map::new();
        if let Some(s) = &req.start {
            body.insert("startDateTime".into(), json!(s));
        }
        if let Some(m) = req.lifetime_minutes {
            body.insert("lifetimeInMinutes".into(), json!(m));
        }
        if let Some(o) = req.usable_once {
            body.insert("isUsableOnce".into(), json!(o));
        }
        let resp = self
            .send_expect(
                Method::POST,
                &methods_path(user_id, "temporaryAccessPassMethods"),
                Some(Value::Object(body)),
                Safety::Once,
            )
            .await?;
        TapCreated::from_value(&resp.json()?)
    }

    /// Invalidates the user's refresh tokens and session cookies (`POST /users/{id}/revokeSignInSessions`).
    /// Revoking twice ends in the same state.
    pub async fn revoke_sign_in_sessions(&self, user_id: &str) -> Result<(), GraphError> {
        let path = format!("{}/revokeSignInSessions", user_path(user_id));
        self.send_expect(Method::POST, &path, None, Safety::Idempotent)
            .await
            .map(drop)
    }
}
