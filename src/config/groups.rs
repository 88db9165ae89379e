//! The registered reasons and the groups: who may request what, for how
//! long, and who approves it, level by level.

use super::{duration, raw, Problems};
use crate::domain::ids::Address;
use crate::domain::policy::{Group, Policy};
use crate::domain::request::{Escalation, Level};

pub(super) fn policy(
    p: &mut Problems,
    reasons: Vec<String>,
    raw_groups: Vec<raw::RawGroup>,
    approver_groups: &std::collections::BTreeMap<String, Vec<String>>,
) -> Policy {
    let named = named_groups(p, approver_groups);
    if reasons.is_empty() {
        p.push("reasons", "at least one reason must be registered");
    }
    if raw_groups.is_empty() {
        p.push("groups", "at least one [[groups]] table is needed");
    }
    let mut groups = Vec::new();
    let mut names = std::collections::HashSet::new();
    for g in raw_groups {
        let key = format!("groups.{}", g.name);
        if g.name.trim().is_empty() {
            p.push("groups.name", "must not be empty");
        }
        if !names.insert(g.name.clone()) {
            p.push(&key, "the group name is used twice");
        }
        let members: Vec<Address> = g
            .members
            .iter()
            .filter_map(|m| p.check(&format!("{key}.members"), m.parse::<Address>()))
            .collect();
        if g.members.is_empty() {
            p.push(
                &format!("{key}.members"),
                "must list at least one requester",
            );
        }
        if g.actions.is_empty() || g.actions.iter().any(|a| a.trim().is_empty()) {
            p.push(
                &format!("{key}.actions"),
                "must list at least one non-empty action",
            );
        }
        let notify: Vec<Address> = g
            .notify
            .iter()
            .filter_map(|a| p.check(&format!("{key}.notify"), a.parse::<Address>()))
            .collect();
        let deadline = p.check(&format!("{key}.deadline"), duration(&g.deadline));
        let max_window = p.check(&format!("{key}.max_window"), duration(&g.max_window));
        let justification_only = match g.approval.as_deref() {
            None | Some("levels") => false,
            Some("justification") => true,
            Some(other) => {
                p.push(
                    &format!("{key}.approval"),
                    format!("{other:?} is not one of \"levels\", \"justification\""),
                );
                false
            }
        };
        if justification_only && !g.levels.is_empty() {
            p.push(
                &format!("{key}.levels"),
                "a justification-only group has no approval levels",
            );
        }
        if g.levels.is_empty() && !justification_only {
            p.push(&format!("{key}.levels"), "must have at least one level");
        }
        if g.levels.len() > 16 {
            p.push(&format!("{key}.levels"), "at most 16 levels are supported");
        }
        let mut reminders = Vec::new();
        for r in &g.reminders {
            match r
                .strip_suffix('%')
                .and_then(|n| n.trim().parse::<u8>().ok())
            {
                Some(pct) if (1..100).contains(&pct) => reminders.push(pct),
                _ => p.push(
                    &format!("{key}.reminders"),
                    format!("{r:?} is not a percentage of the deadline between 1% and 99%"),
                ),
            }
        }
        reminders.sort_unstable();
        reminders.dedup();
        let on_end = g.on_end.as_deref().and_then(|url| {
            p.check(
                &format!("{key}.on_end"),
                crate::webhooks::check_url(url).map(|()| url.to_owned()),
            )
        });
        let mut escalations = Vec::new();
        let mut levels = Vec::new();
        for (i, l) in g.levels.iter().enumerate() {
            let lkey = format!("{key}.levels[{}]", i + 1);
            // `@name` stands for the members of approver group `name`;
            // a person named twice (directly and through a group, or in
            // two groups) is one person, so a quorum counts people.
            let mut approvers: Vec<Address> = Vec::new();
            let mut direct: Vec<Address> = Vec::new();
            let mut listed_twice = false;
            for entry in &l.approvers {
                let found: Vec<Address> = match entry.strip_prefix('@') {
                    Some(name) => match named.get(name) {
                        Some(members) => members.clone(),
                        None => {
                            p.push(
                                &format!("{lkey}.approvers"),
                                format!("no approver group {name:?} in [approver_groups]"),
                            );
                            Vec::new()
                        }
                    },
                    None => p
                        .check(&format!("{lkey}.approvers"), entry.parse::<Address>())
                        .into_iter()
                        .collect(),
                };
                for a in found {
                    // The same address typed twice is a slip worth naming;
                    // overlap through a group is how groups work.
                    if !entry.starts_with('@') {
                        listed_twice |= direct.contains(&a);
                        direct.push(a.clone());
                    }
                    if !approvers.contains(&a) {
                        approvers.push(a);
                    }
                }
            }
            if listed_twice {
                p.push(&lkey, "an approver is listed twice");
            }
            if approvers.len() > 64 {
                p.push(&lkey, "at most 64 approvers per level are supported");
            }
            if l.quorum == 0 || usize::from(l.quorum) > approvers.len() {
                p.push(
                    &format!("{lkey}.quorum"),
                    format!(
                        "must be between 1 and the number of distinct approvers ({})",
                        approvers.len()
                    ),
                );
            }
            match (&l.escalate_after, l.escalation.is_empty()) {
                (None, true) => {}
                (Some(after), false) => {
                    let people: Vec<Address> = l
                        .escalation
                        .iter()
                        .filter_map(|a| {
                            p.check(&format!("{lkey}.escalation"), a.parse::<Address>())
                        })
                        .collect();
                    let after = p.check(&format!("{lkey}.escalate_after"), duration(after));
                    if let (Some(after), Ok(level)) = (after, u8::try_from(i + 1)) {
                        escalations.push(Escalation {
                            level,
                            approvers: people,
                            after,
                        });
                    }
                }
                _ => p.push(
                    &lkey,
                    "escalation and escalate_after go together: who, and after how long",
                ),
            }
            levels.push(Level {
                approvers,
                quorum: l.quorum,
            });
        }
        // One person decides at most once per request: listed at two levels,
        // they would approve twice.
        let mut first_level = std::collections::HashMap::new();
        for (i, l) in levels.iter().enumerate() {
            for a in &l.approvers {
                if let Some(j) = first_level.insert(a.clone(), i) {
                    p.push(
                        &format!("{key}.levels"),
                        format!(
                            "{a} is an approver at levels {} and {}: one person decides at most once per request",
                            j + 1,
                            i + 1
                        ),
                    );
                }
            }
        }
        if let (Some(deadline), Some(max_window)) = (deadline, max_window) {
            groups.push(Group {
                name: g.name,
                members,
                actions: g.actions,
                deadline,
                max_window,
                levels,
                emergency: g.emergency,
                justification_only,
                require_comment: g.require_comment,
                notify,
                reminders,
                escalations,
                on_end,
            });
        }
    }
    Policy { reasons, groups }
}

/// `[approver_groups]`: each name's members, as addresses.
fn named_groups(
    p: &mut Problems,
    raw: &std::collections::BTreeMap<String, Vec<String>>,
) -> std::collections::BTreeMap<String, Vec<Address>> {
    let mut out = std::collections::BTreeMap::new();
    for (name, members) in raw {
        let key = format!("approver_groups.{name}");
        if members.is_empty() {
            p.push(&key, "must list at least one address");
        }
        let mut list: Vec<Address> = Vec::new();
        for m in members {
            if let Some(a) = p.check(&key, m.parse::<Address>()) {
                if !list.contains(&a) {
                    list.push(a);
                }
            }
        }
        out.insert(name.clone(), list);
    }
    out
}
