//! The completion rules decided by the last words before the cursor (`send` → channels,
//! `entry on` → events, `expect` → expectations...).

use journey_compiler::index::DefKind;

use super::{Context, Frame, Out, is_name, is_operand_end, is_unit};
use crate::vocabulary::{EXPECTATIONS, WEEKDAYS};

impl Context<'_> {
    /// Completions decided by the last words; `true` when a rule applied.
    pub(super) fn keyword_rules(
        &self,
        out: &mut Out,
        words: &[&str],
        frame: Option<&Frame>,
    ) -> bool {
        let w = |k: usize| -> &str {
            if k == 0 || k > words.len() {
                ""
            } else {
                words[words.len() - k]
            }
        };
        let has = |x: &str| words.contains(&x);
        let in_test = self.item == Some("test");
        let in_policy = frame == Some(&Frame::Policy);
        match w(1) {
            "send" => self.names(out, DefKind::Channel, |_| true),
            "with" if has("send") => out.keywords(&["offer", "best offer"]),
            "offer" if w(2) == "with" => self.names(out, DefKind::Offer, |_| true),
            "offer" if w(2) == "best" => out.keyword("from", None),
            "from" if has("best") => self.names(out, DefKind::Offer, |_| true),
            "," if has("best") && has("from") => self.names(out, DefKind::Offer, |_| true),
            "for" if w(2) == "wait" => self.names(out, DefKind::Event, |_| true),
            "for" if w(2) == "scenario" => self.names(out, DefKind::Segment, |_| true),
            "for" if w(3) == "template" => self.names(out, DefKind::Channel, |_| true),
            "on" if w(2) == "entry" => {
                self.names(out, DefKind::Event, |_| true);
                out.keywords(&["entering", "leaving"]);
            }
            "on" if w(2) == "exit" || w(3) == "goal" => self.names(out, DefKind::Event, |_| true),
            "on" if w(2) == "yearly" => out.keyword("profile", None),
            "on" if w(2) == "weekly" => out.keywords(WEEKDAYS),
            "on" if w(2) == "monthly" => out.keyword("day", None),
            "on" if has("quiet") => self.names(out, DefKind::Channel, |_| true),
            "," if has("quiet") && has("on") => self.names(out, DefKind::Channel, |_| true),
            "entering" | "leaving" => self.names(out, DefKind::Segment, |_| true),
            "emit" if !in_test || w(2) != "expect" => self.names(out, DefKind::Event, |_| true),
            "emit" => self.names(out, DefKind::Event, |_| true),
            "event" if in_test => self.names(out, DefKind::Event, |_| true),
            "entry" => out.keywords(&[
                "on",
                "on entering",
                "on leaving",
                "yearly on",
                "monthly on day",
                "weekly on",
                "daily at",
                "by api",
            ]),
            "reentry" => out.keywords(&["never", "after exit", "after"]),
            "exit" if words.len() == 1 && !in_test => out.keywords(&["on", "when", "after"]),
            "wait" => out.keywords(&["for", "until"]),
            "until" if w(2) == "wait" => out.keywords(WEEKDAYS),
            "until" if w(2) == "run" => {}
            x if WEEKDAYS.contains(&x) => out.keyword("at", None),
            "set" if !in_test || has("at") => out.keyword("profile", None),
            "after" if has("goal") && has("within") => self.journey_members(out, DefKind::Step),
            "scenario" if w(2) != "expect" => out.keyword("for", None),
            "eligible" => out.keyword("when", None),
            "valid" => out.keywords(&["from", "until"]),
            "channel" if words.len() == 2 => out.keyword("uses", None),
            "at" if in_policy => out.keyword("most", None),
            "priority" | "exempt" if in_policy => self.names(out, DefKind::Journey, |_| true),
            "," if in_policy && (has("priority") || has("exempt")) => {
                self.names(out, DefKind::Journey, |_| true)
            }
            "per" => out.keywords(&["day", "week", "hour", "7 days"]),
            "given" => out.keywords(&["profile", "customer"]),
            "run" => out.keyword("until", None),
            "expect" => out.keywords(EXPECTATIONS),
            "no" if w(2) == "expect" => out.keywords(&["send", "goal"]),
            "not" if w(2) == "expect" => out.keywords(&["reached", "entered"]),
            "reached" | "entered" | "enter" => self.names(out, DefKind::Journey, |_| true),
            "exit" if w(2) == "expect" => self.names(out, DefKind::Journey, |_| true),
            "goal" if w(2) == "expect" || w(2) == "no" => {
                self.names(out, DefKind::Journey, |_| true);
                self.names(out, DefKind::Goal, |_| true);
            }
            "scenario" => {
                self.names(out, DefKind::Segment, |_| true);
                out.keyword("otherwise", None);
            }
            "in" if has("scenario") && has("expect") => self.names(out, DefKind::Journey, |_| true),
            _ => return self.multiword_rules(out, words, frame),
        }
        true
    }

    fn multiword_rules(&self, out: &mut Out, words: &[&str], frame: Option<&Frame>) -> bool {
        let n = words.len();
        let w = |k: usize| -> &str { if k == 0 || k > n { "" } else { words[n - k] } };
        let in_policy = frame == Some(&Frame::Policy);
        // `send CH |`: the templates written for CH.
        if w(2) == "send" && is_name(w(1)) {
            let ch = w(1).to_string();
            let suffix = format!(" for {ch}");
            self.names(out, DefKind::Template, |d| d.detail.ends_with(&suffix));
            if self.item != Some("test") {
                out.keyword(
                    "template",
                    Some("template \"ID\" — a template stored at the provider"),
                );
            }
            return true;
        }
        // `send CH MSG |` or `send CH MSG { ... } |`.
        if let Some(p) = words.iter().rposition(|x| *x == "send")
            && n >= p + 3
            && !words[p..].contains(&"with")
            && (is_operand_end(w(1)) || w(1) == "}")
            && self.item != Some("test")
        {
            out.keyword("with offer", None);
            out.keyword("with best offer", None);
            return true;
        }
        // `wait for E |`.
        if w(3) == "wait" && w(2) == "for" {
            out.keywords(&["where", "within"]);
            return true;
        }
        // `within D |` in a wait.
        if words.contains(&"wait") && words.contains(&"within") && is_unit(w(1)) {
            out.keyword("else", None);
            return true;
        }
        // `entry on E |`, `exit on E |`.
        if w(2) == "on" && matches!(w(3), "entry" | "exit") && is_name(w(1)) {
            out.keyword("where", None);
            return true;
        }
        // `goal G on E |`.
        if w(4) == "goal" && w(2) == "on" {
            out.keywords(&["where", "within"]);
            return true;
        }
        if w(2) == "goal" && is_name(w(1)) && self.item == Some("journey") {
            out.keyword("on", None);
            return true;
        }
        if words.contains(&"goal") && words.contains(&"within") && is_unit(w(1)) {
            out.keyword("after", None);
            return true;
        }
        // `expect send CH |`.
        if w(3) == "send" && matches!(w(4), "expect" | "no") && is_name(w(2)) {
            return false;
        }
        if w(2) == "send" && self.item == Some("test") {
            let ch = w(1).to_string();
            let suffix = format!(" for {ch}");
            self.names(out, DefKind::Template, |d| d.detail.ends_with(&suffix));
            return true;
        }
        if w(3) == "expect" && w(2) == "scenario" {
            out.keyword("in", None);
            return true;
        }
        // `at 2027-01-04 09:00 |` in a test.
        if self.item == Some("test")
            && words.first() == Some(&"at")
            && n <= 3
            && words
                .iter()
                .skip(1)
                .all(|x| x.chars().next().is_some_and(|c| c.is_ascii_digit()))
            && n >= 3
        {
            out.keywords(&["event", "set", "enter"]);
            return true;
        }
        // Policies: `at most N |` → a channel or `messages`.
        if in_policy && w(3) == "at" && w(2) == "most" {
            out.keyword("messages", None);
            self.names(out, DefKind::Channel, |_| true);
            return true;
        }
        if in_policy && w(2) == "to" && words.contains(&"quiet") {
            out.keyword("on", None);
            return true;
        }
        if w(1) == "else" {
            out.keyword("if", None);
            return true;
        }
        false
    }
}
