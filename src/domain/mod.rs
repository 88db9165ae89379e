//! The pure core: requests, policy, tokens and reply reading. No I/O, no
//! system clock: every function here is deterministic in its inputs.

pub(crate) mod access_window;
pub(crate) mod api_keys;
pub(crate) mod clock;
pub(crate) mod ids;
pub(crate) mod plain_text;
pub(crate) mod policy;
pub(crate) mod reply;
pub(crate) mod request;
pub(crate) mod sender_rule;
pub(crate) mod submitters;
pub(crate) mod token;
pub(crate) mod verb;
pub(crate) mod wire;
