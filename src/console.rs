//! The console notifier: alerts as lines on stdout, for running without any chat token.

use crate::delivery::{Group, GroupKind};
use crate::domain::Platform;
use crate::notify::{Notifier, Receipt, SendError};
use crate::render;
use futures_util::future::BoxFuture;
use std::io::Write;

#[derive(Debug, Clone, Copy, Default)]
pub struct ConsoleNotifier {
    pub json: bool,
}

impl Notifier for ConsoleNotifier {
    fn platform(&self) -> Platform {
        Platform::Console
    }

    fn send<'a>(&'a self, group: &'a Group) -> BoxFuture<'a, Result<Receipt, SendError>> {
        Box::pin(async move {
            let mut text = String::new();
            if group.kind == GroupKind::Digest && !self.json {
                text.push_str(&format!("DIGEST {} alerts\n", group.deliveries.len()));
            }
            for delivery in &group.deliveries {
                let line = if self.json {
                    render::json_delivery(delivery)
                } else {
                    render::console_delivery(delivery)
                };
                text.push_str(&line);
                text.push('\n');
            }
            let mut stdout = std::io::stdout().lock();
            // A closed stdout (a pipe whose reader left) is worth retrying later, not a reason
            // to lose the alert.
            stdout
                .write_all(text.as_bytes())
                .and_then(|()| stdout.flush())
                .map_err(|e| SendError::Transient(format!("stdout: {e}")))?;
            Ok(Receipt::default())
        })
    }
}
