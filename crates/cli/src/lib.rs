//! The `idaudit` command line: argument parsing, settings, and one module
//! per subcommand. The binary in `main.rs` only sets up logging and exits
//! with the status [`run`] returns.

pub mod args;
pub mod commands;
pub mod exit;
mod memory;
pub mod okta_sdk_config;
pub mod output;
pub mod progress;
pub mod settings;
pub mod time;

use std::io::IsTerminal;

pub use exit::ExitStatus;

/// Parses the command line, runs it, and prints any error with its causes.
pub fn run() -> ExitStatus {
    use clap::Parser;
    let cli = args::Cli::parse();
    init_logging(&cli.global);
    quiet_on_closed_stdout();

    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: failed to start the async runtime: {error}");
            return ExitStatus::Failure;
        }
    };
    match runtime.block_on(commands::run(cli)) {
        Ok(status) => status,
        Err(error) if is_broken_pipe(&error) => ExitStatus::Success,
        Err(error) => {
            print_error(&error);
            ExitStatus::Failure
        }
    }
}

/// Returns whether an error comes from writing to a pipe whose reader has closed, as
/// when the output is piped into `head`. Such a reader wants no more output, so the
/// command ends quietly and successfully.
fn is_broken_pipe(error: &anyhow::Error) -> bool {
    error.chain().any(|cause| {
        cause
            .downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

/// Makes `println!` on a closed stdout end the process quietly with status 0 instead of
/// a panic message and status 101; every other panic is reported as before.
fn quiet_on_closed_stdout() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let message = info
            .payload()
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| info.payload().downcast_ref::<&str>().copied())
            .unwrap_or_default();
        if message.starts_with("failed printing to stdout") && message.contains("Broken pipe") {
            std::process::exit(ExitStatus::Success.code());
        }
        default(info);
    }));
}

/// Prints `error:` with the message, a `Caused by:` line per cause, and a
/// `hint:` when an Okta error has a known fix.
pub fn print_error(error: &anyhow::Error) {
    eprintln!("error: {error}");
    for cause in error.chain().skip(1) {
        eprintln!("  Caused by: {cause}");
    }
    let hint = error
        .chain()
        .find_map(|cause| cause.downcast_ref::<idaudit_okta::Error>())
        .and_then(idaudit_okta::Error::hint);
    if let Some(hint) = hint {
        eprintln!("hint: {hint}");
    }
}

fn init_logging(global: &args::GlobalArgs) {
    let level = match (global.quiet, global.verbose) {
        (true, _) => "error",
        (false, 0) => "warn",
        (false, 1) => "info",
        (false, _) => "debug",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(level));
    let color = match global.color {
        args::ColorChoice::Always => true,
        args::ColorChoice::Never => false,
        args::ColorChoice::Auto => {
            std::env::var_os("NO_COLOR").is_none() && std::io::stderr().is_terminal()
        }
    };
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(color)
        .with_target(false)
        .init();
}
