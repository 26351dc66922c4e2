//! Channel plugins: the `[plugins]` table of `journey.toml`, the plugin manifests it names,
//! and the checks of channels and templates against them.
//!
//! A plugin is a WebAssembly component, but the compiler never loads one: it reads the
//! manifest's JSON form (what `journey plugin check X.wasm --format json` prints, the serde
//! form of [`journey_plugin_api::Manifest`]) through the [`SourceHost`] like any project
//! file. The manifests are added to the compilation's sources (so diagnostics can point
//! into them), after the `.journey` files.

use std::collections::BTreeMap;

use journey_bytecode::{FileId, ParamDef, Type};
use journey_grammar::ast::{self, Span};
use journey_plugin_api::{Manifest as PluginManifest, ParamType};

use crate::codes;
use crate::ctx::{Ctx, suggest};
use crate::diagnostic::{Diagnostic, Fix, Sink};
use crate::load::Loaded;
use crate::manifest::PluginSection;
use crate::source::{Input, SourceFile, SourceHost, resolve_relative};

/// A plugin of the project: one `[plugins.NAME]` table of `journey.toml`, its paths
/// resolved, and its manifest when it could be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plugin {
    /// The plugin's name, the key of the table (what `channel X uses "NAME"` names).
    pub name: String,
    /// The manifest's path as given to the [`SourceHost`]: relative to the project root,
    /// normalised, and starting with `../` when it lies outside the project.
    pub manifest_path: String,
    /// The component's path (`component = "..."`), resolved the same way, if given. The
    /// compiler does not read it; the runtime loads the plugin from it.
    pub component_path: Option<String>,
    /// The manifest, when it was read and has no problem (otherwise an
    /// `invalid-plugin-manifest` error was reported).
    pub manifest: Option<PluginManifest>,
}

/// The project's plugins, from the `[plugins]` table of `journey.toml`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Plugins {
    /// Whether `journey.toml` has a `[plugins]` table. Without one, channels are not checked
    /// against plugin manifests and naming an unlisted plugin is not reported.
    pub declared: bool,
    /// The plugins by name.
    pub by_name: BTreeMap<String, Plugin>,
}

impl Plugins {
    /// The plugin named `name`, if `[plugins]` lists it.
    pub fn get(&self, name: &str) -> Option<&Plugin> {
        self.by_name.get(name)
    }

    /// The manifest of the plugin named `name`, if it is listed and was read.
    pub fn manifest(&self, name: &str) -> Option<&PluginManifest> {
        self.get(name).and_then(|p| p.manifest.as_ref())
    }
}

/// The journey type of a manifest parameter type (`text` → `string`, `text-list` →
/// `list<string>`).
pub fn param_type(t: ParamType) -> Type {
    match t {
        ParamType::Text => Type::String,
        ParamType::Number => Type::Number,
        ParamType::Boolean => Type::Bool,
        ParamType::Date => Type::Date,
        ParamType::Timestamp => Type::Timestamp,
        ParamType::Duration => Type::Duration,
        ParamType::TextList => Type::List(Box::new(Type::String)),
        ParamType::NumberList => Type::List(Box::new(Type::Number)),
    }
}

/// The type a channel parameter has for a manifest parameter: `T`, or `T?` when the plugin
/// does not require it.
fn spec_type(p: &journey_plugin_api::ParamSpec) -> Type {
    let t = param_type(p.ty);
    if p.required {
        t
    } else {
        Type::Optional(Box::new(t))
    }
}

/// `a`, `a` and `b`, `a`, `b` and `c` (each in backquotes).
fn listing<S: AsRef<str>>(names: &[S]) -> String {
    let quoted: Vec<String> = names.iter().map(|n| format!("`{}`", n.as_ref())).collect();
    match quoted.split_last() {
        None => String::new(),
        Some((last, [])) => last.clone(),
        Some((last, rest)) => format!("{} and {last}", rest.join(", ")),
    }
}

fn span_of(s: std::ops::Range<usize>) -> Span {
    Span::new(s.start, s.end)
}

/// Byte offset of a 1-based line and column (as serde_json reports them, in bytes) in
/// `text`, moved back to the start of the character it falls in.
fn offset_of(text: &str, line: usize, column: usize) -> usize {
    let start: usize = text
        .split_inclusive('\n')
        .take(line.saturating_sub(1))
        .map(str::len)
        .sum();
    text.floor_char_boundary(start + column.saturating_sub(1))
}

/// Reads the manifests of the `[plugins]` table through the host; reports a missing,
/// unreadable or unsound manifest at its entry in `journey.toml`.
pub(crate) fn load(
    host: &dyn SourceHost,
    input: &Input,
    loaded: &mut Loaded,
    section: Option<&BTreeMap<String, PluginSection>>,
    sink: &mut Sink,
) -> Plugins {
    let (Some(section), Some(toml_file), Some(toml_path)) =
        (section, loaded.manifest, input.manifest.as_deref())
    else {
        return Plugins::default();
    };
    let mut plugins = Plugins {
        declared: true,
        by_name: BTreeMap::new(),
    };
    for (name, entry) in section {
        let written = entry.manifest.get_ref();
        let span = span_of(entry.manifest.span());
        let manifest_path = resolve_relative(toml_path, written);
        let component_path = entry
            .component
            .as_ref()
            .map(|c| resolve_relative(toml_path, c.get_ref()));
        let regenerate = format!(
            "regenerate it from the component: `journey plugin check {} --format json > {written}`",
            entry
                .component
                .as_ref()
                .map_or("COMPONENT.wasm", |c| c.get_ref().as_str())
        );
        let manifest = match host.read(&manifest_path) {
            None => {
                sink.push(
                    Diagnostic::new(
                        &codes::INVALID_PLUGIN_MANIFEST,
                        toml_file,
                        span,
                        format!("cannot read the manifest of the plugin `{name}`: `{manifest_path}` does not exist"),
                    )
                    .primary_label("no such file (paths are relative to journey.toml)")
                    .help(regenerate),
                );
                None
            }
            Some(text) => {
                let file = match loaded.sources.find(&manifest_path) {
                    Some(f) => f,
                    None => loaded
                        .sources
                        .files
                        .push(SourceFile::new(manifest_path.clone(), text.clone())),
                };
                check_manifest(
                    name,
                    &manifest_path,
                    &text,
                    (toml_file, span),
                    file,
                    &regenerate,
                    sink,
                )
            }
        };
        plugins.by_name.insert(
            name.clone(),
            Plugin {
                name: name.clone(),
                manifest_path,
                component_path,
                manifest,
            },
        );
    }
    plugins
}

/// Parses and checks one manifest; reports its problems.
fn check_manifest(
    name: &str,
    path: &str,
    text: &str,
    (toml_file, span): (FileId, Span),
    file: FileId,
    regenerate: &str,
    sink: &mut Sink,
) -> Option<PluginManifest> {
    let m = match serde_json::from_str::<PluginManifest>(text) {
        Ok(m) => m,
        Err(e) => {
            let what = match e.classify() {
                serde_json::error::Category::Data => "is not a plugin manifest",
                _ => "is not valid JSON",
            };
            let at = offset_of(text, e.line(), e.column());
            // The character at the error (serde_json counts columns in bytes).
            let end = text.ceil_char_boundary(at + 1);
            let msg = e.to_string();
            let short = msg
                .rsplit_once(" at line ")
                .map_or(msg.as_str(), |(m, _)| m);
            sink.push(
                Diagnostic::new(
                    &codes::INVALID_PLUGIN_MANIFEST,
                    toml_file,
                    span,
                    format!("the manifest of the plugin `{name}`, `{path}`, {what}: {short}"),
                )
                .primary_label("this manifest")
                .label(file, Span::new(at, end), short.to_string())
                .help(regenerate.to_string()),
            );
            return None;
        }
    };
    let mut problems: Vec<String> = m.problems().into_iter().map(|p| p.0).collect();
    if m.name != name {
        problems.push(format!(
            "it describes the plugin `{}`, not `{name}`",
            m.name
        ));
    }
    if problems.is_empty() {
        return Some(m);
    }
    let mut d = Diagnostic::new(
        &codes::INVALID_PLUGIN_MANIFEST,
        toml_file,
        span,
        if problems.len() == 1 {
            format!(
                "the manifest of the plugin `{name}`, `{path}`, is not valid: {}",
                problems[0]
            )
        } else {
            format!(
                "the manifest of the plugin `{name}`, `{path}`, has {} problems",
                problems.len()
            )
        },
    )
    .primary_label("this manifest")
    .help(regenerate.to_string());
    if problems.len() > 1 {
        for p in problems {
            d = d.note(p);
        }
    }
    sink.push(d);
    None
}

impl<'a> Ctx<'a> {
    /// The manifest a channel is checked against: its plugin's, when `[plugins]` lists it
    /// and it was read. Warns about a plugin that `[plugins]` does not list.
    pub(crate) fn channel_plugin(
        &mut self,
        file: FileId,
        c: &ast::ChannelDecl,
    ) -> Option<&'a PluginManifest> {
        let plugins: &'a Plugins = self.plugins;
        let name = c.plugin.plain()?;
        if !plugins.declared {
            return None;
        }
        if let Some(p) = plugins.get(&name) {
            return p.manifest.as_ref();
        }
        let mut d = self
            .diag(
                &codes::UNKNOWN_PLUGIN,
                file,
                c.plugin.span,
                format!("the plugin `{name}` is not listed in the `[plugins]` of journey.toml"),
            )
            .primary_label(format!("no `[plugins.{name}]` table"))
            .note(format!(
                "the channel `{}` is checked against its own `params {{ }}` only",
                c.name.text
            ));
        if let Some(best) = suggest(&name, plugins.by_name.keys().map(String::as_str)) {
            d = d.help(format!("did you mean `{best}`?")).fix(Fix {
                file,
                span: c.plugin.span,
                replacement: format!("\"{best}\""),
                title: format!("replace with \"{best}\""),
            });
        } else {
            d = d.help(format!(
                "add `[plugins.{name}]` with `manifest = \"PATH/{name}.json\"` to journey.toml"
            ));
        }
        self.emit_diag(d);
        None
    }

    /// The span of a configuration entry's value (`env("X")` in `key: env("X")`).
    fn config_value_span(&self, file: FileId, e: &ast::ConfigEntry) -> Span {
        if let ast::ConfigValue::Literal(x) = &e.value {
            return x.span;
        }
        let text = &self.loaded.sources.files[file].text;
        let from = e.key.span.end as usize;
        let to = (e.span.end as usize).min(text.len());
        let start = text
            .get(from..to)
            .and_then(|rest| {
                let colon = rest.find(':')?;
                let after = &rest[colon + 1..];
                Some(from + colon + 1 + (after.len() - after.trim_start().len()))
            })
            .unwrap_or(from);
        Span::new(start, to)
    }

    /// Checks one configuration entry against the plugin's manifest; returns the key
    /// suggested for an unknown one (not reported missing as well).
    pub(crate) fn check_config_entry(
        &mut self,
        file: FileId,
        c: &ast::ChannelDecl,
        e: &ast::ConfigEntry,
        m: &PluginManifest,
    ) -> Option<String> {
        let key = &e.key.text;
        let Some(spec) = m.config_key(key) else {
            let mut d = self
                .diag(
                    &codes::UNKNOWN_CONFIG_KEY,
                    file,
                    e.key.span,
                    format!("the plugin `{}` has no configuration key `{key}`", m.name),
                )
                .primary_label("unknown key")
                .label(file, c.plugin.span, "the plugin");
            let names: Vec<&str> = m.config.iter().map(|k| k.name.as_str()).collect();
            let best = suggest(key, names.iter().copied());
            if let Some(best) = &best {
                d = d.help(format!("did you mean `{best}`?")).fix(Fix {
                    file,
                    span: e.key.span,
                    replacement: best.clone(),
                    title: format!("replace with `{best}`"),
                });
            } else if names.is_empty() {
                d = d.help(format!(
                    "`{}` reads no configuration: remove this key",
                    m.name
                ));
            } else {
                d = d.note(format!("`{}` reads {}", m.name, listing(&names)));
            }
            self.emit_diag(d);
            return best;
        };
        if !spec.secret {
            return None;
        }
        let (label, fix_name) = match &e.value {
            ast::ConfigValue::Secret(_) => return None,
            ast::ConfigValue::Env(s) => ("read from the environment", s.plain()),
            ast::ConfigValue::Literal(_) => ("written in the source", None),
        };
        let value_span = self.config_value_span(file, e);
        let suggested = fix_name.clone().unwrap_or_else(|| {
            format!("{}_{}", c.name.text, key)
                .to_uppercase()
                .replace('-', "_")
        });
        let mut d = self
            .diag(
                &codes::SECRET_EXPECTED,
                file,
                value_span,
                format!("`{key}` must come from secret(\"...\")"),
            )
            .primary_label(format!("a credential {label}"))
            .note(format!(
                "the plugin `{}` declares `{key}` secret: it is read from the runtime's secret store only",
                m.name
            ))
            .help(format!(
                "store it in the secret store and write `{key}: secret(\"{suggested}\")`"
            ));
        if fix_name.is_some() {
            d = d.fix(Fix {
                file,
                span: value_span,
                replacement: format!("secret(\"{suggested}\")"),
                title: format!("read `{key}` from secret(\"{suggested}\")"),
            });
        }
        self.emit_diag(d);
        None
    }

    /// Reports the required configuration keys a channel does not set (except those
    /// already suggested for a misspelt key).
    pub(crate) fn check_config_complete(
        &mut self,
        file: FileId,
        c: &ast::ChannelDecl,
        m: &PluginManifest,
        suggested: &[String],
    ) {
        let missing: Vec<&journey_plugin_api::ConfigSpec> = m
            .config
            .iter()
            .filter(|k| {
                k.required
                    && !c.config.iter().any(|e| e.key.text == k.name)
                    && !suggested.contains(&k.name)
            })
            .collect();
        if missing.is_empty() {
            return;
        }
        let names: Vec<&str> = missing.iter().map(|k| k.name.as_str()).collect();
        let example: Vec<String> = missing
            .iter()
            .map(|k| {
                if k.secret {
                    format!("{}: secret(\"...\")", k.name)
                } else {
                    format!("{}: ...", k.name)
                }
            })
            .collect();
        let mut d = self
            .diag(
                &codes::MISSING_CONFIG_KEY,
                file,
                c.name.span,
                format!(
                    "the channel `{}` does not configure {}",
                    c.name.text,
                    listing(&names)
                ),
            )
            .primary_label(format!(
                "the plugin `{}` requires {}",
                m.name,
                if names.len() == 1 { "it" } else { "them" }
            ))
            .help(format!("add {} to its `config {{ }}`", listing(&example)));
        for k in &missing {
            if !k.docs.is_empty() {
                d = d.note(format!("`{}`: {}", k.name, k.docs));
            }
        }
        self.emit_diag(d);
    }

    /// The parameters of a channel without `params { }`: the manifest's.
    pub(crate) fn manifest_params(&self, m: &PluginManifest) -> Vec<ParamDef> {
        m.params
            .iter()
            .map(|p| ParamDef {
                name: p.name.clone(),
                ty: spec_type(p),
            })
            .collect()
    }

    /// Checks one declared parameter (of type `ty`) against the plugin's manifest; returns
    /// the parameter suggested for an unknown one (not reported missing as well).
    pub(crate) fn check_param(
        &mut self,
        file: FileId,
        f: &ast::Field,
        ty: &Type,
        m: &PluginManifest,
    ) -> Option<String> {
        match m.param(&f.name.text) {
            Some(spec) => {
                let want = spec_type(spec);
                if &want != ty {
                    let d = self
                        .diag(
                            &codes::CHANNEL_PARAM_MISMATCH,
                            file,
                            f.ty.span,
                            format!(
                                "the parameter `{}` is `{ty}` here, but the plugin `{}` declares it `{want}`",
                                f.name.text, m.name
                            ),
                        )
                        .primary_label(format!("the manifest says `{want}`"))
                        .help(format!("write `{}: {want}`", f.name.text))
                        .fix(Fix {
                            file,
                            span: f.ty.span,
                            replacement: want.to_string(),
                            title: format!("replace with `{want}`"),
                        });
                    self.emit_diag(d);
                }
                None
            }
            None if m.open_params => None,
            None => {
                let names: Vec<&str> = m.params.iter().map(|p| p.name.as_str()).collect();
                let mut d = self
                    .diag(
                        &codes::CHANNEL_PARAM_MISMATCH,
                        file,
                        f.name.span,
                        format!(
                            "the plugin `{}` takes no parameter `{}`",
                            m.name, f.name.text
                        ),
                    )
                    .primary_label("not in the plugin's manifest");
                let best = suggest(&f.name.text, names.iter().copied());
                if let Some(best) = &best {
                    d = d.help(format!("did you mean `{best}`?")).fix(Fix {
                        file,
                        span: f.name.span,
                        replacement: best.clone(),
                        title: format!("replace with `{best}`"),
                    });
                } else if names.is_empty() {
                    d = d.help(format!("`{}` takes no parameters: remove this one", m.name));
                } else {
                    d = d
                        .note(format!("`{}` takes {}", m.name, listing(&names)))
                        .help("remove it, or use a parameter of the plugin");
                }
                self.emit_diag(d);
                best
            }
        }
    }

    /// Reports the required manifest parameters a channel's `params { }` leaves out.
    pub(crate) fn check_params_complete(
        &mut self,
        file: FileId,
        c: &ast::ChannelDecl,
        declared: &[ast::Field],
        m: &PluginManifest,
        suggested: &[String],
    ) {
        let missing: Vec<String> = m
            .params
            .iter()
            .filter(|p| {
                p.required
                    && !declared.iter().any(|f| f.name.text == p.name)
                    && !suggested.contains(&p.name)
            })
            .map(|p| format!("{}: {}", p.name, spec_type(p)))
            .collect();
        if missing.is_empty() {
            return;
        }
        let d = self
            .diag(
                &codes::CHANNEL_PARAM_MISMATCH,
                file,
                c.name.span,
                format!(
                    "the channel `{}` leaves out {} of the plugin `{}`",
                    c.name.text,
                    listing(&missing),
                    m.name
                ),
            )
            .primary_label(format!(
                "the plugin requires every send to pass {}",
                if missing.len() == 1 { "it" } else { "them" }
            ))
            .help(format!(
                "add {} to its `params {{ }}`, or remove the `params {{ }}` block to take the plugin's parameters",
                listing(&missing)
            ));
        self.emit_diag(d);
    }

    /// The channel's one-line description: its plugin, with version and kind when known.
    pub(crate) fn channel_detail(
        &self,
        c: &ast::ChannelDecl,
        m: Option<&PluginManifest>,
    ) -> String {
        let plugin = c.plugin.plain().unwrap_or_default();
        match m {
            Some(m) => format!(
                "channel {} (plugin \"{plugin}\" {}, kind {})",
                c.name.text,
                m.version,
                m.kind.name()
            ),
            None => format!("channel {} (plugin \"{plugin}\")", c.name.text),
        }
    }

    /// Checks a template's parts against the plugin of its channel.
    pub(crate) fn check_template_parts(
        &mut self,
        file: FileId,
        t: &ast::TemplateDecl,
        plugin: &str,
    ) {
        let plugins: &'a Plugins = self.plugins;
        let Some(m) = plugins.manifest(plugin) else {
            return;
        };
        if m.parts.is_empty() {
            return;
        }
        let missing: Vec<&str> = m
            .parts
            .iter()
            .filter(|p| p.required && !t.parts.iter().any(|q| q.name.text == p.name))
            .map(|p| p.name.as_str())
            .collect();
        if !missing.is_empty() {
            let example: Vec<String> = missing.iter().map(|p| format!("{p}: \"...\"")).collect();
            let d = self
                .diag(
                    &codes::MISSING_TEMPLATE_PART,
                    file,
                    t.name.span,
                    format!(
                        "the template `{}` has no {}, which the plugin `{}` of the channel `{}` requires",
                        t.name.text,
                        listing(&missing),
                        m.name,
                        t.channel.text
                    ),
                )
                .primary_label(format!(
                    "{} missing",
                    if missing.len() == 1 { "a part is" } else { "parts are" }
                ))
                .help(format!("add {}", listing(&example)));
            self.emit_diag(d);
        }
        let names: Vec<&str> = m.parts.iter().map(|p| p.name.as_str()).collect();
        for (i, part) in t.parts.iter().enumerate() {
            if names.contains(&part.name.text.as_str())
                || t.parts[..i].iter().any(|p| p.name.text == part.name.text)
            {
                continue;
            }
            let mut d = self
                .diag(
                    &codes::UNKNOWN_TEMPLATE_PART,
                    file,
                    part.name.span,
                    format!(
                        "the plugin `{}` of the channel `{}` does not read a part `{}`",
                        m.name, t.channel.text, part.name.text
                    ),
                )
                .primary_label("never delivered");
            if let Some(best) = suggest(&part.name.text, names.iter().copied()) {
                d = d.help(format!("did you mean `{best}`?")).fix(Fix {
                    file,
                    span: part.name.span,
                    replacement: best.clone(),
                    title: format!("replace with `{best}`"),
                });
            } else {
                d = d.note(format!("`{}` reads {}", m.name, listing(&names)));
            }
            self.emit_diag(d);
        }
    }
}
