//! Who may submit requests for whom: local accounts (by uid, as the API
//! socket's peer credentials tell) mapped to the requesters they may act
//! for. An integrator's account may submit for everyone; a person's account
//! only for their own address.

use super::ids::Address;

/// For whom one account may submit.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum For {
    /// Any requester.
    Anyone,
    /// Only these.
    Only(Vec<Address>),
}

/// The accounts allowed to submit; every other account is refused.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub(crate) struct Submitters {
    /// (uid, for whom), in configuration order.
    rules: Vec<(u32, For)>,
}

impl Submitters {
    pub(crate) fn new(rules: Vec<(u32, For)>) -> Self {
        Submitters { rules }
    }

    /// Whether the account `uid` is named for `requester` alone (not "any
    /// requester"): an account that acts as that person.
    pub(crate) fn acts_as(&self, uid: u32, requester: &Address) -> bool {
        self.rules.iter().any(|(u, whom)| {
            *u == uid && matches!(whom, For::Only(list) if list.contains(requester))
        })
    }

    /// Whether the account `uid` may submit a request for `requester`.
    pub(crate) fn allows(&self, uid: u32, requester: &Address) -> bool {
        self.rules.iter().any(|(u, whom)| {
            *u == uid
                && match whom {
                    For::Anyone => true,
                    For::Only(list) => list.contains(requester),
                }
        })
    }
}

/// The accounts that may cancel, revoke and override any request: an
/// administrator's power, kept apart from submitting (an integrator that
/// submits for everyone is not thereby an administrator).
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub(crate) struct Admins {
    uids: Vec<u32>,
}

impl Admins {
    pub(crate) fn new(uids: Vec<u32>) -> Self {
        Admins { uids }
    }

    pub(crate) fn contains(&self, uid: u32) -> bool {
        self.uids.contains(&uid)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn who_may_submit_for_whom_table() {
        let dave: Address = "dave@example.test".parse().unwrap();
        let erin: Address = "erin@example.test".parse().unwrap();
        let s = Submitters::new(vec![
            (0, For::Anyone),
            (1000, For::Only(vec![dave.clone()])),
        ]);
        let cases = [
            (0, &dave, true),
            (0, &erin, true),
            (1000, &dave, true),
            (1000, &erin, false),
            (1001, &dave, false),
        ];
        for (uid, who, want) in cases {
            assert_eq!(s.allows(uid, who), want, "{uid} for {who}");
        }
        assert!(!Submitters::default().allows(0, &dave), "nobody by default");
        // Who acts as dave (and so may not override dave's request to
        // approved): the account named for dave, not the one for anyone.
        assert!(s.acts_as(1000, &dave));
        assert!(!s.acts_as(0, &dave));
        assert!(!s.acts_as(1000, &erin));
    }
}
