//! The console notifier: alerts as lines on stdout, for running without any chat token.

use crate::domain::{Delivery, Platform};
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

    fn send<'a>(&'a self, delivery: &'a Delivery) -> BoxFuture<'a, Result<Receipt, SendError>> {
        Box::pin(async move {
            let line = if self.json {
                render::json_delivery(delivery)
            } else {
                render::console_delivery(delivery)
            };
            let mut stdout = std::io::stdout().lock();
            // A closed stdout (a pipe whose reader left) is worth retrying later, not a reason
            // to lose the alert.
            writeln!(stdout, "{line}")
                .and_then(|()| stdout.flush())
                .map_err(|e| SendError::Transient(format!("stdout: {e}")))?;
            Ok(Receipt::default())
        })
    }
}
