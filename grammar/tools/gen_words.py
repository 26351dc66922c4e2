#!/usr/bin/env python3
"""Regenerates grammar/src/words.rs from grammar/src/journey.pest.

Every non-silent rule needs words in WORDS below: they are what syntax errors say.
Run from the repository root: python3 grammar/tools/gen_words.py
"""
import re

g = open('grammar/src/journey.pest').read()
WORDS = {
 'ident':'a name','name':'a name','docs':'a doc comment','doc_line':'a doc comment','reserved':'a reserved word',
 'number':'a number','int':'a whole number','signed_int':'a whole number','date':'a date such as `2027-01-04`',
 'time_of_day':'a time of day such as `09:00`','timestamp':'a date and time such as `2027-01-04 09:00`',
 'time_unit':'a unit (`minutes`, `hours`, `days`, `weeks`, `months`, `years`)',
 'duration':'a duration such as `7 days`','percent':'a percentage such as `50%`','boolean':'`true` or `false`',
 'string':'a string in double quotes','str_text':'text','escape':'an escape such as `\\\\n`','interp':'an interpolation such as `{profile.first_name}`',
 'expr':'an expression','op_not':'`not`','op_neg':'`-`','op_or':'`or`','op_and':'`and`','op_in':'`in`','op_not_in':'`not in`',
 'op_eq':'`==`','op_ne':'`!=`','op_le':'`<=`','op_ge':'`>=`','op_lt':'`<`','op_gt':'`>`','op_add':'`+`','op_sub':'`-`','op_mul':'`*`','op_div':'`/`',
 'paren':'a parenthesised expression','list':'a list such as `[1, 2]`','call':'a name, a path such as `profile.age` or a call such as `len(x)`','call_args':'arguments in parentheses','path':'a name or path such as `profile.age`',
 'profile_root':'`profile`','aggregate':'an aggregate such as `count(login over last 30 days)`',
 'agg_fn':'`count`, `sum`, `avg`, `min`, `max` or `last`','window':'`over last <duration>`',
 'file':'a declaration','item_eoi':'a declaration','item':'a declaration (`profile`, `event`, `segment`, `channel`, `template`, `offer`, `policy`, `journey`, `test` or `import`)',
 'import_decl':'`import "file.journey"`','profile_decl':'`profile { ... }`','field':'a field such as `age: number`',
 'type_expr':'a type (`string`, `number`, `bool`, `date`, `timestamp`, `duration`, `timezone`, `list<T>`)','optional':'`?`',
 'event_decl':'an event declaration','segment_decl':'a segment declaration','channel_decl':'a channel declaration',
 'channel_config':'`config { ... }`','config_entry':'a configuration entry such as `sender: "TELCO"`',
 'env_ref':'`env("NAME")`','secret_ref':'`secret("NAME")`','channel_params':'`params { ... }`','channel_consent':'`requires <condition>`',
 'template_decl':'a template declaration','template_part':'a template part such as `subject: "..."`',
 'offer_decl':'an offer declaration','offer_eligible':'`eligible when <condition>`','offer_priority':'`priority <number>`',
 'offer_valid':'`valid from <date> until <date>`','valid_from':'`from <date>`','valid_until':'`until <date>`','offer_field':'an offer field such as `title: "..."`',
 'policy_decl':'a policy declaration','cap_rule':'a cap such as `at most 3 messages per 7 days`','cap_subject':'`messages` or a channel name',
 'all_messages':'`messages`','cap_window':'a window such as `7 days` or `day`','quiet_rule':'`quiet hours 21:00 to 08:00`',
 'quiet_channels':'`on <channels>`','priority_rule':'`priority <journeys>`','exempt_rule':'`exempt <journeys>`','ident_list':'a list of names',
 'journey_decl':'a journey declaration','entry_clause':'`entry ...`',
 'entry_segment':'`on entering <segment>`','segment_edge':'`entering` or `leaving`','entry_event':'`on <event>`',
 'entry_yearly':'`yearly on profile.<date attribute>`','entry_monthly':'`monthly on day <N>`','entry_weekly':'`weekly on <weekday>`',
 'entry_daily':'`daily at <HH:MM>`','entry_api':'`by api`','weekday':'a weekday such as `monday`','at_time':'`at <HH:MM>`','where_clause':'`where <condition>`',
 'reentry_clause':'`reentry never`, `reentry after exit` or `reentry after <duration>`','reentry_never':'`never`','reentry_after_exit':'`after exit`','reentry_after':'`after <duration>`',
 'exit_clause':'`exit on <event>`, `exit when <condition>` or `exit after <duration>`','exit_on':'`on <event>`','exit_when':'`when <condition>`','exit_after':'`after <duration>`',
 'goal_clause':'`goal <name> on <event> within <duration>`','goal_after':'`after <step label>`',
 'block':'a block `{ ... }`','statement':'a step (`send`, `wait`, `if`, `scenario`, `experiment`, `timeline`, `set`, `emit`, `exit`)',
 'label':'a step label such as `welcome:`','critical':'`critical`','send_stmt':'`send <channel> <message>`',
 'message':'a template name, an inline "message" or `template "id"`','external':'`template "id"`','arguments':'`{ name: value, ... }`','argument':'`name: value`',
 'send_offer':'`with best offer` or `with offer <name>`','best_offer':'`best offer`','named_offer':'`offer <name>`',
 'wait_stmt':'`wait <duration>`','wait_until_stmt':'`wait until <time>`','wait_for_stmt':'`wait for <event>`','wait_timeout':'`within <duration>`','else_block':'`else { ... }`',
 'if_stmt':'`if <condition> { ... }`','else_if':'`else if`','scenario_stmt':'`scenario for <segment> { ... }`','scenario_arm':'`scenario for <segment> { ... }`','otherwise_arm':'`otherwise { ... }`',
 'experiment_stmt':'`experiment <name> { ... }`','variant':'`variant <name> <percent>% { ... }`','holdout':'`holdout <percent>%`',
 'timeline_stmt':'`timeline { ... }`','timeline_entry':'a timeline entry such as `week 1: send ...`','cal_offset':'a calendar offset such as `day 3`, `week 1`, `month 6`','cal_unit':'`day`, `week`, `month` or `year`',
 'set_stmt':'`set profile.<attribute> = <value>`','emit_stmt':'`emit <event>`','exit_stmt':'`exit`',
 'test_decl':'a test','given_profile':'`given profile { ... }`','given_customer':'`given customer "id"`','test_event':'`at <time> event <name>`','test_set':'`at <time> set profile.<attribute> = <value>`',
 'test_enter':'`at <time> enter <journey>`','run_until':'`run until <time>`','expect':'`expect ...`',
 'expect_send':'`send <channel> ...`','expect_no_send':'`no send <channel>`','expect_reached':'`reached <journey>.<step>`','expect_not_reached':'`not reached <journey>.<step>`',
 'expect_goal':'`goal <name>`','expect_no_goal':'`no goal <name>`','expect_exit':'`exit <journey>`','expect_scenario':'`scenario <segment>`','expect_variant':'`variant <experiment>.<variant>`',
 'expect_emit':'`emit <event>`','expect_entered':'`entered <journey>`','expect_not_entered':'`not entered <journey>`','expect_at':'`at <time>`','otherwise_arm_name':'`otherwise`',
}
rules = re.findall(r'^(\w+)\s*=', g, re.M)
silent = set(re.findall(r'^(\w+)\s*=\s*_\{', g, re.M))
rules = [r for r in rules if r not in silent]
kws = [r[3:] for r in rules if r.startswith('kw_')]
missing = [r for r in rules if r not in WORDS and not r.startswith('kw_')]
assert not missing, missing
def rs(s):
    return s.replace('\\', '\\\\').replace('"', '\\"')
arms = '\n'.join(f'        Rule::kw_{k} => Some("{k}"),' for k in kws)
warms = '\n'.join(f'        Rule::{r} => "{rs(WORDS[r])}",' for r in rules if not r.startswith('kw_'))
code = f'''//! Human words for grammar rules, used by syntax errors and by the lowering.
//!
//! Generated from `journey.pest` by `grammar/tools/gen_words.py`; rerun it after changing
//! the grammar (the build fails on a rule without words only at run time, so a test checks
//! every rule of the enum).

use crate::Rule;

/// The keyword a `kw_*` rule matches, or `None` for other rules.
pub fn keyword(rule: Rule) -> Option<&'static str> {{
    match rule {{
{arms}
        _ => None,
    }}
}}

/// What a rule means, in the words of an error message ("a duration such as `7 days`").
pub fn rule_words(rule: Rule) -> &'static str {{
    match rule {{
{warms}
        Rule::EOI => "end of file",
        _ => "something else",
    }}
}}
'''
open('grammar/src/words.rs', 'w').write(code)
print(len(rules), 'rules,', len(kws), 'keywords')
