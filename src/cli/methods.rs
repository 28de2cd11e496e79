//! `authctl methods`: list every authentication method of users — every type Graph returns, with a readable name
//! and the properties an admin looks at (see [`crate::render::methods`]). A type authctl does not know is listed
//! by its `@odata.type`, never an error. One user failing (missing, forbidden) is reported and the others listed.

use std::io::Write as _;

use miette::IntoDiagnostic as _;

use crate::cli::Context;
use crate::cli::graph_args::GraphArgs;
use crate::exit::ExitCode;
use crate::graph::Graph;
use crate::observe::error_summary;
use crate::phone::PhoneNumber;
use crate::plan::Redaction;
use crate::render::methods::{UserMethods, methods_json, methods_text, redact_numbers};

/// Arguments of `authctl methods`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Users: userPrincipalName or object id.
    #[arg(value_name = "USER", required = true)]
    pub users: Vec<String>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// Mask phone numbers (`+1 206•••5555 ·a1`) and email addresses (`k•••@contoso.com ·b2`).
    #[arg(long)]
    pub redact: bool,
    #[command(flatten)]
    pub graph: GraphArgs,
}

/// `--format` of `authctl methods`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// One block per user, one line per method.
    Text,
    /// One JSON document (`users[].methods[]` with `@odata.type`, id, kind, name, details, properties).
    Json,
}

/// Reads one user's identity and methods.
pub async fn read_user(graph: &Graph, user: &str) -> UserMethods {
    match graph.get_user(user).await {
        Err(e) => UserMethods {
            user: user.to_string(),
            id: None,
            upn: None,
            display_name: None,
            methods: Err(error_summary(&e)),
        },
        Ok(info) => {
            let methods = graph
                .list_methods(&info.id)
                .await
                .map_err(|e| error_summary(&e));
            UserMethods {
                user: user.to_string(),
                id: Some(info.id),
                upn: Some(info.user_principal_name),
                display_name: info.display_name,
                methods,
            }
        }
    }
}

/// Masks every phone number in the listings (one fingerprint length for the whole output, so two different
/// numbers never look the same).
fn redact(listings: &mut [UserMethods]) {
    let canonical = |n: &str| {
        PhoneNumber::parse_observed(n)
            .map(|p| p.canonical())
            .unwrap_or_else(|_| n.to_string())
    };
    let all = |key: &'static str| {
        listings
            .iter()
            .filter_map(|u| u.methods.as_ref().ok())
            .flatten()
            .filter_map(move |m| m.get(key).and_then(|v| v.as_str()))
            .map(str::to_string)
            .collect::<Vec<String>>()
    };
    let mut values: Vec<String> = all("phoneNumber").iter().map(|n| canonical(n)).collect();
    // Email addresses are personal data too: masked the same way (first character and domain kept).
    values.extend(all("emailAddress"));
    let salt = hex::encode(rand::random::<[u8; 8]>());
    let r = Redaction::for_numbers(salt, values.iter().map(String::as_str));
    for u in listings {
        if let Ok(m) = &mut u.methods {
            redact_numbers(m, &|n: &str| r.mask(&canonical(n)));
            for method in m.iter_mut() {
                if let Some(serde_json::Value::String(e)) = method.get_mut("emailAddress") {
                    *e = r.mask(e);
                }
            }
        }
    }
}

/// Runs the command.
pub async fn run(args: Args, ctx: &Context) -> miette::Result<ExitCode> {
    let session = args.graph.connect(ctx).await?;
    let graph = session.graph.clone();
    let mut listings = Vec::with_capacity(args.users.len());
    for u in &args.users {
        listings.push(read_user(&graph, u).await);
    }
    session.finish().await?;
    if args.redact {
        redact(&mut listings);
    }
    let out = match args.format {
        Format::Text => methods_text(&listings),
        Format::Json => crate::format_version::versioned_json(
            crate::format_version::METHODS_FORMAT_VERSION,
            &methods_json(&listings),
        ),
    };
    std::io::stdout()
        .write_all(out.as_bytes())
        .into_diagnostic()?;
    let failed = listings.iter().filter(|u| u.methods.is_err()).count();
    if failed > 0 {
        tracing::error!(users = failed, "some users could not be listed");
        Ok(ExitCode::Error)
    } else {
        Ok(ExitCode::Success)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redact_masks_numbers_and_email_addresses_and_tells_them_apart() {
        let mut listings = vec![UserMethods {
            user: "kim@contoso.com".into(),
            id: Some("id".into()),
            upn: Some("kim@contoso.com".into()),
            display_name: None,
            methods: Ok(vec![
                serde_json::json!({"@odata.type": "#microsoft.graph.emailAuthenticationMethod", "id": "e", "emailAddress": "kim@contoso.com"}),
                serde_json::json!({"@odata.type": "#microsoft.graph.emailAuthenticationMethod", "id": "e2", "emailAddress": "kai@contoso.com"}),
                serde_json::json!({"@odata.type": "#microsoft.graph.phoneAuthenticationMethod", "id": "p", "phoneNumber": "+1 2065550100", "phoneType": "mobile"}),
            ]),
        }];
        redact(&mut listings);
        let text = methods_text(&listings);
        assert!(!text.contains("address: kim@"), "{text}");
        assert!(!text.contains("kai@contoso.com"), "{text}");
        assert!(!text.contains("2065550100"), "{text}");
        let m = listings[0].methods.as_ref().unwrap();
        let a = m[0]["emailAddress"].as_str().unwrap();
        let b = m[1]["emailAddress"].as_str().unwrap();
        assert!(a.starts_with("k•••@contoso.com ·"), "{a}");
        assert_ne!(a, b);
    }
}
