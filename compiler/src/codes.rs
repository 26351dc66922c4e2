//! Every diagnostic code: its stable number, kebab-case name, default severity, summary and
//! long explanation with a wrong and a right example. `journey explain CODE` prints the
//! explanation; `docs/language.md` lists the same table (a test keeps them in step).

use serde::Serialize;

/// How bad a diagnostic is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Blocks compilation.
    Error,
    /// Worth fixing; compilation goes on.
    Warning,
}

/// A diagnostic code.
#[derive(Debug, PartialEq, Eq, Serialize)]
pub struct Code {
    /// `E0201`.
    pub code: &'static str,
    /// `unknown-name`.
    pub name: &'static str,
    /// Default severity.
    pub severity: Severity,
    /// One line.
    pub summary: &'static str,
    /// Long explanation with a wrong and a right example.
    #[serde(skip)]
    pub explanation: &'static str,
}

macro_rules! codes {
    ($($id:ident = $code:literal $name:literal $sev:ident $summary:literal $expl:literal;)*) => {
        $(
            #[doc = $summary]
            pub static $id: Code = Code { code: $code, name: $name, severity: Severity::$sev, summary: $summary, explanation: $expl };
        )*
        /// Every code, in numeric order.
        pub static ALL: &[&Code] = &[$(&$id),*];
    };
}

/// Finds a code by number (`E0201`, case-insensitive) or name (`unknown-name`).
pub fn lookup(query: &str) -> Option<&'static Code> {
    ALL.iter()
        .copied()
        .find(|c| c.code.eq_ignore_ascii_case(query) || c.name == query)
}

codes! {
SYNTAX_ERROR = "E0001" "syntax-error" Error "The text does not follow the grammar."
"The parser could not read this part of the file. The message says what it found and what it
expected there; the rest of the file is still checked, declaration by declaration.

Wrong:
    segment jeune = profile.age <
Right:
    segment jeune = profile.age < 26";

INVALID_LITERAL = "E0002" "invalid-literal" Error "A literal is out of range or has the wrong form for its place."
"Numbers must fit their place: a day of the month is 1 to 31; a calendar wait counts whole
months or years; a timeline offset is at most 100 years; an offer priority is between
-1000000 and 1000000; a cap allows at least one message in a window longer than zero; quiet
hours start and end at different times; an offer's `until` comes after its `from`.

Wrong:
    entry monthly on day 32 at 09:00
    wait 1.5 months
    quiet hours 21:00 to 21:00
Right:
    entry monthly on day 31 at 09:00   // clamped to the month's last day
    wait 45 days
    quiet hours 21:00 to 08:00";

INVALID_TIME = "E0003" "invalid-time" Error "A time of day is not between 00:00 and 23:59."
"Times of day are local times written HH:MM with hours 0 to 23 and minutes 0 to 59.

Wrong:
    quiet hours 21:00 to 24:00
Right:
    quiet hours 21:00 to 08:00";

INVALID_DATE = "E0004" "invalid-date" Error "A date does not exist in the calendar."
"Dates are written YYYY-MM-DD and must exist (February 29 only in leap years).

Wrong:
    valid until 2027-02-29
Right:
    valid until 2028-02-29";

INVALID_TIMEZONE = "E0005" "invalid-timezone" Error "A time zone name is not in the IANA time zone database."
"Customer time zones and the project default are IANA names such as `Europe/Paris`.

Wrong:
    timezone: timezone = \"Paris\"
Right:
    timezone: timezone = \"Europe/Paris\"";

MISSING_FILE = "E0101" "missing-file" Error "An imported file does not exist."
"`import` paths are relative to the importing file.

Wrong:
    import \"segment.journey\"     // the file is segments.journey
Right:
    import \"segments.journey\"";

IMPORT_CYCLE = "E0102" "import-cycle" Error "Files import each other in a cycle."
"Imports must form a tree: move the shared declarations to a file that both import.

Wrong:
    // a.journey
    import \"b.journey\"
    // b.journey
    import \"a.journey\"
Right:
    // a.journey and b.journey both
    import \"shared.journey\"";

INVALID_MANIFEST = "E0103" "invalid-manifest" Error "The project manifest `journey.toml` is not valid."
"The manifest is TOML with a `[project]` table holding `name` and, optionally, `timezone`
(the default customer time zone).

Wrong:
    [project]
    nom = \"telecom\"
Right:
    [project]
    name = \"telecom\"
    timezone = \"Europe/Paris\"";

NOT_IMPORTED = "E0104" "not-imported" Error "A name is declared in a file this file does not import."
"A file sees its own declarations and those of the files it imports (transitively).

Wrong:
    // journey.journey, using a segment of segments.journey
    scenario for jeune { ... }
Right:
    import \"segments.journey\"
    scenario for jeune { ... }";

INVALID_PLUGIN_MANIFEST = "E0105" "invalid-plugin-manifest" Error "A plugin manifest named in `journey.toml` is missing or not valid."
"Each `[plugins.NAME]` table of `journey.toml` names the plugin's manifest, the JSON that
`journey plugin check COMPONENT.wasm --format json` prints, by a path relative to
`journey.toml`. The file must exist, be a plugin manifest (right fields, right types), have
no problem (names, versions, a contract this runtime supports, no duplicate entries, valid
hosts), and describe the plugin of the table's name. Regenerate it from the component
rather than editing it by hand.

Wrong:
    [plugins.sms]
    manifest = \"plugins/sms.jsn\"      # no such file
Right:
    [plugins.sms]
    manifest = \"plugins/sms.json\"     # journey plugin check sms.wasm --format json > plugins/sms.json";

UNKNOWN_NAME = "E0201" "unknown-name" Error "A name refers to nothing declared."
"Every event, segment, channel, template, offer, journey, step label, goal, experiment and
function must be declared. The help suggests the closest declared name.

Wrong:
    scenario for jeunes { send sms bienvenue }
Right:
    scenario for jeune { send sms bienvenue }";

UNKNOWN_PROPERTY = "E0202" "unknown-property" Error "A profile attribute, event property or offer field does not exist."
"`profile.x` must be an attribute of the profile schema, `event.x` a property of that event.

Wrong:
    segment jeune = profile.ages < 26
Right:
    segment jeune = profile.age < 26";

UNKNOWN_TYPE = "E0203" "unknown-type" Error "A type name is not one of the language's types."
"Types are string, number, bool, date, timestamp, duration, timezone, list<T> and T? (optional).

Wrong:
    age: int
Right:
    age: number";

DUPLICATE = "E0204" "duplicate-definition" Error "A name is declared twice."
"Names are unique per kind across the project: two segments, two journeys, two labels in a
journey, two properties of one event... cannot share a name.

Wrong:
    segment jeune = profile.age < 26
    segment jeune = profile.age < 25
Right:
    segment jeune = profile.age < 26
    segment tres_jeune = profile.age < 20";

TYPE_MISMATCH = "E0301" "type-mismatch" Error "A value has the wrong type for where it is used."
"Conditions are bool; comparisons need two values of the same type; parameters, profile updates
and event properties take their declared type. Optional values may be compared but not used in
arithmetic: use `coalesce(x, default)`.

Wrong:
    segment jeune = profile.age < \"26\"
Right:
    segment jeune = profile.age < 26";

WRONG_ARGUMENTS = "E0302" "wrong-arguments" Error "A built-in function is called with the wrong number of arguments."
"Built-ins: len(x), lower(s), upper(s), contains(list, x), is_set(x), coalesce(x, default),
days_since(t), years_since(d), round(n).

Wrong:
    segment adulte = years_since() >= 18
Right:
    segment adulte = years_since(profile.birthday) >= 18";

DURATION_EXPECTED = "E0303" "duration-expected" Error "A calendar offset (months, years) is used where an exact duration is needed."
"Durations are exact elapsed time (seconds to weeks). Months and years have no fixed length, so
they are calendar offsets, only allowed in `wait N months` and in timelines.

Wrong:
    segment actif = count(login over last 3 months) > 0
Right:
    segment actif = count(login over last 90 days) > 0";

NOT_CONSTANT = "E0304" "not-constant" Error "A value that must be known at compile time is computed."
"Defaults, channel configuration and test inputs must be literals.

Wrong:
    given profile { age: profile.age + 1 }
Right:
    given profile { age: 23 }";

EVENT_NOT_IN_SCOPE = "E0401" "event-not-in-scope" Error "An event property is read where that event has not happened."
"`signup.plan` can be read only after the journey was entered on `signup` or after a
`wait for signup`. Templates are checked at every send that uses them.

Wrong:
    journey j {
      entry on signup
      send email relance { plan: purchase.sku }
    }
Right:
    journey j {
      entry on signup
      wait for purchase within 3 days else { exit }
      send email relance { plan: purchase.sku }
    }";

OFFER_NOT_IN_SCOPE = "E0402" "offer-not-in-scope" Error "`offer.<field>` is used by a send that chooses no offer."
"A template or message that reads `offer.title` must be sent `with best offer` or
`with offer NAME`.

Wrong:
    send email offre
Right:
    send email offre with best offer";

SEGMENT_CYCLE = "E0501" "segment-cycle" Error "Segments are defined in terms of each other in a cycle."
"A segment may use other segments, but not itself, directly or through others.

Wrong:
    segment a = b and profile.age > 18
    segment b = a
Right:
    segment a = profile.age > 18
    segment b = a and profile.optin_sms";

EXPERIMENT_WEIGHTS = "E0601" "experiment-weights" Error "Experiment variants and holdout do not add up to 100%."
"Every customer must land in exactly one variant or the holdout.

Wrong:
    experiment relance { variant a 50% { ... } variant b 40% { ... } }
Right:
    experiment relance { variant a 45% { ... } variant b 45% { ... } holdout 10% }";

UNREACHABLE_STEP = "W0602" "unreachable-step" Warning "A step can never run."
"Steps after an `exit`, or after a branch whose every path exits, never run.

Wrong:
    exit
    send email merci
Right:
    send email merci
    exit";

WAIT_WITHOUT_TIMEOUT = "W0603" "wait-without-timeout" Warning "A wait for an event has no timeout."
"Without `within`, customers whose event never comes wait until the journey ends (forever
unless the journey has `exit after`).

Wrong:
    wait for purchase
Right:
    wait for purchase within 7 days else { send email relance }";

TIMELINE_ORDER = "E0604" "timeline-out-of-order" Error "Timeline entries are not in chronological order."
"Entries of a timeline are written in the order they happen, so the timeline reads as a calendar.

Wrong:
    timeline { month 6: ...  week 1: ... }
Right:
    timeline { week 1: ...  month 6: ... }";

TIMELINE_DUPLICATE = "E0605" "timeline-duplicate" Error "Two timeline entries fall at the same time."
"Merge the steps into one entry.

Wrong:
    timeline { week 1: send sms a  week 1: send email b }
Right:
    timeline { week 1: send sms a
                       send email b }";

TIMELINE_BEYOND_EXIT = "W0606" "timeline-beyond-exit" Warning "A timeline entry falls after the journey's maximum lifetime."
"The journey ends at `exit after`, so later entries never run.

Wrong:
    exit after 180 days
    timeline { month 10: send email parrainage }
Right:
    exit after 400 days
    timeline { month 10: send email parrainage }";

GOAL_WINDOW = "W0607" "goal-window-too-long" Warning "A goal's window is longer than the journey can live."
"Conversions are counted while the customer is in the journey; a window longer than the
journey's longest life is cut short.

Wrong:
    exit after 30 days
    goal achat on purchase within 90 days
Right:
    exit after 90 days
    goal achat on purchase within 90 days";

CONSENT_MISSING = "E0608" "consent-attribute-missing" Error "A channel requires a consent attribute the profile does not have."
"A channel's `requires` condition reads profile attributes; if the attribute does not exist,
consent could never be checked and every send on the channel would be skipped.

Wrong:
    channel sms uses \"sms\" { requires profile.optin_sms }   // no optin_sms in profile
Right:
    profile { optin_sms: bool }
    channel sms uses \"sms\" { requires profile.optin_sms }";

UNKNOWN_PARAMETER = "E0609" "unknown-parameter" Error "A send passes a parameter its channel does not take."
"Parameters are checked against the channel's declared `params { }` schema or, for a
channel without one whose plugin is listed in `[plugins]`, the parameters of the plugin's
manifest.

Wrong:
    send email bilan { periode: \"6 mois\" }
Right:
    send email bilan { period: \"6 mois\" }";

MISSING_PARAMETER = "E0610" "missing-parameter" Error "A send omits a required parameter of its channel."
"Parameters whose type is not optional (`T?`) must be given.

Wrong:
    send call_center appel
Right:
    send call_center appel { queue: \"fidelisation\" }";

MULTIPLE_CRITICAL = "W0611" "multiple-critical-moments" Warning "A journey marks more than one critical moment."
"The critical moment is the one touchpoint that matters most; marking several dilutes it.

Wrong:
    critical send sms a
    critical send email b
Right:
    critical send sms a
    send email b";

SCHEDULE_WITHOUT_REENTRY = "W0612" "schedule-without-reentry" Warning "A recurring entry would run only once."
"With `reentry never` (the default), a yearly, monthly, weekly or daily entry starts a customer's
journey once in their life.

Wrong:
    entry monthly on day 1 at 09:00
Right:
    entry monthly on day 1 at 09:00
    reentry after exit";

NO_ENTRY = "E0613" "journey-without-entry" Error "A journey has no `entry` clause."
"Nothing could start it.

Wrong:
    journey j { send email a }
Right:
    journey j { entry on signup  send email a }";

MISPLACED_STEP = "E0614" "misplaced-step" Error "A step is written where it cannot run."
"Timelines belong at the top level of a journey (one per journey); timeline entries cannot wait.

Wrong:
    timeline { week 1: wait 2 days
                       send sms a }
Right:
    timeline { week 1 at 10:00: send sms a }";

JOURNEY_TOO_LARGE = "E0615" "journey-too-large" Error "A project or a journey has more parts than the runtime can schedule."
"The runtime names a journey, a timeline entry and an entry clause in a few bits of each
pending timer: a project has at most 65,535 journeys, a journey at most 8,190 timeline
entries and 8,192 entry clauses. Programs written by hand come nowhere near; a generated
one may.

Wrong:
    timeline { day 0: send email d0  day 1: send email d1  ...  day 8190: send email d8190 }
Right:
    split the journey, or send from one entry per week with a template that varies";

UNKNOWN_PLUGIN = "W0701" "unknown-plugin" Warning "A channel uses a plugin that the `[plugins]` table of `journey.toml` does not list."
"When `journey.toml` has a `[plugins]` table, every channel's plugin should be in it, so the
channel's configuration, parameters and templates are checked against the plugin's
manifest. A channel whose plugin is not listed is checked against its own `params { }` only
(as in a project without `[plugins]`), and the runtime will not find its component. The
help suggests the closest listed plugin.

Wrong:
    channel sms uses \"smss\" { ... }        // [plugins.sms] in journey.toml
Right:
    channel sms uses \"sms\" { ... }";

UNKNOWN_CONFIG_KEY = "E0702" "unknown-config-key" Error "A channel sets a configuration key its plugin does not read."
"The keys of a channel's `config { }` are the ones the plugin's manifest declares; any other
key is probably misspelt, and would be ignored. The help suggests the closest key.

Wrong:
    channel sms uses \"sms\" { config { sendr: \"TELCO\" ... } }
Right:
    channel sms uses \"sms\" { config { sender: \"TELCO\" ... } }";

MISSING_CONFIG_KEY = "E0703" "missing-config-key" Error "A channel omits a configuration key its plugin requires."
"Keys the plugin's manifest marks `required` must be set by every channel that uses the
plugin; the message lists the missing ones.

Wrong:
    channel sms uses \"sms\" { config { sender: \"TELCO\" } }
Right:
    channel sms uses \"sms\" {
      config {
        sender: \"TELCO\"
        endpoint: env(\"SMS_API_URL\")
        api_key: secret(\"SMS_API_KEY\")
      }
    }";

SECRET_EXPECTED = "E0704" "secret-expected" Error "A credential is configured as a literal or `env(...)` instead of `secret(\"...\")`."
"Keys the plugin's manifest marks `secret` are credentials: they must come from the runtime's
secret store, `secret(\"NAME\")`, never from the source or the environment. (Any other key may
also come from a secret.)

Wrong:
    config { api_key: env(\"SMS_API_KEY\") }
Right:
    config { api_key: secret(\"SMS_API_KEY\") }";

CHANNEL_PARAM_MISMATCH = "E0705" "channel-param-mismatch" Error "A channel's `params { }` disagrees with its plugin's manifest."
"A channel without `params { }` takes the parameters of its plugin's manifest (a required
parameter as `T`, an optional one as `T?`). A channel that declares `params { }` may only
narrow that list: each parameter it declares must be in the manifest with the same type and
optionality (unless the plugin accepts further parameters, like a webhook), and it must keep
every parameter the manifest requires.

Wrong:
    channel sms uses \"sms\" { params { lien_court: string? } }   // the plugin says short_link
    channel push uses \"push\" { params { badge: string? } }      // the plugin says number?
Right:
    channel sms uses \"sms\" { params { short_link: string? } }
    channel push uses \"push\" { params { badge: number? } }";

MISSING_TEMPLATE_PART = "E0706" "missing-template-part" Error "A template lacks a part its channel's plugin requires."
"When a plugin's manifest lists the content parts it reads, every template for a channel of
that plugin must write the parts marked `required` (an e-mail's `subject`, a push
notification's `title`).

Wrong:
    template bienvenue for email { text: \"Bonjour\" }
Right:
    template bienvenue for email { subject: \"Bienvenue\", text: \"Bonjour\" }";

UNKNOWN_TEMPLATE_PART = "W0707" "unknown-template-part" Warning "A template has a part its channel's plugin does not read."
"When a plugin's manifest lists the content parts it reads, a template part it does not list
is never delivered; it is probably misspelt. The help suggests the closest part. A plugin
whose manifest lists no parts (a webhook) reads every part.

Wrong:
    template rappel for sms { texte: \"Votre facture est disponible\" }
Right:
    template rappel for sms { text: \"Votre facture est disponible\" }";

TEST_MISSING_ATTRIBUTE = "E0801" "test-missing-attribute" Error "A test's profile omits a required attribute."
"Attributes that are neither optional nor defaulted must be given in `given profile`.

Wrong:
    given profile { age: 22 }
Right:
    given profile { age: 22, optin_sms: true }";

TEST_TIME_ORDER = "E0802" "test-time-order" Error "A test's inputs go back in time."
"Inputs of a test run on a virtual clock that only moves forward.

Wrong:
    at 2027-01-05 09:00 event login
    at 2027-01-04 09:00 event signup
Right:
    at 2027-01-04 09:00 event signup
    at 2027-01-05 09:00 event login";
}
