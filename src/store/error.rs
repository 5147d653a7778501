//! What can go wrong with the database, in words an operator can act on.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error(
        "cannot open the database at {path}: {detail}\n\
         If another chipwatch is running, stop it first (one process holds the database). \
         If the database is damaged, run `chipwatch db recover` to move it aside and start \
         afresh without re-alerting what the feeds list now."
    )]
    Open { path: PathBuf, detail: String },
    #[error(
        "the database at {path} is held by another process (is `chipwatch run` running?); \
         stop it first: one process holds the database"
    )]
    Locked { path: PathBuf },
    #[error(
        "no database at {path}; check --data-dir (or settings.data_dir): `chipwatch run` \
         creates the database, this command does not"
    )]
    Missing { path: PathBuf },
    #[error(
        "the database at {path} has schema version {found}, this chipwatch expects {expected}; \
         refusing to start. Use the chipwatch version that wrote it, or `chipwatch db recover` \
         to move it aside and start afresh."
    )]
    SchemaMismatch {
        path: PathBuf,
        found: u32,
        expected: u32,
    },
    #[error("a record in `{tree}` cannot be read: {detail}")]
    Corrupt { tree: String, detail: String },
    #[error("a record cannot be encoded: {0}")]
    Encode(String),
    #[error("database error: {0}")]
    Sled(String),
}

impl From<sled::Error> for StoreError {
    fn from(error: sled::Error) -> Self {
        StoreError::Sled(error.to_string())
    }
}

impl StoreError {
    /// The error of opening the database in `dir`: `Locked` when another process holds
    /// sled's file lock (sled reports it as an I/O error naming the lock, whose cause is
    /// `WouldBlock`, "resource temporarily unavailable" or "resource busy").
    pub(super) fn from_open(dir: &std::path::Path, error: sled::Error) -> Self {
        if let sled::Error::Io(io) = &error {
            let text = io.to_string();
            let lower = text.to_lowercase();
            if io.kind() == std::io::ErrorKind::WouldBlock
                || io.kind() == std::io::ErrorKind::ResourceBusy
                || lower.contains("could not acquire lock")
                || lower.contains("wouldblock")
                || lower.contains("resource temporarily unavailable")
                || lower.contains("resource busy")
            {
                return StoreError::Locked {
                    path: dir.to_path_buf(),
                };
            }
        }
        StoreError::Open {
            path: dir.to_path_buf(),
            detail: error.to_string(),
        }
    }

    pub(super) fn from_transaction(error: sled::transaction::TransactionError<()>) -> Self {
        match error {
            sled::transaction::TransactionError::Storage(e) => StoreError::from(e),
            sled::transaction::TransactionError::Abort(()) => {
                StoreError::Sled("transaction aborted".into())
            }
        }
    }
}
