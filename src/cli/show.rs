//! `authctl show PLAN_FILE`: renders a saved plan (`authctl plan --out FILE`) without Graph, as `terraform show`
//! does, with the same renderers as `plan` — so the merge job's summary and a reviewer's laptop show exactly what
//! `authctl apply --plan FILE` will apply. A file of another format version, or not a plan, is refused.

use std::io::{Read as _, Write as _};
use std::path::PathBuf;

use miette::miette;

use crate::cli::Context;
use crate::cli::output::print_stdout;
use crate::cli::plan::PlanFormat;
use crate::exit::ExitCode;
use crate::plan::Plan;
use crate::render;

/// A saved plan larger than this is not read (100,000 users make about 100 MB).
const MAX_PLAN_BYTES: u64 = 1 << 30;

/// Arguments of `authctl show`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The saved plan (`authctl plan --out FILE`), or `-` for stdin.
    #[arg(value_name = "PLAN_FILE")]
    pub plan_file: PathBuf,
    /// How to print the plan.
    #[arg(long, value_enum, default_value_t = PlanFormat::Text)]
    pub format: PlanFormat,
    /// Mask every number (text and JSON show the plan's numbers by default; Markdown masks them).
    #[arg(long, conflicts_with = "no_redact")]
    pub redact: bool,
    /// Show numbers in Markdown too.
    #[arg(long)]
    pub no_redact: bool,
}

/// Runs the command.
pub async fn run(args: Args, ctx: &Context) -> miette::Result<ExitCode> {
    let shown_name = args.plan_file.display().to_string();
    let mut text = String::new();
    let read = if args.plan_file.as_os_str() == "-" {
        std::io::stdin()
            .lock()
            .take(MAX_PLAN_BYTES + 1)
            .read_to_string(&mut text)
    } else {
        std::fs::File::open(&args.plan_file)
            .and_then(|f| f.take(MAX_PLAN_BYTES + 1).read_to_string(&mut text))
    };
    read.map_err(|e| miette!("cannot read the plan file {shown_name}: {e}"))?;
    if text.len() as u64 > MAX_PLAN_BYTES {
        return Err(miette!("{shown_name}: larger than 1 GiB; not a plan file"));
    }
    let plan = Plan::from_json(&text).map_err(|e| miette!("{shown_name}: {e}"))?;
    match args.format {
        PlanFormat::Json => {
            let mut out = std::io::BufWriter::with_capacity(1 << 16, std::io::stdout().lock());
            render::write_plan_json(&plan, args.redact, &mut out)
                .and_then(|()| out.flush())
                .map_err(|e| miette!("cannot write to stdout: {e}"))?;
        }
        PlanFormat::Text => print_stdout(&render::plan_text(
            &plan,
            render::TextOptions {
                color: ctx.color_stdout,
                redact: args.redact,
            },
        ))?,
        PlanFormat::Markdown => print_stdout(&render::plan_markdown(
            &plan,
            render::MarkdownOptions {
                redact: !args.no_redact,
                limit: render::MARKDOWN_LIMIT,
            },
        ))?,
    }
    Ok(ExitCode::Success)
}
