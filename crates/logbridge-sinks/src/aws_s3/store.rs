//! The object store behind the `aws_s3` sink: creating it (S3 through
//! `object_store`'s HTTP client, or a local folder), writing one object
//! (single put or multipart), and sorting write errors into those worth a
//! quick retry and those the operator has to fix. Where the client's
//! settings come from (options, environment, AWS profile) is decided in
//! `s3_builder`; reading the AWS config files is `profile.rs`'s job.
//!
//! Nothing here batches or acknowledges; `sink.rs` does.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use object_store::aws::{AmazonS3Builder, AmazonS3ConfigKey};
use object_store::local::LocalFileSystem;
use object_store::path::Path as ObjectPath;
use object_store::{
    BackoffConfig, ClientOptions, ObjectStore, ObjectStoreExt, PutPayload, RetryConfig,
};
use tracing::warn;

use super::profile;

/// Where objects go.
#[derive(Debug, Clone)]
pub(crate) enum StoreTarget {
    S3 {
        bucket: String,
        region: Option<String>,
        endpoint: Option<String>,
    },
    /// A local folder (`file:///path`).
    Local(PathBuf),
}

/// Size of each part of a multipart upload (S3's minimum is 5 MiB).
const PART_SIZE: usize = 8 * 1024 * 1024;

/// Creates the store. For S3, `env` supplies the `AWS_*` variables
/// (credentials, region, endpoint) and the locations of the AWS shared
/// config files, which are read here; creating the client does no network
/// I/O. For a local folder, creates the folder.
pub(crate) fn open(
    target: &StoreTarget,
    env: Vec<(String, String)>,
) -> Result<Arc<dyn ObjectStore>, object_store::Error> {
    match target {
        StoreTarget::Local(path) => {
            std::fs::create_dir_all(path).map_err(|e| object_store::Error::Generic {
                store: "LocalFileSystem",
                source: Box::new(e),
            })?;
            // fsync: an acknowledged object must survive a power loss.
            let store = LocalFileSystem::new_with_prefix(path)?.with_fsync(true);
            Ok(Arc::new(store))
        }
        StoreTarget::S3 {
            bucket,
            region,
            endpoint,
        } => {
            let store =
                s3_builder(bucket, region.as_deref(), endpoint.as_deref(), &env)?.build()?;
            Ok(Arc::new(store))
        }
    }
}

/// The S3 client's settings, highest precedence first: the sink's
/// `region` / `endpoint`, `AWS_*` variables in `env`, then the AWS shared
/// files (`profile.rs`). Separate from `open` so tests can inspect it.
pub(crate) fn s3_builder(
    bucket: &str,
    region: Option<&str>,
    endpoint: Option<&str>,
    env: &[(String, String)],
) -> Result<AmazonS3Builder, object_store::Error> {
    let files = profile::resolve(env).map_err(|error| object_store::Error::Generic {
        store: PROFILE_STORE,
        source: Box::new(error),
    })?;
    // A few quick retries inside the client; the sink's own loop
    // retries for as long as it takes, watching for shutdown.
    let retry = RetryConfig {
        backoff: BackoffConfig {
            init_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(5),
            base: 2.0,
        },
        max_retries: 3,
        retry_timeout: Duration::from_secs(60),
    };
    let client = ClientOptions::new()
        .with_connect_timeout(Duration::from_secs(10))
        .with_timeout(Duration::from_secs(120));
    // Client options first: setting them later would replace what
    // the environment and `with_allow_http` put there.
    let mut builder = AmazonS3Builder::new()
        .with_client_options(client)
        .with_retry(retry);
    let mut env_endpoint = None;
    for (key, value) in env {
        if !key.starts_with("AWS_") {
            continue;
        }
        // The files' keys come as a unit; a token from the environment
        // must not be sent with them.
        if files.credentials.is_some() && profile::CREDENTIAL_VARS.contains(&key.as_str()) {
            continue;
        }
        if key == "AWS_ENDPOINT_URL" || key == "AWS_ENDPOINT" {
            env_endpoint = Some(value.as_str());
        }
        if let Ok(config_key) = key.to_ascii_lowercase().parse::<AmazonS3ConfigKey>() {
            builder = builder.with_config(config_key, value);
        }
    }
    // `resolve` left out whatever the environment sets.
    if let Some(credentials) = files.credentials {
        builder = builder
            .with_access_key_id(credentials.access_key_id)
            .with_secret_access_key(credentials.secret_access_key);
        if let Some(token) = credentials.session_token {
            builder = builder.with_token(token);
        }
    }
    builder = builder.with_bucket_name(bucket);
    if let Some(region) = region.or(files.region.as_deref()) {
        builder = builder.with_region(region);
    }
    if let Some(endpoint) = endpoint.or(env_endpoint).or(files.endpoint_url.as_deref()) {
        builder = builder
            .with_allow_http(endpoint.starts_with("http://"))
            .with_virtual_hosted_style_request(false)
            .with_endpoint(endpoint);
    }
    Ok(builder)
}

/// The `store` of errors from the AWS config files, so that `classify`
/// can tell them apart from the client's.
const PROFILE_STORE: &str = "S3 profile";

/// Writes one object: multipart when larger than `multipart_threshold`.
pub(crate) async fn write_object(
    store: &dyn ObjectStore,
    key: &ObjectPath,
    data: Bytes,
    multipart_threshold: usize,
) -> Result<(), object_store::Error> {
    if data.len() <= multipart_threshold {
        store.put(key, PutPayload::from(data)).await?;
        return Ok(());
    }
    let mut upload = store.put_multipart(key).await?;
    // One part at a time: the sink writes one object at a time anyway, and
    // a failed part aborts the upload so no parts are left behind.
    let mut result = Ok(());
    for start in (0..data.len()).step_by(PART_SIZE) {
        let end = (start + PART_SIZE).min(data.len());
        let part = upload.put_part(PutPayload::from(data.slice(start..end)));
        if let Err(error) = part.await {
            result = Err(error);
            break;
        }
    }
    if result.is_ok() {
        result = upload.complete().await.map(drop);
    }
    if let Err(error) = result {
        if let Err(abort_error) = upload.abort().await {
            warn!(message = "Failed to abort a multipart upload.", error = %abort_error, %key);
        }
        return Err(error);
    }
    Ok(())
}

/// Why a write failed, as far as retrying goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Failure {
    /// Server errors, throttling, connection errors: retry soon.
    Transient,
    /// The request was refused; the operator has to change something.
    Config(ConfigCause),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ConfigCause {
    /// 404: the bucket does not exist.
    MissingBucket,
    /// 401/403: the credentials are missing, wrong or not allowed.
    Credentials,
    /// Another 4xx (bad region, invalid request, ...).
    Rejected,
    /// `AWS_PROFILE` names a profile the AWS config files do not have.
    Profile,
    /// The client cannot build the request (e.g. an endpoint it refuses).
    Client,
}

impl ConfigCause {
    /// Whether the server refused the request (a 4xx), as opposed to a
    /// local setting that stops every request from being made.
    pub(crate) fn is_refusal(self) -> bool {
        !matches!(self, ConfigCause::Profile | ConfigCause::Client)
    }
}

impl ConfigCause {
    /// What to fix, naming the option or variables.
    pub(crate) fn hint(self) -> &'static str {
        match self {
            ConfigCause::MissingBucket => {
                "the bucket does not exist: check the `bucket` option (and `region` / `endpoint`)"
            }
            ConfigCause::Credentials => {
                "access denied: check AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY / AWS_SESSION_TOKEN (or the AWS_PROFILE keys) and the bucket policy"
            }
            ConfigCause::Rejected => {
                "the request was rejected: check the `bucket`, `region` and `endpoint` options"
            }
            ConfigCause::Profile => {
                "check AWS_PROFILE, or add the profile to ~/.aws/credentials or ~/.aws/config"
            }
            ConfigCause::Client => "check the `endpoint` option (a full http:// or https:// URL)",
        }
    }
}

/// Sorts an error by what retrying can do about it.
pub(crate) fn classify(error: &object_store::Error) -> Failure {
    use object_store::Error as E;
    match error {
        E::NotFound { .. } => Failure::Config(ConfigCause::MissingBucket),
        E::PermissionDenied { .. } | E::Unauthenticated { .. } => {
            Failure::Config(ConfigCause::Credentials)
        }
        E::Generic { store, .. } if *store == "LocalFileSystem" => Failure::Transient,
        E::Generic { store, .. } if *store == PROFILE_STORE => {
            Failure::Config(ConfigCause::Profile)
        }
        E::Generic { .. } => {
            // The client's error type is private; its message carries the
            // HTTP status ("... non-2xx status code: 400 Bad Request ...").
            let text = error.to_string();
            if text.contains("builder error") {
                // The request could not even be built (e.g. an `http://`
                // endpoint the client refuses): no retry will fix it.
                return Failure::Config(ConfigCause::Client);
            }
            match status_in(&text) {
                Some(429) | None => Failure::Transient,
                Some(s) if (400..500).contains(&s) => Failure::Config(ConfigCause::Rejected),
                Some(_) => Failure::Transient,
            }
        }
        _ => Failure::Transient,
    }
}

/// The HTTP status in a client error message, if any.
fn status_in(text: &str) -> Option<u16> {
    for marker in ["status code: ", "status: "] {
        if let Some(at) = text.find(marker) {
            let digits: String = text[at + marker.len()..]
                .chars()
                .take_while(char::is_ascii_digit)
                .collect();
            if let Ok(status) = digits.parse() {
                return Some(status);
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_codes_sort_errors() {
        let generic = |msg: &str| object_store::Error::Generic {
            store: "S3",
            source: msg.to_owned().into(),
        };
        assert_eq!(
            classify(&generic(
                "Server returned non-2xx status code: 503 Service Unavailable: SlowDown"
            )),
            Failure::Transient
        );
        assert_eq!(
            classify(&generic(
                "Server returned non-2xx status code: 429 Too Many Requests"
            )),
            Failure::Transient
        );
        assert_eq!(
            classify(&generic(
                "Server returned non-2xx status code: 400 Bad Request"
            )),
            Failure::Config(ConfigCause::Rejected)
        );
        assert_eq!(classify(&generic("connection refused")), Failure::Transient);
        let denied = object_store::Error::PermissionDenied {
            path: "k".into(),
            source: "403".to_owned().into(),
        };
        assert_eq!(classify(&denied), Failure::Config(ConfigCause::Credentials));
    }
}
