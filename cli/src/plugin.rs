//! `journey plugin`: scaffold a connector (`new`), inspect a component (`check`), and deliver
//! one message through it against a local recording server (`test`).
//!
//! Every error of these commands is one line on standard error and exit code 1.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, Result, anyhow, bail};
use clap::{Subcommand, ValueEnum};
use journey_host::sink::{Recorded, Reply, Sink};
use journey_host::{ChannelSetup, HostConfig, Plugin, PluginError, PluginHost, Transport};
use journey_plugin_api::{Message, Outcome};

use crate::Format;
use crate::scaffold;

/// The subcommands of `journey plugin`.
#[derive(Subcommand)]
pub enum PluginCommand {
    /// Create a channel-plugin crate (a small JSON-over-HTTP connector) that builds as is.
    New {
        /// The plugin's name (what `channel X uses "NAME"` names): a-z, 0-9, `-` and `_`.
        name: String,
        /// The directory to create it in (default: the current directory); the crate goes
        /// to DIR/NAME, which must not exist or be empty.
        #[arg(long, value_name = "DIR")]
        dir: Option<PathBuf>,
        /// The kind of touchpoint it reaches.
        #[arg(long, value_enum, default_value = "other")]
        kind: Kind,
        /// The journey-plugin-sdk crate to depend on (default: the SDK of the journey
        /// sources this binary was built from).
        #[arg(long, value_name = "PATH")]
        sdk: Option<PathBuf>,
    },
    /// Load a component, check its contract and manifest, and print the manifest.
    Check {
        /// The component (`.wasm`).
        file: PathBuf,
        /// `json` prints the manifest file that `[plugins.NAME] manifest` in journey.toml
        /// names.
        #[arg(long, value_enum, default_value = "text")]
        format: Format,
    },
    /// Deliver one message (or a batch) through a component against a local server that
    /// records what the plugin sends, and print the outcome, the plugin's logs and its
    /// requests.
    Test {
        /// The component (`.wasm`).
        file: PathBuf,
        /// The message, in its JSON form (see plugins/examples/messages/); a JSON list of
        /// messages is delivered as one batch (`deliver-batch`).
        #[arg(long, value_name = "FILE.json")]
        message: PathBuf,
        /// A configuration value of the channel (repeatable). URLs may name any host the
        /// manifest allows: every request goes to the local server.
        #[arg(long = "config", value_name = "KEY=VALUE")]
        config: Vec<String>,
        /// A secret of the channel (repeatable).
        #[arg(long = "secret", value_name = "KEY=VALUE")]
        secret: Vec<String>,
        /// The HTTP status the local server answers (default: 200 with a JSON id).
        #[arg(long, value_name = "CODE")]
        status: Option<u16>,
    },
}

/// The kind of touchpoint of a new plugin.
#[derive(Clone, Copy, ValueEnum, PartialEq, Eq, Debug)]
pub enum Kind {
    /// E-mail.
    Email,
    /// Text messages.
    Sms,
    /// Push notifications.
    Push,
    /// An HTTP callback.
    Webhook,
    /// A contact-centre task.
    ContactCentre,
    /// Anything else.
    Other,
}

/// Runs a `journey plugin` subcommand; errors are printed on one line, exit code 1.
pub fn run(command: PluginCommand) -> ExitCode {
    let result = match command {
        PluginCommand::New {
            name,
            dir,
            kind,
            sdk,
        } => scaffold::run(&name, dir.as_deref(), kind, sdk.as_deref()),
        PluginCommand::Check { file, format } => check(&file, format),
        PluginCommand::Test {
            file,
            message,
            config,
            secret,
            status,
        } => test(&file, &message, &config, &secret, status),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {}", one_line(&format!("{e:#}")));
            ExitCode::FAILURE
        }
    }
}

/// Joins the lines of a message (wasmtime errors may span several).
pub(crate) fn one_line(text: &str) -> String {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

/// Where compiled components are cached: `$XDG_CACHE_HOME/journey/plugins`, else
/// `~/.cache/journey/plugins`; `None` when neither variable gives an absolute directory.
pub(crate) fn cache_dir() -> Option<PathBuf> {
    let var = |name: &str| {
        std::env::var_os(name)
            .map(PathBuf::from)
            .filter(|p| p.is_absolute())
    };
    let base = var("XDG_CACHE_HOME").or_else(|| var("HOME").map(|h| h.join(".cache")))?;
    Some(base.join("journey").join("plugins"))
}

/// A plugin host with the CLI's settings and `transport`.
pub(crate) fn host(transport: Transport) -> Result<PluginHost> {
    PluginHost::new(HostConfig {
        cache_dir: cache_dir(),
        transport,
        ..HostConfig::default()
    })
    .map_err(|e| anyhow!("{e}"))
}

/// The first bytes of every WebAssembly binary.
const WASM_MAGIC: &[u8] = b"\0asm";

/// Loads a component; the error names the plugin (one line). A file that is neither a
/// WebAssembly binary nor `.wat` text is refused before the host parses it, so the error
/// says what the file is not instead of quoting a text-format parser.
pub(crate) fn load(host: &PluginHost, file: &Path) -> Result<Plugin> {
    let name = file.file_stem().map_or_else(
        || file.display().to_string(),
        |s| s.to_string_lossy().into_owned(),
    );
    let is_text = file.extension().is_some_and(|e| e == "wat");
    if !is_text && let Ok(mut f) = std::fs::File::open(file) {
        let mut head = [0u8; 4];
        let n = std::io::Read::read(&mut f, &mut head).unwrap_or(0);
        if head[..n] != *WASM_MAGIC {
            bail!(
                "plugin `{name}`: `{}` is not a WebAssembly component (it does not start with `\\0asm`): build the plugin with `cargo build --release --target wasm32-wasip2` and pass the `.wasm` file",
                file.display()
            );
        }
    }
    host.load_file(file)
        .map_err(|e: PluginError| anyhow!("{}", one_line(&e.to_string())))
}

// ---------------------------------------------------------------------------------- check

fn check(file: &Path, format: Format) -> Result<ExitCode> {
    let host = host(Transport::Network)?;
    let plugin = load(&host, file)?;
    match format {
        Format::Json => crate::out(&format!("{}\n", plugin.manifest().to_json())),
        Format::Text => crate::out(&describe(file, &plugin)),
    }
    Ok(ExitCode::SUCCESS)
}

fn yes_no(b: bool) -> &'static str {
    if b { "yes" } else { "no" }
}

/// Rows of columns, padded to the widest cell.
fn columns(rows: &[Vec<String>], out: &mut String) {
    let n = rows.iter().map(Vec::len).max().unwrap_or(0);
    let mut widths = vec![0; n];
    for r in rows {
        for (i, c) in r.iter().enumerate() {
            widths[i] = widths[i].max(c.chars().count());
        }
    }
    for r in rows {
        let mut line = String::from("  ");
        for (i, c) in r.iter().enumerate() {
            line.push_str(c);
            if i + 1 < r.len() {
                line.push_str(&" ".repeat(widths[i] - c.chars().count() + 2));
            }
        }
        let _ = writeln!(out, "{}", line.trim_end());
    }
}

/// The manifest and load facts of a plugin, for people.
fn describe(file: &Path, plugin: &Plugin) -> String {
    let m = plugin.manifest();
    let mut out = String::new();
    let _ = writeln!(out, "plugin {} {}", m.name, m.version);
    if !m.description.is_empty() {
        let _ = writeln!(out, "  {}", m.description);
    }
    let _ = writeln!(out, "contract: journey:channel@{}", m.contract);
    let _ = writeln!(
        out,
        "batches: {}",
        if plugin.batches() {
            "yes (`deliver-batch`: the messages due together on a channel in one call)"
        } else {
            "no (built against contract 1.0: one `deliver` call per message)"
        }
    );
    let _ = writeln!(
        out,
        "packed: {}",
        if plugin.packs() {
            "yes (`packed`: each call's text crosses as one string)"
        } else {
            "no (built before contract 1.2: every string of a message crosses on its own)"
        }
    );
    let _ = writeln!(out, "kind: {}", m.kind.name());
    if m.params.is_empty() {
        let _ = writeln!(out, "params: none");
    } else {
        let _ = writeln!(out, "params:");
        let rows: Vec<Vec<String>> = m
            .params
            .iter()
            .map(|p| {
                vec![
                    p.name.clone(),
                    p.ty.journey_name().to_string(),
                    if p.required { "required" } else { "optional" }.to_string(),
                    p.docs.clone(),
                ]
            })
            .collect();
        columns(&rows, &mut out);
    }
    let _ = writeln!(
        out,
        "open params: {} (channels {} declare further parameters)",
        yes_no(m.open_params),
        if m.open_params { "may" } else { "may not" }
    );
    if m.parts.is_empty() {
        let _ = writeln!(out, "parts: any (templates are not checked)");
    } else {
        let _ = writeln!(out, "parts:");
        let rows: Vec<Vec<String>> = m
            .parts
            .iter()
            .map(|p| {
                vec![
                    p.name.clone(),
                    if p.required { "required" } else { "optional" }.to_string(),
                    p.docs.clone(),
                ]
            })
            .collect();
        columns(&rows, &mut out);
    }
    if m.config.is_empty() {
        let _ = writeln!(out, "config: none");
    } else {
        let _ = writeln!(out, "config:");
        let rows: Vec<Vec<String>> = m
            .config
            .iter()
            .map(|c| {
                let mut flags = vec![if c.required { "required" } else { "optional" }];
                if c.secret {
                    flags.push("secret");
                }
                vec![c.name.clone(), flags.join(", "), c.docs.clone()]
            })
            .collect();
        columns(&rows, &mut out);
    }
    let _ = writeln!(
        out,
        "hosts: {}",
        if m.hosts.is_empty() {
            "none (no HTTP)".to_string()
        } else {
            m.hosts.join(", ")
        }
    );
    let _ = writeln!(
        out,
        "rate limit: {}",
        match m.rate_limit {
            Some(r) => format!("{}/s, burst {}", r.per_second, r.burst),
            None => "none".to_string(),
        }
    );
    let _ = writeln!(out, "file: {}", file.display());
    let _ = writeln!(
        out,
        "content hash: {:032x} (xxh3-128)",
        plugin.content_hash()
    );
    let ms = plugin.compile_time().as_secs_f64() * 1e3;
    if plugin.from_cache() {
        let _ = writeln!(out, "loaded from the artifact cache in {ms:.1} ms");
    } else {
        let _ = writeln!(out, "compiled in {ms:.1} ms");
    }
    out
}

// ---------------------------------------------------------------------------------- test

/// `KEY=VALUE` pairs of a repeated flag.
fn pairs(flag: &str, values: &[String]) -> Result<Vec<(String, String)>> {
    values
        .iter()
        .map(|v| match v.split_once('=') {
            Some((k, val)) if !k.trim().is_empty() => Ok((k.trim().to_string(), val.to_string())),
            _ => Err(anyhow!(
                "`--{flag} {v}`: expected KEY=VALUE (for example `--{flag} {}`)",
                if flag == "config" {
                    "endpoint=https://api.example.com/send"
                } else {
                    "api_key=test-key"
                }
            )),
        })
        .collect()
}

/// `a`, `a` and `b`, `a`, `b` and `c` (each in backquotes).
fn listing(names: &[&str]) -> String {
    let quoted: Vec<String> = names.iter().map(|n| format!("`{n}`")).collect();
    match quoted.split_last() {
        None => String::new(),
        Some((last, [])) => last.clone(),
        Some((last, rest)) => format!("{} and {last}", rest.join(", ")),
    }
}

/// The channel the flags describe, checked against the manifest: known keys, secrets given
/// as secrets, every required key set; allowed hosts resolved from the values.
fn setup(
    plugin: &Plugin,
    channel: &str,
    config: &[(String, String)],
    secrets: &[(String, String)],
) -> Result<ChannelSetup> {
    let m = plugin.manifest();
    let id = plugin.id();
    let mut setup = ChannelSetup {
        channel: channel.to_string(),
        ..ChannelSetup::default()
    };
    let known: Vec<&str> = m.config.iter().map(|c| c.name.as_str()).collect();
    for (flag, list) in [("config", config), ("secret", secrets)] {
        for (key, value) in list {
            let Some(spec) = m.config_key(key) else {
                if known.is_empty() {
                    bail!("{id} reads no configuration: remove `--{flag} {key}=...`");
                }
                bail!(
                    "{id} has no configuration key `{key}`; it reads {}",
                    listing(&known)
                );
            };
            match (flag, spec.secret) {
                ("config", true) => bail!(
                    "`{key}` is a secret of {id}: pass it with `--secret {key}=...`, not `--config`"
                ),
                ("secret", false) => bail!(
                    "`{key}` is not a secret of {id}: pass it with `--config {key}=...`, not `--secret`"
                ),
                ("config", false) => {
                    setup.config.insert(key.clone(), value.clone());
                }
                _ => {
                    setup.secrets.insert(key.clone(), value.clone());
                }
            }
        }
    }
    let missing: Vec<String> = m
        .config
        .iter()
        .filter(|c| {
            c.required
                && !setup.config.contains_key(&c.name)
                && !setup.secrets.contains_key(&c.name)
        })
        .map(|c| {
            format!(
                "--{} {}={}",
                if c.secret { "secret" } else { "config" },
                c.name,
                if m.hosts.iter().any(|h| h == &format!("{{{}}}", c.name)) {
                    "URL"
                } else {
                    "..."
                }
            )
        })
        .collect();
    if !missing.is_empty() {
        bail!(
            "{id} requires configuration the command line does not give: add {}",
            missing.join(" ")
        );
    }
    setup.allowed_hosts = journey_host::allowed_hosts(m, &setup).map_err(|(key, value)| {
        anyhow!(
            "`{key}={value}` is not an http(s) URL with a host, which {id} needs (its requests may go only there): give one like `--config {key}=https://api.example.com/send`"
        )
    })?;
    Ok(setup)
}

/// The message of the file, or the messages of a file holding a JSON list of them (a batch).
fn read_messages(path: &Path) -> Result<(Vec<Message>, bool)> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read the message `{}`", path.display()))?;
    const FORM: &str = "the JSON form of a journey message: `idempotency_key`, `customer_id`, `content`, `recipient`...; see plugins/examples/messages/";
    let value: serde_json::Value = serde_json::from_str(&text)
        .map_err(|e| anyhow!("`{}` is not JSON: {e} ({FORM})", path.display()))?;
    match value {
        serde_json::Value::Array(items) => {
            if items.is_empty() {
                bail!(
                    "`{}` is an empty list: give one message, or a list of messages to deliver as one batch",
                    path.display()
                );
            }
            let messages = items
                .into_iter()
                .enumerate()
                .map(|(i, v)| {
                    serde_json::from_value(v).map_err(|e| {
                        anyhow!(
                            "`{}`: item {} of the list is not a message: {e} ({FORM})",
                            path.display(),
                            i + 1
                        )
                    })
                })
                .collect::<Result<Vec<Message>>>()?;
            Ok((messages, true))
        }
        v => serde_json::from_value(v)
            .map(|m| (vec![m], false))
            .map_err(|e| anyhow!("`{}` is not a message: {e} ({FORM})", path.display())),
    }
}

/// `accepted (provider id SM1)`, `retry-after 5000 ms: ...`, `failed: ...`.
pub(crate) fn outcome_text(o: &Outcome) -> String {
    match o {
        Outcome::Accepted(id) => format!("accepted (provider id {id})"),
        Outcome::RetryAfter { after_ms, reason } => format!("retry-after {after_ms} ms: {reason}"),
        Outcome::Failed(reason) => format!("failed: {reason}"),
    }
}

/// A body for people: pretty JSON, decoded form fields, or text.
fn body_text(r: &Recorded, indent: &str) -> String {
    if r.body.is_empty() {
        return format!("{indent}(empty body)\n");
    }
    let ctype = r
        .header("content-type")
        .unwrap_or_default()
        .to_ascii_lowercase();
    let mut out = String::new();
    if let Some(v) = r.json() {
        let pretty = serde_json::to_string_pretty(&v).unwrap_or_else(|_| r.text());
        for line in pretty.lines() {
            let _ = writeln!(out, "{indent}{line}");
        }
    } else if ctype.starts_with("application/x-www-form-urlencoded") {
        let fields: Vec<(String, String)> = form_urlencoded::parse(&r.body).into_owned().collect();
        let width = fields
            .iter()
            .map(|(k, _)| k.chars().count())
            .max()
            .unwrap_or(0);
        for (k, v) in fields {
            let pad = " ".repeat(width - k.chars().count());
            let _ = writeln!(out, "{indent}{k}{pad} = {v}");
        }
    } else {
        for line in r.text().lines() {
            let _ = writeln!(out, "{indent}{line}");
        }
    }
    out
}

fn test(
    file: &Path,
    message: &Path,
    config: &[String],
    secret: &[String],
    status: Option<u16>,
) -> Result<ExitCode> {
    let config = pairs("config", config)?;
    let secrets = pairs("secret", secret)?;
    if let Some(s) = status
        && !(100..=599).contains(&s)
    {
        bail!("`--status {s}`: an HTTP status is between 100 and 599 (for example `--status 503`)");
    }
    let (messages, batch) = read_messages(message)?;
    let sink = Sink::with(move |n, _| match status {
        None => Reply::accepted(n),
        Some(s) if (200..300).contains(&s) => Reply {
            status: s,
            ..Reply::accepted(n)
        },
        Some(s) => Reply::status(s, &format!("status {s} asked for with --status")),
    })
    .context("cannot start the local HTTP server")?;
    let host = host(Transport::Sink(sink.addr()))?;
    let plugin = load(&host, file)?;
    let first = &messages[0];
    let channel = if first.channel.is_empty() {
        plugin.manifest().name.clone()
    } else {
        first.channel.clone()
    };
    let setup = Arc::new(setup(&plugin, &channel, &config, &secrets)?);
    let mut instance = plugin
        .instantiate()
        .map_err(|e| anyhow!("{}", one_line(&e.to_string())))?;
    let m = plugin.manifest();
    let mut out = String::new();
    let (accepted, logs, http) = if batch {
        let d = instance.deliver_batch(&setup, &messages);
        let _ = writeln!(
            out,
            "plugin {} {}, channel `{channel}`, {} messages {} ({:.1} ms)",
            m.name,
            m.version,
            messages.len(),
            if plugin.batches() {
                "in one `deliver-batch` call".to_string()
            } else {
                format!(
                    "in {} `deliver` calls (the plugin was built against contract 1.0, without batches)",
                    d.calls
                )
            },
            d.elapsed.as_secs_f64() * 1e3
        );
        let mut all = true;
        for (message, result) in messages.iter().zip(&d.results) {
            let text = match result {
                Ok(o) => {
                    all &= matches!(o, Outcome::Accepted(_));
                    outcome_text(o)
                }
                Err(e) => {
                    all = false;
                    format!("error: {}", one_line(&e.to_string()))
                }
            };
            let _ = writeln!(
                out,
                "outcome for {} (attempt {}): {text}",
                message.idempotency_key, message.attempt
            );
        }
        (all, d.logs, d.http)
    } else {
        let _ = writeln!(
            out,
            "plugin {} {}, channel `{channel}`, message {} (attempt {})",
            m.name, m.version, first.idempotency_key, first.attempt
        );
        match instance.deliver(&setup, first) {
            Ok(d) => {
                let _ = writeln!(
                    out,
                    "outcome: {} ({:.1} ms)",
                    outcome_text(&d.outcome),
                    d.elapsed.as_secs_f64() * 1e3
                );
                (matches!(d.outcome, Outcome::Accepted(_)), d.logs, d.http)
            }
            Err(f) => {
                let _ = writeln!(out, "outcome: error: {}", one_line(&f.error.to_string()));
                (false, f.logs, f.http)
            }
        }
    };
    if logs.is_empty() {
        let _ = writeln!(out, "\nlog: nothing");
    } else {
        let _ = writeln!(out, "\nlog:");
        for l in &logs {
            let _ = writeln!(out, "  {:<5}  {}", l.level, l.message);
        }
    }
    let received = sink.requests();
    let asked: Vec<_> = http.iter().filter(|x| x.error.is_none()).collect();
    let _ = writeln!(
        out,
        "\nrequests the local server received: {}",
        if received.is_empty() {
            "none".to_string()
        } else {
            received.len().to_string()
        }
    );
    for (i, r) in received.iter().enumerate() {
        let _ = writeln!(out, "  {} {}", r.method, r.path);
        if asked.len() == received.len()
            && let Some(x) = asked.get(i)
        {
            let answer = x
                .status
                .map(|s| format!("; answered {s}"))
                .unwrap_or_default();
            let _ = writeln!(out, "    (the plugin asked for {}{answer})", x.url);
        }
        for (k, v) in &r.headers {
            let _ = writeln!(out, "    {k}: {v}");
        }
        let _ = writeln!(out, "    body:");
        out.push_str(&body_text(r, "      "));
    }
    let refused: Vec<_> = http.iter().filter(|x| x.error.is_some()).collect();
    if !refused.is_empty() {
        let _ = writeln!(
            out,
            "\nrequests the host refused or that failed: {}",
            refused.len()
        );
        for x in refused {
            let _ = writeln!(
                out,
                "  {} {}: {}",
                x.method,
                x.url,
                x.error.as_deref().unwrap_or_default()
            );
        }
    }
    crate::out(&out);
    Ok(if accepted {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_are_key_value_pairs() {
        assert_eq!(
            pairs("config", &["a=b=c".to_string()]).expect("valid"),
            vec![("a".to_string(), "b=c".to_string())]
        );
        let e = pairs("secret", &["nokey".to_string()]).expect_err("no `=`");
        assert!(e.to_string().contains("KEY=VALUE"), "{e}");
        assert!(pairs("config", &["=v".to_string()]).is_err());
    }

    #[test]
    fn errors_fit_on_one_line() {
        assert_eq!(one_line("a\n  b\n\nc"), "a b c");
    }

    #[test]
    fn listings_read_as_english() {
        assert_eq!(listing(&["a"]), "`a`");
        assert_eq!(listing(&["a", "b", "c"]), "`a`, `b` and `c`");
    }
}
