//! The architecture invariants of ARCHITECTURE.md that a test can check,
//! read from the manifests and sources themselves: which crate may depend
//! on which, and which crates never read the clock.

use std::path::{Path, PathBuf};

fn crates_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The `logbridge-*` crates a crate's `[dependencies]` name (dev- and
/// build-dependencies are not part of what it is built from).
fn logbridge_dependencies(krate: &str) -> Vec<String> {
    let path = crates_dir().join(krate).join("Cargo.toml");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    let manifest: toml::Table = text.parse().unwrap();
    let Some(deps) = manifest.get("dependencies").and_then(|d| d.as_table()) else {
        return Vec::new();
    };
    deps.keys()
        .filter(|name| name.starts_with("logbridge-"))
        .cloned()
        .collect()
}

/// Every `logbridge-*` crate of the workspace.
fn workspace_crates() -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(crates_dir())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("logbridge-"))
        .collect();
    names.sort();
    names
}

/// The crates that hold components: only the binary may depend on them.
const COMPONENT_CRATES: &[&str] = &[
    "logbridge-sources",
    "logbridge-transforms",
    "logbridge-sinks",
];

/// Kit crates: shared by components, never depending on one.
const KIT_CRATES: &[&str] = &["logbridge-net", "logbridge-kafka"];

#[test]
fn only_the_binary_depends_on_component_crates() {
    for krate in workspace_crates() {
        let deps = logbridge_dependencies(&krate);
        for component in COMPONENT_CRATES {
            assert!(
                !deps.iter().any(|d| d == component),
                "{krate} depends on {component}: components are wired in the binary \
                 (crates/logbridge/src/registry.rs), and what components share goes \
                 into a kit crate"
            );
        }
    }
}

#[test]
fn config_depends_only_on_the_component_interface_and_the_event_model() {
    let deps = logbridge_dependencies("logbridge-config");
    for dep in &deps {
        assert!(
            ["logbridge-component", "logbridge-event"].contains(&dep.as_str()),
            "logbridge-config depends on {dep}: the registry of component types is a \
             parameter of load_files, so config rebuilds only when the interface changes"
        );
    }
}

#[test]
fn kits_and_protocol_crates_do_not_depend_on_components_or_the_runtime_crates() {
    let protocol = [
        "logbridge-otlp",
        "logbridge-prometheus",
        "logbridge-loki",
        "logbridge-trace-formats",
    ];
    let above = [
        "logbridge-config",
        "logbridge-topology",
        "logbridge-admin",
        "logbridge-buffer",
    ];
    for krate in KIT_CRATES.iter().chain(protocol.iter()) {
        for dep in logbridge_dependencies(krate) {
            assert!(
                !above.contains(&dep.as_str()) && !KIT_CRATES.contains(&dep.as_str()),
                "{krate} depends on {dep}"
            );
        }
    }
    for krate in protocol {
        for dep in logbridge_dependencies(krate) {
            assert_eq!(
                dep, "logbridge-event",
                "{krate} is a pure protocol crate: it may depend on the event model only"
            );
        }
    }
}

#[test]
fn the_rules_engine_stands_alone() {
    for krate in ["logbridge-rules", "logbridge-text-template"] {
        for dep in logbridge_dependencies(krate) {
            assert_eq!(
                dep, "logbridge-text-template",
                "{krate} depends on {dep}: the rules engine knows nothing of the pipeline"
            );
        }
    }
}

/// Every `.rs` file under `dir`.
fn sources(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(path);
            }
        }
    }
    out
}

#[test]
fn pure_crates_never_read_the_clock() {
    let pure = [
        "logbridge-event",
        "logbridge-rules",
        "logbridge-text-template",
        "logbridge-codec",
        "logbridge-otlp",
        "logbridge-prometheus",
        "logbridge-loki",
        "logbridge-trace-formats",
    ];
    let clocks = ["Instant::now", "SystemTime::now", "Utc::now", "Local::now"];
    for krate in pure {
        let files = sources(&crates_dir().join(krate).join("src"));
        assert!(!files.is_empty(), "{krate} has no sources");
        for file in files {
            let text = std::fs::read_to_string(&file).unwrap();
            for clock in clocks {
                assert!(
                    !text.contains(clock),
                    "{} reads the clock ({clock}): time is passed in by the caller",
                    file.display()
                );
            }
        }
    }
}

#[test]
fn every_source_file_says_what_it_is_for() {
    for krate in workspace_crates().into_iter().chain(["logbridge".into()]) {
        for file in sources(&crates_dir().join(&krate).join("src")) {
            let text = std::fs::read_to_string(&file).unwrap();
            assert!(
                text.starts_with("//!"),
                "{} does not open with a `//!` doc comment",
                file.display()
            );
        }
    }
}
