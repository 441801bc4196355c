//! The AWS shared config files (`~/.aws/credentials`, `~/.aws/config`),
//! read the way the AWS CLI reads them, for the `aws_s3` sink.
//!
//! Owns finding the files, parsing them (a small INI reader) and deciding
//! what they contribute next to the environment. It never reads the
//! process environment itself (the caller passes it, so tests control it)
//! and never logs a secret: warnings name a file and a line number only.
//!
//! Precedence, highest first: the sink's options (applied by `store.rs`),
//! `AWS_*` variables, the credentials file, the config file. Credentials
//! are taken as a unit (key id, secret and session token from the same
//! place), as the AWS CLI does: a key id from one place signed with a
//! token from another fails in confusing ways. Region and endpoint are
//! taken key by key.
//!
//! Not supported: `role_arn`/`source_profile` chains, `credential_process`,
//! SSO, and the per-service `services` blocks.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use tracing::warn;

/// Environment variables that carry credentials. The environment's
/// credentials are used only when `AWS_ACCESS_KEY_ID` is set; otherwise
/// none of these is, so a stray token cannot mix with a file's keys.
pub(crate) const CREDENTIAL_VARS: [&str; 3] = [
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
];

/// Keys from a profile.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct Credentials {
    pub(crate) access_key_id: String,
    pub(crate) secret_access_key: String,
    pub(crate) session_token: Option<String>,
}

/// Secrets stay out of logs and panic messages: only the key id, which
/// AWS treats as an identifier, is shown.
impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &"<redacted>")
            .field(
                "session_token",
                &self.session_token.as_ref().map(|_| "<redacted>"),
            )
            .finish()
    }
}

/// What the files contribute: only settings the environment does not
/// already set.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct FileSettings {
    pub(crate) credentials: Option<Credentials>,
    pub(crate) region: Option<String>,
    pub(crate) endpoint_url: Option<String>,
}

/// `AWS_PROFILE` names a profile that neither file has.
#[derive(Debug)]
pub(crate) struct ProfileNotFound {
    profile: String,
    /// Each file looked at, and what became of it.
    files: Vec<(PathBuf, FileState)>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum FileState {
    Read,
    Missing,
    Ignored,
}

impl fmt::Display for ProfileNotFound {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "AWS profile `{}` (from AWS_PROFILE) not found",
            self.profile
        )?;
        if self.files.is_empty() {
            return write!(
                f,
                "; no AWS config files to look in (HOME, AWS_SHARED_CREDENTIALS_FILE and AWS_CONFIG_FILE are unset)"
            );
        }
        f.write_str("; looked in ")?;
        for (i, (path, state)) in self.files.iter().enumerate() {
            if i > 0 {
                f.write_str(" and ")?;
            }
            write!(f, "{}", path.display())?;
            match state {
                FileState::Read => {}
                FileState::Missing => f.write_str(" (missing)")?,
                FileState::Ignored => f.write_str(" (unreadable, ignored)")?,
            }
        }
        Ok(())
    }
}

impl std::error::Error for ProfileNotFound {}

/// Reads the profile's settings from the shared files, leaving out those
/// that `env` sets itself.
pub(crate) fn resolve(env: &[(String, String)]) -> Result<FileSettings, ProfileNotFound> {
    let var = |name: &str| {
        env.iter()
            .rev() // the last of duplicates wins, as when setting them in order
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .filter(|v| !v.is_empty())
    };
    let named = var("AWS_PROFILE");
    let profile = named.unwrap_or("default");
    let home = var("HOME");
    let file = |var_name: &str, default: &str| match var(var_name) {
        Some(path) => Some(expand_home(path, home)),
        None => home.map(|h| Path::new(h).join(default)),
    };

    let mut looked_at = Vec::new();
    let mut found = false;
    let mut read = |path: Option<PathBuf>, section: &dyn Fn(&str) -> bool| {
        let path = path?;
        let (state, sections) = match read_file(&path) {
            Ok(Some(sections)) => (FileState::Read, sections),
            Ok(None) => (FileState::Missing, Vec::new()),
            Err(()) => (FileState::Ignored, Vec::new()),
        };
        looked_at.push((path, state));
        let mut merged: Option<HashMap<String, String>> = None;
        // Repeated sections merge, later keys winning.
        for (_, keys) in sections.into_iter().filter(|(name, _)| section(name)) {
            merged.get_or_insert_with(HashMap::new).extend(keys);
        }
        found |= merged.is_some();
        merged
    };
    let credentials_file = read(
        file("AWS_SHARED_CREDENTIALS_FILE", ".aws/credentials"),
        &|name| name == profile,
    );
    let config_file = read(file("AWS_CONFIG_FILE", ".aws/config"), &|name| {
        config_section_is(name, profile)
    });
    if let Some(profile) = named
        && !found
    {
        return Err(ProfileNotFound {
            profile: profile.to_owned(),
            files: looked_at,
        });
    }

    let sources = [credentials_file.as_ref(), config_file.as_ref()];
    let pick = |key: &str| {
        sources
            .iter()
            .flatten()
            .find_map(|keys| keys.get(key).filter(|v| !v.is_empty()).cloned())
    };
    let credentials = if var("AWS_ACCESS_KEY_ID").is_some() {
        None
    } else {
        sources
            .iter()
            .flatten()
            .find_map(|keys| credentials_in(keys, profile))
    };
    let region = if var("AWS_REGION").is_some() || var("AWS_DEFAULT_REGION").is_some() {
        None
    } else {
        pick("region")
    };
    let endpoint_url = if var("AWS_ENDPOINT_URL").is_some() || var("AWS_ENDPOINT").is_some() {
        None
    } else {
        pick("endpoint_url")
    };
    Ok(FileSettings {
        credentials,
        region,
        endpoint_url,
    })
}

/// The credentials of one file's profile section, if it has a key id.
fn credentials_in(keys: &HashMap<String, String>, profile: &str) -> Option<Credentials> {
    let get = |key: &str| keys.get(key).filter(|v| !v.is_empty()).cloned();
    let access_key_id = get("aws_access_key_id")?;
    let Some(secret_access_key) = get("aws_secret_access_key") else {
        warn!(
            message = "AWS profile has aws_access_key_id but no aws_secret_access_key; ignoring its keys.",
            profile,
        );
        return None;
    };
    Some(Credentials {
        access_key_id,
        secret_access_key,
        session_token: get("aws_session_token"),
    })
}

/// In the config file, profile `x` is `[profile x]`; `default` is
/// `[default]` (or `[profile default]`). A bare `[x]` there is not a
/// profile (the AWS CLI ignores it too), nor are `[sso-session x]` and
/// `[services x]`.
fn config_section_is(section: &str, profile: &str) -> bool {
    if profile == "default" && section == "default" {
        return true;
    }
    let mut words = section.split_whitespace();
    words.next() == Some("profile") && words.next() == Some(profile) && words.next().is_none()
}

fn expand_home(path: &str, home: Option<&str>) -> PathBuf {
    match (path.strip_prefix("~/"), home) {
        (Some(rest), Some(home)) => Path::new(home).join(rest),
        _ => PathBuf::from(path),
    }
}

type Sections = Vec<(String, HashMap<String, String>)>;

/// `Ok(None)` if the file does not exist; `Err` (after a warning) if it
/// cannot be read or parsed, so that the caller ignores it.
fn read_file(path: &Path) -> Result<Option<Sections>, ()> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(error) => {
            warn_once(path, &error.to_string());
            return Err(());
        }
    };
    parse(&text).map(Some).map_err(|line| {
        warn_once(
            path,
            &format!("line {line} is neither `[section]` nor `key = value`"),
        )
    })
}

/// Warns about a file once per process: opening the store is retried
/// while it fails, and the same warning every few seconds helps no one.
fn warn_once(path: &Path, error: &str) {
    static WARNED: Mutex<Option<HashSet<PathBuf>>> = Mutex::new(None);
    let mut warned = WARNED
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    if warned
        .get_or_insert_with(HashSet::new)
        .insert(path.to_owned())
    {
        warn!(
            message = "Ignoring an AWS config file that cannot be read.",
            path = %path.display(),
            error,
        );
    }
}

/// Parses the INI dialect of the AWS files: `[section]` headers, `key =
/// value` lines (keys case-insensitive), full-line comments starting with
/// `#` or `;`, and comments after whitespace in a value. Indented lines
/// under a key with an empty value are a nested block (`s3 =` then
/// `  max_concurrent_requests = 10`), which nothing here needs: skipped.
///
/// Returns the first bad line's number (from 1). The error carries no
/// text from the file, which may hold secrets.
fn parse(text: &str) -> Result<Sections, usize> {
    let mut sections: Sections = Vec::new();
    let mut in_nested_block = false;
    for (index, raw) in text.lines().enumerate() {
        let line = strip_comment(raw).trim();
        if line.is_empty() {
            continue;
        }
        let indented = raw.starts_with([' ', '\t']);
        if indented && in_nested_block {
            continue;
        }
        in_nested_block = false;
        if let Some(header) = line.strip_prefix('[') {
            let name = header.strip_suffix(']').ok_or(index + 1)?.trim();
            sections.push((name.to_owned(), HashMap::new()));
            continue;
        }
        let (key, value) = line.split_once('=').ok_or(index + 1)?;
        let (key, value) = (key.trim(), value.trim());
        let (_, keys) = sections.last_mut().ok_or(index + 1)?;
        if key.is_empty() {
            return Err(index + 1);
        }
        if value.is_empty() {
            in_nested_block = true;
        }
        keys.insert(key.to_ascii_lowercase(), value.to_owned());
    }
    Ok(sections)
}

/// The line without a comment: a whole-line `#`/`;` comment, or one that
/// starts after whitespace (`region = eu-west-1 # Ireland`). Values the
/// files hold (keys, regions, URLs) contain no whitespace, so nothing real
/// is cut.
fn strip_comment(line: &str) -> &str {
    let trimmed = line.trim_start();
    if trimmed.starts_with(['#', ';']) {
        return "";
    }
    let bytes = line.as_bytes();
    for (i, b) in bytes.iter().enumerate() {
        if (*b == b'#' || *b == b';') && i > 0 && bytes[i - 1].is_ascii_whitespace() {
            return &line[..i];
        }
    }
    line
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    /// A temporary HOME with the given files under `.aws/`.
    struct Home {
        dir: tempfile::TempDir,
    }

    impl Home {
        fn new(credentials: Option<&str>, config: Option<&str>) -> Home {
            let dir = tempfile::tempdir().unwrap();
            std::fs::create_dir(dir.path().join(".aws")).unwrap();
            for (name, text) in [("credentials", credentials), ("config", config)] {
                if let Some(text) = text {
                    let mut f = std::fs::File::create(dir.path().join(".aws").join(name)).unwrap();
                    f.write_all(text.as_bytes()).unwrap();
                }
            }
            Home { dir }
        }

        fn path(&self, name: &str) -> PathBuf {
            self.dir.path().join(".aws").join(name)
        }

        fn env(&self, vars: &[(&str, &str)]) -> Vec<(String, String)> {
            let mut env = vec![("HOME".to_owned(), self.dir.path().display().to_string())];
            env.extend(vars.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())));
            env
        }
    }

    fn creds(id: &str, secret: &str, token: Option<&str>) -> Option<Credentials> {
        Some(Credentials {
            access_key_id: id.into(),
            secret_access_key: secret.into(),
            session_token: token.map(Into::into),
        })
    }

    const CREDENTIALS: &str = "\
# comment
[default]
aws_access_key_id = AKIDDEFAULT
aws_secret_access_key = secret-default

[prod]
aws_access_key_id=AKIDPROD
aws_secret_access_key=secret-prod
aws_session_token = token-prod ; a comment after whitespace
region = eu-west-1

[profile staging]
aws_access_key_id = AKIDNOTSTAGING
aws_secret_access_key = no
";

    const CONFIG: &str = "\
[default]
region = us-west-2
endpoint_url = http://127.0.0.1:9000

[profile prod]
region = ap-south-1
endpoint_url = https://s3.example.com
s3 =
  max_concurrent_requests = 20
  addressing_style = path

[profile staging]
aws_access_key_id = AKIDSTAGING
aws_secret_access_key = secret-staging
region = ca-central-1

[dev]
region = nowhere-1
";

    #[test]
    fn default_profile_from_both_files() {
        let home = Home::new(Some(CREDENTIALS), Some(CONFIG));
        let got = resolve(&home.env(&[])).unwrap();
        assert_eq!(
            got,
            FileSettings {
                credentials: creds("AKIDDEFAULT", "secret-default", None),
                region: Some("us-west-2".into()),
                endpoint_url: Some("http://127.0.0.1:9000".into()),
            }
        );
    }

    #[test]
    fn credentials_file_beats_config_file_key_by_key() {
        let home = Home::new(Some(CREDENTIALS), Some(CONFIG));
        let got = resolve(&home.env(&[("AWS_PROFILE", "prod")])).unwrap();
        assert_eq!(
            got.credentials,
            creds("AKIDPROD", "secret-prod", Some("token-prod"))
        );
        assert_eq!(got.region.as_deref(), Some("eu-west-1"), "credentials file");
        assert_eq!(
            got.endpoint_url.as_deref(),
            Some("https://s3.example.com"),
            "config file, past the nested `s3` block"
        );
    }

    #[test]
    fn environment_beats_files() {
        let home = Home::new(Some(CREDENTIALS), Some(CONFIG));
        let got = resolve(&home.env(&[
            ("AWS_PROFILE", "prod"),
            ("AWS_ACCESS_KEY_ID", "AKIDENV"),
            ("AWS_DEFAULT_REGION", "us-east-2"),
            ("AWS_ENDPOINT_URL", "http://localhost:4566"),
        ]))
        .unwrap();
        assert_eq!(got, FileSettings::default());
        // A token alone in the environment does not stop the file's keys.
        let got = resolve(&home.env(&[("AWS_SESSION_TOKEN", "stray")])).unwrap();
        assert_eq!(
            got.credentials,
            creds("AKIDDEFAULT", "secret-default", None)
        );
    }

    #[test]
    fn section_names_differ_between_the_files() {
        let home = Home::new(Some(CREDENTIALS), Some(CONFIG));
        // `[profile staging]` in the credentials file is not `staging`;
        // `[profile staging]` in the config file is.
        let got = resolve(&home.env(&[("AWS_PROFILE", "staging")])).unwrap();
        assert_eq!(
            got.credentials,
            creds("AKIDSTAGING", "secret-staging", None)
        );
        assert_eq!(got.region.as_deref(), Some("ca-central-1"));
        // `[dev]` in the config file is not a profile.
        let error = resolve(&home.env(&[("AWS_PROFILE", "dev")])).unwrap_err();
        assert_eq!(error.profile, "dev");
        // `[profile default]` is accepted for the default profile.
        let home = Home::new(None, Some("[profile default]\nregion = eu-north-1\n"));
        let got = resolve(&home.env(&[])).unwrap();
        assert_eq!(got.region.as_deref(), Some("eu-north-1"));
    }

    #[test]
    fn missing_files_are_no_error_unless_a_profile_is_named() {
        let home = Home::new(None, None);
        assert_eq!(resolve(&home.env(&[])).unwrap(), FileSettings::default());
        assert_eq!(resolve(&[]).unwrap(), FileSettings::default());

        let error = resolve(&home.env(&[("AWS_PROFILE", "prod")])).unwrap_err();
        let message = error.to_string();
        assert!(message.starts_with("AWS profile `prod` (from AWS_PROFILE) not found"));
        for name in ["credentials", "config"] {
            let path = home.path(name).display().to_string();
            assert!(message.contains(&format!("{path} (missing)")), "{message}");
        }
        let error = resolve(&[("AWS_PROFILE".into(), "prod".into())]).unwrap_err();
        assert!(error.to_string().contains("no AWS config files"), "{error}");
    }

    #[test]
    fn file_locations_come_from_the_environment() {
        let home = Home::new(None, None);
        let dir = tempfile::tempdir().unwrap();
        let credentials = dir.path().join("creds.ini");
        std::fs::write(
            &credentials,
            "[ci]\naws_access_key_id = AKIDCI\naws_secret_access_key = s\n",
        )
        .unwrap();
        std::fs::write(
            dir.path().join("conf.ini"),
            "[profile ci]\nregion = sa-east-1\n",
        )
        .unwrap();
        let got = resolve(&home.env(&[
            ("AWS_PROFILE", "ci"),
            ("AWS_SHARED_CREDENTIALS_FILE", credentials.to_str().unwrap()),
            // `~` is HOME's folder: the file is not there.
            ("AWS_CONFIG_FILE", "~/conf.ini"),
        ]))
        .unwrap();
        assert_eq!(got.credentials, creds("AKIDCI", "s", None));
        assert_eq!(got.region, None);
    }

    #[test]
    fn malformed_files_are_ignored() {
        let home = Home::new(
            Some("[default]\naws_access_key_id = AKID\nthis line is secret-ish\n"),
            Some("[default]\nregion = eu-west-3\n"),
        );
        let got = resolve(&home.env(&[])).unwrap();
        assert_eq!(got.credentials, None, "the whole file is ignored");
        assert_eq!(got.region.as_deref(), Some("eu-west-3"));

        // A profile only in an ignored file is not found, and the message
        // says why.
        let home = Home::new(Some("[x]\nkey value\n"), None);
        let error = resolve(&home.env(&[("AWS_PROFILE", "x")])).unwrap_err();
        assert!(
            error.to_string().contains("(unreadable, ignored)"),
            "{error}"
        );
    }

    #[test]
    fn parser_dialect() {
        assert_eq!(parse("key = v\n"), Err(1), "a key before any section");
        assert_eq!(parse("[a\n"), Err(1));
        assert_eq!(parse("[a]\n = v\n"), Err(2));
        let sections = parse("  [ profile   x ]  # note\n\tKey = v=w\n; c\n").unwrap();
        assert_eq!(sections.len(), 1);
        assert_eq!(sections[0].0, "profile   x");
        assert!(config_section_is(&sections[0].0, "x"));
        assert_eq!(sections[0].1["key"], "v=w");
        assert_eq!(strip_comment("a = b#c"), "a = b#c");
        assert_eq!(strip_comment("a = b #c"), "a = b ");
    }

    #[test]
    fn partial_keys_are_not_credentials() {
        let home = Home::new(
            Some("[default]\naws_access_key_id = AKID\n"),
            Some("[default]\naws_access_key_id = AKIDCONF\naws_secret_access_key = s2\n"),
        );
        let got = resolve(&home.env(&[])).unwrap();
        assert_eq!(got.credentials, creds("AKIDCONF", "s2", None));
    }

    #[test]
    fn debug_hides_secrets() {
        let text = format!(
            "{:?}",
            creds("AKID", "hunter2", Some("t0ken-value")).unwrap()
        );
        assert!(
            !text.contains("hunter2") && !text.contains("t0ken-value"),
            "{text}"
        );
    }
}
