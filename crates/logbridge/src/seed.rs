//! Pipelines from command-line flags alone (`--input-kafka`,
//! `--output-s3`, ...): the flags become a TOML config, which
//! `--print-config` shows and which then loads like any config file, so
//! every check and default is the same as for a written config.

use std::fmt::Write;

use crate::cli::SeedArgs;

/// The config the flags stand for; `None` if no input or output flag was
/// given.
pub fn config_from_flags(args: &SeedArgs) -> Result<Option<String>, String> {
    let has_output = args.output_s3.is_some() || args.output_kafka.is_some();
    if args.input_kafka.is_none() && !has_output {
        return Ok(None);
    }
    let Some(brokers) = &args.input_kafka else {
        return Err("an output flag needs an input: add --input-kafka=HOST:PORT".into());
    };
    if args.kafka_topic.is_empty() {
        return Err("--input-kafka needs --kafka-topic=TOPIC (comma-separated for several)".into());
    }
    if !has_output {
        return Err(
            "--input-kafka needs an output: --output-s3=s3://BUCKET/PREFIX (or file:///PATH) or --output-kafka=HOST:PORT"
                .into(),
        );
    }
    let mut toml = String::from("# The pipeline the command-line flags stand for.\n");
    let _ = writeln!(toml, "\n[sources.kafka_in]\ntype = \"kafka\"");
    let _ = writeln!(toml, "bootstrap_servers = {}", quote(brokers));
    let topics: Vec<String> = args.kafka_topic.iter().map(|t| quote(t)).collect();
    let _ = writeln!(toml, "topics = [{}]", topics.join(", "));
    let _ = writeln!(toml, "group_id = {}", quote(&args.kafka_group));
    let _ = writeln!(toml, "decoding.codec = {}", quote(&args.decoding));

    if let Some(url) = &args.output_s3 {
        let (bucket, prefix) = split_s3_url(url)?;
        let _ = writeln!(
            toml,
            "\n[sinks.s3_out]\ntype = \"aws_s3\"\ninputs = [\"kafka_in\"]"
        );
        let _ = writeln!(toml, "bucket = {}", quote(&bucket));
        let key_prefix = if prefix.is_empty() {
            "date=%Y-%m-%d/".to_owned()
        } else {
            format!("{prefix}/date=%Y-%m-%d/")
        };
        let _ = writeln!(toml, "key_prefix = {}", quote(&key_prefix));
        let _ = writeln!(toml, "encoding.codec = \"json\"");
        if args.disk_buffer {
            let _ = writeln!(toml, "buffer.type = \"disk\"");
        }
    }
    if let Some(brokers) = &args.output_kafka {
        let Some(topic) = &args.output_kafka_topic else {
            return Err("--output-kafka needs --output-kafka-topic=TOPIC".into());
        };
        let _ = writeln!(
            toml,
            "\n[sinks.kafka_out]\ntype = \"kafka\"\ninputs = [\"kafka_in\"]"
        );
        let _ = writeln!(toml, "bootstrap_servers = {}", quote(brokers));
        let _ = writeln!(toml, "topic = {}", quote(topic));
        let _ = writeln!(toml, "encoding.codec = \"json\"");
        if args.disk_buffer {
            let _ = writeln!(toml, "buffer.type = \"disk\"");
        }
    }
    Ok(Some(toml))
}

/// `s3://bucket/prefix` or `file:///path` into the bucket option and the
/// key prefix (without slashes at its ends).
fn split_s3_url(url: &str) -> Result<(String, String), String> {
    if url.starts_with("file:///") {
        return Ok((url.trim_end_matches('/').to_owned(), String::new()));
    }
    let Some(rest) = url.strip_prefix("s3://") else {
        return Err(format!(
            "--output-s3 takes s3://BUCKET/PREFIX or file:///PATH, not `{url}`"
        ));
    };
    let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
    if bucket.is_empty() {
        return Err(format!("--output-s3 `{url}` names no bucket"));
    }
    Ok((bucket.to_owned(), prefix.trim_matches('/').to_owned()))
}

/// A TOML basic string.
fn quote(s: &str) -> String {
    toml::Value::String(s.to_owned()).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::COMPONENTS;
    use std::path::Path;

    fn args() -> SeedArgs {
        SeedArgs {
            input_kafka: Some("127.0.0.1:9092".into()),
            kafka_topic: vec!["logs".into()],
            kafka_group: "logbridge".into(),
            decoding: "json".into(),
            output_s3: Some("s3://logs-bucket/app".into()),
            output_kafka: None,
            output_kafka_topic: None,
            disk_buffer: false,
            print_config: false,
        }
    }

    #[test]
    fn flags_become_a_config_that_loads() {
        let text = config_from_flags(&args()).unwrap().unwrap();
        assert!(text.contains("bucket = \"logs-bucket\""), "{text}");
        assert!(
            text.contains("key_prefix = \"app/date=%Y-%m-%d/\""),
            "{text}"
        );
        let config =
            logbridge_config::load_str(&COMPONENTS, Path::new("flags.toml"), &text, &|_| None)
                .unwrap();
        assert_eq!(config.sources.len(), 1);
        assert_eq!(config.sinks.len(), 1);
    }

    #[test]
    fn local_folder_and_kafka_outputs() {
        let mut a = args();
        a.output_s3 = Some("file:///tmp/objects/".into());
        a.output_kafka = Some("127.0.0.1:9093".into());
        a.output_kafka_topic = Some("copy".into());
        a.disk_buffer = true;
        let text = config_from_flags(&a).unwrap().unwrap();
        assert!(text.contains("bucket = \"file:///tmp/objects\""), "{text}");
        let config =
            logbridge_config::load_str(&COMPONENTS, Path::new("flags.toml"), &text, &|_| None)
                .unwrap();
        assert_eq!(config.sinks.len(), 2);
    }

    #[test]
    fn incomplete_flags_say_what_is_missing() {
        let mut a = args();
        a.kafka_topic.clear();
        assert!(config_from_flags(&a).unwrap_err().contains("--kafka-topic"));
        let mut a = args();
        a.output_s3 = None;
        assert!(config_from_flags(&a).unwrap_err().contains("--output-s3"));
        let mut a = args();
        a.output_s3 = Some("http://x".into());
        assert!(config_from_flags(&a).unwrap_err().contains("s3://"));
        a.input_kafka = None;
        a.output_s3 = None;
        assert_eq!(config_from_flags(&a), Ok(None));
    }
}
