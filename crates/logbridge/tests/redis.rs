//! The `redis_stream` sink against a real redis-server: entries land in
//! streams named by a template, as field/value pairs or one JSON field,
//! trimmed with `MAXLEN ~`; a refused command rejects the batch without
//! stopping the sink; Redis going away and coming back loses nothing.

mod support;

use support::Proc;

use std::time::Duration;

use redis::Commands;
use support::servers::redis;
use support::{Env, wait_for};

type Entry = (String, Vec<(String, String)>);

fn entries(conn: &mut redis::Connection, key: &str) -> Vec<Entry> {
    let reply: redis::streams::StreamRangeReply = conn.xrange_all(key).unwrap();
    reply
        .ids
        .into_iter()
        .map(|id| {
            let mut fields: Vec<(String, String)> = id
                .map
                .into_iter()
                .map(|(k, v)| (k, redis::from_redis_value(v).unwrap()))
                .collect();
            fields.sort();
            (id.id, fields)
        })
        .collect()
}

#[test]
fn events_become_stream_entries() {
    let server = redis();
    let env = Env::new();
    let input = env.write(
        "in.log",
        &(0..300)
            .map(|i| {
                format!(
                    "{{\"message\":\"m{i}\",\"service\":\"{}\",\"n\":{i}}}\n",
                    if i % 2 == 0 { "api" } else { "db" }
                )
            })
            .collect::<String>(),
    );
    let config = env.write(
        "c.toml",
        &format!(
            r#"
data_dir = "{{dir}}/data"
[sources.in]
type = "file"
include = ["{input}"]
read_from = "beginning"
[transforms.json]
type = "parse"
inputs = ["in"]
format = "json"
[sinks.fields]
type = "redis_stream"
inputs = ["json"]
endpoint = "redis://127.0.0.1:{port}/0"
key = "logs:{{{{ .service }}}}"
batch_max_events = 64
[sinks.whole]
type = "redis_stream"
inputs = ["json"]
endpoint = "redis://127.0.0.1:{port}/0"
key = "all"
encoding = "json"
max_len = 100
"#,
            input = input.display(),
            port = server.port
        ),
    );
    let _p = Proc(env.spawn(&config, &["--no-admin"]));
    let client = redis::Client::open(format!("redis://127.0.0.1:{}/0", server.port)).unwrap();
    let mut conn = client.get_connection().unwrap();
    assert!(
        wait_for(Duration::from_secs(20), || {
            let api: usize = conn.xlen("logs:api").unwrap();
            let db: usize = conn.xlen("logs:db").unwrap();
            api + db == 300
        }),
        "not all 300 entries arrived"
    );
    let api = entries(&mut conn, "logs:api");
    assert_eq!(api.len(), 150);
    let field = |e: &Entry, name: &str| {
        e.1.iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    assert_eq!(field(&api[0], "message"), "m0");
    assert_eq!(field(&api[0], "n"), "0");
    assert_eq!(field(&api[0], "service"), "api");
    assert!(field(&api[0], "file").ends_with("in.log"), "{:?}", api[0]);
    // In order within a stream.
    let ns: Vec<String> = api.iter().map(|e| field(e, "n")).collect();
    let expected: Vec<String> = (0..300).step_by(2).map(|i: i32| i.to_string()).collect();
    assert_eq!(ns, expected);
    // One JSON field per entry, trimmed to about 100 (MAXLEN ~ trims whole
    // radix-tree nodes, so a little more may stay).
    assert!(wait_for(Duration::from_secs(10), || {
        let all = entries(&mut conn, "all");
        all.last().is_some_and(|e| e.1[0].1.contains("\"m299\""))
    }));
    let all = entries(&mut conn, "all");
    assert!(
        all.len() >= 100 && all.len() < 300,
        "{} entries kept",
        all.len()
    );
    let last: serde_json::Value = serde_json::from_str(&all.last().unwrap().1[0].1).unwrap();
    assert_eq!(last["message"], "m299");
    assert_eq!(all.last().unwrap().1[0].0, "event");
}

#[test]
fn a_refused_command_rejects_the_batch_and_redis_outages_lose_nothing() {
    let server = redis();
    let client = redis::Client::open(format!("redis://127.0.0.1:{}/0", server.port)).unwrap();
    let mut conn = client.get_connection().unwrap();
    // A key of the wrong type: XADD to it fails for good.
    let _: () = conn.set("logs:bad", "a string").unwrap();
    let env = Env::new();
    let input = env.path("in.log");
    std::fs::write(
        &input,
        "{\"message\":\"x\",\"k\":\"bad\"}\n{\"message\":\"y\",\"k\":\"good\"}\n",
    )
    .unwrap();
    let admin = support::free_port();
    let config = env.write(
        "c.toml",
        &format!(
            r#"
data_dir = "{{dir}}/data"
[sources.in]
type = "file"
include = ["{input}"]
read_from = "beginning"
[transforms.json]
type = "parse"
inputs = ["in"]
format = "json"
[sinks.out]
type = "redis_stream"
inputs = ["json"]
endpoint = "redis://127.0.0.1:{port}/0"
key = "logs:{{{{ .k }}}}"
batch_max_events = 1
"#,
            input = input.display(),
            port = server.port
        ),
    );
    let _p = Proc(env.spawn(&config, &["--admin-address", &format!("127.0.0.1:{admin}")]));
    assert!(wait_for(Duration::from_secs(20), || {
        conn.xlen::<_, usize>("logs:good").unwrap_or(0) == 1
    }));
    assert!(wait_for(Duration::from_secs(5), || {
        support::http_get(admin, "/debug/metrics").is_some_and(|(_, m)| {
            m.lines().any(|l| {
                l.starts_with("logbridge_component_discarded_events_total")
                    && l.contains("component_id=\"out\"")
                    && l.ends_with(" 1")
            })
        })
    }));
    // Redis stops answering; lines written meanwhile arrive once it is back.
    server.signal(19);
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(&input)
        .unwrap();
    use std::io::Write;
    for i in 0..50 {
        writeln!(f, "{{\"message\":\"late{i}\",\"k\":\"good\"}}").unwrap();
    }
    drop(f);
    std::thread::sleep(Duration::from_secs(3));
    server.signal(18);
    let mut conn = client.get_connection().unwrap();
    assert!(
        wait_for(Duration::from_secs(30), || {
            conn.xlen::<_, usize>("logs:good").unwrap_or(0) >= 51
        }),
        "entries written during the outage are missing"
    );
    let good = entries(&mut conn, "logs:good");
    let mut messages: Vec<String> = good
        .iter()
        .filter_map(|e| {
            e.1.iter()
                .find(|(k, _)| k == "message")
                .map(|(_, v)| v.clone())
        })
        .collect();
    messages.dedup();
    assert_eq!(messages.len(), 51, "each line once or more, none missing");
}
