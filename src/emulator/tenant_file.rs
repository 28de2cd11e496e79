//! Reading a tenant file: parse it, check it (the rules in [`super::tenant`]), and lay a seeded authentication
//! methods policy over Graph's defaults (checked as a PATCH is, in [`super::policy`]).

use std::path::Path;

use super::EmulatorError;
use super::policy;
use super::tenant::Tenant;

impl Tenant {
    /// Parses a tenant file's text and checks it (unique ids and UPNs, numbers in Graph's format).
    pub fn from_yaml(text: &str) -> Result<Tenant, EmulatorError> {
        // serde-saphyr's default budget (250,000 nodes) stops at about 28,000 users; a benchmark tenant has 100,000.
        let mut budget = serde_saphyr::Budget::default();
        budget.max_nodes = 10_000_000;
        budget.max_events = 40_000_000;
        let options = serde_saphyr::options! { budget: Some(budget) };
        let mut tenant: Tenant = serde_saphyr::from_str_with_options(text, options)
            .map_err(|e| EmulatorError::Tenant(e.to_string()))?;
        tenant.check()?;
        if let Some(seed) = &tenant.authentication_methods_policy {
            let full = policy::from_seed(&tenant, seed)
                .map_err(|e| EmulatorError::Tenant(format!("authenticationMethodsPolicy: {e}")))?;
            tenant.authentication_methods_policy = Some(full);
        }
        Ok(tenant)
    }
}

/// Reads and checks a tenant file.
pub fn load_tenant(path: &Path) -> Result<Tenant, EmulatorError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| EmulatorError::Io(format!("cannot read {}: {e}", path.display())))?;
    Tenant::from_yaml(&text)
}
