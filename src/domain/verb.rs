//! What an approver can say.

use serde::{Deserialize, Serialize};

/// An approver's answer. There is deliberately no third value: anything that is
/// not clearly one of these is refused upstream.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Verb {
    Approve,
    Disapprove,
    /// Takes granted access back; answers only an approval notice.
    Revoke,
}

impl Verb {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Verb::Approve => "APPROVE",
            Verb::Disapprove => "DISAPPROVE",
            Verb::Revoke => "REVOKE",
        }
    }
}
