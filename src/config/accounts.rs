//! `[[api.submitters]]`: local accounts (by name or uid) and the requesters
//! each may submit for, resolved to uids when the configuration is read.

use std::os::unix::fs::MetadataExt;

use super::raw::{RawAccount, RawSubmitter};
use super::Problems;
use crate::domain::ids::Address;
use crate::domain::submitters::{Admins, For, Submitters};

/// The rules of `raw`, or, when none are configured, the default: root and
/// the daemon's own account may submit for anyone, nobody else may.
pub(super) fn submitters(p: &mut Problems, raw: Option<Vec<RawSubmitter>>) -> Submitters {
    let Some(raw) = raw else {
        let mut rules = vec![(0, For::Anyone)];
        if let Some(own) = own_uid().filter(|u| *u != 0) {
            rules.push((own, For::Anyone));
        }
        return Submitters::new(rules);
    };
    let passwd = std::fs::read_to_string("/etc/passwd").unwrap_or_default();
    let mut rules = Vec::new();
    for (i, s) in raw.into_iter().enumerate() {
        let key = format!("api.submitters[{}]", i + 1);
        let uid = match (&s.user, s.uid) {
            (Some(name), None) => match uid_of(&passwd, name) {
                Some(uid) => Some(uid),
                None => {
                    p.push(&format!("{key}.user"), format!("no local account {name:?}"));
                    None
                }
            },
            (None, Some(uid)) => Some(uid),
            _ => {
                p.push(&key, "give exactly one of user and uid");
                None
            }
        };
        let whom = if s.requesters.iter().any(|r| r == "*") {
            if s.requesters.len() > 1 {
                p.push(&format!("{key}.requesters"), "\"*\" stands alone");
            }
            Some(For::Anyone)
        } else if s.requesters.is_empty() {
            p.push(
                &format!("{key}.requesters"),
                "list the requesters, or \"*\" for anyone",
            );
            None
        } else {
            let list: Vec<Address> = s
                .requesters
                .iter()
                .filter_map(|r| p.check(&format!("{key}.requesters"), r.parse::<Address>()))
                .collect();
            Some(For::Only(list))
        };
        if let (Some(uid), Some(whom)) = (uid, whom) {
            rules.push((uid, whom));
        }
    }
    Submitters::new(rules)
}

/// `[[api.admins]]`: the accounts that may cancel, revoke and override,
/// or, when none are configured, root and the daemon's own account.
pub(super) fn admins(p: &mut Problems, raw: Option<Vec<RawAccount>>) -> Admins {
    let Some(raw) = raw else {
        let mut uids = vec![0];
        uids.extend(own_uid().filter(|u| *u != 0));
        return Admins::new(uids);
    };
    let passwd = std::fs::read_to_string("/etc/passwd").unwrap_or_default();
    let mut uids = Vec::new();
    for (i, a) in raw.into_iter().enumerate() {
        let key = format!("api.admins[{}]", i + 1);
        match (&a.user, a.uid) {
            (Some(name), None) => match uid_of(&passwd, name) {
                Some(uid) => uids.push(uid),
                None => p.push(&format!("{key}.user"), format!("no local account {name:?}")),
            },
            (None, Some(uid)) => uids.push(uid),
            _ => p.push(&key, "give exactly one of user and uid"),
        }
    }
    Admins::new(uids)
}

/// The uid of account `name` in `passwd` (the `/etc/passwd` format).
fn uid_of(passwd: &str, name: &str) -> Option<u32> {
    passwd.lines().find_map(|line| {
        let mut fields = line.split(':');
        (fields.next()? == name).then_some(())?;
        fields.nth(1)?.parse().ok()
    })
}

/// The effective uid of this process, as the kernel shows it.
fn own_uid() -> Option<u32> {
    std::fs::metadata("/proc/self").ok().map(|m| m.uid())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accounts_are_found_by_name() {
        let passwd = "root:x:0:0:root:/root:/bin/bash\napprovald:x:998:998::/var/lib/approvald:/usr/sbin/nologin\nci:x:1001:1001::/home/ci:/bin/sh\n";
        assert_eq!(uid_of(passwd, "root"), Some(0));
        assert_eq!(uid_of(passwd, "ci"), Some(1001));
        assert_eq!(uid_of(passwd, "approval"), None);
        assert_eq!(uid_of(passwd, ""), None);
    }
}
