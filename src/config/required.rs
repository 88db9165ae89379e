//! Required keys, checked before the typed read so that `check-config`
//! reports every problem of a file in one run: a missing key is reported,
//! a placeholder stands in for it, and the typed validation still runs over
//! everything else. Problems the placeholder itself causes are dropped.

use serde_json::{Map, Value};

/// Required keys of the top level: (section, key, placeholder).
const REQUIRED: &[(&str, &str, Placeholder)] = &[
    ("store", "path", Placeholder::Text),
    ("mail", "address", Placeholder::Text),
    ("imap", "host", Placeholder::Text),
    ("imap", "port", Placeholder::Number),
    ("imap", "tls", Placeholder::Text),
    ("imap", "username", Placeholder::Text),
    ("imap", "password_file", Placeholder::Text),
    ("smtp", "host", Placeholder::Text),
    ("smtp", "port", Placeholder::Number),
    ("smtp", "tls", Placeholder::Text),
    ("tokens", "key_file", Placeholder::Text),
    ("api", "socket", Placeholder::Text),
    ("audit", "syslog", Placeholder::Text),
];

/// Required keys of each `[[groups]]` table.
const GROUP_REQUIRED: &[(&str, Placeholder)] = &[
    ("name", Placeholder::Text),
    ("members", Placeholder::List),
    ("actions", Placeholder::List),
    ("deadline", Placeholder::Text),
    ("max_window", Placeholder::Text),
    // `levels` is not here: a justification-only group has none, and a
    // group of levels without any is named by the policy check.
];

/// Required keys of each level of a group.
const LEVEL_REQUIRED: &[(&str, Placeholder)] = &[
    ("approvers", Placeholder::List),
    ("quorum", Placeholder::Number),
];

#[derive(Clone, Copy)]
enum Placeholder {
    Text,
    Number,
    List,
}

impl Placeholder {
    fn value(self) -> Value {
        match self {
            Placeholder::Text => Value::String(String::new()),
            Placeholder::Number => Value::from(0u8),
            Placeholder::List => Value::Array(Vec::new()),
        }
    }
}

/// Fills every missing required key of `root` with a placeholder and
/// returns the keys that were missing, as dotted paths.
pub(super) fn fill_missing(root: &mut Value) -> Vec<String> {
    let mut missing = Vec::new();
    let Some(top) = root.as_object_mut() else {
        return missing;
    };
    for (section, key, placeholder) in REQUIRED {
        let table = top
            .entry(section.to_string())
            .or_insert_with(|| Value::Object(Map::new()));
        if let Some(table) = table.as_object_mut() {
            if !table.contains_key(*key) {
                missing.push(format!("{section}.{key}"));
                table.insert(key.to_string(), placeholder.value());
            }
        }
    }
    if let Some(groups) = top.get_mut("groups").and_then(Value::as_array_mut) {
        let mut complete = Vec::with_capacity(groups.len());
        for (i, mut group) in groups.drain(..).enumerate() {
            let gkey = format!("groups[{}]", i + 1);
            let before = missing.len();
            fill(&mut group, &gkey, GROUP_REQUIRED, &mut missing);
            if let Some(levels) = group.get_mut("levels").and_then(Value::as_array_mut) {
                for (j, level) in levels.iter_mut().enumerate() {
                    fill(
                        level,
                        &format!("{gkey}.levels[{}]", j + 1),
                        LEVEL_REQUIRED,
                        &mut missing,
                    );
                }
            }
            // An incomplete group is reported by what it lacks; checking
            // the rest of it would only report the placeholders.
            if missing.len() == before {
                complete.push(group);
            }
        }
        *groups = complete;
    }
    missing
}

/// Whether `problem` (as `key: why`) is only a consequence of a placeholder
/// put in for one of the `missing` keys, or of a group left out for them.
pub(super) fn caused_by_placeholder(problem: &str, missing: &[String]) -> bool {
    let dropped_group = missing.iter().any(|m| m.starts_with("groups["));
    missing
        .iter()
        .any(|m| problem.starts_with(&format!("{m}:")))
        || (dropped_group && problem.starts_with("groups: "))
}

fn fill(table: &mut Value, prefix: &str, keys: &[(&str, Placeholder)], missing: &mut Vec<String>) {
    let Some(table) = table.as_object_mut() else {
        return;
    };
    for (key, placeholder) in keys {
        if !table.contains_key(*key) {
            missing.push(format!("{prefix}.{key}"));
            table.insert(key.to_string(), placeholder.value());
        }
    }
}
