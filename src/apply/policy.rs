//! Applying the authentication methods policy, before any user: the gate (resolution errors, a tampered or stale
//! saved policy plan, destructive changes without `--allow-policy-removal`), one PATCH per changed configuration
//! (the registration campaign: one PATCH of the policy root), then re-reads until the policy reads back as planned.

use std::time::Duration;

use serde_json::Value;

use crate::graph::Graph;
use crate::manifest::policy::method;
use crate::observe::error_summary;
use crate::plan::PolicyPlan;
use crate::plan::methods_policy::{PolicyOutcome, canonical, observed_config, reads_back};

/// Why the policy part of a plan must not be applied (then nothing is applied), if so.
pub fn refusal(p: &PolicyPlan, allow_removal: bool) -> Option<String> {
    if !p.errors.is_empty() {
        let mut s = String::from("the policy could not be planned; nothing is applied:");
        for e in &p.errors {
            if e.line > 0 {
                s.push_str(&format!(
                    "\n  - {}:{}:{}: {}: {}",
                    e.file, e.line, e.column, e.path, e.message
                ));
            } else {
                s.push_str(&format!("\n  - {}", e.message));
            }
        }
        return Some(s);
    }
    if p.digest != p.expected_digest() {
        return Some(
            "the saved plan's policy part was modified after it was made (its digest does not match its PATCH \
             bodies); nothing is applied. Make a new plan"
                .into(),
        );
    }
    let destructive = p.destructive();
    if !destructive.is_empty() && !allow_removal {
        let mut s = format!(
            "the plan takes authentication methods away from users ({} destructive policy change{}); nothing is \
             applied. Review them, then apply with --allow-policy-removal:",
            destructive.len(),
            if destructive.len() == 1 { "" } else { "s" }
        );
        for d in destructive {
            s.push_str("\n  - ");
            s.push_str(&d);
        }
        return Some(s);
    }
    None
}

/// Re-reads the policy and checks the saved plan was made from the policy as it is now: `Ok(false)`, fresh;
/// `Ok(true)`, every change of the plan already reads back (an earlier apply of this plan), nothing left to send;
/// `Err`, the policy changed since the plan (stale).
pub async fn check_fresh(p: &PolicyPlan, graph: &Graph) -> Result<bool, String> {
    let now = graph
        .get_methods_policy()
        .await
        .map_err(|e| format!("cannot read the authentication methods policy: {e}"))?;
    if observed_digest_of(p, &now) == p.observed_digest {
        return Ok(false);
    }
    if p.has_changes()
        && p.methods
            .iter()
            .all(|m| config_of(&now, &m.method).is_some_and(|c| reads_back(&m.patch, c)))
    {
        return Ok(true);
    }
    Err(
        "the authentication methods policy changed since the plan was made (the plan is stale); nothing is \
         applied. Make a new plan"
            .into(),
    )
}

/// The report of a saved policy plan found already applied.
pub fn already_applied(p: &PolicyPlan) -> Vec<PolicyOutcome> {
    p.methods
        .iter()
        .map(|m| PolicyOutcome {
            method: m.method.clone(),
            label: m.label.clone(),
            outcome: "applied".into(),
            converged: Some(true),
            error: None,
            notes: vec!["already applied: the policy reads back as planned; nothing sent".into()],
        })
        .collect()
}

/// The observed digest of a policy for the methods a plan declared.
pub fn observed_digest_of(p: &PolicyPlan, policy: &Value) -> String {
    crate::plan::methods_policy::observed_digest_keys(&p.declared, policy)
}

fn config_of<'a>(policy: &'a Value, key: &str) -> Option<&'a Value> {
    method(key).and_then(|m| observed_config(policy, m))
}

/// Sends one PATCH per changed method, in the plan's order, then re-reads until every change reads back (or
/// `timeout` on the Graph client's clock). A failed PATCH stops the rest.
/// Each PATCH is journaled (`--journal`: op `policy`, target the method's manifest key) like the users' calls.
pub async fn apply_policy(
    p: &PolicyPlan,
    graph: &Graph,
    options: &super::ApplyOptions,
) -> Vec<PolicyOutcome> {
    let timeout = options.converge_timeout;
    let runner = super::runner::Runner {
        graph,
        options,
        redaction: None,
        stop: std::sync::atomic::AtomicBool::new(false),
    };
    let mut out: Vec<PolicyOutcome> = Vec::new();
    let mut failed = false;
    for m in &p.methods {
        let mut o = PolicyOutcome {
            method: m.method.clone(),
            label: m.label.clone(),
            outcome: "notAttempted".into(),
            converged: None,
            error: None,
            notes: Vec::new(),
        };
        if !failed {
            let sent = runner
                .journaled(None, None, "policy", Some(&m.method), async {
                    match &m.configuration_id {
                        Some(id) => graph.patch_method_configuration(id, &m.patch).await,
                        None => graph.patch_methods_policy(&m.patch).await,
                    }
                })
                .await;
            match sent {
                Ok(()) => o.outcome = "applied".into(),
                Err(e) => {
                    failed = true;
                    o.outcome = "failed".into();
                    o.error = Some(error_summary(&e));
                }
            }
        }
        out.push(o);
    }
    // Convergence: the policy reads back as planned, whatever Graph does with lists (merge or replace).
    let clock = graph.clock();
    let start = clock.now();
    let mut delay = Duration::from_millis(500);
    let mut rounds = 0u32;
    loop {
        rounds += 1;
        let read = graph.get_methods_policy().await;
        let mut waiting = false;
        for (o, m) in out.iter_mut().zip(&p.methods) {
            if o.outcome != "applied" || o.converged == Some(true) {
                continue;
            }
            match &read {
                Ok(policy) => {
                    if config_of(policy, &m.method).is_some_and(|c| reads_back(&m.patch, c)) {
                        o.converged = Some(true);
                        if rounds > 1 {
                            o.notes
                                .push(format!("read back as planned after {rounds} re-reads"));
                        }
                    } else {
                        waiting = true;
                    }
                }
                Err(_) => waiting = true,
            }
        }
        let elapsed = crate::clock::since(clock.now(), start);
        if !waiting || elapsed >= timeout {
            for (o, m) in out.iter_mut().zip(&p.methods) {
                if o.outcome == "applied" && o.converged.is_none() {
                    o.converged = Some(false);
                    let now = match &read {
                        Ok(policy) => config_of(policy, &m.method)
                            .map(canonical)
                            .unwrap_or_else(|| "nothing".into()),
                        Err(e) => format!("a failed read ({e})"),
                    };
                    o.notes.push(format!(
                        "the policy did not read back as planned within {timeout:?} ({rounds} re-reads); Graph \
                         shows {now}"
                    ));
                }
            }
            break;
        }
        clock.sleep(delay.min(timeout - elapsed)).await;
        delay = (delay * 2).min(Duration::from_secs(8));
    }
    out
}
