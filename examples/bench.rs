//! Benchmark harness (not a test): authctl against the sequential script admins write today, on the emulator.
//!
//! ```sh
//! cargo build --release && cargo run --release --example bench -- --users 1000 --latency 30ms
//! cargo run --release --example bench -- --users 10000 --latency 30ms --modes default --throttle 800/1s --write-throttle 3000/150s
//! cargo run --release --example bench -- --users 100000 --latency 0s --modes default --plan-only
//! ```
//!
//! It generates N users under `.bench/n{N}/` (a tenant file for the emulator and manifests: 30 % in sync, 40 % need a
//! create, 20 % an update, 10 % a delete), then for each mode starts a fresh `authctl emulator` (the release binary)
//! with the latency and throttles asked for and measures `plan` and `apply`:
//!
//! - `default`: authctl as shipped (`--parallelism 8`, `$batch`, `--max-rate 800/1s`);
//! - `sequential`: authctl `--parallelism 1 --no-batch`;
//! - `python`: `benches/reference_script.py` on Microsoft's `msgraph-sdk`, in a virtualenv created under
//!   `.bench/venv` on first use (plan only with `--python-plan-only`, the default above 1,000 users).
//!
//! Each run's wall time, CPU time and peak RSS come from `/usr/bin/time` around the child; HTTP requests, `$batch`
//! items, 429s and writes from the emulator's `/_emulator/stats` (before/after); retries from authctl's `--stats`.
//! Results are printed as Markdown rows and appended to `.bench/results.jsonl`.

use std::fmt::Write as _;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Instant;

use serde_json::{Value, json};

const CLIENT_ID: &str = "00000000-0000-4000-8000-0000000b0001";
const SECRET: &str = "bench-secret";
const TENANT_ID: &str = "00000000-0000-4000-8000-0000000b0000";
const USERS_PER_FILE: usize = 1000;

fn main() {
    let opts = Opts::parse();
    let repo = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    // AUTHCTL_BIN: another build of the binary (e.g. a debug build for a quick check of the harness itself).
    let authctl = std::env::var_os("AUTHCTL_BIN")
        .map_or_else(|| repo.join("target/release/authctl"), PathBuf::from);
    assert!(
        authctl.exists(),
        "build the release binary first: cargo build --release"
    );
    let dir = repo.join(format!(".bench/n{}", opts.users));
    generate(&dir, opts.users);
    eprintln!(
        "bench: {} users in {}, latency {}, throttle {}, write throttle {}",
        opts.users,
        dir.display(),
        opts.latency,
        opts.throttle.as_deref().unwrap_or("none"),
        opts.write_throttle.as_deref().unwrap_or("none")
    );
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    let mut rows = Vec::new();
    for mode in &opts.modes {
        let emu = Emulator::start(&authctl, &dir.join("tenant.yaml"), &opts);
        let phases: &[&str] = if opts.plan_only || (mode == "python" && opts.python_plan_only) {
            &["plan"]
        } else {
            &["plan", "apply"]
        };
        let token = rt.block_on(emu.token());
        for phase in phases {
            let before = rt.block_on(emu.stats());
            let run = match mode.as_str() {
                "default" | "sequential" => run_authctl(&authctl, &dir, &emu.url, mode, phase),
                "python" => run_python(&repo, &dir, &emu.url, &token, phase),
                other => panic!("unknown mode {other}"),
            };
            let after = rt.block_on(emu.stats());
            let row = Row::new(&opts, mode, phase, run, &before, &after);
            eprintln!("bench: {}", row.markdown());
            rows.push(row);
        }
        drop(emu);
    }
    let mut out = String::new();
    let _ = writeln!(
        out,
        "\n{} users, latency {}, throttle {}, write throttle {}\n",
        opts.users,
        opts.latency,
        opts.throttle.as_deref().unwrap_or("none"),
        opts.write_throttle.as_deref().unwrap_or("none")
    );
    out.push_str(Row::header());
    let mut jsonl = String::new();
    for r in &rows {
        let _ = writeln!(out, "{}", r.markdown());
        let _ = writeln!(jsonl, "{}", r.json);
    }
    print!("{out}");
    let results = repo.join(".bench/results.jsonl");
    let mut prior = std::fs::read_to_string(&results).unwrap_or_default();
    prior.push_str(&jsonl);
    std::fs::write(&results, prior).expect("writes .bench/results.jsonl");
}

/// Command-line options (hand-parsed: an example has no clap derive of its own worth adding).
struct Opts {
    users: usize,
    latency: String,
    throttle: Option<String>,
    write_throttle: Option<String>,
    modes: Vec<String>,
    plan_only: bool,
    python_plan_only: bool,
}

impl Opts {
    fn parse() -> Opts {
        let mut o = Opts {
            users: 1000,
            latency: "30ms".into(),
            throttle: None,
            write_throttle: None,
            modes: vec!["default".into(), "sequential".into(), "python".into()],
            plan_only: false,
            python_plan_only: false,
        };
        let mut explicit_python = None;
        let mut args = std::env::args().skip(1);
        while let Some(a) = args.next() {
            let mut val = || args.next().unwrap_or_else(|| panic!("{a} needs a value"));
            match a.as_str() {
                "--users" => o.users = val().parse().expect("--users N"),
                "--latency" => o.latency = val(),
                "--throttle" => o.throttle = Some(val()),
                "--write-throttle" => o.write_throttle = Some(val()),
                "--modes" => o.modes = val().split(',').map(str::to_string).collect(),
                "--plan-only" => o.plan_only = true,
                "--python-plan-only" => explicit_python = Some(true),
                "--python-apply" => explicit_python = Some(false),
                other => panic!(
                    "unknown argument {other}; see the doc comment of examples/bench.rs for usage"
                ),
            }
        }
        // The sequential script at 10,000 users takes tens of minutes to apply: plan only above 1,000 by default.
        o.python_plan_only = explicit_python.unwrap_or(o.users > 1000);
        o
    }
}

/// What each generated user needs, by index: 30 % in sync, 40 % create, 20 % update, 10 % delete.
fn kind(i: usize) -> &'static str {
    match i % 10 {
        0..=2 => "sync",
        3..=6 => "create",
        7..=8 => "update",
        _ => "delete",
    }
}

/// A unique, valid US mobile number per user (two areas, exchanges 200–999).
fn number(i: usize, alt: bool) -> String {
    let area = if alt { 425 } else { 206 };
    format!("+1 {area}{}{:04}", 200 + (i / 10_000) % 800, i % 10_000)
}

fn user_id(i: usize) -> String {
    format!("00000000-0000-4000-8000-{i:012}")
}

/// Writes `.bench/n{N}/tenant.yaml` and `.bench/n{N}/manifests/*.yaml` unless they exist.
fn generate(dir: &Path, n: usize) {
    let manifests = dir.join("manifests");
    if dir.join("tenant.yaml").exists() && manifests.exists() {
        return;
    }
    std::fs::create_dir_all(&manifests).expect("creates .bench/");
    let mut t = format!(
        "tenantId: {TENANT_ID}\ndomains: [bench.example]\napps:\n  - name: bench\n    clientId: {CLIENT_ID}\n    \
         secret: {SECRET}\n    permissions: [UserAuthenticationMethod.ReadWrite.All, User.Read.All]\n    \
         tokenLifetime: 24h\nusers:\n"
    );
    for i in 0..n {
        let _ = writeln!(
            t,
            "  - id: {}\n    userPrincipalName: user{i:06}@bench.example",
            user_id(i)
        );
        match kind(i) {
            "sync" => {
                let _ = writeln!(
                    t,
                    "    phones:\n      mobile: {{ number: \"{}\" }}",
                    number(i, false)
                );
            }
            "create" => {}
            "update" => {
                let _ = writeln!(
                    t,
                    "    phones:\n      mobile: {{ number: \"{}\" }}",
                    number(i, true)
                );
            }
            _ => {
                let _ = writeln!(
                    t,
                    "    phones:\n      mobile: {{ number: \"{}\" }}\n      office: {{ number: \"{}\" }}",
                    number(i, false),
                    number(i, true)
                );
            }
        }
    }
    std::fs::write(dir.join("tenant.yaml"), t).expect("writes the tenant");
    for (f, chunk) in (0..n)
        .collect::<Vec<_>>()
        .chunks(USERS_PER_FILE)
        .enumerate()
    {
        let mut y = String::from(
            "apiVersion: authctl/v1\nkind: PhoneMethods\nspec:\n  mode: exact\n  users:\n",
        );
        for &i in chunk {
            let _ = writeln!(
                y,
                "    - user: user{i:06}@bench.example\n      phones:\n        mobile: \"{}\"\n        \
                 alternateMobile: absent\n        office: absent",
                number(i, false)
            );
        }
        std::fs::write(manifests.join(format!("users-{f:03}.yaml")), y).expect("writes a manifest");
    }
}

/// `authctl emulator` as a child process.
struct Emulator {
    child: Child,
    url: String,
    http: reqwest::Client,
}

impl Emulator {
    fn start(authctl: &Path, tenant: &Path, opts: &Opts) -> Emulator {
        let mut cmd = Command::new(authctl);
        cmd.arg("emulator").arg("--state").arg(tenant).args([
            "--latency",
            &opts.latency,
            "--seed",
            "1",
        ]);
        if let Some(t) = &opts.throttle {
            cmd.args(["--throttle", t]);
        }
        if let Some(t) = &opts.write_throttle {
            cmd.args(["--write-throttle", t]);
        }
        // Its log goes beside the tenant file (one per harness process, overwritten per start), so a failed start
        // can be told.
        let log_path = tenant.with_file_name(format!("emulator-{}.log", std::process::id()));
        let log = std::fs::File::create(&log_path).expect("creates the emulator log");
        let mut child = cmd
            .stdout(Stdio::piped())
            .stderr(log)
            .spawn()
            .expect("authctl emulator starts");
        let mut stdout = BufReader::new(child.stdout.take().expect("stdout"));
        let mut line = String::new();
        stdout.read_line(&mut line).expect("the URL line");
        if !line.starts_with("http") {
            let _ = child.wait();
            panic!(
                "authctl emulator did not start; its log ({}):\n{}",
                log_path.display(),
                std::fs::read_to_string(&log_path).unwrap_or_default()
            );
        }
        // Keep draining its stdout so it never blocks on a full pipe.
        std::thread::spawn(move || {
            let _ = std::io::copy(&mut stdout, &mut std::io::sink());
        });
        Emulator {
            child,
            url: line.trim().to_string(),
            http: reqwest::Client::new(),
        }
    }

    async fn stats(&self) -> Value {
        self.http
            .get(format!("{}/_emulator/stats", self.url))
            .send()
            .await
            .expect("stats")
            .json()
            .await
            .expect("stats JSON")
    }

    /// A client-credentials token of the bench app, for the Python script's static credential.
    async fn token(&self) -> String {
        let r: Value = self
            .http
            .post(format!("{}/{TENANT_ID}/oauth2/v2.0/token", self.url))
            .form(&[
                ("grant_type", "client_credentials"),
                ("client_id", CLIENT_ID),
                ("client_secret", SECRET),
                ("scope", "https://graph.microsoft.com/.default"),
            ])
            .send()
            .await
            .expect("token endpoint")
            .json()
            .await
            .expect("token JSON");
        r["access_token"]
            .as_str()
            .expect("access_token")
            .to_string()
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One measured child process.
struct Run {
    wall_s: f64,
    cpu_s: f64,
    max_rss_mb: f64,
    exit: i32,
    retries: Option<u64>,
    stderr_tail: String,
}

/// Runs `cmd` under `/usr/bin/time` (wall, user+sys CPU, max RSS of the child itself).
fn measured(cmd: Command, stdout_to: &Path) -> Run {
    let time_file = tempfile::NamedTempFile::new().expect("a temp file");
    let program = cmd.get_program().to_owned();
    let args: Vec<_> = cmd.get_args().map(ToOwned::to_owned).collect();
    let mut timed = Command::new("/usr/bin/time");
    timed
        .arg("-f")
        .arg("%e %U %S %M")
        .arg("-o")
        .arg(time_file.path())
        .arg(program)
        .args(args);
    for (k, v) in cmd.get_envs() {
        match v {
            Some(v) => timed.env(k, v),
            None => timed.env_remove(k),
        };
    }
    if let Some(d) = cmd.get_current_dir() {
        timed.current_dir(d);
    }
    let start = Instant::now();
    let out = timed
        .stdout(std::fs::File::create(stdout_to).expect("stdout file"))
        .stderr(Stdio::piped())
        .output()
        .expect("the child runs");
    let wall = start.elapsed().as_secs_f64();
    let mut t = String::new();
    std::fs::File::open(time_file.path())
        .and_then(|mut f| f.read_to_string(&mut t))
        .expect("reads /usr/bin/time's output");
    let last = t.lines().last().unwrap_or("");
    let f: Vec<f64> = last
        .split_whitespace()
        .filter_map(|x| x.parse().ok())
        .collect();
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    let retries = stderr
        .lines()
        .rev()
        .find(|l| l.starts_with("graph: "))
        .and_then(|l| {
            l.split(", ")
                .find(|p| p.ends_with(" retries"))
                .and_then(|p| p.split_whitespace().next())
                .and_then(|n| n.parse().ok())
        });
    let tail: Vec<&str> = stderr.lines().rev().take(5).collect();
    Run {
        wall_s: wall,
        cpu_s: if f.len() == 4 { f[1] + f[2] } else { f64::NAN },
        max_rss_mb: if f.len() == 4 {
            f[3] / 1024.0
        } else {
            f64::NAN
        },
        exit: out.status.code().unwrap_or(-1),
        retries,
        stderr_tail: tail.into_iter().rev().collect::<Vec<_>>().join("\n"),
    }
}

fn run_authctl(authctl: &Path, dir: &Path, url: &str, mode: &str, phase: &str) -> Run {
    let mut cmd = Command::new(authctl);
    let plan = dir.join(format!("plan-{mode}.json"));
    cmd.arg(phase);
    match phase {
        "plan" => {
            cmd.arg(dir.join("manifests"))
                .args(["--format", "json", "--max-deletes", "100000000", "--out"])
                .arg(&plan);
        }
        _ => {
            // Verified against the manifests it was made from, with the apply side's own delete guard.
            cmd.arg("--plan")
                .arg(&plan)
                .arg(dir.join("manifests"))
                .args(["--max-deletes", "100000000"]);
        }
    }
    cmd.args(["--graph-url", url, "--authority-host", url, "--stats"]);
    if mode == "sequential" {
        cmd.args(["--parallelism", "1", "--no-batch"]);
    }
    for k in [
        "AZURE_CLIENT_CERTIFICATE_PATH",
        "AZURE_FEDERATED_TOKEN_FILE",
        "AUTHCTL_ACCESS_TOKEN",
        "ACTIONS_ID_TOKEN_REQUEST_URL",
    ] {
        cmd.env_remove(k);
    }
    cmd.env("AZURE_TENANT_ID", TENANT_ID)
        .env("AZURE_CLIENT_ID", CLIENT_ID)
        .env("AZURE_CLIENT_SECRET", SECRET)
        .env("NO_COLOR", "1");
    measured(cmd, &dir.join(format!("{phase}-{mode}.out")))
}

fn run_python(repo: &Path, dir: &Path, url: &str, token: &str, phase: &str) -> Run {
    let python = ensure_venv(repo);
    let mut cmd = Command::new(python);
    cmd.arg(repo.join("benches/reference_script.py"))
        .args(["--base-url", &format!("{url}/v1.0")]);
    if phase == "plan" {
        cmd.arg("--plan-only");
    }
    cmd.arg(dir.join("manifests")).env("GRAPH_TOKEN", token);
    measured(cmd, &dir.join(format!("{phase}-python.out")))
}

/// `.bench/venv/bin/python`, creating the virtualenv with benches/requirements.txt on first use.
fn ensure_venv(repo: &Path) -> PathBuf {
    let venv = repo.join(".bench/venv");
    let python = venv.join("bin/python");
    if !python.exists() {
        let ok = Command::new("python3")
            .args(["-m", "venv"])
            .arg(&venv)
            .status()
            .is_ok_and(|s| s.success())
            && Command::new(venv.join("bin/pip"))
                .args(["install", "-q", "-r"])
                .arg(repo.join("benches/requirements.txt"))
                .status()
                .is_ok_and(|s| s.success());
        assert!(
            ok,
            "cannot create .bench/venv with benches/requirements.txt"
        );
    }
    python
}

/// One line of the results table.
struct Row {
    json: Value,
}

impl Row {
    fn new(opts: &Opts, mode: &str, phase: &str, run: Run, before: &Value, after: &Value) -> Row {
        let d = |k: &str| after[k].as_u64().unwrap_or(0) - before[k].as_u64().unwrap_or(0);
        let routes = |v: &Value, write: bool| -> u64 {
            v["byRoute"]
                .as_object()
                .map(|m| {
                    m.iter()
                        .filter(|(route, _)| {
                            let w = ["POST ", "PATCH ", "DELETE "]
                                .iter()
                                .any(|p| route.starts_with(p))
                                && !route.contains("$batch");
                            w == write
                        })
                        .flat_map(|(_, by)| by.as_object().into_iter().flatten())
                        .map(|(_, n)| n.as_u64().unwrap_or(0))
                        .sum()
                })
                .unwrap_or(0)
        };
        let http = d("httpRequests");
        let batches = d("batches");
        let items = d("batchItems");
        // What the read bucket is charged: plain requests plus each batch item (the $batch envelope is free).
        let charged = http - batches + items;
        let writes = routes(after, true) - routes(before, true);
        let rate = |r: &Option<String>| -> Option<(f64, f64)> {
            let r = r.as_ref()?;
            let (n, per) = r.split_once('/')?;
            let n: f64 = n.parse().ok()?;
            let secs = authctl::units::parse_duration(per).ok()?.as_secs_f64();
            Some((n, n / secs))
        };
        // Throttle-bound times: items ÷ rate, and the burst-aware floor (the bucket starts full).
        let read_bound = rate(&opts.throttle).map(|(cap, r)| {
            json!({ "itemsOverRate": charged as f64 / r, "floor": (charged as f64 - cap).max(0.0) / r })
        });
        let write_bound = rate(&opts.write_throttle).map(|(cap, r)| {
            json!({ "itemsOverRate": writes as f64 / r, "floor": (writes as f64 - cap).max(0.0) / r })
        });
        let json = json!({
            "users": opts.users, "latency": opts.latency, "throttle": opts.throttle,
            "writeThrottle": opts.write_throttle, "mode": mode, "phase": phase,
            "wallSeconds": run.wall_s, "cpuSeconds": run.cpu_s, "maxRssMb": run.max_rss_mb, "exit": run.exit,
            "httpRequests": http, "batches": batches, "batchItems": items, "chargedItems": charged,
            "writes": writes, "throttled": d("throttled"), "retries": run.retries,
            "readBound": read_bound, "writeBound": write_bound,
        });
        if run.exit != 0 && run.exit != 2 {
            eprintln!(
                "bench: {mode} {phase} exited {}:\n{}",
                run.exit, run.stderr_tail
            );
        }
        Row { json }
    }

    fn header() -> &'static str {
        "| mode | phase | wall s | CPU s | peak RSS MB | HTTP requests | batch items | writes | 429s | retries | exit |\n\
         |---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n"
    }

    fn markdown(&self) -> String {
        let j = &self.json;
        let f = |k: &str| j[k].as_f64().map_or("–".into(), |v| format!("{v:.2}"));
        let u = |k: &str| j[k].as_u64().map_or("–".into(), |v| v.to_string());
        format!(
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            j["mode"].as_str().unwrap_or(""),
            j["phase"].as_str().unwrap_or(""),
            f("wallSeconds"),
            f("cpuSeconds"),
            f("maxRssMb"),
            u("httpRequests"),
            u("batchItems"),
            u("writes"),
            u("throttled"),
            u("retries"),
            j["exit"]
        )
    }
}
