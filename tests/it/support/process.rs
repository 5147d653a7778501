//! Runs the real `chipwatch` binary as a child process and reads its output line by
//! line, so tests wait on what it prints (bounded by a deadline), never on a sleep.

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};
use tokio::sync::mpsc;

/// How the process ended and everything it printed.
#[derive(Debug)]
pub struct Exit {
    pub code: i32,
    pub stdout: Vec<String>,
    pub stderr: Vec<String>,
}

pub struct Chipwatch {
    child: Child,
    stdout: mpsc::UnboundedReceiver<String>,
    stderr: mpsc::UnboundedReceiver<String>,
    pub stdout_lines: Vec<String>,
    pub stderr_lines: Vec<String>,
}

fn forward(
    reader: impl tokio::io::AsyncRead + Unpin + Send + 'static,
) -> mpsc::UnboundedReceiver<String> {
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        let mut lines = BufReader::new(reader).lines();
        while let Ok(Some(line)) = lines.next_line().await {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

impl Chipwatch {
    /// Starts `chipwatch --config CONFIG ARGS…` with a clean environment for its tokens.
    pub fn start(config: &Path, args: &[&str]) -> Self {
        Self::start_with_env(config, args, &[])
    }

    /// Like [`Chipwatch::start`], with extra environment variables (a bot token).
    pub fn start_with_env(config: &Path, args: &[&str], env: &[(&str, &str)]) -> Self {
        let mut command = Command::new(env!("CARGO_BIN_EXE_chipwatch"));
        command
            .arg("--config")
            .arg(config)
            .args(args)
            .env_remove("TELOXIDE_TOKEN")
            .env_remove("DISCORD_TOKEN")
            .env_remove("CHIPWATCH_DATA_DIR")
            .env("CHIPWATCH_LOG", "info,chipwatch=debug")
            .env("NO_PROXY", "127.0.0.1,localhost")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        for (name, value) in env {
            command.env(name, value);
        }
        let mut child = command.spawn().expect("start chipwatch");
        let stdout = forward(child.stdout.take().expect("stdout"));
        let stderr = forward(child.stderr.take().expect("stderr"));
        Self {
            child,
            stdout,
            stderr,
            stdout_lines: Vec::new(),
            stderr_lines: Vec::new(),
        }
    }

    /// Waits for a stdout line that satisfies `wanted`; panics with what was seen after `limit`.
    pub async fn wait_stdout(&mut self, limit: Duration, wanted: impl Fn(&str) -> bool) -> String {
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            match tokio::time::timeout_at(deadline, self.stdout.recv()).await {
                Ok(Some(line)) => {
                    self.stdout_lines.push(line.clone());
                    if wanted(&line) {
                        return line;
                    }
                }
                _ => {
                    let stderr = self.drain_stderr();
                    panic!(
                        "no wanted stdout line within {limit:?}; stdout: {:#?}\nstderr: {stderr:#?}",
                        self.stdout_lines
                    )
                }
            }
        }
    }

    /// Waits for a stderr (log) line that satisfies `wanted`.
    pub async fn wait_stderr(&mut self, limit: Duration, wanted: impl Fn(&str) -> bool) -> String {
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            match tokio::time::timeout_at(deadline, self.stderr.recv()).await {
                Ok(Some(line)) => {
                    self.stderr_lines.push(line.clone());
                    if wanted(&line) {
                        return line;
                    }
                }
                _ => panic!(
                    "no wanted log line within {limit:?}; stderr: {:#?}",
                    self.stderr_lines
                ),
            }
        }
    }

    fn drain_stderr(&mut self) -> Vec<String> {
        while let Ok(line) = self.stderr.try_recv() {
            self.stderr_lines.push(line);
        }
        self.stderr_lines.clone()
    }

    /// Sends SIGTERM (what `docker stop` sends) and returns the exit code, collecting
    /// the rest of the output.
    pub async fn terminate(self, limit: Duration) -> Exit {
        let pid = self.child.id().expect("child pid") as i32;
        nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(pid),
            nix::sys::signal::Signal::SIGTERM,
        )
        .expect("send SIGTERM");
        self.finish(limit).await
    }

    /// SIGKILL: no handler runs, nothing is flushed that was not flushed already.
    pub async fn kill_hard(self, limit: Duration) -> Exit {
        let pid = self.child.id().expect("child pid") as i32;
        nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(pid),
            nix::sys::signal::Signal::SIGKILL,
        )
        .expect("send SIGKILL");
        self.finish(limit).await
    }

    /// Waits for the process to exit by itself.
    pub async fn finish(mut self, limit: Duration) -> Exit {
        let status = tokio::time::timeout(limit, self.child.wait())
            .await
            .expect("chipwatch exits in time")
            .expect("wait");
        // The pipes close at exit; collect what is left (the forwarders end at EOF).
        while let Some(line) = self.stdout.recv().await {
            self.stdout_lines.push(line);
        }
        while let Some(line) = self.stderr.recv().await {
            self.stderr_lines.push(line);
        }
        Exit {
            code: status.code().unwrap_or(-1),
            stdout: self.stdout_lines,
            stderr: self.stderr_lines,
        }
    }
}
