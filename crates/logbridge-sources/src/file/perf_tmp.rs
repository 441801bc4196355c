//! Temporary throughput probe (deleted before hand-off).
use std::io::Write;
use std::sync::Arc;
use std::time::Instant;

use logbridge_component::channel;
use logbridge_component::telemetry::{ComponentKind, ComponentMetrics};
use logbridge_component::{
    BuildContext, Output, ShutdownSignal, SourceConfig, SourceContext, SourceOutputs,
};

use super::{FileConfig, ReadFrom};

#[test]
fn perf_probe() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let t = tempfile::tempdir().unwrap();
        let path = t.path().join("big.log");
        let n: usize = 1_000_000;
        if std::path::Path::new("/tmp/perf_big.log").exists() {
            std::fs::hard_link("/tmp/perf_big.log", &path).unwrap();
        } else {
            let mut f = std::io::BufWriter::new(std::fs::File::create(&path).unwrap());
            for i in 0..n {
                writeln!(f, r#"{{"timestamp":"2024-01-01T00:00:00.000Z","level":"info","service":"api","method":"GET","path":"/api/v1/users","status":200,"duration_ms":12.5,"n":{i}}}"#).unwrap();
            }
        }
        let cfg = FileConfig {
            include: vec![format!("{}/*.log", t.path().display())],
            exclude: vec![], read_from: ReadFrom::Beginning, max_line_bytes: 102_400,
            glob_minimum_cooldown_ms: 1000, file_key: "file".into(), host_key: "host".into(),
        };
        let data = t.path().join("data");
        let source = cfg.build(&BuildContext::detached("f", ComponentKind::Source, data.clone())).unwrap();
        let (tx, mut rx) = channel::bounded(channel::DEFAULT_MAX_EVENTS, channel::DEFAULT_MAX_BYTES);
        let metrics = Arc::new(ComponentMetrics::new("f", ComponentKind::Source, "file"));
        let out = SourceOutputs::new(Output::new(None, vec![tx], metrics.clone()), vec![]);
        let shutdown = ShutdownSignal::new();
        let cx = SourceContext { id: "f".into(), out, shutdown: shutdown.clone(), metrics, data_dir: data };
        let start = Instant::now();
        let task = tokio::spawn(source.run(cx));
        let mut got = 0;
        while got < n {
            let b = rx.recv().await.unwrap();
            got += b.len();
        }
        let el = start.elapsed();
        eprintln!("PERF: {n} lines in {:?} = {:.0} lines/s", el, n as f64 / el.as_secs_f64());
        shutdown.trigger();
        while rx.recv().await.is_some() {}
        task.await.unwrap().unwrap();
    });
}
