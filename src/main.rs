//! The `chipwatch` binary: parses the command line, sets up logging to stderr, runs the
//! command and maps its result to an exit code.

use clap::Parser;
use std::io::IsTerminal;

fn main() {
    let cli = chipwatch::cli::Cli::parse();
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
