//! The `chipwatch` binary: parses the command line, sets up logging to stderr, runs the
//! command and maps its result to an exit code.

use clap::Parser;
use std::io::IsTerminal;

fn main() {
    let cli = chipwatch::cli::Cli::parse();
    // One-shot commands end quietly when their reader goes away (`chipwatch feeds | head`),
    // as Unix tools do, instead of failing on every write. `run` keeps Rust's default
    // (SIGPIPE ignored): the console notifier handles a closed stdout as a retryable error
    // rather than letting it kill the service.
    #[cfg(unix)]
    if !matches!(
        cli.command,
        None | Some(chipwatch::cli::Command::Run { .. })
    ) {
        // SAFETY: called before any thread is started; SIG_DFL is a valid disposition.
        unsafe {
            libc::signal(libc::SIGPIPE, libc::SIG_DFL);
        }
    }
    // Before anything can log: tokens are redacted from every line written.
    for name in ["TELOXIDE_TOKEN", "DISCORD_TOKEN"] {
        if let Ok(token) = std::env::var(name) {
            chipwatch::secrets::register(&token);
        }
    }
    tracing_subscriber::fmt()
        .with_writer(chipwatch::secrets::RedactingStderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("CHIPWATCH_LOG").unwrap_or_else(|_| {
                tracing_subscriber::EnvFilter::new("info,sled=warn,reqwest=warn,hyper=warn")
            }),
        )
        .init();
    // A shifted clock is for drills and tests; say so, and refuse a malformed shift.
    match chipwatch::clock::init() {
        Ok(shift) if !shift.is_zero() => {
            tracing::warn!(%shift, "the clock is shifted by {}", chipwatch::clock::SHIFT_VAR)
        }
        Ok(_) => {}
        Err(problem) => {
            eprintln!("chipwatch: {problem}");
            std::process::exit(chipwatch::cli::exit::CONFIG);
        }
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("chipwatch: cannot start the async runtime: {error}");
            std::process::exit(chipwatch::cli::exit::FAILURE);
        }
    };
    let code = runtime.block_on(chipwatch::cli::execute(cli));
    std::process::exit(code);
}
