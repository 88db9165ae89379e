//! An approver's answer applied to a pending request: level, quorum, one
//! vote per person, one DISAPPROVE rejects.

use chrono::{DateTime, Utc};

use super::{Answer, AnswerRefusal, Decision, Request, Status, Transition};
use crate::domain::verb::Verb;

impl Request {
    /// Applies an answer, or explains why it cannot be applied (leaving
    /// `self` unchanged).
    pub(crate) fn answer(
        &mut self,
        a: Answer,
        now: DateTime<Utc>,
    ) -> Result<Transition, AnswerRefusal> {
        if a.verb == Verb::Revoke {
            return Err(AnswerRefusal::NothingToRevoke(self.status));
        }
        if self.status != Status::Pending {
            return Err(AnswerRefusal::Closed(self.status));
        }
        if now >= self.deadline {
            return Err(AnswerRefusal::PastDeadline);
        }
        if a.level != self.level {
            return Err(AnswerRefusal::WrongLevel {
                answered: a.level,
                current: self.level,
            });
        }
        if a.approver == self.requester {
            return Err(AnswerRefusal::SelfApproval(a.approver));
        }
        let level = self
            .current_level()
            .cloned()
            .ok_or(AnswerRefusal::Closed(self.status))?;
        if !level.approvers.contains(&a.approver) {
            return Err(AnswerRefusal::NotAnApprover(a.approver));
        }
        // One person, one vote per request, across all levels; the only
        // second answer taken is an APPROVE withdrawn by a DISAPPROVE while
        // its level is still open (the level is the current one: checked
        // above).
        let changed = match self.decisions.iter().find(|d| d.approver == a.approver) {
            None => false,
            Some(d)
                if d.level == a.level && d.verb == Verb::Approve && a.verb == Verb::Disapprove =>
            {
                true
            }
            Some(_) => return Err(AnswerRefusal::AlreadyAnswered(a.approver)),
        };
        if self.require_comment && a.comment.trim().is_empty() {
            return Err(AnswerRefusal::CommentRequired);
        }
        let granted = match (a.verb, a.window) {
            (Verb::Approve, Some(w)) => self
                .granted_window
                .intersect(&w)
                .ok_or(AnswerRefusal::WindowOutside)?,
            _ => self.granted_window,
        };
        self.decisions.push(Decision {
            level: a.level,
            approver: a.approver,
            verb: a.verb,
            comment: a.comment,
            at: now,
            channel: a.channel,
            window: a.window,
        });
        if a.verb == Verb::Disapprove {
            self.close(Status::Rejected, now);
            return Ok(Transition::Rejected { changed });
        }
        self.granted_window = granted;
        let approvals = self
            .decisions_at(a.level)
            .filter(|d| d.verb == Verb::Approve)
            .count();
        let approvals = u8::try_from(approvals).unwrap_or(u8::MAX);
        if approvals < level.quorum {
            return Ok(Transition::Recorded {
                missing: level.quorum - approvals,
            });
        }
        if usize::from(self.level) >= self.levels.len() {
            self.close(Status::Approved, now);
            return Ok(Transition::Approved);
        }
        let from = self.level;
        self.level += 1;
        self.level_opened_at = Some(now);
        Ok(Transition::LevelAdvanced {
            from,
            to: self.level,
        })
    }
}
