//! Everything that moves a request other than an approver's answer: the
//! passing of time (deadline, window start, window end), a grant at once
//! (emergency, justification), and interventions (cancel, revoke,
//! override). Each says which status it may leave and refuses the rest,
//! leaving the request untouched.

use chrono::{DateTime, Utc};

use super::{Intervention, InterventionKind, Request, Route, Status};

/// What the passing of time did to a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Tick {
    /// A reminder came: the open level's approvers who have not answered
    /// are mailed again.
    Reminded { level: u8 },
    /// The open level waited long enough: its escalation approvers were
    /// added to it and must be asked.
    Escalated { level: u8 },
    /// Undecided at its deadline: `pending → expired`.
    Expired,
    /// Its window began: `approved → active`.
    Started,
    /// Its window is over: `active → ended` (or `approved → ended` when the
    /// whole window passed before the grant).
    Ended,
}

/// Why an intervention was not applied.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub(crate) enum InterventionRefusal {
    #[error("only a pending request can be {what}; this one is {}", .status.as_str())]
    NotPending { what: &'static str, status: Status },
    #[error("only granted access (approved or active) can be revoked; this request is {}", .0.as_str())]
    NotGranted(Status),
    #[error("an override sets approved or rejected, not {}", .0.as_str())]
    BadOverride(Status),
}

impl Request {
    /// Applies everything time has made due by `now`, in order, and says
    /// what happened. Idempotent: applied twice (a restart, a second timer
    /// pass) the second call does nothing.
    pub(crate) fn advance(&mut self, now: DateTime<Utc>) -> Vec<Tick> {
        let mut ticks = Vec::new();
        if self.status == Status::Pending && now < self.deadline {
            if let Some(level) = self.escalation_due(now) {
                self.escalate(level);
                ticks.push(Tick::Escalated { level });
            }
            // Several reminders passed at once (the daemon was down) make
            // one mail, not a burst.
            let mut came = false;
            while self.next_reminder().is_some_and(|at| now >= at) {
                self.reminders_sent = self.reminders_sent.saturating_add(1);
                came = true;
            }
            if came {
                ticks.push(Tick::Reminded { level: self.level });
            }
        }
        if self.status == Status::Pending && now >= self.deadline {
            self.close(Status::Expired, now);
            ticks.push(Tick::Expired);
        }
        if self.status == Status::Approved && now >= self.granted_window.end() {
            self.status = Status::Ended;
            ticks.push(Tick::Ended);
        }
        if self.status == Status::Approved && now >= self.granted_window.start() {
            self.status = Status::Active;
            ticks.push(Tick::Started);
        }
        if self.status == Status::Active && now >= self.granted_window.end() {
            self.status = Status::Ended;
            ticks.push(Tick::Ended);
        }
        ticks
    }

    /// The next instant at which time alone changes this request, if any:
    /// the store indexes it so that timers wake exactly then instead of
    /// scanning every request.
    pub(crate) fn next_due(&self) -> Option<DateTime<Utc>> {
        match self.status {
            Status::Pending => Some(
                [
                    Some(self.deadline),
                    self.next_reminder(),
                    self.next_escalation(),
                ]
                .into_iter()
                .flatten()
                .min()
                .unwrap_or(self.deadline),
            ),
            Status::Approved => Some(self.granted_window.start()),
            Status::Active => Some(self.granted_window.end()),
            _ => None,
        }
    }

    /// When the next reminder comes, if one is left.
    fn next_reminder(&self) -> Option<DateTime<Utc>> {
        let pct = *self.reminders.get(usize::from(self.reminders_sent))?;
        let span = self.deadline - self.created_at;
        let at = self.created_at + span * i32::from(pct) / 100;
        (at < self.deadline).then_some(at)
    }

    /// When the open level escalates, if it has an escalation still to come.
    fn next_escalation(&self) -> Option<DateTime<Utc>> {
        if self.escalated.contains(&self.level) {
            return None;
        }
        let e = self.escalations.iter().find(|e| e.level == self.level)?;
        let at = self.level_opened_at.unwrap_or(self.created_at) + e.after;
        (at < self.deadline).then_some(at)
    }

    fn escalation_due(&self, now: DateTime<Utc>) -> Option<u8> {
        self.next_escalation()
            .filter(|at| now >= *at)
            .map(|_| self.level)
    }

    /// Adds the level's escalation approvers after its own (so the indexes
    /// that tokens already issued name stay valid), each person once and
    /// never the requester.
    fn escalate(&mut self, level: u8) {
        let Some(e) = self.escalations.iter().find(|e| e.level == level).cloned() else {
            return;
        };
        let others: Vec<super::Address> = self
            .levels
            .iter()
            .enumerate()
            .filter(|(i, _)| i + 1 != usize::from(level))
            .flat_map(|(_, l)| l.approvers.clone())
            .collect();
        if let Some(l) = self.levels.get_mut(usize::from(level.saturating_sub(1))) {
            for a in e.approvers {
                // One person decides at most once per request: someone who
                // is an approver at another level is not added here.
                if !l.approvers.contains(&a) && a != self.requester && !others.contains(&a) {
                    l.approvers.push(a);
                }
            }
        }
        self.escalated.push(level);
    }

    /// Whether this request lets its requester act at `now`: only while
    /// `active`, and never past the window's end even if the timer that
    /// ends it has not run yet (fail closed on a late timer).
    pub(crate) fn allows_at(&self, now: DateTime<Utc>) -> bool {
        self.status == Status::Active
            && now >= self.granted_window.start()
            && now < self.granted_window.end()
    }

    /// Grants a freshly admitted request at once, without approvers
    /// (emergency or justification-only): `pending → approved`, then
    /// whatever time makes due (`active` if the window has started).
    pub(crate) fn grant_at_once(&mut self, route: Route, now: DateTime<Utc>) -> Vec<Tick> {
        debug_assert!(route != Route::Approvers);
        self.route = route;
        if self.status != Status::Pending {
            return Vec::new();
        }
        self.close(Status::Approved, now);
        self.advance(now)
    }

    /// Withdraws a pending request: its tokens die with it.
    pub(crate) fn cancel(&mut self, i: Intervention) -> Result<(), InterventionRefusal> {
        if self.status != Status::Pending {
            return Err(InterventionRefusal::NotPending {
                what: "cancelled",
                status: self.status,
            });
        }
        let at = i.at;
        self.interventions.push(Intervention {
            kind: InterventionKind::Cancel,
            ..i
        });
        self.close(Status::Cancelled, at);
        Ok(())
    }

    /// Takes granted access back, whether or not its window has started.
    pub(crate) fn revoke(&mut self, i: Intervention) -> Result<(), InterventionRefusal> {
        if !self.status.is_granted() {
            return Err(InterventionRefusal::NotGranted(self.status));
        }
        self.interventions.push(Intervention {
            kind: InterventionKind::Revoke,
            ..i
        });
        self.status = Status::Revoked;
        Ok(())
    }

    /// Decides a pending request over the approvers' heads. An approval
    /// then follows time like any other (`active` if the window started).
    pub(crate) fn override_to(
        &mut self,
        to: Status,
        i: Intervention,
    ) -> Result<Vec<Tick>, InterventionRefusal> {
        if !matches!(to, Status::Approved | Status::Rejected) {
            return Err(InterventionRefusal::BadOverride(to));
        }
        if self.status != Status::Pending {
            return Err(InterventionRefusal::NotPending {
                what: "overridden",
                status: self.status,
            });
        }
        let at = i.at;
        self.interventions.push(Intervention {
            kind: InterventionKind::Override { to },
            ..i
        });
        self.close(to, at);
        Ok(if to == Status::Approved {
            self.advance(at)
        } else {
            Vec::new()
        })
    }

    /// A REVOKE from an approver of this request (any level), by reply:
    /// the same as an administrator's revoke, recorded with the approver's
    /// address and comment. Anyone else is refused.
    pub(crate) fn revoke_by_approver(
        &mut self,
        approver: &super::Address,
        comment: &str,
        at: DateTime<Utc>,
        channel: super::Channel,
    ) -> Result<(), super::AnswerRefusal> {
        if !self.all_approvers().contains(&approver) {
            return Err(super::AnswerRefusal::NotAnApprover(approver.clone()));
        }
        self.revoke(Intervention {
            kind: InterventionKind::Revoke,
            by: approver.to_string(),
            uid: None,
            reason: comment.to_owned(),
            at,
            channel,
        })
        .map_err(|_| super::AnswerRefusal::NothingToRevoke(self.status))
    }

    /// The approvers of every level, each once, in level order: who hears
    /// of an emergency, and who may revoke.
    pub(crate) fn all_approvers(&self) -> Vec<&super::Address> {
        let mut out: Vec<&super::Address> = Vec::new();
        for a in self.levels.iter().flat_map(|l| &l.approvers) {
            if !out.contains(&a) && *a != self.requester {
                out.push(a);
            }
        }
        out
    }

    /// Leaves `pending` for `status`.
    pub(super) fn close(&mut self, status: Status, now: DateTime<Utc>) {
        self.status = status;
        self.closed_at = Some(now);
    }
}
