//! Reading config files into a [`Config`], collecting every error.

use std::path::{Path, PathBuf};

use indexmap::IndexMap;
use logbridge_component::telemetry::ComponentKind;
use logbridge_component::{BuildContext, BuildError};
use logbridge_event::DataKind;
use serde_json::Value as Json;

use crate::error::{ConfigError, ConfigErrors};
use crate::globals::{self, Global};
use crate::graph;
use crate::interpolate::interpolate;
use crate::model::{BufferConfig, BufferType, Config, Origin, SinkSpec, SourceSpec, TransformSpec};
use crate::positions::Positions;
use crate::redact;
use crate::registry::{self, ParseError, Registry};
use crate::suggest;
use crate::vector::{self, AckScope, Note, WildcardMatching};
use crate::wildcard;
use logbridge_component::enrichment::EnrichmentTableConfig;

/// Loads and merges config files, interpolating from the process
/// environment; components are looked up in `registry`.
pub fn load_files(registry: &Registry, paths: &[PathBuf]) -> Result<Config, ConfigErrors> {
    let mut docs = Vec::new();
    let mut errors = Vec::new();
    for path in paths {
        match std::fs::read_to_string(path) {
            Ok(text) => docs.push((path.clone(), text)),
            Err(e) => errors.push(ConfigError::new(
                path,
                None,
                format!("cannot read config file: {e}"),
            )),
        }
    }
    if !errors.is_empty() {
        return Err(ConfigErrors(errors));
    }
    let env = |name: &str| std::env::var(name).ok();
    load_docs(registry, &docs, &env)
}

/// Loads one config from text; `name` decides the format (`.yaml`/`.yml`
/// is YAML, `.json` JSON, anything else TOML) and appears in errors.
pub fn load_str(
    registry: &Registry,
    name: &Path,
    text: &str,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Config, ConfigErrors> {
    load_docs(registry, &[(name.to_owned(), text.to_owned())], env)
}

fn load_docs(
    registry: &Registry,
    docs: &[(PathBuf, String)],
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Config, ConfigErrors> {
    let mut cx = Loader {
        registry,
        config: Config::default(),
        errors: Vec::new(),
        warnings: Vec::new(),
        wildcard_matching: WildcardMatching::default(),
        globals_from: IndexMap::new(),
        broken: std::collections::HashSet::new(),
        broken_consumers: Vec::new(),
        secrets: Vec::new(),
    };
    let mut parsed: Vec<_> = docs
        .iter()
        .filter_map(|(path, text)| cx.parse_doc(path, text, env))
        .collect();
    // Tables and global options come first, from every file: a component
    // may use a table or `data_dir` that another file declares.
    for (doc, root) in &mut parsed {
        cx.load_shared(doc, root);
    }
    for (doc, root) in parsed {
        cx.load_components(&doc, root);
    }
    if cx.config.sources.is_empty() && cx.errors.is_empty() {
        let file = docs.first().map(|d| d.0.clone()).unwrap_or_default();
        cx.errors.push(
            ConfigError::new(&file, None, "no sources are configured")
                .hint("add a [sources.NAME] section"),
        );
    }
    wildcard::expand(
        &mut cx.config,
        &cx.broken,
        &mut cx.broken_consumers,
        cx.wildcard_matching,
        &mut cx.errors,
        &mut cx.warnings,
    );
    // The graph is checked even when some components are invalid, so that
    // every problem shows at once; inputs naming those are not reported again.
    graph::check(&mut cx.config, &cx.broken, &mut cx.errors);
    graph::check_broken_inputs(&cx.config, &cx.broken, &cx.broken_consumers, &mut cx.errors);
    graph::warn_held_answers(&cx.config, &mut cx.warnings);
    // Messages may quote values (a URL, say): never a credential in one.
    let mask = |text: &str| redact::mask_quoted(&redact::mask_url_credentials(text), &cx.secrets);
    for e in cx.errors.iter_mut().chain(cx.warnings.iter_mut()) {
        e.message = mask(&e.message);
        e.hint = e.hint.as_deref().map(mask);
    }
    if cx.errors.is_empty() {
        cx.config.warnings = cx.warnings;
        Ok(cx.config)
    } else {
        cx.errors.append(&mut cx.warnings);
        Err(ConfigErrors(cx.errors))
    }
}

struct Loader<'r> {
    registry: &'r Registry,
    config: Config,
    errors: Vec<ConfigError>,
    /// Problems that do not stop the config from loading.
    warnings: Vec<ConfigError>,
    /// Vector's `wildcard_matching`.
    wildcard_matching: WildcardMatching,
    /// Which file set each global option (to catch conflicting values).
    globals_from: IndexMap<&'static str, (PathBuf, Json)>,
    /// Components declared but invalid.
    broken: std::collections::HashSet<String>,
    /// Transforms and sinks declared but invalid, whose inputs are
    /// checked all the same.
    broken_consumers: Vec<graph::BrokenConsumer>,
    /// Values of secret options, never to be quoted in a message.
    secrets: Vec<String>,
}

struct Doc<'a> {
    path: &'a Path,
    positions: Positions,
}

impl Doc<'_> {
    fn err(&self, key: &[&str], message: impl Into<String>) -> ConfigError {
        let pos = self.positions.find(key);
        ConfigError::new(self.path, pos.map(|p| p.0), message).column(pos.map(|p| p.1))
    }

    /// An error for a problem found in the option at `key`.
    fn note(&self, key: &[&str], note: Note) -> ConfigError {
        let mut at = key.to_vec();
        at.extend(note.at.iter().map(String::as_str));
        let mut err = self.err(&at, note.message);
        err.hint = note.hint;
        err
    }

    fn origin(&self, key: &[&str]) -> Origin {
        let mut inputs = key.to_vec();
        inputs.push("inputs");
        Origin {
            file: self.path.to_owned(),
            line: self.positions.find(key).map(|p| p.0),
            inputs_line: self.positions.find(&inputs).map(|p| p.0),
        }
    }
}

/// One component as declared: what each step of loading it needs to
/// check it and to point at its lines.
#[derive(Clone, Copy)]
struct Declared<'a> {
    doc: &'a Doc<'a>,
    /// `sources`, `transforms` or `sinks`.
    section: &'a str,
    id: &'a str,
    type_name: &'a str,
    kind: ComponentKind,
}

fn is_yaml(path: &Path) -> bool {
    matches!(
        path.extension().and_then(|e| e.to_str()),
        Some("yaml" | "yml")
    )
}

impl Loader<'_> {
    /// Reads one file into its top-level options; `None` (with the error
    /// recorded) when it is not a table.
    fn parse_doc<'p>(
        &mut self,
        path: &'p Path,
        raw: &str,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Option<(Doc<'p>, serde_json::Map<String, Json>)> {
        let text = match interpolate(raw, env) {
            Ok(t) => t,
            Err(errs) => {
                for (line, message) in errs {
                    self.errors.push(
                        ConfigError::new(path, Some(line), message)
                            .hint("export the variable, or give a default: ${NAME:-default}"),
                    );
                }
                return None;
            }
        };
        let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("");
        let (parsed, positions) = if is_yaml(path) {
            let positions = Positions::yaml(&text);
            let parsed = serde_norway::from_str::<Json>(&text).map_err(|e| {
                let loc = e.location();
                ConfigError::new(
                    path,
                    loc.as_ref().map(|l| l.line()),
                    format!("invalid YAML: {e}"),
                )
                .column(loc.map(|l| l.column()))
            });
            (parsed, positions)
        } else if ext == "json" {
            let parsed = serde_json::from_str::<Json>(&text).map_err(|e| {
                ConfigError::new(path, Some(e.line()), format!("invalid JSON: {e}"))
                    .column(Some(e.column()))
            });
            (parsed, Positions::default())
        } else {
            let positions = Positions::toml(&text);
            let parsed = toml::from_str::<Json>(&text).map_err(|e| {
                let pos = e.span().map(|s| positions.line_col(s.start));
                let message = e.message().trim().to_owned();
                ConfigError::new(path, pos.map(|p| p.0), format!("invalid TOML: {message}"))
                    .column(pos.map(|p| p.1))
            });
            (parsed, positions)
        };
        let root = match parsed {
            Ok(Json::Object(map)) => map,
            Ok(Json::Null) => serde_json::Map::new(),
            Ok(_) => {
                self.errors.push(ConfigError::new(
                    path,
                    Some(1),
                    "a config file must be a table of options",
                ));
                return None;
            }
            Err(e) => {
                self.errors.push(e);
                return None;
            }
        };
        Some((Doc { path, positions }, root))
    }

    /// Takes the enrichment tables and global options out of a file's
    /// top level and loads them.
    fn load_shared(&mut self, doc: &Doc<'_>, root: &mut serde_json::Map<String, Json>) {
        if let Some(tables) = root.remove("enrichment_tables") {
            self.enrichment_tables(doc, tables);
        }
        // Config unit tests are for `logbridge test config`; running the
        // pipeline ignores them, as Vector does.
        root.remove("tests");
        const SECTIONS: [&str; 3] = ["sources", "transforms", "sinks"];
        for key in globals::KEYS.iter().filter(|k| !SECTIONS.contains(k)) {
            if let Some(value) = root.remove(*key) {
                self.global(doc, key, value);
            }
        }
    }

    /// Loads the components of a file (what [`Loader::load_shared`] left).
    fn load_components(&mut self, doc: &Doc<'_>, root: serde_json::Map<String, Json>) {
        for (key, value) in root {
            match key.as_str() {
                "sources" => self.components(doc, "sources", value, ComponentKind::Source),
                "transforms" => self.components(doc, "transforms", value, ComponentKind::Transform),
                "sinks" => self.components(doc, "sinks", value, ComponentKind::Sink),
                other => self.errors.push(match vector::unsupported_global(other) {
                    Some(hint) => doc
                        .err(
                            &[other],
                            format!("`{other}` is a Vector option that logbridge does not support"),
                        )
                        .hint(hint),
                    None => doc
                        .err(&[other], format!("unknown option `{other}`"))
                        .hint(suggest::hint(other, &globals::KEYS)),
                }),
            }
        }
    }

    fn enrichment_tables(&mut self, doc: &Doc<'_>, value: Json) {
        let Json::Object(map) = value else {
            self.errors.push(doc.err(
                &["enrichment_tables"],
                "`enrichment_tables` must be a table of tables",
            ));
            return;
        };
        for (name, body) in map {
            if self.config.enrichment_tables.contains_key(&name) {
                self.errors.push(
                    doc.err(
                        &["enrichment_tables", &name],
                        format!("enrichment table `{name}` is declared twice"),
                    )
                    .hint("give each table its own name"),
                );
                continue;
            }
            match serde_path_to_error::deserialize::<_, EnrichmentTableConfig>(body) {
                Ok(table) => {
                    std::sync::Arc::make_mut(&mut self.config.enrichment_tables)
                        .insert(name, table);
                }
                Err(e) => {
                    let option = e.path().to_string();
                    let mut at = vec!["enrichment_tables", name.as_str()];
                    at.extend(option.split('.').filter(|s| !s.is_empty() && *s != "?"));
                    self.errors.push(
                        doc.err(&at, format!("enrichment table `{name}`: {}", e.inner()))
                            .hint("a table is { type = \"file\", file = { path = \"...\", encoding = { type = \"csv\" } }, schema = { COLUMN = \"TYPE\" } }"),
                    );
                }
            }
        }
    }

    fn global(&mut self, doc: &Doc<'_>, key: &str, value: Json) {
        let key: &'static str = match globals::KEYS.iter().find(|k| **k == key) {
            Some(k) => k,
            None => return,
        };
        if let Some((file, previous)) = self.globals_from.get(key)
            && *previous != value
        {
            self.errors.push(
                doc.err(
                    &[key],
                    format!("`{key}` is set differently in {}", file.display()),
                )
                .hint("set global options in one file only"),
            );
            return;
        }
        // Vector's `[api]` is served by the admin server: one of the two.
        let other = match key {
            "admin" => Some("api"),
            "api" => Some("admin"),
            _ => None,
        };
        if let Some(other) = other
            && let Some((file, _)) = self.globals_from.get(other)
        {
            self.errors.push(
                doc.err(
                    &[key],
                    format!(
                        "both [admin] and [api] are set (the other in {})",
                        file.display()
                    ),
                )
                .hint("[api] is Vector's name for the admin server: keep one of them"),
            );
            return;
        }
        self.globals_from
            .insert(key, (doc.path.to_owned(), value.clone()));
        let mut notes = Vec::new();
        match globals::parse(key, value, &mut notes) {
            Ok(Global::DataDir(dir)) => self.config.data_dir = dir,
            Ok(Global::ShutdownTimeoutSecs(n)) => self.config.shutdown_timeout_secs = n,
            Ok(Global::Admin(admin)) => self.config.admin = admin,
            Ok(Global::WildcardMatching(m)) => self.wildcard_matching = m,
            Ok(Global::Accepted) => {}
            Err(note) => self.errors.push(doc.note(&[key], note)),
        }
        for note in notes {
            self.warnings.push(doc.note(&[key], note).warning());
        }
    }

    fn components(&mut self, doc: &Doc<'_>, section: &str, value: Json, kind: ComponentKind) {
        let Json::Object(map) = value else {
            self.errors.push(doc.err(
                &[section],
                format!("`{section}` must be a table of components"),
            ));
            return;
        };
        for (id, body) in map {
            let at = [section, id.as_str()];
            if id.is_empty() || id.contains('.') || id.chars().any(char::is_whitespace) {
                self.errors.push(
                    doc.err(&at, format!("invalid component name `{id}`"))
                        .hint("names may not be empty or contain dots or spaces (a dot addresses a named output)"),
                );
                continue;
            }
            if let Some(other) = self.declared_at(&id) {
                self.errors.push(
                    doc.err(&at, format!("component `{id}` is declared twice"))
                        .hint(format!("the other one is at {other}; component names are unique across sources, transforms and sinks")),
                );
                continue;
            }
            self.secrets.extend(redact::secret_values(&body));
            // Until it parses, the component counts as broken.
            self.broken.insert(id.clone());
            let Json::Object(mut options) = body else {
                self.errors
                    .push(doc.err(&at, format!("component `{id}` must be a table of options")));
                continue;
            };
            let Some(type_name) = options.remove("type") else {
                self.errors.push(
                    doc.err(&at, format!("component `{id}` has no `type`"))
                        .hint(format!(
                            "add type = \"...\", one of: {}",
                            self.type_names(kind).join(", ")
                        )),
                );
                continue;
            };
            let Json::String(type_name) = type_name else {
                self.errors
                    .push(doc.err(&[section, &id, "type"], "`type` must be a string"));
                continue;
            };
            // Problems with `inputs` or `buffer` do not stop the options
            // from being checked: every problem shows at once.
            let errors_before = self.errors.len();
            let inputs = if kind == ComponentKind::Source {
                if options.remove("inputs").is_some() {
                    self.errors
                        .push(doc.err(&[section, &id, "inputs"], "sources take no `inputs`"));
                }
                Vec::new()
            } else {
                match options
                    .remove("inputs")
                    .map(serde_json::from_value::<Vec<String>>)
                {
                    Some(Ok(inputs)) => inputs,
                    Some(Err(_)) => {
                        self.errors.push(doc.err(
                            &[section, &id, "inputs"],
                            "`inputs` must be a list of component names",
                        ));
                        Vec::new()
                    }
                    None => {
                        self.errors.push(doc.err(&at, format!("{} `{id}` has no `inputs`", kind.as_str())).hint(
                            "add inputs = [\"NAME\"] naming the sources or transforms it reads from",
                        ));
                        Vec::new()
                    }
                }
            };
            self.vector_options(doc, section, &id, kind, &mut options);
            let buffer = match options.remove("buffer") {
                Some(_) if kind != ComponentKind::Sink => {
                    self.errors.push(
                        doc.err(&[section, &id, "buffer"], "only sinks take a `buffer`")
                            .hint("move `buffer` to the sink that reads from this component"),
                    );
                    BufferConfig::default()
                }
                Some(value) => parse_buffer(doc, section, &id, value).unwrap_or_else(|e| {
                    self.errors.push(e);
                    BufferConfig::default()
                }),
                None => BufferConfig::default(),
            };
            let declared = Declared {
                doc,
                section,
                id: &id,
                type_name: &type_name,
                kind,
            };
            let valid_so_far = self.errors.len() == errors_before;
            self.component(
                &declared,
                Json::Object(options),
                inputs,
                buffer,
                valid_so_far,
            );
        }
    }

    /// Takes out Vector's `acknowledgements` (sources and sinks) and
    /// `healthcheck` (sinks), which no component parses: logbridge
    /// acknowledges end to end and checks no sink before starting.
    fn vector_options(
        &mut self,
        doc: &Doc<'_>,
        section: &str,
        id: &str,
        kind: ComponentKind,
        options: &mut serde_json::Map<String, Json>,
    ) {
        let scope = match kind {
            ComponentKind::Source => AckScope::Source,
            ComponentKind::Sink => AckScope::Sink,
            ComponentKind::Transform => return,
        };
        let mut checked = Vec::new();
        if let Some(value) = options.remove("acknowledgements") {
            checked.push(("acknowledgements", vector::acknowledgements(&value, scope)));
        }
        if kind == ComponentKind::Sink
            && let Some(value) = options.remove("healthcheck")
        {
            checked.push(("healthcheck", vector::healthcheck(&value)));
        }
        for (option, result) in checked {
            let at = [section, id, option];
            match result {
                Ok(None) => {}
                Ok(Some(note)) => self.warnings.push(doc.note(&at, note).warning()),
                Err(note) => self.errors.push(doc.note(&at, note)),
            }
        }
    }

    fn declared_at(&self, id: &str) -> Option<String> {
        let c = &self.config;
        let origin = c
            .sources
            .get(id)
            .map(|s| &s.origin)
            .or_else(|| c.transforms.get(id).map(|t| &t.origin))
            .or_else(|| c.sinks.get(id).map(|s| &s.origin))?;
        Some(match origin.line {
            Some(l) => format!("{}:{l}", origin.file.display()),
            None => origin.file.display().to_string(),
        })
    }

    /// Checks one component and adds it to the config when it is valid
    /// (`valid_so_far`: its `inputs` and `buffer` were). An invalid one
    /// is remembered as broken, with its inputs, which are checked too.
    fn component(
        &mut self,
        declared: &Declared<'_>,
        options: Json,
        inputs: Vec<String>,
        buffer: BufferConfig,
        valid_so_far: bool,
    ) {
        let errors_before = self.errors.len();
        let Declared {
            id,
            type_name,
            kind,
            ..
        } = *declared;
        let origin = declared.doc.origin(&[declared.section, id]);
        let valid = |errors: &Vec<ConfigError>| valid_so_far && errors.len() == errors_before;
        match kind {
            ComponentKind::Source => {
                let parsed =
                    self.parse_component(declared, options, self.registry.sources, |c, cx| {
                        c.build(cx).map(drop)
                    });
                if let Some(config) = parsed.filter(|_| valid(&self.errors)) {
                    let spec = SourceSpec {
                        type_name: type_name.to_owned(),
                        config,
                        origin,
                    };
                    self.config.sources.insert(id.to_owned(), spec);
                    self.broken.remove(id);
                }
                return;
            }
            ComponentKind::Transform => {
                let parsed =
                    self.parse_component(declared, options, self.registry.transforms, |c, cx| {
                        c.build(cx).map(drop)
                    });
                if let Some(config) = parsed.filter(|_| valid(&self.errors)) {
                    let spec = TransformSpec {
                        type_name: type_name.to_owned(),
                        config,
                        inputs,
                        origin,
                        input_kinds: DataKind::NONE,
                    };
                    self.config.transforms.insert(id.to_owned(), spec);
                    self.broken.remove(id);
                    return;
                }
            }
            ComponentKind::Sink => {
                let parsed =
                    self.parse_component(declared, options, self.registry.sinks, |c, cx| {
                        c.build(cx).map(drop)
                    });
                if let Some(config) = parsed.filter(|_| valid(&self.errors)) {
                    let spec = SinkSpec {
                        type_name: type_name.to_owned(),
                        config,
                        inputs,
                        origin,
                        buffer,
                    };
                    self.config.sinks.insert(id.to_owned(), spec);
                    self.broken.remove(id);
                    return;
                }
            }
        }
        self.broken_consumers.push(graph::BrokenConsumer {
            id: id.to_owned(),
            inputs,
            origin,
            what: kind.as_str(),
        });
    }

    /// Looks the type up, parses the options and builds the component once
    /// (to surface option errors); records any error and returns the config
    /// when all went well.
    fn parse_component<C: ?Sized>(
        &mut self,
        declared: &Declared<'_>,
        options: Json,
        types: &[registry::ComponentType<C>],
        build: fn(&C, &BuildContext) -> Result<(), BuildError>,
    ) -> Option<Box<C>> {
        let Declared {
            doc,
            section,
            id,
            type_name,
            kind,
        } = *declared;
        let Some(t) = registry::find(types, type_name) else {
            self.errors
                .push(self.unknown_type(declared, &registry::names(types)));
            return None;
        };
        // With option errors, what parses once the bad options are taken
        // out is still built, to report its problems too.
        let (config, options_valid) = match (t.parse)(options.clone()) {
            Ok(config) => (config, true),
            Err(e) => (self.option_errors(declared, options, e, t.parse)?, false),
        };
        let build_cx = BuildContext::detached(id, kind, self.config.data_dir.clone())
            .with_enrichment_tables(self.config.enrichment_tables.clone());
        match build(&config, &build_cx) {
            Ok(()) => options_valid.then_some(config),
            Err(e) => {
                self.errors.push(build_error(doc, section, id, e));
                None
            }
        }
    }

    /// Reports `first` and the component's other option errors: serde
    /// stops at the first, so the offending option is taken out and the
    /// rest parsed again, until they parse (which is returned) or an error
    /// is only the consequence of a removal (a required option now
    /// missing).
    fn option_errors<C: ?Sized>(
        &mut self,
        declared: &Declared<'_>,
        mut options: Json,
        first: ParseError,
        parse: fn(Json) -> Result<Box<C>, ParseError>,
    ) -> Option<Box<C>> {
        /// Enough for any real config; bounds the work on a pathological one.
        const MOST_REPORTED: usize = 16;
        let Declared {
            doc,
            section,
            id,
            type_name,
            ..
        } = *declared;
        let mut error = first;
        let mut removed: Option<String> = None;
        for _ in 0..MOST_REPORTED {
            let inner = error.inner().to_string();
            if let Some(gone) = &removed
                && inner.starts_with(&format!("missing field `{gone}`"))
            {
                return None;
            }
            let path = option_path(&error);
            let err = match vector_option(self.registry, declared, &error) {
                Some(err) => err,
                None => option_error(doc, section, id, type_name, error),
            };
            self.errors.push(err);
            if !remove_option(&mut options, &path) {
                return None;
            }
            removed = path.last().cloned();
            match parse(options.clone()) {
                Ok(config) => return Some(config),
                Err(next) => error = next,
            }
        }
        None
    }

    /// The error for a type the registry does not have: one this build
    /// leaves out (with the feature to build), one of Vector's that
    /// logbridge lacks (with what comes closest), or a misspelling.
    fn unknown_type(&self, declared: &Declared<'_>, names: &[&str]) -> ConfigError {
        let (doc, id, type_name, kind) =
            (declared.doc, declared.id, declared.type_name, declared.kind);
        let at = [declared.section, id, "type"];
        let what = kind.as_str();
        if let Some(left_out) = self.registry.left_out.iter().find(|l| l.name == type_name) {
            return doc
                .err(&at, format!("unknown {what} type `{type_name}`"))
                .hint(format!(
                    "this logbridge is built without the `{}` feature, which `{type_name}` needs \
                     (cargo build --features {})",
                    left_out.feature, left_out.feature
                ));
        }
        if let Some(vector) = self.registry.vector_component(kind, type_name) {
            let hint = match vector.instead {
                "" => format!(
                    "not supported by logbridge; its {what}s are: {}",
                    names.join(", ")
                ),
                instead => instead.to_owned(),
            };
            return doc
                .err(
                    &at,
                    format!(
                        "in `{id}`: logbridge has no `{type_name}` {what} (a Vector {what} logbridge does not have)"
                    ),
                )
                .hint(hint);
        }
        doc.err(&at, format!("unknown {what} type `{type_name}`"))
            .hint(suggest::hint(type_name, names))
    }

    fn type_names(&self, kind: ComponentKind) -> Vec<&'static str> {
        match kind {
            ComponentKind::Source => registry::names(self.registry.sources),
            ComponentKind::Transform => registry::names(self.registry.transforms),
            ComponentKind::Sink => registry::names(self.registry.sinks),
        }
    }
}

/// The error for an unknown option that is one of Vector's options of this
/// component type (or of any component) that logbridge does not take.
fn vector_option(
    registry: &Registry,
    declared: &Declared<'_>,
    error: &ParseError,
) -> Option<ConfigError> {
    unknown_field(&error.inner().to_string())?;
    // Ends at the unknown option; nested ones (`encoding.json`) are named
    // by their whole path.
    let option = option_path(error);
    let dotted = option.join(".");
    let hint = registry.vector_option(declared.type_name, &dotted)?;
    let mut at = vec![declared.section, declared.id];
    at.extend(option.iter().map(String::as_str));
    Some(
        declared
            .doc
            .err(
                &at,
                format!(
                    "in `{}`: `{dotted}` is a Vector option of `{}` that logbridge does not support",
                    declared.id, declared.type_name
                ),
            )
            .hint(hint),
    )
}

/// The option a serde error is about, as keys from the component's table.
fn option_path(e: &ParseError) -> Vec<String> {
    let mut path: Vec<String> = e
        .path()
        .iter()
        .filter_map(|seg| match seg {
            serde_path_to_error::Segment::Map { key } => Some(key.clone()),
            serde_path_to_error::Segment::Seq { index } => Some(index.to_string()),
            _ => None,
        })
        .collect();
    // The path usually ends at the unknown option already; make sure.
    if let Some(field) = unknown_field(&e.inner().to_string())
        && path.last().map(String::as_str) != Some(field)
    {
        path.push(field.to_owned());
    }
    path
}

/// The option named by serde's "unknown field `x`, expected ..." message.
fn unknown_field(message: &str) -> Option<&str> {
    message
        .strip_prefix("unknown field `")
        .and_then(|r| r.split('`').next())
}

/// Takes the option at `path` out of `options`; false when it is not
/// there (the error was about something else, such as a missing option).
fn remove_option(options: &mut Json, path: &[String]) -> bool {
    let Some((last, parents)) = path.split_last() else {
        return false;
    };
    let mut at = options;
    for key in parents {
        at = match at {
            Json::Object(map) => match map.get_mut(key) {
                Some(v) => v,
                None => return false,
            },
            Json::Array(items) => match key.parse::<usize>().ok().and_then(|i| items.get_mut(i)) {
                Some(v) => v,
                None => return false,
            },
            _ => return false,
        };
    }
    match at {
        Json::Object(map) => map.remove(last).is_some(),
        Json::Array(items) => match last.parse::<usize>() {
            Ok(i) if i < items.len() => {
                items.remove(i);
                true
            }
            _ => false,
        },
        _ => false,
    }
}

/// Turns a serde error for a component's options into an error at the line
/// of the option, with a hint. The value of an option that holds a secret
/// is not repeated.
fn option_error(
    doc: &Doc<'_>,
    section: &str,
    id: &str,
    type_name: &str,
    e: ParseError,
) -> ConfigError {
    let option = option_path(&e);
    let mut at: Vec<&str> = vec![section, id];
    at.extend(option.iter().map(String::as_str));
    let inner = e.inner().to_string();
    if let Some(field) = unknown_field(&inner) {
        let expected = inner
            .split("expected ")
            .nth(1)
            .unwrap_or("")
            .replace('`', "");
        let candidates: Vec<&str> = expected
            .split(", ")
            .map(|s| s.trim_start_matches("one of ").trim_start_matches("or "))
            .collect();
        let hint = match suggest::closest(field, candidates.iter().copied()) {
            Some(c) => format!("did you mean `{c}`?"),
            None if expected.is_empty() => format!("`{type_name}` takes no options"),
            None => format!("`{type_name}` takes: {expected}"),
        };
        return doc
            .err(
                &at,
                format!("unknown option `{field}` in {type_name} `{id}`"),
            )
            .hint(hint);
    }
    let where_ = if e.path().iter().next().is_some() {
        format!(" at `{}`", e.path())
    } else {
        String::new()
    };
    let what = if redact::is_secret_option(&option) {
        // serde's message quotes the value ("invalid type: integer `1234`,
        // expected a string"): keep only what was expected.
        match inner.split_once(", expected ") {
            Some((_, expected)) => format!(
                "expected {expected} (the value given is not shown: this option holds a secret)"
            ),
            None => "invalid value (not shown: this option holds a secret)".to_owned(),
        }
    } else {
        inner.clone()
    };
    let err = doc.err(
        &at,
        format!("invalid options for {type_name} `{id}`{where_}: {what}"),
    );
    if inner.starts_with("missing field") {
        err.hint("see the configuration reference for this component's required options")
    } else if inner.starts_with("unknown variant") {
        err.hint("check the spelling of the value")
    } else {
        err
    }
}

fn build_error(doc: &Doc<'_>, section: &str, id: &str, e: BuildError) -> ConfigError {
    let mut at = vec![section, id];
    // `route.errors` style options: point at the deepest key we know.
    let parts: Vec<&str> = e
        .option
        .as_deref()
        .map(|o| o.split('.').collect())
        .unwrap_or_default();
    at.extend(parts.iter().copied());
    let mut err = doc.err(&at, format!("in `{id}`: {}", e.message));
    err.hint = e.hint;
    err
}

/// A sink's `buffer` table.
fn parse_buffer(
    doc: &Doc<'_>,
    section: &str,
    id: &str,
    value: Json,
) -> Result<BufferConfig, ConfigError> {
    let buffer: BufferConfig = serde_path_to_error::deserialize(value).map_err(|e| {
        let inner = e.inner().to_string();
        let field = inner
            .strip_prefix("unknown field `")
            .and_then(|r| r.split('`').next())
            .map(str::to_owned)
            .or_else(|| e.path().iter().next_back().map(|s| s.to_string()));
        let mut at = vec![section, id, "buffer"];
        if let Some(f) = field.as_deref() {
            at.push(f);
        }
        doc.err(&at, format!("invalid `buffer` of `{id}`: {inner}"))
            .hint("buffer takes type (memory or disk), max_events, max_size (bytes) and when_full (block or drop_newest)")
    })?;
    if buffer.kind == BufferType::Disk && buffer.max_events.is_some() {
        return Err(doc
            .err(
                &[section, id, "buffer", "max_events"],
                "a disk buffer is bounded by `max_size` (bytes), not events",
            )
            .hint("remove max_events, or use type = \"memory\""));
    }
    if buffer.max_events == Some(0) || buffer.max_size == Some(0) {
        return Err(doc.err(&[section, id, "buffer"], "buffer sizes must be above 0"));
    }
    Ok(buffer)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::{ComponentType, LeftOut};
    use logbridge_component::{
        ComponentError, OutputDef, Sink, SinkConfig, SinkContext, Source, SourceConfig,
        SourceContext,
    };

    /// A source that ends at once.
    #[derive(Debug, serde::Deserialize, schemars::JsonSchema)]
    #[serde(deny_unknown_fields)]
    struct TickConfig {
        #[serde(default)]
        interval_secs: u64,
    }

    struct Idle;

    #[async_trait::async_trait]
    impl Source for Idle {
        async fn run(self: Box<Self>, _cx: SourceContext) -> Result<(), ComponentError> {
            Ok(())
        }
    }

    #[async_trait::async_trait]
    impl Sink for Idle {
        async fn run(self: Box<Self>, _cx: SinkContext) -> Result<(), ComponentError> {
            Ok(())
        }
    }

    impl SourceConfig for TickConfig {
        fn build(&self, _cx: &BuildContext) -> Result<Box<dyn Source>, BuildError> {
            if self.interval_secs > 60 {
                return Err(BuildError::new("interval_secs", "at most 60 seconds"));
            }
            Ok(Box::new(Idle))
        }
        fn outputs(&self) -> Vec<OutputDef> {
            vec![OutputDef::default_output(DataKind::LOG)]
        }
    }

    /// A sink that takes logs.
    #[derive(Debug, serde::Deserialize, schemars::JsonSchema)]
    #[serde(deny_unknown_fields)]
    struct DrainConfig {}

    impl SinkConfig for DrainConfig {
        fn build(&self, _cx: &BuildContext) -> Result<Box<dyn Sink>, BuildError> {
            Ok(Box::new(Idle))
        }
        fn input_kinds(&self) -> DataKind {
            DataKind::LOG
        }
    }

    static REGISTRY: Registry = Registry {
        sources: &[ComponentType::source::<TickConfig>("tick")],
        transforms: &[],
        sinks: &[ComponentType::sink::<DrainConfig>("drain")],
        left_out: &[LeftOut {
            name: "kafka",
            feature: "kafka",
        }],
        vector_components: &[],
        vector_options: &[],
    };

    fn load(text: &str) -> Result<Config, Vec<String>> {
        load_str(&REGISTRY, Path::new("p.toml"), text, &|_| None)
            .map_err(|e| e.0.iter().map(ToString::to_string).collect())
    }

    #[test]
    fn components_come_from_the_registry_passed() {
        let config =
            load("[sources.a]\ntype = \"tick\"\n[sinks.b]\ntype = \"drain\"\ninputs = [\"a\"]\n")
                .unwrap();
        assert_eq!(config.sources["a"].type_name, "tick");
        assert_eq!(config.sinks["b"].inputs, ["a"]);
    }

    #[test]
    fn errors_name_the_registry_types() {
        let errors = load("[sources.a]\ntype = \"tik\"\n").unwrap_err();
        assert_eq!(
            errors,
            ["p.toml:2:1: error: unknown source type `tik`\n  hint: did you mean `tick`?"]
        );
        let errors = load("[sources.a]\ntype = \"kafka\"\n").unwrap_err();
        assert_eq!(
            errors,
            [
                "p.toml:2:1: error: unknown source type `kafka`\n  hint: this logbridge is built \
                 without the `kafka` feature, which `kafka` needs (cargo build --features kafka)"
            ]
        );
        let errors = load("[sources.a]\ninterval_secs = 1\n").unwrap_err();
        assert_eq!(
            errors,
            [
                "p.toml:1:10: error: component `a` has no `type`\n  hint: add type = \"...\", one of: tick"
            ]
        );
        let errors = load("[sources.a]\ntype = \"tick\"\nintervl_secs = 1\n").unwrap_err();
        assert_eq!(
            errors,
            [
                "p.toml:3:1: error: unknown option `intervl_secs` in tick `a`\n  hint: did you mean `interval_secs`?"
            ]
        );
        let errors = load("[sources.a]\ntype = \"tick\"\ninterval_secs = 61\n").unwrap_err();
        assert_eq!(errors, ["p.toml:3:1: error: in `a`: at most 60 seconds"]);
    }
}
