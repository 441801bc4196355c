//! Starting a [`Plan`] (building its components, wiring their channels,
//! spawning one task each) and running it to the end, shutdown included.
//! What to start is decided in `plan`, not here.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use logbridge_buffer::disk;
use logbridge_component::channel::{self, BatchReceiver, BatchSender};
use logbridge_component::telemetry::{ComponentMetrics, RateLimit, Registry};
use logbridge_component::{
    BuildContext, DROPPED_OUTPUT, Output, OutputDef, ShutdownSignal, SinkContext, SourceContext,
    SourceOutputs, Transform, TransformOutputs,
};
use logbridge_config::{Config, DEFAULT_BUFFER_BYTES, DEFAULT_BUFFER_EVENTS};
use tokio::task::JoinSet;
use tracing::{error, info, warn};

use crate::health::{ComponentState, Health};
use crate::plan::{DiskBufferPlan, OutputRef, Plan, Role, plan};

#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("component `{id}` failed to build: {message}")]
    Build { id: String, message: String },
    #[error(
        "shutdown did not finish within {0} seconds; unacknowledged data will be read again on restart"
    )]
    ShutdownTimeout(u64),
    /// Components failed while the pipeline ran (it stopped when its
    /// sources were all done, or was stopped); the process exits non-zero.
    #[error("components failed: {}", .0.join(", "))]
    Failed(Vec<String>),
}

/// A built pipeline, ready to run.
pub struct Topology {
    tasks: JoinSet<(String, Result<(), String>)>,
    /// Tasks that are sources (the pipeline ends once they are all done).
    source_ids: Vec<String>,
    source_shutdown: ShutdownSignal,
    sink_shutdown: ShutdownSignal,
    health: Arc<Health>,
    shutdown_timeout: Duration,
}

enum Pending {
    Source(Box<dyn logbridge_component::Source>, SourceContext),
    /// Stateless transforms get one instance per core.
    Transform {
        instances: Vec<Box<dyn Transform>>,
        names: Vec<Option<String>>,
        outputs: Vec<Output>,
        metrics: Arc<ComponentMetrics>,
        rx: BatchReceiver,
    },
    Sink {
        sink: Box<dyn logbridge_component::Sink>,
        disk_buffer: Option<DiskBufferPlan>,
        metrics: Arc<ComponentMetrics>,
        rx: BatchReceiver,
    },
}

impl Topology {
    /// Plans `config` and starts the plan: [`plan`] then [`Topology::start`].
    pub fn build(
        config: &Config,
        registry: &Arc<Registry>,
        health: Arc<Health>,
    ) -> Result<Topology, RunError> {
        Topology::start(config, &plan(config), registry, health)
    }

    /// Builds every component of `plan` (from its options in `config`),
    /// wires the channels and spawns the tasks. Nothing is spawned if a
    /// component fails to build.
    pub fn start(
        config: &Config,
        plan: &Plan,
        registry: &Arc<Registry>,
        health: Arc<Health>,
    ) -> Result<Topology, RunError> {
        // (producer, output) -> senders of the consumers that read it.
        let mut wiring: HashMap<&OutputRef, Vec<BatchSender>> = HashMap::new();
        // One input channel per consumer; the senders live in `wiring`
        // only, so a channel closes when its producers end.
        let mut receivers: HashMap<&str, BatchReceiver> = HashMap::new();
        for ch in &plan.channels {
            let (tx, rx) = channel::bounded_with(ch.max_events, ch.max_bytes, ch.when_full);
            registry.register_channel(&ch.consumer, rx.usage());
            for producer in &ch.producers {
                wiring.entry(producer).or_default().push(tx.clone());
            }
            receivers.insert(&ch.consumer, rx);
        }

        let mut outputs_for = |id: &str, defs: &[OutputDef], metrics: &Arc<ComponentMetrics>| {
            defs.iter()
                .map(|d| {
                    let key = OutputRef {
                        component: id.to_owned(),
                        output: d.name.clone(),
                    };
                    let senders = wiring.remove(&key).unwrap_or_default();
                    Output::new(d.name.clone(), senders, metrics.clone())
                })
                .collect::<Vec<Output>>()
        };

        let source_shutdown = ShutdownSignal::new();
        let sink_shutdown = ShutdownSignal::new();
        let mut pending = Vec::new();
        for planned in &plan.components {
            let id = &planned.id;
            let metrics = registry.register(id, planned.kind(), &planned.type_name);
            let cx = BuildContext {
                id: id.clone(),
                data_dir: plan.data_dir.clone(),
                metrics: metrics.clone(),
                registry: registry.clone(),
                enrichment_tables: config.enrichment_tables.clone(),
            };
            let build_error = |message: String| RunError::Build {
                id: id.clone(),
                message,
            };
            let not_declared = || build_error("the config does not declare it".into());
            let no_input = || build_error("the plan gives it no input".into());
            let component = match &planned.role {
                Role::Source => {
                    let spec = config.sources.get(id).ok_or_else(not_declared)?;
                    let source = spec.config.build(&cx).map_err(|e| build_error(e.message))?;
                    let outs = outputs_for(id, &planned.outputs, &metrics);
                    let (default, named): (Vec<Output>, Vec<Output>) =
                        outs.into_iter().partition(|o| o.name().is_none());
                    let default = default
                        .into_iter()
                        .next()
                        .unwrap_or_else(|| Output::new(None, Vec::new(), metrics.clone()));
                    let scx = SourceContext {
                        id: id.clone(),
                        out: SourceOutputs::new(default, named),
                        shutdown: source_shutdown.clone(),
                        metrics,
                        data_dir: cx.component_dir(),
                    };
                    Pending::Source(source, scx)
                }
                Role::Transform { concurrent } => {
                    let spec = config.transforms.get(id).ok_or_else(not_declared)?;
                    let copies = if *concurrent { parallelism() } else { 1 };
                    let instances = (0..copies)
                        .map(|_| spec.config.build(&cx))
                        .collect::<Result<Vec<_>, _>>()
                        .map_err(|e| build_error(e.message))?;
                    let names = planned.outputs.iter().map(|d| d.name.clone()).collect();
                    let outputs = outputs_for(id, &planned.outputs, &metrics);
                    let rx = receivers.remove(id.as_str()).ok_or_else(no_input)?;
                    Pending::Transform {
                        instances,
                        names,
                        outputs,
                        metrics,
                        rx,
                    }
                }
                Role::Sink { disk_buffer } => {
                    let spec = config.sinks.get(id).ok_or_else(not_declared)?;
                    let sink = spec.config.build(&cx).map_err(|e| build_error(e.message))?;
                    let rx = receivers.remove(id.as_str()).ok_or_else(no_input)?;
                    Pending::Sink {
                        sink,
                        disk_buffer: disk_buffer.clone(),
                        metrics,
                        rx,
                    }
                }
            };
            pending.push((id.clone(), component));
        }
        // Senders left in `wiring` belong to outputs nobody declared; the
        // config check makes that impossible, and dropping them is safe.
        drop(wiring);

        let mut tasks = JoinSet::new();
        let mut source_ids = Vec::new();
        for (id, component) in pending {
            health.set(&id, ComponentState::Starting);
            let task_id = id.clone();
            match component {
                Pending::Source(source, scx) => {
                    source_ids.push(id.clone());
                    tasks.spawn(guarded(task_id, async move {
                        source.run(scx).await.map_err(|e| e.to_string())
                    }));
                }
                Pending::Transform {
                    instances,
                    names,
                    outputs,
                    metrics,
                    rx,
                } => {
                    tasks.spawn(guarded(task_id.clone(), async move {
                        run_transform(&task_id, instances, names, rx, outputs, metrics).await
                    }));
                }
                Pending::Sink {
                    sink,
                    disk_buffer,
                    metrics,
                    mut rx,
                } => {
                    if let Some(buffer) = disk_buffer {
                        let (tx, from_disk) =
                            channel::bounded(DEFAULT_BUFFER_EVENTS, DEFAULT_BUFFER_BYTES as usize);
                        let disk_config = disk::DiskBufferConfig {
                            max_size: buffer.max_size,
                            when_full: buffer.when_full,
                            ..disk::DiskBufferConfig::default()
                        };
                        let buffer_metrics = metrics.clone();
                        let buffer_id = format!("{id}.buffer");
                        health.set(&buffer_id, ComponentState::Running);
                        tasks.spawn(guarded(buffer_id, async move {
                            run_disk_buffer(buffer.dir, disk_config, buffer_metrics, rx, tx).await
                        }));
                        rx = from_disk;
                    }
                    let scx = SinkContext::new(
                        id.clone(),
                        metrics,
                        plan.data_dir.join(&id),
                        sink_shutdown.clone(),
                        rx,
                    );
                    tasks.spawn(guarded(task_id, async move {
                        sink.run(scx).await.map_err(|e| e.to_string())
                    }));
                }
            }
            health.set(&id, ComponentState::Running);
        }
        Ok(Topology {
            tasks,
            source_ids,
            source_shutdown,
            sink_shutdown,
            health,
            shutdown_timeout: plan.shutdown_timeout,
        })
    }

    /// Runs until every source has finished (finite inputs), or until
    /// `stop` fires; then drains within the shutdown timeout.
    pub async fn run(mut self, stop: ShutdownSignal) -> Result<(), RunError> {
        let mut sources_left = self.source_ids.len();
        let mut failed = Vec::new();
        let mut stopping = false;
        let mut deadline: Option<tokio::time::Instant> = None;
        loop {
            let next = tokio::select! {
                joined = self.tasks.join_next() => joined,
                _ = stop.wait(), if !stopping => {
                    info!(message = "Shutting down: stopping sources and draining in-flight events.", timeout_secs = self.shutdown_timeout.as_secs());
                    stopping = true;
                    self.source_shutdown.trigger();
                    deadline = Some(tokio::time::Instant::now() + self.shutdown_timeout);
                    continue;
                }
                _ = sleep_until(deadline) => {
                    self.sink_shutdown.trigger();
                    let left: Vec<String> = self.health.snapshot().into_iter().filter(|(_, s)| *s == ComponentState::Running).map(|(id, _)| id).collect();
                    error!(message = "Shutdown timed out; aborting components.", components = ?left);
                    self.tasks.abort_all();
                    while self.tasks.join_next().await.is_some() {}
                    return Err(RunError::ShutdownTimeout(self.shutdown_timeout.as_secs()));
                }
            };
            let Some(joined) = next else { break };
            let (id, result) = match joined {
                Ok(r) => r,
                Err(e) => {
                    // Only an abort gets here: panics are caught by `guarded`.
                    error!(message = "A component task was cancelled.", error = %e);
                    continue;
                }
            };
            match result {
                Ok(()) => self.health.set(&id, ComponentState::Stopped),
                Err(message) => {
                    error!(message = "Component failed.", component_id = %id, error = %message);
                    self.health.set(&id, ComponentState::Failed(message));
                    failed.push(id.clone());
                }
            }
            if self.source_ids.contains(&id) {
                sources_left -= 1;
                if sources_left == 0 && !stopping {
                    info!(message = "All sources finished; draining.");
                    stopping = true;
                    deadline = Some(tokio::time::Instant::now() + self.shutdown_timeout);
                    // Tell sinks retry loops to give up at the deadline only;
                    // until then they keep trying.
                }
            }
            if let Some(d) = deadline
                && tokio::time::Instant::now() + Duration::from_secs(1) >= d
            {
                self.sink_shutdown.trigger();
            }
        }
        if failed.is_empty() {
            Ok(())
        } else {
            Err(RunError::Failed(failed))
        }
    }
}

/// Moves a sink's input through its disk buffer: what arrives is written
/// (and acknowledged upstream once fsynced), and the sink is fed from the
/// buffer, whose records are released when the sink acknowledges them.
async fn run_disk_buffer(
    dir: std::path::PathBuf,
    config: disk::DiskBufferConfig,
    metrics: Arc<ComponentMetrics>,
    mut input: BatchReceiver,
    to_sink: BatchSender,
) -> Result<(), String> {
    let (mut writer, mut reader) = disk::open(dir.clone(), config, metrics)
        .await
        .map_err(|e| format!("cannot open the disk buffer in {}: {e}", dir.display()))?;
    let fill = async move {
        while let Some(batch) = input.recv().await {
            writer
                .write(batch)
                .await
                .map_err(|e| format!("disk buffer write failed: {e}"))?;
        }
        writer
            .flush()
            .await
            .map_err(|e| format!("disk buffer flush failed: {e}"))?;
        // Dropping the writer closes the buffer: the reader ends once drained.
        drop(writer);
        Ok::<(), String>(())
    };
    let drain = async move {
        while let Some(batch) = reader.next().await {
            if to_sink.send(batch).await.is_err() {
                break;
            }
        }
        Ok::<(), String>(())
    };
    tokio::try_join!(fill, drain).map(drop)
}

/// Runs a component's future, turning a panic into an error that keeps
/// the component's id, so one component's bug cannot take the process down.
async fn guarded(
    id: String,
    fut: impl std::future::Future<Output = Result<(), String>>,
) -> (String, Result<(), String>) {
    use futures::FutureExt;
    let result = std::panic::AssertUnwindSafe(fut)
        .catch_unwind()
        .await
        .unwrap_or_else(|panic| {
            let what = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".into());
            Err(format!("panicked: {what}"))
        });
    (id, result)
}

async fn sleep_until(deadline: Option<tokio::time::Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d).await,
        None => std::future::pending().await,
    }
}

/// How many batches a stateless transform works on at once.
fn parallelism() -> usize {
    std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .clamp(1, 8)
}

async fn run_transform(
    id: &str,
    mut instances: Vec<Box<dyn Transform>>,
    names: Vec<Option<String>>,
    rx: BatchReceiver,
    outputs: Vec<Output>,
    metrics: Arc<ComponentMetrics>,
) -> Result<(), String> {
    if instances.len() > 1 {
        return run_concurrently(id, instances, names, rx, outputs, metrics).await;
    }
    let Some(transform) = instances.pop() else {
        return Err("no instance was built".into());
    };
    run_sequentially(id, transform, names, rx, outputs, metrics).await;
    Ok(())
}

/// One batch at a time, with ticks and a final flush.
async fn run_sequentially(
    id: &str,
    mut transform: Box<dyn Transform>,
    names: Vec<Option<String>>,
    mut rx: BatchReceiver,
    outputs: Vec<Output>,
    metrics: Arc<ComponentMetrics>,
) {
    let mut out = TransformOutputs::new(names);
    let warn_limit = RateLimit::default();
    let mut ticker = transform.tick_interval().map(tokio::time::interval);
    loop {
        let batch = tokio::select! {
            b = rx.recv() => b,
            _ = tick(&mut ticker) => {
                // A tick may take long (a rules transform evaluates its
                // groups in it): meanwhile the runtime moves this thread's
                // other tasks elsewhere instead of letting them wait.
                blocking(|| transform.tick(&mut out));
                send_all(id, &mut out, &outputs, &metrics, &warn_limit).await;
                continue;
            }
        };
        let Some(batch) = batch else { break };
        metrics.add_received(batch.len(), batch.byte_size());
        transform.transform(batch, &mut out);
        send_all(id, &mut out, &outputs, &metrics, &warn_limit).await;
    }
    transform.finish(&mut out);
    send_all(id, &mut out, &outputs, &metrics, &warn_limit).await;
}

/// Several batches at once, each on its own task with its own instance of
/// the transform, results sent on in the order the batches came in.
async fn run_concurrently(
    id: &str,
    mut idle: Vec<Box<dyn Transform>>,
    names: Vec<Option<String>>,
    mut rx: BatchReceiver,
    outputs: Vec<Output>,
    metrics: Arc<ComponentMetrics>,
) -> Result<(), String> {
    use futures::StreamExt;
    use futures::stream::FuturesOrdered;
    let mut running = FuturesOrdered::new();
    let warn_limit = RateLimit::default();
    let mut input_open = true;
    while input_open || !running.is_empty() {
        if idle.is_empty() && running.is_empty() {
            // Every instance panicked: stop, so upstream sees this
            // transform gone (its batches are marked errored, not lost).
            return Err("every instance of the transform panicked".into());
        }
        tokio::select! {
            biased;
            Some(done) = running.next(), if !running.is_empty() => {
                let (transform, mut out): (Box<dyn Transform>, TransformOutputs) = match done {
                    Ok(pair) => pair,
                    Err(e) => {
                        // The instance panicked on this batch; carry on with the others.
                        error!(message = "Transform panicked on a batch; the batch is lost to this transform.", component_id = id, error = %e);
                        metrics.add_error();
                        continue;
                    }
                };
                idle.push(transform);
                send_all(id, &mut out, &outputs, &metrics, &warn_limit).await;
            }
            batch = rx.recv(), if input_open && !idle.is_empty() => {
                let Some(batch) = batch else {
                    input_open = false;
                    continue;
                };
                metrics.add_received(batch.len(), batch.byte_size());
                let Some(mut transform) = idle.pop() else { continue };
                let mut out = TransformOutputs::new(names.clone());
                running.push_back(tokio::spawn(async move {
                    transform.transform(batch, &mut out);
                    (transform, out)
                }));
            }
        }
    }
    Ok(())
}

/// Runs `f`, which may block for a while, without stalling the tasks that
/// share the current worker thread (on a multi-threaded runtime).
fn blocking<R>(f: impl FnOnce() -> R) -> R {
    use tokio::runtime::{Handle, RuntimeFlavor};
    match Handle::try_current().map(|h| h.runtime_flavor()) {
        Ok(RuntimeFlavor::MultiThread) => tokio::task::block_in_place(f),
        _ => f(),
    }
}

async fn tick(ticker: &mut Option<tokio::time::Interval>) {
    match ticker {
        Some(t) => {
            t.tick().await;
        }
        None => std::future::pending().await,
    }
}

async fn send_all(
    id: &str,
    out: &mut TransformOutputs,
    outputs: &[Output],
    metrics: &ComponentMetrics,
    warn_limit: &RateLimit,
) {
    let emitted: Vec<_> = out.drain().collect();
    for (port, batch) in emitted {
        let Some(output) = outputs.get(port) else {
            continue;
        };
        if !output.is_connected() && output.name() == Some(DROPPED_OUTPUT) {
            // Nobody reads the dead letters: count them as lost, loudly.
            metrics.add_discarded(batch.len(), false);
            if warn_limit.allow() {
                warn!(
                    message = "Events went to an unconnected `dropped` output and were discarded; route it to a sink to keep them.",
                    component_id = id,
                    count = batch.len()
                );
            }
            continue;
        }
        if output.send(batch).await.is_err() {
            warn!(
                message = "Every consumer of this output has stopped.",
                component_id = id
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use logbridge_component::telemetry::ComponentKind;
    use logbridge_event::{Event, EventBatch, LogRecord};

    /// Passes batches on, or panics on every batch.
    struct Probe {
        panics: bool,
    }

    impl Transform for Probe {
        fn transform(&mut self, batch: EventBatch, out: &mut TransformOutputs) {
            assert!(!self.panics, "probe transform panics by design");
            out.push(batch);
        }
    }

    fn batch(n: usize) -> EventBatch {
        EventBatch::new(vec![Event::Log(LogRecord::default()); n])
    }

    async fn run_probe(panics: bool, batches: usize) -> (Result<(), String>, usize) {
        let metrics = Arc::new(ComponentMetrics::new(
            "t",
            ComponentKind::Transform,
            "probe",
        ));
        let (tx, rx) = channel::bounded(100_000, 1 << 24);
        let (out_tx, mut out_rx) = channel::bounded(100_000, 1 << 24);
        let outputs = vec![Output::new(None, vec![out_tx], metrics.clone())];
        let instances: Vec<Box<dyn Transform>> = (0..2)
            .map(|_| Box::new(Probe { panics }) as Box<dyn Transform>)
            .collect();
        for i in 0..batches {
            tx.send(batch(i + 1)).await.unwrap();
        }
        drop(tx);
        let result = run_transform("t", instances, vec![None], rx, outputs, metrics).await;
        let mut sizes = Vec::new();
        while let Some(b) = out_rx.try_recv() {
            sizes.push(b.len());
        }
        assert!(
            sizes.windows(2).all(|w| w[0] < w[1]),
            "order kept: {sizes:?}"
        );
        (result, sizes.len())
    }

    /// Blocks its thread for a second at its first tick, and notes how far
    /// `counter` moved meanwhile.
    struct SlowTick {
        counter: Arc<AtomicUsize>,
        moved: Arc<Mutex<Option<usize>>>,
    }

    impl Transform for SlowTick {
        fn transform(&mut self, _batch: EventBatch, _out: &mut TransformOutputs) {}

        fn tick_interval(&self) -> Option<Duration> {
            Some(Duration::from_millis(10))
        }

        fn tick(&mut self, _out: &mut TransformOutputs) {
            let mut moved = self.moved.lock().unwrap();
            if moved.is_none() {
                let before = self.counter.load(Ordering::SeqCst);
                std::thread::sleep(Duration::from_secs(1));
                *moved = Some(self.counter.load(Ordering::SeqCst) - before);
            }
        }
    }

    #[test]
    fn a_long_tick_does_not_stall_the_tasks_of_its_thread() {
        // One worker: unless the tick hands it over, every other task
        // waits the tick out.
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let counter = Arc::new(AtomicUsize::new(0));
        let moved = Arc::new(Mutex::new(None));
        let transform = Box::new(SlowTick {
            counter: counter.clone(),
            moved: moved.clone(),
        });
        rt.block_on(async move {
            tokio::spawn(async move {
                let ticker = tokio::spawn(async move {
                    loop {
                        tokio::time::sleep(Duration::from_millis(5)).await;
                        counter.fetch_add(1, Ordering::SeqCst);
                    }
                });
                let metrics =
                    Arc::new(ComponentMetrics::new("t", ComponentKind::Transform, "slow"));
                let (tx, rx) = channel::bounded(16, 1 << 20);
                let run = tokio::spawn(async move {
                    run_sequentially("t", transform, vec![None], rx, Vec::new(), metrics).await
                });
                tokio::time::sleep(Duration::from_millis(1200)).await;
                drop(tx);
                run.await.unwrap();
                ticker.abort();
            })
            .await
            .unwrap()
        });
        let moved = moved.lock().unwrap().expect("the tick ran");
        // 5 ms steps over a second: about 200 when the worker is handed
        // over, none when it is not.
        assert!(moved >= 20, "other tasks ran {moved} steps during the tick");
    }

    #[tokio::test]
    async fn concurrent_instances_keep_batch_order() {
        let (result, sent) = run_probe(false, 50).await;
        assert_eq!(result, Ok(()));
        assert_eq!(sent, 50);
    }

    #[tokio::test]
    async fn a_transform_whose_instances_all_panic_fails_instead_of_hanging() {
        let (result, sent) = tokio::time::timeout(Duration::from_secs(10), run_probe(true, 5))
            .await
            .expect("does not hang");
        assert_eq!(
            result,
            Err("every instance of the transform panicked".into())
        );
        assert_eq!(sent, 0);
    }
}
