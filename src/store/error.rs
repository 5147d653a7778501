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
    pub(super) fn from_transaction(error: sled::transaction::TransactionError<()>) -> Self {
        match error {
            sled::transaction::TransactionError::Storage(e) => StoreError::from(e),
            sled::transaction::TransactionError::Abort(()) => {
                StoreError::Sled("transaction aborted".into())
            }
        }
    }
}
