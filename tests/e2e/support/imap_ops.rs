//! Changing mailboxes of the test stack as an operator, a server-side
//! filter or another IMAP client would: create, delete, copy and move.
//! [`Mailbox`]'s own methods only look; these change what the daemon sees.

use super::mailbox::Mailbox;

impl Mailbox {
    /// `CREATE name`; fails the test when the server refuses.
    pub(crate) async fn create_mailbox(&self, name: &str) {
        let mut session = self.session().await;
        session
            .create(name)
            .await
            .unwrap_or_else(|e| panic!("IMAP CREATE {name} as {}: {e}", self.user()));
        session.logout().await.ok();
    }

    /// `DELETE name`, messages and all; fails the test when the server
    /// refuses.
    pub(crate) async fn delete_mailbox(&self, name: &str) {
        let mut session = self.session().await;
        session
            .delete(name)
            .await
            .unwrap_or_else(|e| panic!("IMAP DELETE {name} as {}: {e}", self.user()));
        session.logout().await.ok();
    }

    /// The UIDVALIDITY of `name` (EXAMINE, which changes nothing).
    pub(crate) async fn uidvalidity(&self, name: &str) -> u32 {
        let mut session = self.session().await;
        let selected = session
            .examine(name)
            .await
            .unwrap_or_else(|e| panic!("IMAP EXAMINE {name} as {}: {e}", self.user()));
        session.logout().await.ok();
        selected
            .uid_validity
            .unwrap_or_else(|| panic!("{name} of {} has no UIDVALIDITY", self.user()))
    }

    /// Copies every message of `from` into `to`; returns how many.
    pub(crate) async fn copy_all(&self, from: &str, to: &str) -> usize {
        self.transfer(from, to, false).await
    }

    /// Moves every message of `from` into `to` (as a server-side filter
    /// would file it); returns how many.
    pub(crate) async fn move_all(&self, from: &str, to: &str) -> usize {
        self.transfer(from, to, true).await
    }

    async fn transfer(&self, from: &str, to: &str, remove: bool) -> usize {
        let mut session = self.session().await;
        let selected = session
            .select(from)
            .await
            .unwrap_or_else(|e| panic!("IMAP SELECT {from} as {}: {e}", self.user()));
        let n = selected.exists as usize;
        if n > 0 {
            let done = if remove {
                session.mv("1:*", to).await
            } else {
                session.copy("1:*", to).await
            };
            done.unwrap_or_else(|e| {
                panic!("IMAP COPY/MOVE {from} to {to} as {}: {e}", self.user())
            });
        }
        session.logout().await.ok();
        n
    }
}
