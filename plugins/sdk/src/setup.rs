//! What a component keeps of its channel set-up between calls: the answers of `host.config`
//! and `host.secret`, for as long as the host's packed calls (contract 1.2) name the same
//! set-up.

/// At most this many keys are kept per kind; reads past them go to the host each time.
const MAX_KEPT: usize = 64;

/// The answers read for one channel set-up.
#[derive(Debug, Default)]
pub(crate) struct SetupCache {
    /// The set-up of the call under way; `None` for a call that names none (a typed call),
    /// whose reads are not kept.
    setup: Option<u64>,
    config: Vec<(String, Option<String>)>,
    secrets: Vec<(String, Option<String>)>,
}

impl SetupCache {
    /// A call begins for `setup`: the answers of another set-up (or of none) are dropped.
    pub(crate) fn begin(&mut self, setup: Option<u64>) {
        if setup.is_none() || self.setup != setup {
            self.config.clear();
            self.secrets.clear();
        }
        self.setup = setup;
    }

    /// The configuration value `key`, from `read` (the host) the first time in a set-up.
    pub(crate) fn config(
        &mut self,
        key: &str,
        read: impl FnOnce(&str) -> Option<String>,
    ) -> Option<String> {
        kept(&mut self.config, self.setup.is_some(), key, read)
    }

    /// The secret `key`, from `read` (the host) the first time in a set-up.
    pub(crate) fn secret(
        &mut self,
        key: &str,
        read: impl FnOnce(&str) -> Option<String>,
    ) -> Option<String> {
        kept(&mut self.secrets, self.setup.is_some(), key, read)
    }
}

/// `key`'s answer in `answers`, or `read`'s, kept there when `keep` allows.
fn kept(
    answers: &mut Vec<(String, Option<String>)>,
    keep: bool,
    key: &str,
    read: impl FnOnce(&str) -> Option<String>,
) -> Option<String> {
    if !keep {
        return read(key);
    }
    if let Some((_, answer)) = answers.iter().find(|(k, _)| k == key) {
        return answer.clone();
    }
    let answer = read(key);
    if answers.len() < MAX_KEPT {
        answers.push((key.to_string(), answer.clone()));
    }
    answer
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;

    #[test]
    fn answers_are_kept_while_calls_name_the_same_setup() {
        let reads = Cell::new(0);
        let host = |key: &str| {
            reads.set(reads.get() + 1);
            (key != "absent").then(|| format!("{key}@{}", reads.get()))
        };
        let mut c = SetupCache::default();
        c.begin(Some(7));
        assert_eq!(c.config("url", host), Some("url@1".into()));
        assert_eq!(c.config("url", host), Some("url@1".into()));
        assert_eq!(c.config("absent", host), None);
        assert_eq!(c.config("absent", host), None);
        assert_eq!(c.secret("url", host), Some("url@3".into()), "secrets apart");
        assert_eq!(reads.get(), 3);
        // The next call of the same set-up reads nothing again.
        c.begin(Some(7));
        assert_eq!(c.config("url", host), Some("url@1".into()));
        assert_eq!(c.secret("url", host), Some("url@3".into()));
        assert_eq!(reads.get(), 3);
        // Another set-up reads afresh.
        c.begin(Some(8));
        assert_eq!(c.config("url", host), Some("url@4".into()));
        assert_eq!(c.secret("url", host), Some("url@5".into()));
        // A call that names no set-up reads every time, and forgets what was kept.
        c.begin(None);
        assert_eq!(c.config("url", host), Some("url@6".into()));
        assert_eq!(c.config("url", host), Some("url@7".into()));
        c.begin(Some(8));
        assert_eq!(c.config("url", host), Some("url@8".into()));
    }

    #[test]
    fn past_the_limit_keys_are_read_each_time() {
        let reads = Cell::new(0);
        let host = |key: &str| {
            reads.set(reads.get() + 1);
            Some(key.to_string())
        };
        let mut c = SetupCache::default();
        c.begin(Some(1));
        for i in 0..MAX_KEPT {
            c.config(&format!("k{i}"), host);
        }
        assert_eq!(reads.get(), MAX_KEPT);
        c.config("one-more", host);
        c.config("one-more", host);
        c.config("k0", host);
        assert_eq!(reads.get(), MAX_KEPT + 2);
    }
}
