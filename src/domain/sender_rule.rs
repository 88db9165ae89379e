//! Who may answer by mail: how strongly a reply's sender must be tied to the
//! approver its token was issued to. Pure: the mail adapter states the facts
//! (From, whether our own MTA authenticated its domain); this decides.

use super::ids::Address;
use super::request::Request;

/// How strongly a mailed answer's sender must be proven.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum SenderRule {
    /// The token alone authorises the answer.
    Token,
    /// The token, and From must be the token's approver.
    TokenAndFrom,
    /// As `TokenAndFrom`, and the organisation's own MTA (`authserv_id`) must
    /// have seen DKIM or SPF pass aligned with the From domain.
    TokenFromDmarc { authserv_id: String },
}

/// What the mail adapter established about who sent an answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct SenderFacts {
    /// The single From address; `None` when absent, unparseable or several.
    pub(crate) from: Option<Address>,
    /// Whether the MTA the rule trusts vouched for the From domain (always
    /// false when the rule trusts none).
    pub(crate) authenticated: bool,
    /// Why it did not, for the audit log.
    pub(crate) unauthenticated_because: Option<String>,
}

/// Why a sender does not satisfy the rule.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum SenderProblem {
    /// The rule needs a From, and there is no usable one.
    NoFrom,
    /// From is someone other than the token's approver.
    NotTheApprover { from: Address },
    /// From is the requester or another approver of the same request,
    /// answering with someone else's token: a forwarded approval mail must
    /// never let its recipient vote, whatever the rule.
    Participant { from: Address },
    /// From is the approver, but nothing vouches for it.
    NotAuthenticated {
        from: Address,
        authserv_id: String,
        why: String,
    },
}

impl SenderRule {
    /// The MTA whose `Authentication-Results` the rule trusts, if any.
    pub(crate) fn authserv_id(&self) -> Option<&str> {
        match self {
            SenderRule::TokenFromDmarc { authserv_id } => Some(authserv_id),
            SenderRule::Token | SenderRule::TokenAndFrom => None,
        }
    }

    /// Whether `facts` satisfy the rule for an answer to `request` with
    /// `approver`'s token.
    pub(crate) fn check(
        &self,
        facts: &SenderFacts,
        approver: &Address,
        request: &Request,
    ) -> Result<(), SenderProblem> {
        if let Some(from) = facts.from.as_ref().filter(|f| *f != approver) {
            let participant = *from == request.requester
                || request.levels.iter().any(|l| l.approvers.contains(from));
            if participant {
                return Err(SenderProblem::Participant { from: from.clone() });
            }
        }
        if *self == SenderRule::Token {
            return Ok(());
        }
        let Some(from) = &facts.from else {
            return Err(SenderProblem::NoFrom);
        };
        if from != approver {
            return Err(SenderProblem::NotTheApprover { from: from.clone() });
        }
        match self {
            SenderRule::TokenFromDmarc { authserv_id } if !facts.authenticated => {
                Err(SenderProblem::NotAuthenticated {
                    from: from.clone(),
                    authserv_id: authserv_id.clone(),
                    why: facts
                        .unauthenticated_because
                        .clone()
                        .unwrap_or_else(|| "no authentication result".into()),
                })
            }
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::domain::request::tests::{addr, two_level_request};

    #[test]
    fn rule_table() {
        let alice = addr("alice@example.test");
        let facts = |from: Option<&str>, authenticated| SenderFacts {
            from: from.map(addr),
            authenticated,
            unauthenticated_because: (!authenticated).then(|| "no pass".to_string()),
        };
        let dmarc = SenderRule::TokenFromDmarc {
            authserv_id: "mx.example.test".into(),
        };
        let not_alice = Err(SenderProblem::NotTheApprover {
            from: addr("mallory@example.test"),
        });
        let cases: Vec<(SenderRule, SenderFacts, Result<(), SenderProblem>)> = vec![
            (SenderRule::Token, facts(None, false), Ok(())),
            (
                SenderRule::Token,
                facts(Some("mallory@example.test"), false),
                Ok(()),
            ),
            (
                SenderRule::TokenAndFrom,
                facts(None, false),
                Err(SenderProblem::NoFrom),
            ),
            (
                SenderRule::TokenAndFrom,
                facts(Some("alice@example.test"), false),
                Ok(()),
            ),
            (
                SenderRule::TokenAndFrom,
                facts(Some("mallory@example.test"), true),
                not_alice.clone(),
            ),
            (
                dmarc.clone(),
                facts(Some("alice@example.test"), true),
                Ok(()),
            ),
            (
                dmarc.clone(),
                facts(Some("alice@example.test"), false),
                Err(SenderProblem::NotAuthenticated {
                    from: alice.clone(),
                    authserv_id: "mx.example.test".into(),
                    why: "no pass".into(),
                }),
            ),
            (
                dmarc.clone(),
                facts(Some("mallory@example.test"), true),
                not_alice,
            ),
            (dmarc, facts(None, true), Err(SenderProblem::NoFrom)),
        ];
        let r = two_level_request();
        for (rule, facts, want) in cases {
            assert_eq!(rule.check(&facts, &alice, &r), want, "{rule:?} {facts:?}");
        }
    }

    /// The requester (dave) or another approver (bob, carol) holding alice's
    /// token, from a forwarded approval mail, is refused under every rule.
    #[test]
    fn a_forwarded_token_never_lets_a_participant_vote() {
        let r = two_level_request();
        let alice = addr("alice@example.test");
        let rules = [
            SenderRule::Token,
            SenderRule::TokenAndFrom,
            SenderRule::TokenFromDmarc {
                authserv_id: "mx.example.test".into(),
            },
        ];
        for rule in rules {
            for who in [
                "dave@example.test",
                "bob@example.test",
                "carol@example.test",
            ] {
                let facts = SenderFacts {
                    from: Some(addr(who)),
                    authenticated: true,
                    unauthenticated_because: None,
                };
                assert_eq!(
                    rule.check(&facts, &alice, &r),
                    Err(SenderProblem::Participant { from: addr(who) }),
                    "{rule:?} {who}"
                );
            }
            let own = SenderFacts {
                from: Some(alice.clone()),
                authenticated: true,
                unauthenticated_because: None,
            };
            assert_eq!(rule.check(&own, &alice, &r), Ok(()), "{rule:?}");
        }
    }
}
