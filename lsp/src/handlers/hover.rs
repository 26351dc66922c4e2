//! Hover: what a name is (its kind, type and doc comment), and what a duration or calendar
//! offset means in words.

use journey_compiler::index::{DefKind, Definition};
use journey_grammar::ast::{CalendarUnit, Span, TimeUnit};
use tower_lsp_server::ls_types::{Hover, HoverContents, MarkupContent, MarkupKind, Position};

use crate::handlers::{Target, def_at, offset, word_at};
use crate::state::DocSnapshot;
use crate::syntax::{TimeLiteral, TimeUse, parse_item_at, seconds_in_words, time_literal_at};

/// The hover at a position.
pub fn hover(snap: &DocSnapshot, pos: Position) -> Option<Hover> {
    let lines = snap.current.lines()?;
    let at = offset(snap, pos)?;
    if let Some(target) = def_at(snap, pos) {
        let text = describe_def(&target)?;
        let range = word_at(snap.text(), at).map(|s| lines.range(s));
        return Some(markdown(text, range));
    }
    // Parse only the declaration under the cursor (cheap), in the current text, else in the
    // last text without syntax errors.
    let (item, base) = parse_item_at(snap.text(), at);
    if let Some(t) = time_literal_at(&item, at.saturating_sub(base)) {
        let span = t.span();
        let range = lines.range(Span {
            start: span.start + base,
            end: span.end + base,
        });
        return Some(markdown(describe_time(&t), Some(range)));
    }
    let (good, mapped) = snap.good_at(at)?;
    let (item, base) = parse_item_at(good.text(), mapped);
    let t = time_literal_at(&item, mapped.saturating_sub(base))?;
    Some(markdown(describe_time(&t), None))
}

fn markdown(value: String, range: Option<tower_lsp_server::ls_types::Range>) -> Hover {
    Hover {
        contents: HoverContents::Markup(MarkupContent {
            kind: MarkupKind::Markdown,
            value,
        }),
        range,
    }
}

/// The words for a kind of definition.
pub fn kind_word(kind: DefKind) -> &'static str {
    match kind {
        DefKind::Event => "event",
        DefKind::Property => "event property",
        DefKind::Attribute => "profile attribute",
        DefKind::Segment => "segment",
        DefKind::Channel => "channel",
        DefKind::Parameter => "channel parameter",
        DefKind::Template => "template",
        DefKind::Offer => "offer",
        DefKind::Policy => "policy",
        DefKind::Journey => "journey",
        DefKind::Step => "step",
        DefKind::Goal => "goal",
        DefKind::Experiment => "experiment",
        DefKind::Test => "test",
    }
}

/// A one-line signature of a definition, as it would be written.
pub fn signature(defs: &[Definition], def: &Definition) -> String {
    let container = def
        .container
        .and_then(|c| defs.get(c as usize))
        .map(|c| c.name.as_str());
    let members = |kind: DefKind| -> Vec<String> {
        let me = defs
            .iter()
            .position(|d| std::ptr::eq(d, def))
            .map(|i| i as u32);
        defs.iter()
            .filter(|d| d.kind == kind && d.container.is_some() && d.container == me)
            .map(|d| format!("{}: {}", d.name, d.detail))
            .collect()
    };
    match def.kind {
        DefKind::Attribute => format!("profile.{}: {}", def.name, def.detail),
        DefKind::Property => format!(
            "{}.{}: {}",
            container.unwrap_or("event"),
            def.name,
            def.detail
        ),
        DefKind::Parameter => format!("{}: {}", def.name, def.detail),
        DefKind::Event => {
            let props = members(DefKind::Property);
            if props.is_empty() {
                format!("event {}", def.name)
            } else {
                format!("event {} {{ {} }}", def.name, props.join(", "))
            }
        }
        DefKind::Channel => {
            let params = members(DefKind::Parameter);
            let head = if def.detail.is_empty() {
                format!("channel {}", def.name)
            } else {
                def.detail.clone()
            };
            if params.is_empty() {
                head
            } else {
                format!("{head}\n  params {{ {} }}", params.join(", "))
            }
        }
        _ if !def.detail.is_empty() => def.detail.clone(),
        kind => format!("{} {}", kind_word(kind), def.name),
    }
}

fn describe_def(target: &Target) -> Option<String> {
    let analysis = &target.view.analysis;
    let defs = &analysis.compilation.index.defs;
    let def = target.definition()?;
    let mut out = format!("```journey\n{}\n```\n", signature(defs, def));
    let container = def
        .container
        .and_then(|c| defs.get(c as usize))
        .map(|c| format!(" of `{}`", c.name))
        .unwrap_or_default();
    let path = analysis.path(def.file);
    out.push_str(&format!(
        "*{}*{container}, declared in `{path}`",
        kind_word(def.kind)
    ));
    if def.kind == DefKind::Segment {
        let text = analysis.text(def.file);
        if let Some(decl) = text.get(def.full.range()) {
            let line = decl
                .lines()
                .find(|l| !l.trim_start().starts_with("///"))
                .unwrap_or("");
            if let Some((_, cond)) = line.split_once('=') {
                out.push_str(&format!("\n\nmembers: `{}`", cond.trim()));
            }
        }
    }
    if let Some(docs) = def.docs.as_deref().filter(|d| !d.trim().is_empty()) {
        out.push_str("\n\n---\n\n");
        out.push_str(docs.trim());
    }
    Some(out)
}

fn plural(n: f64, unit: &str) -> String {
    if n == 1.0 {
        format!("1 {unit}")
    } else {
        format!("{n} {unit}s")
    }
}

/// What a time literal means, in words.
pub fn describe_time(t: &TimeLiteral) -> String {
    match t {
        TimeLiteral::Duration(d, used) => match d.unit.seconds() {
            Some(unit_secs) => {
                let secs = d.count * unit_secs as f64;
                let head = format!(
                    "**duration**: exactly {} of elapsed time.",
                    seconds_in_words(secs)
                );
                let context = match used {
                    TimeUse::Wait => "The journey resumes this long after the step is reached.",
                    TimeUse::WaitTimeout => {
                        "If the event has not happened within this time, the customer goes on \
                         without it (through `else` when there is one)."
                    }
                    TimeUse::ExitAfter => {
                        "The maximum lifetime: a customer leaves the journey this long after \
                         entering it."
                    }
                    TimeUse::ReentryAfter => {
                        "A customer may enter again once this much time has passed since their \
                         last entry."
                    }
                    TimeUse::GoalWithin => {
                        "The conversion window: the goal counts if its event happens within \
                         this time."
                    }
                    TimeUse::Window => {
                        "A sliding window: only the occurrences of this last stretch of time \
                         count."
                    }
                    TimeUse::Cap => "The sliding window over which the cap counts messages.",
                    TimeUse::Value => "A duration value.",
                };
                format!(
                    "{head}\n\n{context}\n\nA duration ignores the calendar: `1 day` is always 24 \
                     hours, so across a daylight-saving change the local clock time shifts by an \
                     hour."
                )
            }
            None => {
                let unit = if d.unit == TimeUnit::Month {
                    "month"
                } else {
                    "year"
                };
                let amount = plural(d.count, unit);
                if *used == TimeUse::Wait {
                    format!(
                        "**calendar offset**: {amount} later on the customer's local calendar, at \
                         the same local time of day.\n\nA day that does not exist in the target \
                         month is clamped to the month's last day: 31 January + 1 month = 28 \
                         February (29 in a leap year){}.",
                        if unit == "year" {
                            "; a year is 12 months, so 29 February + 1 year = 28 February"
                        } else {
                            ""
                        }
                    )
                } else {
                    format!(
                        "**calendar offset** ({amount}), but an exact duration is expected here \
                         ([E0303 duration-expected]): months and years have no fixed length. \
                         Write it in days or weeks."
                    )
                }
            }
        },
        TimeLiteral::Calendar(c, at) => {
            let when = match at {
                Some(t) => format!("at {:02}:{:02} local time", t.hour, t.minute),
                None => "at the local time of day the customer entered".to_string(),
            };
            let n = c.count as f64;
            let body = match c.unit {
                CalendarUnit::Day if c.count == 0 => "on the day of entry".to_string(),
                CalendarUnit::Day => format!("{} after the entry", plural(n, "calendar day")),
                CalendarUnit::Week => format!(
                    "{} ({} calendar days) after the entry",
                    plural(n, "week"),
                    c.count.saturating_mul(7)
                ),
                CalendarUnit::Month => format!("{} after the entry", plural(n, "calendar month")),
                CalendarUnit::Year => format!("{} after the entry", plural(n, "calendar year")),
            };
            let rule = match c.unit {
                CalendarUnit::Day | CalendarUnit::Week => {
                    "Calendar days keep the local time of day even across a daylight-saving \
                     change (unlike `wait 7 days`, which is exactly 168 hours)."
                }
                CalendarUnit::Month | CalendarUnit::Year => {
                    "The day of the month is kept; a day that does not exist in the target \
                     month is clamped to its last day (an entry on 31 January reaches `month 1` \
                     on 28 February, or 29 in a leap year)."
                }
            };
            format!(
                "**calendar offset** from the entry: {body}, {when}, on the customer's local \
                 calendar.\n\n{rule}"
            )
        }
    }
}
