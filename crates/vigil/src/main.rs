//! `vigil`: one program for an MSP's NOC and SOC.

use anyhow::Context;
use clap::{Parser, Subcommand};
use std::net::SocketAddr;
use std::path::PathBuf;
use vigil_server::config::Config;

mod hunt;
mod rules;

/// Indexing allocates many small strings per event; mimalloc spends less
/// time on them than the system allocator (see bench/README.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "vigil",
    version,
    about = "One program for an MSP's NOC and SOC"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run Vigil: the API, ingest, storage.
    Serve {
        /// The TOML config file (every key has a default).
        #[arg(long, short)]
        config: Option<PathBuf>,
        /// The data directory (overrides server.data_dir).
        #[arg(long)]
        data: Option<PathBuf>,
        /// The HTTP address (overrides server.listen).
        #[arg(long)]
        listen: Option<SocketAddr>,
    },
    /// Administer Vigil's users from the server's machine.
    Admin {
        #[command(subcommand)]
        command: AdminCommand,
    },
    /// Work with the configuration.
    Config {
        #[command(subcommand)]
        command: ConfigCommand,
    },
    /// Work with Sigma detection rules.
    Rules {
        #[command(subcommand)]
        command: RulesCommand,
    },
    /// Hunt with Sigma rules over log files (EVTX, JSON, text), offline.
    Hunt(hunt::HuntArgs),
    /// Print the version.
    Version,
}

#[derive(Subcommand)]
enum RulesCommand {
    /// Parse and compile rules (files or folders), naming each one that
    /// cannot run and why.
    Check {
        #[arg(required = true)]
        paths: Vec<PathBuf>,
        /// Exit non-zero if any rule cannot run.
        #[arg(long)]
        strict: bool,
        /// Values of `expand` placeholders (YAML: name → value or list).
        #[arg(long, value_name = "FILE")]
        placeholders: Option<PathBuf>,
    },
    /// Run SigmaHQ-style regression data: for each info.yml under DATA, the
    /// rule it names (by id, found under --rules) must fire on its events.
    Test {
        #[arg(long, required = true)]
        rules: Vec<PathBuf>,
        data: PathBuf,
        /// Values of `expand` placeholders (YAML: name → value or list).
        #[arg(long, value_name = "FILE")]
        placeholders: Option<PathBuf>,
    },
}

#[derive(Subcommand)]
enum AdminCommand {
    /// Set a user's password (the bootstrap administrator is `admin`) and
    /// end their login sessions. The password is read from standard input
    /// (one line); with --generate, or when standard input is empty, a
    /// strong one is generated and printed once.
    SetPassword {
        /// The user's name (any case).
        name: String,
        /// The TOML config file, for server.data_dir.
        #[arg(long, short)]
        config: Option<PathBuf>,
        /// The data directory (overrides server.data_dir).
        #[arg(long)]
        data: Option<PathBuf>,
        /// Generate a strong password and print it.
        #[arg(long)]
        generate: bool,
    },
}

#[derive(Subcommand)]
enum ConfigCommand {
    /// Validate a config file, naming the bad key and its line.
    Check { file: PathBuf },
    /// Print the effective configuration (file, then VIGIL_* variables).
    Show { file: Option<PathBuf> },
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("vigil: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Serve {
            config,
            data,
            listen,
        } => serve(config, data, listen),
        Command::Admin {
            command:
                AdminCommand::SetPassword {
                    name,
                    config,
                    data,
                    generate,
                },
        } => set_password(&name, config, data, generate),
        Command::Config {
            command: ConfigCommand::Check { file },
        } => {
            let config = check_config(&file)?;
            println!(
                "{}: ok ({} tenant(s), listen {}, data {})",
                file.display(),
                config.tenants.len(),
                config.server.listen,
                config.server.data_dir.display()
            );
            Ok(())
        }
        Command::Config {
            command: ConfigCommand::Show { file },
        } => {
            let config = Config::load(file.as_deref(), std::env::vars())?;
            print!("{}", config.to_toml());
            Ok(())
        }
        Command::Rules {
            command:
                RulesCommand::Check {
                    paths,
                    strict,
                    placeholders,
                },
        } => {
            let all_compiled = rules::check(&paths, placeholders.as_deref())?;
            if strict && !all_compiled {
                anyhow::bail!("some rules cannot run (--strict)");
            }
            Ok(())
        }
        Command::Rules {
            command:
                RulesCommand::Test {
                    rules,
                    data,
                    placeholders,
                },
        } => {
            if !rules::test(&rules, &data, placeholders.as_deref())? {
                anyhow::bail!("some regression tests failed");
            }
            Ok(())
        }
        Command::Hunt(args) => hunt::run(args),
        Command::Version => {
            println!("vigil {}", env!("CARGO_PKG_VERSION"));
            Ok(())
        }
    }
}

/// `vigil config check`: every problem of the file (keys, values, names,
/// and the files it names), one a line on stderr, as `serve` would refuse
/// them; the config when there is none.
fn check_config(file: &std::path::Path) -> anyhow::Result<Config> {
    let (config, problems) = Config::check_file(file, std::env::vars())?;
    if problems.is_empty() {
        return Ok(config);
    }
    let origin = file.display();
    for problem in &problems {
        match problem.line {
            Some(line) => {
                let rest = vigil_server::config::Problem {
                    line: None,
                    ..problem.clone()
                };
                eprintln!("{origin} line {line}: {rest}");
            }
            None => eprintln!("{origin}: {problem}"),
        }
    }
    anyhow::bail!("{origin}: {} problem(s) found", problems.len())
}

fn serve(
    file: Option<PathBuf>,
    data: Option<PathBuf>,
    listen: Option<SocketAddr>,
) -> anyhow::Result<()> {
    let mut config = Config::load(file.as_deref(), std::env::vars())?;
    if let Some(data) = data {
        config.server.data_dir = data;
    }
    if let Some(listen) = listen {
        config.server.listen = listen;
    }
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_new(&config.server.log)
                .context("bad server.log filter")?,
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("vigil")
        .build()?;
    runtime.block_on(vigil_server::run(config, shutdown_signal()))
}

fn set_password(
    name: &str,
    file: Option<PathBuf>,
    data: Option<PathBuf>,
    generate: bool,
) -> anyhow::Result<()> {
    let config = Config::load(file.as_deref(), std::env::vars())?;
    let data = data.unwrap_or(config.server.data_dir);
    let typed = if generate {
        String::new()
    } else {
        if std::io::IsTerminal::is_terminal(&std::io::stdin()) {
            eprintln!("new password for {name} (shown as typed; empty to generate one):");
        }
        let mut line = String::new();
        std::io::stdin()
            .read_line(&mut line)
            .context("cannot read the password from standard input")?;
        line.trim_end_matches(['\r', '\n']).to_string()
    };
    let generated = typed.is_empty();
    let password = if generated {
        vigil_server::generate_password()
    } else {
        typed
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let user = runtime.block_on(vigil_server::set_password(&data, name, &password))?;
    if generated {
        println!("{password}");
        eprintln!(
            "the password of {user} is set to the line above (shown once); their sessions ended"
        );
    } else {
        eprintln!("the password of {user} is set; their sessions ended");
    }
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(term) => term,
        Err(_) => {
            let _ = ctrl_c.await;
            return;
        }
    };
    tokio::select! {
        _ = ctrl_c => {},
        _ = term.recv() => {},
    }
    tracing::info!("shutdown requested");
}
